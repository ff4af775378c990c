/**
 * The bad-input corpus: broken files generated here (so nothing large is committed). Each must give a
 * clear message, the right exit code, no stack trace, and (for convert) no output file at all.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runCli, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

const good = JSON.stringify({ messages: [{ role: "system", content: "S" }, { role: "user", content: "Q" }, { role: "assistant", content: "A" }] });

function noStack(r: CliResult): void {
  assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at .*\(|internal error/, `no stack trace expected:\n${r.stderr}`);
}

/** Runs validate (JSON) and convert on `file`; returns validate's parsed JSON (or error object). */
async function check(dir: string, file: string, code: number, opts: { human?: boolean } = {}): Promise<{ json: Record<string, any>; human: CliResult }> {
  const v = await runCli(["validate", file, "--json"]);
  noStack(v);
  assert.equal(v.code, code, `validate exit code; stderr: ${v.stderr}`);
  // The human output is checked where its text matters (each CLI run costs a Node start-up).
  const human = opts.human ? await runCli(["validate", file]) : v;
  noStack(human);
  assert.equal(human.code, code);
  const out = join(dir, "converted.jsonl");
  const c = await runCli(["convert", file, "-o", out]);
  noStack(c);
  assert.equal(c.code, code, `convert exit code; stderr: ${c.stderr}`);
  assert.equal(existsSync(out), false, "convert must not leave an output file");
  assert.equal(readdirSync(dir).filter((n) => n.includes("converted")).length, 0, "no temp file left behind");
  return { json: JSON.parse(v.stdout), human };
}

const codes = (j: Record<string, any>) => (j.errors ?? []).map((e: { line: number; code: string }) => `${e.line}:${e.code}`);

test("truncated last line: invalid_json at that line, saying the file looks truncated", async () => {
  const t = tempDir("tunekit-bad-");
  try {
    const p = join(t.dir, "trunc.jsonl");
    writeFileSync(p, good + "\n" + good + "\n" + good.slice(0, 40));
    const { json, human } = await check(t.dir, p, 1, { human: true });
    assert.deepEqual(codes(json), ["3:invalid_json"]);
    assert.match(json.errors[0].message, /no newline at its end.*truncated/);
    assert.match(human.stdout, /trunc\.jsonl:3: error\[invalid_json\] invalid JSON at column 41/);
  } finally {
    t.cleanup();
  }
});

test("binary garbage: errors per line, no crash", async () => {
  const t = tempDir("tunekit-bad-");
  try {
    const p = join(t.dir, "garbage.bin");
    let seed = 12345;
    const bytes = Buffer.alloc(20_000);
    for (let i = 0; i < bytes.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      bytes[i] = seed >> 16;
    }
    bytes[0] = 0x41; // not a BOM
    bytes[1] = 0x42;
    writeFileSync(p, bytes);
    const { json } = await check(t.dir, p, 1);
    assert.ok(json.errors.length > 10);
    assert.ok(json.errors.every((e: { code: string }) => ["invalid_utf8", "invalid_json", "line_too_long"].includes(e.code)));
    assert.equal(json.examples, 0);
  } finally {
    t.cleanup();
  }
});

test("a single 50 MB line: line_too_long, the next line still read, no out-of-memory", async () => {
  const t = tempDir("tunekit-bad-");
  try {
    const p = join(t.dir, "huge.jsonl");
    const fd = openSync(p, "w");
    writeSync(fd, '{"messages":[{"role":"user","content":"');
    const block = Buffer.from("ab ".repeat(Math.floor((1024 * 1024) / 3)));
    for (let i = 0; i < 50; i++) writeSync(fd, block);
    writeSync(fd, '"},{"role":"assistant","content":"x"}]}\n' + good + "\n");
    closeSync(fd);
    const { json } = await check(t.dir, p, 1);
    assert.deepEqual(codes(json), ["1:line_too_long"]);
    assert.match(json.errors[0].message, /over the limit of 8388608 bytes/);
    assert.equal(json.examples, 1);
    // A limit above the line's size reads it; its ~17M tokens are then over the per-example token limit.
    const big = await runCli(["validate", p, "--json", "--quick", "--max-line-bytes", String(60 * 1024 * 1024)]);
    assert.equal(big.code, 1, big.stderr);
    const bigReport = JSON.parse(big.stdout);
    assert.deepEqual(codes(bigReport), ["1:too_many_tokens"]);
  } finally {
    t.cleanup();
  }
});

