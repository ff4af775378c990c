/**
 * The demo's report: one self-contained HTML page (no network, all text escaped), a Markdown twin and
 * a terminal summary. It shows only what the run measured, and says which model and settings.
 */
import { basename, join } from "node:path";
import { esc } from "../report/escape.js";
import { PALETTE, groupedBars } from "../report/svg.js";
import { writeFileAtomic } from "../util/fs.js";
import type { Palette } from "../report/palette.js";
import type { DemoResult } from "./types.js";

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : `${(v * 100).toFixed(0)}%`);
const usd = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : `$${v.toFixed(4)}`);
const num = (v: number | null | undefined, d = 3) => (v === null || v === undefined ? "n/a" : v.toFixed(d));

function settingsLine(r: DemoResult): string {
  const s = r.settings;
  return (
    `model ${r.model.spec}; ${s.quick ? "--quick; " : ""}LoRA r=${s.loraR}, lr ${s.lr}, ` +
    `${s.maxSteps !== undefined ? `${s.maxSteps} steps` : `${s.epochs} epochs`}, batch ${s.batchSize}, max ${s.maxSeqLen} tokens per example; ` +
    `greedy decoding, up to ${s.maxTokens} new tokens; seed ${s.seed}`
  );
}

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => `<td${i > 0 ? ' class="num"' : ""}>${esc(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

export function renderDemoHtml(r: DemoResult): string {
  const b = r.behaviour;
  const k = r.knowledge;
  const a = k.afterChange;
  const behaviourChart = groupedBars([
    { label: "format compliance", values: b.configs.map((c, i) => ({ name: c.name, value: c.formatCompliance, color: PALETTE[i] })) },
  ]);
  const knowledgeChart = groupedBars(
    k.accuracy.map((row) => ({
      label: `${row.set} (${row.questions})`,
      values: [
        { name: "base", value: row.base, color: PALETTE[0] },
        { name: "tuned on facts", value: row.tuned, color: PALETTE[2] },
        { name: "base + retrieval", value: row.retrieval, color: PALETTE[3] },
      ],
    })),
  );
  const changeChart = groupedBars([
    { label: "accuracy, new policy", values: [{ name: "tuned on facts", value: a.tunedAccuracy, color: PALETTE[2] }, { name: "base + retrieval", value: a.retrievalAccuracy, color: PALETTE[3] }] },
    { label: "states the old fact", values: [{ name: "tuned on facts", value: a.tunedStale, color: PALETTE[2] }, { name: "base + retrieval", value: a.retrievalStale, color: PALETTE[3] }] },
  ]);
  const samples = a.samples
    .map(
      (s) =>
        `<div class="sample"><div class="q">${esc(s.question)}</div><div class="ref">expected: ${esc(s.reference)}</div>${s.answers
          .map((x) => `<div class="ans"><span class="who">${esc(x.who)}</span><pre>${esc(x.text || "(empty)")}</pre></div>`)
          .join("")}</div>`,
    )
    .join("");
  const validation = table(
    ["dataset", "examples", "errors", "warnings", "fact-teaching examples"],
    r.validation.map((v) => [basename(v.file), String(v.examples), String(v.errors), String(v.warnings), String(v.factInjection)]),
  );
  const training = table(
    ["run", "examples", "steps", "first loss", "last loss", "held-out loss", "seconds"],
    [
      ["behaviour (support tickets)", b.train],
      ["knowledge (policy facts)", k.train],
    ].map(([name, t]) => {
      const x = t as DemoResult["behaviour"]["train"];
      return [name as string, String(x.examples), String(x.steps), num(x.firstLoss), num(x.lastLoss), num(x.heldOutLoss), x.seconds.toFixed(1)];
    }),
  );
  const configs = table(
    ["configuration", "format compliance", "input tokens / call", "output tokens / call", `cost / 1,000 calls*`, "failed calls"],
    b.configs.map((c) => [c.name, pct(c.formatCompliance), c.meanTokensIn.toFixed(0), c.meanTokensOut.toFixed(0), usd(c.costPer1kCalls), String(c.failedCalls)]),
  );
  const accuracy = table(
    ["questions", "n", "base", "tuned on facts", "base + retrieval"],
    k.accuracy.map((row) => [row.set, String(row.questions), pct(row.base), pct(row.tuned), pct(row.retrieval)]),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>tunekit demo: fine-tune for behaviour, retrieve for knowledge</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;max-width:980px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
.meta{color:#6b7280;font-size:.9rem}.findings{background:#f0f9ff;border-left:4px solid #2563eb;padding:.6rem 1rem}
.findings li{margin:.3rem 0}table{border-collapse:collapse;margin:.8rem 0;width:100%}th,td{padding:.3rem .6rem;border-bottom:1px solid #e5e7eb;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f9fafb;font-weight:600}
.sample{border:1px solid #e5e7eb;border-radius:6px;padding:.6rem;margin:.6rem 0}.q{font-weight:600}.ref{color:#059669;font-size:.9rem}
.who{font-size:.8rem;color:#6b7280}pre{white-space:pre-wrap;margin:.2rem 0 .5rem;background:#f9fafb;padding:.4rem;border-radius:4px}
.note{color:#6b7280;font-size:.85rem}
</style></head><body>
<h1>Fine-tune for behaviour, retrieve for knowledge</h1>
<p class="meta">Measured by <code>tunekit demo</code> on ${esc(r.createdAt)} in ${esc(r.seconds.toFixed(0))} s. ${esc(settingsLine(r))}.</p>
<h2>What this run found</h2>
<ul class="findings">${r.findings.map((f) => `<li>${esc(f)}</li>`).join("")}</ul>
<h2>1. The datasets</h2>
${validation}
<p><b>tunekit advise</b>, before any training:</p>
<ul>${r.advice.map((a) => `<li><code>${esc(basename(a.file))}</code>: <b>${esc(a.recommendation)}</b>. ${esc(a.summary)}</li>`).join("")}</ul>
<p class="note">A fact-teaching example is one whose reply states specifics (prices, dates, durations, contacts, policies) that its prompt does not supply.</p>
<h2>2. Behaviour: a reply format taught by fine-tuning</h2>
<p>${esc(b.trainExamples)} support tickets trained, ${esc(b.heldOutExamples)} held out (a leak-free split). Each reply must read "TL;DR: ..." then "Next step: ...".</p>
${behaviourChart}
${configs}
<p class="note">* Tokens priced at the ${esc(r.price.name)} ($${esc(r.price.inputPerM)} in / $${esc(r.price.outputPerM)} out per 1M tokens) for every configuration alike, so the difference is the prompt length.</p>
<ul>${b.verdicts.map((v) => `<li>${esc(v)}</li>`).join("")}</ul>
<p class="note">Full evaluation with per-example answers: <code>${esc(join(b.reportDir, "report.html"))}</code></p>
<h2>3. Knowledge: policy facts fine-tuned in</h2>
${knowledgeChart}
${accuracy}
<p class="note">An answer counts as correct when it contains every specific of the reference answer and contradicts none. Per-example view (paraphrases): <code>${esc(join(k.reportDir, "report.html"))}</code></p>
<h2>4. The policy changes: ${esc(a.change)}</h2>
<p>The policy document was edited and re-indexed (${esc(r.retrieval.reindexed.length)} document(s) updated, ${esc(r.retrieval.chunks)} chunks). The fine-tuned model was not retrained: it cannot learn the change without another training run.</p>
${changeChart}
${samples}
<h2>Training runs</h2>
${training}
</body></html>
`;
}

