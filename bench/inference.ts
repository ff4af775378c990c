/**
 * Inference benchmark: prefill and KV-cache decode of a SmolLM2-135M-shaped model with random weights
 * (30 layers, hidden 576, 9/3 heads, MLP 1536, vocab 49152, tied), 2 threads, tunekit (ONNX Runtime)
 * vs PyTorch CPU (tunekit's reference implementation with a KV cache, Debian python3-torch,
 * GOMP_SPINCOUNT=0, the faster of OPENBLAS_CORETYPE=SkylakeX and the machine default). Same weights
 * file, same prompt. Each side runs in its own process so peak RSS is its own.
 *
 * Then decode on the Llama-3.2-1B shape (random BF16 weights, the SmolLM2 tokenizer), through
 * `tunekit generate --raw --json` as users run it, each run a fresh process, sides alternating: tunekit
 * with the float32 base, with `--base-bits 8` and `--base-bits 4`, and llama.cpp (node-llama-cpp's CPU
 * build) on the same weights exported by `tunekit export --model DIR --gguf --dtype q8_0` (tunekit's GGUF
 * export writes f32, f16, bf16 and q8_0; q8_0 is the nearest to the quantized bases). Target: 4-bit
 * decode >= 3x tunekit's float32 decode.
 *
 *   node --import tsx bench/inference.ts [--prompt 128] [--decode 64] [--runs 3]
 *        [--skip-small] [--skip-quantized] [--quantized-rounds 2] [--layers N (1B smoke test only)]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeSafetensors } from "../src/engine/io/safetensors.js";
import { parseModelConfig } from "../src/engine/io/config.js";
import { expectedTensorShapes, loadModel } from "../src/engine/io/model.js";
import { createInferenceModel } from "../src/engine/models/causal-lm.js";
import { SeededRng, argmax } from "../src/engine/generate/sampling.js";
import { LLAMA_1B, SMOLLM2_135M } from "./helpers/shapes.js";
import { writeRandomModel } from "./helpers/model-folder.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const THREADS = 2;
/** Prefills each side runs before the warm-up run (allocators settle over the first few; measured here: 5 runs to steady state). */
const WARMUP_PREFILLS = 4;
/** Measured runs per process (single runs vary by up to 1.5x here, e.g. when a GC lands in a prefill). */
const PER_PROCESS = 3;

const CONFIG = SMOLLM2_135M;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface SideResult {
  prefill: number[];
  decode: number[];
  rssMb: number;
  tokens: number[];
}

/** Random model folder (cached across runs in the temp dir). */
async function ensureModel(dir: string, promptLen: number): Promise<void> {
  if (existsSync(join(dir, "model.safetensors")) && existsSync(join(dir, "prompt.json"))) return;
  mkdirSync(dir, { recursive: true });
  const config = parseModelConfig(CONFIG);
  const rng = new SeededRng(1234);
  // Uniform with std 0.02 (normal-like scale of real init); norms near 1.
  const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith("norm.weight")) for (let i = 0; i < n; i++) data[i] = 1 + 0.1 * (rng.next() - 0.5);
    else for (let i = 0; i < n; i++) data[i] = 0.02 * Math.sqrt(12) * (rng.next() - 0.5) * (name.includes("embed") ? 20 : 1);
    return { name, shape, data };
  });
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  writeFileSync(join(dir, "config.json"), JSON.stringify(CONFIG, null, 2));
  const prompt = [1, ...Array.from({ length: 4095 }, () => 3 + Math.floor(rng.next() * (CONFIG.vocab_size - 3)))];
  writeFileSync(join(dir, "prompt.json"), JSON.stringify(prompt.slice(0, Math.max(promptLen, 512))));
}

