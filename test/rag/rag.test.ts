import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chunkText } from "../../src/rag/chunk.js";
import { formatRagContext, indexDocuments, openRagStore, retrieve } from "../../src/rag/store.js";
import { tempDir } from "../helpers/fixtures.js";
import { runCli } from "../helpers/cli.js";

const CORPUS: Record<string, string> = {
  "policies/refunds.md": `# Refund policy

## Window

Customers may return an item for a full refund within 30 days of delivery. Items must be unused.

## How refunds are paid

Refunds go back to the original payment method within 5 business days after we receive the item.
`,
  "policies/shipping.md": `# Shipping

Orders ship from our warehouse in Lyon. Delivery to Canada takes 7 to 10 business days; within the EU it takes 2 to 4 days.
Express shipping costs 15 euros.
`,
  "pricing.md": `# Plans and prices

The Basic plan costs $19 per month. The Pro plan costs $49 per month and includes priority support.
Annual billing saves two months.
`,
  "office/holidays.txt": `Office hours

The office is closed on December 25 and January 1 for the holidays. Support answers emails within one day otherwise.
`,
  "security.md": `# Security

Passwords are hashed with Argon2. Two-factor authentication can be enabled in the account settings.
`,
};

function writeCorpus(dir: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, text);
  }
}

test("chunks keep heading paths and exact offsets, respect the size, overlap, and skip fenced '#' lines", () => {
  const long = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} talks about topic ${i % 7}.`).join(" ");
  const doc = `Preamble before any heading.\n\n# Guide\n\nIntro.\n\n## Install\n\n${long}\n\n\`\`\`sh\n# not a heading\nnpm i\n\`\`\`\n\n### Linux\n\nUse apt.\n\n# Appendix\n\nLast words.\n`;
  const chunks = chunkText(doc, { maxChars: 300, overlapChars: 60 });
  for (const c of chunks) {
    assert.equal(doc.slice(c.start, c.end), c.text);
    assert.ok(c.text.length <= 300, `chunk of ${c.text.length} chars`);
    assert.ok(!/^#{1,6} /.test(c.text), "heading lines are not chunk text");
  }
  assert.equal(chunks[0].heading, "");
  assert.ok(chunks.some((c) => c.heading === "Guide > Install" && c.text.includes("# not a heading")));
  assert.ok(chunks.some((c) => c.heading === "Guide > Install > Linux" && c.text === "Use apt."));
  assert.equal(chunks[chunks.length - 1].heading, "Appendix");
  const install = chunks.filter((c) => c.heading === "Guide > Install");
  assert.ok(install.length >= 3);
  for (let i = 1; i < install.length; i++) assert.ok(install[i].start < install[i - 1].end, "consecutive chunks of a section overlap");
  // Nothing of the text is lost: every sentence is in some chunk.
  for (let i = 0; i < 40; i++) assert.ok(chunks.some((c) => c.text.includes(`Sentence number ${i} `)), `sentence ${i} missing`);
});

test("ranking: each question of a small corpus finds the document that answers it first", async () => {
  const t = tempDir();
  try {
    writeCorpus(join(t.dir, "docs"), CORPUS);
    const store = openRagStore(join(t.dir, "kb.db"));
    const report = await indexDocuments(store, join(t.dir, "docs"));
    assert.equal(report.added.length, 5);
    const cases: [string, string, RegExp][] = [
      ["How many days do I have to return an item for a refund?", "policies/refunds.md", /30 days/],
      ["What does the Pro plan cost per month?", "pricing.md", /\$49/],
      ["When is the office closed for the holidays?", "office/holidays.txt", /December 25/],
      ["How long does delivery to Canada take?", "policies/shipping.md", /7 to 10/],
      ["how are passwords stored", "security.md", /Argon2/],
    ];
    for (const [q, source, answer] of cases) {
      const top = retrieve(store, q, 3);
      assert.equal(top[0]?.source, source, `"${q}" -> ${top.map((r) => r.source).join(", ")}`);
      assert.match(top[0].text, answer);
      assert.ok(top.every((r, i) => i === 0 || r.score <= top[i - 1].score), "best first");
    }
    assert.equal(retrieve(store, "Within how many days can an item be returned?", 1)[0].heading, "Refund policy > Window");
    assert.deepEqual(retrieve(store, "zebra quantum xylophone", 4), []);
    const ctx = formatRagContext(retrieve(store, "Pro plan price", 2));
    assert.match(ctx, /^Relevant excerpts/);
    assert.match(ctx, /\[1\] pricing\.md \(Plans and prices\)\nThe Basic plan costs \$19/);
    assert.equal(formatRagContext([]), "");
    store.close();
  } finally {
    t.cleanup();
  }
});

