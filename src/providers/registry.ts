/**
 * Hosted trainers by name. Keys come from the environment only; `baseUrl` (from a stored job) overrides
 * the environment's endpoint so a job is always followed where it was created.
 */
import { TunekitError } from "../util/errors.js";
import type { Trainer } from "./types.js";

export const HOSTED_PROVIDERS = ["openai", "together"] as const;
export type HostedProviderId = (typeof HOSTED_PROVIDERS)[number];

export interface CreateTrainerOptions {
  env?: NodeJS.ProcessEnv;
  /** Use this API base URL instead of the environment's (resuming a stored job). */
  baseUrl?: string;
  pollMs?: number;
}

export async function createHostedTrainer(id: string, options: CreateTrainerOptions = {}): Promise<Trainer> {
  const env = { ...(options.env ?? process.env) };
  switch (id) {
    case "openai": {
      if (options.baseUrl) env.OPENAI_BASE_URL = options.baseUrl;
      const { OpenAITrainer } = await import("./openai/trainer.js");
      return new OpenAITrainer({ env, ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}) });
    }
    case "together": {
      if (options.baseUrl) env.TOGETHER_BASE_URL = options.baseUrl;
      const { TogetherTrainer } = await import("./together/trainer.js");
      return new TogetherTrainer({ env, ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}) });
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
    const { dirname } = await import("node:path");
    return new LocalTrainer({ runsDir: job.remoteId ? dirname(job.remoteId) : "." });
  }
  return createHostedTrainer(job.provider, { ...(env ? { env } : {}), ...(job.baseUrl ? { baseUrl: job.baseUrl } : {}) });
}
