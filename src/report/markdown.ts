/** The Markdown summary: verdicts, the score table, cost, and the worst regressions. Data text is fenced or escaped. */
import type { EvalResult } from "../eval/evaluate.js";
import { PER_EXAMPLE_METRICS } from "../eval/metrics.js";
import { exampleDeltas, headlineBreakEven, headlineComparisons, metricLabel, primaryMetric, pts, shownMetrics, usd, worstFirst } from "./common.js";

/** Escapes text for a Markdown table cell or line: no markup, no HTML, one line. */
export function mdText(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\r?\n/g, " ⏎ ")
    .replace(/[\\`*_[\]|]/g, (c) => `\\${c}`);
}

function fence(s: string): string {
  const longest = Math.max(2, ...(s.match(/`+/g) ?? []).map((x) => x.length));
  const f = "`".repeat(longest + 1);
  return `${f}text\n${s}\n${f}`;
}

export function renderMarkdown(r: EvalResult): string {
  const L: string[] = [];
  const names = r.models.map((m) => m.name);
  L.push(`# tunekit evaluation: ${mdText(names.join(" vs "))}`, "");
  L.push(`${r.examples} held-out examples${r.dataFile ? ` from \`${r.dataFile.replace(/`/g, "'")}\`` : ""}, ${r.createdAt.slice(0, 16).replace("T", " ")} UTC. Format: ${mdText(r.format.description)}.`, "");
  const verdicts = [...headlineComparisons(r).map((c) => c.verdict.text), ...r.retentionComparisons.map((c) => c.verdict.text)];
  if (r.overfitting?.analysis.warning) verdicts.push(`overfitting: ${r.overfitting.analysis.warning}`);
  verdicts.push(...headlineBreakEven(r));
  for (const m of r.models) if (m.economics.failedCalls) verdicts.push(`${m.name}: ${m.economics.failedCalls} of ${m.economics.calls} calls failed`);
  if (verdicts.length) {
    L.push("## Verdicts", "");
    for (const v of verdicts) L.push(`- ${mdText(v)}`);
    L.push("");
  }
  L.push("## Scores (points, 0-100)", "");
  L.push(`| metric | ${names.map(mdText).join(" | ")} |`, `|---|${names.map(() => "---:").join("|")}|`);
  for (const k of shownMetrics(r)) {
    const info = PER_EXAMPLE_METRICS[k];
    L.push(`| ${info.label} | ${r.models.map((m) => { const v = m.aggregate[k]; return v === null || v === undefined ? "n/a" : info.points ? pts(v) : v.toFixed(2); }).join(" | ")} |`);
  }
  if (r.models.some((m) => m.retention)) L.push(`| retention set | ${r.models.map((m) => pts(m.retention?.score)).join(" | ")} |`);
  L.push("");
  L.push("## Cost and speed", "");
  L.push("| model | tokens in / call | tokens out / call | cost / 1,000 calls | latency p50 ms |", "|---|---:|---:|---:|---:|");
  for (const m of r.models) {
    const e = m.economics;
    L.push(`| ${mdText(m.name)} | ${Math.round(e.meanTokensIn)} | ${Math.round(e.meanTokensOut)} | ${usd(e.costPer1kCalls)} | ${Math.round(e.latencyMsP50)} |`);
  }
  L.push("");
  if (r.models.length > 1) {
    const deltas = new Map(exampleDeltas(r).map((d) => [d.index, d.delta]));
    const worst = worstFirst(r).filter((i) => (deltas.get(i) ?? 0) < 0).slice(0, 5);
    const pm = primaryMetric(r);
    if (worst.length) {
      const base = r.models[0];
      const cand = r.models[r.models.length - 1];
      L.push(`## Worst regressions (${mdText(cand.name)} vs ${mdText(base.name)} on ${metricLabel(pm)})`, "");
      for (const i of worst) {
        const it = r.items[i];
        L.push(`### ${mdText(it.id)}: ${mdText(it.question.slice(0, 100))}`, "");
        L.push(`Reference:`, "", fence(it.reference), "", `${mdText(base.name)}:`, "", fence(base.examples[i].output), "", `${mdText(cand.name)}:`, "", fence(cand.examples[i].output), "");
      }
    }
  }
  L.push("Full per-example results: `report.html` and `results.json`.", "");
  return L.join("\n");
}
