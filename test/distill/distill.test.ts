/**
 * distill() against an OpenAI-compatible fake on 127.0.0.1, through the real `openai` SDK and the real
 * SQLite generation cache: selection, the cache, the budget, retries, failures, and the key.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { distill } from "../../src/distill/distill.js";
import { validateFile } from "../../src/dataset/validate/index.js";
import { openStore } from "../../src/store/store.js";
import { GenerationCache } from "../../src/eval/runner/cache.js";
import { tempDir } from "../helpers/fixtures.js";
import { assertSecretNowhere } from "../helpers/secrets.js";
import { startFakeChat, type ChatRequestBody } from "../servers/fake-chat.js";

const KEY = "sk-" + "DistillLibraryKey0192837465";
const lastUser = (b: ChatRequestBody) => String([...b.messages].reverse().find((m) => m.role === "user")?.content ?? "");
const twoLines = (b: ChatRequestBody) => `TL;DR: ${lastUser(b)}\nNext step: we check it today.`;
const FAST = { maxRetries: 2, backoffMs: 5 };

function setup(prompts: string[], name = "prompts.txt") {
  const t = tempDir("tunekit-distill-");
  const file = join(t.dir, name);
  writeFileSync(file, prompts.join("\n") + "\n");
  const home = join(t.dir, "home");
  return { t, file, home, out: join(t.dir, "out.jsonl"), env: { TUNEKIT_API_KEY: KEY, TUNEKIT_HOME: home } };
}

const lines = (p: string) => readFileSync(p, "utf8").trim().split("\n").map((l) => JSON.parse(l));

test("answers that pass the line template are kept, in prompt order; the file validates; a rerun makes no call", async () => {
  const s = await startFakeChat({ apiKey: KEY, reply: (b) => (lastUser(b).includes("refuse") ? "Sorry, I can't." : twoLines(b)) });
  const { t, file, out, env, home } = setup(["Order 1 late", "please refuse this", "Order 2 broken", "Order 1 late", "Order 3 lost"]);
  try {
    const opts = { prompts: file, teacher: `endpoint=${s.baseUrl},model=old,price_in=2,price_out=4`, out, system: "Answer in two lines.", format: "line-template=TL;DR: / Next step:", env, retry: FAST };
    const r = await distill(opts);
    assert.equal(r.kept, 3);
    assert.deepEqual(r.dropped, { format: 1, empty: 0, truncated: 0, failed: 0, duplicate: 1, not_reached: 0 });
    assert.deepEqual(r.drops.map((d) => [d.line, d.reason]), [[2, "format"], [4, "duplicate"]]);
    assert.equal(s.requests.length, 4, "the repeated prompt is asked once");
    assert.deepEqual(s.requests.map((q) => q.body.messages[0]), Array(4).fill({ role: "system", content: "Answer in two lines." }));
    const rows = lines(out);
    assert.deepEqual(rows.map((x) => x.messages[1].content), ["Order 1 late", "Order 2 broken", "Order 3 lost"]);
    assert.equal(rows[0].messages[2].content, "TL;DR: Order 1 late\nNext step: we check it today.");
    const v = await validateFile(out);
    assert.equal(v.errorCount, 0);
    assert.equal(v.examples, 3);
    // Tokens as the server counted them; cost at the given price.
    const tIn = r.calls.teacher.tokensIn;
    const tOut = r.calls.teacher.tokensOut;
    assert.ok(tIn > 0 && tOut > 0);
    assert.ok(Math.abs(r.costUsd! - (tIn * 2 + tOut * 4) / 1e6) < 1e-12);
    assert.equal(r.complete, true);

    const again = await distill(opts);
    assert.equal(s.requests.length, 4, "the rerun asked nothing");
    assert.equal(again.calls.teacher.made, 0);
    assert.equal(again.calls.teacher.cached, 4);
    assert.equal(again.costUsd, 0);
    assert.equal(again.calls.teacher.cachedTokensIn, tIn);
    assert.deepEqual(lines(out), rows);
    assertSecretNowhere(KEY, [JSON.stringify(r), JSON.stringify(again)], [home, t.dir]);
  } finally {
    await s.close();
    t.cleanup();
  }
});

test("--n: the next answer is asked for only when the ones before were dropped; seeds tell them apart in the cache", async () => {
  // Sample 0 breaks the format for every prompt, sample 1 passes: 2 calls per prompt.
  const s = await startFakeChat({ reply: (b) => (b.seed === 10 ? "no format" : twoLines(b)) });
  const { t, file, out, env } = setup(["a b", "c d", "e f"]);
  try {
    const r = await distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=m`, out, n: 3, temperature: 0.8, seed: 10, format: "line-template=TL;DR: / Next step:", env, retry: FAST });
    assert.equal(r.kept, 3);
    assert.equal(s.requests.length, 6);
    assert.deepEqual(s.requests.map((q) => q.body.seed).sort(), [10, 10, 10, 11, 11, 11]);
    assert.ok(s.requests.every((q) => q.body.temperature === 0.8));
    assert.deepEqual(r.answers, { total: 6, passed: 3, format: 3, empty: 0, truncated: 0, failed: 0 });
    // Asking again with a stricter format reuses the answers already made and asks only for the third.
    await assert.rejects(
      distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=m`, out, n: 3, temperature: 0.8, seed: 10, format: "json", env, retry: FAST }),
      (e: Error & { code?: string }) => e.code === "nothing_kept" && /format 3/.test(e.message),
    );
    assert.equal(s.requests.length, 9);
    assert.deepEqual(s.requests.slice(6).map((q) => q.body.seed), [12, 12, 12]);
  } finally {
    await s.close();
    t.cleanup();
  }
});

test("--judge picks the best passing answer; ties keep the earlier one; judge calls are cached too", async () => {
  const teacher = await startFakeChat({ reply: (b) => `{"answer": "v${b.seed}", "prompt": ${JSON.stringify(lastUser(b))}}` });
  // For q1 the judge likes answer v2 best; for q2 it scores all three alike (the first one is kept).
  const judge = await startFakeChat({ reply: (b) => (lastUser(b).includes('"v2"') && lastUser(b).includes('"q1"') ? '{"reasoning": "best", "score": 5}' : '{"reasoning": "ok", "score": 3}') });
  const { t, file, out, env } = setup(["q1", "q2"]);
  try {
    const opts = { prompts: file, teacher: `endpoint=${teacher.baseUrl},model=t`, judge: `endpoint=${judge.baseUrl},model=j`, out, n: 3, temperature: 1, format: "json", env, retry: FAST };
    const r = await distill(opts);
    assert.equal(r.kept, 2);
    assert.equal(teacher.requests.length, 6, "with a judge every answer is asked for");
    assert.equal(judge.requests.length, 6);
    assert.deepEqual(lines(out).map((x) => JSON.parse(x.messages.at(-1).content).answer), ["v2", "v0"]);
    assert.equal(r.calls.judge!.made, 6);
    await distill(opts);
    assert.equal(judge.requests.length, 6);
    assert.equal(teacher.requests.length, 6);
  } finally {
    await teacher.close();
    await judge.close();
    t.cleanup();
  }
});

test("empty, cut-off and malformed answers are dropped with their reason; a prompt that keeps failing is recorded, not fatal", async () => {
  const s = await startFakeChat({
    reply: (b) => (lastUser(b) === "empty" ? "   " : lastUser(b) === "long" ? "TL;DR: this goes on and on" : twoLines(b)),
    finishReason: (b) => (lastUser(b) === "long" ? "length" : "stop"),
  });
  const { t, file, out, env } = setup(["ok one", "empty", "long", "broken body", "server down", "ok two"]);
  try {
    // Requests come in prompt order with concurrency 1 (a zero delay is a fault that changes nothing): the
    // 4th prompt gets an HTML page and, on its one retry, broken JSON; the 5th three 500s (a try and two retries).
    s.inject({ delayMs: 0 }, { delayMs: 0 }, { delayMs: 0 }, { raw: "<html>bad gateway</html>", contentType: "text/html" }, { raw: "{nope" }, { status: 500 }, { status: 500 }, { status: 500 });
    const r = await distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=m`, out, concurrency: 1, env, retry: FAST });
    assert.equal(r.kept, 2);
    assert.equal(r.dropped.empty, 1);
    assert.equal(r.dropped.truncated, 1);
    assert.equal(r.dropped.failed, 2);
    const byLine = Object.fromEntries(r.drops.map((d) => [d.line, d]));
    assert.match(byLine[3].detail, /cut off at --max-tokens 1024/);
    assert.match(byLine[4].detail, /not a chat completion|JSON/);
    assert.match(byLine[5].detail, /HTTP 500/);
    assert.equal(r.calls.teacher.failed, 2);
    assert.deepEqual(lines(out).map((x) => x.messages.at(-1).content.split("\n")[0]), ["TL;DR: ok one", "TL;DR: ok two"]);
  } finally {
    await s.close();
    t.cleanup();
  }
});

test("the teacher's own system= prompt is what it sees; the examples keep the short one", async () => {
  const s = await startFakeChat({ reply: twoLines });
  const { t, file, out, env } = setup(["a ticket"]);
  try {
    writeFileSync(join(t.dir, "long.txt"), "Long instructions.\nExample: TL;DR: x\nNext step: y\n");
    await distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=m,system=@${join(t.dir, "long.txt")}`, out, system: "Be brief.", env });
    assert.deepEqual(s.requests[0].body.messages, [{ role: "system", content: "Long instructions.\nExample: TL;DR: x\nNext step: y" }, { role: "user", content: "a ticket" }]);
    assert.deepEqual(lines(out)[0].messages.slice(0, 2), [{ role: "system", content: "Be brief." }, { role: "user", content: "a ticket" }]);
  } finally {
    await s.close();
    t.cleanup();
  }
});

test("rate limits wait for retry-after and are counted; the answers still come", async () => {
  const s = await startFakeChat({ reply: twoLines });
  const { t, file, out, env } = setup(["a", "b"]);
  try {
    s.inject({ status: 429, retryAfterMs: "150" }, { status: 503 });
    const t0 = Date.now();
    const r = await distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=m`, out, concurrency: 1, env, retry: FAST });
    assert.equal(r.kept, 2);
    assert.equal(r.calls.teacher.retries, 2);
    assert.ok(s.requests[1].at - s.requests[0].at >= 140, "waited for retry-after-ms");
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    await s.close();
    t.cleanup();
  }
});

test("a rejected key stops the run with teacher_auth; nothing is written; the key appears nowhere", async () => {
  const s = await startFakeChat({ apiKey: KEY, reply: twoLines });
  const { t, file, out, home } = setup(["a", "b", "c"]);
  const wrong = "sk-" + "WrongKeyForTheTeacher5566778899";
  try {
    await assert.rejects(
      distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=m`, out, env: { TUNEKIT_API_KEY: wrong, TUNEKIT_HOME: home }, retry: FAST }),
      (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, "teacher_auth");
        assert.match(e.hint!, /TUNEKIT_API_KEY/);
        assertSecretNowhere(wrong, [e.message, e.hint ?? ""], [home]);
        return true;
      },
    );
    assert.ok(s.requests.length <= 4, "stops at once (calls in flight excepted)");
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(t.dir).filter((f) => f.includes("out")), []);
  } finally {
    await s.close();
    t.cleanup();
  }
});

test("an unreachable teacher stops the run with teacher_unreachable", async () => {
  const s = await startFakeChat();
  const url = s.baseUrl;
  await s.close();
  const { t, file, out, env } = setup(Array.from({ length: 20 }, (_, i) => `prompt ${i}`));
  try {
    await assert.rejects(distill({ prompts: file, teacher: `endpoint=${url},model=m`, out, env, retry: { maxRetries: 1, backoffMs: 1 } }), (e: Error & { code?: string }) => {
      assert.equal(e.code, "teacher_unreachable");
      assert.match(e.message, /cannot reach the teacher/);
      return true;
    });
    assert.equal(existsSync(out), false);
  } finally {
    t.cleanup();
  }
});

test("--max-cost stops before the budget is passed, keeps what was answered, and a rerun with more budget finishes without repeating a call", async () => {
  // Each answer: 6 whitespace tokens; price 1000 USD per 1M output tokens makes a call cost ~ $0.01-0.02.
  const s = await startFakeChat({ reply: twoLines });
  const { t, file, out, env } = setup(Array.from({ length: 10 }, (_, i) => `ticket ${i}`));
  try {
    const teacher = `endpoint=${s.baseUrl},model=m,price_in=100,price_out=1000`;
    const r = await distill({ prompts: file, teacher, out, maxTokens: 10, maxCostUsd: 0.05, concurrency: 2, env, retry: FAST });
    assert.equal(r.complete, false);
    assert.equal(r.stopped?.reason, "max_cost");
    assert.ok(r.costUsd! <= 0.05, `spent ${r.costUsd}`);
    assert.ok(r.kept >= 1 && r.kept < 10, `kept ${r.kept}`);
    assert.equal(r.dropped.not_reached, 10 - r.kept);
    assert.equal(lines(out).length, r.kept);
    assert.match(r.stopped!.message, new RegExp(`answered ${r.kept} of 10 prompts`));
    // It stopped because one more call could pass the limit, not because calls in flight held the room.
    const upTo = Number(/could cost up to \$([\d.]+)/.exec(r.stopped!.message)![1]);
    assert.ok(r.costUsd! + upTo > 0.05, `stopped early: spent ${r.costUsd}, next call up to ${upTo}`);
    const made = s.requests.length;
    assert.equal(made, r.kept);

    const r2 = await distill({ prompts: file, teacher, out, maxTokens: 10, maxCostUsd: 1, concurrency: 2, env, retry: FAST });
    assert.equal(r2.complete, true);
    assert.equal(r2.kept, 10);
    assert.equal(s.requests.length, 10, "no prompt was asked twice");
    assert.equal(r2.calls.teacher.cached, made);

    await assert.rejects(distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=other,price_in=100,price_out=1000`, out, maxTokens: 10, maxCostUsd: 0.001, env }), /max_cost_too_low|does not cover one call/);
    await assert.rejects(distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=other`, out, maxCostUsd: 1, env }), (e: Error & { code?: string }) => e.code === "price_unknown");
  } finally {
    await s.close();
    t.cleanup();
  }
});

test("a known provider's model is priced from the catalog; an unknown one is reported unknown, not $0", async () => {
  const s = await startFakeChat({ reply: twoLines });
  const { t, file, out, env } = setup(["a"]);
  try {
    const unknown = await distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=m`, out, env });
    assert.equal(unknown.costUsd, null);
    assert.equal(unknown.teacher.price, null);
    // An OpenAI fine-tune, called through OPENAI_BASE_URL (as the migration does), gets its list price.
    const ft = await distill({ prompts: file, teacher: "ft:gpt-4o-mini-2024-07-18:acme::abc123", out, env: { ...env, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: s.baseUrl } });
    assert.ok(ft.teacher.price && ft.teacher.price.inputPerM > 0);
    assert.match(ft.teacher.priceSource!, /OpenAI list price \(fine-tuned gpt-4o-mini, as of \d{4}-\d{2}/);
    assert.ok(ft.costUsd! > 0);
    assert.equal(s.requests.at(-1)!.body.model, "ft:gpt-4o-mini-2024-07-18:acme::abc123");
  } finally {
    await s.close();
    t.cleanup();
  }
});

test("an aborted run stops after the calls in flight: interrupted, nothing written, the answers cached", async () => {
  const s = await startFakeChat({ reply: twoLines, delayMs: 20 });
  const { t, file, out, env } = setup(Array.from({ length: 30 }, (_, i) => `p${i}`));
  try {
    const ac = new AbortController();
    await assert.rejects(
      distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=m`, out, concurrency: 2, env, signal: ac.signal, onProgress: (p) => p.calls >= 4 && ac.abort() }),
      (e: Error & { code?: string }) => e.code === "interrupted" && /cached: rerun the same command/.test(e.message),
    );
    const asked = s.requests.length;
    assert.ok(asked >= 4 && asked < 30, `${asked} calls`);
    assert.equal(existsSync(out), false);
    const r = await distill({ prompts: file, teacher: `endpoint=${s.baseUrl},model=m`, out, env });
    assert.equal(r.calls.teacher.cached, asked);
    assert.equal(s.requests.length, 30);
  } finally {
    await s.close();
    t.cleanup();
  }
});

test("the store's cache table keeps the finish reason; older rows read without one", async () => {
  const t = tempDir();
  try {
    const store = openStore({ home: t.dir });
    const cols = (store.db.prepare("PRAGMA table_info(eval_generation_cache)").all() as { name: string }[]).map((c) => c.name);
    assert.ok(cols.includes("finish_reason"));
    const cache = new GenerationCache(store);
    const msgs = [{ role: "user" as const, content: "hi" }];
    cache.put("m", msgs, { maxTokens: 5 }, { text: "cut", tokensIn: 1, tokensOut: 5, latencyMs: 1, finishReason: "length" });
    cache.put("m", msgs, { maxTokens: 6 }, { text: "old row", tokensIn: 1, tokensOut: 2, latencyMs: 1 });
    assert.equal(cache.get("m", msgs, { maxTokens: 5 })!.finishReason, "length");
    assert.equal("finishReason" in cache.get("m", msgs, { maxTokens: 6 })!, false);
    store.close();
  } finally {
    t.cleanup();
  }
});
