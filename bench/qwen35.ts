/**
 * Qwen3.5 at the Qwen3.5-0.8B shape (random weights): a LoRA training step (r=16 on every target,
 * one row of --seq tokens) on tunekit's engine (createTrainStep, the step `tunekit train` runs) next to
 * the PyTorch reference's step at the same shape (scripts/reference/bench_qwen35_torch.py: the chunked
 * delta rule as transformers' torch path computes it, float32 autograd); and tunekit's decoding with the
 * state cache at two context lengths (the per-token cost must not grow with the length) next to the
 * reference's cached decode step (scripts/reference/bench_qwen35_decode_torch.py). Each side runs
 * in a fresh process (its own peak RSS); figures are medians.
 *
 * The shape: 24 layers (18 Gated DeltaNet + 6 gated attention), hidden 1024, 8 query / 2 KV heads
 * (published for Qwen3.5-0.8B); head_dim 256, intermediate 3584, 16 linear key and value heads of 128,
 * vocab 248,320, tied embeddings are transformers' Qwen3.5 defaults / assumed (no config.json was at hand).
 *
 *   node --import tsx bench/qwen35.ts [--layers 24] [--rounds 2] [--seq 2048] [--decode 16] [--skip-torch]
 *   reduced (about 5 minutes on a quiet 2-core machine): --layers 4 --rounds 1 --seq 1024
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseModelConfig } from "../src/engine/io/config.js";
import { expectedTensorShapes } from "../src/engine/models/tensors.js";
import { createInferenceModel, createTrainStep, loraParamShapes } from "../src/engine/models/causal-lm.js";
import type { Tensor } from "../src/engine/types.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const self = fileURLToPath(import.meta.url);
const { values: a } = parseArgs({
  options: {
    layers: { type: "string", default: "24" },
    rounds: { type: "string", default: "2" },
    seq: { type: "string", default: "2048" },
    decode: { type: "string", default: "16" },
    "skip-torch": { type: "boolean", default: false },
    child: { type: "string" },
    config: { type: "string" },
  },
});

function shape(layers: number): Record<string, unknown> {
  return {
    architectures: ["Qwen3_5ForCausalLM"],
    model_type: "qwen3_5_text",
    vocab_size: 248320,
    hidden_size: 1024,
    intermediate_size: 3584,
    num_hidden_layers: layers,
    num_attention_heads: 8,
    num_key_value_heads: 2,
    head_dim: 256,
    linear_num_key_heads: 16,
    linear_num_value_heads: 16,
    linear_key_head_dim: 128,
    linear_value_head_dim: 128,
    linear_conv_kernel_dim: 4,
    full_attention_interval: 4,
    max_position_embeddings: 262144,
    rms_norm_eps: 1e-6,
    rope_parameters: { rope_type: "default", rope_theta: 10000000, partial_rotary_factor: 0.25 },
    tie_word_embeddings: true,
  };
}

function randomWeights(raw: Record<string, unknown>): Map<string, Tensor> {
  const c = parseModelConfig(raw);
  let s = 12345;
  const W = new Map<string, Tensor>();
  for (const [name, sh] of expectedTensorShapes(c)) {
    const n = sh.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    const scale = sh.length === 1 ? 0.1 : 0.02;
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      data[i] = ((s / 2 ** 32) * 2 - 1) * scale;
    }
    W.set(name, { shape: sh, data });
  }
  return W;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function child(kind: string, raw: Record<string, unknown>): Promise<void> {
  const c = parseModelConfig(raw);
  const W = randomWeights(raw);
  const T = Number(a.seq);
  const out: Record<string, unknown> = {};
  if (kind === "train") {
    const spec = { r: 16, alpha: 32, targets: "all-linear" as const };
    const step = await createTrainStep(c, W, spec, { threads: 2 });
    const params = new Map(loraParamShapes(c, spec).map((p) => [p.name, new Float32Array(p.shape[0] * p.shape[1]).fill(0.001)]));
    const ids = Array.from({ length: T }, (_, i) => 3 + ((i * 7919) % 240000));
    const batch = { batchSize: 1, seqLen: T, inputIds: ids, targets: [...ids.slice(1), -100], lossWeights: ids.map((_, i) => (i < T - 1 ? 1 : 0)) };
    const ms: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      await step.run(batch, params);
      ms.push(performance.now() - t0);
    }
    out.stepMs = ms;
    await step.dispose();
  } else {
    const m = await createInferenceModel(c, W, { threads: 2 });
    const n = Number(a.decode);
    for (const len of [128, T]) {
      let { cache } = await m.prefill([Array.from({ length: len }, (_, i) => 3 + i)]);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) ({ cache } = await m.decode(cache, [5]));
      out[`decodeMsPerToken@${len}`] = (performance.now() - t0) / n;
    }
    await m.dispose();
  }
  out.maxRssKb = process.resourceUsage().maxRSS;
  console.log(JSON.stringify(out));
}

function run(args: string[], env: Record<string, string> = {}): Record<string, number | number[]> {
  const r = spawnSync(args[0], args.slice(1), { cwd: root, encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

async function main(): Promise<void> {
  if (a.child) return child(a.child, JSON.parse(a.config!));
  const raw = shape(Number(a.layers));
  const dir = mkdtempSync(join(tmpdir(), "tunekit-bench-qwen35-"));
  const cfgPath = join(dir, "config.json");
  writeFileSync(cfgPath, JSON.stringify(raw));
  const node = (kind: string) => run([process.execPath, "--import", "tsx", self, "--child", kind, "--config", JSON.stringify(raw), "--seq", a.seq!, "--decode", a.decode!]);
  const tk: number[] = [];
  const pt: number[] = [];
  let tkRss = 0;
  let ptRss = 0;
  const dec: Record<string, number[]> = {};
  let decRss = 0;
  const decPt: Record<string, number[]> = {};
  let decPtRss = 0;
  for (let round = 0; round < Number(a.rounds); round++) {
    const t = node("train");
    tk.push(Math.min(...(t.stepMs as number[])));
    tkRss = Math.max(tkRss, t.maxRssKb as number);
    if (!a["skip-torch"]) {
      const p = run(["/usr/bin/python3", "scripts/reference/bench_qwen35_torch.py", cfgPath, a.seq!, "2"], { GOMP_SPINCOUNT: "0", OPENBLAS_CORETYPE: "SkylakeX", OMP_NUM_THREADS: "2" });
      pt.push(Math.min(...(p.stepMs as number[])));
      ptRss = Math.max(ptRss, p.maxRssKb as number);
    }
    const d = node("decode");
    for (const [k, v] of Object.entries(d)) if (k.startsWith("decode")) (dec[k] ??= []).push(v as number);
    decRss = Math.max(decRss, d.maxRssKb as number);
    if (!a["skip-torch"]) {
      const p = run(["/usr/bin/python3", "scripts/reference/bench_qwen35_decode_torch.py", cfgPath, a.decode!, "128", a.seq!], { GOMP_SPINCOUNT: "0", OPENBLAS_CORETYPE: "SkylakeX", OMP_NUM_THREADS: "2" });
      for (const [k, v] of Object.entries(p)) if (k.startsWith("decode")) (decPt[k] ??= []).push(v as number);
      decPtRss = Math.max(decPtRss, p.maxRssKb as number);
    }
  }
  const gb = (kb: number) => `${(kb / 1024 / 1024).toFixed(2)} GB`;
  console.log(`Qwen3.5-0.8B shape, ${a.layers} layers, one row of ${a.seq} tokens, LoRA r=16 all targets, 2 threads`);
  console.log(`training step  tunekit ${(median(tk) / 1000).toFixed(2)} s (peak RSS ${gb(tkRss)})` + (pt.length ? `   PyTorch ${(median(pt) / 1000).toFixed(2)} s (peak RSS ${gb(ptRss)})   ratio ${(median(tk) / median(pt)).toFixed(2)}` : ""));
  for (const [k, v] of Object.entries(dec)) {
    const peer = decPt[k] ? `   PyTorch ${median(decPt[k]).toFixed(1)} ms/token   speed ratio ${(median(decPt[k]) / median(v)).toFixed(2)}x` : "";
    console.log(`decode ${k.replace("decodeMsPerToken@", "after ")} tokens: tunekit ${median(v).toFixed(1)} ms/token${peer}`);
  }
  console.log(`decode peak RSS tunekit ${gb(decRss)}` + (decPtRss ? `   PyTorch ${gb(decPtRss)}` : ""));
}

await main();
