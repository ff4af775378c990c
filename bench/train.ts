/**
 * One LoRA training step (forward, backward, AdamW; batch 4 x 256 tokens; r = 16 on every linear layer)
 * on a SmolLM2-135M-shaped Llama with random weights (30 layers, hidden 576, 9/3 heads, MLP 1536, vocab
 * 49152, tied), tunekit (ONNX Runtime + JS AdamW) vs PyTorch CPU with autograd
 * (scripts/reference/bench_train_torch.py, Debian python3-torch, GOMP_SPINCOUNT=0), both on 2 threads,
 * measured side by side in one run. Each side runs in its own process so peak RSS is its own.
 * Also: ORT's rate on a big GEMM, and the share of the step's matmul-FLOP floor at that rate we reach.
 *   node --import tsx bench/train.ts [--steps N] [--rounds N]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseModelConfig } from "../src/engine/io/config.js";
import { expectedTensorShapes } from "../src/engine/io/model.js";
import { encodeModel } from "../src/engine/onnx/model.js";
import { Session, tensor } from "../src/engine/runtime/session.js";
import { AdamW } from "../src/engine/train/adamw.js";
import type { StepBatch } from "../src/engine/train/batches.js";
import { initLoraParams } from "../src/engine/train/lora-init.js";
import { createOnnxTrainEngine } from "../src/engine/train/onnx-engine.js";
import { Rng } from "../src/engine/train/rng.js";
import type { Tensor } from "../src/engine/types.js";

const B = 4;
const T = 256;
const R = 16;
const THREADS = 2;
const argSteps = process.argv.indexOf("--steps");
const STEPS = argSteps > 0 ? Number(process.argv[argSteps + 1]) : 3;

const RAW = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  vocab_size: 49152,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: "float32",
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Matmul FLOPs of one step that no implementation can skip: forward, and backward to the inputs. */
function matmulFlopFloor(): number {
  const c = parseModelConfig(RAW);
  const N = B * T;
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  const linear = [q * H, kv * H, kv * H, H * q, I * H, I * H, H * I];
  const loraPer = (inn: number, out: number) => 2 * N * R * (inn + out); // x A^T, (xA^T) B^T
  const shapes: [number, number][] = [[H, q], [H, kv], [H, kv], [q, H], [H, I], [H, I], [I, H]];
  let fwd = 0;
  for (const w of linear) fwd += 2 * N * w;
  for (const [inn, out] of shapes) fwd += loraPer(inn, out);
  fwd += 2 * (2 * B * c.numHeads * T * T * c.headDim); // QK^T and PV
  fwd *= c.numLayers;
  const head = 2 * N * H * c.vocabSize;
  // Backward: frozen weights need only the input gradient (1x forward); LoRA A/B and attention need
  // gradients for both operands (2x forward).
  let bwd = 0;
  for (const w of linear) bwd += 2 * N * w;
  for (const [inn, out] of shapes) bwd += 2 * loraPer(inn, out);
  bwd += 2 * 2 * (2 * B * c.numHeads * T * T * c.headDim);
  bwd *= c.numLayers;
  return fwd + bwd + 2 * head;
}

/** ORT's GEMM rate (FLOP/s) on a big matmul of this model's size, 2 threads. */
async function ortGemmRate(): Promise<number> {
  const M = 1024;
  const K = 1536;
  const Nn = 1536;
  const rng = new Rng(1);
  const w = Float32Array.from({ length: K * Nn }, () => rng.nextFloat() - 0.5);
  const bytes = encodeModel({
    nodes: [{ opType: "MatMul", name: "mm", inputs: ["x", "w"], outputs: ["y"], attrs: {} }],
    inputs: [{ name: "x", elemType: "float32", shape: [M, K] }],
    outputs: [{ name: "y", elemType: "float32", shape: [M, Nn] }],
    initializers: [{ name: "w", elemType: "float32", dims: [K, Nn], raw: new Uint8Array(w.buffer) }],
    opsetVersion: 17,
  });
  const s = await Session.create(bytes, { threads: THREADS });
  const x = tensor("float32", Float32Array.from({ length: M * K }, () => rng.nextFloat() - 0.5), [M, K]);
  for (let i = 0; i < 3; i++) await s.run({ x }, ["y"]);
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await s.run({ x }, ["y"]);
    times.push((performance.now() - t0) / 1000);
  }
  await s.dispose();
  return (2 * M * K * Nn) / median(times);
}

