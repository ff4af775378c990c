/** Writes report.html, report.md and results.json into a folder, each atomically. */
import { join } from "node:path";
import type { EvalResult } from "../eval/evaluate.js";
import type { GateResult } from "../eval/gates.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import { renderHtml, type HtmlOptions } from "./html.js";
import { renderMarkdown } from "./markdown.js";

export interface WrittenReport {
  html: string;
  markdown: string;
  json: string;
}

export async function writeReport(dir: string, result: EvalResult, gates: GateResult[] = [], html: HtmlOptions = {}): Promise<WrittenReport> {
  await ensureDir(dir);
  const paths = { html: join(dir, "report.html"), markdown: join(dir, "report.md"), json: join(dir, "results.json") };
  // results.json first: it is the record; the two renderings follow from it.
  await writeFileAtomic(paths.json, JSON.stringify({ ...result, gates }, null, 2) + "\n");
  await writeFileAtomic(paths.html, renderHtml(result, html));
  await writeFileAtomic(paths.markdown, renderMarkdown(result));
  return paths;
}
