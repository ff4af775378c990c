/**
 * LoRA training speed as users get it, next to the fastest plain PyTorch LoRA step on this machine.
 *
 * Headline row: `tunekit train`'s own path, the `train()` library entry point the CLI calls
 * (src/engine/train/train-run.ts, the CLI's backend: model folder, tokenizer and chat template, data
 * file, loop, AdamW, run folder), on a chat JSONL file whose examples are all longer than --max-seq-len
 * (built from examples/support-tickets.jsonl: several tickets per conversation), batch 4, LoRA r=16
 * alpha 32 on every linear layer, the CLI's defaults otherwise (`--save-every 100`, as a user timing
 * a short run would pass). Steady-state step = the median of the gaps between its `step` events after
 * the first. With max-seq-len N a full row trains N-1 positions (inputs ids[0..N-2], targets ids[1..N-1]),
 * as Hugging Face's Trainer and TRL do, so every side here runs N-1 positions.
 * Second row: the engine's step alone (createOnnxTrainEngine + AdamW) on a synthetic batch of the same
 * shape: the difference to the headline is what the loop, the data and the run folder cost.
 * Peer: scripts/reference/bench_train_family_torch.py on the same model folder: the same model math in
 * float32 with autograd (torch 1.13 has no fused attention: softmax(q k^T + mask) v), LoRA r=16 on the
 * same seven linear layers, cross-entropy, AdamW; 2 threads (this machine's cores), GOMP_SPINCOUNT=0,
 * the faster of OpenBLAS's SkylakeX kernels and its default.
 * Each side runs in its own fresh process (peak RSS is its own); the sides alternate round by round and
 * each figure is a median over all steps of that side. Every row also prints its share of the
 * matmul-FLOP floor at ORT's measured GEMM rate.
 *
 *   node --import tsx bench/train.ts [--shape 135m,1b] [--steps N] [--rounds N] [--checkpointing]
 *        [--long] [--layers N (smoke test only)]
 * --checkpointing adds the --gradient-checkpointing rows; --long adds a 2048-token batch-1 row on the
 * 1B shape (with and without checkpointing). The 1B shape needs about 9 GB.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseModelConfig } from "../src/engine/io/config.js";
import { writeSafetensors } from "../src/engine/io/safetensors.js";
import { expectedTensorShapes } from "../src/engine/models/tensors.js";
import { encodeModel } from "../src/engine/onnx/model.js";
import { Session, tensor } from "../src/engine/runtime/session.js";
import { AdamW } from "../src/engine/train/adamw.js";
import type { StepBatch } from "../src/engine/train/batches.js";
import { DEFAULT_TRAIN_OPTIONS } from "../src/engine/train/defaults.js";
import { initLoraParams } from "../src/engine/train/lora-init.js";
import { createOnnxTrainEngine } from "../src/engine/train/onnx-engine.js";
import { Rng } from "../src/engine/train/rng.js";
import { train } from "../src/engine/train/train-run.js";
import type { ModelConfig } from "../src/engine/types.js";
import { LLAMA_1B, SMOLLM2_135M } from "./helpers/shapes.js";
import { runJsonChild, torchEnv } from "./helpers/processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const self = fileURLToPath(import.meta.url);
const THREADS = 2;
const R = 16;
const SHAPES: Record<string, { raw: Record<string, unknown>; label: string }> = {
  "135m": { raw: SMOLLM2_135M, label: "SmolLM2-135M shape" },
  "1b": { raw: LLAMA_1B, label: "Llama-3.2-1B shape" },
};
const TOKENIZER = join(root, "../shared/fixtures/tokenizers/smollm2-135m-instruct/tokenizer.json");
const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

// ---------------------------------------------------------------- model folder and data

/**
 * Conversations of `turns` support tickets each (the system prompt once, then each ticket's user and
 * assistant turns): with 6 tickets every example is far longer than 256 tokens, with 48 than 2048.
 */
