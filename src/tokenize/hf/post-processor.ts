/** tokenizer.json post-processors, reduced to what they do to a single sequence: the special ids around it. */
import type { Json } from "./stage.js";

export function postProcessorIds(p: Json | null | undefined, idOf: (s: string) => number | undefined): { prefix: number[]; suffix: number[] } {
  const none = { prefix: [], suffix: [] };
  if (!p) return none;
  if (p.type === "Sequence") {
    const r = { prefix: [] as number[], suffix: [] as number[] };
    for (const x of p.processors as Json[]) {
      const s = postProcessorIds(x, idOf);
      r.prefix.push(...s.prefix);
      r.suffix.push(...s.suffix);
    }
    return r;
  }
  if (p.type === "TemplateProcessing") {
    const prefix: number[] = [];
    const suffix: number[] = [];
    let seen = false;
    for (const item of p.single as Json[]) {
      if (item.Sequence) {
        seen = true;
        continue;
      }
      const name = item.SpecialToken?.id as string;
      const ids: number[] = p.special_tokens?.[name]?.ids ?? [idOf(name)].filter((x) => x !== undefined);
      (seen ? suffix : prefix).push(...ids);
    }
    return { prefix, suffix };
  }
  if (p.type === "BertProcessing" || p.type === "RobertaProcessing") {
    return { prefix: [p.cls[1]], suffix: [p.sep[1]] };
  }
  return none; // ByteLevel post-processing only adjusts offsets
}
