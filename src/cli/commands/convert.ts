/** `tunekit convert IN --to openai-chat -o OUT`: any supported format to OpenAI chat JSONL. */
import type { Command } from "../command.js";
import { bool, printJson, str, usageError } from "../command.js";
import { convertFile } from "../../dataset/convert.js";
import { readWithProgress, FORMAT_OPTIONS, printIssueList, printNotes } from "./dataset-output.js";

const command: Command = {
  name: "convert",
  summary: "convert a dataset (Alpaca, ShareGPT, prompt/completion, text, CSV) to OpenAI chat JSONL",
  usage: "tunekit convert IN --to openai-chat -o OUT [--columns MAP] [--json]",
  details: `All or nothing: when any record cannot be converted, OUT is not written and the errors are listed.
Reports what could not be mapped (dropped fields, unknown roles) with counts.
Exit codes: 0 written, 1 the input has errors (nothing written), 2 usage or I/O problem.`,
  options: {
    to: { type: "string", valueName: "FORMAT", description: "target format", default: "openai-chat" },
    output: { type: "string", short: "o", valueName: "OUT", description: "output file (written atomically)" },
    json: { type: "boolean", description: "print the report as JSON" },
    ...FORMAT_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: "IN" },
  async run(ctx) {
    const input = ctx.positionals[0];
    const output = str(ctx, "output");
    if (!output) throw usageError(command, "missing -o OUT (the output file)");
    const to = str(ctx, "to") ?? "openai-chat";
    if (to !== "openai-chat") throw usageError(command, `unsupported --to "${to}" (supported: openai-chat)`);
    const report = await readWithProgress(ctx, command, (read) =>
      convertFile(input, output, {
        ...read,
        to,
      }),
    );
    if (bool(ctx, "json")) {
      printJson(ctx, report);
      return report.written ? 0 : 1;
    }
    const c = ctx.color;
    if (!report.written) {
      printIssueList(ctx, input, report.errors, report.errorCount, "error", 50);
      ctx.out(c.red(`${report.errorCount.toLocaleString("en-US")} records cannot be converted: nothing was written to ${output}`));
      ctx.out(c.dim("fix them (or remove them) and run convert again; `tunekit validate` shows every problem"));
      return 1;
    }
    printNotes(ctx, report.conversion, "not carried over / changed");
    ctx.out(`${c.green("converted")} ${report.examples.toLocaleString("en-US")} examples (${report.format} -> ${report.to}) to ${output}`);
    if (report.warningCount > 0) {
      ctx.out(c.dim(`${report.warningCount.toLocaleString("en-US")} warnings about the examples: run \`tunekit validate ${output}\` to see them`));
    }
    return 0;
  },
};

export default command;