function longChats(turns: number, count: number): string {
  const tickets = readFileSync(join(root, "examples/support-tickets.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l).messages as { role: string; content: string }[]);
  const lines: string[] = [];
  for (let e = 0; e < count; e++) {
    const messages = [tickets[0][0]];
    for (let k = 0; k < turns; k++) messages.push(...tickets[(e * 7 + k) % tickets.length].filter((m) => m.role !== "system"));
    lines.push(JSON.stringify({ messages }));
  }
  return lines.join("\n") + "\n";
}

/** The model folder (cached in the temp dir): config, random BF16 weights, SmolLM2's real tokenizer with ChatML, data. */
async function ensureModel(shape: string, layers: number | undefined): Promise<string> {
  const raw = { ...SHAPES[shape].raw, ...(layers ? { num_hidden_layers: layers } : {}) };
  const dir = join(tmpdir(), `tunekit-bench-train-${shape}${layers ? `-${layers}l` : ""}`);
  if (existsSync(join(dir, "done"))) return dir;
  mkdirSync(dir, { recursive: true });
  const config = parseModelConfig(raw);
  const rng = new Rng(1234);
  const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith("norm.weight")) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = (rng.nextFloat() * 2 - 1) * 0.035; // std ~0.02
    return { name, shape, data, dtype: "BF16" as const };
  });
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2));
  writeFileSync(join(dir, "tokenizer.json"), readFileSync(TOKENIZER));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|im_end|>", bos_token: null, pad_token: "<|endoftext|>", chat_template: CHATML }));
  writeFileSync(join(dir, "train.jsonl"), longChats(6, 64));
  writeFileSync(join(dir, "train-long.jsonl"), longChats(48, 8));
  writeFileSync(join(dir, "done"), "");
  return dir;
}

// ---------------------------------------------------------------- FLOP floor and GEMM rate

/** Matmul FLOPs of one step no implementation can skip: forward, backward to the inputs, LoRA both ways, causal attention counted in full. */
function matmulFlopFloor(c: ModelConfig, B: number, T: number): number {
  const N = B * T;
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  const shapes: [number, number][] = [[H, q], [H, kv], [H, kv], [q, H], [H, I], [H, I], [I, H]];
  let frozen = 0;
  let lora = 0;
  for (const [inn, out] of shapes) {
    frozen += 2 * N * inn * out;
    lora += 2 * N * R * (inn + out);
  }
  const attn = 2 * (2 * B * c.numHeads * T * T * c.headDim);
  // Frozen weights: forward + the input gradient; LoRA and attention: forward + both operands' gradients.
  const perLayer = 2 * frozen + 3 * lora + 3 * attn;
  return c.numLayers * perLayer + 2 * (2 * N * H * c.vocabSize);
}

/** ORT's fp32 GEMM rate (FLOP/s) on a big matmul, 2 threads. */
async function ortGemmRate(): Promise<number> {
  const [M, K, Nn] = [1024, 2048, 2048];
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
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await s.run({ x }, ["y"]);
    times.push((performance.now() - t0) / 1000);
  }
  await s.dispose();
  return (2 * M * K * Nn) / median(times);
}

// ---------------------------------------------------------------- our sides (child processes)

interface Case {
  batch: number;
  seqLen: number;
  data: string;
  checkpointing: boolean;
  /** A 4- or 8-bit frozen base (--base-bits). */
  baseBits?: 4 | 8;
  /** Also time the engine's step alone. */
  engine?: boolean;
}

