/**
 * GGUF export and llama.cpp decoding, on the commands users run:
 * - export: `tunekit export --model DIR --gguf OUT` (f16, the default, and q8_0) of a Llama-3.2-1B-shaped
 *   model with random weights stored BF16 as the released checkpoint is (16 layers, hidden 2048, 32/8
 *   heads, MLP 8192, vocab 128,256, tied; the SmolLM2 tokenizer padded to that vocabulary), in a fresh
 *   process: wall time and peak RSS, next to the time `cp` takes to copy the safetensors file (the
 *   disk's floor for writing a file that size);
 * - decode: `tunekit generate --json` on a SmolLM2-135M-shaped model (random weights, f32): tunekit's
 *   own engine on the model folder, and llama.cpp (node-llama-cpp's prebuilt CPU build) on the f32 and
 *   q8_0 GGUF exports of the same weights; decode tokens/s from generate's own timings, 2 threads each,
 *   one run per side per round, sides alternating in fresh processes.
 * Run it on an idle machine; the load average is printed at the start and the end.
 *
 *   node --import tsx bench/gguf.ts [--rounds 1] [--decode 64] [--prompt 64]
 *        [--layers N (smoke test only)] [--skip-export] [--skip-decode]
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LLAMA_1B, SMOLLM2_135M } from "./helpers/shapes.js";
import { writeRandomModel } from "./helpers/model-folder.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "bin", "tunekit.js");
const rssReporter = join(root, "bench", "helpers", "report-rss.mjs");
const THREADS = "2";
const smolTokenizer = join(root, "..", "shared", "fixtures", "tokenizers", "smollm2-135m-instruct");


const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (bytes: number) => bytes / (1024 * 1024);

/** Runs the CLI in a fresh process; returns its stdout, wall time and peak RSS (reported by the child at exit). */
function runCli(args: string[]): { stdout: string; seconds: number; rssMb: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", rssReporter, cli, ...args], { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`tunekit ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  const m = /TUNEKIT_MAX_RSS_KB=(\d+)/.exec(r.stderr);
  return { stdout: r.stdout, seconds, rssMb: m ? Number(m[1]) / 1024 : NaN };
}

function benchExport(base: string, layers: number | undefined): void {
  const raw = { ...LLAMA_1B, ...(layers ? { num_hidden_layers: layers } : {}) };
  const dir = join(base, `llama-1b${layers ? `-${layers}l` : ""}`);
  if (!existsSync(join(dir, "model.safetensors"))) {
    console.log(`writing the random ${layers ? `${layers}-layer ` : ""}1B-shaped model (BF16) ...`);
    writeRandomModel(dir, raw, "BF16", smolTokenizer);
  }
  const weights = join(dir, "model.safetensors");
  const bytes = statSync(weights).size;
  const copy = join(base, "copy.safetensors");
  rmSync(copy, { force: true });
  const t0 = performance.now();
  copyFileSync(weights, copy);
  const copySeconds = (performance.now() - t0) / 1000;
  rmSync(copy, { force: true });
  console.log(`\nexport: Llama-3.2-1B shape${layers ? ` cut to ${layers} layers (smoke test)` : ""}, BF16 safetensors ${mb(bytes).toFixed(0)} MB; cp of that file: ${copySeconds.toFixed(1)} s`);
  for (const dtype of ["f16", "q8_0"]) {
    const out = join(base, `llama-1b-${dtype}.gguf`);
    rmSync(out, { force: true });
    const r = runCli(["export", "--model", dir, "--gguf", out, "--dtype", dtype]);
    const size = statSync(out).size;
    console.log(`  tunekit export --gguf --dtype ${dtype.padEnd(4)} ${r.seconds.toFixed(1).padStart(6)} s  peak RSS ${r.rssMb.toFixed(0).padStart(5)} MB  file ${mb(size).toFixed(0)} MB  (${(mb(size) / r.seconds).toFixed(0)} MB/s written)`);
    rmSync(out, { force: true });
  }
}

