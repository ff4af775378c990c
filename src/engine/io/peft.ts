/**
 * PEFT LoRA adapters on disk: `adapter_config.json` + `adapter_model.safetensors`, the layout Hugging
 * Face PEFT, llama.cpp's convert_lora_to_gguf.py and Ollama read.
 *
 * Inside tunekit LoRA parameters are named `layers.{i}.{self_attn|mlp}.{module}.lora_{A|B}` (A [r, in],
 * B [out, r]; models/lora.ts); on disk they get PEFT's names
 * `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`. The reader also accepts the
 * variants other tools write (no `.weight`, a `.default` adapter name, another prefix).
 */
import { existsSync, promises as fsp } from "node:fs";
import { basename, join } from "node:path";
import { TunekitError, fsError } from "../../util/errors.js";
import { ensureDir, writeFileAtomic } from "../../util/fs.js";
import type { LinearRole, ModelConfig, Tensor } from "../types.js";
import { linearShape } from "../models/tensors.js";
import { loraParamShapes, parseLoraTensorName, peftTensorName, resolveLoraTargets, type LoraSpec, type LoraWeights } from "../models/lora.js";
import { readSafetensors, writeSafetensors } from "./safetensors.js";

/** The files of a PEFT adapter folder. */
export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";

export interface PeftAdapter extends LoraWeights {
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  /** PEFT module names of the adapted layers (target_modules as found in the tensors). */
  targetModules: string[];
  baseModel?: string;
  /** Internal names (layers.0.self_attn.q_proj.lora_A) -> tensors A [r, in] / B [out, r]. */
  params: Map<string, Tensor>;
  /** Per module pair (internal name without .lora_X) -> alpha/r scaling (r from the tensor shape). */
  scalings: Map<string, number>;
  /** The raw adapter_config.json. */
  raw: Record<string, unknown>;
}

/**
 * Writes a PEFT adapter folder (created if needed). `params` are keyed by internal names with data
 * laid out as A [r, in], B [out, r]; every file is written atomically.
 */
export async function writePeftAdapter(
  dir: string,
  opts: { config: ModelConfig; spec: LoraSpec; params: Map<string, Float32Array>; baseModel: string },
): Promise<void> {
  const { config, spec, params } = opts;
  const shapes = loraParamShapes(config, spec);
  const tensors = shapes.map(({ name, shape }) => {
    const data = params.get(name);
    if (!data) throw new Error(`writePeftAdapter: missing LoRA parameter ${name}`);
    if (data.length !== shape[0] * shape[1]) throw new Error(`writePeftAdapter: ${name} has ${data.length} values, expected [${shape}]`);
    return { name: peftTensorName(config, name), shape, data };
  });
  const targetModules = resolveLoraTargets(config, spec.targets).map((m) => m.peft);
  const adapterConfig = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: opts.baseModel,
    r: spec.r,
    lora_alpha: spec.alpha,
    lora_dropout: spec.dropout ?? 0,
    target_modules: targetModules,
    bias: "none",
    fan_in_fan_out: false,
    use_rslora: spec.rslora ?? false,
    use_dora: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  };
  await ensureDir(dir);
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: "pt" });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(adapterConfig, null, 2) + "\n");
}

function adapterError(dir: string, message: string, hint?: string): TunekitError {
  return new TunekitError("invalid_adapter", message, { file: dir, hint: hint ?? "pass a folder with adapter_config.json and adapter_model.safetensors (a PEFT LoRA adapter)" });
}

/** Last path component, lower-cased: "HuggingFaceTB/SmolLM2-135M" and "/models/SmolLM2-135M" match. */
function baseNameKey(s: string): string {
  // A snapshot folder in the HF cache (.../models--owner--name/snapshots/<sha>) names its model.
  const cached = /models--[^/\\]+--([^/\\]+)[/\\]snapshots[/\\][^/\\]+[/\\]*$/.exec(s);
  if (cached) return cached[1].toLowerCase();
  return basename(s.replace(/[\\/]+$/, "")).replace(/@.*$/, "").toLowerCase();
}

/**
 * Reads a PEFT LoRA adapter for a model with `config`: every tensor is checked against the model's
 * shapes (an adapter for a different base is refused); with `baseModel`, a different
 * base_model_name_or_path is refused too unless `ignoreBaseName`.
 */
