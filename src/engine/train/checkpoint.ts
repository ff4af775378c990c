/**
 * Checkpoints: one safetensors file holding the LoRA weights, AdamW's moments, the best-so-far weights
 * (for early stopping) and, in its metadata, the loop state (optimizer step, data position, RNG state,
 * early-stopping counters). It is written to a temporary file and renamed over the previous one, so a
 * crash or a full disk leaves the previous checkpoint intact, never a half-written one.
 */
import { existsSync } from "node:fs";
import { readSafetensors, writeSafetensors, type TensorToWrite } from "../io/safetensors.js";
import { TunekitError } from "../../util/errors.js";
import type { AdamWState } from "./adamw.js";
import type { RngState } from "./rng.js";

export const CHECKPOINT_FILE = "checkpoint.safetensors";
const STATE_KEY = "tunekit_train_state";

/** Where the loop is: everything besides tensors that a resumed run needs to continue exactly. */
export interface LoopState {
  /** Optimizer steps done. */
  step: number;
  /** Epoch of the next micro-batch, and its index within that epoch. */
  epoch: number;
  microIndex: number;
  dropoutRng: RngState;
  bestEvalLoss: number | null;
  bestStep: number | null;
  evalsWithoutImprovement: number;
  lastEvalLoss: number | null;
  /** Train loss since the last eval (for the train/held-out gap). */
  recentLossSum: number;
  recentTokens: number;
  tokensSeen: number;
  trainSeconds: number;
}

export interface Checkpoint {
  state: LoopState;
  params: Map<string, Float32Array>;
  optimizer: AdamWState;
  bestParams?: Map<string, Float32Array>;
}

export async function saveCheckpoint(path: string, ck: Checkpoint, shapes: Map<string, number[]>): Promise<void> {
  const tensors: TensorToWrite[] = [];
  const add = (prefix: string, m: Map<string, Float32Array>) => {
    for (const [name, data] of m) tensors.push({ name: `${prefix}/${name}`, shape: shapes.get(name) ?? [data.length], data });
  };
  add("param", ck.params);
  add("adam_m", ck.optimizer.m);
  add("adam_v", ck.optimizer.v);
  if (ck.bestParams) add("best", ck.bestParams);
  await writeSafetensors(path, tensors, { [STATE_KEY]: JSON.stringify({ ...ck.state, optimizerStep: ck.optimizer.step }) });
}

export async function loadCheckpoint(path: string): Promise<Checkpoint | undefined> {
  if (!existsSync(path)) return undefined;
  const { tensors, metadata } = await readSafetensors(path);
  const raw = metadata[STATE_KEY];
  if (raw === undefined) {
    throw new TunekitError("bad_checkpoint", `${path} is not a tunekit training checkpoint`, { file: path });
  }
  const parsed = JSON.parse(raw) as LoopState & { optimizerStep: number };
  const groups: Record<string, Map<string, Float32Array>> = { param: new Map(), adam_m: new Map(), adam_v: new Map(), best: new Map() };
  for (const [key, t] of tensors) {
    const slash = key.indexOf("/");
    const group = groups[key.slice(0, slash)];
    if (group) group.set(key.slice(slash + 1), t.data);
  }
  const { optimizerStep, ...state } = parsed;
  return {
    state,
    params: groups.param,
    optimizer: { step: optimizerStep, m: groups.adam_m, v: groups.adam_v },
    bestParams: groups.best.size > 0 ? groups.best : undefined,
  };
}
