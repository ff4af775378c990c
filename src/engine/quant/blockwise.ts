/**
 * Block-wise integer quantization of a frozen weight matrix W [rows, cols], in the layout ONNX
 * Runtime's com.microsoft MatMulNBits reads (y = x W^T): each row is cut into blocks of `block`
 * consecutive columns (the last one zero-padded), each block stored as `bits`-bit unsigned codes
 * (4-bit: two per byte, low nibble first) with one float32 scale and one zero point per block
 * (4-bit zero points packed two per byte the same way). w = (q - zp) * scale. Asymmetric: a block's
 * range is [min(v, 0), max(v, 0)] mapped onto [0, 2^bits - 1], so zero stays exact.
 */
export type BaseBits = 4 | 8;

export interface QuantizedMatrix {
  rows: number;
  cols: number;
  bits: BaseBits;
  block: number;
  /** [rows, blocksPerRow, block * bits / 8] codes. */
  data: Uint8Array;
  /** [rows * blocksPerRow]. */
  scales: Float32Array;
  /** [rows * ceil(blocksPerRow * bits / 8)]: per-row zero points, packed like the codes. */
  zeroPoints: Uint8Array;
  /** The three arrays moved to a file (code-file.ts): the arrays above are then empty. */
  stored?: { data: StoredBytes; scales: StoredBytes; zeroPoints: StoredBytes };
}

/** Bytes in a file: `file` inside folder `dir`, at `offset`. */
export interface StoredBytes {
  dir: string;
  file: string;
  offset: number;
  length: number;
}

/**
 * Columns per block (MatMulNBits accepts powers of two >= 16; ORT's fast CPU kernels use 16..256). 128:
 * its int8 kernels ran 1.3-1.5x faster than with 32, and the 1B training step 1.46x (docs/engine.md);
 * on stories260K a 4-bit base still ends within 1% of the float32 base's held-out loss.
 */
export const DEFAULT_BLOCK = 128;

export const blocksPerRow = (cols: number, block: number) => Math.ceil(cols / block);
const zpBytesPerRow = (cols: number, block: number, bits: BaseBits) => Math.ceil((blocksPerRow(cols, block) * bits) / 8);

/**
 * Codes, scales and zero points are carved from 64 MB slabs. glibc serves a buffer that large with its
 * own mmap, so a slab goes back to the OS as soon as no matrix uses it; thousands of separate
 * megabyte-sized buffers, dropped once ONNX Runtime has copied them, stayed in the heap's free lists
 * and kept the process's memory up (docs/engine.md, "Quantized frozen base"). Slab memory starts zeroed
 * and is never reused, which the 4-bit packing below relies on.
 */
const SLAB_BYTES = 64 * 1024 * 1024;
let slab: { buffer: ArrayBuffer; used: number } | undefined;

function carve(bytes: number): { buffer: ArrayBuffer; offset: number } {
  if (bytes > SLAB_BYTES / 4) return { buffer: new ArrayBuffer(bytes), offset: 0 };
  if (!slab || slab.used + bytes > SLAB_BYTES) slab = { buffer: new ArrayBuffer(SLAB_BYTES), used: 0 };
  const offset = slab.used;
  slab.used += (bytes + 15) & ~15; // 16-byte aligned: Float32Array views, and SIMD-friendly for ORT's copy
  return { buffer: slab.buffer, offset };
}

const carveBytes = (n: number) => {
  const { buffer, offset } = carve(n);
  return new Uint8Array(buffer, offset, n);
};
const carveFloats = (n: number) => {
  const { buffer, offset } = carve(n * 4);
  return new Float32Array(buffer, offset, n);
};

/**
 * Quantize W [rows, cols] (row-major; `transpose` reads it as W^T [cols, rows] instead, for the
 * backward product dx = dy W, so no transposed float copy is ever made).
 */
