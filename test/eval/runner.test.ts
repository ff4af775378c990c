import { test } from "node:test";
import assert from "node:assert/strict";
import { startFakeChat } from "../servers/fake-chat.js";
import { createEndpointRunner, retryAfterMs } from "../../src/eval/runner/endpoint.js";
import { mapLimit } from "../../src/eval/runner/pool.js";
import { GenerationCache, withCache, cacheKey } from "../../src/eval/runner/cache.js";
import { openStore } from "../../src/store/store.js";
import { tempDir } from "../helpers/fixtures.js";

const user = (content: string) => [{ role: "user" as const, content }];

test("endpoint runner: text, usage, cost and the API key through the real SDK", async () => {
  const s = await startFakeChat({ apiKey: "sk-test-123", reply: (b) => `echo ${b.messages.at(-1)!.content}` });
  try {
    const r = createEndpointRunner({ baseUrl: s.baseUrl, model: "m1", apiKey: "sk-test-123", price: { inputPerM: 1, outputPerM: 2 } });
    const g = await r.generate([{ role: "system", content: "be brief" }, ...user("hello there")], { maxTokens: 20 });
    assert.equal(g.error, undefined);
    assert.equal(g.text, "echo hello there");
    assert.equal(g.tokensIn, 2 + 3 + 2 + 3);
    assert.equal(g.tokensOut, 3);
    assert.ok(Math.abs(g.costUsd! - (10 * 1 + 3 * 2) / 1e6) < 1e-15);
    assert.equal(s.requests[0].body.model, "m1");
    assert.equal(s.requests[0].body.max_tokens, 20);
    assert.equal(s.requests[0].body.temperature, 0);
    assert.equal(s.requests[0].authorization, "Bearer sk-test-123");
    // a wrong key is an error value, not a throw, and is not retried
    const bad = createEndpointRunner({ baseUrl: s.baseUrl, model: "m1", apiKey: "wrong", sleep: async () => {} });
    const n = s.requests.length;
    const e = await bad.generate(user("x"), {});
    assert.match(e.error!, /401/);
    assert.doesNotMatch(e.error!, /wrong/);
    assert.equal(s.requests.length, n + 1);
  } finally {
    await s.close();
  }
});

test("429 waits for retry-after; 500 is retried with backoff; giving up returns an error value", async () => {
  const s = await startFakeChat();
  try {
    const waits: number[] = [];
    const r = createEndpointRunner({ baseUrl: s.baseUrl, model: "m", backoffMs: 10, sleep: async (ms) => void waits.push(ms) });
    s.inject({ status: 429, retryAfter: "2" }, { status: 500 }, { status: 429, retryAfterMs: "350" });
    const g = await r.generate(user("ok"), {});
    assert.equal(g.text, "ok");
    assert.deepEqual(s.requests.map((q) => q.status), [429, 500, 429, 200]);
    assert.equal(waits[0], 2000);
    assert.ok(waits[1] >= 15 && waits[1] <= 25, `backoff after the 500 (2nd attempt): ${waits[1]}`);
    assert.equal(waits[2], 350);

    const r2 = createEndpointRunner({ baseUrl: s.baseUrl, model: "m", maxRetries: 2, sleep: async () => {} });
    s.inject({ status: 500 }, { status: 500 }, { status: 500 });
    const before = s.requests.length;
    const e = await r2.generate(user("x"), {});
    assert.equal(s.requests.length - before, 3);
    assert.match(e.error!, /500/);
    assert.equal(e.text, "");
  } finally {
    await s.close();
  }
});

test("real retry-after wait is honoured in wall-clock time", async () => {
  const s = await startFakeChat();
  try {
    const r = createEndpointRunner({ baseUrl: s.baseUrl, model: "m" });
    s.inject({ status: 429, retryAfter: "0.3" });
    const t0 = Date.now();
    const g = await r.generate(user("hi"), {});
    assert.equal(g.text, "hi");
    assert.ok(s.requests[1].at - s.requests[0].at >= 290, `waited ${s.requests[1].at - s.requests[0].at} ms`);
    assert.ok(Date.now() - t0 < 3000);
  } finally {
    await s.close();
  }
});

test("retry-after parsing: seconds, ms, HTTP date", () => {
  assert.equal(retryAfterMs({ "retry-after": "3" }), 3000);
  assert.equal(retryAfterMs(new Headers({ "retry-after-ms": "120" })), 120);
  assert.equal(retryAfterMs({ "retry-after": new Date(10_000).toUTCString() }, 4_000), 6_000);
  assert.equal(retryAfterMs({}), undefined);
});

test("bounded concurrency is respected", async () => {
  const s = await startFakeChat({ delayMs: 40 });
  try {
    const r = createEndpointRunner({ baseUrl: s.baseUrl, model: "m" });
    const out = await mapLimit(Array.from({ length: 12 }, (_, i) => i), 3, (i) => r.generate(user(`q${i}`), {}));
    assert.deepEqual(out.map((g) => g.text), Array.from({ length: 12 }, (_, i) => `q${i}`));
    assert.equal(s.maxInFlight, 3);
  } finally {
    await s.close();
  }
});

test("the generation cache: a rerun makes zero requests; params and prompt are part of the key", async () => {
  const s = await startFakeChat();
  const home = tempDir();
  const store = openStore({ home: home.dir });
  try {
    const cache = new GenerationCache(store);
    const r = withCache(createEndpointRunner({ baseUrl: s.baseUrl, model: "m" }), cache, { inputPerM: 1, outputPerM: 1 });
    const prompts = ["a b", "c d", "e f"];
    const first = await mapLimit(prompts, 2, (p) => r.generate(user(p), { maxTokens: 5 }));
    assert.equal(s.requests.length, 3);
    assert.ok(first.every((g) => !g.cached));
    const second = await mapLimit(prompts, 2, (p) => r.generate(user(p), { maxTokens: 5 }));
    assert.equal(s.requests.length, 3, "second run must not call the server");
    assert.ok(second.every((g) => g.cached));
    assert.deepEqual(second.map((g) => g.text), first.map((g) => g.text));
    assert.deepEqual(second.map((g) => g.tokensIn), first.map((g) => g.tokensIn));
    assert.ok(second[0].costUsd! > 0);
    await r.generate(user("a b"), { maxTokens: 6 });
    assert.equal(s.requests.length, 4, "other sampling params miss the cache");
    // errors are not cached
    s.inject({ status: 400 });
    const e = await r.generate(user("zzz"), {});
    assert.ok(e.error);
    await r.generate(user("zzz"), {});
    assert.equal(s.requests.length, 6);
    assert.equal(cache.count("endpoint:" + s.baseUrl + "|m"), 5);
    // key order in params does not matter
    assert.equal(cacheKey("x", user("p"), { temperature: 0, maxTokens: 3 }).key, cacheKey("x", user("p"), { maxTokens: 3, temperature: 0 }).key);
    // the stored request never holds a key
    const rows = store.db.prepare("SELECT request_json FROM eval_generation_cache").all() as { request_json: string }[];
    assert.ok(rows.every((x) => !x.request_json.includes("sk-")));
  } finally {
    store.close();
    home.cleanup();
    await s.close();
  }
});
