/**
 * Generates the validate benchmark's chat JSONL: varied support-style conversations over a large
 * synthetic vocabulary (Zipf-distributed words, so token counting, duplicate detection and shape
 * analysis see text with realistic statistics rather than a handful of repeated words).
 */
import { createWriteStream, existsSync, renameSync, statSync } from "node:fs";
import { once } from "node:events";

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const SYLLABLES = "ka lo mi ne ra su te vo pa de gi ho ju ba ce fi la mo nu ri sa to vi we xa yo ze an el in or un st tr pl br gr".split(" ");
const COMMON = "the a to and of in is it you that for on with this my your can we be have are not order account please help when after".split(" ");

export async function generateChatJsonl(path: string, targetBytes: number, seed = 7): Promise<void> {
  if (existsSync(path) && statSync(path).size >= targetBytes * 0.98) return;
  const rand = rng(seed);
  const vocab: string[] = [...COMMON];
  while (vocab.length < 20000) {
    const n = 1 + Math.floor(rand() * 3);
    let w = "";
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    vocab.push(w);
  }
  // Zipf-like: index = floor(V^u) - 1 gives frequent short words and a long tail.
  const word = () => vocab[Math.min(vocab.length - 1, Math.floor(Math.pow(vocab.length, rand())) - 1)];
  const sentence = (n: number) => {
    const w: string[] = [];
    for (let i = 0; i < n; i++) w.push(word());
    const s = w.join(" ");
    return s.charAt(0).toUpperCase() + s.slice(1) + ".";
  };
  const para = (sentences: number) => Array.from({ length: sentences }, () => sentence(6 + Math.floor(rand() * 14))).join(" ");
  const systems = ["You are a support assistant. Reply as TL;DR and Next step.", "You are a helpful assistant for an online shop.", "Answer briefly and politely."];
  const tmp = `${path}.tmp-${process.pid}`;
  const out = createWriteStream(tmp);
  let bytes = 0;
  let n = 0;
  while (bytes < targetBytes) {
    const turns = rand() < 0.8 ? 1 : 2 + Math.floor(rand() * 3);
    const messages: { role: string; content: string }[] = [{ role: "system", content: systems[n % systems.length] }];
    for (let t = 0; t < turns; t++) {
      messages.push({ role: "user", content: `Order ${10000 + Math.floor(rand() * 90000)}: ${para(1 + Math.floor(rand() * 4))}` });
      messages.push({ role: "assistant", content: `TL;DR: ${sentence(8 + Math.floor(rand() * 8))}\nNext step: ${sentence(6 + Math.floor(rand() * 8))}` });
    }
    const line = JSON.stringify({ messages }) + "\n";
    bytes += Buffer.byteLength(line);
    n++;
    if (!out.write(line)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  renameSync(tmp, path);
}
