/**
 * A tiny random Llama model written to a folder (config.json + model.safetensors), a character-level
 * tokenizer, a plain chat template with assistant-only masks, and a TrainBackend that uses them with
 * the real ONNX engine: enough to train end to end in a second or two per run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChatExample, SourcedExample } from "../../../src/dataset/types.js";
import { contentText } from "../../../src/dataset/types.js";
import { expectedTensorShapes } from "../../../src/engine/io/model.js";
import { parseModelConfig } from "../../../src/engine/io/config.js";
import { writeSafetensors } from "../../../src/engine/io/safetensors.js";
import type { TrainBackend } from "../../../src/engine/train/backend.js";
import { loadModel } from "../../../src/engine/io/model.js";
import { createOnnxTrainEngine } from "../../../src/engine/train/onnx-engine.js";
import { Rng } from "../../../src/engine/train/rng.js";

export const ALPHABET = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:.,!?\n[]";
export const PAD = 0;
export const BOS = 1;
export const EOS = 2;

export function encodeChars(s: string): number[] {
  return [...s].map((ch) => {
    const i = ALPHABET.indexOf(ch);
    if (i < 0) throw new Error(`char ${JSON.stringify(ch)} not in the test alphabet`);
    return i + 3;
  });
}
export function decodeChars(ids: number[]): string {
  return ids.map((i) => (i >= 3 ? ALPHABET[i - 3] : "")).join("");
}

export const tinyRaw = (vocab: number) => ({
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 48,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: vocab,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  hidden_act: "silu",
  tie_word_embeddings: true,
  bos_token_id: BOS,
  eos_token_id: EOS,
  torch_dtype: "float32",
});

/** Writes a tiny random model into `dir` and returns the folder. */
export async function writeTinyModel(dir: string, seed = 3, raw: Record<string, unknown> = tinyRaw(ALPHABET.length + 3)): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2));
  const config = parseModelConfig(raw);
  const rng = new Rng(seed);
  const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (shape.length === 1) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = (rng.nextFloat() * 2 - 1) * 0.15;
    return { name, shape, data };
  });
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  return dir;
}

/** "user: ...\nassistant: ...<eos>" per turn; loss on assistant content and its EOS only. */
export function renderChat(example: ChatExample, forGeneration = false): { ids: number[]; lossMask: number[] } {
  const ids = [BOS];
  const lossMask = [0];
  for (const m of example.messages) {
    const head = encodeChars(`${m.role}: `);
    ids.push(...head);
    lossMask.push(...head.map(() => 0));
    if (forGeneration && m.role === "assistant") break;
    const body = [...encodeChars(contentText(m.content)), EOS];
    const trained = m.role === "assistant" && m.weight !== 0 ? 1 : 0;
    ids.push(...body);
    lossMask.push(...body.map(() => trained));
  }
  return { ids, lossMask };
}

export function tinyBackend(threads = 1): TrainBackend {
  return {
    loadModel: (m) => loadModel(m),
    tokenizerFor: async () => ({ tokenize: (ex: SourcedExample) => renderChat(ex.example), template: { name: "test-chars", plain: true } }),
    createEngine: (config, weights, spec) => createOnnxTrainEngine(config, weights, spec, { threads }),
    split: async (file, fraction, seed, outDir) => {
      const { leakFreeSplit } = await import("../../../src/engine/train/wiring.js");
      return leakFreeSplit(file, fraction, seed, outDir);
    },
  };
}

/** A small "format" dataset: the assistant always answers `ANSWER: [word]` (then EOS). */
export function formatDataset(n: number, seed: number): ChatExample[] {
  const rng = new Rng(seed);
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const out: ChatExample[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + rng.nextInt(3);
    let w = "";
    for (let j = 0; j < len; j++) w += letters[rng.nextInt(26)];
    out.push({ messages: [{ role: "user", content: w }, { role: "assistant", content: `ANSWER: [${w}]` }] });
  }
  return out;
}

export function writeJsonl(path: string, examples: ChatExample[]): string {
  writeFileSync(path, examples.map((e) => JSON.stringify(e)).join("\n") + "\n");
  return path;
}

/** Prompts naming a person and a thing; the reply is always `NAME: <person>` (a format to learn). */
const NAMES = ["Tom", "Lily", "Ben", "Sue", "Max", "Anna", "Sam", "Mia", "Tim", "Zoe", "Jack", "Lucy", "Bob", "Kim", "Dan", "Eve"];
const THINGS = ["ball", "cat", "dog", "tree", "cake", "sun", "box", "car"];

export function nameDataset(): ChatExample[] {
  const out: ChatExample[] = [];
  for (let i = 0; i < 64; i++) {
    const n = NAMES[i % 16];
    const t = THINGS[(i * 3) % 8];
    out.push({ messages: [{ role: "user", content: `${n} has a ${t}.` }, { role: "assistant", content: `NAME: ${n}` }] });
  }
  return out;
}

