/**
 * Every model call of a distillation, in one place: looked up in the generation cache first (a rerun
 * asks nothing twice), priced and checked against the budget before it is sent, stored in the cache
 * the moment it returns (so a kill loses only the calls in flight), and counted. A runner that batches
 * (the local engine) gets the calls that are waiting at the same moment as one batch.
 */
import type { ChatMessage } from "../chat/types.js";
import { canonicalJson, type GenerationCache } from "../eval/runner/cache.js";
import { costOf, type Generation, type GenerationParams, type ModelRunner, type Price } from "../eval/runner/types.js";
import { TunekitError } from "../util/errors.js";
import type { Budget } from "./budget.js";

export interface CallStats {
  /** Calls sent to the model by this run. */
  made: number;
  /** Answers that came from the cache (made by an earlier run, or earlier in this one). */
  cached: number;
  /** Calls that failed after retries. */
  failed: number;
  /** Retries after rate limits, server errors and dropped connections. */
  retries: number;
  /** Tokens of this run's calls. */
  tokensIn: number;
  tokensOut: number;
  /** Tokens of the cached answers (paid for when they were made). */
  cachedTokensIn: number;
  cachedTokensOut: number;
  /** USD of this run's calls; null when the model has no known price. */
  costUsd: number | null;
  /** What the cached answers cost when they were made, at today's price; null without a price. */
  cachedCostUsd: number | null;
}

export type CallOutcome = { kind: "answer"; generation: Generation } | { kind: "over_budget"; upToUsd: number };

export function emptyStats(priced: boolean): CallStats {
  return { made: 0, cached: 0, failed: 0, retries: 0, tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cachedTokensOut: 0, costUsd: priced ? 0 : null, cachedCostUsd: priced ? 0 : null };
}

interface Pending {
  messages: ChatMessage[];
  params: GenerationParams;
  resolve(g: Generation): void;
  reject(e: unknown): void;
}

export class CachedCaller {
  readonly stats: CallStats;
  private queue: Pending[] = [];
  private flushing = false;
  private scheduled = false;

  constructor(
    private readonly runner: ModelRunner,
    private readonly cache: GenerationCache,
    private readonly price: Price | undefined,
    private readonly budget: Budget,
  ) {
    this.stats = emptyStats(price !== undefined);
  }

  get modelId(): string {
    return this.runner.id;
  }

  /** The cached answer, if any (no call, no count). */
  peek(messages: ChatMessage[], params: GenerationParams): Generation | undefined {
    return this.cache.get(this.runner.id, messages, params);
  }

  /**
   * The answer to `messages`: from the cache, or from the model when the budget allows a call that may
   * cost up to `upToUsd` (its worst case: estimated input tokens and every allowed output token).
   */
  async call(messages: ChatMessage[], params: GenerationParams, upToUsd: number): Promise<CallOutcome> {
    const hit = this.peek(messages, params);
    if (hit) {
      this.stats.cached++;
      this.stats.cachedTokensIn += hit.tokensIn;
      this.stats.cachedTokensOut += hit.tokensOut;
      const cost = costOf(this.price, hit.tokensIn, hit.tokensOut);
      if (this.stats.cachedCostUsd !== null) this.stats.cachedCostUsd += cost ?? 0;
      return { kind: "answer", generation: { ...hit, ...(cost !== undefined ? { costUsd: cost } : {}) } };
    }
    if (!(await this.budget.reserve(upToUsd))) return { kind: "over_budget", upToUsd };
    let g: Generation;
    try {
      g = await this.send(messages, params);
    } catch (e) {
      this.budget.settle(upToUsd, 0);
      throw e;
    }
    const cost = g.costUsd ?? costOf(this.price, g.tokensIn, g.tokensOut);
    this.budget.settle(upToUsd, cost ?? 0);
    this.stats.made++;
    // A failed call may still have been billed for its input; the usage it reports is counted.
    this.stats.tokensIn += g.tokensIn;
    this.stats.tokensOut += g.tokensOut;
    if (this.stats.costUsd !== null) this.stats.costUsd += cost ?? 0;
    if (g.error) this.stats.failed++;
    else this.store(messages, params, g);
    return { kind: "answer", generation: g };
  }

  private store(messages: ChatMessage[], params: GenerationParams, g: Generation): void {
    try {
      this.cache.put(this.runner.id, messages, params, g);
    } catch (e) {
      const code = (e as { code?: string }).code ?? "";
      // Without the cache a run cannot be resumed: stop rather than go on paying for answers that could be lost.
      throw new TunekitError(
        code === "SQLITE_FULL" ? "disk_full" : "cache_write_failed",
        code === "SQLITE_FULL" ? "cannot store an answer in the generation cache: no space left on device" : `cannot store an answer in the generation cache: ${(e as Error).message}`,
        { hint: "free some disk space (the cache is $TUNEKIT_HOME/tunekit.db) and rerun: the answers stored so far are kept", cause: e },
      );
    }
  }

  private send(messages: ChatMessage[], params: GenerationParams): Promise<Generation> {
    if (!this.runner.generateBatch) return this.runner.generate(messages, params);
    // The batch goes out once every caller that is ready has queued its call (the next turn of the event loop).
    return new Promise<Generation>((resolve, reject) => {
      this.queue.push({ messages, params, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Sends what is queued: one batch per set of sampling parameters (answers 1, 2, ... differ by seed). */
  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    const groups = new Map<string, Pending[]>();
    for (const p of this.queue.splice(0, this.queue.length)) {
      const key = canonicalJson(p.params);
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
    try {
      for (const batch of groups.values()) {
        try {
          const out = await this.runner.generateBatch!(batch.map((p) => p.messages), batch[0].params);
          batch.forEach((p, i) => p.resolve(out[i]));
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
