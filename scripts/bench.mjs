#!/usr/bin/env node
// Runs the benchmarks (bench/*.ts), one after another so they do not compete for the 2 cores.
// Usage: npm run bench [-- name ...]   e.g. npm run bench -- validate train
// Each benchmark prints its own figure next to its peer's, measured side by side, and the ratio.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const wanted = process.argv.slice(2);
const benches = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();
if (benches.length === 0) {
  console.error(`no benchmark matched ${wanted.join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of benches) {
  console.log(`\n=== bench: ${name} ===`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", join("bench", `${name}.ts`)], { cwd: root, stdio: "inherit" });
  console.log(`=== ${name}: ${r.status === 0 ? "done" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(0)} s ===`);
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
