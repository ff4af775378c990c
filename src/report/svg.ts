/**
 * Inline SVG charts for the HTML report: no scripts, no external resources, fixed pixel sizes (so they
 * render the same in any browser and in print). Every label passes through `esc`.
 */
import { esc } from "./escape.js";

export const PALETTE = ["#64748b", "#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2"];

const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"`;

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((s) => s * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmtTick(v: number): string {
  if (Math.abs(v) >= 1000) return `${Math.round(v / 100) / 10}k`;
  return String(Number(v.toPrecision(4)));
}

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

/** A line chart (loss curves). `marker` draws a vertical line with a label (e.g. the best step). */
export function lineChart(opts: { series: Series[]; width?: number; height?: number; xLabel: string; yLabel: string; marker?: { x: number; label: string } }): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 280;
  const m = { l: 56, r: 16, t: 28, b: 40 };
  const all = opts.series.flatMap((s) => s.points);
  if (all.length === 0) return "";
  let x0 = Math.min(...all.map((p) => p.x));
  let x1 = Math.max(...all.map((p) => p.x));
  let y0 = Math.min(...all.map((p) => p.y));
  let y1 = Math.max(...all.map((p) => p.y));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.08;
  y0 -= pad;
  y1 += pad;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${m.l - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#6b7280">${esc(fmtTick(t))}</text>`);
  }
  for (const t of niceTicks(x0, x1, 6)) {
    parts.push(`<text x="${X(t).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle" font-size="11" fill="#6b7280">${esc(fmtTick(t))}</text>`);
  }
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#9ca3af"/>`);
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle" font-size="12" fill="#374151">${esc(opts.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#374151">${esc(opts.yLabel)}</text>`);
  if (opts.marker) {
    const x = X(opts.marker.x).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#059669" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${x}" y="${m.t - 4}" text-anchor="middle" font-size="11" fill="#059669">${esc(opts.marker.label)}</text>`);
  }
  opts.series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, k) => `${k ? "L" : "M"}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join("");
    parts.push(`<path class="series" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ` stroke-dasharray="6 4"` : ""}><title>${esc(s.name)}</title></path>`);
    if (s.points.length <= 40) for (const p of s.points) parts.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const lx = m.l + 8 + i * 150;
    parts.push(`<rect x="${lx}" y="6" width="14" height="4" fill="${s.color}"/><text x="${lx + 20}" y="12" font-size="12" fill="#374151">${esc(s.name)}</text>`);
  });
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} role="img">${parts.join("")}</svg>`;
}

export interface IntervalRow {
  label: string;
  delta: number;
  low: number;
  high: number;
  kind: "better" | "worse" | "no_clear_difference";
}

