/**
 * Plain descriptions of an ONNX model (nodes, tensors, value infos) and their encoding to ModelProto
 * bytes. Field numbers follow onnx.proto; only what tunekit emits is covered.
 */
import { ProtoWriter } from "./protobuf.js";

export type ElemType = "float32" | "float64" | "int64" | "int32" | "bool" | "float16" | "uint8";

export const ELEM_TYPE_CODE: Record<ElemType, number> = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};

/** A dimension is a fixed size or a named symbolic size ("batch"). */
export type Dim = number | string;

/** Attribute values. Floats must be tagged: a JS number alone is written as an int. */
export type AttrValue =
  | { kind: "float"; value: number }
  | { kind: "int"; value: number }
  | { kind: "string"; value: string }
  | { kind: "ints"; value: number[] }
  | { kind: "floats"; value: number[] }
  | { kind: "tensor"; value: TensorInit }
  /** A subgraph (the body of Scan / Loop); it may read values of the enclosing graph by name. */
  | { kind: "graph"; value: OnnxGraph };

/** The graph part of a model: a subgraph attribute's value. */
export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: TensorInit[];
}

export interface OnnxNode {
  opType: string;
  domain?: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface TensorInit {
  name: string;
  elemType: ElemType;
  dims: number[];
  /** Raw little-endian bytes of the tensor (referenced, not copied, when encoding). */
  raw: Uint8Array;
  /**
   * Stored outside the model under this location (ONNX external data): the bytes are handed to ONNX
   * Runtime beside the model (`externalData`), so the model stays under protobuf's 2 GB limit.
   */
  external?: string;
  /** With `external`: the bytes are already in that file, here (raw is then empty). */
  stored?: { offset: number; length: number };
}

export interface ValueInfo {
  name: string;
  elemType: ElemType;
  shape: Dim[];
}

export interface OnnxModel {
  nodes: OnnxNode[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: TensorInit[];
  opsetVersion: number;
  /** Extra operator-set domains, e.g. { "com.microsoft": 1 } for FusedMatMul. */
  extraOpsets?: Record<string, number>;
}

export const fl = (value: number): AttrValue => ({ kind: "float", value });
export const int = (value: number): AttrValue => ({ kind: "int", value });
export const ints = (value: number[]): AttrValue => ({ kind: "ints", value });
export const str = (value: string): AttrValue => ({ kind: "string", value });

function encodeTensor(t: TensorInit): ProtoWriter {
  const w = new ProtoWriter();
  w.packedInts(1, t.dims);
  w.int(2, ELEM_TYPE_CODE[t.elemType]);
  w.string(8, t.name);
  if (t.external === undefined) return w.bytes(9, t.raw);
  const entry = (key: string, value: string) => new ProtoWriter().string(1, key).string(2, value);
  w.message(13, entry("location", t.external));
  w.message(13, entry("offset", String(t.stored?.offset ?? 0)));
  w.message(13, entry("length", String(t.stored?.length ?? t.raw.byteLength)));
  w.int(14, 1); // data_location = EXTERNAL
  return w;
}

function encodeAttr(name: string, a: AttrValue): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, name);
  switch (a.kind) {
    case "float":
      w.float(2, a.value).int(20, 1);
      break;
    case "int":
      w.int(3, a.value).int(20, 2);
      break;
    case "string":
      w.string(4, a.value).int(20, 3);
      break;
    case "tensor":
      w.message(5, encodeTensor(a.value)).int(20, 4);
      break;
    case "floats":
      w.packedFloats(7, a.value).int(20, 6);
      break;
    case "ints":
      w.packedInts(8, a.value).int(20, 7);
      break;
    case "graph":
      w.message(6, encodeGraph(a.value)).int(20, 5);
      break;
  }
  return w;
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attrs)) w.message(5, encodeAttr(k, v));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function encodeValueInfo(v: ValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === "number") dim.int(1, d);
    else if (d !== "") dim.string(2, d); // "" = unknown size
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, ELEM_TYPE_CODE[v.elemType]).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

function encodeGraph(m: OnnxGraph): ProtoWriter {
  const g = new ProtoWriter();
  for (const n of m.nodes) g.message(1, encodeNode(n));
  g.string(2, m.name);
  for (const t of m.initializers) g.message(5, encodeTensor(t));
  for (const v of m.inputs) g.message(11, encodeValueInfo(v));
  for (const v of m.outputs) g.message(12, encodeValueInfo(v));
  return g;
}

/** Serialise to ModelProto bytes (IR version 8). */
export function encodeModel(m: OnnxModel): Uint8Array {
  const g = encodeGraph({ ...m, name: "tunekit" });

  const model = new ProtoWriter();
  model.int(1, 8);
  model.string(2, "tunekit");
  model.message(7, g);
  model.message(8, new ProtoWriter().string(1, "").int(2, m.opsetVersion));
  for (const [domain, version] of Object.entries(m.extraOpsets ?? {})) {
    model.message(8, new ProtoWriter().string(1, domain).int(2, version));
  }
  return model.finish();
}
