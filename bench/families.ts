/**
 * The new families at the real shapes of Qwen3-0.6B and Gemma-3-270M (random weights, stored BF16 as
 * the released checkpoints are; the real vocabularies of 151,936 and 262,144 tokens), on the code paths
 * the CLI takes, side by side with tunekit's PyTorch reference (scripts/reference/decoder_reference.py,
 * written from transformers' source) at the same shape:
 * - training step: `tunekit train`'s own loop (train() with the CLI's backend: tokenizer and template
 *   from the model folder, LoRA r=16 alpha 32 on every linear layer, batch 4 x 256 tokens, AdamW), its
 *   per-step times from the step events; peer: a PyTorch LoRA step with autograd
 *   (scripts/reference/bench_train_family_torch.py), full-vocabulary cross-entropy, AdamW;
 * - decoding: `tunekit generate`'s path (TextGenerator: prefill, then greedy decode with the KV cache);
 *   peer: the reference forward with a KV cache (scripts/reference/inference_baseline.py).
 * Each side runs in its own fresh process (peak RSS is its own), the sides alternate round by round, and
 * every figure is a median. PyTorch runs with GOMP_SPINCOUNT=0 and the faster of OPENBLAS_CORETYPE=SkylakeX
 * and the machine's setting, 2 threads on both sides.
 *
 *   node --import tsx bench/families.ts [--family qwen3-0.6b,gemma3-270m] [--rounds 2] [--steps 3]
 *        [--decode 32] [--prompt 128] [--layers N (smoke test only)] [--skip-train] [--skip-decode]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseModelConfig } from "../src/engine/io/config.js";
import { writeSafetensors } from "../src/engine/io/safetensors.js";
import { expectedTensorShapes } from "../src/engine/models/tensors.js";
import { TextGenerator } from "../src/engine/generate/generator.js";
import { DEFAULT_TRAIN_OPTIONS } from "../src/engine/train/defaults.js";
import { train } from "../src/engine/train/train-run.js";
import { SeededRng } from "../src/engine/generate/sampling.js";
import { runJsonChild, torchEnv } from "./helpers/processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const self = fileURLToPath(import.meta.url);
const THREADS = 2;
const B = 4;
const T = 256;
const R = 16;

/** config.json shaped like the released models (transformers' field names and values). */
const SHAPES: Record<string, Record<string, unknown>> = {
  "qwen3-0.6b": {
    architectures: ["Qwen3ForCausalLM"],
    model_type: "qwen3",
    vocab_size: 151936,
    hidden_size: 1024,
    intermediate_size: 3072,
    num_hidden_layers: 28,
    num_attention_heads: 16,
    num_key_value_heads: 8,
    head_dim: 128,
    max_position_embeddings: 40960,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    tie_word_embeddings: true,
    use_sliding_window: false,
    hidden_act: "silu",
    torch_dtype: "bfloat16",
  },
  "gemma3-270m": {
    architectures: ["Gemma3ForCausalLM"],
    model_type: "gemma3_text",
    vocab_size: 262144,
    hidden_size: 640,
    intermediate_size: 2048,
    num_hidden_layers: 18,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    head_dim: 256,
    max_position_embeddings: 32768,
    query_pre_attn_scalar: 256,
    sliding_window: 512,
    layer_types: Array.from({ length: 18 }, (_, i) => ((i + 1) % 6 === 0 ? "full_attention" : "sliding_attention")),
    rope_theta: 1000000,
    rope_local_base_freq: 10000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
    hidden_activation: "gelu_pytorch_tanh",
    torch_dtype: "bfloat16",
  },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

/**
 * A byte-level tokenizer (one token per byte, ChatML specials) filled up to the model's vocabulary with
 * tokens text never produces, so every id the random model emits decodes; no chat template (training
 * uses tunekit's plain template).
 */
function tokenizerFiles(vocabSize: number): { json: unknown; config: unknown } {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const vocab: Record<string, number> = {};
  let k = 0;
  for (let b = 0; b < 256; b++) vocab[printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + k++)] = b;
  const added = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map((content, i) => ({ id: 256 + i, content, special: true }));
  for (let id = 256 + added.length; id < vocabSize; id++) vocab[`tok${id}`] = id;
  return {
    json: { added_tokens: added, pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true }, decoder: { type: "ByteLevel" }, model: { type: "BPE", vocab, merges: [] } },
    config: { eos_token: "<|endoftext|>", bos_token: null },
  };
}

