/**
 * LoRA on a decoder: which linear layers a spec adapts (the family's targets), the parameters' names
 * and shapes, their PEFT names, and the merge W' = W + scale * B A.
 *
 * Parameters are named after the weight they adapt, without "model." and ".weight":
 * `layers.{i}.self_attn.q_proj.lora_A` ([r, in]) and `...lora_B` ([out, r]). On disk PEFT writes
 * `base_model.model.{peftPrefix}layers.{i}.self_attn.q_proj.lora_A.weight`.
 */
import { TunekitError } from "../../util/errors.js";
import type { LoraModuleSpec, ModelConfig, Tensor } from "../types.js";
import { tensorName } from "./family.js";
import { layerRoles, linearShape } from "./tensors.js";

/** A family's target name ("q", "gate", ...) or its PEFT module name ("q_proj"). */
export type LoraTarget = string;

export interface LoraSpec {
  r: number;
  alpha: number;
  /** The layers to adapt: target names, or every linear layer the family offers. */
  targets: LoraTarget[] | "all-linear";
  /** Rank-stabilised LoRA: scale alpha / sqrt(r) instead of alpha / r. */
  rslora?: boolean;
  /** Probability of dropping an input element of each adapted layer (training only). */
  dropout?: number;
}

export function loraScaling(spec: Pick<LoraSpec, "r" | "alpha" | "rslora">): number {
  return spec.rslora ? spec.alpha / Math.sqrt(spec.r) : spec.alpha / spec.r;
}

/** The family's modules a spec adapts, in the family's order; unknown names are refused. */
export function resolveLoraTargets(c: ModelConfig, targets: LoraSpec["targets"]): LoraModuleSpec[] {
  if (targets === "all-linear") return [...c.lora];
  const wanted = new Set<LoraModuleSpec>();
  for (const t of targets) {
    const m = c.lora.find((x) => x.target === t || x.peft === t);
    if (!m) {
      throw new TunekitError("unsupported_lora_target", `unknown LoRA target "${t}" for this ${c.family} model`, {
        hint: `use some of ${c.lora.map((x) => x.target).join(",")} (or their PEFT names ${c.lora.map((x) => x.peft).join(",")}), or all-linear`,
      });
    }
    wanted.add(m);
  }
  if (wanted.size === 0) throw new TunekitError("unsupported_lora_target", "no LoRA target given", { hint: "e.g. q,v or all-linear" });
  return c.lora.filter((m) => wanted.has(m));
}

/** One adapted linear layer. */
export interface LoraSite {
  layer: number;
  module: LoraModuleSpec;
  /** Parameter stem, e.g. "layers.0.self_attn.q_proj". */
  stem: string;
  /** The adapted weight's tensor name. */
  weight: string;
  /** [out, in] of the weight. */
  shape: [number, number];
}

export function stemOf(weightName: string): string {
  return weightName.replace(/\.weight$/, "").replace(/^model\./, "");
}

/** Every adapted layer, layer by layer in the family's module order. */
export function loraSites(c: ModelConfig, targets: LoraSpec["targets"]): LoraSite[] {
  const mods = resolveLoraTargets(c, targets);
  const out: LoraSite[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const roles = layerRoles(c, i);
    for (const m of mods) {
      if (!roles.includes(m.role)) continue; // a hybrid model's layers differ
      const weight = tensorName(c, m.role, i);
      out.push({ layer: i, module: m, stem: stemOf(weight), weight, shape: linearShape(c, m.role) });
    }
  }
  return out;
}

/** Every LoRA tensor in a stable order (layer, then the family's target order; A before B). */
export function loraParamShapes(c: ModelConfig, spec: Pick<LoraSpec, "r" | "targets"> & Partial<LoraSpec>): { name: string; shape: [number, number] }[] {
  const out: { name: string; shape: [number, number] }[] = [];
  for (const s of loraSites(c, spec.targets)) {
    out.push({ name: `${s.stem}.lora_A`, shape: [spec.r, s.shape[1]] });
    out.push({ name: `${s.stem}.lora_B`, shape: [s.shape[0], spec.r] });
  }
  return out;
}

/** PEFT's on-disk name of a parameter ("layers.0.self_attn.q_proj.lora_A" -> "base_model.model.model.layers.0...lora_A.weight"). */
export function peftTensorName(c: ModelConfig, param: string): string {
  return `base_model.model.${c.peftPrefix ?? "model."}${param}.weight`;
}

const PEFT_KEY = /(?:^|\.)layers\.(\d+)\.([A-Za-z_][\w.]*?)\.lora_([AB])(?:\.[A-Za-z_][\w-]*)?(?:\.weight)?$/;

