/**
 * Trainers by provider name. Keys come from the environment only; `baseUrl` (from a stored job)
 * overrides the environment's endpoint so a job is always followed where it was created. SDKs load only
 * when their provider is asked for.
 */
import { TunekitError } from "../util/errors.js";
import { HOSTED_PROVIDERS } from "./catalog.js";
import type { Trainer } from "./types.js";

export { HOSTED_PROVIDERS };

export interface CreateTrainerOptions {
  env?: NodeJS.ProcessEnv;
  /** Use this API base URL instead of the environment's (resuming a stored job). */
  baseUrl?: string;
  pollMs?: number;
}

export async function createHostedTrainer(id: string, options: CreateTrainerOptions = {}): Promise<Trainer> {
  const env = { ...(options.env ?? process.env) };
  const poll = options.pollMs !== undefined ? { pollMs: options.pollMs } : {};
  switch (id) {
    case "openai": {
      if (options.baseUrl) env.OPENAI_BASE_URL = options.baseUrl;
      const { OpenAITrainer } = await import("./openai/trainer.js");
      return new OpenAITrainer({ env, ...poll });
    }
    case "azure": {
      if (options.baseUrl) env.AZURE_OPENAI_ENDPOINT = options.baseUrl.replace(/\/openai\/?$/, "");
      const { createAzureTrainer } = await import("./azure/trainer.js");
      return createAzureTrainer({ env, ...poll });
    }
    case "together": {
      if (options.baseUrl) env.TOGETHER_BASE_URL = options.baseUrl;
      const { TogetherTrainer } = await import("./together/trainer.js");
      return new TogetherTrainer({ env, ...poll });
    }
    case "fireworks": {
      if (options.baseUrl) env.FIREWORKS_BASE_URL = options.baseUrl;
      const { FireworksTrainer } = await import("./fireworks/trainer.js");
      return new FireworksTrainer({ env, ...poll });
    }
    default:
      throw new TunekitError("unknown_provider", `unknown provider "${id}"`, {
        hint: `use one of: local, ${HOSTED_PROVIDERS.join(", ")}`,
      });
  }
}

/**
 * A trainer for a stored job: hosted providers by name; a local run (its remote id is the run folder)
 * through the local Trainer, which reads the run folder and so can follow a run of another process.
 */
export async function trainerForJob(job: { provider: string; kind: string; baseUrl?: string; remoteId?: string }, env?: NodeJS.ProcessEnv): Promise<Trainer> {
  if (job.kind === "local") {
    const { LocalTrainer } = await import("./local/trainer.js");
    return new LocalTrainer();
  }
  return createHostedTrainer(job.provider, { ...(env ? { env } : {}), ...(job.baseUrl ? { baseUrl: job.baseUrl } : {}) });
}
