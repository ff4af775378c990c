/** The training loop on a small exact model (BigramEngine): accumulation, determinism, resume, faults. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Checkpoint } from "../../src/engine/train/checkpoint.js";
import { trainLoop, type TrainEvent, type TrainOptions } from "../../src/engine/train/loop.js";
import { BigramEngine } from "./helpers/bigram-engine.js";
import { countingExamples } from "./helpers/toy-data.js";

const base: TrainOptions = {
  epochs: 3,
  batchSize: 4,
  gradAccum: 1,
  maxSeqLen: 64,
  lr: 0.05,
  warmup: 2,
  schedule: "cosine",
  weightDecay: 0.01,
  maxGradNorm: 1,
  lora: { r: 4, alpha: 8, dropout: 0, rslora: false, targets: ["q"] },
  seed: 11,
  packing: false,
  evalEvery: 0,
  patience: 0,
  saveEvery: 0,
};

const engine = () => new BigramEngine(16, 8, 4, 2);

/** Runs the loop keeping checkpoints in memory (deep copies, as a file would). */
async function run(o: TrainOptions, opts: { eng?: BigramEngine; resume?: Checkpoint; stopAfter?: number; heldOut?: ReturnType<typeof countingExamples>; train?: ReturnType<typeof countingExamples> } = {}) {
  const events: TrainEvent[] = [];
  const checkpoints: Checkpoint[] = [];
  const copy = (m: Map<string, Float32Array>) => new Map([...m].map(([k, v]) => [k, Float32Array.from(v)]));
  let steps = 0;
  const result = await trainLoop(
    opts.eng ?? engine(),
    opts.train ?? countingExamples(24, 1),
    opts.heldOut ?? countingExamples(8, 2),
    o,
    {
      onEvent: (e) => {
        events.push(e);
        if (e.type === "step") steps++;
      },
      saveCheckpoint: async (ck) => {
        checkpoints.push({
          state: JSON.parse(JSON.stringify(ck.state)),
          params: copy(ck.params),
          optimizer: { step: ck.optimizer.step, m: copy(ck.optimizer.m), v: copy(ck.optimizer.v) },
          bestParams: ck.bestParams ? copy(ck.bestParams) : undefined,
        });
        return "mem";
      },
      shouldStop: () => opts.stopAfter !== undefined && steps >= opts.stopAfter,
    },
    opts.resume,
  );
  return { result, events, checkpoints };
}

const bits = (m: Map<string, Float32Array>) => [...m].map(([k, v]) => [k, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")]);

test("loss falls and held-out loss is reported at the end with the train/held-out gap", async () => {
  const { events, result } = await run({ ...base, evalEvery: 6 });
  const steps = events.filter((e) => e.type === "step") as Extract<TrainEvent, { type: "step" }>[];
  assert.equal(steps.length, 18);
  const first = steps.slice(0, 3).reduce((s, e) => s + e.loss, 0) / 3;
  const last = steps.slice(-3).reduce((s, e) => s + e.loss, 0) / 3;
  assert.ok(last < first * 0.8, `loss ${first} -> ${last}`);
  const evals = events.filter((e) => e.type === "eval") as Extract<TrainEvent, { type: "eval" }>[];
  assert.deepEqual(evals.map((e) => e.step), [6, 12, 18]);
  assert.ok(evals.every((e) => e.gap !== null && Number.isFinite(e.gap)));
  assert.ok(evals[2].heldOutLoss < evals[0].heldOutLoss);
  assert.equal(result.final.reason, "completed");
  assert.equal(result.final.heldOutLoss, evals[2].heldOutLoss);
});

test("same seed and data -> bit-identical adapter; another seed -> different", async () => {
  const a = await run(base);
  const b = await run(base);
  const c = await run({ ...base, seed: 12 });
  assert.deepEqual(bits(a.result.params), bits(b.result.params));
  assert.notDeepEqual(bits(a.result.params), bits(c.result.params));
});

test("gradient accumulation equals the larger batch (per-token normalisation)", async () => {
  // Batch 4 vs 4 micro-batches of 1 with examples of different lengths: same updates.
  const big = await run({ ...base, epochs: 1, batchSize: 4, gradAccum: 1, maxGradNorm: 0 });
  const acc = await run({ ...base, epochs: 1, batchSize: 1, gradAccum: 4, maxGradNorm: 0 });
  const sBig = big.events.filter((e) => e.type === "step") as Extract<TrainEvent, { type: "step" }>[];
  const sAcc = acc.events.filter((e) => e.type === "step") as Extract<TrainEvent, { type: "step" }>[];
  assert.equal(sBig.length, sAcc.length);
  for (let i = 0; i < sBig.length; i++) assert.ok(Math.abs(sBig[i].loss - sAcc[i].loss) < 1e-6, `step ${i} loss ${sBig[i].loss} vs ${sAcc[i].loss}`);
  for (const [k, v] of big.result.params) {
    const w = acc.result.params.get(k)!;
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - w[i]) <= 1e-6 * Math.max(1, Math.abs(v[i])), `${k}[${i}] ${v[i]} vs ${w[i]}`);
  }
});

test("stop (Ctrl-C) checkpoints; resuming from it ends bit-identical to an uninterrupted run", async () => {
  const o = { ...base, lora: { ...base.lora, dropout: 0.1 }, evalEvery: 4, patience: 0 };
  const full = await run(o);
  const part = await run(o, { stopAfter: 7 });
  assert.equal(part.result.final.reason, "interrupted");
  const ck = part.checkpoints.at(-1)!;
  assert.equal(ck.state.step, 7);
  const resumed = await run(o, { resume: ck });
  assert.equal(resumed.result.final.step, full.result.final.step);
  assert.deepEqual(bits(resumed.result.params), bits(full.result.params));
  // Resuming from an earlier (periodic) checkpoint works too.
  const early = full.checkpoints.find((c) => c.state.step === 4)!;
  const resumed2 = await run(o, { resume: early });
  assert.deepEqual(bits(resumed2.result.params), bits(full.result.params));
});

test("a non-finite loss stops training with a clear error and no checkpoint of the bad state", async () => {
  const eng = engine();
  eng.nanFromCall = 9;
  const saves: number[] = [];
  await assert.rejects(
    trainLoop(eng, countingExamples(24, 1), [], { ...base, saveEvery: 2 }, { onEvent: () => {}, saveCheckpoint: async (ck) => (saves.push(ck.state.step), "mem") }),
    (e: Error & { code?: string; hint?: string }) => e.code === "diverged" && /step 9/.test(e.message) && /step 8/.test(e.hint ?? ""),
  );
  assert.deepEqual(saves, [2, 4, 6, 8]);
});

test("early stopping on held-out loss keeps the best adapter", async () => {
  // Held-out replies count by 2 where training counts by 1: held-out loss rises as training fits.
  const heldOut = countingExamples(8, 2, { step: 5 });
  const { result, events } = await run({ ...base, epochs: 20, evalEvery: 2, patience: 2, lr: 0.1, warmup: 0 }, { heldOut });
  assert.equal(result.final.reason, "early_stopped");
  const evals = events.filter((e) => e.type === "eval") as Extract<TrainEvent, { type: "eval" }>[];
  assert.ok(result.final.step < 120);
  assert.equal(result.final.adapterStep, result.final.bestStep);
  assert.equal(Math.min(...evals.map((e) => e.heldOutLoss)), result.final.bestHeldOutLoss);
  assert.ok(evals.slice(-2).every((e) => !e.best));
});
