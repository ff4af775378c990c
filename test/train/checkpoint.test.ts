/** Checkpoint files: exact round trip, and a full disk never leaves a corrupt or partial checkpoint. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from "../../src/engine/train/checkpoint.js";
import { Rng } from "../../src/engine/train/rng.js";
import { tempDir } from "../helpers/fixtures.js";

function checkpoint(step: number, n: number): Checkpoint {
  const rng = new Rng(step);
  const arr = () => Float32Array.from({ length: n }, () => rng.nextFloat() - 0.5);
  return {
    state: {
      step,
      epoch: 1,
      microIndex: 3,
      dropoutRng: rng.state(),
      bestEvalLoss: 1.25,
      bestStep: step,
      evalsWithoutImprovement: 0,
      lastEvalLoss: 1.5,
      recentLossSum: 3.1,
      recentTokens: 7,
      tokensSeen: 99,
      trainSeconds: 1.5,
    },
    params: new Map([["layers.0.self_attn.q_proj.lora_A", arr()]]),
    optimizer: { step, m: new Map([["layers.0.self_attn.q_proj.lora_A", arr()]]), v: new Map([["layers.0.self_attn.q_proj.lora_A", arr()]]) },
  };
}
const shapes = (n: number) => new Map([["layers.0.self_attn.q_proj.lora_A", [1, n]]]);

test("checkpoint round trip is exact", async () => {
  const tmp = tempDir();
  try {
    const ck = checkpoint(5, 100);
    const p = join(tmp.dir, "checkpoint.safetensors");
    await saveCheckpoint(p, ck, shapes(100));
    const back = (await loadCheckpoint(p))!;
    assert.deepEqual(back.state, ck.state);
    assert.equal(back.optimizer.step, 5);
    assert.deepEqual(back.params, ck.params);
    assert.deepEqual(back.optimizer.m, ck.optimizer.m);
    assert.deepEqual(back.optimizer.v, ck.optimizer.v);
  } finally {
    tmp.cleanup();
  }
});

test("disk full while writing a checkpoint: a clear disk_full error, the previous checkpoint intact, no temp file", async (t) => {
  const tmp = tempDir();
  const mnt = join(tmp.dir, "small");
  mkdirSync(mnt);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], { stdio: "ignore" });
  } catch {
    tmp.cleanup();
    process.stderr.write("\n*** SKIPPING disk-full test: cannot mount a small tmpfs here (needs root) ***\n");
    return t.skip("cannot mount a tmpfs (not root)");
  }
  try {
    const p = join(mnt, "checkpoint.safetensors");
    const n = 8000; // 3 x 32 KB per checkpoint
    const first = checkpoint(1, n);
    await saveCheckpoint(p, first, shapes(n));
    writeFileSync(join(mnt, "filler"), Buffer.alloc(100 * 1024)); // leaves less room than a checkpoint needs
    await assert.rejects(saveCheckpoint(p, checkpoint(2, n), shapes(n)), (e: Error & { code?: string }) => e.code === "disk_full");
    const back = (await loadCheckpoint(p))!;
    assert.equal(back.state.step, 1);
    assert.deepEqual(back.params, first.params);
    assert.deepEqual(readdirSync(mnt).sort(), ["checkpoint.safetensors", "filler"]);
  } finally {
    execFileSync("umount", [mnt]);
    tmp.cleanup();
  }
});
