/**
 * `exportGguf`: a training run (its base model with the adapter merged in) or a base model folder as
 * one GGUF v3 file that llama.cpp, Ollama and LM Studio run: architecture metadata
 * (architecture.ts), the tokenizer with the chat template used in training (tokenizer.ts), and the
 * tensors in llama.cpp's layout (tensors.ts), streamed tensor by tensor into a temporary file that is
 * renamed into place only when complete.
 *
 * `exportGgufAdapter`: the run's LoRA adapter as a GGUF adapter for llama.cpp's `--lora`.
 */
import { existsSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { openModelWeights, type ModelWeights } from "../../engine/io/model.js";
import { readModelConfig } from "../../engine/io/config.js";
import { readPeftAdapter, type PeftAdapter } from "../../engine/io/peft.js";
import type { GgufNames, ModelFamily } from "../../engine/models/family.js";
import { familyOf } from "../../engine/models/families/index.js";
import { loraSites } from "../../engine/models/lora.js";
import type { ModelConfig } from "../../engine/types.js";
import { readRunRecord, runPaths, type RunRecord } from "../../engine/train/run-dir.js";
import { chatTemplateFor, PLAIN_CHAT_TEMPLATE_JINJA } from "../../tokenize/chatTemplate.js";
import { loadTokenizerFromDir } from "../../tokenize/hf.js";
import { TunekitError } from "../../util/errors.js";
import { ensureDir } from "../../util/fs.js";
import { architectureMetadata } from "./architecture.js";
import { kv, writeGguf, type GgufTensor, type MetadataEntry } from "./container.js";
import { linearAttentionLora } from "./linear-attention.js";
import { GGML_TYPE, encodeRows } from "./tensor-data.js";
import { FILE_TYPE, ggufTensorName, modelTensors, permuteHeadsFor, permuteRopeRows, type GgufDtype, type LoraDelta } from "./tensors.js";
import { ggufTokenizer } from "./tokenizer.js";

/** What to export: a training run folder, or a model folder (hub ids resolve into the cache). */
export type GgufSource = { runDir: string } | { model: string };

export interface GgufExportOptions {
  /** Matrix dtype (default f16); norms and biases stay F32. */
  dtype?: GgufDtype;
  /** Called after each tensor is written. */
  onTensor?: (done: number, total: number, name: string) => void;
  offline?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface GgufExportResult {
  out: string;
  bytes: number;
  tensors: number;
  dtype: GgufDtype;
  architecture: string;
  /** The base model folder the weights came from. */
  model: string;
  /** Whether a LoRA adapter was merged in. */
  merged: boolean;
  tokenizer: { model: "gpt2" | "llama"; pre: string };
  /** The chat template stored: the model's own, tunekit's plain template, or an override. */
  chatTemplate: "model" | "plain";
  notes: string[];
}

/** Refuses a target that exists: an export never replaces a file. `shown` is the path as the user gave it. */
export function refuseExistingTarget(target: string, shown = target): void {
  if (existsSync(target)) {
    throw new TunekitError("already_exists", `${shown} already exists; an export never replaces a file`, { hint: "choose a new file name, or remove the old file first" });
  }
}

/** The run's base model folder, refusing a run whose base model is gone. */
export function runBaseModel(runDir: string, rec: RunRecord): string {
  if (rec.modelDir && existsSync(resolve(rec.modelDir, "config.json"))) return rec.modelDir;
  const fromHub = rec.model !== rec.modelDir && !existsSync(resolve(rec.model));
  throw new TunekitError("run_base_model_missing", `the base model of ${runDir} is gone: ${rec.modelDir || rec.model} has no config.json`, {
    file: runPaths(runDir).run,
    hint: fromHub
      ? `the run used ${rec.model} from the Hugging Face cache, which no longer holds it: fetch it again (tunekit generate --model ${rec.model} --prompt hi) and export again`
      : `put the base model back at ${rec.modelDir}, or export from a run trained on a model that is still there`,
  });
}

/** The llama.cpp names of a model's family, refusing a family tunekit has no llama.cpp mapping for. */
export function ggufNamesFor(family: ModelFamily): GgufNames {
  if (!family.gguf) {
    throw new TunekitError("gguf_unsupported_architecture", `tunekit has no mapping of ${family.label} to a llama.cpp architecture, so it cannot be exported as GGUF`, {
      hint: "export the merged model (--merged) for tools that load safetensors",
    });
  }
  return family.gguf;
}

/** A pulled hosted job can hold merged weights: then the run's model is the tuned model itself. */
function runHoldsMergedWeights(rec: RunRecord): boolean {
  return (rec as { source?: { weights?: string } }).source?.weights === "merged";
}

async function readRunAdapter(runDir: string, config: ModelConfig): Promise<PeftAdapter> {
  const dir = runPaths(runDir).adapter;
  if (!existsSync(resolve(dir, "adapter_config.json"))) {
    throw new TunekitError("run_has_no_adapter", `the run ${runDir} has no adapter yet`, { file: runDir, hint: "wait for training to finish (or resume it: tunekit train --resume RUN_DIR)" });
  }
  return readPeftAdapter(dir, { config });
}

/** Per adapted weight (HF name): A, B and the scale. */
function loraDeltas(config: ModelConfig, adapter: PeftAdapter): Map<string, LoraDelta> {
  const sites = new Map(loraSites(config, "all-linear").map((s) => [s.stem, s]));
  const out = new Map<string, LoraDelta>();
  const data = (x: Float32Array | { data: Float32Array } | undefined) => (x === undefined ? undefined : x instanceof Float32Array ? x : x.data);
  for (const [stem, scale] of adapter.scalings) {
    const site = sites.get(stem);
    const A = data(adapter.params.get(`${stem}.lora_A`));
    const B = data(adapter.params.get(`${stem}.lora_B`));
    if (!site || !A || !B) throw new TunekitError("adapter_base_mismatch", `the adapter adapts ${stem}, which this model does not have`);
    out.set(site.weight, { A, B, scale });
  }
  return out;
}

function generalMetadata(architecture: string, name: string, type: "model" | "adapter", fileType?: number): MetadataEntry[] {
  return [
    kv.str("general.architecture", architecture),
    kv.str("general.type", type),
    kv.str("general.name", name),
    ...(fileType !== undefined ? [kv.u32("general.file_type", fileType), kv.u32("general.quantization_version", 2)] : []),
  ];
}

export async function exportGguf(source: GgufSource, out: string, opts: GgufExportOptions = {}): Promise<GgufExportResult> {
  const dtype = opts.dtype ?? "f16";
  const target = resolve(opts.cwd ?? process.cwd(), out);
  refuseExistingTarget(target, out);
  let modelRef: string;
  let name: string;
  let runDir: string | undefined;
  let withAdapter = false;
  if ("runDir" in source) {
    runDir = source.runDir;
    const rec = await readRunRecord(runDir);
    modelRef = runBaseModel(runDir, rec);
    withAdapter = !runHoldsMergedWeights(rec);
    name = basename(resolve(runDir));
  } else {
    modelRef = source.model;
    name = basename(modelRef.replace(/[\\/]+$/, ""));
  }
  const weights: ModelWeights = await openModelWeights(modelRef, { offline: opts.offline, env: opts.env, cwd: opts.cwd });
  try {
    const config = weights.config;
    const g = ggufNamesFor(familyOf(config));
    const arch = architectureMetadata(config, g);
    const adapter = withAdapter && runDir !== undefined ? await readRunAdapter(runDir, config) : undefined;
    const tok = await loadTokenizerFromDir(weights.dir);
    const template = chatTemplateFor(tok);
    const tokenizer = ggufTokenizer(weights.dir, tok, config.vocabSize, template.plain ? PLAIN_CHAT_TEMPLATE_JINJA : template.source);
    const metadata = [...generalMetadata(g.architecture, name, "model", FILE_TYPE[dtype]), ...arch.metadata, ...tokenizer.metadata];
    const tensors = modelTensors(config, g, weights, { dtype, ...(adapter ? { lora: loraDeltas(config, adapter) } : {}), ...(arch.ropeFreqs ? { ropeFreqs: arch.ropeFreqs } : {}) });
    await ensureDir(dirname(target));
    const { bytes } = await writeGguf(target, metadata, tensors, { onTensor: opts.onTensor });
    return {
      out: target,
      bytes,
      tensors: tensors.length,
      dtype,
      architecture: g.architecture,
      model: weights.dir,
      merged: adapter !== undefined,
      tokenizer: { model: tokenizer.model, pre: tokenizer.pre },
      chatTemplate: template.plain ? "plain" : "model",
      notes: [...weights.notes, ...arch.notes],
    };
  } finally {
    await weights.close();
  }
}

export interface GgufAdapterResult {
  out: string;
  bytes: number;
  architecture: string;
  /** adapter.lora.alpha as written. */
  alpha: number;
  rank: number;
  /** Adapted weights. */
  targets: number;
  /** True when per-layer scales were folded into lora_b (rsLoRA, rank_pattern / alpha_pattern). */
  rescaled: boolean;
}

/**
 * The run's adapter as a llama.cpp LoRA GGUF: `<tensor>.weight.lora_a` = A [r, in] and `.lora_b` =
 * B [out, r] (ggml dims reversed), q/k B rows permuted like the base weights for llama-style RoPE.
 * llama.cpp scales each pair by alpha / r (r from the tensor): adapter.lora.alpha is written so that
 * this gives the trained scale (rsLoRA: alpha * sqrt(r)); where one alpha cannot give every layer its
 * scale, the difference is folded into lora_b.
 */
export async function exportGgufAdapter(runDir: string, out: string, opts: { cwd?: string } = {}): Promise<GgufAdapterResult> {
  const target = resolve(opts.cwd ?? process.cwd(), out);
  refuseExistingTarget(target, out);
  const rec = await readRunRecord(runDir);
  if (runHoldsMergedWeights(rec)) {
    throw new TunekitError("run_has_no_adapter", `the run ${runDir} holds merged weights, not an adapter`, { hint: `export the model instead: tunekit export ${runDir} --gguf FILE` });
  }
  const modelDir = runBaseModel(runDir, rec);
  const config = await readModelConfig(resolve(modelDir, "config.json"));
  const g = ggufNamesFor(familyOf(config));
  const adapter = await readRunAdapter(runDir, config);
  const deltas = loraDeltas(config, adapter);
  const sites = loraSites(config, "all-linear");
  // The alpha that gives each layer its scale: scale = alpha / r  =>  alpha = scale * r.
  const entries = sites.filter((s) => deltas.has(s.weight)).map((s) => {
    const d = deltas.get(s.weight)!;
    const rank = d.A.length / s.shape[1];
    return { site: s, d, rank, alpha: d.scale * rank };
  });
  if (entries.length === 0) throw new TunekitError("invalid_adapter", `the adapter of ${runDir} adapts no layer`);
  const alpha = entries[0].alpha;
  const rescaled = entries.some((e) => Math.abs(e.alpha - alpha) > 1e-6 * Math.abs(alpha));
  const tensors: GgufTensor[] = [];
  for (const { site, d, rank } of entries) {
    const name = ggufTensorName(g, site.module.role, site.layer);
    const [outDim, inDim] = site.shape;
    const heads = permuteHeadsFor(config, g, site.module.role);
    // llama.cpp multiplies by alpha / rank; fold what differs from this layer's scale into B.
    const fold = (d.scale * rank) / alpha;
    const laid = linearAttentionLora(config, site.module.role, d.A, d.B, outDim, inDim, rank);
    tensors.push({ name: `${name}.lora_a`, dims: [inDim, rank], type: GGML_TYPE.F32, produce: (write) => write(encodeRows(GGML_TYPE.F32, laid.A, inDim)) });
    tensors.push({
      name: `${name}.lora_b`,
      dims: [rank, outDim],
      type: GGML_TYPE.F32,
      produce: (write) => {
        let b = fold === 1 ? laid.B : Float32Array.from(laid.B, (x) => x * fold);
        if (heads !== undefined) b = permuteRopeRows(b, outDim, rank, heads);
        return write(encodeRows(GGML_TYPE.F32, b, rank));
      },
    });
  }
  const metadata = [...generalMetadata(g.architecture, basename(resolve(runDir)), "adapter"), kv.str("adapter.type", "lora"), kv.f32("adapter.lora.alpha", alpha)];
  await ensureDir(dirname(target));
  const { bytes } = await writeGguf(target, metadata, tensors);
  return { out: target, bytes, architecture: g.architecture, alpha, rank: entries[0].rank, targets: entries.length, rescaled };
}