/** `tunekit train`'s path: train() on the folder; per-step seconds from its step events (the first dropped). */
async function oursTrain(dir: string, c: Case, steps: number): Promise<void> {
  const out = join(dir, `run-${process.pid}-${Date.now()}`);
  const stepAt: number[] = [];
  let tokens = 0;
  let truncated = 0;
  let examples = 0;
  try {
    await train(
      {
        data: join(dir, c.data),
        model: dir,
        outDir: out,
        options: {
          ...DEFAULT_TRAIN_OPTIONS,
          maxSteps: steps + 1,
          batchSize: c.batch,
          maxSeqLen: c.seqLen,
          saveEvery: 100,
          lora: { r: R, alpha: 2 * R, dropout: 0, rslora: false, targets: "all-linear" },
          ...(c.checkpointing ? { gradientCheckpointing: true } : {}),
          ...(c.baseBits ? { baseBits: c.baseBits } : {}),
        },
      },
      {
        onEvent: (e) => {
          if (e.type === "start") examples = e.trainExamples;
          if (e.type === "warning" && e.code === "truncated") truncated = (e.details as { truncated: number }).truncated;
          if (e.type === "step") {
            stepAt.push(e.elapsedSeconds);
            tokens = e.tokens;
          }
        },
      },
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  if (truncated !== examples) throw new Error(`bench data: ${truncated} of ${examples} examples are longer than --max-seq-len ${c.seqLen}; all should be`);
  const stepSeconds = stepAt.slice(1).map((t, i) => t - stepAt[i]);
  console.log(JSON.stringify({ stepSeconds, tokens, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

/** The engine's step alone on a synthetic batch of B x (seqLen - 1) positions, then ORT's GEMM rate. */
async function oursEngine(dir: string, c: Case, steps: number): Promise<void> {
  const { loadModel } = await import("../src/engine/io/model.js");
  const model = await loadModel(dir, c.baseBits ? { baseBits: c.baseBits, quantizeTransposed: true } : {});
  const config = model.config;
  const engine = await createOnnxTrainEngine(config, model.weights, { r: R, alpha: 2 * R, dropout: 0, rslora: false, targets: "all-linear" }, { gradientCheckpointing: c.checkpointing });
  const params = initLoraParams(engine.paramShapes, new Rng(1));
  const opt = new AdamW();
  const rng = new Rng(0);
  const B = c.batch;
  const T = c.seqLen - 1;
  const batch: StepBatch = {
    batchSize: B,
    seqLen: T,
    inputIds: Int32Array.from({ length: B * T }, () => rng.nextInt(config.vocabSize)),
    targets: Int32Array.from({ length: B * T }, () => rng.nextInt(config.vocabSize)),
    lossWeights: new Float32Array(B * T).fill(1),
    segmentIds: new Int32Array(B * T).fill(1),
    positions: Int32Array.from({ length: B * T }, (_, i) => i % T),
    tokenCount: B * T,
    realTokens: B * T,
  };
  const stepSeconds: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const s0 = performance.now();
    const r = await engine.run(batch, params);
    opt.update(params, r.grads, 1e-4, { gradDivisor: r.tokenCount });
    if (i > 0) stepSeconds.push((performance.now() - s0) / 1000);
  }
  await engine.dispose();
  const rss = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ stepSeconds, tokens: B * T, peakRssBytes: rss, gemmFlopsPerSecond: await ortGemmRate() }));
}

// ---------------------------------------------------------------- the run

interface Side {
  steps: number[];
  rss: number;
  tokens: number;
}
const add = (m: Map<string, Side>, key: string, r: Record<string, unknown>) => {
  const s = m.get(key) ?? { steps: [], rss: 0, tokens: 0 };
  s.steps.push(...(r.stepSeconds as number[]));
  s.rss = Math.max(s.rss, r.peakRssBytes as number);
  s.tokens = (r.tokens as number) ?? s.tokens;
  m.set(key, s);
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shape: { type: "string" },
      steps: { type: "string" },
      rounds: { type: "string" },
      layers: { type: "string" },
      checkpointing: { type: "boolean" },
      long: { type: "boolean" },
      child: { type: "string" },
      dir: { type: "string" },
      case: { type: "string" },
    },
  });
  const steps = Number(values.steps ?? 3);
  if (values.child) {
    const c = JSON.parse(values.case!) as Case;
    return values.child === "train" ? oursTrain(values.dir!, c, steps) : oursEngine(values.dir!, c, steps);
  }
  if (!existsSync(TOKENIZER)) {
    console.log(`skipped: SmolLM2's tokenizer fixture is missing (${TOKENIZER}; see /work/shared/fixtures/README.md)`);
    process.exit(1);
  }
  const py = "/usr/bin/python3";
  if (!existsSync(py)) {
    console.log("PyTorch peer unavailable: /usr/bin/python3 with torch (Debian python3-torch) is needed");
    process.exit(1);
  }
  const rounds = Number(values.rounds ?? 2);
  const layers = values.layers ? Number(values.layers) : undefined;
  const coretypes = [...new Set(["SkylakeX", process.env.OPENBLAS_CORETYPE])];
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(1)).join(" ")} (figures are only meaningful on an idle machine)`);
  if (layers) console.log(`SMOKE TEST: ${layers} layers instead of the real depth; not a measurement`);
  let gemm: number | undefined;
  const peers = new Map<string, { ct: string; med: number; rss: number } | undefined>();
  for (const shape of (values.shape ?? "135m,1b").split(",")) {
    if (!SHAPES[shape]) throw new Error(`unknown --shape ${shape} (${Object.keys(SHAPES).join(", ")})`);
    const dir = await ensureModel(shape, layers);
    const config = parseModelConfig(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")));
    // The 1B shape's PyTorch step takes about a minute: one round unless asked.
    const shapeRounds = shape === "1b" && values.rounds === undefined ? 1 : rounds;
    const shapeSteps = shape === "1b" && values.steps === undefined ? 2 : steps;
    const cases: [string, Case][] = [["", { batch: 4, seqLen: 256, data: "train.jsonl", checkpointing: false, engine: true }]];
    if (values.checkpointing) cases.push([" --gradient-checkpointing", { batch: 4, seqLen: 256, data: "train.jsonl", checkpointing: true, engine: true }]);
    if (values.long && shape === "1b") {
      const long = { batch: 1, seqLen: 2048, data: "train-long.jsonl" };
      cases.push([" 2048 tokens", { ...long, checkpointing: false }]);
      cases.push([" 2048 tokens --gradient-checkpointing", { ...long, checkpointing: true }]);
      cases.push([" 2048 tokens --gradient-checkpointing --base-bits 4", { ...long, checkpointing: true, baseBits: 4 }]);
    }
    console.log(`\n${SHAPES[shape].label}: ${config.numLayers} layers, hidden ${config.hiddenSize}, ${config.numHeads}/${config.numKvHeads} heads, MLP ${config.intermediateSize}, vocab ${config.vocabSize}; LoRA r=${R} alpha ${2 * R} on all linear layers; ${THREADS} threads; ${shapeRounds} round(s) of ${shapeSteps} steps after a warm-up`);
    for (const [label, c] of cases) {
      const T = c.seqLen - 1;
      const ours = new Map<string, Side>();
      const key = `${shape} ${c.batch}x${T}`;
      const torch = new Map<string, Side>();
      // A case and its checkpointed twin share the peer's figures. No peer for 2048-token rows: PyTorch's
      // unfused attention alone would keep 16 layers x 32 heads x 2048^2 floats (8.6 GB) on this 24 GB machine.
      const torchToo = !peers.has(key) && c.seqLen <= 1024;
      for (let r = 1; r <= shapeRounds; r++) {
        const args = ["--import", "tsx", self, "--dir", dir, "--steps", String(shapeSteps), "--case", JSON.stringify(c)];
        add(ours, "train", runJsonChild(process.execPath, [...args, "--child", "train"]));
        if (c.engine) {
          const e = runJsonChild(process.execPath, [...args, "--child", "engine"]);
          add(ours, "engine", e);
          gemm ??= e.gemmFlopsPerSecond as number;
        }
        if (torchToo) {
          // The 1B shape's PyTorch step takes about a minute: only the setting that won on an earlier shape.
          const won = [...peers.values()].find((b) => b)?.ct;
          for (const ct of shape === "1b" && won ? [won === "unset" ? undefined : won] : coretypes) {
            const p = runJsonChild(py, [join(root, "scripts/reference/bench_train_family_torch.py"), dir, String(shapeSteps), String(THREADS), String(c.batch), String(T), String(R)], torchEnv(THREADS, ct));
            add(torch, ct ?? "unset", { ...p, tokens: c.batch * T });
          }
        }
      }
      const floor = matmulFlopFloor(config, c.batch, T) / gemm!;
      const tok = c.batch * T;
      if (torchToo) peers.set(key, [...torch].map(([ct, t]) => ({ ct, med: median(t.steps), rss: t.rss })).sort((a, b) => a.med - b.med)[0]);
      const best = peers.get(key);
      const row = (name: string, s: Side) => {
        const med = median(s.steps);
        const vs = best ? `, ${(best.med / med).toFixed(2)}x PyTorch's tokens/s, peak RSS ${(s.rss / best.rss).toFixed(2)} of PyTorch's` : "";
        console.log(`  ${name}: ${med.toFixed(2)} s/step, ${(tok / med).toFixed(0)} tok/s, peak RSS ${mb(s.rss)}${vs}; ${((100 * floor) / med).toFixed(0)}% of the matmul floor`);
      };
      console.log(` batch ${c.batch} x ${T} positions (--max-seq-len ${c.seqLen})${label}:`);
      row(`tunekit train${label}`, ours.get("train")!);
      if (ours.has("engine")) row("  engine step alone", ours.get("engine")!);
      if (best) console.log(`  PyTorch autograd (OPENBLAS_CORETYPE=${best.ct})${torchToo ? "" : " (as above)"}: ${best.med.toFixed(2)} s/step, ${(tok / best.med).toFixed(0)} tok/s, peak RSS ${mb(best.rss)}; ${((100 * floor) / best.med).toFixed(0)}% of the matmul floor`);
      console.log(`  matmul floor ${(matmulFlopFloor(config, c.batch, T) / 1e9).toFixed(0)} GFLOP at ORT's fp32 GEMM rate ${(gemm! / 1e9).toFixed(0)} GFLOP/s (1024x2048 @ 2048x2048, ${THREADS} threads) = ${floor.toFixed(2)} s`);
    }
  }
  console.log(`\nload average at end: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
}

await main();