export function renderDemoMarkdown(r: DemoResult): string {
  const lines = [
    "# tunekit demo: fine-tune for behaviour, retrieve for knowledge",
    "",
    `Measured on ${r.createdAt} in ${r.seconds.toFixed(0)} s. ${settingsLine(r)}.`,
    "",
    "## Findings",
    "",
    ...r.findings.map((f) => `- ${f}`),
    "",
    "## Advice before training",
    "",
    ...r.advice.map((a) => `- ${basename(a.file)}: **${a.recommendation}**. ${a.summary}`),
    "",
    "## Behaviour (held-out support tickets)",
    "",
    "| configuration | format compliance | input tokens / call | cost / 1,000 calls |",
    "|---|---:|---:|---:|",
    ...r.behaviour.configs.map((c) => `| ${c.name} | ${pct(c.formatCompliance)} | ${c.meanTokensIn.toFixed(0)} | ${usd(c.costPer1kCalls)} |`),
    "",
    `Costs at the ${r.price.name} for every configuration alike.`,
    "",
    "## Knowledge (policy questions, factual accuracy)",
    "",
    "| questions | n | base | tuned on facts | base + retrieval |",
    "|---|---:|---:|---:|---:|",
    ...r.knowledge.accuracy.map((a) => `| ${a.set} | ${a.questions} | ${pct(a.base)} | ${pct(a.tuned)} | ${pct(a.retrieval)} |`),
    "",
    `## After the policy change (${r.knowledge.afterChange.change})`,
    "",
    `- tuned on facts: accuracy ${pct(r.knowledge.afterChange.tunedAccuracy)}, states the old fact in ${pct(r.knowledge.afterChange.tunedStale)} of answers`,
    `- base + retrieval: accuracy ${pct(r.knowledge.afterChange.retrievalAccuracy)}, states the old fact in ${pct(r.knowledge.afterChange.retrievalStale)} of answers`,
    "",
  ];
  return lines.join("\n");
}

