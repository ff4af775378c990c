import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.js";
import { startFakeChat } from "../servers/fake-chat.js";
import { tempDir } from "../helpers/fixtures.js";

const tldr = (a: string, b: string) => `TL;DR: ${a}\nNext step: ${b}`;

test("tunekit eval end to end: report files, table, gates, cache on rerun, keys never leak", { timeout: 90_000 }, async () => {
  const s = await startFakeChat({
    apiKey: "sk-secret-abc",
    reply: (b) => {
      const q = String(b.messages.at(-1)!.content);
      if (b.model === "tuned") return tldr(`about ${q}`, "reply within 30 days");
      return `Sure! About ${q}: wait 14 days. <script>window.__pwned=1</script>`;
    },
  });
  const t = tempDir();
  try {
    const data = join(t.dir, "heldout.jsonl");
    writeFileSync(
      data,
      Array.from({ length: 12 }, (_, i) =>
        JSON.stringify({ messages: [{ role: "user", content: `ticket ${i}` }, { role: "assistant", content: tldr(`about ticket ${i}`, "reply within 30 days") }] }),
      ).join("\n") + "\n",
    );
    writeFileSync(join(t.dir, "long.txt"), "Answer as TL;DR then Next step.");
    const env = { TUNEKIT_HOME: join(t.dir, "home"), MY_KEY: "sk-secret-abc" };
    const args = [
      "eval", "--data", data,
      "--model", `name=base,endpoint=${s.baseUrl},model=base,key_env=MY_KEY,system=@${join(t.dir, "long.txt")},price_in=1,price_out=2`,
      "--model", `name=tuned,endpoint=${s.baseUrl},model=tuned,key_env=MY_KEY,price_in=2,price_out=4`,
      "-o", join(t.dir, "report"),
      "--fail-if", "format_compliance < 0.95",
      "--training-cost", "5",
    ];
    const r = await runCli(args, { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tuned beats base on format compliance by \+100 points \[100, 100\]/);
    assert.match(r.stdout, /pass: tuned format_compliance = 1/);
    assert.match(r.stdout, /report: .*report\.html/);
    for (const f of ["report.html", "report.md", "results.json"]) assert.ok(existsSync(join(t.dir, "report", f)), f);
    const requests = s.requests.length;
    assert.equal(requests, 24);
    assert.equal(s.requests[0].body.messages[0].content, "Answer as TL;DR then Next step.");

    // rerun: everything cached, zero requests; a failing gate exits 1
    const r2 = await runCli([...args, "--fail-if", "base.format_compliance >= 0.5", "--fail-if", "tuned.factual_accuracy < 1", "--json"], { env });
    assert.equal(s.requests.length, requests, "rerun must not call the server");
    assert.equal(r2.code, 0, r2.stderr);
    const j = JSON.parse(r2.stdout);
    assert.equal(j.models[1].aggregate.format_compliance, 1);
    assert.ok(j.models[1].examples.every((e: { cached: boolean }) => e.cached));
    assert.deepEqual(j.gates.map((g: { failed: boolean }) => g.failed), [false, false, false]);
    const r3 = await runCli([...args, "--fail-if", "base.format_compliance < 0.5"], { env });
    assert.equal(r3.code, 1);
    assert.match(r3.stdout, /FAIL: base format_compliance = 0/);

    // the API key appears nowhere: not in output, report, results or the store
    const all = [r.stdout, r.stderr, r2.stdout, r2.stderr, ...["report.html", "report.md", "results.json"].map((f) => readFileSync(join(t.dir, "report", f), "utf8")), readFileSync(join(t.dir, "home", "tunekit.db")).toString("latin1")].join("\n");
    assert.ok(!all.includes("sk-secret-abc"));
  } finally {
    t.cleanup();
    await s.close();
  }
});

test("tunekit eval usage errors: exit 2 with a hint, no stack trace; bad data exits 1", async () => {
  const t = tempDir();
  try {
    const r = await runCli(["eval", "--model", "gpt-4o-mini"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--data is required/);
    const data = join(t.dir, "d.jsonl");
    writeFileSync(data, JSON.stringify({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }] }) + "\n");
    const k = await runCli(["eval", "--data", data, "--model", "name=a,model=m,key=sk-1"]);
    assert.equal(k.code, 2);
    assert.match(k.stderr, /API keys are not accepted/);
    assert.doesNotMatch(k.stderr, /\n\s+at /);
    const g = await runCli(["eval", "--data", data, "--model", "name=a,endpoint=http://127.0.0.1:9/v1,model=m", "--fail-if", "nonsense < 1"]);
    assert.equal(g.code, 2);
    assert.match(g.stderr, /unknown metric "nonsense"/);
    writeFileSync(data, '{"messages": [{"role": "user", "content": "q"}]}\n');
    const b = await runCli(["eval", "--data", data, "--model", "name=a,endpoint=http://127.0.0.1:9/v1,model=m", "-o", join(t.dir, "out")], { env: { TUNEKIT_HOME: join(t.dir, "h") } });
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, /d\.jsonl:1/);
    assert.ok(!existsSync(join(t.dir, "out")), "no partial report");
    const help = await runCli(["eval", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /name=base,endpoint=/);
    assert.match(help.stdout, /format_compliance/);
  } finally {
    t.cleanup();
  }
});
