/**
 * QLoRA on the CPU: the LoRA training step on a 4- or 8-bit frozen base against the float32 base,
 * through `train()` (src/engine/train/train-run.ts), the library entry point `tunekit train` runs: the
 * model folder's tokenizer, tunekit's plain template, LoRA r=16 alpha 32 on every linear layer, batch
 * 4 x 256 tokens, AdamW; per-step seconds from its step events (the first step dropped), peak RSS of
 * the whole process. Each configuration runs in its own fresh process, side by side in one run.
 * - llama-1b: the Llama-3.2-1B shape (16 layers, hidden 2048, 32/8 heads, MLP 8192, vocab 128,256,
 *   tied): float32 vs 8-bit vs 4-bit base. Targets: 4-bit peak RSS <= 4 GB, 4-bit step >= 1.5x faster.
 * - qwen3-4b: the Qwen3-4B shape (36 layers, hidden 2560, 32/8 heads of 128, MLP 9728, vocab 151,936,
 *   tied), 4-bit base only: peak RSS (target <= 12 GB) and the step time.
 * Random BF16 weights in a model folder in the temp dir (kept for reruns), the SmolLM2 tokenizer.
 * Run it on an idle machine with enough memory (the float32 1B run peaks near 9 GB); the load average is
 * printed at the start and the end.
 *
 *   node --import tsx bench/quantized.ts [--shape llama-1b,qwen3-4b] [--bits 32,8,4] [--steps 3]
 *        [--checkpointing] [--batch 4] [--seq 256] [--layers N (smoke test only)]
 * --checkpointing: every row trains with --gradient-checkpointing (each layer recomputed in the backward
 * pass); the activations of the 16 layers, not the weights, are most of a 4-bit base's plain peak.
 * --batch 1 --seq 2048 --checkpointing: long examples (target for the 4-bit 1B: peak RSS <= 6 GB).
 */
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_TRAIN_OPTIONS } from "../src/engine/train/defaults.js";
import { train } from "../src/engine/train/train-run.js";
import { writeRandomModel } from "./helpers/model-folder.js";
import { LLAMA_1B, QWEN3_4B } from "./helpers/shapes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const self = fileURLToPath(import.meta.url);
const smolTokenizer = join(root, "..", "shared", "fixtures", "tokenizers", "smollm2-135m-instruct");
const R = 16;

const SHAPES: Record<string, { raw: Record<string, unknown>; bits: number[]; label: string }> = {
  "llama-1b": { raw: LLAMA_1B, bits: [32, 8, 4], label: "Llama-3.2-1B shape (16 layers, hidden 2048, 32/8 heads, MLP 8192, vocab 128,256, tied)" },
  "qwen3-4b": { raw: QWEN3_4B, bits: [4], label: "Qwen3-4B shape (36 layers, hidden 2560, 32/8 heads of 128, MLP 9728, vocab 151,936, tied)" },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

/** The training file for `T`-token rows: every example fills them. */
const dataFile = (dir: string, T: number) => join(dir, `train-${T}.jsonl`);

/** The model folder (cached in the temp dir) with a training file whose examples all fill `T` tokens. */
function ensureModel(name: string, layers: number | undefined, T: number): string {
  const raw = { ...SHAPES[name].raw, ...(layers ? { num_hidden_layers: layers } : {}) };
  const dir = join(tmpdir(), `tunekit-bench-quantized-${name}${layers ? `-${layers}l` : ""}`);
  if (!existsSync(join(dir, "model.safetensors"))) {
    console.log(`writing the random ${name} model folder (BF16) to ${dir} ...`);
    writeRandomModel(dir, raw, "BF16", smolTokenizer);
  }
  if (existsSync(dataFile(dir, T))) return dir;
  let s = 12345;
  const words = "the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches".split(" ");
  const text = (n: number) =>
    Array.from({ length: n }, () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return words[s % words.length];
    }).join(" ");
  const lines = Array.from({ length: 64 }, () => JSON.stringify({ messages: [{ role: "user", content: text(40) }, { role: "assistant", content: text(Math.ceil(T * 1.6)) }] }));
  writeFileSync(dataFile(dir, T), lines.join("\n") + "\n");
  return dir;
}

