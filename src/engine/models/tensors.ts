/**
 * The tensors a decoder has, by role: which roles a ModelConfig implies and the shape of each. Names
 * come from the family (ModelConfig.tensorNames); shapes are the runtime's, written once here.
 */
import type { LinearRole, ModelConfig, TensorRole } from "../types.js";
import { tensorName } from "./family.js";

/** The roles of layer `i`, in checkpoint order. */
export function layerRoles(c: ModelConfig, i: number): TensorRole[] {
  if (c.layers[i]?.mixer === "linear_attention") {
    return ["attnNorm", "linQkv", "linZ", "linB", "linA", "linConv", "linDtBias", "linALog", "linNorm", "linOut", "mlpNorm", "gate", "up", "down"];
  }
  const roles: TensorRole[] = ["attnNorm", "q", "k", "v", "o"];
  if (c.qkvBias) roles.push("qBias", "kBias", "vBias");
  if (c.oBias) roles.push("oBias");
  if (c.qkNorm) roles.push("qNorm", "kNorm");
  if (c.sandwichNorms) roles.push("attnOutNorm");
  roles.push("mlpNorm", "gate", "up", "down");
  if (c.sandwichNorms) roles.push("mlpOutNorm");
  return roles;
}

/** [out, in] of a linear layer's weight. */
export function linearShape(c: ModelConfig, role: LinearRole): [number, number] {
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  const la = c.linearAttention;
  const lk = la ? la.numKeyHeads * la.keyHeadDim : 0;
  const lv = la ? la.numValueHeads * la.valueHeadDim : 0;
  switch (role) {
    case "q":
      return [c.attnOutputGate ? 2 * q : q, H];
    case "linQkv":
      return [2 * lk + lv, H];
    case "linZ":
      return [lv, H];
    case "linOut":
      return [H, lv];
    case "k":
    case "v":
      return [kv, H];
    case "o":
      return [H, q];
    case "gate":
    case "up":
      return [I, H];
    case "down":
      return [H, I];
  }
}

export function roleShape(c: ModelConfig, role: TensorRole): number[] {
  const H = c.hiddenSize;
  switch (role) {
    case "embed":
    case "lmHead":
      return [c.vocabSize, H];
    case "finalNorm":
    case "attnNorm":
    case "attnOutNorm":
    case "mlpNorm":
    case "mlpOutNorm":
    case "oBias":
      return [H];
    case "qBias":
      return [c.numHeads * c.headDim];
    case "kBias":
    case "vBias":
      return [c.numKvHeads * c.headDim];
    case "qNorm":
    case "kNorm":
      return [c.headDim];
    case "linB":
    case "linA":
      return [c.linearAttention!.numValueHeads, H];
    case "linConv":
      return [linearShape(c, "linQkv")[0], 1, c.linearAttention!.convKernel];
    case "linDtBias":
    case "linALog":
      return [c.linearAttention!.numValueHeads];
    case "linNorm":
      return [c.linearAttention!.valueHeadDim];
    default:
      return linearShape(c, role);
  }
}

/** Every tensor name the model needs with its shape (the untied head only when untied). */
export function expectedTensorShapes(c: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  m.set(tensorName(c, "embed"), roleShape(c, "embed"));
  for (let i = 0; i < c.numLayers; i++) for (const role of layerRoles(c, i)) m.set(tensorName(c, role, i), roleShape(c, role));
  m.set(tensorName(c, "finalNorm"), roleShape(c, "finalNorm"));
  if (!c.tieWordEmbeddings) m.set(tensorName(c, "lmHead"), roleShape(c, "lmHead"));
  return m;
}

/** The output embedding's name: the LM head, or the input embedding when tied (or the head is absent). */
export function outputEmbeddingName(c: ModelConfig, has: (name: string) => boolean): string {
  const head = c.tensorNames.lmHead;
  if (!c.tieWordEmbeddings && head !== undefined && has(head)) return head;
  return tensorName(c, "embed");
}

/** Whether a norm is stored zero-centred (applied as 1 + w). */
export function normOffset(c: ModelConfig): number {
  return c.norm === "rms_one_plus" ? 1 : 0;
}
