/**
 * Overfitting signals from a training run: the train and held-out loss curves, and a warning when
 * held-out loss rises while train loss keeps falling (the model is memorising its training set).
 * Curves come from a run folder's metrics JSONL (one JSON object per line, as the local trainer writes
 * its events) or from the store's metric points (hosted jobs: train_loss / valid_loss).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fsError, TunekitError } from "../util/errors.js";

export interface LossPoint {
  step: number;
  loss: number;
}

export interface LossCurves {
  train: LossPoint[];
  heldOut: LossPoint[];
  source?: string;
}

const TRAIN_KEYS = ["train_loss", "trainLoss", "loss"];
const HELD_OUT_KEYS = ["heldOutLoss", "held_out_loss", "valid_loss", "validLoss", "val_loss", "eval_loss", "evalLoss"];

function firstNumber(o: Record<string, unknown>, keys: string[]): number | undefined {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** Curves from objects that carry a step and some loss fields (events, metric rows). */
export function curvesFromRecords(records: Record<string, unknown>[]): LossCurves {
  const train = new Map<number, number>();
  const held = new Map<number, number>();
  for (const r of records) {
    const step = typeof r.step === "number" ? r.step : undefined;
    // "done" repeats the last values (and its train loss is an average): the step and eval lines suffice.
    if (step === undefined || r.type === "done") continue;
    // An eval event's trainLoss is an average over the eval window; the per-step loss is finer, keep it.
    const h = firstNumber(r, HELD_OUT_KEYS);
    if (h !== undefined) held.set(step, h);
    const isEval = r.type === "eval";
    const t = isEval ? undefined : firstNumber(r, TRAIN_KEYS);
    if (t !== undefined) train.set(step, t);
    else if (isEval && !train.has(step)) {
      const tl = firstNumber(r, ["trainLoss", "train_loss"]);
      if (tl !== undefined) train.set(step, tl);
    }
  }
  const sorted = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]).map(([step, loss]) => ({ step, loss }));
  return { train: sorted(train), heldOut: sorted(held) };
}

/** Reads a metrics JSONL file, or the first metrics*.jsonl / events*.jsonl inside a run folder. */
export function readLossCurves(path: string): LossCurves {
  let file = path;
  try {
    if (statSync(path).isDirectory()) {
      const candidates = ["metrics.jsonl", "events.jsonl", "train_metrics.jsonl", "log.jsonl"].map((f) => join(path, f));
      const found = candidates.find((f) => existsSync(f));
      if (!found) {
        throw new TunekitError("no_metrics", `no training metrics in ${path}`, {
          file: path,
          hint: "expected metrics.jsonl (one JSON object per line with step and loss fields) in the run folder",
        });
      }
      file = found;
    }
  } catch (e) {
    throw fsError(e, path);
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw fsError(e, file);
  }
  const records: Record<string, unknown>[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const v = JSON.parse(line);
      if (v && typeof v === "object") records.push(v as Record<string, unknown>);
    } catch {
      // A crash can leave a torn last line; anything else is a broken file.
      if (i < text.split(/\r?\n/).length - 2) {
        throw new TunekitError("bad_metrics", `line ${i + 1} of ${file} is not JSON`, { file, line: i + 1 });
      }
    }
  });
  return { ...curvesFromRecords(records), source: file };
}

export interface OverfitAnalysis {
  warning: string | null;
  bestHeldOut: LossPoint | null;
  lastHeldOut: LossPoint | null;
}

/** Mean train loss over steps in (from, to], for a smoothed comparison. */
function meanTrain(train: LossPoint[], from: number, to: number): number | undefined {
  const xs = train.filter((p) => p.step > from && p.step <= to).map((p) => p.loss);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
}

/**
 * Warns when the last held-out loss is clearly (by `tolerance`, default 2%) above its best while the
 * train loss near the end is below the train loss near the best step.
 */
export function analyzeOverfitting(curves: LossCurves, tolerance = 0.02): OverfitAnalysis {
  const h = curves.heldOut;
  if (h.length === 0) return { warning: null, bestHeldOut: null, lastHeldOut: null };
  const best = h.reduce((a, b) => (b.loss < a.loss ? b : a));
  const last = h[h.length - 1];
  if (last.step === best.step || last.loss <= best.loss * (1 + tolerance)) return { warning: null, bestHeldOut: best, lastHeldOut: last };
  const window = Math.max(1, Math.round((last.step - best.step) / 4));
  const trainAtBest = meanTrain(curves.train, best.step - window, best.step) ?? curves.train.find((p) => p.step >= best.step)?.loss;
  const trainAtEnd = meanTrain(curves.train, last.step - window, last.step);
  if (trainAtBest === undefined || trainAtEnd === undefined || trainAtEnd >= trainAtBest) {
    return { warning: null, bestHeldOut: best, lastHeldOut: last };
  }
  const f = (x: number) => x.toFixed(3);
  return {
    warning:
      `held-out loss rose from ${f(best.loss)} (step ${best.step}) to ${f(last.loss)} (step ${last.step}) while train loss fell ` +
      `from ${f(trainAtBest)} to ${f(trainAtEnd)}: the model is memorising its training set. Prefer the step-${best.step} weights ` +
      `(early stopping), fewer epochs, or more varied data.`,
    bestHeldOut: best,
    lastHeldOut: last,
  };
}
