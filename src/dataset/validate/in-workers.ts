/** Validation of a big JSONL file in worker threads (parallel.ts), aggregated here in file order. */
import { TunekitError } from "../../util/errors.js";
import { DEFAULT_MAX_LINE_BYTES } from "../lines.js";
import type { NoteCounter } from "../notes.js";
import type { ExampleFeatures } from "../analysis/features.js";
import type { IssueCollector } from "./issues.js";
import { validateJsonlParallel } from "./parallel.js";
import { QuickAggregator, type QuickFeatures } from "./quick-analysis.js";
import type { RunResult } from "./run-result.js";
import type { ValidateOptions } from "./types.js";

export async function validateInWorkers(file: string, options: ValidateOptions, issues: IssueCollector, notes: NoteCounter): Promise<RunResult> {
  const mode = options.analysis === false ? "none" : options.quick ? "quick" : "full";
  const analysisMod = mode === "none" ? undefined : await import("../analysis/index.js");
  // Checks the model name here (a clear error before any thread starts); the main thread's own batch
  // checker loads the tokenizer lazily, once.
  let tokenLimit: number | undefined;
  if (analysisMod && options.model !== undefined) {
    if (!analysisMod.isOpenAiModel(options.model)) analysisMod.createFeatureContext({ model: options.model });
    tokenLimit = options.tokenLimit ?? analysisMod.openAiExampleTokenLimit(options.model);
  }
  const full = mode === "full" && analysisMod ? new analysisMod.DatasetAggregator({ model: options.model, tokenLimit }) : undefined;
  const quick = mode === "quick" ? new QuickAggregator({ model: options.model, tokenLimit }) : undefined;
  let examples = 0;
  let records = 0;
  const row: QuickFeatures = { line: 0, messages: 0 }; // reused: the aggregator keeps numbers, not the object
  const res = await validateJsonlParallel(
    {
      file,
      mode,
      model: options.model,
      maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      format: options.format,
      workers: options.workers,
      chunkBytes: options.chunkBytes,
    },
    {
      outcome(o) {
        if (o.issues) for (const i of o.issues) issues.add(i);
        if (!o.blank) records++;
        if (!o.valid) return;
        if (o.notes) for (const n of o.notes) notes.add(n, o.line);
        const index = examples++;
        if (o.features && full) full.add({ ...(o.features as ExampleFeatures), index });
        else if (o.features && quick) quick.add(o.features as QuickFeatures);
      },
      quickRow(line, messages, tokens, assistantTokens) {
        records++;
        examples++;
        row.line = line;
        row.messages = messages;
        if (tokens >= 0) {
          row.tokens = tokens;
          row.assistantTokens = assistantTokens;
        } else {
          delete row.tokens;
          delete row.assistantTokens;
        }
        quick?.add(row);
      },
      progress(done, total) {
        options.onProgress?.({ bytesRead: done, totalBytes: total, examples });
      },
    },
  );
  if (records === 0) {
    throw new TunekitError("empty_file", "the file has no records, only blank lines", { file, exitCode: 1, hint: "a dataset needs at least one example" });
  }
  let analysis: RunResult["analysis"];
  if (full && analysisMod) {
    const sampler = new analysisMod.ReplySampler();
    for (const r of res.replySamples) sampler.add(r);
    analysis = {
      finish: () => {
        const r = full.finish();
        return { issues: r.issues, stats: { ...r.stats, replyShape: sampler.shape() } as unknown as Record<string, unknown> };
      },
    };
  } else if (quick) analysis = quick;
  return { format: res.format, examples, records, totalBytes: res.totalBytes, analysis };
}