/** Child mode: tunekit's side, in its own process. */
async function runOurs(dir: string, promptLen: number, decodeTokens: number, runs: number): Promise<void> {
  const { readFileSync } = await import("node:fs");
  const prompt: number[] = JSON.parse(readFileSync(join(dir, "prompt.json"), "utf8")).slice(0, promptLen);
  const m = await loadModel(dir);
  const model = await createInferenceModel(m.config, m.weights, { threads: THREADS, ...(process.env.TUNEKIT_BENCH_WEIGHTS_AS_INPUTS ? { weightsAsInputs: true } : {}) });
  m.weights.clear(); // the session holds its own copy
  const res: SideResult = { prefill: [], decode: [], rssMb: 0, tokens: [] };
  // Warm-up, as on the PyTorch side: a few prefills (ORT's arena grows over the first runs) and a full run.
  for (let i = 0; i < WARMUP_PREFILLS; i++) await model.prefill([prompt]);
  {
    let { logits, cache } = await model.prefill([prompt]);
    for (let i = 0; i < decodeTokens - 1; i++) ({ logits, cache } = await model.decode(cache, [argmax(logits)]));
  }
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    let { logits, cache } = await model.prefill([prompt]);
    const t1 = performance.now();
    const toks = [argmax(logits)];
    const t2 = performance.now();
    for (let i = 0; i < decodeTokens - 1; i++) {
      ({ logits, cache } = await model.decode(cache, [toks[toks.length - 1]]));
      toks.push(argmax(logits));
    }
    const t3 = performance.now();
    res.prefill.push((prompt.length / (t1 - t0)) * 1000);
    res.decode.push(((decodeTokens - 1) / (t3 - t2)) * 1000);
    res.tokens = toks;
  }
  await model.dispose();
  res.rssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify(res) + "\n");
}

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): SideResult {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  const line = r.stdout.trim().split("\n").at(-1)!;
  return JSON.parse(line);
}

function runTorch(dir: string, promptLen: number, decodeTokens: number, runs: number, coretype: string | undefined): SideResult {
  const env: NodeJS.ProcessEnv = { ...process.env, GOMP_SPINCOUNT: "0", OMP_NUM_THREADS: String(THREADS) };
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  else delete env.OPENBLAS_CORETYPE;
  const j = runChild("/usr/bin/python3", [join(root, "scripts/reference/inference_baseline.py"), dir, String(promptLen), String(decodeTokens), String(runs + 1), String(THREADS), String(WARMUP_PREFILLS)], env) as unknown as {
    prefill_tokens_per_s: number[];
    decode_tokens_per_s: number[];
    peak_rss_mb: number;
    first_tokens: number[];
  };
  // Drop the first (warm-up) run, as on our side.
  return { prefill: j.prefill_tokens_per_s.slice(1), decode: j.decode_tokens_per_s.slice(1), rssMb: j.peak_rss_mb, tokens: j.first_tokens };
}

/**
 * A fair baseline needs torch on an optimised BLAS: Debian's torch calls libblas.so.3, which may be
 * netlib's reference BLAS (about 1 GFLOP/s) unless OpenBLAS is installed as the alternative.
 */
function ensureBaseline(): void {
  const probe = () => spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" }).status === 0;
  const apt = (pkg: string) => {
    console.log(`installing ${pkg} for the PyTorch baseline ...`);
    spawnSync("apt-get", ["install", "-y", pkg], { stdio: "ignore" });
  };
  if (!existsSync("/usr/bin/python3") || !probe()) apt("python3-torch");
  if (!probe()) {
    console.log("PyTorch baseline unavailable: /usr/bin/python3 with torch (Debian python3-torch) is needed");
    process.exit(1);
  }
  const blas = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu";
  let target = "";
  try {
    target = realpathSync(blas);
  } catch {
    target = "";
  }
  if (!target.includes("openblas")) apt("libopenblas0-pthread");
  try {
    target = realpathSync(blas);
  } catch {
    target = "(unknown)";
  }
  console.log(`torch BLAS: ${target}`);
}

/** `tunekit generate` (or another CLI command) in a fresh process: stdout and peak RSS. */
function cli(args: string[]): { stdout: string; rssMb: number } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--import", join(root, "bench", "helpers", "report-rss.mjs"), join(root, "src", "cli", "main.ts"), ...args], { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`tunekit ${args.join(" ")} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  const m = /TUNEKIT_MAX_RSS_KB=(\d+)/.exec(r.stderr);
  return { stdout: r.stdout, rssMb: m ? Number(m[1]) / 1024 : NaN };
}

