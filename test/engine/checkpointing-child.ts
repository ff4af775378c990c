/**
 * Child process for checkpointing.test.ts: one training step of a small random Llama (12 layers, 2 x 512
 * tokens), with or without activation recomputation; prints the process's peak RSS (its own process,
 * so the figure is this step's alone).
 */
import { createTrainStep, loraParamShapes, type LoraSpec } from "../../src/engine/models/causal-lm.js";
import { randomParams, tinyConfig, tinyWeights } from "./tiny-model.js";

const checkpointing = process.argv[2] === "on";
const layers = Number(process.argv[3] ?? 12);
const c = tinyConfig({ vocab_size: 256, hidden_size: 128, intermediate_size: 256, num_hidden_layers: layers, num_attention_heads: 8, num_key_value_heads: 8, max_position_embeddings: 1024 });
const spec: LoraSpec = { r: 4, alpha: 8, targets: "all-linear" };
const step = await createTrainStep(c, tinyWeights(c), spec, { threads: 1, gradientCheckpointing: checkpointing });
const B = 2;
const T = 512;
const ids = Array.from({ length: B * T }, (_, i) => (i * 7) % 256);
const batch = { batchSize: B, seqLen: T, inputIds: ids, targets: ids.map((x) => (x + 1) % 256), lossWeights: ids.map(() => 1) };
const params = randomParams(loraParamShapes(c, spec));
const before = process.resourceUsage().maxRSS;
await step.run(batch, params);
await step.run(batch, params);
console.log(JSON.stringify({ peakKb: process.resourceUsage().maxRSS, beforeKb: before }));
await step.dispose();
