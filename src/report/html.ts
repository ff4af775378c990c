/**
 * The HTML report: one self-contained file (inline CSS, inline SVG, a few lines of inline JS for the
 * example filter; nothing fetched), headline verdicts first. Every dataset and model string is escaped.
 */
import { createHash } from "node:crypto";
import type { EvalResult, ModelResult } from "../eval/evaluate.js";
import { PER_EXAMPLE_METRICS } from "../eval/metrics.js";
import { exampleDeltas, headlineBreakEven, headlineComparisons, metricLabel, primaryMetric, pts, shownMetrics, usd, worstFirst } from "./common.js";
import { wordDiff } from "./diff.js";
import { esc } from "./escape.js";
import { groupedBars, intervalChart, lineChart, PALETTE, sortedDeltaBars } from "./svg.js";

const CSS = `
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#fff;--soft:#f9fafb;--good:#059669;--bad:#dc2626;--neutral:#6b7280}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:32px 24px 64px}
h1{font-size:28px;line-height:1.2;margin:0 0 6px}
h2{font-size:20px;margin:40px 0 12px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 8px}
.sub{color:var(--muted);margin:0 0 20px}
.verdicts{list-style:none;padding:0;margin:18px 0;display:grid;gap:8px}
.verdicts li{padding:10px 14px;border-radius:8px;border-left:5px solid var(--neutral);background:var(--soft);font-size:16px}
.verdicts li.better{border-color:var(--good);background:#ecfdf5}
.verdicts li.worse{border-color:var(--bad);background:#fef2f2}
.verdicts li.warn{border-color:#d97706;background:#fffbeb}
table{border-collapse:collapse;width:100%;margin:8px 0 16px;font-size:14px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:#374151;background:var(--soft)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{display:block;max-width:100%;height:auto;margin:8px 0}
.note{color:var(--muted);font-size:13px}
.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
details.ex{border:1px solid var(--line);border-radius:8px;margin:10px 0;background:#fff}
details.ex>summary{cursor:pointer;padding:10px 14px;list-style:none;display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
details.ex>summary::-webkit-details-marker{display:none}
details.ex[open]>summary{border-bottom:1px solid var(--line)}
.exbody{padding:12px 14px}
.q{font-weight:600;flex:1;min-width:200px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.badge{font-size:12px;padding:2px 8px;border-radius:999px;background:#f3f4f6;color:#374151;white-space:nowrap}
.badge.better{background:#d1fae5;color:#065f46}.badge.worse{background:#fee2e2;color:#991b1b}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:12px}
.box{border:1px solid var(--line);border-radius:6px;padding:8px 10px;background:var(--soft)}
.box h4{margin:0 0 6px;font-size:13px;color:#374151}
pre{white-space:pre-wrap;word-break:break-word;margin:0;font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
ins{background:#d1fae5;text-decoration:none}
del{background:#fee2e2;color:#7f1d1d}
.chips{margin-top:6px;display:flex;gap:6px;flex-wrap:wrap}
.chip{font-size:11px;padding:1px 6px;border-radius:4px;background:#fff;border:1px solid var(--line)}
.chip.ok{border-color:#a7f3d0;color:#065f46}.chip.no{border-color:#fecaca;color:#991b1b}
.problem{color:var(--bad);font-size:12px;margin-top:4px}
.filters{display:flex;gap:12px;align-items:center;margin:8px 0;flex-wrap:wrap}
.filters input[type=search]{padding:6px 10px;border:1px solid var(--line);border-radius:6px;min-width:260px;font:inherit}
.error{color:var(--bad)}
@media print{details.ex{break-inside:avoid}}
`;

// The only script: filters the example list. It reads text with textContent and toggles `hidden`; it
// never turns data into markup.
const JS = `
(function(){
  var q=document.getElementById('exq'), r=document.getElementById('exreg'), n=document.getElementById('excount');
  var items=Array.prototype.slice.call(document.querySelectorAll('details.ex'));
  function apply(){
    var s=(q.value||'').toLowerCase(), shown=0;
    items.forEach(function(d){
      var ok=(!s||d.textContent.toLowerCase().indexOf(s)>=0)&&(!r.checked||Number(d.getAttribute('data-delta'))<0);
      d.hidden=!ok; if(ok)shown++;
    });
    n.textContent=shown+' of '+items.length+' shown';
  }
  q.addEventListener('input',apply); r.addEventListener('change',apply); apply();
})();
`;

