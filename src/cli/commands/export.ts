/**
 * `tunekit export RUN_DIR (--gguf FILE [--dtype D] | --gguf-adapter FILE | --ollama DIR | --merged DIR)`
 * and `tunekit export --model DIR|ID --gguf FILE`: a trained model (or a base model) in the forms
 * other tools run.
 */
import { bool, printJson, str, usageError, type Command, type CommandContext } from "../command.js";
import { createProgress, formatBytes } from "../progress.js";
import { relative, isAbsolute } from "node:path";
import { GGUF_DTYPES, type GgufDtype } from "../../export/gguf/tensors.js";
import type { GgufExportResult } from "../../export/gguf/export.js";

const cmd: Command = {
  name: "export",
  summary: "export a training run (or a base model) as GGUF for llama.cpp / Ollama / LM Studio, an Ollama folder, or merged safetensors",
  usage: "tunekit export RUN_DIR (--gguf FILE [--dtype f32|f16|bf16|q8_0] | --gguf-adapter FILE | --ollama DIR | --merged DIR) [--json]\n       tunekit export --model DIR|ID --gguf FILE [--dtype ...] [--json]",
  details: [
    "--gguf writes the base model with the run's adapter merged in as one GGUF file (llama.cpp, Ollama, LM Studio,",
    "node-llama-cpp): tokenizer, special tokens and the chat template used in training included. --dtype: f16 (default),",
    "bf16, q8_0 or f32; norms stay f32. With --model instead of RUN_DIR it writes a base model.",
    "--gguf-adapter writes the LoRA adapter alone as a GGUF adapter for llama.cpp's --lora (with the base model's GGUF).",
    "--ollama writes DIR/model.gguf and DIR/Modelfile (FROM ./model.gguf, the TEMPLATE and stop parameters of the",
    "training chat template) and prints the `ollama create` command; add --quantize q4_K_M to it for a smaller model.",
    "--merged writes the merged model as a Hugging Face folder (config.json, model.safetensors, tokenizer files).",
    "Existing files and non-empty folders are never overwritten. Docs: docs/export.md",
    "Exit codes: 0 fine, 2 usage or I/O problem, or a model llama.cpp cannot run as trained.",
  ].join("\n"),
  options: {
    gguf: { type: "string", valueName: "FILE", description: "write the merged model (or the --model) as a GGUF file" },
    dtype: { type: "string", valueName: "D", description: "GGUF weight type: f32, f16 (default), bf16 or q8_0" },
    "gguf-adapter": { type: "string", valueName: "FILE", description: "write the run's LoRA adapter as a llama.cpp GGUF adapter" },
    ollama: { type: "string", valueName: "DIR", description: "write model.gguf + Modelfile for `ollama create` here" },
    merged: { type: "string", valueName: "DIR", description: "write the merged model as a Hugging Face folder here" },
    model: { type: "string", short: "m", valueName: "DIR|ID", description: "export this base model (with --gguf) instead of a run" },
    offline: { type: "boolean", description: "never download (same as HF_HUB_OFFLINE=1)" },
    json: { type: "boolean", description: "print the result as JSON" },
  },
  positionals: { min: 0, max: 1, names: "RUN_DIR" },
  async run(ctx) {
    const targets = (["gguf", "gguf-adapter", "ollama", "merged"] as const).filter((k) => str(ctx, k) !== undefined);
    if (targets.length !== 1) throw usageError(cmd, "pass exactly one of --gguf FILE, --gguf-adapter FILE, --ollama DIR or --merged DIR");
    const target = targets[0];
    const model = str(ctx, "model");
    const runDir = ctx.positionals[0];
    if (model !== undefined && runDir !== undefined) throw usageError(cmd, "give a RUN_DIR or --model, not both");
    if (model !== undefined && target !== "gguf") throw usageError(cmd, "--model goes with --gguf (a base model has no adapter to export)");
    if (model === undefined && runDir === undefined) throw usageError(cmd, "give the training run folder (RUN_DIR), or --model with --gguf");
    const dtypeText = str(ctx, "dtype") ?? "f16";
    if (!(GGUF_DTYPES as readonly string[]).includes(dtypeText)) throw usageError(cmd, `--dtype must be one of ${GGUF_DTYPES.join(", ")}, got "${dtypeText}"`);
    if (str(ctx, "dtype") !== undefined && target !== "gguf" && target !== "ollama") throw usageError(cmd, "--dtype applies to --gguf and --ollama");
    const dtype = dtypeText as GgufDtype;
    const json = bool(ctx, "json");
    const show = (p: string) => (isAbsolute(p) ? relative(ctx.io.cwd, p) || "." : p);

    if (target === "merged") {
      const { exportMerged } = await import("../../export/merged.js");
      const r = await exportMerged(runDir!, str(ctx, "merged")!);
      if (json) printJson(ctx, { kind: "merged", ...r });
      else ctx.out(`merged model written to ${str(ctx, "merged")} (${r.files.join(", ")})`);
      return 0;
    }
    const { exportGguf, exportGgufAdapter } = await import("../../export/gguf/export.js");
    if (target === "gguf-adapter") {
      const r = await exportGgufAdapter(runDir!, str(ctx, "gguf-adapter")!, { cwd: ctx.io.cwd });
      if (json) printJson(ctx, { kind: "gguf-adapter", ...r });
      else {
        ctx.out(`LoRA adapter written to ${show(r.out)} (${r.architecture}, rank ${r.rank}, alpha ${r.alpha}, ${r.targets} layers, ${formatBytes(r.bytes)})`);
        if (r.rescaled) ctx.out("  the layers' scales differ (rsLoRA or per-layer ranks / alphas): they are folded into lora_b, so use it at scale 1");
        ctx.out(`  use it with the base model's GGUF: llama-cli -m BASE.gguf --lora ${show(r.out)}`);
      }
      return 0;
    }
    const progress = createProgress(ctx.io, { label: "writing GGUF", unit: "tensors" });
    const options = { dtype, cwd: ctx.io.cwd, env: ctx.io.env, offline: bool(ctx, "offline"), onTensor: (done: number, total: number) => (progress.setTotal(total), progress.update(done)) };
    try {
      if (target === "gguf") {
        const r = await exportGguf(model !== undefined ? { model } : { runDir: runDir! }, str(ctx, "gguf")!, options);
        progress.finish();
        if (json) printJson(ctx, { kind: "gguf", ...r });
        else printGguf(ctx, r, show);
        return 0;
      }
      const { exportOllama } = await import("../../export/ollama.js");
      const r = await exportOllama(runDir!, str(ctx, "ollama")!, options);
      progress.finish();
      if (json) printJson(ctx, { kind: "ollama", ...r });
      else {
        printGguf(ctx, r.gguf, show);
        ctx.out(`Modelfile written to ${show(r.modelfile)} (FROM ./model.gguf, ${r.format} TEMPLATE and stop parameters as in training)`);
        ctx.out(`create the Ollama model with:  ${r.command}`);
        ctx.out(`  smaller and faster:           ${r.command} --quantize q4_K_M`);
        ctx.out(`then run it with:               ollama run ${r.name}`);
      }
      return 0;
    } finally {
      progress.finish();
    }
  },
};

function printGguf(ctx: CommandContext, r: GgufExportResult, show: (p: string) => string): void {
  const what = r.merged ? "merged model (base + adapter)" : "model";
  ctx.out(`${what} written to ${show(r.out)}: GGUF ${r.dtype}, ${formatBytes(r.bytes)}, architecture ${r.architecture}, ${r.tensors} tensors`);
  ctx.out(`  tokenizer ${r.tokenizer.model} (pre-tokenizer ${r.tokenizer.pre}), chat template: ${r.chatTemplate === "plain" ? "tunekit's plain template (as in training)" : "the model's (as in training)"}`);
  for (const n of r.notes) ctx.out(`  note: ${n}`);
}

export default cmd;
