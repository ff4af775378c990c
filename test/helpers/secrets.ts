/** The API key must appear nowhere: not in any output, not in any file under the given folders (db, WAL, runs, reports). */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export function assertSecretNowhere(secret: string, outputs: string[], dirs: string[]): void {
  const probes = [secret, secret.slice(Math.floor(secret.length / 3))];
  for (const o of outputs) for (const p of probes) assert.ok(!o.includes(p), "the API key appeared in an output");
  let files = 0;
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
      const path = join(dir, f);
      if (!statSync(path).isFile()) continue;
      files++;
      const bytes = readFileSync(path);
      for (const p of probes) assert.equal(bytes.indexOf(Buffer.from(p)), -1, `the API key was found in ${path}`);
    }
  }
  assert.ok(files > 0, "no file was searched");
}
