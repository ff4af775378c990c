/**
 * The GGUF v3 container (llama.cpp's file format), written as a stream:
 *
 *   "GGUF" | version u32 = 3 | tensor count u64 | metadata count u64
 *   metadata: key (u64 length + UTF-8) | value type u32 | value (arrays: item type u32, count u64, items)
 *   tensor infos: name | n_dims u32 | dims u64 x n (ggml order: dims[0] is the row length) | type u32 | offset u64
 *   padding to the alignment, then each tensor's data, each padded to the alignment
 *
 * All numbers are little-endian. The header is built in memory (it holds the vocabulary: a few MB); the
 * tensor data is produced one tensor at a time by the caller and streamed into an atomic writer, so a
 * failure anywhere leaves no file behind.
 */
import { withAtomicWriter, type AtomicWriter } from "../../util/fs.js";
import { tensorByteSize, type GgmlType } from "./tensor-data.js";

export const GGUF_MAGIC = "GGUF";
export const GGUF_VERSION = 3;
/** llama.cpp's default `general.alignment`. */
export const GGUF_ALIGNMENT = 32;

/** GGUF metadata value types (gguf.h). */
export const GGUF_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type ScalarType = Exclude<keyof typeof GGUF_TYPE, "array">;

/** One metadata entry: a scalar, or an array of one scalar type. */
export type MetadataValue =
  | { type: ScalarType; value: number | bigint | boolean | string }
  | { type: "array"; itemType: ScalarType; values: readonly (number | bigint | boolean | string)[] };

export interface MetadataEntry {
  key: string;
  value: MetadataValue;
}

/** Builders for metadata entries. */
export const kv = {
  u32: (key: string, value: number): MetadataEntry => ({ key, value: { type: "u32", value } }),
  i32: (key: string, value: number): MetadataEntry => ({ key, value: { type: "i32", value } }),
  f32: (key: string, value: number): MetadataEntry => ({ key, value: { type: "f32", value } }),
  bool: (key: string, value: boolean): MetadataEntry => ({ key, value: { type: "bool", value } }),
  str: (key: string, value: string): MetadataEntry => ({ key, value: { type: "string", value } }),
  strings: (key: string, values: readonly string[]): MetadataEntry => ({ key, value: { type: "array", itemType: "string", values } }),
  i32s: (key: string, values: readonly number[]): MetadataEntry => ({ key, value: { type: "array", itemType: "i32", values } }),
  f32s: (key: string, values: readonly number[]): MetadataEntry => ({ key, value: { type: "array", itemType: "f32", values } }),
};