// The content security policy allows exactly this script (by hash) and nothing from the network, so
// even text that slipped past escaping could not run.
const SCRIPT_HASH = `sha256-${createHash("sha256").update(JS).digest("base64")}`;

function color(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function diffHtml(reference: string, output: string): string {
  return wordDiff(reference, output)
    .map((p) => (p.op === "same" ? esc(p.text) : p.op === "add" ? `<ins>${esc(p.text)}</ins>` : `<del>${esc(p.text)}</del>`))
    .join("");
}

function modelLegend(r: EvalResult): string {
  return r.models
    .map((m, i) => {
      const sys = m.system !== undefined ? ` · own system prompt (${m.system.length.toLocaleString("en-US")} chars)` : "";
      return `<li><span class="dot" style="background:${color(i)}"></span><b>${esc(m.name)}</b> <span class="note">${esc(m.runnerId)}${esc(sys)}</span></li>`;
    })
    .join("");
}

function verdicts(r: EvalResult): string {
  const items: string[] = [];
  for (const c of headlineComparisons(r)) items.push(`<li class="${c.verdict.kind}">${esc(c.verdict.text)}</li>`);
  for (const c of r.retentionComparisons) items.push(`<li class="${c.verdict.kind}">${esc(c.verdict.text)}</li>`);
  for (const m of r.models) {
    if (m.economics.failedCalls > 0) items.push(`<li class="warn">${esc(`${m.name}: ${m.economics.failedCalls} of ${m.economics.calls} calls failed after retries (scored as empty replies)`)}</li>`);
  }
  if (r.overfitting?.analysis.warning) items.push(`<li class="warn">${esc("Overfitting: " + r.overfitting.analysis.warning)}</li>`);
  for (const t of headlineBreakEven(r)) items.push(`<li>${esc(t)}</li>`);
  if (items.length === 0 && r.models.length === 1) {
    const pm = primaryMetric(r);
    items.push(`<li>${esc(`${r.models[0].name}: ${metricLabel(pm)} ${pts(r.models[0].aggregate[pm])} points on ${r.examples} held-out examples`)}</li>`);
  }
  return `<ul class="verdicts">${items.join("")}</ul>`;
}

function scoresTable(r: EvalResult): string {
  const metrics = shownMetrics(r);
  const head = `<tr><th>metric</th>${r.models.map((m, i) => `<th class="num"><span class="dot" style="background:${color(i)}"></span>${esc(m.name)}</th>`).join("")}</tr>`;
  const rows = metrics.map((k) => {
    const info = PER_EXAMPLE_METRICS[k];
    const cells = r.models.map((m) => {
      const v = m.aggregate[k];
      return `<td class="num">${v === null || v === undefined ? "n/a" : info.points ? pts(v) : v.toFixed(2)}</td>`;
    });
    return `<tr><td title="${esc(info.description)}">${esc(info.label)}</td>${cells.join("")}</tr>`;
  });
  if (r.models.some((m) => m.retention)) {
    rows.push(`<tr><td>retention set</td>${r.models.map((m) => `<td class="num">${pts(m.retention?.score)}</td>`).join("")}</tr>`);
  }
  const chart = groupedBars(
    metrics.filter((k) => PER_EXAMPLE_METRICS[k].points).map((k) => ({ label: metricLabel(k), values: r.models.map((m, i) => ({ name: m.name, value: m.aggregate[k] ?? null, color: color(i) })) })),
  );
  return `<table>${head}${rows.join("")}</table><p class="note">Scores in points (0-100), means over the ${r.examples} held-out examples where the metric applies. Format: ${esc(r.format.description)}.</p>${chart}`;
}

function differences(r: EvalResult): string {
  if (r.models.length < 2) return "";
  const out: string[] = ["<h2>Differences, with 95% intervals</h2>"];
  const pairs = [...new Map(r.comparisons.map((c) => [`${c.a}\u0000${c.b}`, [c.a, c.b] as const])).values()];
  for (const [a, b] of pairs) {
    const cs = r.comparisons.filter((c) => c.a === a && c.b === b);
    const rows = cs.map((c) => ({ label: metricLabel(c.metric), delta: c.interval.delta, low: c.interval.low, high: c.interval.high, kind: c.verdict.kind }));
    const rc = r.retentionComparisons.find((c) => c.a === a && c.b === b);
    if (rc) rows.push({ label: "retention set", delta: rc.interval.delta, low: rc.interval.low, high: rc.interval.high, kind: rc.verdict.kind });
    out.push(`<h3>${esc(a)} minus ${esc(b)}</h3>${intervalChart(rows)}`);
  }
  out.push(`<p class="note">Paired bootstrap over the same examples (2,000 resamples, seeded). An interval that crosses zero means no clear difference.</p>`);
  const deltas = exampleDeltas(r);
  const pm = primaryMetric(r);
  const useChrf = deltas.every((d) => d.delta === 0);
  const cand = r.models[r.models.length - 1].name;
  out.push(
    sortedDeltaBars(
      deltas.map((d) => ({ id: r.items[d.index].id, delta: useChrf ? d.tie : d.delta })),
      { label: `per example: ${cand} minus ${r.models[0].name} on ${metricLabel(useChrf ? "chrf" : pm)} (sorted)` },
    ),
  );
  return out.join("");
}

function retention(r: EvalResult): string {
  const ms = r.models.filter((m) => m.retention);
  if (ms.length === 0) return "";
  const cats = Object.keys(ms[0].retention!.byCategory);
  const rows = cats.map((c) => `<tr><td>${esc(c.replace(/_/g, " "))}</td>${ms.map((m) => `<td class="num">${pts(m.retention!.byCategory[c], 0)}</td>`).join("")}</tr>`);
  const total = `<tr><th>all ${ms[0].retention!.items.length} items</th>${ms.map((m) => `<th class="num">${pts(m.retention!.score, 0)}</th>`).join("")}</tr>`;
  const lost: string[] = [];
  if (ms.length > 1) {
    const base = ms[0].retention!.items;
    for (const m of ms.slice(1)) {
      m.retention!.items.forEach((it, i) => {
        if (base[i].pass && !it.pass) lost.push(`<tr><td>${esc(m.name)}</td><td>${esc(it.prompt)}</td><td><pre>${esc(base[i].output)}</pre></td><td><pre>${esc(it.output)}</pre></td></tr>`);
      });
    }
  }
  return (
    `<h2>Forgetting: general skills before and after</h2><p class="note">A fixed set of short general tasks (arithmetic, facts, instructions, JSON extraction), each checked by a rule.</p>` +
    `<table><tr><th>category</th>${ms.map((m) => `<th class="num">${esc(m.name)}</th>`).join("")}</tr>${rows.join("")}${total}</table>` +
    (lost.length ? `<h3>Items a later model lost</h3><table><tr><th>model</th><th>task</th><th>${esc(ms[0].name)}</th><th>after</th></tr>${lost.slice(0, 30).join("")}</table>` : "")
  );
}

function overfitting(r: EvalResult): string {
  const parts: string[] = [];
  if (r.overfitting) {
    const { curves, analysis } = r.overfitting;
    const chart = lineChart({
      series: [
        { name: "train loss", color: "#2563eb", points: curves.train.map((p) => ({ x: p.step, y: p.loss })) },
        { name: "held-out loss", color: "#db2777", points: curves.heldOut.map((p) => ({ x: p.step, y: p.loss })) },
      ],
      xLabel: "step",
      yLabel: "loss",
      ...(analysis.bestHeldOut ? { marker: { x: analysis.bestHeldOut.step, label: `best held-out (step ${analysis.bestHeldOut.step})` } } : {}),
    });
    parts.push(chart);
    parts.push(analysis.warning ? `<ul class="verdicts"><li class="warn">${esc(analysis.warning)}</li></ul>` : `<p>Held-out loss did not rise while train loss fell: no sign of overfitting in the curves.</p>`);
  }
  if (r.trainGap?.length) {
    parts.push(
      `<h3>Train-set vs held-out scores</h3><table><tr><th>model</th><th>metric</th><th class="num">train</th><th class="num">held-out</th><th class="num">gap</th></tr>${r.trainGap
        .map((g) => `<tr><td>${esc(g.model)}</td><td>${esc(metricLabel(g.metric))}</td><td class="num">${pts(g.train)}</td><td class="num">${pts(g.heldOut)}</td><td class="num">${pts(g.gap)}</td></tr>`)
        .join("")}</table><p class="note">A large gap means the model does much better on examples it was trained on than on new ones.</p>`,
    );
  }
  return parts.length ? `<h2>Overfitting</h2>${parts.join("")}` : "";
}

function economics(r: EvalResult): string {
  const rows = r.models.map((m: ModelResult) => {
    const e = m.economics;
    return `<tr><td>${esc(m.name)}</td><td class="num">${Math.round(e.meanTokensIn).toLocaleString("en-US")}</td><td class="num">${Math.round(e.meanTokensOut).toLocaleString("en-US")}</td><td class="num">${esc(usd(e.costPer1kCalls))}</td><td class="num">${Math.round(e.latencyMsP50).toLocaleString("en-US")}</td><td class="num">${Math.round(e.latencyMsP95).toLocaleString("en-US")}</td><td class="num">${e.failedCalls}</td></tr>`;
  });
  return (
    `<h2>Cost and speed</h2><table><tr><th>model</th><th class="num">tokens in / call</th><th class="num">tokens out / call</th><th class="num">cost / 1,000 calls</th><th class="num">latency p50 (ms)</th><th class="num">p95 (ms)</th><th class="num">failed calls</th></tr>${rows.join("")}</table>` +
    r.breakEven.map((b) => `<p>Against ${esc(b.against)}: ${esc(b.text)}.</p>`).join("") +
    `<p class="note">Costs from list prices per 1M tokens (override with price_in / price_out on --model); local models cost $0 unless priced. Latencies of cached replies are those measured when they were generated.</p>`
  );
}

function examples(r: EvalResult): string {
  const order = worstFirst(r);
  const deltas = new Map(exampleDeltas(r).map((d) => [d.index, d.delta]));
  const pm = primaryMetric(r);
  const limit = 300;
  const cards = order.slice(0, limit).map((i, rank) => {
    const item = r.items[i];
    const delta = deltas.get(i) ?? 0;
    const badges = r.models.map((m) => `<span class="badge">${esc(m.name)} ${pts(m.examples[i].scores[pm], 0)}</span>`).join("");
    const change = r.models.length > 1 && delta !== 0 ? `<span class="badge ${delta > 0 ? "better" : "worse"}">${delta > 0 ? "+" : ""}${pts(delta, 0)}</span>` : "";
    const outs = r.models
      .map((m, mi) => {
        const ex = m.examples[i];
        const chips = (["format_compliance", "factual_accuracy", "exact_match", "chrf", "judge_score"] as const)
          .filter((k) => ex.scores[k] !== null)
          .map((k) => {
            const v = ex.scores[k]!;
            const binary = k !== "chrf" && k !== "judge_score";
            return `<span class="chip ${binary ? (v >= 1 ? "ok" : "no") : ""}">${esc(metricLabel(k))} ${pts(v, 0)}</span>`;
          })
          .join("");
        const problems = [
          ex.error ? `<div class="problem">call failed: ${esc(ex.error)}</div>` : "",
          ex.formatProblem ? `<div class="problem">format: ${esc(ex.formatProblem)}</div>` : "",
          ex.factual && (ex.factual.missing.length || ex.factual.contradicting.length)
            ? `<div class="problem">${ex.factual.missing.length ? `missing: ${esc(ex.factual.missing.join(", "))}` : ""}${ex.factual.missing.length && ex.factual.contradicting.length ? " · " : ""}${ex.factual.contradicting.length ? `contradicts: ${esc(ex.factual.contradicting.join(", "))}` : ""}</div>`
            : "",
          ex.judge ? `<div class="note">judge: ${ex.judge.raw ?? "no score"}/5 ${esc(ex.judge.reasoning)}</div>` : "",
        ].join("");
        return `<div class="box"><h4><span class="dot" style="background:${color(mi)}"></span>${esc(m.name)}</h4><pre>${diffHtml(item.reference, ex.output)}</pre><div class="chips">${chips}</div>${problems}</div>`;
      })
      .join("");
    return `<details class="ex" data-delta="${delta}"${rank < 3 ? " open" : ""}><summary><span class="note">${esc(item.id)}</span><span class="q">${esc(item.question.slice(0, 160))}</span>${badges}${change}</summary><div class="exbody"><div class="cols"><div class="box"><h4>prompt</h4><pre>${esc(item.question)}</pre></div><div class="box"><h4>reference</h4><pre>${esc(item.reference)}</pre></div></div><h3>replies <span class="note">(<ins>added</ins> / <del>missing</del> against the reference)</span></h3><div class="cols">${outs}</div></div></details>`;
  });
  const more = order.length > limit ? `<p class="note">${order.length - limit} more examples are in results.json.</p>` : "";
  return (
    `<h2>Examples, ${r.models.length > 1 ? "worst regressions" : "failures"} first</h2>` +
    `<div class="filters"><input id="exq" type="search" placeholder="filter examples by text" aria-label="filter examples"><label><input id="exreg" type="checkbox"> ${r.models.length > 1 ? "regressions" : "failures"} only</label><span id="excount" class="note"></span></div>` +
    cards.join("") +
    more
  );
}

function settings(r: EvalResult): string {
  const metricRows = Object.entries(PER_EXAMPLE_METRICS)
    .map(([k, v]) => `<tr><td><code>${esc(k)}</code></td><td>${esc(v.description)}</td></tr>`)
    .join("");
  return (
    `<h2>How this was measured</h2><ul><li>Data: ${esc(r.dataFile ?? "(in memory)")} · ${r.examples} examples</li><li>Sampling: ${esc(JSON.stringify(r.params))}</li><li>Format check: ${esc(r.format.description)}</li><li>Models:<ul>${modelLegend(r)}</ul></li></ul>` +
    `<table><tr><th>metric</th><th>meaning</th></tr>${metricRows}</table>`
  );
}

export interface HtmlOptions {
  /** Replaces the default headline question. */
  title?: string;
  /** Plain-text paragraphs shown under the title (escaped), e.g. which model and settings produced the numbers. */
  notes?: string[];
}

export function renderHtml(r: EvalResult, options: HtmlOptions = {}): string {
  const names = r.models.map((m) => m.name).join(" vs ");
  const title =
    options.title ??
    (r.models.length > 1 ? `Did ${r.models[r.models.length - 1].name} beat ${r.models[0].name}?` : `Evaluation of ${r.models[0]?.name ?? "a model"}`);
  const notes = (options.notes ?? []).map((n) => `<p>${esc(n)}</p>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src '${SCRIPT_HASH}'; img-src data:">
<title>${esc(`tunekit eval: ${names}`)}</title><style>${CSS}</style></head>
<body><main>
<h1>${esc(title)}</h1>
<p class="sub">${r.examples} held-out examples${r.dataFile ? ` from ${esc(r.dataFile)}` : ""} · ${esc(names)} · ${esc(r.createdAt.slice(0, 16).replace("T", " "))} UTC</p>
${notes}
${verdicts(r)}
<h2>Scores</h2>${scoresTable(r)}
${differences(r)}
${retention(r)}
${overfitting(r)}
${economics(r)}
${examples(r)}
${settings(r)}
<p class="note">Made by tunekit. This file is self-contained: it loads nothing from the network.</p>
</main><script>${JS}</script></body></html>
`;
}
