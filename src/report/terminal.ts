/** The terminal summary: verdicts and a compact score table, coloured when stdout is a terminal. */
import type { EvalResult } from "../eval/evaluate.js";
import type { GateResult } from "../eval/gates.js";
import { PER_EXAMPLE_METRICS } from "../eval/metrics.js";
import type { Palette } from "./palette.js";
import { headlineBreakEven, headlineComparisons, pts, shownMetrics, usd } from "./common.js";

/** Control characters out of data text, so model output cannot move the cursor or recolour the terminal. */
function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
}

export function renderTerminal(r: EvalResult, c: Palette, gates: GateResult[] = []): string[] {
  const out: string[] = [];
  const names = r.models.map((m) => clean(m.name));
  out.push(c.bold(`${r.examples} held-out examples · ${names.join(" vs ")}`));
  const verdicts = [...headlineComparisons(r).map((x) => x.verdict), ...r.retentionComparisons.map((x) => x.verdict)];
  for (const v of verdicts) {
    const mark = v.kind === "better" ? c.green("▲") : v.kind === "worse" ? c.red("▼") : c.dim("•");
    out.push(`${mark} ${clean(v.text)}`);
  }
  if (r.overfitting?.analysis.warning) out.push(`${c.yellow("!")} overfitting: ${r.overfitting.analysis.warning}`);
  for (const m of r.models) if (m.economics.failedCalls) out.push(`${c.yellow("!")} ${clean(m.name)}: ${m.economics.failedCalls} of ${m.economics.calls} calls failed`);
  for (const t of headlineBreakEven(r)) out.push(`${c.cyan("$")} ${t}`);
  out.push("");
  const rows: string[][] = [["metric", ...names]];
  for (const k of shownMetrics(r)) {
    const info = PER_EXAMPLE_METRICS[k];
    rows.push([info.label, ...r.models.map((m) => { const v = m.aggregate[k]; return v === null || v === undefined ? "n/a" : info.points ? pts(v) : v.toFixed(2); })]);
  }
  if (r.models.some((m) => m.retention)) rows.push(["retention set", ...r.models.map((m) => pts(m.retention?.score))]);
  rows.push(["tokens in / call", ...r.models.map((m) => String(Math.round(m.economics.meanTokensIn)))]);
  rows.push(["cost / 1k calls", ...r.models.map((m) => usd(m.economics.costPer1kCalls))]);
  rows.push(["latency p50 ms", ...r.models.map((m) => String(Math.round(m.economics.latencyMsP50)))]);
  const widths = rows[0].map((_, j) => Math.max(...rows.map((row) => row[j].length)));
  rows.forEach((row, i) => {
    const line = row.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join("  ");
    out.push(i === 0 ? c.bold(line) : line);
  });
  if (gates.length) {
    out.push("");
    for (const g of gates) out.push(g.failed ? c.red(g.text) : c.green(g.text));
  }
  return out;
}
