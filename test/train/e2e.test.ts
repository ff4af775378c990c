/**
 * End to end on a tiny random Llama model with the real ONNX engine: it learns a format, the run
 * folder is complete, a SIGKILLed run resumes to the same adapter bits, exports load back with the
 * same logits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel } from "../../src/engine/io/model.js";
import { readPeftAdapter } from "../../src/engine/io/peft.js";
import { mergeLora } from "../../src/engine/models/lora.js";
import { createInferenceModel } from "../../src/engine/models/causal-lm.js";
import { buildBatch } from "../../src/engine/train/batches.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../src/engine/train/defaults.js";
import { createOnnxTrainEngine } from "../../src/engine/train/onnx-engine.js";
import { train, type TrainRunEvent } from "../../src/engine/train/train-run.js";
import { exportMerged } from "../../src/export/merged.js";
import { exportOllama } from "../../src/export/ollama.js";
import type { Tensor } from "../../src/engine/types.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { BOS, EOS, decodeChars, formatDataset, renderChat, tinyBackend, writeJsonl, writeTinyModel } from "./helpers/tiny.js";

const tmp = tempDir("tunekit-train-e2e-");
test.after(() => tmp.cleanup());

async function greedy(weights: Map<string, Tensor>, config: Awaited<ReturnType<typeof loadModel>>["config"], prompt: number[], maxNew = 14): Promise<string> {
  const m = await createInferenceModel(config, weights, { threads: 1 });
  try {
    const ids = [...prompt];
    const out: number[] = [];
    for (let i = 0; i < maxNew; i++) {
      const logits = await m.allLogits([ids]);
      const V = config.vocabSize;
      const last = logits.subarray((ids.length - 1) * V, ids.length * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
      if (best === EOS) break;
      ids.push(best);
      out.push(best);
    }
    return decodeChars(out);
  } finally {
    await m.dispose();
  }
}

test("a tiny model learns a reply format; the run folder is complete; merged export gives the adapter's logits", async () => {
  const model = await writeTinyModel(join(tmp.dir, "model"));
  const data = writeJsonl(join(tmp.dir, "format.jsonl"), formatDataset(96, 1));
  const out = join(tmp.dir, "run");
  const events: TrainRunEvent[] = [];
  const r = await train(
    { data, model, outDir: out, testSplit: 0.125, options: { ...DEFAULT_TRAIN_OPTIONS, epochs: 30, lr: 1e-2, batchSize: 8, warmup: 10 } },
    { onEvent: (e) => events.push(e) },
    tinyBackend(),
  );
  const steps = events.filter((e) => e.type === "step") as Extract<TrainRunEvent, { type: "step" }>[];
  assert.ok(steps.length > 100);
  assert.ok(steps.at(-1)!.loss < steps[0].loss * 0.5, `loss ${steps[0].loss} -> ${steps.at(-1)!.loss}`);
  const evals = events.filter((e) => e.type === "eval") as Extract<TrainRunEvent, { type: "eval" }>[];
  assert.ok(evals.length >= 10 && evals.at(-1)!.heldOutLoss < evals[0].heldOutLoss);
  assert.equal(r.done.reason, "completed");

  // Run folder: config + dataset hash, metrics, checkpoint, PEFT adapter.
  const rec = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
  assert.match(rec.data.sha256, /^[0-9a-f]{64}$/);
  assert.equal(rec.status, "completed");
  assert.equal(rec.heldOut.kind, "test-split");
  const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual([metrics[0].type, metrics.at(-1).type], ["start", "done"]);
  assert.ok(existsSync(join(out, "checkpoint.safetensors")));
  const cfg = JSON.parse(readFileSync(join(out, "adapter", "adapter_config.json"), "utf8"));
  assert.equal(cfg.peft_type, "LORA");
  assert.deepEqual(cfg.target_modules, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);

  // Greedy output on held-out prompts follows the format after training and not before.
  const base = await loadModel(model);
  const adapter = await readPeftAdapter(join(out, "adapter"), { config: base.config });
  const tuned = mergeLora(base.config, base.weights, adapter);
  const prompts = formatDataset(6, 999).map((ex) => renderChat(ex, true).ids);
  const before = await Promise.all(prompts.map((p) => greedy(base.weights, base.config, p)));
  const after = await Promise.all(prompts.map((p) => greedy(tuned, base.config, p)));
  const follows = (s: string) => /^ANSWER: \[[a-z]*\]?$/.test(s);
  assert.ok(before.every((s) => !follows(s)), `before: ${JSON.stringify(before)}`);
  assert.ok(after.filter(follows).length >= 5, `after: ${JSON.stringify(after)}`);

  // Merged export loads back with the same logits as base + adapter (LoRA applied on the fly, in the
  // training graph: the held-out loss of the adapter equals the merged model's cross-entropy).
  const mergedDir = join(tmp.dir, "merged");
  const ex = await exportMerged(out, mergedDir);
  assert.deepEqual(ex.files.slice(0, 2), ["config.json", "model.safetensors"]);
  const merged = await loadModel(mergedDir);
  const seq = renderChat(formatDataset(1, 5)[0]);
  const im = await createInferenceModel(merged.config, merged.weights, { threads: 1 });
  const logits = await im.allLogits([seq.ids]);
  await im.dispose();
  const V = merged.config.vocabSize;
  let ce = 0;
  let n = 0;
  for (let t = 0; t + 1 < seq.ids.length; t++) {
    if (!seq.lossMask[t + 1]) continue;
    const row = logits.subarray(t * V, t * V + V);
    const max = Math.max(...row);
    let den = 0;
    for (const z of row) den += Math.exp(z - max);
    ce += Math.log(den) + max - row[seq.ids[t + 1]];
    n++;
  }
  const engine = await createOnnxTrainEngine(base.config, base.weights, { ...DEFAULT_TRAIN_OPTIONS.lora }, { threads: 1 });
  const params = new Map([...adapter.params].map(([k, t]) => [k, t.data]));
  const ev = await engine.evalLoss(buildBatch([[seq]]), params);
  await engine.dispose();
  assert.equal(ev.tokenCount, n);
  assert.ok(Math.abs(ev.lossSum - ce) / ce < 1e-4, `adapter loss ${ev.lossSum} vs merged ${ce}`);
  const logitsTuned = await (async () => {
    const m = await createInferenceModel(base.config, tuned, { threads: 1 });
    const l = await m.allLogits([seq.ids]);
    await m.dispose();
    return l;
  })();
  let worst = 0;
  for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i] - logitsTuned[i]));
  assert.ok(worst < 1e-4, `merged vs adapter-applied logits differ by ${worst}`);

  // Ollama: no chat template -> refused with the way out; a ChatML template -> Modelfile.
  await assert.rejects(exportOllama(out, join(tmp.dir, "ollama0")), (e: Error & { code?: string; hint?: string }) => e.code === "ollama_template_unknown" && /--merged/.test(e.hint ?? ""));
  writeFileSync(join(model, "tokenizer_config.json"), JSON.stringify({ chat_template: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" }));
  const ol = await exportOllama(out, join(tmp.dir, "ollama"));
  const mf = readFileSync(ol.modelfile, "utf8");
  assert.match(mf, /^FROM \//m);
  assert.match(mf, /^ADAPTER \.\/adapter$/m);
  assert.match(mf, /TEMPLATE """.*<\|im_start\|>assistant/s);
  assert.match(mf, /^PARAMETER stop "<\|im_end\|>"$/m);
  assert.ok(existsSync(join(tmp.dir, "ollama", "adapter", "adapter_model.safetensors")));
  void BOS;
});

test("ollama export refuses architectures Ollama cannot take adapters for", async () => {
  const dir = join(tmp.dir, "qwen-run");
  const modelDir = join(tmp.dir, "qwen-model");
  mkdirSync(dir, { recursive: true });
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(
    join(modelDir, "config.json"),
    JSON.stringify({ architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64, max_position_embeddings: 64, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true }),
  );
  writeFileSync(join(dir, "run.json"), JSON.stringify({ tunekitRun: 1, model: modelDir, modelDir, options: DEFAULT_TRAIN_OPTIONS }));
  await assert.rejects(exportOllama(dir, join(tmp.dir, "o2")), (e: Error & { code?: string; hint?: string }) => e.code === "ollama_adapter_unsupported" && /merged/.test(e.hint ?? "") && /qwen2/.test(e.message));
  assert.ok(!existsSync(join(tmp.dir, "o2")));
});

const procScript = fileURLToPath(new URL("./helpers/train-proc.ts", import.meta.url));
function proc(args: string[]) {
  return spawn(process.execPath, ["--import", "tsx", procScript, ...args], { stdio: ["ignore", "ignore", "pipe"] });
}
function waitExit(child: ReturnType<typeof proc>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((res) => child.on("close", (code, signal) => res({ code, signal, stderr })));
}

test("a run killed with SIGKILL and resumed ends with the same adapter bits as an uninterrupted run", async () => {
  const model = await writeTinyModel(join(tmp.dir, "kmodel"), 5);
  const data = writeJsonl(join(tmp.dir, "kdata.jsonl"), formatDataset(40, 2));
  const full = join(tmp.dir, "full");
  const cut = join(tmp.dir, "cut");
  const a = await waitExit(proc(["start", data, model, full]));
  assert.equal(a.code, 0, a.stderr);

  const child = proc(["start", data, model, cut]);
  const done = waitExit(child);
  // Kill once a few checkpoints exist (metrics.jsonl records them), well before the end.
  const metrics = join(cut, "metrics.jsonl");
  for (let i = 0; i < 2000; i++) {
    await new Promise((r) => setTimeout(r, 10));
    if (existsSync(metrics) && (readFileSync(metrics, "utf8").match(/"checkpoint"/g) ?? []).length >= 4) break;
  }
  child.kill("SIGKILL");
  const killed = await done;
  assert.equal(killed.signal, "SIGKILL", "the run ended before it could be killed");
  assert.ok(!existsSync(join(cut, "adapter")), "killed run should not have an adapter yet");
  const b = await waitExit(proc(["resume", cut]));
  assert.equal(b.code, 0, b.stderr);
  const bytes = (d: string) => readFileSync(join(d, "adapter", "adapter_model.safetensors"));
  const last = readFileSync(join(cut, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const resumedAt = last.filter((e) => e.type === "start").map((e) => e.resumedFromStep);
  assert.ok(bytes(full).equals(bytes(cut)), `resumed adapter differs from the uninterrupted one (starts: ${JSON.stringify(resumedAt)})`);
  assert.equal(last.filter((e) => e.type === "done").length, 1);
  const steps = last.filter((e) => e.type === "step").map((e) => e.step);
  assert.deepEqual(steps, [...new Set(steps)].sort((x, y) => x - y), "metrics has each step once, in order");
});

test("--max-seq-len truncation warns with counts and skips examples whose reply is cut away; --validation is hashed", async () => {
  const model = await writeTinyModel(join(tmp.dir, "tmodel"), 6);
  const long = { messages: [{ role: "user" as const, content: "x".repeat(60) }, { role: "assistant" as const, content: "late reply" }] };
  const cut = { messages: [{ role: "user" as const, content: "short" }, { role: "assistant" as const, content: "a reply that runs past the limit by a lot" }] };
  const data = writeJsonl(join(tmp.dir, "trunc.jsonl"), [...formatDataset(8, 3), long, cut]);
  const val = writeJsonl(join(tmp.dir, "val.jsonl"), formatDataset(4, 8));
  const events: TrainRunEvent[] = [];
  const seen: string[] = []; // phases and event types, in order
  await train(
    { data, model, outDir: join(tmp.dir, "run-trunc"), validation: val, options: { ...DEFAULT_TRAIN_OPTIONS, maxSeqLen: 40, maxSteps: 2 } },
    { onEvent: (e) => (events.push(e), seen.push(e.type)), onPhase: (text) => seen.push(text) },
    tinyBackend(),
  );
  // The preparation phases come before the start event (a status line covers the silent setup).
  const firstStart = seen.indexOf("start");
  assert.deepEqual(
    seen.slice(0, firstStart).filter((x) => x !== "warning"),
    ["checking the training data", "loading the model", "tokenizing 14 examples", "building the training graph (ONNX Runtime session)"],
  );
  const warnings = events.filter((e) => e.type === "warning") as Extract<TrainRunEvent, { type: "warning" }>[];
  const skipped = warnings.find((w) => w.code === "reply_cut_away")!;
  assert.equal(skipped.details!.skipped, 1);
  assert.deepEqual(skipped.details!.lines, [9]);
  const truncated = warnings.find((w) => w.code === "truncated")!;
  assert.equal(truncated.details!.truncated, 1);
  assert.ok((truncated.details!.droppedAssistantTokens as number) > 0);
  const start = events.find((e) => e.type === "start") as Extract<TrainRunEvent, { type: "start" }>;
  assert.equal(start.trainExamples, 9);
  assert.equal(start.heldOutExamples, 4);
  const rec = JSON.parse(readFileSync(join(tmp.dir, "run-trunc", "run.json"), "utf8"));
  assert.equal(rec.heldOut.kind, "validation");
  assert.match(rec.heldOut.sha256, /^[0-9a-f]{64}$/);
});

test("export refuses an adapter for a different base model (shapes differ)", async (t) => {
  const other = sharedFixture("models", "stories260K");
  if (!other) return t.skip("shared fixture models/stories260K missing");
  const run = join(tmp.dir, "run");
  assert.ok(existsSync(join(run, "adapter")), "needs the run of the first test");
  const moved = join(tmp.dir, "run-other-base");
  mkdirSync(moved);
  for (const f of ["run.json"]) {
    const rec = JSON.parse(readFileSync(join(run, f), "utf8"));
    rec.modelDir = other;
    writeFileSync(join(moved, f), JSON.stringify(rec));
  }
  mkdirSync(join(moved, "adapter"));
  for (const f of ["adapter_config.json", "adapter_model.safetensors"]) writeFileSync(join(moved, "adapter", f), readFileSync(join(run, "adapter", f)));
  await assert.rejects(exportMerged(moved, join(tmp.dir, "bad-merged")), (e: Error & { code?: string }) => typeof e.code === "string" && /adapter|shape|base/i.test(e.message));
  assert.ok(!existsSync(join(tmp.dir, "bad-merged")));
});

test("--packing trains on packed windows (fewer, fuller steps)", async () => {
  const model = await writeTinyModel(join(tmp.dir, "pmodel"), 7);
  const data = writeJsonl(join(tmp.dir, "pack.jsonl"), formatDataset(32, 6));
  const steps = async (packing: boolean) => {
    const events: TrainRunEvent[] = [];
    await train({ data, model, outDir: join(tmp.dir, `run-pack-${packing}`), options: { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 4, maxSeqLen: 128, packing, lr: 5e-3 } }, { onEvent: (e) => events.push(e) }, tinyBackend());
    return events.filter((e) => e.type === "step") as Extract<TrainRunEvent, { type: "step" }>[];
  };
  const plain = await steps(false);
  const packed = await steps(true);
  assert.equal(plain.length, 8);
  assert.ok(packed.length < plain.length / 2, `packed ${packed.length} steps`);
  const tokens = (s: typeof plain) => s.reduce((a, e) => a + e.tokens, 0);
  assert.equal(tokens(packed), tokens(plain));
  assert.ok(packed.every((e) => Number.isFinite(e.loss)));
});
