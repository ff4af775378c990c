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