export async function readPeftAdapter(
  dir: string,
  opts: { config: ModelConfig; baseModel?: string; ignoreBaseName?: boolean },
): Promise<PeftAdapter> {
  const config = opts.config;
  const cfgPath = join(dir, ADAPTER_CONFIG_FILE);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await fsp.readFile(cfgPath, "utf8"));
  } catch (e) {
    const err = fsError(e, cfgPath);
    if (err instanceof TunekitError) {
      if (err.code === "file_not_found") throw adapterError(dir, `${dir} has no adapter_config.json`);
      throw err;
    }
    throw adapterError(dir, `${cfgPath} is not valid JSON`);
  }
  if (raw.peft_type !== undefined && raw.peft_type !== "LORA") {
    throw adapterError(dir, `${dir} is a ${String(raw.peft_type)} adapter; tunekit reads LoRA adapters`);
  }
  if (raw.fan_in_fan_out === true) throw adapterError(dir, "adapters with fan_in_fan_out (GPT-2 style Conv1D) are not supported");
  if (raw.use_dora === true) throw adapterError(dir, "DoRA adapters (use_dora) are not supported", "train a plain LoRA adapter");
  if (Array.isArray(raw.modules_to_save) && raw.modules_to_save.length > 0) {
    throw adapterError(dir, `the adapter carries full copies of ${raw.modules_to_save.join(", ")} (modules_to_save), which tunekit cannot apply`);
  }
  const r = raw.r;
  const alpha = raw.lora_alpha ?? r;
  if (typeof r !== "number" || !(r > 0) || typeof alpha !== "number") throw adapterError(dir, `${cfgPath}: "r" and "lora_alpha" must be numbers`);
  const useRslora = raw.use_rslora === true;
  const alphaPattern = (raw.alpha_pattern ?? {}) as Record<string, number>;
  const baseModel = typeof raw.base_model_name_or_path === "string" ? raw.base_model_name_or_path : undefined;
  if (opts.baseModel && baseModel && !opts.ignoreBaseName && baseNameKey(opts.baseModel) !== baseNameKey(baseModel)) {
    throw new TunekitError("adapter_base_mismatch", `the adapter in ${dir} was trained on ${baseModel}, not on ${opts.baseModel}`, {
      file: cfgPath,
      hint: "use the adapter with the base model it was trained on (or pass --ignore-adapter-base if it is the same model under another name)",
    });
  }

  let weightsFile = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(weightsFile)) {
    if (existsSync(join(dir, "adapter_model.bin"))) {
      throw adapterError(dir, `${dir} has only adapter_model.bin (PyTorch pickle)`, "save the adapter with safe_serialization=True (safetensors)");
    }
    throw adapterError(dir, `${dir} has no adapter_model.safetensors`);
  }
  const { tensors } = await readSafetensors(weightsFile);
  const params = new Map<string, Tensor>();
  const modules = new Set<string>();
  const where = new Map<string, { layer: number; role: string }>();
  for (const [name, t] of tensors) {
    if (/(^|\.)(vision_tower|vision_model|multi_modal_projector)\./.test(name)) {
      throw adapterError(dir, `the adapter adapts the vision tower (${name}); tunekit trains and runs the text model only`);
    }
    const p = parseLoraTensorName(config, name);
    if (!p) {
      if (/lora_embedding|lora_magnitude/.test(name)) throw adapterError(dir, `unsupported LoRA tensor ${name}`);
      if (/\.bias$/.test(name)) throw adapterError(dir, `the adapter trains biases (${name}); tunekit supports bias "none"`);
      throw adapterError(dir, `unexpected tensor ${name} in ${weightsFile}`);
    }
    const key = p.param;
    if (params.has(key)) throw adapterError(dir, `tensor for ${key} appears twice in ${weightsFile}`);
    if (t.shape.length !== 2) throw adapterError(dir, `${name} has shape [${t.shape}], expected a matrix`);
    params.set(key, t);
    modules.add(p.module.peft);
    where.set(p.stem, { layer: p.layer, role: p.module.role });
  }
  if (params.size === 0) throw adapterError(dir, `${weightsFile} holds no LoRA tensors`);
  weightsFile = basename(weightsFile);

  const scalings = new Map<string, number>();
  for (const [key, t] of params) {
    if (!key.endsWith(".lora_A")) continue;
    const stem = key.slice(0, -".lora_A".length);
    const b = params.get(`${stem}.lora_B`);
    if (!b) throw adapterError(dir, `${stem} has lora_A but no lora_B`);
    const rank = t.shape[0];
    if (b.shape[1] !== rank) throw adapterError(dir, `${stem}: lora_A is [${t.shape}] but lora_B is [${b.shape}] (ranks differ)`);
    const module = stem.split(".").at(-1)!;
    const a = Object.entries(alphaPattern).find(([pat]) => stem.endsWith(pat) || module === pat)?.[1] ?? alpha;
    scalings.set(stem, useRslora ? a / Math.sqrt(rank) : a / rank);
    const site = where.get(stem)!;
    const [out, inn] = linearShape(config, site.role as LinearRole);
    if (site.layer >= config.numLayers || t.shape[1] !== inn || b.shape[0] !== out) {
      throw new TunekitError(
        "adapter_base_mismatch",
        `the adapter does not fit this base model: ${stem} is [${b.shape[0]} x ${t.shape[1]}] in the adapter but [${out} x ${inn}] in the model` +
          (site.layer >= config.numLayers ? ` (the model has only ${config.numLayers} layers)` : ""),
        { file: dir, hint: `use the adapter with the base model it was trained on${baseModel ? ` (${baseModel})` : ""}` },
      );
    }
  }
  for (const key of params.keys()) {
    if (key.endsWith(".lora_B") && !params.has(key.slice(0, -1) + "A")) throw adapterError(dir, `${key} has no matching lora_A`);
  }
  const dropout = typeof raw.lora_dropout === "number" ? raw.lora_dropout : 0;
  return {
    r,
    alpha,
    dropout,
    useRslora,
    targetModules: config.lora.map((m) => m.peft).filter((m) => modules.has(m)),
    ...(baseModel ? { baseModel } : {}),
    params,
    scalings,
    raw,
  };
}
