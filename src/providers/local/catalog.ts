/** What the local engine offers: LoRA on this machine, paid for in CPU time only. */
import { DEFAULT_TRAIN_OPTIONS } from "../../engine/train/defaults.js";
import type { TrainerCapabilities } from "../types.js";

export const localCapabilities: TrainerCapabilities = {
  hosted: false,
  methods: ["supervised-lora"],
  hyperparameters: {
    n_epochs: { description: "passes over the training data", auto: true, integer: true, min: 1, max: 1000 },
    batch_size: { description: "examples per micro-batch", auto: true, integer: true, min: 1, max: 4096 },
    // No upper bound: a rate that diverges is the engine's to detect and report.
    learning_rate: { description: "peak learning rate", auto: true, integer: false, min: 0, max: Number.MAX_VALUE },
  },
  minExamples: 1,
  suffix: false,
  seed: true,
  lora: true,
  autoEpochs: DEFAULT_TRAIN_OPTIONS.epochs,
};

/** The small instruction model `tunekit demo` and the docs train locally. */
export const LOCAL_DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct";
