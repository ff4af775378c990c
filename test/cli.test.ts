import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, projectRoot } from "./helpers/cli.js";
import { VERSION } from "../src/version.js";

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
