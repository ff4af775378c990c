/**
 * What the demo runs with. The full settings are for a small instruction model (SmolLM2-135M-Instruct)
 * on a 2-core CPU; --quick is for a tiny model, so CI can run the whole demo in well under a minute.
 */
import { inferencePrice } from "../providers/catalog.js";
import { TOGETHER_DEFAULT_MODEL } from "../providers/together/catalog.js";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The default model: small, instruction-tuned, Llama architecture, downloaded once from the hub. */
export const DEFAULT_DEMO_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct";

export interface DemoSettings {
  quick: boolean;
  /** Optimizer steps per training run (undefined: epochs decide). */
  maxSteps?: number;
  epochs: number;
  batchSize: number;
  lr: number;
  loraR: number;
  maxSeqLen: number;
  /** Held-out behaviour examples evaluated (all when undefined). */
  heldOutLimit?: number;
  /** Questions per knowledge set (all when undefined). */
  questionLimit?: number;
  maxTokens: number;
  /** Examples shown in the long prompting baseline. */
  fewShot: number;
  /** Chunks retrieved per question. */
  ragK: number;
  seed: number;
}

/**
 * --quick is for a tiny local model (the tests run it on stories260K: 260K parameters, a story model
 * without a chat template). Its settings are chosen so that the tuned model learns the two-line ticket
 * format on held-out tickets while the base model does not, in well under a minute of CPU: 160 steps
 * (about 12 epochs of the 53 training tickets) at a learning rate of 8e-3 with rank 16, and 120 new
 * tokens, room for both lines of a reply in that model's 512-token vocabulary (40 cut every reply
 * after its first line). Every held-out ticket is evaluated. What these settings measured across seeds
 * is in the README's demo section.
 */
export function demoSettings(quick: boolean): DemoSettings {
  return quick
    ? { quick, maxSteps: 160, epochs: 1, batchSize: 4, lr: 8e-3, loraR: 16, maxSeqLen: 320, questionLimit: 4, maxTokens: 120, fewShot: 1, ragK: 1, seed: 7 }
    : { quick, epochs: 3, batchSize: 4, lr: 1e-3, loraR: 8, maxSeqLen: 512, maxTokens: 64, fewShot: 3, ragK: 3, seed: 7 };
}

/**
 * Price used to turn tokens into money for every configuration alike, so the difference is tokens only:
 * a small open model's serverless list price from the providers' catalog.
 */
const reference = inferencePrice(TOGETHER_DEFAULT_MODEL, "together")!;
export const REFERENCE_PRICE = { name: `${TOGETHER_DEFAULT_MODEL} list price at Together AI (${reference.asOf})`, inputPerM: reference.inputPerM, outputPerM: reference.outputPerM };

/** The short system prompt the tuned model is trained and served with. */
export const SHORT_SUPPORT_PROMPT = "You are a customer support assistant.";

/** The bundled example files the demo runs on (shipped in the package's examples/ folder). */
export function exampleFiles(root = fileURLToPath(new URL("../../", import.meta.url))) {
  const ex = join(root, "examples");
  return {
    support: join(ex, "support-tickets.jsonl"),
    policyFacts: join(ex, "policy-facts.jsonl"),
    policyDoc: join(ex, "policy.md"),
    paraphrases: join(ex, "demo", "policy-paraphrases.jsonl"),
    unseen: join(ex, "demo", "policy-unseen.jsonl"),
    afterChange: join(ex, "demo", "policy-after-change.jsonl"),
  };
}

/** The policy change the demo makes: the refund window shrinks from 30 to 14 days. */
export const POLICY_CHANGE = { from: "30 days", to: "14 days", summary: "refund window 30 -> 14 days" };
