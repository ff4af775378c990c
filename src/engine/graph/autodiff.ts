/**
 * Reverse-mode autodiff over the tape: walk op applications backwards from the loss, call each op's
 * VJP for the inputs that lie on a path to a requested parameter, and sum gradient contributions.
 * Nothing is computed for frozen values (weights, masks): only the paths to `wrt` are differentiated.
 */
import type { Graph, Value } from "./graph.js";
import { add } from "./ops.js";

/** Gradients of scalar `loss` with respect to each of `wrt` (a zero-free graph: every `wrt` must reach the loss). */
export function gradients(g: Graph, loss: Value, wrt: Value[], seed?: Value): Value[] {
  const tapeLen = g.tape.length;
  // Values that depend on some wrt value.
  const dependsOnParam = new Set(wrt.map((v) => v.name));
  for (let i = 0; i < tapeLen; i++) {
    const e = g.tape[i];
    if (e.inputs.some((v) => dependsOnParam.has(v.name))) for (const o of e.outputs) dependsOnParam.add(o.name);
  }
  if (!dependsOnParam.has(loss.name)) throw new Error("autodiff: the loss does not depend on the parameters");

  const grads = new Map<string, Value>();
  grads.set(loss.name, seed ?? g.constF(loss.dtype, 1));
  for (let i = tapeLen - 1; i >= 0; i--) {
    const e = g.tape[i];
    const gys = e.outputs.map((o) => grads.get(o.name));
    if (gys.every((x) => x === undefined)) continue;
    const need = e.inputs.map((v) => dependsOnParam.has(v.name));
    if (!need.some(Boolean)) continue;
    const gxs = e.vjp(gys, need);
    e.inputs.forEach((v, k) => {
      const gx = gxs[k];
      if (!need[k] || gx === undefined) return;
      const prev = grads.get(v.name);
      grads.set(v.name, prev ? add(g, prev, gx) : gx);
    });
  }
  return wrt.map((v) => {
    const gv = grads.get(v.name);
    if (!gv) throw new Error(`autodiff: no gradient reaches ${v.name}`);
    return gv;
  });
}
