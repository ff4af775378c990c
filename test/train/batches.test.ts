import { test } from "node:test";
import assert from "node:assert/strict";
import { buildBatch, epochBatches, packRows, truncateExamples, trainedTargets } from "../../src/engine/train/batches.js";
import { countingExamples } from "./helpers/toy-data.js";

test("buildBatch shifts targets, masks prompt and padding, restarts positions per packed example", () => {
  const a = { ids: [1, 5, 6, 7], lossMask: [0, 0, 1, 1] };
  const b = { ids: [1, 9, 10], lossMask: [0, 1, 1] };
  const batch = buildBatch([[a, b], [b]]);
  assert.equal(batch.seqLen, 5);
  assert.deepEqual(Array.from(batch.inputIds), [1, 5, 6, 1, 9, 1, 9, 0, 0, 0]);
  assert.deepEqual(Array.from(batch.targets), [5, 6, 7, 9, 10, 9, 10, 0, 0, 0]);
  assert.deepEqual(Array.from(batch.lossWeights), [0, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
  assert.deepEqual(Array.from(batch.segmentIds), [1, 1, 1, 2, 2, 1, 1, 0, 0, 0]);
  assert.deepEqual(Array.from(batch.positions), [0, 1, 2, 0, 1, 0, 1, 0, 0, 0]);
  assert.equal(batch.tokenCount, 6);
  assert.equal(batch.realTokens, 7);
});

test("truncation keeps partly cut replies (counted) and skips examples whose reply is cut away entirely", () => {
  const keep = { ids: [1, 2, 3, 4, 5, 6], lossMask: [0, 0, 1, 1, 1, 1], line: 1 };
  const lost = { ids: [1, 2, 3, 4, 5, 6], lossMask: [0, 0, 0, 0, 1, 1], line: 2 };
  const short = { ids: [1, 2, 3], lossMask: [0, 0, 1], line: 3 };
  const { kept, report } = truncateExamples([keep, lost, short], 4);
  assert.deepEqual(kept.map((e) => e.line), [1, 3]);
  assert.deepEqual(kept[0].ids, [1, 2, 3, 4]);
  assert.equal(report.truncated, 1);
  assert.equal(report.skipped, 1);
  assert.deepEqual(report.skippedLines, [2]);
  assert.equal(report.droppedAssistantTokens, 2);
  assert.equal(trainedTargets(kept[0].lossMask), 2);
});

test("packing fills windows without splitting examples; epochs shuffle deterministically", () => {
  const exs = countingExamples(20, 1);
  const rows = packRows(exs, 24);
  assert.ok(rows.length < exs.length);
  for (const r of rows) assert.ok(r.length === 1 || r.reduce((s, e) => s + e.ids.length, 0) <= 24);
  assert.equal(rows.flat().length, exs.length);
  const e0 = epochBatches(exs, 0, { batchSize: 3, maxSeqLen: 64, packing: false, seed: 5 });
  const e0again = epochBatches(exs, 0, { batchSize: 3, maxSeqLen: 64, packing: false, seed: 5 });
  const e1 = epochBatches(exs, 1, { batchSize: 3, maxSeqLen: 64, packing: false, seed: 5 });
  assert.deepEqual(e0, e0again);
  assert.notDeepEqual(e0.map((b) => Array.from(b.inputIds)), e1.map((b) => Array.from(b.inputIds)));
  assert.equal(e0.length, 7);
  const total = (bs: typeof e0) => bs.reduce((s, b) => s + b.tokenCount, 0);
  assert.equal(total(e0), total(e1));
});
