/**
 * The README's "Library API" example is real code: it must equal test/docs/readme-example.ts (which
 * `npm run typecheck` compiles, importing from src/ instead of "tunekit"), and running it on the bundled
 * examples prints what the README promises.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const exampleFile = join(root, "test/docs/readme-example.ts");

function readmeLibraryBlock(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split("\n## Library API\n")[1];
  assert.ok(section, "README has a '## Library API' section");
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(m, "the Library API section has a ```ts block");
  return m[1];
}

test("README Library API block equals test/docs/readme-example.ts (with the package import)", () => {
  const fromReadme = readmeLibraryBlock();
  const fromFile = readFileSync(exampleFile, "utf8").replace('from "../../src/index.js"', 'from "tunekit"');
  assert.equal(fromReadme, fromFile);
});

test("README Library API example runs on the bundled examples", () => {
  const dir = mkdtempSync(join(tmpdir(), "tunekit-readme-"));
  try {
    cpSync(join(root, "examples"), join(dir, "examples"), { recursive: true });
    const tsx = import.meta.resolve("tsx");
    const res = spawnSync(process.execPath, ["--import", tsx, exampleFile], { cwd: dir, encoding: "utf8", timeout: 300_000 });
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.trim().split("\n");
    assert.deepEqual(lines, [
      "66 examples, 0 errors, 0 warnings",
      "train 53, test 13, leaked 0",
      "retrieval: move 25 examples to retrieval",
      "policy.md > Brightdesk customer policy > Refunds",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
