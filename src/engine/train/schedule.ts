/**
 * Learning-rate schedules, as Hugging Face transformers defines them (so numbers match what users know):
 * linear warmup from 0 over `warmupSteps`, then cosine decay to 0, linear decay to 0, or constant.
 * `step` is the number of optimizer steps already taken (0 for the first update).
 */

export type ScheduleKind = "cosine" | "linear" | "constant";

export interface ScheduleOptions {
  kind: ScheduleKind;
  peakLr: number;
  warmupSteps: number;
  totalSteps: number;
}

export function learningRateAt(step: number, o: ScheduleOptions): number {
  return o.peakLr * scheduleFactor(step, o);
}

export function scheduleFactor(step: number, o: Omit<ScheduleOptions, "peakLr">): number {
  const { kind, warmupSteps, totalSteps } = o;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  switch (kind) {
    case "constant":
      return 1;
    case "linear":
      return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    case "cosine": {
      const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
    }
  }
}

/** `--warmup` accepts a step count (>= 1) or a fraction of the total steps (< 1). */
export function warmupSteps(warmup: number, totalSteps: number): number {
  if (warmup > 0 && warmup < 1) return Math.round(warmup * totalSteps);
  return Math.round(warmup);
}
