/** Comparing a computed tensor with a reference one. */
import assert from "node:assert/strict";

/** max |a - b| / max |b|: one scale for the whole tensor, so near-zero elements do not dominate. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "length mismatch");
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}
