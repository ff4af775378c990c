/**
 * PEFT LoRA adapters on disk: `adapter_config.json` + `adapter_model.safetensors`, the layout Hugging
 * Face PEFT, llama.cpp's convert_lora_to_gguf.py and Ollama read.
 *
 * Inside tunekit LoRA parameters are named `layers.{i}.{self_attn|mlp}.{module}.lora_{A|B}` (A [r, in],
 * B [out, r]); on disk they get PEFT's names
 * `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`. The reader also accepts the
 * variants other tools write (no `.weight`, a `.default` adapter name, a missing `model.` level).
 */
import { existsSync, promises as fsp } from "node:fs";
import { basename, join } from "node:path";
import { TunekitError, fsError } from "../../util/errors.js";
import { ensureDir, writeFileAtomic } from "../../util/fs.js";
import type { ModelConfig, Tensor } from "../types.js";
import { readSafetensors, writeSafetensors } from "./safetensors.js";

export const LORA_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
export type LoraModule = (typeof LORA_MODULES)[number];

const MODULE_PARENT: Record<LoraModule, "self_attn" | "mlp"> = {
  q_proj: "self_attn",
  k_proj: "self_attn",
  v_proj: "self_attn",
  o_proj: "self_attn",
  gate_proj: "mlp",
  up_proj: "mlp",
  down_proj: "mlp",
};

/** "q" or "q_proj" -> "q_proj". */
export function loraModuleName(target: string): LoraModule {
  const m = (target.endsWith("_proj") ? target : `${target}_proj`) as LoraModule;
  if (!LORA_MODULES.includes(m)) {
    throw new TunekitError("unsupported_lora_target", `unknown LoRA target "${target}"`, {
      hint: `LoRA targets are ${LORA_MODULES.join(", ")} (or q,k,v,o,gate,up,down)`,
    });
  }
  return m;
}

/** [out, in] of a linear module. */
export function moduleShape(c: ModelConfig, m: LoraModule): [number, number] {
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  switch (m) {
    case "q_proj":
      return [q, H];
    case "k_proj":
    case "v_proj":
      return [kv, H];
    case "o_proj":
      return [H, q];
    case "gate_proj":
    case "up_proj":
      return [c.intermediateSize, H];
    case "down_proj":
      return [H, c.intermediateSize];
  }
}

/** tunekit's internal name of a LoRA parameter. */
export function loraParamName(layer: number, module: LoraModule, ab: "A" | "B"): string {
  return `layers.${layer}.${MODULE_PARENT[module]}.${module}.lora_${ab}`;
}

/** PEFT's on-disk name of a LoRA parameter. */
export function peftTensorName(layer: number, module: LoraModule, ab: "A" | "B"): string {
  return `base_model.model.model.${loraParamName(layer, module, ab)}.weight`;
}

const PEFT_KEY = /(?:^|\.)layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)\.lora_([AB])(?:\.[A-Za-z_][\w-]*)?(?:\.weight)?$/;

/** Parses any PEFT-style LoRA tensor name; undefined when it is not one. */
export function parseLoraTensorName(name: string): { layer: number; module: LoraModule; ab: "A" | "B" } | undefined {
  const m = PEFT_KEY.exec(name);
  if (!m || !LORA_MODULES.includes(m[3] as LoraModule) || MODULE_PARENT[m[3] as LoraModule] !== m[2]) return undefined;
  return { layer: Number(m[1]), module: m[3] as LoraModule, ab: m[4] as "A" | "B" };
}

export interface LoraAdapterSpec {
  r: number;
  alpha: number;
  dropout: number;
  rslora: boolean;
  /** Targets as "q" or "q_proj". */
  targets: string[];
}

export interface PeftAdapter {
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  targetModules: LoraModule[];
  baseModel?: string;
  /** Internal names (layers.0.self_attn.q_proj.lora_A) -> tensors A [r, in] / B [out, r]. */
  params: Map<string, Tensor>;
  /** Per module pair (internal name without .lora_X) -> alpha/r scaling (r from the tensor shape). */
  scalings: Map<string, number>;
  /** The raw adapter_config.json. */
  raw: Record<string, unknown>;
}

/** The shapes of every LoRA parameter for `spec` on `config`, in a stable order (layer, module, A, B). */
export function loraParamShapes(config: ModelConfig, spec: Pick<LoraAdapterSpec, "r" | "targets">): { name: string; shape: [number, number] }[] {
  const mods = LORA_MODULES.filter((m) => spec.targets.map(loraModuleName).includes(m));
  const out: { name: string; shape: [number, number] }[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    for (const m of mods) {
      const [o, inn] = moduleShape(config, m);
      out.push({ name: loraParamName(i, m, "A"), shape: [spec.r, inn] });
      out.push({ name: loraParamName(i, m, "B"), shape: [o, spec.r] });
    }
  }
  return out;
}

/**
 * Writes a PEFT adapter folder (created if needed). `params` are keyed by internal names with data
 * laid out as A [r, in], B [out, r]; every file is written atomically.
 */
