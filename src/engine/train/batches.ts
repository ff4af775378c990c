/**
 * Turns tokenized training examples into the windows the step graph eats: input ids, targets (the next
 * token), per-target loss weights (1 on assistant tokens, 0 on prompts, padding and `weight: 0` turns),
 * segment ids (which example each position belongs to: packed examples never attend to each other) and
 * positions (restarting at 0 for each packed example). Order is shuffled per epoch from (seed, epoch)
 * alone, so a resumed run rebuilds exactly the batches it would have seen.
 */
import { Rng } from "./rng.js";

/** One tokenized example. `lossMask[i]` is 1 when token `ids[i]` is an assistant token to learn. */
export interface TokenizedExample {
  ids: number[];
  lossMask: number[];
  /** Where it came from (for messages). */
  line?: number;
  /** The chat template dropped a system prompt of this example (the model never sees it). */
  systemDropped?: boolean;
}

/** A batch in the layout the step graph takes; all arrays are [batchSize * seqLen], row-major. */
export interface StepBatch {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  targets: Int32Array;
  lossWeights: Float32Array;
  /** 0 = padding, 1..k = the k-th example in the row. */
  segmentIds: Int32Array;
  positions: Int32Array;
  /** Sum of lossWeights (assistant tokens that count). */
  tokenCount: number;
  /** Non-padding positions (for tokens/s). */
  realTokens: number;
}

export interface TruncationReport {
  /** Examples whose end was cut but kept at least one assistant token. */
  truncated: number;
  /** Examples skipped because every assistant token was past the limit. */
  skipped: number;
  /** Lines of the skipped examples (when known). */
  skippedLines: number[];
  /** Assistant tokens cut away in kept examples. */
  droppedAssistantTokens: number;
}

/**
 * Cuts examples to `maxSeqLen` tokens. An example with no assistant target left after the cut is
 * dropped (and reported); nothing is dropped silently. Targets are ids[1..], so the first token's
 * mask never counts.
 */
export function truncateExamples(examples: TokenizedExample[], maxSeqLen: number): { kept: TokenizedExample[]; report: TruncationReport } {
  const report: TruncationReport = { truncated: 0, skipped: 0, skippedLines: [], droppedAssistantTokens: 0 };
  const kept: TokenizedExample[] = [];
  for (const ex of examples) {
    if (ex.ids.length <= maxSeqLen) {
      kept.push(ex);
      continue;
    }
    const ids = ex.ids.slice(0, maxSeqLen);
    const lossMask = ex.lossMask.slice(0, maxSeqLen);
    if (trainedTargets(lossMask) === 0) {
      report.skipped++;
      if (ex.line !== undefined) report.skippedLines.push(ex.line);
      continue;
    }
    report.truncated++;
    report.droppedAssistantTokens += trainedTargets(ex.lossMask) - trainedTargets(lossMask);
    kept.push({ ids, lossMask, line: ex.line });
  }
  return { kept, report };
}

/** Number of positions that are trained on as targets (the first token is never a target). */
export function trainedTargets(lossMask: number[]): number {
  let n = 0;
  for (let i = 1; i < lossMask.length; i++) if (lossMask[i] > 0) n++;
  return n;
}

/** A row of a batch: one example, or several packed ones. */
type Row = TokenizedExample[];

/** The example order for an epoch, from the seed and the epoch number only. */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  // Mixing the epoch into the seed keeps epochs independent and lets resume recompute any epoch.
  return new Rng(((seed >>> 0) ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0).permutation(count);
}

/** Greedy packing in the given order: a row takes examples while their tokens fit in `maxSeqLen`. */
export function packRows(examples: TokenizedExample[], maxSeqLen: number): Row[] {
  const rows: Row[] = [];
  let cur: Row = [];
  let used = 0;
  for (const ex of examples) {
    const n = ex.ids.length;
    if (cur.length > 0 && used + n > maxSeqLen) {
      rows.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(ex);
    used += n;
  }
  if (cur.length > 0) rows.push(cur);
  return rows;
}

/** Builds one StepBatch from rows; the window length is the longest row's (inputs = tokens - 1 per example). */
export function buildBatch(rows: Row[], padId = 0): StepBatch {
  const rowLen = (r: Row) => r.reduce((s, ex) => s + ex.ids.length - 1, 0);
  const seqLen = Math.max(1, ...rows.map(rowLen));
  const size = rows.length * seqLen;
  const inputIds = new Int32Array(size).fill(padId);
  const targets = new Int32Array(size).fill(padId);
  const lossWeights = new Float32Array(size);
  const segmentIds = new Int32Array(size);
  const positions = new Int32Array(size);
  let tokenCount = 0;
  let realTokens = 0;
  rows.forEach((row, b) => {
    let o = b * seqLen;
    row.forEach((ex, k) => {
      for (let i = 0; i + 1 < ex.ids.length; i++, o++) {
        inputIds[o] = ex.ids[i];
        targets[o] = ex.ids[i + 1];
        const w = ex.lossMask[i + 1] > 0 ? 1 : 0;
        lossWeights[o] = w;
        tokenCount += w;
        segmentIds[o] = k + 1;
        positions[o] = i;
        realTokens++;
      }
    });
  });
  return { batchSize: rows.length, seqLen, inputIds, targets, lossWeights, segmentIds, positions, tokenCount, realTokens };
}

export interface BatchPlanOptions {
  batchSize: number;
  maxSeqLen: number;
  packing: boolean;
  seed: number;
  padId?: number;
}

/** The micro-batches of one epoch, in training order. */
export function epochBatches(examples: TokenizedExample[], epoch: number, o: BatchPlanOptions): StepBatch[] {
  const order = epochOrder(examples.length, o.seed, epoch).map((i) => examples[i]);
  const rows: Row[] = o.packing ? packRows(order, o.maxSeqLen) : order.map((ex) => [ex]);
  const batches: StepBatch[] = [];
  for (let i = 0; i < rows.length; i += o.batchSize) batches.push(buildBatch(rows.slice(i, i + o.batchSize), o.padId));
  return batches;
}

/** Held-out batches: fixed order, no shuffling. */
export function evalBatches(examples: TokenizedExample[], batchSize: number, padId = 0): StepBatch[] {
  const out: StepBatch[] = [];
  for (let i = 0; i < examples.length; i += batchSize) out.push(buildBatch(examples.slice(i, i + batchSize).map((ex) => [ex]), padId));
  return out;
}
