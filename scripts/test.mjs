#!/usr/bin/env node
// Runs the test suite with Node's own test runner over the TypeScript sources (through tsx).
// Usage: node scripts/test.mjs [substring ...]  (only test files whose path contains a substring)
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk(join(root, "test"))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
// Tests never touch the user's job store (~/.tunekit): every CLI run they start gets a throwaway home
// unless a test sets its own.
const home = mkdtempSync(join(tmpdir(), "tunekit-test-home-"));
const res = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-reporter=spec", ...files],
  { cwd: root, stdio: "inherit", env: { ...process.env, TUNEKIT_TEST: "1", TUNEKIT_HOME: home } },
);
rmSync(home, { recursive: true, force: true });
process.exit(res.status ?? 1);