export function quantize(w: Float32Array, rows: number, cols: number, bits: BaseBits, block = DEFAULT_BLOCK, transpose = false): QuantizedMatrix {
  const R = transpose ? cols : rows;
  const C = transpose ? rows : cols;
  if (w.length !== rows * cols) throw new Error(`quantize: ${w.length} values for ${rows}x${cols}`);
  const nb = blocksPerRow(C, block);
  const blob = (block * bits) / 8;
  const qmax = (1 << bits) - 1;
  const data = carveBytes(R * nb * blob);
  const scales = carveFloats(R * nb);
  const zpRow = zpBytesPerRow(C, block, bits);
  const zeroPoints = carveBytes(R * zpRow);
  const v = new Float32Array(block);
  for (let r = 0; r < R; r++) {
    for (let b = 0; b < nb; b++) {
      const c0 = b * block;
      const n = Math.min(block, C - c0);
      let lo = 0;
      let hi = 0;
      for (let j = 0; j < n; j++) {
        const x = transpose ? w[(c0 + j) * cols + r] : w[r * cols + c0 + j];
        v[j] = x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      const scale = Math.fround((hi - lo) / qmax);
      const zp = scale === 0 ? 0 : Math.min(qmax, Math.max(0, Math.round(-lo / scale)));
      const inv = scale === 0 ? 0 : 1 / scale;
      scales[r * nb + b] = scale;
      const base = (r * nb + b) * blob;
      for (let j = 0; j < block; j++) {
        const q = j < n ? Math.min(qmax, Math.max(0, Math.round(v[j] * inv) + zp)) : zp;
        if (bits === 8) data[base + j] = q;
        else data[base + (j >> 1)] |= j & 1 ? q << 4 : q;
      }
      if (bits === 8) zeroPoints[r * zpRow + b] = zp;
      else zeroPoints[r * zpRow + (b >> 1)] |= b & 1 ? zp << 4 : zp;
    }
  }
  return { rows: R, cols: C, bits, block, data, scales, zeroPoints };
}

/** The float32 values a quantized matrix stands for, [rows, cols]. */
export function dequantize(q: QuantizedMatrix): Float32Array {
  if (q.stored) throw new Error("dequantize: the codes are in a file");
  const { rows: R, cols: C, bits, block } = q;
  const nb = blocksPerRow(C, block);
  const blob = (block * bits) / 8;
  const zpRow = zpBytesPerRow(C, block, bits);
  const out = new Float32Array(R * C);
  for (let r = 0; r < R; r++) {
    for (let b = 0; b < nb; b++) {
      const scale = q.scales[r * nb + b];
      const zb = bits === 8 ? q.zeroPoints[r * zpRow + b] : (q.zeroPoints[r * zpRow + (b >> 1)] >> (b & 1 ? 4 : 0)) & 15;
      const base = (r * nb + b) * blob;
      const n = Math.min(block, C - b * block);
      for (let j = 0; j < n; j++) {
        const code = bits === 8 ? q.data[base + j] : (q.data[base + (j >> 1)] >> (j & 1 ? 4 : 0)) & 15;
        out[r * C + b * block + j] = (code - zb) * scale;
      }
    }
  }
  return out;
}

/** Bytes a quantized matrix holds in memory (none once stored in a file). */
export const quantizedBytes = (q: QuantizedMatrix) => q.data.byteLength + q.scales.byteLength + q.zeroPoints.byteLength;

/** Bytes a `rows` x `cols` matrix takes quantized (codes, scales and zero points). */
export function quantizedSize(rows: number, cols: number, bits: BaseBits, block = DEFAULT_BLOCK): number {
  const nb = blocksPerRow(cols, block);
  return rows * (nb * ((block * bits) / 8) + nb * 4 + zpBytesPerRow(cols, block, bits));
}

/** Rows [start, end) of a quantized matrix: views of the same codes (or the same bytes of its file), never a copy. */
export function rowSlice(q: QuantizedMatrix, start: number, end: number): QuantizedMatrix {
  const nb = blocksPerRow(q.cols, q.block);
  const codeRow = nb * ((q.block * q.bits) / 8);
  const zpRow = zpBytesPerRow(q.cols, q.block, q.bits);
  const rows = end - start;
  const part = (s: StoredBytes, perRow: number): StoredBytes => ({ ...s, offset: s.offset + start * perRow, length: rows * perRow });
  return {
    ...q,
    rows,
    data: q.data.subarray(start * codeRow, end * codeRow),
    scales: q.scales.subarray(start * nb, end * nb),
    zeroPoints: q.zeroPoints.subarray(start * zpRow, end * zpRow),
    ...(q.stored ? { stored: { data: part(q.stored.data, codeRow), scales: part(q.stored.scales, nb * 4), zeroPoints: part(q.stored.zeroPoints, zpRow) } } : {}),
  };
}
