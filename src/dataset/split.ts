/**
 * Deterministic train/test split that cannot leak: exact duplicates, near duplicates and examples with
 * the same prompt form groups (union-find), and a group goes wholly to one side. Groups are shuffled
 * with a seeded PRNG (never Math.random) and, with `stratify: "shape"`, filled per reply shape so both
 * sides see the same mix. JSONL lines are copied byte-for-byte; other formats are written as OpenAI
 * chat JSONL. Both files appear atomically.
 */
import { createReadStream, promises as fsp } from "node:fs";
import { join } from "node:path";
import { TunekitError, fsError } from "../util/errors.js";
import { ensureDir, withAtomicWriter, type AtomicWriter } from "../util/fs.js";
import { readDataset } from "./reader.js";
import { readFileFeatures, type FileFeatures, type ReadFeaturesOptions } from "./analysis/file-features.js";
import { seededRandom } from "../util/random.js";
import { findBoilerplate, findSimilarPairs, groupPairs } from "./analysis/near-duplicates.js";

export interface SplitOptions extends ReadFeaturesOptions {
  /** Share of examples in the test set, 0 < x < 1 (default 0.2). */
  testFraction?: number;
  seed?: number;
  /** "shape": keep the share of each reply shape equal on both sides. */
  stratify?: "shape";
  /** Output folder for train.jsonl and test.jsonl. */
  outDir: string;
  /** Near-duplicate similarity that ties examples together (default 0.8). */
  threshold?: number;
}

export interface SplitReport {
  file: string;
  format: string;
  seed: number;
  testFraction: number;
  stratify: "shape" | null;
  train: { path: string; examples: number };
  test: { path: string; examples: number };
  /** Groups of more than one example kept together, and how many examples they hold. */
  groups: { count: number; examples: number };
  /** True when lines were copied byte-for-byte (JSONL input). */
  preservedLines: boolean;
}

function shapeKind(sig: string): string {
  if (sig.startsWith("json")) return "json";
  if (sig.startsWith("lines:")) return sig;
  return sig;
}

/** Decides the side of every example: true = test. Exported for tests. */
export function assignSides(f: FileFeatures, opts: { testFraction: number; seed: number; stratify?: "shape"; threshold: number }): { isTest: Uint8Array; groups: { count: number; examples: number } } {
  const n = f.lines.length;
  const pairs = findSimilarPairs(f.signatures, { threshold: opts.threshold, boilerplate: findBoilerplate(f.signatures) });
  const extra: { a: number; b: number }[] = [];
  // Exact duplicates and identical prompts are tied too (a prompt seen in training leaks its answer).
  for (const col of [f.exact, f.prompt]) {
    const first = new Map<number, number>();
    col.forEach((h, i) => {
      const j = first.get(h);
      if (j === undefined) first.set(h, i);
      else extra.push({ a: j, b: i });
    });
  }
  const root = groupPairs(n, [...pairs, ...extra]);
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = root[i];
    const m = members.get(r);
    if (m) m.push(i);
    else members.set(r, [i]);
  }
  const groups = [...members.values()];
  const rand = seededRandom(opts.seed);
  for (let i = groups.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [groups[i], groups[j]] = [groups[j], groups[i]];
  }
  // Strata: by the reply shape of the group's first member; rare shapes (< 5 examples) pool together.
  const strata = new Map<string, number[][]>();
  const shapeCount = new Map<string, number>();
  if (opts.stratify === "shape") for (const s of f.shapes) shapeCount.set(shapeKind(s), (shapeCount.get(shapeKind(s)) ?? 0) + 1);
  for (const g of groups) {
    let key = "all";
    if (opts.stratify === "shape") {
      const k = shapeKind(f.shapes[g[0]]);
      key = (shapeCount.get(k) ?? 0) >= 5 ? k : "other";
    }
    const s = strata.get(key);
    if (s) s.push(g);
    else strata.set(key, [g]);
  }
  const isTest = new Uint8Array(n);
  for (const gs of strata.values()) {
    const size = gs.reduce((s, g) => s + g.length, 0);
    const target = Math.round(size * opts.testFraction);
    let inTest = 0;
    for (const g of gs) {
      if (inTest + g.length > target) continue;
      for (const i of g) isTest[i] = 1;
      inTest += g.length;
      if (inTest === target) break;
    }
  }
  const multi = groups.filter((g) => g.length > 1);
  return { isTest, groups: { count: multi.length, examples: multi.reduce((s, g) => s + g.length, 0) } };
}

