/**
 * Real data lives in ../shared/fixtures beside the project (never committed). Tests that need it call
 * `sharedFixture(...)`: it returns the path, or undefined after printing a loud notice, and the test
 * then skips itself with that notice.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { projectRoot } from "./cli.js";

export const sharedFixturesDir = resolve(projectRoot, "..", "shared", "fixtures");

export function sharedFixture(...parts: string[]): string | undefined {
  const p = join(sharedFixturesDir, ...parts);
  if (existsSync(p)) return p;
  process.stderr.write(`\n*** SKIPPING: shared fixture missing: ${p} ***\n`);
  return undefined;
}

/** A fresh temporary folder, removed when `cleanup` runs. */
export function tempDir(prefix = "tunekit-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