/** Child: `train()` on the folder with `bits` (32: float32 base); per-step seconds and peak RSS. */
async function child(dir: string, bits: number, steps: number, checkpointing: boolean, B: number, T: number): Promise<void> {
  const stepAt: number[] = [];
  const t0 = performance.now();
  let setup = 0;
  await train(
    {
      data: dataFile(dir, T),
      model: dir,
      outDir: join(dir, `run-${bits}-${process.pid}-${Date.now()}`),
      options: {
        ...DEFAULT_TRAIN_OPTIONS,
        maxSteps: steps + 1,
        batchSize: B,
        maxSeqLen: T,
        lora: { r: R, alpha: 2 * R, dropout: 0, rslora: false, targets: "all-linear" },
        evalEvery: 0,
        saveEvery: 0,
        ...(bits === 32 ? {} : { baseBits: bits as 4 | 8 }),
        ...(checkpointing ? { gradientCheckpointing: true } : {}),
      },
    },
    {
      onEvent: (e) => {
        if (e.type === "start") setup = (performance.now() - t0) / 1000;
        if (e.type === "step") stepAt.push(e.elapsedSeconds);
      },
    },
  );
  const stepSeconds = stepAt.slice(1).map((t, i) => t - stepAt[i]);
  console.log(JSON.stringify({ stepSeconds, setupSeconds: setup, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

function runChild(dir: string, bits: number, steps: number, checkpointing: boolean, B: number, T: number): { stepSeconds: number[]; setupSeconds: number; peakRssBytes: number } {
  const args = ["--import", "tsx", self, "--child", "--dir", dir, "--bits", String(bits), "--steps", String(steps), "--batch", String(B), "--seq", String(T), ...(checkpointing ? ["--checkpointing"] : [])];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 });
  const line = r.stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (r.status !== 0 || !line) throw new Error(`the ${bits}-bit training process failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  return JSON.parse(line);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shape: { type: "string" },
      bits: { type: "string" },
      steps: { type: "string" },
      layers: { type: "string" },
      checkpointing: { type: "boolean" },
      batch: { type: "string" },
      seq: { type: "string" },
      child: { type: "boolean" },
      dir: { type: "string" },
    },
  });
  const steps = Number(values.steps ?? 3);
  const gc = values.checkpointing ?? false;
  const B = Number(values.batch ?? 4);
  const T = Number(values.seq ?? 256);
  if (values.child) return child(values.dir!, Number(values.bits), steps, gc, B, T);
  if (!existsSync(join(smolTokenizer, "tokenizer.json"))) {
    console.log(`SKIPPED: the SmolLM2 tokenizer fixture (${smolTokenizer}) is needed for the models' tokenizer`);
    return;
  }
  const layers = values.layers ? Number(values.layers) : undefined;
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(1)).join(" ")} (timings are only meaningful on an idle machine)`);
  if (layers) console.log(`SMOKE TEST: ${layers} layers instead of the real depth; not a measurement`);
  for (const name of (values.shape ?? "llama-1b,qwen3-4b").split(",")) {
    const shape = SHAPES[name];
    if (!shape) throw new Error(`unknown --shape ${name} (${Object.keys(SHAPES).join(", ")})`);
    const bitsList = values.bits ? values.bits.split(",").map(Number).filter((b) => shape.bits.includes(b)) : shape.bits;
    const dir = ensureModel(name, layers, T);
    console.log(`\n${shape.label}${layers ? `, cut to ${layers} layers` : ""}: train() with LoRA r=${R} alpha ${2 * R} on every linear layer, ${B} x ${T} tokens, ${steps} timed steps after the first, 2 threads (ORT's default here)${gc ? ", --gradient-checkpointing" : ""}`);
    const rows = new Map<number, { med: number; rss: number; setup: number }>();
    for (const bits of bitsList) {
      const r = runChild(dir, bits, steps, gc, B, T);
      rows.set(bits, { med: median(r.stepSeconds), rss: r.peakRssBytes, setup: r.setupSeconds });
      const base = bits === 32 ? "float32 base" : `${bits}-bit base  `;
      const ref = rows.get(32);
      const vs = ref && bits !== 32 ? `  step ${(ref.med / median(r.stepSeconds)).toFixed(2)}x faster than float32, peak RSS ${(r.peakRssBytes / ref.rss).toFixed(2)} of float32's` : "";
      console.log(`  ${base}: ${median(r.stepSeconds).toFixed(2)} s/step (${((B * T) / median(r.stepSeconds)).toFixed(0)} tok/s; steps ${r.stepSeconds.map((x) => x.toFixed(2)).join(" ")}), setup ${r.setupSeconds.toFixed(0)} s, peak RSS ${gb(r.peakRssBytes)}${vs}`);
    }
    const q4 = rows.get(4);
    const f32 = rows.get(32);
    const standard = B === 4 && T === 256;
    if (name === "llama-1b" && q4 && B === 1 && T >= 2048 && gc) console.log(`  target 4-bit, batch 1 x ${T}, --gradient-checkpointing, peak RSS <= 6 GB: ${q4.rss <= 6e9 ? "met" : "NOT met"}`);
    if (name === "llama-1b" && q4 && standard) {
      console.log(`  target 4-bit peak RSS <= 4 GB: ${q4.rss <= 4e9 ? "met" : "NOT met"}${f32 ? `; 4-bit step >= 1.5x float32: ${f32.med / q4.med >= 1.5 ? "met" : "NOT met"}` : ""}`);
    }
    if (name === "qwen3-4b" && q4 && standard) console.log(`  target 4-bit peak RSS <= 12 GB: ${q4.rss <= 12e9 ? "met" : "NOT met"}`);
  }
  console.log(`\nload average at end: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
}

await main();
