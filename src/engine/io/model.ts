/**
 * Loads a Hugging Face model folder (or hub id) into float32 tensors: config.json plus either
 * model.safetensors or a sharded model.safetensors.index.json. Every tensor the architecture needs is
 * checked against the config (name, shape) before the caller builds anything from it.
 */
import { existsSync, promises as fsp } from "node:fs";
import { join } from "node:path";
import { TunekitError, fsError } from "../../util/errors.js";
import { resolveModelDir, type ResolveOptions } from "../../hub/resolve.js";
import type { ModelConfig, Tensor } from "../types.js";
import { readModelConfig } from "./config.js";
import { expectedTensorShapes } from "../models/tensors.js";
import { SafetensorsFile } from "./safetensors.js";
import { quantizedBaseBytes, quantizedWeightNames, quantizeTensor, quantizeVocab, type BaseBits } from "../quant/base.js";
import { CodeFile } from "../quant/code-file.js";

export interface LoadedModel {
  config: ModelConfig;
  /** HF tensor names (model.layers.0.self_attn.q_proj.weight, ...) -> float32 data. */
  weights: Map<string, Tensor>;
  /** The resolved local folder (a hub id resolves into the HF cache). */
  dir: string;
  /** Safetensors files the weights came from. */
  files: string[];
  /** Original dtype of the weights (the embedding's), e.g. "BF16". */
  dtype: string;
  /** What was left out and why (e.g. a multimodal checkpoint's vision tower), for the user to see. */
  notes: string[];
  /** Where the quantized codes are, when LoadModelOptions.codeFolder moved them to a file. */
  codeFile?: CodeFile;
}

export interface LoadModelOptions extends ResolveOptions {
  /** Called after each tensor is read (for a progress bar). */
  onTensor?: (done: number, total: number) => void;
  /**
   * Keep the linear layers' weights block-quantized in 4 or 8 bits (quant/base.ts), each quantized as
   * soon as it is read, so the float32 model is never whole in memory.
   */
  baseBits?: BaseBits;
  /** With baseBits: also keep W^T quantized (the training step's backward product). */
  quantizeTransposed?: boolean;
  /**
   * With baseBits: move the codes, as they are made, to a code file (quant/code-file.ts) in a new folder
   * under this one, when its disk has room. The caller removes it (`codeFile.remove()`) once its ONNX
   * Runtime sessions are built; no graph can be built from the weights after that.
   */
  codeFolder?: string;
}

export { expectedTensorShapes } from "../models/tensors.js";

/** Names to look a tensor up under: its own, then the checkpoint's alternatives (a multimodal checkpoint's text model). */
function checkpointCandidates(c: ModelConfig, name: string): string[] {
  const out = [name];
  for (const p of c.checkpointPrefixes ?? []) {
    if (name.startsWith(p.prefix)) for (const alt of p.alternatives) out.push(alt + name.slice(p.prefix.length));
  }
  return out;
}

/** Which safetensors file holds each tensor: a single file or a sharded index. */
async function weightFiles(dir: string): Promise<Map<string, string[]>> {
  const single = join(dir, "model.safetensors");
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(single)) return new Map([[single, []]]);
  if (!existsSync(index)) {
    const hasBin = existsSync(join(dir, "pytorch_model.bin")) || existsSync(join(dir, "pytorch_model.bin.index.json"));
    throw new TunekitError("missing_model_file", `${dir} has no model.safetensors or model.safetensors.index.json`, {
      file: dir,
      hint: hasBin
        ? "this model has only PyTorch .bin weights; tunekit reads safetensors (convert them, or pick a repo that ships safetensors)"
        : "a Hugging Face model folder needs config.json and model.safetensors (or a sharded index)",
    });
  }
  let parsed: { weight_map?: Record<string, string> };
  try {
    parsed = JSON.parse(await fsp.readFile(index, "utf8"));
  } catch (e) {
    const err = fsError(e, index);
    if (err !== e) throw err;
    throw new TunekitError("corrupt_model_file", `${index} is not valid JSON`, { file: index });
  }
  if (!parsed || typeof parsed.weight_map !== "object" || parsed.weight_map === null) {
    throw new TunekitError("corrupt_model_file", `${index} has no weight_map`, { file: index });
  }
  const byFile = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(parsed.weight_map)) {
    if (typeof shard !== "string" || shard.includes("..") || shard.startsWith("/")) {
      throw new TunekitError("corrupt_model_file", `${index}: tensor ${name} points at an invalid shard ${JSON.stringify(shard)}`, { file: index });
    }
    const path = join(dir, shard);
    if (!byFile.has(path)) byFile.set(path, []);
    byFile.get(path)!.push(name);
  }
  for (const path of byFile.keys()) {
    if (!existsSync(path)) {
      throw new TunekitError("missing_model_file", `shard ${path} listed in ${index} is missing`, {
        file: path,
        hint: "the download may be incomplete; download the model again",
      });
    }
  }
  return byFile;
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * A model's weights opened but not read: config, the validated place and shape of every tensor the
 * architecture needs, and reads of one tensor (or a block of its rows) at a time, so a large model can
 * be streamed (export) without a second copy in memory. Call close() when done.
 */
