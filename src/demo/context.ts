/** What every demo stage works with: the settings, the bundled files, the model and the output folder. */
import type { ModelRunner } from "../eval/runner/types.js";
import type { DemoSettings, exampleFiles } from "./settings.js";
import type { DemoStage } from "./types.js";

export interface DemoOptions {
  /** Model folder or hub id (default: SmolLM2-135M-Instruct from the hub). */
  model?: string;
  quick?: boolean;
  outDir: string;
  threads?: number;
  offline?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Called when a stage starts (for the terminal). */
  onStage?(stage: DemoStage): void;
  /** Progress within a stage: done/total units (steps or generations). */
  onProgress?(done: number, total: number, what: string): void;
}

export interface DemoContext {
  options: DemoOptions;
  settings: DemoSettings;
  files: ReturnType<typeof exampleFiles>;
  /** Absolute output folder. */
  outDir: string;
  /** The model folder (a hub id resolved to its cached snapshot). */
  modelDir: string;
  /** Options for the local runners: no network, the caller's threads and environment. */
  runnerOptions: { threads?: number; offline: true; env?: NodeJS.ProcessEnv };
  /** The base model, shared by every stage that asks it. */
  base: ModelRunner;
  /** Every runner opened (the base model's included), closed when the demo ends. */
  runners: ModelRunner[];
  /** Generation parameters of every evaluation. */
  params: { temperature: number; maxTokens: number; seed: number };
  /** Marks the start of a named stage. */
  stage(name: string): void;
}