/** Our side (runs in a child process): prints one JSON line. */
async function ours(): Promise<void> {
  const config = parseModelConfig(RAW);
  const rng = new Rng(0);
  const weights = new Map<string, Tensor>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (shape.length === 1) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = (rng.nextFloat() * 2 - 1) * 0.035; // std ~0.02
    weights.set(name, { shape, data });
  }
  const t0 = performance.now();
  const engine = await createOnnxTrainEngine(config, weights, { r: R, alpha: 32, dropout: 0, rslora: false, targets: "all-linear" }, { threads: THREADS });
  const createSeconds = (performance.now() - t0) / 1000;
  const params = initLoraParams(engine.paramShapes, new Rng(1));
  const opt = new AdamW();
  const ids = Int32Array.from({ length: B * T }, () => rng.nextInt(config.vocabSize));
  const batch: StepBatch = {
    batchSize: B,
    seqLen: T,
    inputIds: ids,
    targets: Int32Array.from({ length: B * T }, () => rng.nextInt(config.vocabSize)),
    lossWeights: new Float32Array(B * T).fill(1),
    segmentIds: new Int32Array(B * T).fill(1),
    positions: Int32Array.from({ length: B * T }, (_, i) => i % T),
    tokenCount: B * T,
    realTokens: B * T,
  };
  const times: number[] = [];
  for (let i = 0; i <= STEPS; i++) {
    const s0 = performance.now();
    const r = await engine.run(batch, params);
    // The gradient of the mean loss: AdamW divides the summed gradients by the token count in its pass (as the training loop does).
    opt.update(params, r.grads, 1e-4, { gradDivisor: r.tokenCount });
    const dt = (performance.now() - s0) / 1000;
    if (i > 0) times.push(dt);
  }
  await engine.dispose();
  const gemm = await ortGemmRate();
  const med = median(times);
  console.log(
    JSON.stringify({
      stepSeconds: times,
      medianSeconds: med,
      tokensPerSecond: (B * T) / med,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      createSeconds,
      gemmFlopsPerSecond: gemm,
      loraParams: engine.paramShapes.reduce((s, p) => s + p.shape[0] * p.shape[1], 0),
    }),
  );
}

function lastJson(out: string): Record<string, number> | undefined {
  const line = out.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  return line ? JSON.parse(line) : undefined;
}