/** Decode on the 1B shape: float32, 8-bit and 4-bit bases, and llama.cpp on a q8_0 GGUF of the same weights. */
function benchQuantizedDecode(rounds: number, decode: number, promptWords: number, layers: number | undefined): void {
  const tokenizer = join(root, "..", "shared", "fixtures", "tokenizers", "smollm2-135m-instruct");
  if (!existsSync(join(tokenizer, "tokenizer.json"))) {
    console.log(`\n1B decode SKIPPED: the SmolLM2 tokenizer fixture (${tokenizer}) is needed`);
    return;
  }
  // The same folder bench/quantized.ts trains on.
  const dir = join(tmpdir(), `tunekit-bench-quantized-llama-1b${layers ? `-${layers}l` : ""}`);
  if (!existsSync(join(dir, "model.safetensors"))) writeRandomModel(dir, { ...LLAMA_1B, ...(layers ? { num_hidden_layers: layers } : {}) }, "BF16", tokenizer);
  const gguf = join(dir, "model-q8_0.gguf");
  if (!existsSync(gguf)) cli(["export", "--model", dir, "--gguf", gguf, "--dtype", "q8_0"]);
  const prompt = Array.from({ length: promptWords }, (_, i) => ["the", "model", "runs", "on", "a", "small", "machine"][i % 7]).join(" ");
  const sides: [string, string[]][] = [
    ["tunekit float32", ["--model", dir]],
    ["tunekit --base-bits 8", ["--model", dir, "--base-bits", "8"]],
    ["tunekit --base-bits 4", ["--model", dir, "--base-bits", "4"]],
    ["llama.cpp q8_0 GGUF", ["--model", gguf]],
  ];
  const rates = new Map<string, number[]>(sides.map(([n]) => [n, []]));
  const rss = new Map<string, number>();
  for (let r = 0; r < rounds; r++) {
    for (const [name, args] of r % 2 === 0 ? sides : [...sides].reverse()) {
      const res = cli(["generate", ...args, "--raw", "--prompt", prompt, "--max-tokens", String(decode), "--threads", String(THREADS), "--json"]);
      const j = JSON.parse(res.stdout) as { timings: { decodeTokensPerSecond: number } };
      rates.get(name)!.push(j.timings.decodeTokensPerSecond);
      rss.set(name, Math.max(rss.get(name) ?? 0, res.rssMb));
    }
  }
  console.log(`\ndecode: Llama-3.2-1B shape${layers ? ` cut to ${layers} layers (smoke test)` : ""}, random weights, \`tunekit generate --raw --json\`, ${promptWords}-word prompt, up to ${decode} tokens, ${THREADS} threads; medians of ${rounds} round(s)`);
  const f32 = median(rates.get(sides[0][0])!);
  for (const [name] of sides) {
    const d = median(rates.get(name)!);
    console.log(`  ${name.padEnd(22)} decode ${d.toFixed(1).padStart(7)} tok/s  peak RSS ${rss.get(name)!.toFixed(0).padStart(5)} MB  (${(d / f32).toFixed(2)}x tunekit float32)`);
  }
  const q4 = median(rates.get("tunekit --base-bits 4")!);
  console.log(`  target 4-bit decode >= 3x tunekit float32: ${q4 >= 3 * f32 ? "met" : "NOT met"}; 4-bit vs llama.cpp q8_0: ${(q4 / median(rates.get("llama.cpp q8_0 GGUF")!)).toFixed(2)}x`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      prompt: { type: "string" },
      decode: { type: "string" },
      runs: { type: "string" },
      child: { type: "string" },
      dir: { type: "string" },
      "skip-small": { type: "boolean" },
      "skip-quantized": { type: "boolean" },
      "quantized-rounds": { type: "string" },
      layers: { type: "string" },
    },
  });
  const promptLen = Number(values.prompt ?? 128);
  const decodeTokens = Number(values.decode ?? 64);
  const runs = Number(values.runs ?? 3);
  const dir = values.dir ?? join(tmpdir(), "tunekit-bench-inference");
  if (values.child === "ours") return runOurs(dir, promptLen, decodeTokens, runs);
  if (!values["skip-small"]) await benchSmall(dir, promptLen, decodeTokens, runs);
  if (!values["skip-quantized"]) benchQuantizedDecode(Number(values["quantized-rounds"] ?? 2), decodeTokens, 64, values.layers ? Number(values.layers) : undefined);
}

