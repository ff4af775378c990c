/**
 * Additive attention biases built in JS (0 = may attend, NEG = may not): causal, padding, packed
 * segments (block-diagonal: packed examples never see each other) and Mistral's sliding window.
 * They are small ([B, T, S]) next to the model, and JS is the simplest place to get them right.
 */

/** Large enough that exp(score + NEG) is exactly 0, finite so a fully masked row never becomes NaN. */
export const NEG = -1e9;

/**
 * Training/eval bias [B, 1, T, T]: query q may see key k when k <= q, both are in the same segment
 * and the key is not padding (segment 0), and (with a window) q - k < window.
 */
export function segmentBias(segmentIds: ArrayLike<number>, B: number, T: number, window?: number, out?: Float32Array | Float64Array): Float32Array | Float64Array {
  const bias = out ?? new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < T; q++) {
      const sq = segmentIds[b * T + q];
      const row = (b * T + q) * T;
      for (let k = 0; k < T; k++) {
        const sk = segmentIds[b * T + k];
        const ok = k <= q && sk !== 0 && sk === sq && (window === undefined || q - k < window);
        bias[row + k] = ok ? 0 : NEG;
      }
    }
  }
  return bias;
}

/**
 * Inference bias [B, 1, T, S] for T new tokens after P = S - T cached ones: query q (absolute index
 * P + q) may see key k when k <= P + q and attentionMask[b][k] = 1 (left padding is 0).
 */
export function cacheBias(attentionMask: ArrayLike<number>, B: number, T: number, S: number, window?: number, out?: Float32Array | Float64Array): Float32Array | Float64Array {
  const P = S - T;
  const bias = out ?? new Float32Array(B * T * S);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < T; q++) {
      const row = (b * T + q) * S;
      const aq = P + q;
      for (let k = 0; k < S; k++) {
        const ok = k <= aq && attentionMask[b * S + k] !== 0 && (window === undefined || aq - k < window);
        bias[row + k] = ok ? 0 : NEG;
      }
    }
  }
  return bias;
}

/** Positions restarting at 0 in every segment (packed rows), 0 on padding. */
export function segmentPositions(segmentIds: ArrayLike<number>, B: number, T: number): Int32Array {
  const pos = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    let p = 0;
    for (let t = 0; t < T; t++) {
      const s = segmentIds[b * T + t];
      if (t > 0 && s !== segmentIds[b * T + t - 1]) p = 0;
      pos[b * T + t] = s === 0 ? 0 : p++;
    }
  }
  return pos;
}
