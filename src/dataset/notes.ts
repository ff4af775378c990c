/**
 * Conversion notes (fields dropped, roles not mapped, tools rewritten) are counted per kind, with the
 * first line where each happened, so a report says "dropped field "id" (1,204 records, first line 1)"
 * instead of repeating itself.
 */
import type { ConversionNote } from "./formats/types.js";

export interface NoteSummary {
  code: string;
  message: string;
  count: number;
  firstLine: number;
}

export class NoteCounter {
  private readonly map = new Map<string, NoteSummary>();

  add(n: ConversionNote, line: number): void {
    const key = `${n.code}\u0000${n.message}`;
    const s = this.map.get(key);
    if (s) s.count++;
    else this.map.set(key, { code: n.code, message: n.message, count: 1, firstLine: line });
  }

  summary(): NoteSummary[] {
    return [...this.map.values()].sort((a, b) => b.count - a.count || a.firstLine - b.firstLine);
  }
}
