/**
 * The demo end to end, offline, with --quick on the real (tiny) stories260K model: every stage runs,
 * the tuned model learns the ticket format that the base model does not produce, the report holds the
 * figures the run measured (the same numbers in demo.json, the HTML and the terminal summary), says
 * what a model this small cannot show, and its charts render without overlapping labels at 1280 px.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import type { DemoResult } from "../../src/demo/types.js";

const inUnit = (v: number | null) => v === null || (v >= 0 && v <= 1);
const pct = (v: number | null) => (v === null ? "n/a" : `${(v * 100).toFixed(0)}%`);

test("tunekit demo --quick runs offline on stories260K and reports what it measured", async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("shared fixture models/stories260K missing");
  const tmp = tempDir("tunekit-demo-");
  try {
    const out = join(tmp.dir, "demo");
    const r = await runCli(["demo", "--quick", "--model", model, "-o", out, "--offline", "--threads", "2"], { timeoutMs: 600_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    const result = JSON.parse(readFileSync(join(out, "demo.json"), "utf8")) as DemoResult;

    // Every stage ran and produced measurements.
    assert.equal(result.settings.quick, true);
    assert.equal(result.validation.length, 2);
    assert.ok(result.validation.every((v) => v.errors === 0 && v.examples > 0));
    const [support, facts] = result.validation;
    assert.ok(facts.factInjection > support.factInjection, "the policy set is flagged as teaching facts, the behaviour set is not");
    assert.deepEqual(
      result.advice.map((a) => a.recommendation),
      ["fine-tuning", "retrieval"],
      "advise recommends fine-tuning for the format set and retrieval for the policy set",
    );
    assert.ok(result.behaviour.train.steps > 0 && result.knowledge.train.steps > 0);
    assert.ok(Number.isFinite(result.behaviour.train.lastLoss!) && result.behaviour.train.lastLoss! < result.behaviour.train.firstLoss!, "training lowered the loss");
    assert.deepEqual(result.behaviour.configs.map((c) => c.name), ["base, short prompt", "base, long prompt + examples", "tuned, short prompt"]);
    assert.ok(result.behaviour.configs.every((c) => inUnit(c.formatCompliance) && c.meanTokensIn > 0));
    const [short, long, tuned] = result.behaviour.configs;
    assert.ok(long.meanTokensIn > short.meanTokensIn, "the prompting baseline costs more input tokens");
    // The point of the behaviour half: on held-out tickets the tuned model writes the two-line format
    // (85-100% across seeds when the settings were chosen), the base story model does not, with either prompt.
    assert.ok(tuned.formatCompliance! >= 0.6, `tuned model's held-out format compliance ${pct(tuned.formatCompliance)}`);
    assert.ok(short.formatCompliance! <= 0.2 && long.formatCompliance! <= 0.2, `base model: ${pct(short.formatCompliance)}, ${pct(long.formatCompliance)}`);
    assert.ok(tuned.formatCompliance! - Math.max(short.formatCompliance!, long.formatCompliance!) >= 0.5, "a gap of at least 50 points");
    assert.equal(result.behaviour.heldOutExamples, 13, "every held-out ticket is evaluated");
    assert.ok(long.costPer1kCalls! > short.costPer1kCalls!);
    assert.deepEqual(result.knowledge.accuracy.map((a) => a.set), ["trained", "paraphrased", "never trained"]);
    assert.ok(result.knowledge.accuracy.every((a) => a.questions > 0 && inUnit(a.base) && inUnit(a.tuned) && inUnit(a.retrieval)));
    const change = result.knowledge.afterChange;
    assert.equal(change.questions, 3);
    assert.equal(change.samples.length, 3);
    assert.ok(inUnit(change.tunedStale) && inUnit(change.retrievalStale));
    assert.deepEqual(result.retrieval.reindexed, ["policy.md"], "the changed policy document was re-indexed");

    // The report shows those same numbers, says which model and settings produced them.
    const html = readFileSync(join(out, "demo-report.html"), "utf8");
    assert.match(html, /--quick/);
    for (const a of result.advice) assert.ok(html.includes(`<b>${a.recommendation}</b>`));
    assert.ok(html.includes("stories260K"), "the report names the model");
    for (const c of result.behaviour.configs) assert.ok(html.includes(pct(c.formatCompliance)), `html shows ${c.name}: ${pct(c.formatCompliance)}`);
    for (const f of result.findings) assert.ok(html.includes(f.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/'/g, "&#39;").replace(/</g, "&lt;").replace(/>/g, "&gt;")));
    assert.ok(existsSync(join(out, "demo-report.md")));
    assert.ok(existsSync(join(result.behaviour.reportDir, "report.html")));
    assert.match(r.stdout, /Behaviour/);
    // Honest about the model: it learned the format, and retrieval needs a model that reads its context.
    const caveat = result.findings.at(-1)!;
    assert.match(caveat, /--quick settings on .*stories260K/);
    assert.match(caveat, /learned the reply format from 53 examples/);
    if (Math.max(...result.knowledge.accuracy.map((a) => a.retrieval ?? 0)) < 0.5) assert.match(caveat, /Retrieval needs a model that reads its context/);
    await checkChartsInBrowser(t, join(out, "demo-report.html"));
    assert.ok(r.stdout.includes(pct(result.behaviour.configs[2].formatCompliance)));

    // A second run into the same folder replaces the earlier demo; a foreign folder is refused.
    const again = await runCli(["demo", "--quick", "--model", model, "-o", tmp.dir, "--offline"], { timeoutMs: 60_000 });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /output_not_empty/);
  } finally {
    tmp.cleanup();
  }
});

const CHROMIUM = "/usr/bin/chromium";
type Swatch = { getAttribute(name: string): string | null; getBoundingClientRect(): { left: number; right: number; top: number; bottom: number } };

/** The report at 1280 px in headless Chromium: no errors, and no chart's legend entries overlap or leave the chart. */
async function checkChartsInBrowser(t: { diagnostic(m: string): void }, html: string): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    process.stderr.write(`\n*** SKIPPING the browser check of the demo report: ${CHROMIUM} is missing ***\n`);
    t.diagnostic(`${CHROMIUM} missing: browser check skipped`);
    return;
  }
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`file://${html}`);
    await page.waitForLoadState("load");
    assert.deepEqual(errors, []);
    const charts = await page.$$eval("svg.chart", (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        // Legend entries: a swatch followed by its name, above the bars.
        const entries = [...svg.querySelectorAll("rect + text")]
          .filter((text) => (text.previousElementSibling as unknown as Swatch).getAttribute("width") === "12")
          .map((text) => {
            const a = (text.previousElementSibling as unknown as Swatch).getBoundingClientRect();
            const b = text.getBoundingClientRect();
            return { name: text.textContent, left: a.left, right: b.right, top: Math.min(a.top, b.top), bottom: Math.max(a.bottom, b.bottom) };
          });
        return { left: box.left, right: box.right, entries };
      }),
    );
    assert.ok(charts.length >= 3, `charts: ${charts.length}`);
    for (const c of charts) {
      assert.ok(c.entries.length >= 2, JSON.stringify(c));
      for (const e of c.entries) assert.ok(e.left >= c.left && e.right <= c.right, `legend "${e.name}" leaves its chart`);
      for (let i = 0; i < c.entries.length; i++) {
        for (let j = i + 1; j < c.entries.length; j++) {
          const [a, b] = [c.entries[i], c.entries[j]];
          const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
          assert.ok(!overlap, `legend entries overlap: "${a.name}" [${a.left}, ${a.right}] and "${b.name}" [${b.left}, ${b.right}]`);
        }
      }
    }
  } finally {
    await browser.close();
  }
}

test("tunekit demo with a model that does not exist offline fails with a clear message and leaves no folder", async () => {
  const tmp = tempDir("tunekit-demo-");
  try {
    const r = await runCli(["demo", "--quick", "--model", "nobody/no-such-model", "-o", join(tmp.dir, "d")], {
      env: { HF_HUB_OFFLINE: "1", HF_HOME: join(tmp.dir, "hf") },
    });
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.match(r.stderr, /nobody\/no-such-model/);
    assert.equal(existsSync(join(tmp.dir, "d")), false);

    // -o naming an existing file is refused before anything runs.
    const file = join(tmp.dir, "a-file");
    writeFileSync(file, "x");
    const f = await runCli(["demo", "--quick", "--model", "nobody/no-such-model", "-o", file]);
    assert.equal(f.code, 2);
    assert.match(f.stderr, /output_not_a_directory/);
    assert.doesNotMatch(f.stderr, /\n\s+at /);
  } finally {
    tmp.cleanup();
  }
});