export async function writePeftAdapter(
  dir: string,
  opts: { config: ModelConfig; spec: LoraAdapterSpec; params: Map<string, Float32Array>; baseModel: string },
): Promise<void> {
  const { config, spec, params } = opts;
  const shapes = loraParamShapes(config, spec);
  const tensors = shapes.map(({ name, shape }) => {
    const data = params.get(name);
    if (!data) throw new Error(`writePeftAdapter: missing LoRA parameter ${name}`);
    if (data.length !== shape[0] * shape[1]) throw new Error(`writePeftAdapter: ${name} has ${data.length} values, expected [${shape}]`);
    const parsed = parseLoraTensorName(name)!;
    return { name: peftTensorName(parsed.layer, parsed.module, parsed.ab), shape, data };
  });
  const targetModules = LORA_MODULES.filter((m) => spec.targets.map(loraModuleName).includes(m));
  const adapterConfig = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: opts.baseModel,
    r: spec.r,
    lora_alpha: spec.alpha,
    lora_dropout: spec.dropout,
    target_modules: targetModules,
    bias: "none",
    fan_in_fan_out: false,
    use_rslora: spec.rslora,
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
  await writeSafetensors(join(dir, "adapter_model.safetensors"), tensors, { format: "pt" });
  await writeFileAtomic(join(dir, "adapter_config.json"), JSON.stringify(adapterConfig, null, 2) + "\n");
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
 * Reads a PEFT LoRA adapter. With `config`, every tensor is checked against the base model's shapes
 * (an adapter for a different base is refused); with `baseModel`, a different base_model_name_or_path
 * is refused too unless `ignoreBaseName`.
 */
export async function readPeftAdapter(
  dir: string,
  opts: { config?: ModelConfig; baseModel?: string; ignoreBaseName?: boolean } = {},
): Promise<PeftAdapter> {
  const cfgPath = join(dir, "adapter_config.json");
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

  let weightsFile = join(dir, "adapter_model.safetensors");
  if (!existsSync(weightsFile)) {
    if (existsSync(join(dir, "adapter_model.bin"))) {
      throw adapterError(dir, `${dir} has only adapter_model.bin (PyTorch pickle)`, "save the adapter with safe_serialization=True (safetensors)");
    }
    throw adapterError(dir, `${dir} has no adapter_model.safetensors`);
  }
  const { tensors } = await readSafetensors(weightsFile);
  const params = new Map<string, Tensor>();
  const modules = new Set<LoraModule>();
  for (const [name, t] of tensors) {
    const p = parseLoraTensorName(name);
    if (!p) {
      if (/lora_embedding|lora_magnitude/.test(name)) throw adapterError(dir, `unsupported LoRA tensor ${name}`);
      if (/\.bias$/.test(name)) throw adapterError(dir, `the adapter trains biases (${name}); tunekit supports bias "none"`);
      throw adapterError(dir, `unexpected tensor ${name} in ${weightsFile}`);
    }
    const key = loraParamName(p.layer, p.module, p.ab);
    if (params.has(key)) throw adapterError(dir, `tensor for ${key} appears twice in ${weightsFile}`);
    if (t.shape.length !== 2) throw adapterError(dir, `${name} has shape [${t.shape}], expected a matrix`);
    params.set(key, t);
    modules.add(p.module);
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
    if (opts.config) {
      const p = parseLoraTensorName(key)!;
      const [out, inn] = moduleShape(opts.config, p.module);
      if (p.layer >= opts.config.numLayers || t.shape[1] !== inn || b.shape[0] !== out) {
        throw new TunekitError(
          "adapter_base_mismatch",
          `the adapter does not fit this base model: ${stem} is [${b.shape[0]} x ${t.shape[1]}] in the adapter but [${out} x ${inn}] in the model` +
            (p.layer >= opts.config.numLayers ? ` (the model has only ${opts.config.numLayers} layers)` : ""),
          { file: dir, hint: `use the adapter with the base model it was trained on${baseModel ? ` (${baseModel})` : ""}` },
        );
      }
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
    targetModules: LORA_MODULES.filter((m) => modules.has(m)),
    ...(baseModel ? { baseModel } : {}),
    params,
    scalings,
    raw,
  };
}

/**
 * W' = W + scaling * B @ A for every adapted module. Returns a new map; the base weights are not
 * modified (merged tensors are fresh copies, others are shared).
 */
export function mergeLora(weights: Map<string, Tensor>, adapter: Pick<PeftAdapter, "params" | "scalings">): Map<string, Tensor> {
  const out = new Map(weights);
  for (const [stem, scaling] of adapter.scalings) {
    const A = adapter.params.get(`${stem}.lora_A`)!;
    const B = adapter.params.get(`${stem}.lora_B`)!;
    const wName = `model.${stem}.weight`;
    const W = weights.get(wName);
    if (!W) throw new TunekitError("adapter_base_mismatch", `the adapter targets ${wName}, which the model does not have`, {});
    const [o, inn] = W.shape;
    const r = A.shape[0];
    if (A.shape[1] !== inn || B.shape[0] !== o) {
      throw new TunekitError("adapter_base_mismatch", `the adapter's ${stem} is [${B.shape[0]} x ${A.shape[1]}] but the model's is [${o} x ${inn}]`, {});
    }
    const merged = new Float32Array(W.data);
    const a = A.data;
    const b = B.data;
    for (let i = 0; i < o; i++) {
      const row = i * inn;
      for (let k = 0; k < r; k++) {
        const s = scaling * b[i * r + k];
        if (s === 0) continue;
        const ak = k * inn;
        for (let j = 0; j < inn; j++) merged[row + j] += s * a[ak + j];
      }
    }
    out.set(wName, { shape: [o, inn], data: merged });
  }
  return out;
}
