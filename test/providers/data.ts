/** Small valid chat datasets written for provider tests. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export function writeChatJsonl(dir: string, name: string, n: number, tag = "a"): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        messages: [
          { role: "system", content: "You answer support tickets." },
          { role: "user", content: `Ticket ${tag}-${i}: my order ${1000 + i} has not arrived.` },
          { role: "assistant", content: `TL;DR: order ${1000 + i} delayed.\nNext step: we reship today.` },
        ],
      }),
    );
  }
  const p = join(dir, name);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
}

/**
 * Status history is what polling saw, so a fast stage can be missed under load: check that it starts
 * with "created", ends with `last`, and follows the state machine's order without repeats.
 */
export function assertHistoryInOrder(history: string[], order: string[], last: string): void {
  if (history[0] !== "created") throw new Error(`history starts with ${history[0]}: ${history.join(" > ")}`);
  if (history[history.length - 1] !== last) throw new Error(`history ends with ${history[history.length - 1]}: ${history.join(" > ")}`);
  let pos = -1;
  for (const s of history.slice(1)) {
    const i = order.indexOf(s);
    if (i <= pos) throw new Error(`status ${s} out of order: ${history.join(" > ")}`);
    pos = i;
  }
}