async function benchSmall(dir: string, promptLen: number, decodeTokens: number, runs: number): Promise<void> {

  ensureBaseline();
  await ensureModel(dir, promptLen);
  console.log(`SmolLM2-135M-shaped random model (30 layers, hidden 576, 9/3 heads, MLP 1536, vocab 49152, tied), ${THREADS} threads`);
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(1)).join(" ")} (timings are only meaningful on an idle machine)`);
  console.log(`prompt ${promptLen} tokens, then ${decodeTokens} greedy tokens with a KV cache; medians of ${runs} processes x ${PER_PROCESS} runs per side, each process after ${WARMUP_PREFILLS} prefills and one full run as warm-up`);

  // Sides alternate run by run, each in a fresh process, so a busy machine slows all of them alike.
  const machineDefault = process.env.OPENBLAS_CORETYPE;
  const coretypes = [...new Set(["SkylakeX", machineDefault])];
  const label = (ct: string | undefined) => `OPENBLAS_CORETYPE=${ct ?? "(unset)"}`;
  const ours: SideResult = { prefill: [], decode: [], rssMb: 0, tokens: [] };
  const torch = new Map<string | undefined, SideResult>(coretypes.map((ct) => [ct, { prefill: [], decode: [], rssMb: 0, tokens: [] }]));
  const add = (into: SideResult, r: SideResult) => {
    into.prefill.push(...r.prefill);
    into.decode.push(...r.decode);
    into.rssMb = Math.max(into.rssMb, r.rssMb);
    into.tokens = r.tokens;
  };
  for (let r = 0; r < runs; r++) {
    add(ours, runChild(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", "ours", "--dir", dir, "--prompt", String(promptLen), "--decode", String(decodeTokens), "--runs", String(PER_PROCESS)], { ...process.env }));
    for (const ct of coretypes) add(torch.get(ct)!, runTorch(dir, promptLen, decodeTokens, PER_PROCESS, ct));
  }
  for (const ct of coretypes) {
    const t = torch.get(ct)!;
    console.log(`  pytorch with ${label(ct)}: prefill ${median(t.prefill).toFixed(0)} tok/s, decode ${median(t.decode).toFixed(1)} tok/s`);
  }
  // The faster setting: higher product of prefill and decode rates.
  const score = (r: SideResult) => median(r.prefill) * median(r.decode);
  const bestCt = coretypes.reduce((a, b) => (score(torch.get(b)!) > score(torch.get(a)!) ? b : a));
  const theirs = torch.get(bestCt)!;
  console.log(`PyTorch baseline: torch (Debian python3-torch), GOMP_SPINCOUNT=0, ${label(bestCt)} (the faster)`);
  const row = (name: string, o: number, t: number, unit: string, digits = 1) =>
    console.log(`${name.padEnd(18)} ours ${o.toFixed(digits).padStart(8)} ${unit}   pytorch ${t.toFixed(digits).padStart(8)} ${unit}   ratio ${(o / t).toFixed(2)}x`);
  const samples = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(" ");
  console.log(`prefill samples (tok/s): ours ${samples(ours.prefill)} | pytorch ${samples(theirs.prefill)}`);
  row("prefill", median(ours.prefill), median(theirs.prefill), "tok/s", 0);
  row("decode", median(ours.decode), median(theirs.decode), "tok/s");
  row("peak RSS", ours.rssMb, theirs.rssMb, "MB", 0);
  const same = ours.tokens.findIndex((t, i) => t !== theirs.tokens[i]);
  console.log(`greedy tokens agree: ${same < 0 ? `all ${ours.tokens.length}` : `first ${same} of ${ours.tokens.length} (random weights give near-tied logits)`}`);
  const okPrefill = median(ours.prefill) >= 1.5 * median(theirs.prefill);
  const okDecode = median(ours.decode) >= 1.5 * median(theirs.decode);
  console.log(`load average at end: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  console.log(`target >= 1.5x PyTorch: prefill ${okPrefill ? "met" : "NOT met"}, decode ${okDecode ? "met" : "NOT met"}`);
}

await main();
