/**
 * Train/test leakage: test examples that also appear in the training set, exactly (same example after
 * whitespace normalisation) or nearly (MinHash similarity of the prompts and of the replies, with case,
 * punctuation, spelling variants, articles, template labels and dataset-wide boilerplate left out; see
 * near-duplicates.ts). A leaked test example measures memory, not skill.
 */
import { TunekitError } from "../util/errors.js";
import { readFileFeatures, type FileFeatures, type ReadFeaturesOptions } from "./analysis/file-features.js";
import { findBoilerplate, findSimilarPairs, SignatureStore } from "./analysis/near-duplicates.js";

export interface LeakagePair {
  trainLine: number;
  testLine: number;
  /** 1 for exact pairs; for near pairs the estimated similarity of prompts and replies together. */
  similarity: number;
  kind: "exact" | "near";
  /** Near pairs: the similarity of the prompts and of the final replies alone (null: no words to compare). */
  prompt?: number | null;
  reply?: number | null;
}

export interface LeakageReport {
  train: { file: string; examples: number };
  test: { file: string; examples: number };
  threshold: number;
  pairs: LeakagePair[];
  /** Test examples with at least one pair, and their share of the test set. */
  leakedTestExamples: number;
  leakedShare: number;
}

export interface LeakageOptions extends ReadFeaturesOptions {
  /** Similarity from which a pair counts as near (default 0.8). */
  threshold?: number;
}

function refuseErrors(f: FileFeatures, role: string): void {
  if (f.errorCount === 0) return;
  const e = f.errors[0];
  throw new TunekitError("invalid_dataset", `the ${role} file has ${f.errorCount} invalid record${f.errorCount > 1 ? "s" : ""}; first at line ${e.line}: ${e.message}`, {
    file: f.file,
    line: e.line,
    exitCode: 1,
    hint: `run \`tunekit validate ${f.file}\` and fix the errors first`,
  });
}

/** Pairs between two already-read feature sets (train x test). */
export function leakageBetween(train: FileFeatures, test: FileFeatures, threshold = 0.8): LeakagePair[] {
  const pairs: LeakagePair[] = [];
  const exactTrain = new Map<number, number>();
  train.exact.forEach((h, i) => {
    if (!exactTrain.has(h)) exactTrain.set(h, train.lines[i]);
  });
  const exactTest = new Set<number>();
  test.exact.forEach((h, j) => {
    const tl = exactTrain.get(h);
    if (tl !== undefined) {
      pairs.push({ trainLine: tl, testLine: test.lines[j], similarity: 1, kind: "exact" });
      exactTest.add(j);
    }
  });
  const nTrain = train.lines.length;
  const store = new SignatureStore();
  for (let i = 0; i < nTrain; i++) store.pushFrom(train.signatures, i);
  for (let j = 0; j < test.lines.length; j++) store.pushFrom(test.signatures, j);
  const boilerplate = findBoilerplate(store);
  const near = findSimilarPairs(store, {
    threshold,
    boilerplate,
    accept: (a, b) => a < nTrain && b >= nTrain && !exactTest.has(b - nTrain) && train.exact[a] !== test.exact[b - nTrain],
  });
  for (const p of near) {
    pairs.push({ trainLine: train.lines[p.a], testLine: test.lines[p.b - nTrain], similarity: p.similarity, kind: "near", prompt: p.prompt, reply: p.reply });
  }
  return pairs.sort((x, y) => x.testLine - y.testLine || x.trainLine - y.trainLine);
}

export async function findLeakage(trainFile: string, testFile: string, options: LeakageOptions = {}): Promise<LeakageReport> {
  const threshold = options.threshold ?? 0.8;
  const train = await readFileFeatures(trainFile, options);
  refuseErrors(train, "train");
  const test = await readFileFeatures(testFile, options);
  refuseErrors(test, "test");
  const pairs = leakageBetween(train, test, threshold);
  const leaked = new Set(pairs.map((p) => p.testLine)).size;
  return {
    train: { file: trainFile, examples: train.lines.length },
    test: { file: testFile, examples: test.lines.length },
    threshold,
    pairs,
    leakedTestExamples: leaked,
    leakedShare: test.lines.length === 0 ? 0 : leaked / test.lines.length,
  };
}
