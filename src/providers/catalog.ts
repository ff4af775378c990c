/**
 * Every provider tunekit trains with, in one table: its declared capabilities, default model, key
 * variable, and prices (from each provider's own catalog.ts). `advise`, `stats`, `eval`'s economics
 * and the submission flow read prices here and nowhere else. Loading this module loads no SDK.
 */
import type { TrainerCapabilities } from "./types.js";
import { costOf, findRow, type InferencePrice, type Retirement, type TrainingPrice } from "./prices.js";
import { OPENAI_FINE_TUNED_INFERENCE_PRICES, OPENAI_INFERENCE_PRICES, OPENAI_RETIREMENTS, OPENAI_TRAINING_PRICES, openaiCapabilities } from "./openai/catalog.js";
import { TOGETHER_DEFAULT_MODEL, TOGETHER_INFERENCE_PRICES, TOGETHER_TRAINING_PRICES, togetherCapabilities } from "./together/catalog.js";
import { FIREWORKS_DEFAULT_MODEL, FIREWORKS_INFERENCE_PRICES, FIREWORKS_TRAINING_PRICES, fireworksCapabilities } from "./fireworks/catalog.js";
import { LOCAL_DEFAULT_MODEL, localCapabilities } from "./local/catalog.js";

export type ProviderId = "local" | "openai" | "azure" | "together" | "fireworks";

export interface ProviderInfo {
  id: ProviderId;
  /** Its name in sentences. */
  label: string;
  capabilities: TrainerCapabilities;
  /** The environment variable of its key (never read here). */
  keyEnv?: string;
  /** The model tunekit suggests when none is named. */
  defaultModel?: string;
  /** Whether a finished job's weights can be downloaded (`tunekit jobs pull`). */
  downloadable: boolean;
  trainingPrices: readonly TrainingPrice[];
  inferencePrices: readonly InferencePrice[];
  /** Rates of its fine-tuned models, when they differ from the base model's. */
  fineTunedInferencePrices?: readonly InferencePrice[];
  /** Host names of its OpenAI-compatible inference API, so a model called there gets this provider's price. */
  inferenceHosts?: readonly string[];
}

export const PROVIDER_CATALOG: Record<ProviderId, ProviderInfo> = {
  local: { id: "local", label: "this machine", capabilities: localCapabilities, defaultModel: LOCAL_DEFAULT_MODEL, downloadable: true, trainingPrices: [], inferencePrices: [] },
  together: {
    id: "together",
    label: "Together AI",
    capabilities: togetherCapabilities,
    keyEnv: "TOGETHER_API_KEY",
    defaultModel: TOGETHER_DEFAULT_MODEL,
    downloadable: true,
    trainingPrices: TOGETHER_TRAINING_PRICES,
    inferencePrices: TOGETHER_INFERENCE_PRICES,
    inferenceHosts: ["api.together.xyz", "api.together.ai"],
  },
  fireworks: {
    id: "fireworks",
    label: "Fireworks",
    capabilities: fireworksCapabilities,
    keyEnv: "FIREWORKS_API_KEY",
    defaultModel: FIREWORKS_DEFAULT_MODEL,
    downloadable: true,
    trainingPrices: FIREWORKS_TRAINING_PRICES,
    inferencePrices: FIREWORKS_INFERENCE_PRICES,
    inferenceHosts: ["api.fireworks.ai"],
  },
  openai: {
    id: "openai",
    label: "OpenAI",
    capabilities: openaiCapabilities,
    keyEnv: "OPENAI_API_KEY",
    downloadable: false,
    trainingPrices: OPENAI_TRAINING_PRICES,
    inferencePrices: OPENAI_INFERENCE_PRICES,
    fineTunedInferencePrices: OPENAI_FINE_TUNED_INFERENCE_PRICES,
    inferenceHosts: ["api.openai.com"],
  },
  azure: { id: "azure", label: "Azure OpenAI", capabilities: openaiCapabilities, keyEnv: "AZURE_OPENAI_API_KEY", downloadable: false, trainingPrices: [], inferencePrices: [] },
};

export const HOSTED_PROVIDERS = ["openai", "azure", "together", "fireworks"] as const;
export type HostedProviderId = (typeof HOSTED_PROVIDERS)[number];

export function providerInfo(id: string): ProviderInfo | undefined {
  return (PROVIDER_CATALOG as Record<string, ProviderInfo>)[id];
}

