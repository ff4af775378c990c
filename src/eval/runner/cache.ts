/**
 * The generation cache: one row per (model, prompt messages, sampling parameters) in the tunekit
 * store, so rerunning an evaluation makes no calls and costs nothing. Errors are never cached.
 */
import { createHash } from "node:crypto";
import type { Store } from "../../store/store.js";
import type { ChatMessage } from "../../dataset/types.js";
import { costOf, type Generation, type GenerationParams, type ModelRunner, type Price } from "./types.js";

/** JSON with object keys sorted, so equal requests hash equally whatever the key order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
}

export function cacheKey(modelId: string, messages: ChatMessage[], params: GenerationParams): { key: string; request: string } {
  const request = canonicalJson({ model: modelId, messages, params });
  return { key: createHash("sha256").update(request).digest("hex"), request };
}

export class GenerationCache {
  constructor(private readonly store: Store) {}

  get(modelId: string, messages: ChatMessage[], params: GenerationParams): Generation | undefined {
    const { key } = cacheKey(modelId, messages, params);
    const row = this.store.db
      .prepare(`SELECT text, tokens_in, tokens_out, latency_ms, finish_reason FROM eval_generation_cache WHERE key = ?`)
      .get(key) as { text: string; tokens_in: number; tokens_out: number; latency_ms: number; finish_reason: string | null } | undefined;
    if (!row) return undefined;
    return {
      text: row.text,
      tokensIn: row.tokens_in,
      tokensOut: row.tokens_out,
      latencyMs: row.latency_ms,
      cached: true,
      ...(row.finish_reason !== null ? { finishReason: row.finish_reason } : {}),
    };
  }

  put(modelId: string, messages: ChatMessage[], params: GenerationParams, g: Generation): void {
    if (g.error) return;
    const { key, request } = cacheKey(modelId, messages, params);
    this.store.db
      .prepare(
        `INSERT OR REPLACE INTO eval_generation_cache (key, model_id, request_json, text, tokens_in, tokens_out, latency_ms, created_at, finish_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(key, modelId, request, g.text, g.tokensIn, g.tokensOut, g.latencyMs, Date.now(), g.finishReason ?? null);
  }

  /** How many generations are cached for a model (all models when omitted). */
  count(modelId?: string): number {
    const r = modelId
      ? this.store.db.prepare(`SELECT COUNT(*) AS n FROM eval_generation_cache WHERE model_id = ?`).get(modelId)
      : this.store.db.prepare(`SELECT COUNT(*) AS n FROM eval_generation_cache`).get();
    return (r as { n: number }).n;
  }
}

/**
 * Wraps a runner with the cache. A cache hit keeps the original tokens and latency (they describe the
 * model, not this run) and its cost is recomputed from `price`, since prices can change.
 */
export function withCache(runner: ModelRunner, cache: GenerationCache, price?: Price): ModelRunner {
  return {
    id: runner.id,
    label: runner.label,
    close: runner.close?.bind(runner),
    async generate(messages, params) {
      const hit = cache.get(runner.id, messages, params);
      if (hit) return { ...hit, costUsd: costOf(price, hit.tokensIn, hit.tokensOut) };
      const g = await runner.generate(messages, params);
      cache.put(runner.id, messages, params, g);
      return g;
    },
    ...(runner.generateBatch
      ? {
          async generateBatch(list: ChatMessage[][], params: GenerationParams): Promise<Generation[]> {
            const out: (Generation | undefined)[] = list.map((m) => {
              const hit = cache.get(runner.id, m, params);
              return hit ? { ...hit, costUsd: costOf(price, hit.tokensIn, hit.tokensOut) } : undefined;
            });
            const missing = out.flatMap((g, i) => (g ? [] : [i]));
            if (missing.length) {
              const fresh = await runner.generateBatch!(missing.map((i) => list[i]), params);
              missing.forEach((i, k) => {
                cache.put(runner.id, list[i], params, fresh[k]);
                out[i] = fresh[k];
              });
            }
            return out as Generation[];
          },
        }
      : {}),
  };
}
