/**
 * Token-counting throughput: tunekit's OpenAI counter (ASCII scanner + chunk cache) against
 * gpt-tokenizer's own countTokens, on the same texts in the same run, plus Hugging Face tokenizers
 * (SmolLM2, stories260K) when the shared fixtures are present.
 *
 * Corpus: every string of the real datasets in ../shared/fixtures (when present) plus generated prose
 * made of their words (or a built-in word list), about 24 MB in all. Each measurement uses a fresh
 * tokenizer object, so cache warm-up is included. Medians of 5 runs, by wall-clock and by CPU time
 * (the machine is shared; CPU time is the steadier figure).
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import o200kApi from "gpt-tokenizer/encoding/o200k_base";
import cl100kApi from "gpt-tokenizer/encoding/cl100k_base";
import { OpenAiTokenizer } from "../src/tokenize/openai.js";
import { Tokenizer as PkgTokenizer } from "@huggingface/tokenizers";
import { loadTokenizerFromDir } from "../src/tokenize/hf.js";

const fixtures = new URL("../../shared/fixtures/", import.meta.url).pathname;

function realTexts(): string[] {
  const dir = join(fixtures, "datasets");
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  const visit = (d: string): void => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name);
      if (f.isDirectory()) visit(p);
      else if (f.name.endsWith(".jsonl"))
        for (const line of readFileSync(p, "utf8").split("\n")) {
          try {
            walk(JSON.parse(line));
          } catch {
            /* skip */
          }
        }
      else if (f.name.endsWith(".json")) {
        try {
          walk(JSON.parse(readFileSync(p, "utf8")));
        } catch {
          /* skip */
        }
      }
    }
  };
  visit(dir);
  return out;
}

function buildCorpus(targetBytes: number): string[] {
  const real = realTexts();
  let words = real.join(" ").split(/\s+/).filter((w) => w.length > 0 && w.length < 20);
  if (words.length < 1000)
    words = "the a of to and in is it that for you was with on as have be at one this they from or had by word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find".split(" ");
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const texts = [...real];
  let bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);
  while (bytes < targetBytes) {
    const n = 20 + Math.floor(rand() * 200);
    let s = "";
    for (let i = 0; i < n; i++) {
      s += (i === 0 ? "" : rand() < 0.08 ? ". " : rand() < 0.05 ? ", " : rand() < 0.02 ? "\n\n" : " ") + words[Math.floor(rand() * words.length)];
    }
    texts.push(s);
    bytes += Buffer.byteLength(s);
  }
  return texts;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Wall-clock MB/s and CPU-time MB/s (the latter is steadier on a shared machine). */
function mbps(texts: string[], bytes: number, count: (s: string) => number): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  for (const s of texts) n += count(s);
  if (n < 0) throw new Error("unreachable");
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall: bytes / wall / 1e6, cpu: bytes / ((c.user + c.system) / 1e6) / 1e6 };
}

const texts = buildCorpus(24e6);
const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);
console.log(`corpus: ${texts.length} texts, ${(bytes / 1e6).toFixed(1)} MB`);

for (const [name, api] of [
  ["o200k_base", o200kApi],
  ["cl100k_base", cl100kApi],
] as const) {
  const ours: { wall: number; cpu: number }[] = [];
  const theirs: { wall: number; cpu: number }[] = [];
  for (let run = 0; run < 5; run++) {
    const tok = new OpenAiTokenizer(name);
    ours.push(mbps(texts, bytes, (s) => tok.count(s)));
    api.clearMergeCache();
    theirs.push(mbps(texts, bytes, (s) => api.countTokens(s, { disallowedSpecial: new Set() })));
  }
  for (const kind of ["wall", "cpu"] as const) {
    const o = median(ours.map((x) => x[kind]));
    const t = median(theirs.map((x) => x[kind]));
    console.log(`${name} (${kind} time): tunekit count ${o.toFixed(1)} MB/s | gpt-tokenizer countTokens ${t.toFixed(1)} MB/s | ratio ${(o / t).toFixed(2)}x`);
  }
}

for (const dir of ["tokenizers/smollm2-135m-instruct", "models/stories260K"]) {
  const p = join(fixtures, dir);
  if (!existsSync(p)) {
    console.log(`SKIPPED ${dir}: shared fixture missing`);
    continue;
  }
  const small = texts.slice(0, Math.ceil(texts.length / 8));
  const smallBytes = small.reduce((a, t) => a + Buffer.byteLength(t), 0);
  const runs: { wall: number; cpu: number }[] = [];
  for (let run = 0; run < 3; run++) {
    const tok = await loadTokenizerFromDir(p);
    runs.push(mbps(small, smallBytes, (s) => tok.count(s)));
  }
  // Peer: the pure-JS @huggingface/tokenizers package on a slice (it is much slower).
  const tiny = small.slice(0, Math.ceil(small.length / 10));
  const tinyBytes = tiny.reduce((a, t) => a + Buffer.byteLength(t), 0);
  const pkg = new PkgTokenizer(JSON.parse(readFileSync(join(p, "tokenizer.json"), "utf8")), {});
  const peer = mbps(tiny, tinyBytes, (s) => pkg.encode(s, { add_special_tokens: false }).ids.length);
  const o = median(runs.map((x) => x.cpu));
  console.log(
    `${dir} (cpu time): tunekit HF count ${o.toFixed(1)} MB/s on ${(smallBytes / 1e6).toFixed(1)} MB | @huggingface/tokenizers ${peer.cpu.toFixed(2)} MB/s on ${(tinyBytes / 1e6).toFixed(2)} MB | ratio ${(o / peer.cpu).toFixed(1)}x`,
  );
}