test("deeply nested JSON (100k levels): too_deep, no stack overflow", async () => {
  const t = tempDir("tunekit-bad-");
  try {
    const p = join(t.dir, "deep.jsonl");
    writeFileSync(p, good + "\n" + "[".repeat(100_000) + "]".repeat(100_000) + "\n" + `{"messages":${"[".repeat(50_000)}${"]".repeat(50_000)}}` + "\n");
    const { json } = await check(t.dir, p, 1);
    assert.deepEqual(codes(json), ["2:too_deep", "3:too_deep"]);
  } finally {
    t.cleanup();
  }
});

test("UTF-16 files (with and without BOM): unsupported_encoding with a hint", async () => {
  const t = tempDir("tunekit-bad-");
  try {
    const bom = join(t.dir, "u16.jsonl");
    writeFileSync(bom, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(good + "\n", "utf16le")]));
    const a = await check(t.dir, bom, 1, { human: true });
    assert.equal(a.json.error.code, "unsupported_encoding");
    assert.match(a.human.stderr, /UTF-16 LE.*UTF-8 only/);
    assert.match(a.human.stderr, /hint: .*iconv/);
    const nobom = join(t.dir, "u16be.jsonl");
    writeFileSync(nobom, Buffer.from(good + "\n", "utf16le").swap16());
    const b = await check(t.dir, nobom, 1);
    assert.equal(b.json.error.code, "unsupported_encoding");
  } finally {
    t.cleanup();
  }
});

test("Latin-1 file: invalid_utf8 at the line with the non-UTF-8 byte", async () => {
  const t = tempDir("tunekit-bad-");
  try {
    const p = join(t.dir, "latin1.jsonl");
    const latin = JSON.stringify({ messages: [{ role: "system", content: "S" }, { role: "user", content: "Café crème?" }, { role: "assistant", content: "Oui" }] });
    writeFileSync(p, Buffer.concat([Buffer.from(good + "\n"), Buffer.from(latin + "\n", "latin1")]));
    const { json } = await check(t.dir, p, 1);
    assert.deepEqual(codes(json), ["2:invalid_utf8"]);
    assert.match(json.errors[0].message, /byte 0xE9 .*Latin-1/);
  } finally {
    t.cleanup();
  }
});

test("empty and whitespace-only files: empty_file, exit 1", async () => {
  const t = tempDir("tunekit-bad-");
  try {
    const p = join(t.dir, "empty.jsonl");
    writeFileSync(p, "");
    const a = await check(t.dir, p, 1);
    assert.equal(a.json.error.code, "empty_file");
    const w = join(t.dir, "blank.jsonl");
    writeFileSync(w, "\n  \n\n");
    const b = await check(t.dir, w, 1);
    assert.equal(b.json.error.code, "empty_file");
  } finally {
    t.cleanup();
  }
});

test("a directory and a missing file: I/O errors, exit 2", async () => {
  const t = tempDir("tunekit-bad-");
  try {
    const d = join(t.dir, "adir");
    mkdirSync(d);
    const a = await check(t.dir, d, 2);
    assert.equal(a.json.error.code, "is_a_directory");
    const b = await check(t.dir, join(t.dir, "nope.jsonl"), 2, { human: true });
    assert.equal(b.json.error.code, "file_not_found");
    assert.match(b.human.stderr, /no such file/);
  } finally {
    t.cleanup();
  }
});

test("no read permission: permission_denied, exit 2", async (tt) => {
  const t = tempDir("tunekit-bad-");
  try {
    chmodSync(t.dir, 0o755);
    const p = join(t.dir, "secret.jsonl");
    writeFileSync(p, good + "\n");
    chmodSync(p, 0o000);
    let result: CliResult;
    if (process.getuid?.() === 0) {
      // Root reads any file whatever its mode: run the CLI as the unprivileged user "nobody" instead.
      result = await runAsNobody(["validate", p, "--json"]);
      if (/EACCES.*(tsx|node_modules|main\.ts)|Cannot find module/.test(result.stderr)) {
        process.stderr.write("\n*** SKIPPING permission test: cannot run the CLI as nobody here ***\n");
        return tt.skip("cannot run as nobody");
      }
    } else {
      result = await runCli(["validate", p, "--json"]);
    }
    noStack(result);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(JSON.parse(result.stdout).error.code, "permission_denied");
    assert.match(result.stderr, /permission denied/);
  } finally {
    t.cleanup();
  }
});

function runAsNobody(args: string[]): Promise<CliResult> {
  const mainTs = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", mainTs, ...args], {
      uid: 65534,
      gid: 65534,
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, NO_COLOR: "1", HOME: "/tmp", TMPDIR: "/tmp" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