/** The model folder (cached in the temp dir): config, random BF16 weights, tokenizer, a dataset and a prompt. */
async function ensureModel(name: string, layers: number | undefined): Promise<string> {
  const raw = { ...SHAPES[name], ...(layers ? { num_hidden_layers: layers, layer_types: (SHAPES[name].layer_types as string[] | undefined)?.slice(0, layers) } : {}) };
  if (raw.layer_types === undefined) delete raw.layer_types;
  const dir = join(tmpdir(), `tunekit-bench-${name}${layers ? `-${layers}l` : ""}`);
  if (existsSync(join(dir, "model.safetensors")) && existsSync(join(dir, "train.jsonl"))) return dir;
  mkdirSync(dir, { recursive: true });
  const config = parseModelConfig(raw);
  const rng = new SeededRng(1234);
  const zeroCentred = config.norm === "rms_one_plus";
  const tensors = [...expectedTensorShapes(config)].map(([tensor, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (tensor.endsWith("norm.weight")) for (let i = 0; i < n; i++) data[i] = (zeroCentred ? 0 : 1) + 0.1 * (rng.next() - 0.5);
    else for (let i = 0; i < n; i++) data[i] = 0.02 * Math.sqrt(12) * (rng.next() - 0.5) * (tensor.includes("embed") ? 20 : 1);
    return { name: tensor, shape, data, dtype: "BF16" as const };
  });
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  const tok = tokenizerFiles(config.vocabSize);
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok.json));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tok.config));
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2));
  // Every example fills --max-seq-len 256 (one token per byte) and is trained on its whole reply.
  const words = "the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches".split(" ");
  const text = (n: number) => Array.from({ length: n }, () => words[Math.floor(rng.next() * words.length)]).join(" ");
  const lines = Array.from({ length: 64 }, () => JSON.stringify({ messages: [{ role: "user", content: text(12) }, { role: "assistant", content: text(60) }] }));
  writeFileSync(join(dir, "train.jsonl"), lines.join("\n") + "\n");
  writeFileSync(join(dir, "prompt.txt"), text(60));
  return dir;
}

// ---------------------------------------------------------------- our sides (child processes)

