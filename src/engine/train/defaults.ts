/**
 * Default training options for small models (0.1-1B parameters) on a CPU: values common in LoRA
 * recipes (PEFT / TRL examples): lr 2e-4 with cosine decay and a short warmup, r 8 / alpha 16 on all
 * linear layers, gradient clipping at 1.0 (the Hugging Face Trainer default).
 */
import type { TrainOptions } from "./loop.js";

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  epochs: 3,
  batchSize: 4,
  gradAccum: 1,
  maxSeqLen: 1024,
  lr: 2e-4,
  warmup: 0.03,
  schedule: "cosine",
  weightDecay: 0,
  maxGradNorm: 1,
  lora: { r: 8, alpha: 16, dropout: 0, rslora: false, targets: "all-linear" },
  seed: 42,
  packing: false,
  evalEvery: -1,
  patience: 0,
  saveEvery: -1,
};
