/**
 * OpenAI's wind-down, through the real CLI and SDK against the fake API: the base model's retirement is
 * said before anything is uploaded (the models endpoint's shutdown_date, else the calendar), and a
 * refused job creation names the ways that remain, exits 1 without a stack trace and leaves nothing
 * behind at OpenAI.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { assertSecretNowhere } from "../helpers/secrets.js";
import { FakeOpenAIServer } from "../servers/fake-openai-ft.js";
import { writeChatJsonl } from "./data.js";

const KEY = "sk-proj-" + "WindDownKeyForTunekitTests31337";
let server: FakeOpenAIServer;
let tmp: { dir: string; cleanup: () => void };
const outputs: string[] = [];
const keep = (r: CliResult) => (outputs.push(r.stdout, r.stderr), r);
const env = (home: string) => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseURL, TUNEKIT_HOME: home, TUNEKIT_POLL_MS: "25" });

before(async () => {
  server = await new FakeOpenAIServer({ apiKey: KEY, stepMs: 30, shutdownDates: { "gpt-4.1-2025-04-14": "2027-01-14" } }).start();
  tmp = tempDir("tunekit-winddown-");
});
after(async () => {
  try {
    assertSecretNowhere(KEY, outputs, [tmp.dir]);
  } finally {
    await server.stop();
    tmp.cleanup();
  }
});

test("the retirement date is said before any upload: from the models endpoint, else the calendar", async () => {
  const data = writeChatJsonl(tmp.dir, "a.jsonl", 12);
  const uploads = () => server.requests.filter((r) => r.method === "POST" && r.path === "/v1/files").length;
  const before = uploads();
  // No --yes and no terminal: the quote (with the notice) is shown and nothing is uploaded.
  const r = keep(await runCli(["train", data, "--provider", "openai", "--model", "gpt-4.1-2025-04-14"], { env: env(join(tmp.dir, "h1")) }));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /gpt-4\.1-2025-04-14 retires on 2027-01-14 \(reported by OpenAI's models endpoint\); a fine-tune of it stops answering the same day/);
  assert.equal(uploads(), before);
  const cal = keep(await runCli(["train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18", "--json"], { env: env(join(tmp.dir, "h1")) }));
  const estimate = JSON.parse(cal.stdout.split("\n")[0]);
  assert.deepEqual(estimate.notices.map((n: { code: string; date: string }) => [n.code, n.date]), [["base_model_retires", "2027-01-14"], ["new_jobs_end", "2027-01-06"]]);
  assert.match(estimate.notices[0].message, /OpenAI's deprecation calendar as of 2026-12-06/);
});

test("a refused job creation (OpenAI's cutoff) names the alternatives, exits 1 without a trace, and deletes the uploaded file", async () => {
  const data = writeChatJsonl(tmp.dir, "b.jsonl", 12, "b");
  const home = join(tmp.dir, "h2");
  server.inject({ method: "POST", path: /^\/v1\/fine_tuning\/jobs$/, status: 403, body: { error: { message: "Your organization is no longer eligible to create fine-tuning jobs.", type: "invalid_request_error", param: null, code: "fine_tuning_not_available" } } });
  const r = keep(await runCli(["train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18", "--yes"], { env: env(home) }));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /error\[fine_tuning_closed\] OpenAI no longer accepts new fine-tuning jobs for this organisation \(it answered: Your organization is no longer eligible/);
  assert.match(r.stderr, /`--provider together` or `--provider fireworks`/);
  assert.match(r.stderr, /locally without --provider/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const uploaded = [...server.files.values()].filter((f) => f.filename === "b.jsonl");
  assert.equal(uploaded.length, 1);
  assert.ok(uploaded[0].deleted, "the file uploaded for the refused job is deleted again");
  const list = keep(await runCli(["jobs", "list", "--json"], { env: env(home) }));
  const [job] = JSON.parse(list.stdout);
  assert.equal(job.status, "failed");
  assert.equal(job.error.code, "fine_tuning_closed");
  assert.deepEqual(job.result.uploadsDeleted, [uploaded[0].id]);
  const json = keep(await runCli(["train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18", "--yes", "--json"], { env: env(home) }));
  // Accepted this time (no fault left): the file is uploaded anew, since the old one was deleted.
  assert.equal(json.code, 0, json.stderr);
});
