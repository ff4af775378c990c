/** What the demo measures: the result it returns, writes to demo.json and renders in its report. */
import type { DemoSettings, REFERENCE_PRICE } from "./settings.js";

export interface DemoStage {
  index: number;
  total: number;
  name: string;
}

export interface TrainSummary {
  runDir: string;
  steps: number;
  examples: number;
  firstLoss: number | null;
  lastLoss: number | null;
  heldOutLoss: number | null;
  seconds: number;
}

export interface PromptConfigResult {
  name: string;
  description: string;
  formatCompliance: number | null;
  meanTokensIn: number;
  meanTokensOut: number;
  costPer1kCalls: number | null;
  failedCalls: number;
}

export interface AccuracyRow {
  set: "trained" | "paraphrased" | "never trained";
  questions: number;
  base: number | null;
  tuned: number | null;
  retrieval: number | null;
}

export interface SampleAnswer {
  question: string;
  reference: string;
  answers: { who: string; text: string }[];
}

export interface DemoResult {
  tool: "tunekit-demo";
  createdAt: string;
  model: { spec: string; dir: string };
  settings: DemoSettings;
  price: typeof REFERENCE_PRICE;
  seconds: number;
  validation: { file: string; examples: number; errors: number; warnings: number; factInjection: number }[];
  /** `tunekit advise` on each bundled dataset: what it recommends and why, before any training. */
  advice: { file: string; recommendation: string; summary: string }[];
  behaviour: {
    trainExamples: number;
    heldOutExamples: number;
    train: TrainSummary;
    configs: PromptConfigResult[];
    /** Bootstrap verdicts from the evaluation (tuned vs each baseline). */
    verdicts: string[];
    reportDir: string;
  };
  knowledge: {
    train: TrainSummary;
    accuracy: AccuracyRow[];
    afterChange: {
      change: string;
      questions: number;
      tunedAccuracy: number | null;
      /** Share of the tuned model's answers that still state the old fact. */
      tunedStale: number;
      retrievalAccuracy: number | null;
      retrievalStale: number;
      samples: SampleAnswer[];
    };
    reportDir: string;
  };
  retrieval: { documents: number; chunks: number; reindexed: string[] };
  /** The lesson in plain words, each sentence built from the numbers above. */
  findings: string[];
}