/** A tensor to write: its shape in ggml order and a producer that writes exactly its bytes. */
export interface GgufTensor {
  name: string;
  /** ggml order: dims[0] is the length of a row (the reverse of PyTorch / safetensors order). */
  dims: number[];
  type: GgmlType;
  /** Writes the tensor's data (exactly tensorByteSize(type, dims) bytes) through `write`. */
  produce(write: (bytes: Uint8Array) => Promise<void>): Promise<void>;
}

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private static readonly encoder = new TextEncoder();

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number) {
    this.reserve(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number) {
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number) {
    this.reserve(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number) {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number) {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: number | bigint) {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  i64(v: number | bigint) {
    this.reserve(8);
    this.view.setBigInt64(this.length, BigInt(v), true);
    this.length += 8;
  }
  string(s: string) {
    const bytes = ByteSink.encoder.encode(s);
    this.u64(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  padTo(alignment: number) {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeScalar(out: ByteSink, type: ScalarType, v: number | bigint | boolean | string, key: string): void {
  const num = (): number => {
    if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`GGUF metadata ${key}: expected a finite number, got ${String(v)}`);
    return v;
  };
  const int = (lo: number, hi: number): number => {
    const n = num();
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`GGUF metadata ${key}: ${n} does not fit ${type}`);
    return n;
  };
  switch (type) {
    case "u8":
      return out.u8(int(0, 0xff));
    case "i8":
      return out.i8(int(-0x80, 0x7f));
    case "u16":
      return out.u16(int(0, 0xffff));
    case "i16":
      return out.i16(int(-0x8000, 0x7fff));
    case "u32":
      return out.u32(int(0, 0xffffffff));
    case "i32":
      return out.i32(int(-0x80000000, 0x7fffffff));
    case "f32":
      return out.f32(num());
    case "f64":
      return out.f64(num());
    case "u64":
      return out.u64(typeof v === "bigint" ? v : int(0, Number.MAX_SAFE_INTEGER));
    case "i64":
      return out.i64(typeof v === "bigint" ? v : int(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
    case "bool":
      if (typeof v !== "boolean") throw new Error(`GGUF metadata ${key}: expected a boolean`);
      return out.u8(v ? 1 : 0);
    case "string":
      if (typeof v !== "string") throw new Error(`GGUF metadata ${key}: expected a string`);
      return out.string(v);
  }
}

/** The header (everything before the tensor data) and each tensor's offset in the data section. */
export function encodeHeader(metadata: readonly MetadataEntry[], tensors: readonly Pick<GgufTensor, "name" | "dims" | "type">[], alignment = GGUF_ALIGNMENT): { header: Uint8Array; sizes: number[] } {
  const keys = new Set<string>();
  for (const e of metadata) {
    if (keys.has(e.key)) throw new Error(`GGUF metadata key ${e.key} appears twice`);
    keys.add(e.key);
  }
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF tensor ${t.name} appears twice`);
    names.add(t.name);
  }
  const out = new ByteSink();
  for (const c of GGUF_MAGIC) out.u8(c.charCodeAt(0));
  out.u32(GGUF_VERSION);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const { key, value } of metadata) {
    out.string(key);
    if (value.type === "array") {
      out.u32(GGUF_TYPE.array);
      out.u32(GGUF_TYPE[value.itemType]);
      out.u64(value.values.length);
      for (const v of value.values) writeScalar(out, value.itemType, v, key);
    } else {
      out.u32(GGUF_TYPE[value.type]);
      writeScalar(out, value.type, value.value, key);
    }
  }
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.type);
    out.u64(offset);
    const size = tensorByteSize(t.type, t.dims);
    sizes.push(size);
    offset += size + ((alignment - (size % alignment)) % alignment);
  }
  out.padTo(alignment);
  return { header: out.bytes(), sizes };
}

export interface WriteGgufOptions {
  /** Called after each tensor is written (for a progress bar). */
  onTensor?: (done: number, total: number, name: string) => void;
}

/**
 * Writes a GGUF file atomically: the header, then each tensor's data as its producer writes it. A
 * producer that writes the wrong number of bytes is a bug and fails the write (no file is left).
 */
export async function writeGguf(path: string, metadata: readonly MetadataEntry[], tensors: readonly GgufTensor[], opts: WriteGgufOptions = {}): Promise<{ bytes: number }> {
  const { header, sizes } = encodeHeader(metadata, tensors);
  return withAtomicWriter(path, async (w: AtomicWriter) => {
    await w.write(header);
    let total = header.length;
    const zeros = new Uint8Array(GGUF_ALIGNMENT);
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i];
      let written = 0;
      await t.produce(async (bytes) => {
        written += bytes.length;
        if (written > sizes[i]) throw new Error(`GGUF tensor ${t.name}: producer wrote more than its ${sizes[i]} bytes`);
        await w.write(bytes);
      });
      if (written !== sizes[i]) throw new Error(`GGUF tensor ${t.name}: producer wrote ${written} bytes, expected ${sizes[i]}`);
      const pad = (GGUF_ALIGNMENT - (written % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
      if (pad > 0) await w.write(zeros.subarray(0, pad));
      total += written + pad;
      opts.onTensor?.(i + 1, tensors.length, t.name);
    }
    return { bytes: total };
  });
}
