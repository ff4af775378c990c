/**
 * Hub downloads through the real @huggingface/hub client against a local fake hub (HF_ENDPOINT):
 * standard cache layout, offline reuse, resume of a cut download, and the error paths.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveModelDir } from "../../src/hub/resolve.js";
import { hubCacheDir } from "../../src/hub/env.js";
import { linkSnapshotFile } from "../../src/hub/cache.js";
import { parseHubId } from "../../src/hub/types.js";
import { loadModel, expectedTensorShapes } from "../../src/engine/io/model.js";
import { parseModelConfig } from "../../src/engine/io/config.js";
import { writeSafetensors } from "../../src/engine/io/safetensors.js";
import { TunekitError } from "../../src/util/errors.js";
import { tempDir } from "../helpers/fixtures.js";
import { closedPortUrl, startFakeHub, type FakeRepo } from "../helpers/fake-hub.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const cfg = {
  architectures: ["LlamaForCausalLM"],
  vocab_size: 16,
  hidden_size: 8,
  intermediate_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
  tie_word_embeddings: true,
};

async function tinyRepo(dir: string, sharded = false): Promise<FakeRepo> {
  const shapes = [...expectedTensorShapes(parseModelConfig(cfg))];
  const tensors = shapes.map(([name, shape], k) => ({
    name,
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + k)),
  }));
  const files: Record<string, Buffer> = {
    "config.json": Buffer.from(JSON.stringify(cfg)),
    "tokenizer_config.json": Buffer.from("{}"),
    "README.md": Buffer.from("not downloaded"),
    "pytorch_model.bin": Buffer.from("not downloaded either"),
  };
  if (!sharded) {
    await writeSafetensors(join(dir, "m.safetensors"), tensors);
    files["model.safetensors"] = readFileSync(join(dir, "m.safetensors"));
  } else {
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < 2; s++) {
      const part = tensors.filter((_, i) => i % 2 === s);
      const name = `model-0000${s + 1}-of-00002.safetensors`;
      await writeSafetensors(join(dir, name), part);
      files[name] = readFileSync(join(dir, name));
      for (const t of part) weightMap[t.name] = name;
    }
    files["model.safetensors.index.json"] = Buffer.from(JSON.stringify({ metadata: {}, weight_map: weightMap }));
  }
  return { sha: SHA, files };
}

async function rejectsWith(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TunekitError, `expected TunekitError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.hint, "has a hint");
    return true;
  });
}

test("hub ids parse; cache dir honours HF_HUB_CACHE and HF_HOME", () => {
  assert.deepEqual(parseHubId("HuggingFaceTB/SmolLM2-135M"), { repo: "HuggingFaceTB/SmolLM2-135M", revision: "main" });
  assert.deepEqual(parseHubId("a/b@v1.0"), { repo: "a/b", revision: "v1.0" });
  assert.equal(parseHubId("./x/y"), undefined);
  assert.equal(parseHubId("a/b/c"), undefined);
  assert.equal(hubCacheDir({ HF_HUB_CACHE: "/c", HF_HOME: "/h" }), "/c");
  assert.equal(hubCacheDir({ HF_HOME: "/h" }), "/h/hub");
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: "/x" }), "/x/huggingface/hub");
});

test("hub: downloads into the HF cache layout, then resolves offline", async () => {
  const t = tempDir();
  const repo = await tinyRepo(t.dir);
  const hub = await startFakeHub({ "acme/tiny": repo });
  try {
    const env = { HF_HOME: join(t.dir, "hf"), HF_ENDPOINT: hub.url };
    const progress: { file: string; loaded: number; total?: number }[] = [];
    const dir = await resolveModelDir("acme/tiny", { env, onProgress: (p) => progress.push(p) });
    const folder = join(t.dir, "hf", "hub", "models--acme--tiny");
    assert.equal(dir, join(folder, "snapshots", SHA));
    assert.equal(readFileSync(join(folder, "refs", "main"), "utf8"), SHA);
    for (const f of ["config.json", "tokenizer_config.json", "model.safetensors"]) {
      assert.ok(lstatSync(join(dir, f)).isSymbolicLink(), `${f} is a symlink into blobs/`);
      assert.match(readlinkSync(join(dir, f)), /^\.\.\/\.\.\/blobs\/[0-9a-f]{40,64}$/);
      assert.deepEqual(readFileSync(join(dir, f)), repo.files[f]);
    }
    assert.ok(!existsSync(join(dir, "README.md")) && !existsSync(join(dir, "pytorch_model.bin")), "only what the engine needs");
    const last = progress.filter((p) => p.file === "model.safetensors").at(-1)!;
    assert.equal(last.loaded, repo.files["model.safetensors"].length);
    assert.equal(last.total, repo.files["model.safetensors"].length);
    const m = await loadModel("acme/tiny", { env });
    assert.equal(m.dir, dir);

    // Later runs: no requests at all offline, and the cache is used when the network is gone.
    await hub.close();
    const n = hub.log.length;
    assert.equal(await resolveModelDir("acme/tiny", { env: { ...env, HF_HUB_OFFLINE: "1" } }), dir);
    assert.equal(await resolveModelDir(`acme/tiny@${SHA}`, { env, offline: true }), dir);
    assert.equal(await resolveModelDir("acme/tiny", { env }), dir, "no network: falls back to the complete cached snapshot");
    assert.equal(hub.log.length, n);
    await rejectsWith(resolveModelDir("acme/other", { env: { ...env, HF_HUB_OFFLINE: "1" } }), "model_not_cached");
  } finally {
    await hub.close();
    t.cleanup();
  }
});

test("hub: a cut download resumes with a range request", async () => {
  const t = tempDir();
  const repo = await tinyRepo(t.dir, true);
  const hub = await startFakeHub({ "acme/sharded": repo });
  try {
    const env = { HF_HOME: join(t.dir, "hf"), HF_ENDPOINT: hub.url };
    const shard = "model-00002-of-00002.safetensors";
    hub.cutAfter.set(shard, 100);
    await rejectsWith(resolveModelDir("acme/sharded", { env }), "network_unavailable");
    const blobs = join(t.dir, "hf", "hub", "models--acme--sharded", "blobs");
    const { readdirSync } = await import("node:fs");
    const partial = readdirSync(blobs).filter((f) => f.endsWith(".incomplete"));
    assert.equal(partial.length, 1);
    assert.equal(statSync(join(blobs, partial[0])).size, 100);
    const dir = await resolveModelDir("acme/sharded", { env });
    assert.ok(hub.log.some((r) => r.path.endsWith(shard) && r.range === `bytes=100-${repo.files[shard].length - 1}`), "resumed from byte 100");
    assert.deepEqual(readFileSync(join(dir, shard)), repo.files[shard]);
    const m = await loadModel(dir);
    assert.equal(m.files.length, 2);
  } finally {
    await hub.close();
    t.cleanup();
  }
});

test("hub: two downloads of the same model at once fetch each file once", async () => {
  const t = tempDir();
  const repo = await tinyRepo(t.dir);
  const hub = await startFakeHub({ "acme/tiny": repo });
  try {
    const env = { HF_HOME: join(t.dir, "hf"), HF_ENDPOINT: hub.url };
    const [a, b] = await Promise.all([resolveModelDir("acme/tiny", { env }), resolveModelDir("acme/tiny", { env })]);
    assert.equal(a, b);
    assert.deepEqual(readFileSync(join(a, "model.safetensors")), repo.files["model.safetensors"]);
    const bodies = hub.log.filter((r) => r.path.endsWith("/model.safetensors") && r.range !== "bytes=0-0");
    assert.equal(bodies.length, 1, "the second waited for the first instead of downloading again");
    assert.deepEqual(readdirSync(join(t.dir, "hf", "hub", "models--acme--tiny", "blobs")).filter((f) => /\.(lock|incomplete)$/.test(f)), []);
    assert.deepEqual(readdirSync(a).sort(), ["config.json", "model.safetensors", "tokenizer_config.json"], "one link per file, no temporary links left");
  } finally {
    await hub.close();
    t.cleanup();
  }
});

test("hub: linking one snapshot file from many callers at once leaves one correct link", async () => {
  const t = tempDir();
  try {
    const blobs = join(t.dir, "blobs");
    mkdirSync(blobs);
    writeFileSync(join(blobs, "old"), "old");
    writeFileSync(join(blobs, "new"), "new");
    const pointer = join(t.dir, "snapshots", SHA, "config.json");
    mkdirSync(join(t.dir, "snapshots", SHA), { recursive: true });
    symlinkSync("../../blobs/old", pointer); // a stale link from an earlier revision is replaced
    await Promise.all(Array.from({ length: 16 }, () => linkSnapshotFile(pointer, join(blobs, "new"))));
    assert.equal(readlinkSync(pointer), join("..", "..", "blobs", "new"));
    assert.equal(readFileSync(pointer, "utf8"), "new");
    assert.deepEqual(readdirSync(join(t.dir, "snapshots", SHA)), ["config.json"]);
  } finally {
    t.cleanup();
  }
});

test("hub: missing repo, gated repo, bad revision, no network, no safetensors -> clear errors", async () => {
  const t = tempDir();
  const repo = await tinyRepo(t.dir);
  const binOnly: FakeRepo = { sha: SHA, files: { "config.json": repo.files["config.json"], "pytorch_model.bin": Buffer.from("x") } };
  const hub = await startFakeHub({ "acme/private": { ...repo, token: "hf_secret" }, "acme/binonly": binOnly, "acme/tiny": repo });
  try {
    const env = { HF_HOME: join(t.dir, "hf"), HF_ENDPOINT: hub.url };
    await rejectsWith(resolveModelDir("acme/nope", { env }), "model_not_found");
    await rejectsWith(resolveModelDir("acme/private", { env }), "hub_auth_required");
    await rejectsWith(resolveModelDir("acme/private", { env: { ...env, HF_TOKEN: "hf_wrong" } }), "hub_auth_required");
    await rejectsWith(resolveModelDir("acme/private", { env: { ...env, HF_TOKEN: "not-a-token" } }), "hub_auth_required");
    const dir = await resolveModelDir("acme/private", { env: { ...env, HF_TOKEN: "hf_secret" } });
    assert.ok(existsSync(join(dir, "model.safetensors")));
    await rejectsWith(resolveModelDir("acme/tiny@v9", { env }), "revision_not_found");
    await rejectsWith(resolveModelDir("acme/binonly", { env }), "missing_model_file");
    await rejectsWith(resolveModelDir("acme/tiny", { env: { ...env, HF_ENDPOINT: await closedPortUrl() } }), "network_unavailable");
    await rejectsWith(resolveModelDir("./no/such/folder", { env }), "model_not_found");
  } finally {
    await hub.close();
    t.cleanup();
  }
});
