/** `tunekit export RUN_DIR (--merged OUT | --ollama OUT)`: the trained adapter in the forms other tools take. */
import { bool, printJson, str, usageError, type Command } from "../command.js";

const cmd: Command = {
  name: "export",
  summary: "export a training run: merged full model (HF layout) or an Ollama Modelfile + adapter",
  usage: "tunekit export RUN_DIR (--merged OUT | --ollama OUT) [--json]",
  details: [
    "The run folder already holds a PEFT adapter (RUN_DIR/adapter). --merged writes the base model with the",
    "adapter folded in (config.json, model.safetensors, tokenizer files). --ollama writes a Modelfile (FROM the",
    "base, ADAPTER the adapter, TEMPLATE and stop tokens of the chat template used in training); Ollama takes",
    "adapters for Llama, Mistral and Gemma only: for other architectures export merged instead.",
    "Exit codes: 0 fine, 2 usage or I/O problem.",
  ].join("\n"),
  options: {
    merged: { type: "string", valueName: "OUT", description: "write the merged model folder here" },
    ollama: { type: "string", valueName: "OUT", description: "write a Modelfile + adapter folder here" },
    json: { type: "boolean", description: "print the result as JSON" },
  },
  positionals: { min: 1, max: 1, names: "RUN_DIR" },
  async run(ctx) {
    const merged = str(ctx, "merged");
    const ollama = str(ctx, "ollama");
    if (!merged === !ollama) throw usageError(cmd, "pass exactly one of --merged OUT or --ollama OUT");
    const runDir = ctx.positionals[0];
    if (merged) {
      const { exportMerged } = await import("../../export/merged.js");
      const r = await exportMerged(runDir, merged);
      if (bool(ctx, "json")) printJson(ctx, { kind: "merged", ...r });
      else ctx.out(`merged model written to ${r.out} (${r.files.join(", ")})`);
    } else {
      const { exportOllama } = await import("../../export/ollama.js");
      const r = await exportOllama(runDir, ollama!);
      if (bool(ctx, "json")) printJson(ctx, { kind: "ollama", ...r });
      else ctx.out(`Ollama Modelfile written to ${r.modelfile} (${r.family} template); create it with: ollama create NAME -f ${r.modelfile}`);
    }
    return 0;
  },
};

export default cmd;