/** `tunekit train`'s loop on the folder; per-step seconds from its step events (the first step dropped). */
async function oursTrain(dir: string, steps: number): Promise<void> {
  const out = join(dir, `run-${process.pid}-${Date.now()}`);
  const stepAt: number[] = [];
  const t0 = performance.now();
  let setup = 0;
  await train(
    {
      data: join(dir, "train.jsonl"),
      model: dir,
      outDir: out,
      options: { ...DEFAULT_TRAIN_OPTIONS, maxSteps: steps + 1, batchSize: B, maxSeqLen: T, lora: { r: R, alpha: 2 * R, dropout: 0, rslora: false, targets: "all-linear" }, evalEvery: 0, saveEvery: 0 },
    },
    {
      onEvent: (e) => {
        if (e.type === "start") setup = (performance.now() - t0) / 1000;
        if (e.type === "step") stepAt.push(e.elapsedSeconds);
      },
    },
  );
  const stepSeconds = stepAt.slice(1).map((t, i) => t - stepAt[i]);
  console.log(JSON.stringify({ stepSeconds, medianSeconds: median(stepSeconds), setupSeconds: setup, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

/** `tunekit generate`'s path: prefill the prompt, greedy-decode `decode` tokens (no stop token), a few runs. */
async function oursDecode(dir: string, promptLen: number, decode: number, runs: number): Promise<void> {
  const gen = await TextGenerator.load(dir, { threads: THREADS });
  const prompt = readFileSync(join(dir, "prompt.txt"), "utf8").slice(0, promptLen);
  const ids = gen.promptIds(prompt, { raw: true });
  writeFileSync(join(dir, "prompt.json"), JSON.stringify(ids));
  const params = { raw: true, maxTokens: decode, stopTokenIds: [] as number[] };
  await gen.generate(prompt, params); // warm-up
  const prefill: number[] = [];
  const decodeRate: number[] = [];
  let tokens: number[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await gen.generate(prompt, params);
    prefill.push(res.timings.prefillTokensPerSecond);
    decodeRate.push(res.timings.decodeTokensPerSecond);
    tokens = res.tokens;
  }
  await gen.dispose();
  console.log(JSON.stringify({ prefill, decode: decodeRate, tokens, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      family: { type: "string" },
      rounds: { type: "string" },
      steps: { type: "string" },
      decode: { type: "string" },
      prompt: { type: "string" },
      layers: { type: "string" },
      "skip-train": { type: "boolean" },
      "skip-decode": { type: "boolean" },
      child: { type: "string" },
      dir: { type: "string" },
      runs: { type: "string" },
    },
  });
  const steps = Number(values.steps ?? 3);
  const decode = Number(values.decode ?? 32);
  const promptLen = Number(values.prompt ?? 128);
  if (values.child === "train") return oursTrain(values.dir!, steps);
  if (values.child === "decode") return oursDecode(values.dir!, promptLen, decode, Number(values.runs ?? 3));

  const rounds = Number(values.rounds ?? 2);
  const layers = values.layers ? Number(values.layers) : undefined;
  const families = (values.family ?? "qwen3-0.6b,gemma3-270m").split(",");
  const py = "/usr/bin/python3";
  if (!existsSync(py)) {
    console.log("PyTorch peer unavailable: /usr/bin/python3 with torch (Debian python3-torch, libopenblas0-pthread) is needed");
    process.exit(1);
  }
  const coretypes = [...new Set(["SkylakeX", process.env.OPENBLAS_CORETYPE])];
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(1)).join(" ")} (figures are only meaningful on an idle machine)`);
  if (layers) console.log(`SMOKE TEST: ${layers} layers instead of the real depth; not a measurement`);
  for (const name of families) {
    if (!SHAPES[name]) throw new Error(`unknown --family ${name} (${Object.keys(SHAPES).join(", ")})`);
    const dir = await ensureModel(name, layers);
    const cfg = SHAPES[name];
    console.log(`\n${name}: ${layers ?? cfg.num_hidden_layers} layers, hidden ${cfg.hidden_size}, ${cfg.num_attention_heads}/${cfg.num_key_value_heads} heads of ${cfg.head_dim}, MLP ${cfg.intermediate_size}, vocab ${cfg.vocab_size}, tied; random BF16 weights; ${THREADS} threads`);

    if (!values["skip-train"]) {
      const ours: number[] = [];
      let oursRss = 0;
      let setup = 0;
      const torch = new Map<string | undefined, { steps: number[]; rss: number }>();
      for (let r = 1; r <= rounds; r++) {
        const o = runJsonChild(process.execPath, ["--import", "tsx", self, "--child", "train", "--dir", dir, "--steps", String(steps)]);
        ours.push(...(o.stepSeconds as number[]));
        oursRss = Math.max(oursRss, o.peakRssBytes as number);
        setup = o.setupSeconds as number;
        const line = [`  round ${r}: tunekit ${(o.medianSeconds as number).toFixed(2)} s/step`];
        for (const ct of coretypes) {
          const p = runJsonChild(py, [join(root, "scripts/reference/bench_train_family_torch.py"), dir, String(steps), String(THREADS), String(B), String(T), String(R)], torchEnv(THREADS, ct));
          const t = torch.get(ct) ?? { steps: [], rss: 0 };
          t.steps.push(...(p.stepSeconds as number[]));
          t.rss = Math.max(t.rss, p.peakRssBytes as number);
          torch.set(ct, t);
          line.push(`PyTorch (OPENBLAS_CORETYPE=${ct ?? "unset"}) ${(p.medianSeconds as number).toFixed(2)} s/step`);
        }
        console.log(line.join(", "));
      }
      const best = [...torch].map(([ct, t]) => ({ ct, med: median(t.steps), rss: t.rss })).sort((a, b) => a.med - b.med)[0];
      const med = median(ours);
      console.log(`  training step, ${B} x ${T} tokens, LoRA r=${R} all-linear: tunekit train ${med.toFixed(2)} s (${((B * T) / med).toFixed(0)} tok/s, setup ${setup.toFixed(0)} s), peak RSS ${mb(oursRss)}`);
      console.log(`  PyTorch autograd (OPENBLAS_CORETYPE=${best.ct ?? "unset"}): ${best.med.toFixed(2)} s (${((B * T) / best.med).toFixed(0)} tok/s), peak RSS ${mb(best.rss)}`);
      console.log(`  ratio: ${(best.med / med).toFixed(2)}x PyTorch's speed; peak RSS ${(oursRss / best.rss).toFixed(2)} of PyTorch's`);
    }

    if (!values["skip-decode"]) {
      const ours = { prefill: [] as number[], decode: [] as number[], rss: 0, tokens: [] as number[] };
      const torch = new Map<string | undefined, { prefill: number[]; decode: number[]; rss: number; tokens: number[] }>();
      for (let r = 1; r <= rounds; r++) {
        const o = runJsonChild(process.execPath, ["--import", "tsx", self, "--child", "decode", "--dir", dir, "--prompt", String(promptLen), "--decode", String(decode), "--runs", "3"]);
        ours.prefill.push(...(o.prefill as number[]));
        ours.decode.push(...(o.decode as number[]));
        ours.rss = Math.max(ours.rss, o.peakRssBytes as number);
        ours.tokens = o.tokens as number[];
        for (const ct of coretypes) {
          const ids = JSON.parse(readFileSync(join(dir, "prompt.json"), "utf8")) as number[];
          const p = runJsonChild(py, [join(root, "scripts/reference/inference_baseline.py"), dir, String(ids.length), String(decode), "4", String(THREADS), "2"], torchEnv(THREADS, ct));
          const t = torch.get(ct) ?? { prefill: [], decode: [], rss: 0, tokens: [] };
          t.prefill.push(...(p.prefill_tokens_per_s as number[]).slice(1));
          t.decode.push(...(p.decode_tokens_per_s as number[]).slice(1));
          t.rss = Math.max(t.rss, (p.peak_rss_mb as number) * 1e6 * 1.048576);
          t.tokens = p.first_tokens as number[];
          torch.set(ct, t);
        }
      }
      const best = [...torch].map(([ct, t]) => ({ ct, ...t })).sort((a, b) => median(b.prefill) * median(b.decode) - median(a.prefill) * median(a.decode))[0];
      const same = ours.tokens.filter((tk, i) => tk === best.tokens[i]).length;
      console.log(`  decode (prompt ${promptLen} tokens, ${decode} greedy tokens): tunekit generate prefill ${median(ours.prefill).toFixed(0)} tok/s, decode ${median(ours.decode).toFixed(1)} tok/s, peak RSS ${mb(ours.rss)}`);
      console.log(`  PyTorch (OPENBLAS_CORETYPE=${best.ct ?? "unset"}): prefill ${median(best.prefill).toFixed(0)} tok/s, decode ${median(best.decode).toFixed(1)} tok/s, peak RSS ${mb(best.rss)}`);
      console.log(`  ratio: prefill ${(median(ours.prefill) / median(best.prefill)).toFixed(2)}x, decode ${(median(ours.decode) / median(best.decode)).toFixed(2)}x; greedy tokens equal on ${same} of ${ours.tokens.length}`);
    }
  }
  console.log(`\nload average at end: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
}

await main();