test("re-indexing: a changed document's chunks are replaced, unchanged skipped, removed ones dropped", async () => {
  const t = tempDir();
  try {
    const docs = join(t.dir, "docs");
    writeCorpus(docs, CORPUS);
    const file = join(t.dir, "kb.db");
    let store = openRagStore(file);
    await indexDocuments(store, docs);
    store.close();
    writeCorpus(docs, { "policies/refunds.md": CORPUS["policies/refunds.md"].replace("within 30 days", "within 14 days") });
    rmSync(join(docs, "security.md"));
    store = openRagStore(file);
    const r = await indexDocuments(store, docs);
    assert.deepEqual(r.updated, ["policies/refunds.md"]);
    assert.deepEqual(r.added, []);
    assert.deepEqual(r.removed, ["security.md"]);
    assert.equal(r.unchanged, 3);
    const top = retrieve(store, "How many days do I have to return an item for a refund?", 4);
    assert.match(top[0].text, /within 14 days/);
    assert.ok(top.every((c) => !c.text.includes("30 days")), "no stale chunk left");
    assert.deepEqual(retrieve(store, "Argon2 passwords", 4), []);
    // No orphaned index rows.
    const n = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
    assert.equal(n("SELECT count(*) AS n FROM chunks_words"), n("SELECT count(*) AS n FROM chunks"));
    assert.equal(n("SELECT count(*) AS n FROM chunks_trigrams"), n("SELECT count(*) AS n FROM chunks"));
    const again = await indexDocuments(store, docs);
    assert.equal(again.unchanged, 4);
    // New chunking settings re-chunk everything.
    const rechunked = await indexDocuments(store, docs, { maxChars: 200 });
    assert.equal(rechunked.updated.length, 4);
    store.close();
  } finally {
    t.cleanup();
  }
});

test("unicode: accents fold both ways; Chinese and Japanese are found through the trigram index", async () => {
  const t = tempDir();
  try {
    writeCorpus(join(t.dir, "docs"), {
      "menu.md": "# Carte\n\nLe café crème coûte trois euros. La crêpe au sucre est servie jusqu'à midi.\n",
      "zh.md": "# 退款政策\n\n购买后三十天内可以申请退款。退款将在五个工作日内退回原支付方式。\n",
      "ja.md": "# 配送について\n\n東京への配送は通常二日かかります。送料は無料です。\n",
      "other.md": "# Misc\n\nNothing about food or refunds here, only weather reports.\n",
    });
    const store = openRagStore(join(t.dir, "kb.db"));
    await indexDocuments(store, join(t.dir, "docs"));
    assert.equal(retrieve(store, "cafe creme price", 1)[0]?.source, "menu.md");
    assert.equal(retrieve(store, "CRÊPE", 1)[0]?.source, "menu.md");
    assert.equal(retrieve(store, "退款政策是什么？", 1)[0]?.source, "zh.md");
    assert.equal(retrieve(store, "多少天内可以申请退款", 1)[0]?.source, "zh.md");
    assert.equal(retrieve(store, "東京への配送は何日？", 1)[0]?.source, "ja.md");
    store.close();
  } finally {
    t.cleanup();
  }
});

