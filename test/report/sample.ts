/**
 * A realistic evaluation result for report tests, produced by really running `evaluate` against the
 * fake server: base rambles (and sometimes injects markup), base-long follows the format at a high
 * token cost, tuned follows it cheaply but loses a couple of retention items.
 */
import { startFakeChat } from "../servers/fake-chat.js";
import { createEndpointRunner } from "../../src/eval/runner/endpoint.js";
import { evaluate, type EvalResult } from "../../src/eval/evaluate.js";
import type { EvalItem } from "../../src/eval/items.js";
import { curvesFromRecords } from "../../src/eval/overfit.js";
import { RETENTION_SET } from "../../src/eval/retention-set.js";

export const INJECTED = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;

export async function sampleResult(n = 24): Promise<EvalResult> {
  const topics = ["refund", "login", "invoice", "shipping", "password", "upgrade", "export", "billing"];
  const items: EvalItem[] = Array.from({ length: n }, (_, i) => {
    const t = topics[i % topics.length];
    const days = i % 3 === 0 ? "30 days" : "2 business days";
    const q = i === 1 ? `My ${t} is broken ${INJECTED}` : `Customer #${1000 + i}: question about ${t}, order placed March ${(i % 27) + 1}, 2025.`;
    return {
      id: `line ${i + 1}`,
      line: i + 1,
      prompt: [{ role: "system", content: "You are a support agent." }, { role: "user", content: q }],
      reference: `TL;DR: The customer needs help with their ${t}.\nNext step: Reply within ${days} with the ${t} instructions.`,
    };
  });
  const s = await startFakeChat({
    reply: (b) => {
      const q = String(b.messages.at(-1)!.content);
      const t = topics.find((x) => q.includes(x)) ?? "account";
      const sys = String(b.messages.find((m) => m.role === "system")?.content ?? "");
      const idx = Number(/#(\d+)/.exec(q)?.[1] ?? 1001) - 1000;
      if (RETENTION_SET.some((r) => r.prompt === q)) {
        const item = RETENTION_SET.find((r) => r.prompt === q)!;
        const c = item.check;
        const right = c.kind === "number" ? String(c.value) : c.kind === "contains" ? c.any[0] : c.kind === "json" ? JSON.stringify(c.expect) : "ok";
        const k = RETENTION_SET.indexOf(item);
        return b.model === "tuned" && (k === 1 || k === 4 || k === 30) ? "TL;DR: see below\nNext step: none" : right;
      }
      if (b.model === "tuned" || sys.includes("FORMAT") || idx === 4) {
        const days = idx % 3 === 0 ? (b.model === "tuned" && idx % 6 === 0 ? "14 days" : "30 days") : "2 business days";
        if (b.model === "tuned" && idx % 7 === 4 && !sys.includes("FORMAT")) return `Thanks for reaching out about your ${t}! We will look into it.`;
        return `TL;DR: The customer needs help with their ${t}.\nNext step: Reply within ${days} with the ${t} instructions.`;
      }
      return idx === 1 ? `Sorry to hear that. ${INJECTED} Please try again.` : `Hello! Thanks for contacting us about your ${t}. Could you share more details so we can help?`;
    },
  });
  try {
    const mk = (model: string) => createEndpointRunner({ baseUrl: s.baseUrl, model });
    const price = { inputPerM: 0.15, outputPerM: 0.6 };
    const steps = Array.from({ length: 60 }, (_, i) => ({ step: i + 1, loss: 2.2 * Math.exp(-i / 18) + 0.3 + 0.05 * Math.sin(i) }));
    const evals = [10, 20, 30, 40, 50, 60].map((step, k) => ({ type: "eval", step, heldOutLoss: [1.9, 1.3, 1.05, 1.0, 1.08, 1.2][k] }));
    return await evaluate({
      items,
      models: [
        { name: "base", runner: mk("base"), price },
        { name: "base+prompt", runner: mk("base"), system: "FORMAT: Answer with a line 'TL;DR: ...' then 'Next step: ...'. ".repeat(30), price },
        { name: "tuned", runner: mk("tuned"), price: { inputPerM: 0.3, outputPerM: 1.2 } },
      ],
      retention: true,
      lossCurves: curvesFromRecords([...steps, ...evals]),
      trainingCostUsd: 1.5,
      dataFile: "heldout.jsonl",
    });
  } finally {
    await s.close();
  }
}
