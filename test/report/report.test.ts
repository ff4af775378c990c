import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { sampleResult, INJECTED } from "./sample.js";
import type { EvalResult } from "../../src/eval/evaluate.js";
import { writeReport } from "../../src/report/write.js";
import { renderHtml } from "../../src/report/html.js";
import { renderMarkdown, mdText } from "../../src/report/markdown.js";
import { renderTerminal } from "../../src/report/terminal.js";
import { wordDiff } from "../../src/report/diff.js";
import { esc } from "../../src/report/escape.js";
import { palette } from "../../src/report/palette.js";
import { tempDir } from "../helpers/fixtures.js";

let result: EvalResult;
before(async () => {
  result = await sampleResult();
});

test("escaping and word diff", () => {
  assert.equal(esc(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  const d = wordDiff("the cat sat on the mat", "the dog sat on the mat");
  assert.deepEqual(d, [
    { op: "same", text: "the " },
    { op: "del", text: "cat" },
    { op: "add", text: "dog" },
    { op: "same", text: " sat on the mat" },
  ]);
  assert.equal(wordDiff("a b", "a b c").map((p) => p.text).join(""), "a b c");
  assert.deepEqual(wordDiff("", "new"), [{ op: "add", text: "new" }]);
  assert.equal(mdText("<script>|x\ny"), "&lt;script&gt;\\|x ⏎ y");
});

test("HTML report: self-contained, escaped, headline verdicts first", () => {
  const html = renderHtml(result);
  assert.ok(!html.includes(INJECTED), "raw injected markup must not appear");
  assert.ok(html.includes(esc(INJECTED)));
  assert.doesNotMatch(html, /<(link|img|iframe)\b/i);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
  assert.equal((html.match(/<script>/g) ?? []).length, 1, "exactly one (our own) script element");
  const firstVerdict = html.indexOf('class="verdicts"');
  assert.ok(firstVerdict > 0 && firstVerdict < html.indexOf("<h2>Scores"));
  assert.match(html, /tuned beats base on format compliance by \+\d+ points \[\d+, \d+\]/);
  assert.match(html, /Content-Security-Policy/);
  assert.ok(html.indexOf("Examples, worst regressions first") > 0);
});

test("Markdown and terminal summaries", () => {
  const md = renderMarkdown(result);
  assert.match(md, /^# tunekit evaluation: base vs base\+prompt vs tuned/);
  assert.match(md, /\| format compliance \| 4\.2 \| 100\.0 \| \d+\.\d \|/);
  assert.match(md, /## Worst regressions/);
  assert.ok(!md.includes("<script>window"), "data text outside fences is escaped");
  const lines = renderTerminal(result, palette(false));
  assert.match(lines[0], /24 held-out examples/);
  assert.ok(lines.some((l) => /^▲ tuned beats base on format compliance/.test(l)));
  assert.ok(lines.some((l) => /^format compliance\s+4\.2\s+100\.0/.test(l)));
  assert.ok(lines.every((l) => !/\u001b/.test(l)), "no colour codes without a terminal");
});

test("writeReport writes the three files atomically and leaves no temp files", async () => {
  const t = tempDir();
  try {
    const dir = join(t.dir, "out", "report");
    const p = await writeReport(dir, result);
    assert.deepEqual(readdirSync(dir).sort(), ["report.html", "report.md", "results.json"]);
    const json = JSON.parse(readFileSync(p.json, "utf8"));
    assert.equal(json.models.length, 3);
    assert.equal(json.models[2].examples.length, 24);
    assert.equal(typeof json.models[2].aggregate.format_compliance, "number");
  } finally {
    t.cleanup();
  }
});

const CHROMIUM = "/usr/bin/chromium";
test("the report in headless Chromium: no console errors, charts render, injected script does not run", { timeout: 60_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    process.stderr.write(`\n*** SKIPPING: ${CHROMIUM} is missing; the browser test of the HTML report did not run ***\n`);
    t.skip(`${CHROMIUM} missing`);
    return;
  }
  const { chromium } = await import("playwright-core");
  const tmp = tempDir();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    const p = await writeReport(tmp.dir, result);
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("request", (r) => {
      if (!r.url().startsWith("file:")) requests.push(r.url());
    });
    await page.goto(`file://${p.html}`);
    await page.waitForLoadState("load");
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [], "the report loads nothing from the network");
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned), undefined);
    // The injected text is visible as text.
    assert.ok((await page.textContent("body"))!.includes("<script>window.__pwned = 1</script>"));
    const charts = await page.$$eval("svg.chart", (els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect();
        return { w: r.width, h: r.height, marks: e.querySelectorAll("path.series, rect.bar, line.ci, circle").length };
      }),
    );
    assert.ok(charts.length >= 4, `charts: ${charts.length}`);
    for (const c of charts) assert.ok(c.w > 100 && c.h > 50 && c.marks > 0, JSON.stringify(c));
    // Our own script works: filtering hides examples.
    const total = await page.$$eval("details.ex", (els) => els.length);
    await page.fill("#exq", "shipping");
    const shown = await page.$$eval("details.ex", (els) => els.filter((e) => !(e as unknown as { hidden: boolean }).hidden).length);
    assert.ok(shown > 0 && shown < total, `${shown} of ${total}`);
  } finally {
    await browser.close();
    tmp.cleanup();
  }
});
