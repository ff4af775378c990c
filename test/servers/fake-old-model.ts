/**
 * A stand-in for a retiring fine-tuned support model, for the README tour and by-hand tries of
 * `tunekit distill`: an OpenAI-compatible chat server (fake-chat.ts) that answers a ticket in the two
 * lines the examples use ("TL;DR: ..." / "Next step: ..."), built from the ticket's own words, except
 * that it answers some tickets in free prose, as real models sometimes do. Deterministic.
 *
 *   node --import tsx test/servers/fake-old-model.ts [PORT]     # prints its base URL
 */
import { startFakeChat, type ChatRequestBody } from "./fake-chat.js";

const NEXT_STEPS = [
  "Reply with your order number and the email used at checkout so I can look into it.",
  "Send me a screenshot of the message you see so I can check it against your account.",
  "Tell me which device and app version you use so I can reproduce the problem.",
];

export function oldSupportModel(body: ChatRequestBody): string {
  const ticket = String([...body.messages].reverse().find((m) => m.role === "user")?.content ?? "").trim();
  const sum = [...ticket].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7);
  const first = ticket.split(/(?<=[.!?])\s/)[0].replace(/[.!?]+$/, "");
  if (sum % 13 === 0) return `Thanks for reaching out! ${first}. I'll look into it and get back to you.`;
  return `TL;DR: ${first}.\nNext step: ${NEXT_STEPS[sum % NEXT_STEPS.length]}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = process.argv[2] ? Number(process.argv[2]) : undefined;
  const s = await startFakeChat({ reply: oldSupportModel, ...(port !== undefined ? { port } : {}), ...(process.env.FAKE_API_KEY ? { apiKey: process.env.FAKE_API_KEY } : {}) });
  console.log(s.baseUrl);
}