export async function splitFile(file: string, options: SplitOptions): Promise<SplitReport> {
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new TunekitError("usage", `the test fraction must be between 0 and 1 (exclusive), got ${testFraction}`, { hint: "e.g. --test 0.2" });
  }
  const seed = options.seed ?? 42;
  const f = await readFileFeatures(file, options);
  if (f.errorCount > 0) {
    const e = f.errors[0];
    throw new TunekitError("invalid_dataset", `the file has ${f.errorCount} invalid record${f.errorCount > 1 ? "s" : ""}; first at line ${e.line}: ${e.message}`, {
      file,
      line: e.line,
      exitCode: 1,
      hint: `run \`tunekit validate ${file}\` and fix the errors first: split never drops examples silently`,
    });
  }
  const n = f.lines.length;
  if (n < 2) throw new TunekitError("too_few_examples", `cannot split ${n} example${n === 1 ? "" : "s"}: need at least 2`, { file, exitCode: 1 });
  const { isTest, groups } = assignSides(f, { testFraction, seed, stratify: options.stratify, threshold: options.threshold ?? 0.8 });
  let nTest = 0;
  for (let i = 0; i < n; i++) nTest += isTest[i];
  if (nTest === 0 || nTest === n) {
    throw new TunekitError("split_impossible", `a ${testFraction} test share of ${n} examples leaves one side empty${groups.count > 0 ? " (near-duplicate groups must stay together)" : ""}`, {
      file,
      exitCode: 1,
      hint: "use more examples or a different --test fraction",
    });
  }
  await ensureDir(options.outDir);
  const trainPath = join(options.outDir, "train.jsonl");
  const testPath = join(options.outDir, "test.jsonl");
  const preserved = f.format !== "csv" && !(await isJsonArray(file));
  await withAtomicWriter(trainPath, (train) =>
    withAtomicWriter(testPath, async (test) => {
      if (preserved) await copyLines(file, f, isTest, train, test);
      else await writeConverted(file, options, isTest, train, test);
    }),
  );
  return {
    file,
    format: f.format,
    seed,
    testFraction,
    stratify: options.stratify ?? null,
    train: { path: trainPath, examples: n - nTest },
    test: { path: testPath, examples: nTest },
    groups,
    preservedLines: preserved,
  };
}

/** A JSON array file (not JSONL): starts with "[" and its first line is not a JSON value on its own. */
async function isJsonArray(file: string): Promise<boolean> {
  let head: string;
  try {
    const fh = await fsp.open(file, "r");
    try {
      const buf = Buffer.alloc(1 << 16);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead).toString("utf8").replace(/^\uFEFF/, "");
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw fsError(e, file);
  }
  const t = head.trimStart();
  if (!t.startsWith("[")) return false;
  const nl = t.indexOf("\n");
  if (nl < 0) return true;
  try {
    JSON.parse(t.slice(0, nl));
    return false;
  } catch {
    return true;
  }
}

/** Copies every record's physical line to its side, byte-for-byte (a missing final newline is added). */
async function copyLines(file: string, f: FileFeatures, isTest: Uint8Array, train: AtomicWriter, test: AtomicWriter): Promise<void> {
  let maxLine = 0;
  for (const l of f.lines) if (l > maxLine) maxLine = l;
  const side = new Uint8Array(maxLine + 2); // 0 skip (blank), 1 train, 2 test
  f.lines.forEach((l, i) => (side[l] = isTest[i] ? 2 : 1));
  let line = 1;
  let pending: Buffer[] = [];
  let first = true;
  const emit = async (parts: Buffer[], terminated: boolean) => {
    const s = side[line];
    if (s !== 0) {
      let buf = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      if (first && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
      const w = s === 2 ? test : train;
      await w.write(buf);
      if (!terminated) await w.write("\n");
    }
    first = false;
    line++;
  };
  let stream;
  try {
    stream = createReadStream(file);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl < 0) break;
        pending.push(chunk.subarray(start, nl + 1));
        await emit(pending, true);
        pending = [];
        start = nl + 1;
      }
      if (start < chunk.length) pending.push(Buffer.from(chunk.subarray(start)));
    }
  } catch (e) {
    throw fsError(e, file);
  }
  if (pending.length > 0 && Buffer.concat(pending).length > 0) await emit(pending, false);
}

/** JSON array and CSV inputs: each example written as one OpenAI chat JSON line. */
async function writeConverted(file: string, options: SplitOptions, isTest: Uint8Array, train: AtomicWriter, test: AtomicWriter): Promise<void> {
  let i = 0;
  for await (const batch of readDataset(file, options).batches()) {
    for (const r of batch) {
      if (!r.example) continue;
      await (isTest[i++] ? test : train).write(JSON.stringify(r.example.example) + "\n");
    }
  }
}
