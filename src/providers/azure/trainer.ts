/**
 * Azure OpenAI fine-tuning: the OpenAI trainer (same files and fine-tuning API, same contract) over
 * the official SDK's AzureOpenAI client. From the environment: AZURE_OPENAI_ENDPOINT
 * (https://RESOURCE.openai.azure.com), OPENAI_API_VERSION or AZURE_OPENAI_API_VERSION, and either
 * AZURE_OPENAI_API_KEY or a Microsoft Entra ID token in AZURE_OPENAI_AD_TOKEN; AZURE_OPENAI_DEPLOYMENT
 * names the deployment that serves inference. Azure runs on its own retirement calendar, so OpenAI's
 * calendar and wind-down notices are not applied here.
 */
import { AzureOpenAI } from "openai";
import { OpenAITrainer, type OpenAITrainerOptions } from "../openai/trainer.js";
import type { TrainerError } from "../types.js";

/** Fine-tuning is GA in this data-plane API version; override with OPENAI_API_VERSION. */
export const AZURE_DEFAULT_API_VERSION = "2024-10-21";

export function createAzureTrainer(options: Omit<OpenAITrainerOptions, "client"> = {}): OpenAITrainer {
  const env = options.env ?? process.env;
  const endpoint = (env.AZURE_OPENAI_ENDPOINT ?? "").replace(/\/+$/, "");
  const apiVersion = env.AZURE_OPENAI_API_VERSION || env.OPENAI_API_VERSION || AZURE_DEFAULT_API_VERSION;
  const apiKey = env.AZURE_OPENAI_API_KEY || undefined;
  const token = env.AZURE_OPENAI_AD_TOKEN || undefined;
  const baseUrl = endpoint ? `${endpoint}/openai` : "";
  const base = { id: "azure", label: "Azure OpenAI", baseUrl, calendar: false } as const;
  const missing = (message: string): TrainerError => ({ code: "auth", message, retryable: false });
  if (!endpoint) return new OpenAITrainer({ ...options, client: { ...base, missing: missing("AZURE_OPENAI_ENDPOINT is not set: export your resource's endpoint, e.g. https://RESOURCE.openai.azure.com") } });
  if (!apiKey && !token) return new OpenAITrainer({ ...options, client: { ...base, missing: missing("neither AZURE_OPENAI_API_KEY nor AZURE_OPENAI_AD_TOKEN is set: export a key or a Microsoft Entra ID token") } });
  // baseURL, organisation and project are passed explicitly: the SDK would otherwise read OpenAI's own variables.
  const sdk = new AzureOpenAI({
    baseURL: baseUrl,
    apiVersion,
    ...(apiKey ? { apiKey } : { azureADTokenProvider: async () => token! }),
    ...(env.AZURE_OPENAI_DEPLOYMENT ? { deployment: env.AZURE_OPENAI_DEPLOYMENT } : {}),
    organization: null,
    project: null,
    maxRetries: options.maxRetries ?? 4,
    timeout: options.timeoutMs ?? 120_000,
    logLevel: "off",
  });
  return new OpenAITrainer({ ...options, client: { ...base, sdk, secret: apiKey ?? token! } });
}
