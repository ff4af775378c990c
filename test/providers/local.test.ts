/**
 * The local engine behind the same Trainer interface: a tiny random model trained for real (ONNX
 * Runtime), followed by `followJob` into the store like a hosted job, then `jobs watch`/`jobs show`
 * read it back. Uses the training area's tiny-model helpers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/index.js";
import { LocalTrainer } from "../../src/providers/local/trainer.js";
import { submitTraining } from "../../src/providers/submit.js";
import { followJob, type FollowUpdate } from "../../src/providers/follow.js";
import { tempDir } from "../helpers/fixtures.js";
import { runCli } from "../helpers/cli.js";
import { formatDataset, tinyBackend, writeJsonl, writeTinyModel } from "../train/helpers/tiny.js";

test("a local LoRA run through the Trainer interface: recorded, followed, metrics stored, adapter as result", async () => {
  const t = tempDir();
  const store = openStore({ home: join(t.dir, "home") });
  try {
    const model = await writeTinyModel(join(t.dir, "model"));
    const data = writeJsonl(join(t.dir, "format.jsonl"), formatDataset(32, 1));
    const trainer = new LocalTrainer({ runsDir: join(t.dir, "runs"), backend: tinyBackend(), baseOptions: { warmup: 2 } });
    assert.ok(!trainer.validateParams({ model, suffix: "x" }).ok, "local runs take no suffix");
    const started = await submitTraining(trainer, { trainingFile: data, params: { model, hyperparameters: { n_epochs: 3, batch_size: 8, learning_rate: 0.01 }, seed: 7, lora: { r: 4, modules: "q_proj,v_proj" } } }, { store: store, confirm: () => true });
    assert.ok(started.ok, JSON.stringify(!started.ok && started.error));
    assert.equal(started.job.kind, "local");
    const updates: FollowUpdate[] = [];
    const out = await followJob(trainer, store, started.job.id, { pollMs: 50, onUpdate: (u) => updates.push(u) });
    assert.ok(out.ok, JSON.stringify(!out.ok && out.error));
    const job = store.getJob(started.job.id)!;
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    // The job's output is the run folder (run.json + adapter/), as for every run eval and export read.
    assert.equal(job.outputDir, job.remoteId);
    assert.ok(job.outputDir && existsSync(join(job.outputDir, "adapter", "adapter_config.json")));
    const metrics = store.getMetrics(job.id).filter((m) => m.values.train_loss !== undefined);
    assert.equal(metrics.length, 12); // 32 examples / batch 8 x 3 epochs
    assert.ok(metrics[metrics.length - 1].values.train_loss < metrics[0].values.train_loss);
    assert.deepEqual(job.result?.hyperparameters, { n_epochs: 3, batch_size: 8, learning_rate: 0.01, lora: { r: 4, alpha: 16, dropout: 0, rslora: false, targets: ["q", "v"] } });
    assert.ok(updates.some((u) => u.type === "event" && /training completed/.test(u.message)));
    const res = await trainer.result(job.remoteId!);
    assert.ok(res.ok && res.value.kind === "local" && res.value.adapterDir === join(job.outputDir, "adapter"));
    store.close();

    // Another process reads the same run back from the store and the run folder.
    const env = { TUNEKIT_HOME: join(t.dir, "home") };
    const list = await runCli(["jobs", "list", "--json"], { env });
    assert.equal(JSON.parse(list.stdout)[0].kind, "local");
    const watch = await runCli(["jobs", "watch", job.id], { env });
    assert.equal(watch.code, 0, watch.stderr);
    assert.match(watch.stdout, /succeeded/);
    assert.match(watch.stdout, /run folder/);
  } finally {
    store.close();
    t.cleanup();
  }
});
