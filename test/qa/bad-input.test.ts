/**
 * QA sweep regressions: user mistakes found by driving every command with bad input. Each must end in
 * a TunekitError (stable code, right exit code, no stack trace), with --json printing {"error": ...},
 * and leave nothing behind. Runs the CLI in-process through main() (same parsing and error
 * reporting as the binary) so the file stays fast.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { main } from "../../src/cli/main.js";
import { tempDir } from "../helpers/fixtures.js";

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = "";
  let stderr = "";
  const out = new PassThrough().on("data", (d) => (stdout += d));
  const err = new PassThrough().on("data", (d) => (stderr += d));
  const code = await main(args, { stdout: out, stderr: err, env: { ...process.env, NO_COLOR: "1", ...env }, cwd: process.cwd() });
  assert.doesNotMatch(stderr, /internal error|\n\s+at /, `stack trace for ${args.join(" ")}:\n${stderr}`);
  return { code, stdout, stderr };
}

async function jsonError(args: string[], code: number, env: NodeJS.ProcessEnv = {}) {
  const r = await cli([...args, "--json"], env);
  assert.equal(r.code, code, r.stderr);
  return JSON.parse(r.stdout).error as { code: string; message: string };
}

const good = JSON.stringify({ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] });

test("an output folder path that is an existing file: already_exists, exit 2 (split, eval)", async () => {
  const t = tempDir("tunekit-qa-");
  try {
    const data = join(t.dir, "data.jsonl");
    writeFileSync(data, Array.from({ length: 10 }, (_, i) => good.replace("hi", `hi ${i} ${"x".repeat(i)}`)).join("\n") + "\n");
    const e = await jsonError(["split", data, "-o", data], 2);
    assert.equal(e.code, "already_exists");
    assert.match(e.message, /already there/);
  } finally {
    t.cleanup();
  }
});

test("a negative number after an option is checked as that option's value, not an 'ambiguous' parse error", async () => {
  const e = await jsonError(["split", "whatever.jsonl", "-o", "out", "--test", "-0.2"], 2);
  assert.equal(e.code, "usage");
  assert.match(e.message, /--test must be a number between 0\.001 and 0\.999, got "-0\.2"/);
  const k = await jsonError(["rag", "query", "q", "--store", "s.db", "--k", "-1"], 2);
  assert.match(k.message, /--k must be an integer between 1 and 1000, got "-1"/);
});

test("rag index: a store path that is a folder, or under a missing folder, is a clear error", async () => {
  const t = tempDir("tunekit-qa-");
  try {
    const docs = join(t.dir, "docs");
    mkdirSync(docs);
    writeFileSync(join(docs, "a.md"), "# Refunds\nWithin 30 days.\n");
    const dir = await jsonError(["rag", "index", docs, "--store", docs], 2);
    assert.equal(dir.code, "is_a_directory");
    const missing = await jsonError(["rag", "index", docs, "--store", join(t.dir, "nope", "x.db")], 2);
    assert.equal(missing.code, "file_not_found");
    assert.match(missing.message, /nope/);
    writeFileSync(join(t.dir, "file"), "x");
    const underFile = await jsonError(["rag", "index", docs, "--store", join(t.dir, "file", "x.db")], 2);
    assert.equal(underFile.code, "not_a_directory");
  } finally {
    t.cleanup();
  }
});

test("rag index: a bad DOCS_DIR or --overlap leaves no store file behind", async () => {
  const t = tempDir("tunekit-qa-");
  try {
    const store = join(t.dir, "store.db");
    const e = await jsonError(["rag", "index", join(t.dir, "no-docs"), "--store", store], 2);
    assert.equal(e.code, "file_not_found");
    assert.equal(existsSync(store), false, "a store was created for a folder that does not exist");
    const o = await jsonError(["rag", "index", t.dir, "--store", store, "--chunk-size", "200", "--overlap", "300"], 2);
    assert.match(o.message, /--overlap \(300\) must be smaller than --chunk-size \(200\)/);
    assert.equal(existsSync(store), false);
  } finally {
    t.cleanup();
  }
});

test("jobs: a damaged database file or a home that is a file is a clear error, not a crash", async () => {
  const t = tempDir("tunekit-qa-");
  try {
    writeFileSync(join(t.dir, "tunekit.db"), randomBytes(8192));
    const e = await jsonError(["jobs", "list"], 2, { TUNEKIT_HOME: t.dir });
    assert.equal(e.code, "store_unreadable");
    const homeFile = join(t.dir, "home-file");
    writeFileSync(homeFile, "x");
    const h = await jsonError(["jobs", "list"], 2, { TUNEKIT_HOME: homeFile });
    assert.equal(h.code, "already_exists");
  } finally {
    t.cleanup();
  }
});

test("jobs list: an unknown --provider is a usage error, not an empty list", async () => {
  const t = tempDir("tunekit-qa-");
  try {
    const e = await jsonError(["jobs", "list", "--provider", "opneai"], 2, { TUNEKIT_HOME: t.dir });
    assert.equal(e.code, "usage");
    assert.match(e.message, /unknown --provider "opneai"/);
  } finally {
    t.cleanup();
  }
});

test("advise on a file with no valid example: no_valid_examples, exit 1 (not advice about 0 examples)", async () => {
  const t = tempDir("tunekit-qa-");
  try {
    const bin = join(t.dir, "binary.jsonl");
    writeFileSync(bin, randomBytes(2048));
    const e = await jsonError(["advise", bin], 1);
    assert.equal(e.code, "no_valid_examples");
  } finally {
    t.cleanup();
  }
});

test("eval --model with a misspelt key is bad_model_spec, not a hosted model named 'foo=bar'", async () => {
  const t = tempDir("tunekit-qa-");
  try {
    const data = join(t.dir, "held.jsonl");
    writeFileSync(data, good + "\n");
    const e = await jsonError(["eval", "--data", data, "--model", "locl=./m", "-o", join(t.dir, "rep"), "--no-cache"], 2, { OPENAI_API_KEY: "" });
    assert.equal(e.code, "bad_model_spec");
    assert.match(e.message, /unknown key "locl"/);
    assert.equal(existsSync(join(t.dir, "rep")), false);
  } finally {
    t.cleanup();
  }
});
