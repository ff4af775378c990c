/** Shape rules over partly symbolic dimensions (numbers are fixed sizes, strings named sizes). */
import type { Dim } from "../onnx/model.js";

/** Numpy-style broadcast of two shapes. An unknown pairing of two different names keeps the first. */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (typeof da === "number" && typeof db === "number" && da !== db) {
      throw new Error(`graph: cannot broadcast [${a}] with [${b}]`);
    } else out.push(typeof da === "number" ? da : db);
  }
  return out;
}

export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`graph: axis ${axis} out of range for rank ${rank}`);
  return a;
}

let unknownCounter = 0;

/** A fresh name for a size known only at run time (never equal to another unknown size). */
export function unknownDim(): string {
  return `?${unknownCounter++}`;
}

/** Output shape of Reshape with ONNX's 0 (copy) and -1 (infer) conventions. */
export function reshapeShape(input: readonly Dim[], spec: readonly number[]): Dim[] {
  const out: Dim[] = spec.map((s, i) => (s === 0 ? input[i] : s));
  const inf = out.indexOf(-1);
  if (inf >= 0) {
    const allStatic = input.every((d) => typeof d === "number") && out.every((d, i) => i === inf || typeof d === "number");
    if (allStatic) {
      const total = (input as number[]).reduce((x, y) => x * y, 1);
      const rest = (out as number[]).reduce((x, y, i) => (i === inf ? x : x * y), 1);
      out[inf] = total / rest;
    } else {
      out[inf] = unknownDim();
    }
  }
  return out;
}

export function sameShape(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