/** Differences with their intervals (a forest plot), in points, around a zero line. */
export function intervalChart(rows: IntervalRow[], opts: { width?: number } = {}): string {
  if (rows.length === 0) return "";
  const W = opts.width ?? 720;
  const rowH = 30;
  const m = { l: 250, r: 70, t: 24, b: 30 };
  const H = m.t + m.b + rows.length * rowH;
  const ext = Math.max(5, ...rows.flatMap((r) => [Math.abs(r.low), Math.abs(r.high), Math.abs(r.delta)]).map((v) => v * 100));
  const lim = Math.ceil(ext / 10) * 10;
  const X = (v: number) => m.l + ((v * 100 + lim) / (2 * lim)) * (W - m.l - m.r);
  const parts: string[] = [];
  for (const t of niceTicks(-lim, lim, 6)) {
    parts.push(`<line x1="${X(t / 100).toFixed(1)}" x2="${X(t / 100).toFixed(1)}" y1="${m.t - 6}" y2="${H - m.b}" stroke="${t === 0 ? "#6b7280" : "#eef0f3"}"/>`);
    parts.push(`<text x="${X(t / 100).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle" font-size="11" fill="#6b7280">${t > 0 ? "+" : ""}${esc(fmtTick(t))}</text>`);
  }
  const color = { better: "#059669", worse: "#dc2626", no_clear_difference: "#6b7280" };
  rows.forEach((r, i) => {
    const y = m.t + i * rowH + rowH / 2;
    const c = color[r.kind];
    parts.push(`<text x="${m.l - 10}" y="${y + 4}" text-anchor="end" font-size="12" fill="#111827">${esc(r.label)}</text>`);
    parts.push(`<line class="ci" x1="${X(r.low).toFixed(1)}" x2="${Math.max(X(r.high), X(r.low) + 1).toFixed(1)}" y1="${y}" y2="${y}" stroke="${c}" stroke-width="3" stroke-linecap="round"/>`);
    parts.push(`<circle cx="${X(r.delta).toFixed(1)}" cy="${y}" r="5" fill="${c}"><title>${esc(`${r.label}: ${(r.delta * 100).toFixed(1)} [${(r.low * 100).toFixed(1)}, ${(r.high * 100).toFixed(1)}]`)}</title></circle>`);
    parts.push(`<text x="${W - m.r + 8}" y="${y + 4}" font-size="12" fill="${c}">${r.delta >= 0 ? "+" : ""}${esc((r.delta * 100).toFixed(1))}</text>`);
  });
  parts.push(`<text x="${X(0)}" y="12" text-anchor="middle" font-size="11" fill="#6b7280">difference in points (95% interval)</text>`);
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} role="img">${parts.join("")}</svg>`;
}

/**
 * Width of `text` at `size` px in a sans-serif font, erring on the wide side: SVG text cannot be
 * measured without a browser, and an estimate that is too small lets legend entries overlap.
 */
export function textWidth(text: string, size = 12): number {
  let em = 0;
  for (const ch of text) {
    if (" iljtfr.,;:!'|()[]".includes(ch)) em += 0.34;
    else if ("mwMW@".includes(ch)) em += 0.9;
    else if (ch >= "A" && ch <= "Z") em += 0.7;
    else em += 0.58;
  }
  return em * size;
}

/** Legend entries (12 px swatch, 6 px gap, name) placed left to right from `left`, wrapping before `right`. */
function legendLayout(names: string[], left: number, right: number): { at: { x: number; y: number }[]; height: number } {
  const at: { x: number; y: number }[] = [];
  let x = left;
  let y = 6;
  for (const name of names) {
    const w = 18 + textWidth(name);
    if (x > left && x + w > right) {
      x = left;
      y += 18;
    }
    at.push({ x: Math.round(x), y });
    x += w + 20;
  }
  return { at, height: y + 12 };
}

/** Horizontal bars, one group per metric, one bar per model (values 0..1 shown as points). */
export function groupedBars(groups: { label: string; values: { name: string; value: number | null; color: string }[] }[], opts: { width?: number } = {}): string {
  if (groups.length === 0) return "";
  const W = opts.width ?? 720;
  const barH = 14;
  const gap = 12;
  const legend = legendLayout(groups[0].values.map((v) => v.name), 170, W - 8);
  const m = { l: 170, r: 60, t: legend.height + 10, b: 8 };
  const per = groups[0].values.length;
  const groupH = per * (barH + 3) + gap;
  const H = m.t + m.b + groups.length * groupH;
  const X = (v: number) => m.l + v * (W - m.l - m.r);
  const parts: string[] = [];
  groups[0].values.forEach((v, i) => {
    const { x, y } = legend.at[i];
    parts.push(`<rect x="${x}" y="${y}" width="12" height="12" rx="2" fill="${v.color}"/><text x="${x + 18}" y="${y + 10}" font-size="12" fill="#374151">${esc(v.name)}</text>`);
  });
  groups.forEach((g, gi) => {
    const y0 = m.t + gi * groupH;
    parts.push(`<text x="${m.l - 10}" y="${y0 + (per * (barH + 3)) / 2 + 4}" text-anchor="end" font-size="12" fill="#111827">${esc(g.label)}</text>`);
    g.values.forEach((v, i) => {
      const y = y0 + i * (barH + 3);
      parts.push(`<rect x="${m.l}" y="${y}" width="${W - m.l - m.r}" height="${barH}" fill="#f3f4f6" rx="2"/>`);
      if (v.value !== null) {
        parts.push(`<rect class="bar" x="${m.l}" y="${y}" width="${Math.max(1, X(v.value) - m.l).toFixed(1)}" height="${barH}" fill="${v.color}" rx="2"><title>${esc(`${v.name}: ${(v.value * 100).toFixed(1)}`)}</title></rect>`);
      }
      parts.push(`<text x="${W - m.r + 6}" y="${y + barH - 3}" font-size="11" fill="#374151">${v.value === null ? "n/a" : esc((v.value * 100).toFixed(1))}</text>`);
    });
  });
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} role="img">${parts.join("")}</svg>`;
}

/** Per-example changes, sorted: one bar per example (up = better for the candidate). */
export function sortedDeltaBars(deltas: { id: string; delta: number }[], opts: { width?: number; label: string }): string {
  if (deltas.length === 0) return "";
  const W = opts.width ?? 720;
  const H = 180;
  const m = { l: 48, r: 12, t: 24, b: 24 };
  const sorted = [...deltas].sort((a, b) => a.delta - b.delta);
  const lim = Math.max(0.05, ...sorted.map((d) => Math.abs(d.delta)));
  const Y = (v: number) => m.t + ((lim - v) / (2 * lim)) * (H - m.t - m.b);
  const bw = (W - m.l - m.r) / sorted.length;
  const parts: string[] = [];
  for (const t of [-lim, 0, lim]) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="${t === 0 ? "#6b7280" : "#eef0f3"}"/>`);
    parts.push(`<text x="${m.l - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#6b7280">${t > 0 ? "+" : ""}${esc((t * 100).toFixed(0))}</text>`);
  }
  sorted.forEach((d, i) => {
    const y = d.delta >= 0 ? Y(d.delta) : Y(0);
    const h = Math.max(1, Math.abs(Y(d.delta) - Y(0)));
    const c = d.delta > 0 ? "#059669" : d.delta < 0 ? "#dc2626" : "#9ca3af";
    parts.push(`<rect class="bar" x="${(m.l + i * bw + bw * 0.1).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, bw * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${c}"><title>${esc(`${d.id}: ${d.delta >= 0 ? "+" : ""}${(d.delta * 100).toFixed(1)}`)}</title></rect>`);
  });
  parts.push(`<text x="${m.l}" y="14" font-size="12" fill="#374151">${esc(opts.label)}</text>`);
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} role="img">${parts.join("")}</svg>`;
}
