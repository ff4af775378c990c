/**
 * safetensors files: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw bytes.
 *
 * The reader validates the whole header before any tensor is read (offsets inside the file, no overlap,
 * shape x dtype size == byte length) and then reads one tensor at a time through a file descriptor,
 * so a multi-GB file is never held in memory twice. F32/F16/BF16 are converted to Float32Array.
 * The writer streams tensors into a temporary file that is renamed into place only when complete.
 */
import { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { TunekitError, fsError } from "../../util/errors.js";
import { withAtomicWriter } from "../../util/fs.js";
import type { Tensor } from "../types.js";

export type SafetensorsDtype = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  U32: 4,
  U64: 8,
};

/** Tensors tunekit computes with (everything is converted to float32). */
const FLOAT_DTYPES = new Set(["F32", "F16", "BF16"]);

/** Headers over this size are refused: real ones are a few MB at most, a larger number means garbage. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Byte offset where the data section starts. */
  dataStart: number;
  fileSize: number;
}

function corrupt(file: string, what: string): TunekitError {
  return new TunekitError("corrupt_safetensors", `${file} is not a valid safetensors file: ${what}`, {
    file,
    hint: "the file may be truncated or damaged; download or export it again",
  });
}

async function readExactly(fh: FileHandle, buf: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw corrupt(file, `unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

/** Parses and validates the header of an open safetensors file. */
export async function readSafetensorsHeaderFrom(fh: FileHandle, file: string): Promise<SafetensorsHeader> {
  const { size: fileSize } = await fh.stat();
  if (fileSize < 8) throw corrupt(file, `the file is only ${fileSize} bytes long`);
  const lenBuf = new Uint8Array(8);
  await readExactly(fh, lenBuf, 0, file);
  const headerLen = Number(new DataView(lenBuf.buffer).getBigUint64(0, true));
  if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > fileSize) {
    throw corrupt(file, `header length ${headerLen} does not fit a ${fileSize}-byte file`);
  }
  const headerBuf = new Uint8Array(headerLen);
  await readExactly(fh, headerBuf, 8, file);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBuf));
  } catch {
    throw corrupt(file, "the header is not valid JSON");
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw corrupt(file, "the header is not a JSON object");
  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (v && typeof v === "object") metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (!e || typeof e !== "object") throw corrupt(file, `entry "${name}" is not an object`);
    if (typeof e.dtype !== "string" || DTYPE_BYTES[e.dtype] === undefined) {
      throw corrupt(file, `tensor "${name}" has unknown dtype ${JSON.stringify(e.dtype)}`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw corrupt(file, `tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1]) {
      throw corrupt(file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const shape = e.shape as number[];
    const [begin, end] = off as [number, number];
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
    if (end - begin !== expected) {
      throw corrupt(
        file,
        `tensor "${name}" (${e.dtype} [${shape.join(", ")}]) needs ${expected} bytes but its offsets span ${end - begin}`,
      );
    }
    if (end > dataSize) {
      throw corrupt(file, `tensor "${name}" ends at byte ${end} of the data section, but the file holds only ${dataSize} data bytes (truncated?)`);
    }
    ranges.push([begin, end, name]);
    tensors.set(name, { name, dtype: e.dtype, shape, offset: dataStart + begin, byteLength: end - begin });
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) {
      throw corrupt(file, `tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
    }
  }
  return { tensors, metadata, dataStart, fileSize };
}

/** Converts raw little-endian bytes of a float dtype to float32. */
export function toFloat32(bytes: Uint8Array, dtype: string): Float32Array {
  const n = bytes.length / DTYPE_BYTES[dtype];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32": {
      if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
      return new Float32Array(bytes.slice().buffer);
    }
    case "F16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      return out;
    }
    case "BF16": {
      // bf16 is the top half of a float32: shift into place and reinterpret.
      const out = new Float32Array(n);
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = dv.getUint16(i * 2, true) << 16;
      return out;
    }
    default:
      throw new TunekitError("unsupported_dtype", `tensors of dtype ${dtype} cannot be used as weights`, {
        hint: "tunekit reads F32, F16 and BF16 weights",
      });
  }
}

/** IEEE half-precision bits -> number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** An open safetensors file: the validated header plus on-demand tensor reads. Call close() when done. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly header: SafetensorsHeader,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(path, "r");
    } catch (e) {
      throw fsError(e, path);
    }
    try {
      const header = await readSafetensorsHeaderFrom(fh, path);
      return new SafetensorsFile(path, header, fh);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  get names(): string[] {
    return [...this.header.tensors.keys()];
  }

  info(name: string): TensorInfo | undefined {
    return this.header.tensors.get(name);
  }

  /** Raw bytes of one tensor. */
  async readBytes(name: string): Promise<Uint8Array> {
    const info = this.header.tensors.get(name);
    if (!info) throw new TunekitError("tensor_not_found", `${this.path} has no tensor named "${name}"`, { file: this.path });
    const buf = new Uint8Array(info.byteLength);
    await readExactly(this.fh, buf, info.offset, this.path);
    return buf;
  }

  /** One tensor as float32 (F32, F16 and BF16 are accepted). */
  async readTensor(name: string): Promise<Tensor> {
    const info = this.header.tensors.get(name);
    if (!info) throw new TunekitError("tensor_not_found", `${this.path} has no tensor named "${name}"`, { file: this.path });
    if (!FLOAT_DTYPES.has(info.dtype)) {
      throw new TunekitError("unsupported_dtype", `tensor "${name}" in ${this.path} has dtype ${info.dtype}`, {
        file: this.path,
        hint: "tunekit reads F32, F16 and BF16 weights",
      });
    }
    return { shape: [...info.shape], data: toFloat32(await this.readBytes(name), info.dtype) };
  }

  /** Rows [start, start + count) of a tensor (split along its first dimension) as float32. */
  async readRows(name: string, start: number, count: number): Promise<Tensor> {
    const info = this.header.tensors.get(name);
    if (!info) throw new TunekitError("tensor_not_found", `${this.path} has no tensor named "${name}"`, { file: this.path });
    if (!FLOAT_DTYPES.has(info.dtype)) {
      throw new TunekitError("unsupported_dtype", `tensor "${name}" in ${this.path} has dtype ${info.dtype}`, { file: this.path, hint: "tunekit reads F32, F16 and BF16 weights" });
    }
    const rows = info.shape[0] ?? 1;
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > rows) {
      throw new Error(`readRows(${name}): rows [${start}, ${start + count}) are outside [0, ${rows})`);
    }
    const rowBytes = info.byteLength / rows;
    const buf = new Uint8Array(rowBytes * count);
    await readExactly(this.fh, buf, info.offset + rowBytes * start, this.path);
    return { shape: [count, ...info.shape.slice(1)], data: toFloat32(buf, info.dtype) };
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Reads every (float) tensor of a file. Fine for small files (adapters, fixtures). */
export async function readSafetensors(path: string): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  const f = await SafetensorsFile.open(path);
  try {
    const tensors = new Map<string, Tensor>();
    for (const name of f.names) tensors.set(name, await f.readTensor(name));
    return { tensors, metadata: f.header.metadata };
  } finally {
    await f.close();
  }
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
  /** Stored dtype; default F32. F16/BF16 round to nearest even. */
  dtype?: "F32" | "F16" | "BF16";
}

function encodeTensor(t: TensorToWrite): Uint8Array {
  const dtype = t.dtype ?? "F32";
  if (dtype === "F32") return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(t.data.length * 2);
  const dv = new DataView(out.buffer);
  const u32 = new Uint32Array(1);
  const f32 = new Float32Array(u32.buffer);
  for (let i = 0; i < t.data.length; i++) {
    f32[0] = t.data[i];
    const bits = u32[0];
    dv.setUint16(i * 2, dtype === "BF16" ? bf16Bits(bits) : floatToHalf(f32[0]), true);
  }
  return out;
}

function bf16Bits(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return (bits >>> 16) | 0x40; // keep NaN a NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function floatToHalf(v: number): number {
  // Fast correct-enough path through the math: round to nearest even via Math.fround is not available
  // for half, so do it by hand.
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (Number.isNaN(v)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -24 / 2) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal
  let exp = Math.floor(Math.log2(a));
  let mant = a / 2 ** exp - 1;
  let m = Math.round(mant * 1024);
  if (Math.abs(mant * 1024 - Math.trunc(mant * 1024) - 0.5) < 1e-12 && m % 2 === 1) m -= 1; // ties to even
  if (m === 1024) {
    m = 0;
    exp += 1;
  }
  if (exp + 15 >= 31) return sign | 0x7c00;
  mant = m;
  return sign | ((exp + 15) << 10) | mant;
}

/**
 * Writes tensors to `path` atomically, streaming one tensor at a time. Names must be unique. Tensors are
 * laid out in the given order with 8-byte aligned header padding (as the reference implementation does).
 */
export async function writeSafetensors(
  path: string,
  tensors: Iterable<TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  const list = [...tensors];
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of list) {
    if (Object.prototype.hasOwnProperty.call(header, t.name)) throw new Error(`duplicate tensor name ${t.name}`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor ${t.name}: shape [${t.shape}] holds ${count} values, data has ${t.data.length}`);
    const bytes = count * DTYPE_BYTES[t.dtype ?? "F32"];
    header[t.name] = { dtype: t.dtype ?? "F32", shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const raw = Buffer.byteLength(json);
  json += " ".repeat((8 - ((8 + raw) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  await withAtomicWriter(path, async (w) => {
    await w.write(len);
    await w.write(headerBytes);
    for (const t of list) await w.write(Buffer.from(encodeTensor(t)));
  });
}