async function main(): Promise<void> {
  if (process.argv.includes("--ours")) return ours();
  const self = fileURLToPath(import.meta.url);
  const argRounds = process.argv.indexOf("--rounds");
  const ROUNDS = argRounds > 0 ? Number(process.argv[argRounds + 1]) : 2;
  console.log(
    `LoRA training step, SmolLM2-135M shape, batch ${B} x ${T}, r=${R} on all linear layers, ${THREADS} threads; ${ROUNDS} rounds of (tunekit, PyTorch x 2 BLAS settings), ${STEPS} steps each after 1 warm-up; medians over all steps of a side`,
  );
  console.log("(the sides alternate because this machine's speed drifts by tens of percent over minutes; a ratio from one pair of runs can be off by that much)");
  const py = "/usr/bin/python3";
  const script = fileURLToPath(new URL("../scripts/reference/bench_train_torch.py", import.meta.url));
  const settings: [string, string | undefined][] = [
    ["default (OPENBLAS_CORETYPE=" + (process.env.OPENBLAS_CORETYPE ?? "unset") + ")", process.env.OPENBLAS_CORETYPE],
    ["OPENBLAS_CORETYPE=SkylakeX", "SkylakeX"],
  ];
  if (!existsSync(py)) console.log("PyTorch baseline skipped: /usr/bin/python3 missing (apt-get install -y python3-torch)");
  const oursSteps: number[] = [];
  const oursRuns: Record<string, number>[] = [];
  const torch = new Map<string, { steps: number[]; rss: number }>();
  for (let round = 1; round <= ROUNDS; round++) {
    const o = spawnSync(process.execPath, ["--import", "tsx", self, "--ours", "--steps", String(STEPS)], { encoding: "utf8", maxBuffer: 1 << 26 });
    const us = lastJson(o.stdout);
    if (!us) {
      console.error(o.stderr);
      process.exit(1);
    }
    oursRuns.push(us);
    oursSteps.push(...(us.stepSeconds as unknown as number[]));
    const line = [`round ${round}: tunekit ${us.medianSeconds.toFixed(2)} s/step`];
    if (existsSync(py)) {
      for (const [label, coretype] of settings) {
        const env: NodeJS.ProcessEnv = { ...process.env, GOMP_SPINCOUNT: "0", OMP_NUM_THREADS: String(THREADS) };
        if (coretype === undefined) delete env.OPENBLAS_CORETYPE;
        else env.OPENBLAS_CORETYPE = coretype;
        const p = spawnSync(py, [script, String(STEPS), String(THREADS)], { encoding: "utf8", env, maxBuffer: 1 << 26 });
        const r = lastJson(p.stdout);
        if (!r) {
          console.log(`PyTorch (${label}) failed: ${p.stderr.trim().split("\n").slice(-3).join(" | ")}`);
          continue;
        }
        const t = torch.get(label) ?? { steps: [], rss: 0 };
        t.steps.push(...(r.stepSeconds as unknown as number[]));
        t.rss = Math.max(t.rss, r.peakRssBytes);
        torch.set(label, t);
        line.push(`PyTorch ${label} ${r.medianSeconds.toFixed(2)} s/step`);
      }
    }
    console.log(line.join(", "));
  }
  const floor = matmulFlopFloor();
  const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
  const ourMed = median(oursSteps);
  const ourRss = Math.max(...oursRuns.map((r) => r.peakRssBytes));
  const gemm = median(oursRuns.map((r) => r.gemmFlopsPerSecond));
  console.log(`tunekit (ORT ${THREADS} threads): ${ourMed.toFixed(2)} s/step, ${((B * T) / ourMed).toFixed(0)} tokens/s, peak RSS ${mb(ourRss)} (session build ${oursRuns[0].createSeconds.toFixed(1)} s)`);
  let best: { label: string; med: number; rss: number } | undefined;
  for (const [label, t] of torch) {
    const med = median(t.steps);
    console.log(`PyTorch ${label}: ${med.toFixed(2)} s/step, ${((B * T) / med).toFixed(0)} tokens/s, peak RSS ${mb(t.rss)}`);
    if (!best || med < best.med) best = { label, med, rss: t.rss };
  }
  if (best) {
    console.log(`baseline = the faster PyTorch setting: ${best.label}`);
    console.log(`speed ratio tunekit / PyTorch: ${(best.med / ourMed).toFixed(2)}x (target >= 2.0x)`);
    console.log(`peak RSS ratio tunekit / PyTorch: ${(ourRss / best.rss).toFixed(2)} (target <= 1.0)`);
  }
  const floorSeconds = floor / gemm;
  console.log(
    `ORT GEMM rate (1024x1536 @ 1536x1536, ${THREADS} threads): ${(gemm / 1e9).toFixed(0)} GFLOP/s; step matmul FLOPs ${(floor / 1e9).toFixed(0)} GFLOP -> floor ${floorSeconds.toFixed(2)} s; achieved ${((100 * floorSeconds) / ourMed).toFixed(0)}% of the floor`,
  );
}

await main();
