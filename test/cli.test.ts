import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, projectRoot } from "./helpers/cli.js";
import { VERSION } from "../src/version.js";
import { shownPath } from "../src/cli/io.js";

test("version matches package.json", () => {
  const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8"));
  assert.equal(VERSION, pkg.version);
});

test("--help lists the commands and exits 0", async () => {
  const r = await runCli(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: tunekit <command>/);
});

test("an unknown command is a usage error (exit 2) without a stack trace", async () => {
  const r = await runCli(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command: frobnicate/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test("output piped into a reader that closes early (| head) ends quietly, without an EPIPE stack trace", async () => {
  const { spawn } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const mainTs = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
  const file = fileURLToPath(new URL("../examples/support-tickets.jsonl", import.meta.url));
  // The reader goes away before the CLI prints anything, so its first write meets a closed pipe.
  const child = spawn(process.execPath, ["--import", "tsx", mainTs, "validate", file, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  assert.doesNotMatch(stderr, /EPIPE|\n\s+at /);
  assert.ok(code === 0 || code === 1, `exit code ${code}`);
});

test("paths are shown as the user typed them: relative inside the working folder, absolute outside", () => {
  assert.equal(shownPath("/work/p/runs/r1/adapter", "/work/p"), join("runs", "r1", "adapter"));
  assert.equal(shownPath("/srv/runs/r1", "/work/p"), "/srv/runs/r1");
  assert.equal(shownPath("/work/p", "/work/p"), "/work/p");
  assert.equal(shownPath("/work/px/a", "/work/p"), "/work/px/a");
});
