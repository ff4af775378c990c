/**
 * Finite-difference checking of graph gradients: build a float64 graph, get the autodiff gradients
 * from ORT, and compare each element with a central difference of the same graph's loss.
 */
import { Graph, type Value } from "../../src/engine/graph/graph.js";
import * as op from "../../src/engine/graph/ops.js";
import { gradients } from "../../src/engine/graph/autodiff.js";
import { encodeModel } from "../../src/engine/onnx/model.js";
import { Session, tensor, type ort } from "../../src/engine/runtime/session.js";
import { seededRandom } from "../../src/util/random.js";

/** The shared seeded PRNG (mulberry32) so tests are reproducible. */
export const rng = seededRandom;

export function randn(r: () => number, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()) * scale;
  }
  return out;
}

export interface DiffInput {
  name: string;
  shape: number[];
  data: Float64Array;
}

export interface GradCheckResult {
  maxRelError: number;
  worst: string;
}

/**
 * `build` receives the differentiable inputs (float64 graph inputs) and returns the output value; the
 * checked loss is sum(output * R) for a fixed random R, so every output element matters.
 */
export async function gradCheck(
  inputs: DiffInput[],
  build: (g: Graph, xs: Value[]) => Value,
  opts: { eps?: number; seed?: number; extraFeeds?: Record<string, ort.Tensor> } = {},
): Promise<GradCheckResult> {
  const g = new Graph();
  const xs = inputs.map((i) => g.input(i.name, "float64", i.shape));
  const y = build(g, xs);
  const ys = y.shape as number[];
  const r = rng(opts.seed ?? 7);
  const n = ys.reduce((a, b) => a * b, 1);
  const R = g.constF("float64", randn(r, n), ys);
  const loss = y.shape.length === 0 ? op.mul(g, y, R) : op.reduceSum(g, op.mul(g, y, R), ys.map((_, i) => i));
  const grads = gradients(g, loss, xs);
  g.output(loss, "loss");
  grads.forEach((gv, i) => g.output(gv, `grad_${i}`));
  const session = await Session.create(encodeModel(g.toModel()), { threads: 1 });
  const feeds = (datas: Float64Array[]) => {
    const f: Record<string, ort.Tensor> = { ...(opts.extraFeeds ?? {}) };
    inputs.forEach((inp, i) => (f[inp.name] = tensor("float64", datas[i], inp.shape)));
    return f;
  };
  const base = inputs.map((i) => Float64Array.from(i.data));
  const res = await session.run(
    feeds(base),
    grads.map((_, i) => `grad_${i}`),
  );
  const eps = opts.eps ?? 1e-6;
  let maxRel = 0;
  let worst = "";
  for (let k = 0; k < inputs.length; k++) {
    const analytic = res[`grad_${k}`].data as Float64Array;
    for (let j = 0; j < inputs[k].data.length; j++) {
      const plus = base.map((b) => Float64Array.from(b));
      plus[k][j] += eps;
      const minus = base.map((b) => Float64Array.from(b));
      minus[k][j] -= eps;
      const lp = (await session.run(feeds(plus), ["loss"])).loss.data[0] as number;
      const lm = (await session.run(feeds(minus), ["loss"])).loss.data[0] as number;
      const numeric = (lp - lm) / (2 * eps);
      const rel = Math.abs(numeric - analytic[j]) / Math.max(1e-3, Math.abs(numeric), Math.abs(analytic[j]));
      if (rel > maxRel) {
        maxRel = rel;
        worst = `${inputs[k].name}[${j}]: numeric ${numeric} analytic ${analytic[j]}`;
      }
    }
  }
  await session.dispose();
  return { maxRelError: maxRel, worst };
}
