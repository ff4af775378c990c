/**
 * Benchmark: `tunekit validate` with real token counts on a generated ~300 MB chat JSONL, side by side
 * with a baseline that only parses each line with Python's json module. Prints both times (medians),
 * the ratio (target: ours <= 2x the baseline) and our peak RSS (target: <= 400 MB).
 *
 * Ours runs the compiled CLI (built once into node_modules/.cache, so worker threads do not pay for
 * TypeScript compilation) as a user would: `validate FILE --model gpt-4o-mini --json`, once with
 * `--quick` (structure + token counts) and once with the full analysis (duplicates, shape, facts).
 *
 * Usage: node --import tsx bench/validate.ts [--mb 300] [--runs 3] [--skip-full]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateChatJsonl } from "./validate-data.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const MB = opt("mb", 300);
const RUNS = opt("runs", 3);
const skipFull = args.includes("--skip-full");

const dir = join(tmpdir(), "tunekit-bench");
mkdirSync(dir, { recursive: true });
const data = join(dir, `validate-${MB}mb.jsonl`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs a command under /usr/bin/time; returns wall and CPU (user + system) seconds and peak RSS in MB. */
function timed(cmd: string, cmdArgs: string[], env: NodeJS.ProcessEnv = {}): { seconds: number; cpu: number; rssMb: number; stdout: string; status: number | null } {
  const out = join(dir, "time.txt");
  rmSync(out, { force: true });
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M %U %S", "-o", out, cmd, ...cmdArgs], {
    cwd: root,
    env: { ...process.env, ...env },
    maxBuffer: 1024 * 1024 * 1024,
    encoding: "utf8",
  });
  const [sec, kb, user, sys] = readFileSync(out, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
  return { seconds: sec, cpu: user + sys, rssMb: kb / 1024, stdout: r.stdout, status: r.status };
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} (timings are only comparable on an idle machine)`);
  const t0 = Date.now();
  await generateChatJsonl(data, MB * 1e6);
  console.log(`data: ${data} (${MB} MB, ${((Date.now() - t0) / 1000).toFixed(1)} s to generate or reuse)`);

  // Compile once so the CLI and its worker threads run plain JavaScript.
  const dist = join(root, "node_modules", ".cache", "tunekit-bench", "dist");
  console.log("building the CLI (tsc) ...");
  spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--outDir", dist, "--declaration", "false", "--sourceMap", "false"], {
    cwd: root,
    stdio: "ignore",
  });
  const cli = join(dist, "cli", "main.js");
  const useDist = existsSync(cli) && existsSync(join(dist, "dataset", "validate", "worker.js"));
  const ours = (extra: string[]) =>
    useDist
      ? timed(process.execPath, [cli, "validate", data, "--model", "gpt-4o-mini", "--json", ...extra])
      : timed(process.execPath, ["--import", "tsx", join(root, "src", "cli", "main.ts"), "validate", data, "--model", "gpt-4o-mini", "--json", ...extra]);
  if (!useDist) console.log("(build failed: running the TypeScript sources through tsx instead)");

  const py = ["-c", "import json,sys\nn=0\nwith open(sys.argv[1],'rb') as f:\n  for line in f:\n    if line.strip():\n      json.loads(line); n+=1\nprint(n)", data];
  const base: number[] = [];
  const quick: number[] = [];
  const baseCpu: number[] = [];
  const quickCpu: number[] = [];
  let quickRss = 0;
  let examples = 0;
  for (let i = 0; i < RUNS; i++) {
    const b = timed("/usr/bin/python3", py);
    base.push(b.seconds);
    baseCpu.push(b.cpu);
    examples = Number(b.stdout.trim());
    const q = ours(["--quick"]);
    if (q.status !== 0) throw new Error(`validate --quick failed (exit ${q.status})`);
    const rep = JSON.parse(q.stdout);
    if (rep.examples !== examples) throw new Error(`validate saw ${rep.examples} examples, Python ${examples}`);
    if (!rep.stats?.tokens?.sum) throw new Error("validate reported no token counts");
    quick.push(q.seconds);
    quickCpu.push(q.cpu);
    quickRss = Math.max(quickRss, q.rssMb);
    console.log(
      `run ${i + 1}: python json ${b.seconds.toFixed(2)} s (cpu ${b.cpu.toFixed(2)} s), tunekit validate --quick ${q.seconds.toFixed(2)} s (cpu ${q.cpu.toFixed(2)} s, ${q.rssMb.toFixed(0)} MB RSS)`,
    );
  }
  // The runs above use tunekit's BPE rank cache ($TUNEKIT_HOME/cache), which the first process that
  // counts tokens on a machine builds from gpt-tokenizer's tables. One run with an empty home shows that cost.
  const coldHome = join(dir, "cold-home");
  rmSync(coldHome, { recursive: true, force: true });
  const cold = timed(process.execPath, [...(useDist ? [cli] : ["--import", "tsx", join(root, "src", "cli", "main.ts")]), "validate", data, "--model", "gpt-4o-mini", "--json", "--quick"], { TUNEKIT_HOME: coldHome });
  rmSync(coldHome, { recursive: true, force: true });
  const bMed = median(base);
  const qMed = median(quick);
  console.log("");
  console.log(`examples: ${examples.toLocaleString("en-US")}, tokens counted with o200k_base (gpt-4o-mini)`);
  console.log(`baseline (Python json.loads per line):        ${bMed.toFixed(2)} s (median of ${RUNS})`);
  console.log(`tunekit validate --quick (structure + tokens): ${qMed.toFixed(2)} s (median of ${RUNS})  ratio ${(qMed / bMed).toFixed(2)}x  (target <= 2x)`);
  console.log(`CPU time (user + system, all threads): python ${median(baseCpu).toFixed(2)} s, tunekit --quick ${median(quickCpu).toFixed(2)} s`);
  console.log(`peak RSS --quick: ${quickRss.toFixed(0)} MB (target <= 400 MB)`);
  console.log(`first run on a machine (empty $TUNEKIT_HOME, so the BPE rank cache is built first): ${cold.seconds.toFixed(2)} s, ratio ${(cold.seconds / bMed).toFixed(2)}x`);
  if (!skipFull) {
    const f = ours([]);
    if (f.status !== 0 && f.status !== 1) throw new Error(`validate failed (exit ${f.status})`);
    console.log(
      `tunekit validate (full analysis: duplicates, shape, facts): ${f.seconds.toFixed(2)} s (cpu ${f.cpu.toFixed(2)} s, 1 run)  ratio ${(f.seconds / bMed).toFixed(2)}x  peak RSS ${f.rssMb.toFixed(0)} MB`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