test("query text is never FTS5 syntax: quotes, AND/NOT, *, -, :, parentheses, NEAR are plain words", async () => {
  const t = tempDir();
  try {
    writeCorpus(join(t.dir, "docs"), CORPUS);
    const store = openRagStore(join(t.dir, "kb.db"));
    await indexDocuments(store, join(t.dir, "docs"));
    const nasty = ['"unbalanced quote', "refund AND NOT", "ref*", "-refund", "text: (window", "NEAR(refund window, 2)", "' OR 1=1 --", "^refund", "", "   ", "AND", "heading:Refund"];
    for (const q of nasty) assert.doesNotThrow(() => retrieve(store, q, 3), q);
    assert.equal(retrieve(store, 'refund AND "window"', 1)[0].source, "policies/refunds.md");
    assert.equal(retrieve(store, "-refund* (window)", 1)[0].source, "policies/refunds.md");
    assert.deepEqual(retrieve(store, "", 3), []);
    store.close();
  } finally {
    t.cleanup();
  }
});

test("a large document (about 3 MB) is chunked within bounds and a needle in the middle is found", async () => {
  const t = tempDir();
  try {
    const sections: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const body = Array.from({ length: 8 }, (_, j) => `Paragraph ${j} of section ${i} describes routine maintenance step ${(i * 8 + j) % 97} for pump model ${i % 13}.`).join("\n\n");
      sections.push(`## Section ${i}\n\n${body}${i === 777 ? "\n\nThe emergency shutoff valve is painted bright magenta and sits behind panel Q7." : ""}`);
    }
    const doc = `# Maintenance manual\n\n${sections.join("\n\n")}\n`;
    assert.ok(doc.length > 1_000_000);
    writeCorpus(join(t.dir, "docs"), { "manual.md": doc.repeat(2).replace(/magenta[^\n]*Q7\./, (m, off) => (off > doc.length ? "grey." : m)) });
    const store = openRagStore(join(t.dir, "kb.db"));
    const r = await indexDocuments(store, join(t.dir, "docs"), { maxChars: 800 });
    assert.ok(r.chunks >= 3000, `${r.chunks} chunks`);
    const max = (store.db.prepare("SELECT max(length(text)) AS m FROM chunks").get() as { m: number }).m;
    assert.ok(max <= 800);
    const hit = retrieve(store, "Where is the emergency shutoff valve?", 1)[0];
    assert.equal(hit.source, "manual.md");
    assert.match(hit.text, /magenta/);
    assert.equal(hit.heading, "Maintenance manual > Section 777");
    store.close();
  } finally {
    t.cleanup();
  }
});

test("CLI: rag index and rag query (--json and text); a missing store is a clear error", async () => {
  const t = tempDir();
  try {
    writeCorpus(join(t.dir, "docs"), CORPUS);
    const kb = join(t.dir, "kb.db");
    const idx = await runCli(["rag", "index", join(t.dir, "docs"), "--store", kb, "--json"]);
    assert.equal(idx.code, 0, idx.stderr);
    assert.equal(JSON.parse(idx.stdout).added.length, 5);
    const q = await runCli(["rag", "query", "What does the Pro plan cost?", "--store", kb, "--k", "2", "--json"]);
    assert.equal(q.code, 0, q.stderr);
    const out = JSON.parse(q.stdout);
    assert.equal(out.results.length, 2);
    assert.equal(out.results[0].source, "pricing.md");
    const text = await runCli(["rag", "query", "refund window", "--store", kb]);
    assert.match(text.stdout, /\[1\] policies\/refunds\.md \(Refund policy > Window\)/);
    const missing = await runCli(["rag", "query", "x", "--store", join(t.dir, "nope.db")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no document store at/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
  } finally {
    t.cleanup();
  }
});
