/** `tunekit rag query "question" --store FILE`: the chunks that best answer a question, with sources. */
import { bool, num, printJson, str, usageError, type Command } from "../command.js";
import { retrieve } from "../../rag/store.js";

const command: Command = {
  name: "rag query",
  summary: "retrieve the document chunks that best answer a question",
  usage: 'tunekit rag query "QUESTION" --store FILE [--k 4] [--json]',
  details: `Ranks chunks with BM25 over words (accents folded) and, for Chinese/Japanese/Korean, character trigrams.
The question is plain text: quotes, AND/OR/NOT, * and - are not search operators.
--json prints {"question","results":[{"source","heading","text","start","end","score"}]} (docs/json.md).`,
  options: {
    store: { type: "string", valueName: "FILE", description: "the document store (from `tunekit rag index`)" },
    k: { type: "string", valueName: "N", description: "number of chunks", default: "4" },
    json: { type: "boolean", description: "print JSON" },
  },
  positionals: { min: 1, max: 1, names: "QUESTION" },
  async run(ctx) {
    const file = str(ctx, "store");
    if (!file) throw usageError(command, "--store FILE is required");
    const k = num(ctx, command, "k", { integer: true, min: 1, max: 1000 })!;
    const question = ctx.positionals[0];
    const results = retrieve(file, question, k);
    if (bool(ctx, "json")) {
      printJson(ctx, { question, results });
      return 0;
    }
    if (results.length === 0) {
      ctx.out("No matching chunks.");
      return 0;
    }
    const c = ctx.color;
    results.forEach((r, i) => {
      ctx.out(`${c.bold(`[${i + 1}]`)} ${c.cyan(r.source)}${r.heading ? ` ${c.dim("(" + r.heading + ")")}` : ""} ${c.dim(`score ${r.score.toPrecision(3)}, chars ${r.start}-${r.end}`)}`);
      ctx.out(r.text.length > 600 ? r.text.slice(0, 600) + " ..." : r.text);
      ctx.out();
    });
    return 0;
  },
};
export default command;