export interface ModelWeights {
  config: ModelConfig;
  dir: string;
  files: string[];
  /** Original dtype of the weights (the embedding's), e.g. "BF16". */
  dtype: string;
  notes: string[];
  /** Every tensor the model needs (our names) with its shape. */
  shapes: Map<string, number[]>;
  /** One tensor as float32. */
  read(name: string): Promise<Tensor>;
  /** Rows [start, start + count) of a tensor (split along its first dimension) as float32. */
  readRows(name: string, start: number, count: number): Promise<Tensor>;
  close(): Promise<void>;
}

/** Opens a local folder or hub id and validates every tensor against the config (nothing is read yet). */
export async function openModelWeights(dirOrId: string, opts: ResolveOptions = {}): Promise<ModelWeights> {
  const dir = await resolveModelDir(dirOrId, opts);
  const config = await readModelConfig(join(dir, "config.json"));
  const expected = expectedTensorShapes(config);
  const files = await weightFiles(dir);
  const opened: SafetensorsFile[] = [];
  try {
    const where = new Map<string, SafetensorsFile>();
    for (const path of files.keys()) {
      const f = await SafetensorsFile.open(path);
      opened.push(f);
      for (const name of f.names) where.set(name, f);
    }
    // Some tied checkpoints still ship lm_head.weight; untied ones without it cannot be used.
    const found = new Map<string, string>(); // our name -> the checkpoint's
    for (const [name, shape] of expected) {
      const stored = checkpointCandidates(config, name).find((n) => where.has(n));
      const f = stored === undefined ? undefined : where.get(stored);
      if (!f || stored === undefined) {
        throw new TunekitError("missing_tensor", `the model's weights have no tensor "${name}" (expected shape [${shape.join(", ")}])`, {
          file: opened.length === 1 ? opened[0].path : dir,
          hint: "the weights do not match config.json (wrong architecture, or an incomplete download)",
        });
      }
      const info = f.info(stored)!;
      if (!sameShape(info.shape, shape)) {
        throw new TunekitError(
          "tensor_shape_mismatch",
          `tensor "${stored}" has shape [${info.shape.join(", ")}] but config.json implies [${shape.join(", ")}]`,
          { file: f.path, hint: "config.json and the weights belong to different models" },
        );
      }
      if (!["F32", "F16", "BF16"].includes(info.dtype)) {
        throw new TunekitError("unsupported_dtype", `tensor "${stored}" has dtype ${info.dtype}`, {
          file: f.path,
          hint: "tunekit reads F32, F16 and BF16 weights (quantised checkpoints are not supported)",
        });
      }
      found.set(name, stored);
    }
    const embed = found.values().next().value as string;
    const dtype = where.get(embed)!.info(embed)!.dtype;
    const notes: string[] = [];
    const vision = [...where.keys()].filter((n) => /(^|\.)(vision_tower|vision_model|multi_modal_projector|visual)\./.test(n)).length;
    if (vision > 0) notes.push(`the checkpoint's vision tower (${vision} tensors) is not loaded: tunekit trains and runs the text model only`);
    const mtp = [...where.keys()].filter((n) => /^mtp\./.test(n)).length;
    if (mtp > 0) notes.push(`the checkpoint's multi-token-prediction head (${mtp} tensors) is not loaded: tunekit predicts one token at a time`);
    const stored = (name: string): [SafetensorsFile, string] => {
      const s = found.get(name);
      if (s === undefined) throw new Error(`the model has no tensor ${name}`);
      return [where.get(s)!, s];
    };
    return {
      config,
      dir,
      files: [...files.keys()],
      dtype,
      notes,
      shapes: expected,
      async read(name) {
        const [f, s] = stored(name);
        const t = await f.readTensor(s);
        return { shape: expected.get(name)!, data: t.data };
      },
      async readRows(name, start, count) {
        const [f, s] = stored(name);
        return f.readRows(s, start, count);
      },
      async close() {
        for (const f of opened) await f.close();
      },
    };
  } catch (e) {
    for (const f of opened) await f.close();
    throw e;
  }
}

/** Loads config + weights from a local folder or hub id, validating every tensor against the config. */
export async function loadModel(dirOrId: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const m = await openModelWeights(dirOrId, opts);
  const transposed = opts.quantizeTransposed ?? false;
  let codeFile: CodeFile | undefined;
  try {
    if (opts.baseBits && opts.codeFolder) codeFile = CodeFile.create(opts.codeFolder, quantizedBaseBytes(m.config, opts.baseBits, transposed, m.shapes));
    const weights = new Map<string, Tensor>();
    const quantized = opts.baseBits ? quantizedWeightNames(m.config) : new Set<string>();
    let done = 0;
    for (const name of m.shapes.keys()) {
      const t = await m.read(name);
      weights.set(name, quantized.has(name) ? quantizeTensor(t, opts.baseBits!, transposed, codeFile) : t);
      opts.onTensor?.(++done, m.shapes.size);
    }
    if (opts.baseBits) quantizeVocab(m.config, weights, transposed, codeFile);
    return { config: m.config, weights, dir: m.dir, files: m.files, dtype: m.dtype, notes: m.notes, ...(codeFile ? { codeFile } : {}) };
  } catch (e) {
    codeFile?.remove();
    throw e;
  } finally {
    await m.close();
  }
}