/** The module paths ("self_attn.q_proj") of the family's targets, with their spec. */
function modulePaths(c: ModelConfig): Map<string, LoraModuleSpec> {
  const m = new Map<string, LoraModuleSpec>();
  for (const mod of c.lora) {
    const stem = stemOf(tensorName(c, mod.role, 0));
    m.set(stem.slice(stem.indexOf("layers.0.") + "layers.0.".length), mod);
  }
  return m;
}

/**
 * Parses a PEFT-style LoRA tensor name (PEFT's, or the variants other tools write: no `.weight`, an
 * adapter name such as `.default`, another prefix) into the internal parameter name.
 */
export function parseLoraTensorName(c: ModelConfig, name: string): { layer: number; module: LoraModuleSpec; stem: string; ab: "A" | "B"; param: string } | undefined {
  const m = PEFT_KEY.exec(name);
  if (!m) return undefined;
  const module = modulePaths(c).get(m[2]);
  if (!module) return undefined;
  const layer = Number(m[1]);
  const stem = stemOf(tensorName(c, module.role, layer));
  const ab = m[3] as "A" | "B";
  return { layer, module, stem, ab, param: `${stem}.lora_${ab}` };
}

/** LoRA matrices with a scale per adapted layer (stem), as a PEFT adapter or a training run has them. */
export interface LoraWeights {
  /** `{stem}.lora_A` [r, in] and `{stem}.lora_B` [out, r]. */
  params: Map<string, Float32Array | Tensor>;
  /** stem -> scale (alpha / r, or per-layer from rank_pattern / alpha_pattern). */
  scalings: Map<string, number>;
}

/** The same scale for every layer of `spec` (a training run's parameters). */
export function loraWeights(c: ModelConfig, spec: LoraSpec, params: Map<string, Float32Array | Tensor>): LoraWeights {
  const scale = loraScaling(spec);
  return { params, scalings: new Map(loraSites(c, spec.targets).map((s) => [s.stem, scale])) };
}

/**
 * W' = W + scale * B @ A for every adapted layer (row sums in float64). Returns a new map sharing the
 * untouched tensors; the base weights are not modified.
 */
export function mergeLora(c: ModelConfig, weights: Map<string, Tensor>, lora: LoraWeights): Map<string, Tensor> {
  const data = (x: Float32Array | Tensor | undefined) => (x === undefined ? undefined : x instanceof Float32Array ? x : x.data);
  const sites = new Map(loraSites(c, "all-linear").map((s) => [s.stem, s]));
  const out = new Map(weights);
  for (const [stem, scale] of lora.scalings) {
    const site = sites.get(stem);
    if (!site) throw new TunekitError("adapter_base_mismatch", `the adapter adapts ${stem}, which this ${c.family} model does not have`, {});
    const A = data(lora.params.get(`${stem}.lora_A`));
    const B = data(lora.params.get(`${stem}.lora_B`));
    if (!A || !B) throw new TunekitError("adapter_missing_tensor", `the adapter has no ${stem} lora_A/lora_B`, { hint: "the adapter was trained with other target modules" });
    const base = weights.get(site.weight);
    if (!base) throw new TunekitError("missing_tensor", `the model has no tensor "${site.weight}"`);
    if (base.quantized) throw new Error(`mergeLora: ${site.weight} is quantized; merge into the float32 weights, then quantize`);
    const [outDim, inDim] = base.shape;
    const r = A.length / inDim;
    if (!Number.isInteger(r) || r < 1 || B.length !== outDim * r) {
      throw new TunekitError("adapter_base_mismatch", `the adapter's ${stem} does not fit the model's [${outDim} x ${inDim}] weight`, {
        hint: "the adapter belongs to a different base model",
      });
    }
    const merged = Float32Array.from(base.data);
    addLoraDelta(merged, 0, outDim, inDim, A, B, scale);
    out.set(site.weight, { shape: [outDim, inDim], data: merged });
  }
  return out;
}

/**
 * Adds scale * (B @ A) rows [rowStart, rowStart + rows) to `w` (those rows of a [out, in] weight,
 * row-major), each row summed in float64: the merge of one block of rows, so a large weight can be
 * merged as it is streamed.
 */
export function addLoraDelta(w: Float32Array, rowStart: number, rows: number, inDim: number, A: Float32Array, B: Float32Array, scale: number): void {
  const r = A.length / inDim;
  const row = new Float64Array(inDim);
  for (let j = 0; j < rows; j++) {
    const o = rowStart + j;
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const b = B[o * r + k] * scale;
      if (b === 0) continue;
      const aOff = k * inDim;
      for (let i = 0; i < inDim; i++) row[i] += b * A[aOff + i];
    }
    const off = j * inDim;
    for (let i = 0; i < inDim; i++) w[off + i] += row[i];
  }
}