export function renderDemoTerminal(r: DemoResult, c: Palette): string[] {
  const out = [c.bold("tunekit demo: fine-tune for behaviour, retrieve for knowledge"), c.dim(settingsLine(r)), ""];
  out.push(c.bold("Advice before training"));
  for (const a of r.advice) out.push(`  ${basename(a.file).padEnd(30)} ${a.recommendation}`);
  out.push("");
  out.push(c.bold("Behaviour") + " (held-out format compliance, input tokens per call, cost per 1,000 calls)");
  for (const x of r.behaviour.configs) {
    out.push(`  ${x.name.padEnd(30)} ${pct(x.formatCompliance).padStart(5)}  ${x.meanTokensIn.toFixed(0).padStart(6)} tok  ${usd(x.costPer1kCalls)}`);
  }
  out.push("", c.bold("Knowledge") + " (factual accuracy: base / tuned on facts / base + retrieval)");
  for (const a of r.knowledge.accuracy) {
    out.push(`  ${`${a.set} (${a.questions})`.padEnd(30)} ${pct(a.base).padStart(5)} ${pct(a.tuned).padStart(5)} ${pct(a.retrieval).padStart(5)}`);
  }
  const a = r.knowledge.afterChange;
  out.push("", c.bold(`After the policy change (${a.change})`));
  out.push(`  tuned on facts     accuracy ${pct(a.tunedAccuracy)}, old fact in ${pct(a.tunedStale)} of answers`);
  out.push(`  base + retrieval   accuracy ${pct(a.retrievalAccuracy)}, old fact in ${pct(a.retrievalStale)} of answers`);
  out.push("", c.bold("Findings"));
  for (const f of r.findings) out.push(`  - ${f}`);
  return out;
}

export interface WrittenDemoReport {
  html: string;
  markdown: string;
  json: string;
}

export async function writeDemoReport(outDir: string, r: DemoResult): Promise<WrittenDemoReport> {
  const paths = { html: join(outDir, "demo-report.html"), markdown: join(outDir, "demo-report.md"), json: join(outDir, "demo.json") };
  await writeFileAtomic(paths.json, JSON.stringify(r, null, 2) + "\n");
  await writeFileAtomic(paths.html, renderDemoHtml(r));
  await writeFileAtomic(paths.markdown, renderDemoMarkdown(r));
  return paths;
}
