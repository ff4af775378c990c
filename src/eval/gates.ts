/**
 * CI gates: `--fail-if "format_compliance < 0.95"`. A gate names a metric (optionally `MODEL.metric`),
 * a comparison and a number; it applies to the last model given (the candidate) unless a model is named.
 * Metrics are in [0, 1] as in results.json, except costs (USD), latencies (ms) and token counts.
 */
import { TunekitError } from "../util/errors.js";

export type GateOp = "<" | "<=" | ">" | ">=" | "==" | "!=";

export interface Gate {
  source: string;
  model?: string;
  metric: string;
  op: GateOp;
  value: number;
}

export interface GateResult extends Gate {
  /** The model the gate was checked on. */
  checkedModel: string;
  actual: number | null;
  /** True when the gate's condition holds, i.e. the build should fail. */
  failed: boolean;
  text: string;
}

const GATE_RE = /^\s*(?:([\w.:@/-]+?)\.)?([a-z_][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*(%?)\s*$/i;

export function parseGate(source: string, knownMetrics: string[]): Gate {
  const m = GATE_RE.exec(source);
  if (!m) {
    throw new TunekitError("bad_gate", `cannot read --fail-if "${source}"`, {
      hint: 'write METRIC OP NUMBER, e.g. --fail-if "format_compliance < 0.95" or --fail-if "tuned.retention < 0.8"',
    });
  }
  const metric = m[2].toLowerCase();
  if (!knownMetrics.includes(metric)) {
    throw new TunekitError("bad_gate", `--fail-if "${source}": unknown metric "${metric}"`, {
      hint: `known metrics: ${knownMetrics.join(", ")}`,
    });
  }
  const value = Number(m[4]) / (m[5] === "%" ? 100 : 1);
  return { source, ...(m[1] ? { model: m[1] } : {}), metric, op: m[3] as GateOp, value };
}

function holds(a: number, op: GateOp, b: number): boolean {
  switch (op) {
    case "<": return a < b;
    case "<=": return a <= b;
    case ">": return a > b;
    case ">=": return a >= b;
    case "==": return a === b;
    case "!=": return a !== b;
  }
}

/**
 * Checks gates against aggregated metrics (model name -> metric -> value). A metric with no value for
 * the model (not applicable) fails the gate: a CI gate that silently passes on missing data is worse.
 */
export function checkGates(gates: Gate[], metrics: Record<string, Record<string, number | null>>, defaultModel: string): GateResult[] {
  return gates.map((g) => {
    const model = g.model ?? defaultModel;
    if (!(model in metrics)) {
      throw new TunekitError("bad_gate", `--fail-if "${g.source}": no model named "${model}"`, {
        hint: `models in this evaluation: ${Object.keys(metrics).join(", ")}`,
      });
    }
    const actual = metrics[model][g.metric] ?? null;
    const failed = actual === null || holds(actual, g.op, g.value);
    const shown = actual === null ? "n/a" : String(Math.round(actual * 10000) / 10000);
    return {
      ...g,
      checkedModel: model,
      actual,
      failed,
      text: `${failed ? "FAIL" : "pass"}: ${model} ${g.metric} = ${shown} (fails if ${g.op} ${g.value})`,
    };
  });
}