/** The provider whose inference API is at `baseUrl` (by host name), undefined for any other server. */
export function providerForUrl(baseUrl: string): ProviderId | undefined {
  let host: string;
  try {
    host = new URL(baseUrl).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  return Object.values(PROVIDER_CATALOG).find((p) => p.inferenceHosts?.includes(host))?.id;
}

/** The training price of `model` at `provider` (local: 0), undefined when none is known. */
export function trainingPrice(provider: string, model: string): TrainingPrice | undefined {
  if (provider === "local") return { match: model, perMTok: 0, covers: "local training (CPU time only)", asOf: "2026-12-06", source: "tunekit" };
  const p = providerInfo(provider);
  return p ? findRow(p.trainingPrices, model) : undefined;
}

/**
 * The inference price of a hosted model id: OpenAI's names (and `ft:` fine-tunes at their tuned rate)
 * wherever they are asked about; other providers' rows when `provider` names them.
 */
export function inferencePrice(model: string, provider?: string): InferencePrice | undefined {
  if (model.startsWith("ft:")) return findRow(OPENAI_FINE_TUNED_INFERENCE_PRICES, model);
  if (provider && provider !== "openai") {
    const p = providerInfo(provider);
    return p ? findRow(p.inferencePrices, model) : undefined;
  }
  return findRow(OPENAI_INFERENCE_PRICES, model);
}

/** The inference price of a model fine-tuned on `model` at `provider`. */
export function fineTunedInferencePrice(provider: string, model: string): InferencePrice | undefined {
  const p = providerInfo(provider);
  if (!p) return undefined;
  return findRow(p.fineTunedInferencePrices ?? p.inferencePrices, model);
}

/** Known shutdown date of an OpenAI model (the calendar kept as data). */
export function knownRetirement(model: string): Retirement | undefined {
  return findRow(OPENAI_RETIREMENTS, model);
}

/** USD for `trainedTokens` of `model` at `provider`, undefined without a price. */
export function trainingCost(provider: string, model: string, trainedTokens: number): number | undefined {
  const price = trainingPrice(provider, model);
  return price ? costOf(trainedTokens, price.perMTok) : undefined;
}

/** One priced way to fine-tune a dataset: where, which base model, what it bills. */
export interface TrainingOption {
  provider: ProviderId;
  providerLabel: string;
  model: string;
  billedTokens: number;
  /** USD per 1M trained tokens; 0 for local training. */
  pricePerMTok?: number;
  /** USD; absent without a price. */
  cost?: number;
  covers?: string;
  source?: string;
  pricesAsOf?: string;
}

/**
 * What fine-tuning `billedTokens` costs on today's options: the named provider/model when given,
 * otherwise a small open model on Together and on Fireworks, and this machine.
 */
export function trainingOptions(billedTokens: number, named?: { provider?: string; model?: string; pricePerMTok?: number }): TrainingOption[] {
  const one = (provider: ProviderId, model: string, override?: number): TrainingOption => {
    const p = PROVIDER_CATALOG[provider];
    const price = override !== undefined ? undefined : trainingPrice(provider, model);
    const perMTok = override ?? price?.perMTok;
    return {
      provider,
      providerLabel: p.label,
      model,
      billedTokens,
      ...(perMTok !== undefined ? { pricePerMTok: perMTok, cost: costOf(billedTokens, perMTok) } : {}),
      ...(price ? { covers: price.covers, source: price.source, pricesAsOf: price.asOf } : override !== undefined ? { covers: "the price you gave" } : {}),
    };
  };
  if (named?.pricePerMTok !== undefined && !named.provider) {
    // A price given without a provider applies to the named model (an OpenAI one, else Together's).
    const openai = named.model !== undefined && findRow(OPENAI_TRAINING_PRICES, named.model) !== undefined;
    return [one(openai ? "openai" : "together", named.model && openai ? named.model : TOGETHER_DEFAULT_MODEL, named.pricePerMTok)];
  }
  if (named?.provider && providerInfo(named.provider)) {
    const id = named.provider as ProviderId;
    return [one(id, named.model ?? PROVIDER_CATALOG[id].defaultModel ?? "", named.pricePerMTok)];
  }
  const out: TrainingOption[] = [];
  if (named?.model && findRow(OPENAI_TRAINING_PRICES, named.model)) out.push(one("openai", named.model, named.pricePerMTok));
  out.push(one("together", TOGETHER_DEFAULT_MODEL), one("fireworks", FIREWORKS_DEFAULT_MODEL), one("local", named?.model && !findRow(OPENAI_TRAINING_PRICES, named.model) ? named.model : LOCAL_DEFAULT_MODEL));
  return out;
}
