/**
 * Tensor data in the ggml types a GGUF export writes: F32, F16, BF16 and Q8_0, with their byte
 * sizes and encoders from float32. Rounding follows what llama.cpp's converter produces: F16 and BF16
 * round to nearest even (numpy / torch casts), Q8_0 is ggml's reference quantizer (blocks of 32
 * values along a row: an F16 scale d = max|x| / 127, then round(x / d) as int8, halves away from zero).
 */

/** ggml_type ids (ggml.h). */
export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q8_0: 8,
  BF16: 30,
} as const;

export type GgmlType = (typeof GGML_TYPE)[keyof typeof GGML_TYPE];

/** Values per Q8_0 block, and bytes per block (an F16 scale + 32 int8). */
export const Q8_0_BLOCK = 32;
const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK;

/** Bytes of one row of `n` values. */
export function rowByteSize(type: GgmlType, n: number): number {
  switch (type) {
    case GGML_TYPE.F32:
      return 4 * n;
    case GGML_TYPE.F16:
    case GGML_TYPE.BF16:
      return 2 * n;
    case GGML_TYPE.Q8_0:
      if (n % Q8_0_BLOCK !== 0) throw new Error(`Q8_0 needs rows that are a multiple of ${Q8_0_BLOCK} values, got ${n}`);
      return (n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
  }
  throw new Error(`unknown ggml type ${String(type)}`);
}

/** Bytes of a tensor with ggml dims (dims[0] = row length). */
export function tensorByteSize(type: GgmlType, dims: readonly number[]): number {
  const rows = dims.slice(1).reduce((a, b) => a * b, 1);
  return rowByteSize(type, dims[0] ?? 1) * rows;
}

import { halfToFloat } from "../../engine/io/safetensors.js";

/** IEEE half bits -> number. */
export const f16BitsToF32 = halfToFloat;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 bits -> IEEE half bits, round to nearest even (overflow to infinity, NaN kept). */
function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry into the exponent is correct (up to infinity)
  return sign | h;
}

/** float32 -> IEEE half bits, round to nearest even (overflow to infinity, NaN kept). */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  return f32BitsToF16Bits(u32[0]);
}


/** float32 bits -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN), as gguf-py and torch do. */
function f32BitsToBf16Bits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) & 0xffff) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN), as gguf-py and torch do. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  return f32BitsToBf16Bits(u32[0]);
}

/** Typed-array views write little-endian bytes only on little-endian machines (all Node targets in practice). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encodes rows of float32 values (row length `n`) as `type`. Returns a new buffer each call (a
 * stream may still hold the previous one).
 */
export function encodeRows(type: GgmlType, data: Float32Array, n: number): Uint8Array {
  const out = new Uint8Array(rowByteSize(type, n) * (data.length / n));
  const dv = new DataView(out.buffer);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  switch (type) {
    case GGML_TYPE.F32:
      if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      else for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
      return out;
    // One loop per type with the conversion called directly: V8 inlines it (a function variable costs ~5x).
    case GGML_TYPE.F16: {
      if (LITTLE_ENDIAN) {
        const u16 = new Uint16Array(out.buffer);
        for (let i = 0; i < data.length; i++) u16[i] = f32BitsToF16Bits(bits[i]);
      } else for (let i = 0; i < data.length; i++) dv.setUint16(i * 2, f32BitsToF16Bits(bits[i]), true);
      return out;
    }
    case GGML_TYPE.BF16: {
      if (LITTLE_ENDIAN) {
        const u16 = new Uint16Array(out.buffer);
        for (let i = 0; i < data.length; i++) u16[i] = f32BitsToBf16Bits(bits[i]);
      } else for (let i = 0; i < data.length; i++) dv.setUint16(i * 2, f32BitsToBf16Bits(bits[i]), true);
      return out;
    }
    case GGML_TYPE.Q8_0: {
      const blocks = data.length / Q8_0_BLOCK;
      const q = new Int8Array(out.buffer);
      for (let b = 0; b < blocks; b++) {
        const base = b * Q8_0_BLOCK;
        let amax = 0;
        for (let j = 0; j < Q8_0_BLOCK; j++) {
          const a = Math.abs(data[base + j]);
          if (a > amax) amax = a;
        }
        const d = Math.fround(amax / 127);
        const id = d !== 0 ? Math.fround(1 / d) : 0;
        const o = b * Q8_0_BLOCK_BYTES;
        dv.setUint16(o, f32ToF16Bits(d), true);
        for (let j = 0; j < Q8_0_BLOCK; j++) {
          const v = Math.fround(data[base + j] * id);
          // roundf: halves away from zero
          q[o + 2 + j] = v < 0 ? -Math.round(-v) : Math.round(v);
        }
      }
      return out;
    }
  }
  throw new Error(`unknown ggml type ${String(type)}`);
}

/** Decodes rows back to float32 (tests, and the quantization error a report shows). */
export function decodeRows(type: GgmlType, bytes: Uint8Array, n: number): Float32Array {
  const rows = bytes.length / rowByteSize(type, n);
  const out = new Float32Array(rows * n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case GGML_TYPE.F32:
      for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case GGML_TYPE.F16:
      for (let i = 0; i < out.length; i++) out[i] = f16BitsToF32(dv.getUint16(i * 2, true));
      return out;
    case GGML_TYPE.BF16:
      for (let i = 0; i < out.length; i++) {
        u32[0] = dv.getUint16(i * 2, true) << 16;
        out[i] = f32[0];
      }
      return out;
    case GGML_TYPE.Q8_0:
      for (let b = 0; b < out.length / Q8_0_BLOCK; b++) {
        const o = b * Q8_0_BLOCK_BYTES;
        const d = f16BitsToF32(dv.getUint16(o, true));
        for (let j = 0; j < Q8_0_BLOCK; j++) out[b * Q8_0_BLOCK + j] = d * dv.getInt8(o + 2 + j);
      }
      return out;
  }
  throw new Error(`unknown ggml type ${String(type)}`);
}
