/**
 * Azure OpenAI through the official SDK's AzureOpenAI client against the fake fine-tuning API in Azure's
 * shape (/openai paths, api-version, `api-key` header or an Entra ID token): the same contract as OpenAI.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { assertSecretNowhere } from "../helpers/secrets.js";
import { FakeOpenAIServer } from "../servers/fake-openai-ft.js";
import { createAzureTrainer } from "../../src/providers/azure/trainer.js";
import { writeChatJsonl } from "./data.js";

const KEY = "azk-" + "AzureSecretKeyForTunekitTests42";
const TOKEN = "eyJ0eXAi" + "EntraTokenForTunekitTests77";
const API_VERSION = "2025-04-01-preview";
let server: FakeOpenAIServer;
let tmp: { dir: string; cleanup: () => void };
const outputs: string[] = [];
const keep = (r: CliResult) => (outputs.push(r.stdout, r.stderr), r);
const lines = (s: string) => s.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

before(async () => {
  server = await new FakeOpenAIServer({ apiKey: KEY, stepMs: 30, azure: { apiVersion: API_VERSION, token: TOKEN }, models: ["gpt-4.1-mini-2025-04-14", "gpt-oss-20b"] }).start();
  tmp = tempDir("tunekit-azure-");
});
after(async () => {
  try {
    assertSecretNowhere(KEY, outputs, [tmp.dir]);
    assertSecretNowhere(TOKEN, outputs, [tmp.dir]);
  } finally {
    await server.stop();
    tmp.cleanup();
  }
});

const endpoint = () => server.baseURL.replace(/\/v1$/, "");

test("train --provider azure with a key: upload, job, metrics, done, through the AzureOpenAI client", async () => {
  const data = writeChatJsonl(tmp.dir, "train.jsonl", 12);
  const home = join(tmp.dir, "home");
  // OPENAI_BASE_URL of another setup must not leak into the Azure client.
  const env = { AZURE_OPENAI_ENDPOINT: endpoint(), AZURE_OPENAI_API_KEY: KEY, OPENAI_API_VERSION: API_VERSION, OPENAI_BASE_URL: "http://127.0.0.1:9/v1", TUNEKIT_HOME: home, TUNEKIT_POLL_MS: "25" };
  const r = keep(await runCli(["train", data, "--provider", "azure", "--model", "gpt-4.1-mini-2025-04-14", "--epochs", "2", "--yes", "--json"], { env }));
  assert.equal(r.code, 0, r.stderr);
  const ev = lines(r.stdout);
  assert.deepEqual(ev.find((l) => l.type === "estimate").notices, [], "OpenAI's calendar is not Azure's");
  assert.equal(ev.at(-1).type, "done");
  assert.equal(ev.at(-1).status, "succeeded");
  assert.ok(ev.some((l) => l.type === "metrics"));
  // The fake answers only /openai/... with the api-version (recorded under the OpenAI path it maps to).
  const reqs = server.requests;
  assert.ok(reqs.some((q) => q.path === "/v1/fine_tuning/jobs" && q.method === "POST" && q.status === 200));
  assert.ok(reqs.length > 0 && reqs.every((q) => q.query["api-version"] === API_VERSION));
  const list = keep(await runCli(["jobs", "list", "--json"], { env }));
  const [job] = JSON.parse(list.stdout);
  assert.equal(job.provider, "azure");
  assert.equal(job.baseUrl, `${endpoint()}/openai`);
});

test("an Entra ID token instead of a key; a missing endpoint or credential is a clear error", async () => {
  const data = writeChatJsonl(tmp.dir, "entra.jsonl", 10, "e");
  const t = createAzureTrainer({ env: { AZURE_OPENAI_ENDPOINT: endpoint(), AZURE_OPENAI_AD_TOKEN: TOKEN, OPENAI_API_VERSION: API_VERSION } });
  const prepared = await t.prepare({ trainingFile: data });
  assert.ok(prepared.ok, JSON.stringify(!prepared.ok && prepared.error));
  const started = await t.start(prepared.value, { model: "gpt-oss-20b" });
  assert.ok(started.ok, JSON.stringify(!started.ok && started.error));
  const noEndpoint = await createAzureTrainer({ env: { AZURE_OPENAI_API_KEY: KEY } }).status("ftjob-x");
  assert.ok(!noEndpoint.ok && /AZURE_OPENAI_ENDPOINT is not set/.test(noEndpoint.error.message));
  const noKey = await createAzureTrainer({ env: { AZURE_OPENAI_ENDPOINT: endpoint() } }).status("ftjob-x");
  assert.ok(!noKey.ok && noKey.error.code === "auth" && /AZURE_OPENAI_API_KEY nor AZURE_OPENAI_AD_TOKEN/.test(noKey.error.message));
  const wrong = await createAzureTrainer({ env: { AZURE_OPENAI_ENDPOINT: endpoint(), AZURE_OPENAI_API_KEY: "azk-wrong-key-000000", OPENAI_API_VERSION: API_VERSION } }).status("ftjob-x");
  assert.ok(!wrong.ok && wrong.error.code === "auth" && /AZURE_OPENAI_API_KEY/.test(wrong.error.message));
  outputs.push(JSON.stringify([noEndpoint, noKey, wrong]));
});