function benchDecode(base: string, rounds: number, decode: number, promptLen: number, layers: number | undefined): void {
  const raw = { ...SMOLLM2_135M, ...(layers ? { num_hidden_layers: layers } : {}) };
  const dir = join(base, `smollm2-135m${layers ? `-${layers}l` : ""}`);
  if (!existsSync(join(dir, "model.safetensors"))) writeRandomModel(dir, raw, "F32", smolTokenizer);
  const files: Record<string, string> = {};
  for (const dtype of ["f32", "q8_0"]) {
    files[dtype] = join(base, `smollm2-135m-${dtype}.gguf`);
    rmSync(files[dtype], { force: true });
    runCli(["export", "--model", dir, "--gguf", files[dtype], "--dtype", dtype]);
  }
  // A fixed raw prompt of promptLen tokens (words the tokenizer keeps as single tokens mostly).
  const prompt = Array.from({ length: promptLen }, (_, i) => ["the", "model", "runs", "on", "a", "small", "machine"][i % 7]).join(" ");
  const sides: [string, string][] = [
    ["tunekit (ONNX Runtime, f32)", dir],
    ["llama.cpp f32 GGUF", files.f32],
    ["llama.cpp q8_0 GGUF", files.q8_0],
  ];
  const rates = new Map<string, number[]>(sides.map(([name]) => [name, []]));
  const prefill = new Map<string, number[]>(sides.map(([name]) => [name, []]));
  const rss = new Map<string, number>();
  const made = new Map<string, number>();
  for (let r = 0; r < rounds; r++) {
    for (const [name, model] of r % 2 === 0 ? sides : [...sides].reverse()) {
      const res = runCli(["generate", "--model", model, "--raw", "--prompt", prompt, "--max-tokens", String(decode), "--threads", THREADS, "--json"]);
      const j = JSON.parse(res.stdout) as { completionTokens: number; timings: { decodeTokensPerSecond: number; prefillTokensPerSecond: number } };
      rates.get(name)!.push(j.timings.decodeTokensPerSecond);
      prefill.get(name)!.push(j.timings.prefillTokensPerSecond);
      rss.set(name, Math.max(rss.get(name) ?? 0, res.rssMb));
      made.set(name, j.completionTokens);
    }
  }
  const ours = median(rates.get(sides[0][0])!);
  console.log(`\ndecode: SmolLM2-135M shape${layers ? ` cut to ${layers} layers (smoke test)` : ""}, random weights, \`tunekit generate --raw --json\`, ${promptLen}-word prompt, up to ${decode} tokens, ${THREADS} threads; medians of ${rounds} round(s)`);
  for (const [name] of sides) {
    const d = median(rates.get(name)!);
    console.log(`  ${name.padEnd(28)} decode ${d.toFixed(1).padStart(7)} tok/s  prefill ${median(prefill.get(name)!).toFixed(0).padStart(6)} tok/s  peak RSS ${rss.get(name)!.toFixed(0).padStart(5)} MB  ${made.get(name)} tokens  ${name === sides[0][0] ? "" : `(${(d / ours).toFixed(2)}x tunekit)`}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: "string" }, decode: { type: "string" }, prompt: { type: "string" }, layers: { type: "string" }, "skip-export": { type: "boolean" }, "skip-decode": { type: "boolean" } },
  });
  if (!existsSync(join(smolTokenizer, "tokenizer.json"))) {
    console.log(`SKIPPED: the SmolLM2 tokenizer fixture (${smolTokenizer}) is needed for the models' tokenizer`);
    return;
  }
  // The CLI as users run it: bin/tunekit.js over a fresh build.
  if (spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" }).status !== 0) throw new Error("npm run build failed");
  const layers = values.layers ? Number(values.layers) : undefined;
  const base = join(tmpdir(), "tunekit-bench-gguf");
  mkdirSync(base, { recursive: true });
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(1)).join(" ")} (timings are only meaningful on an idle machine)`);
  if (!values["skip-export"]) benchExport(base, layers);
  if (!values["skip-decode"]) benchDecode(base, Number(values.rounds ?? 1), Number(values.decode ?? 64), Number(values.prompt ?? 64), layers);
  console.log(`load average at end: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
}

await main();
