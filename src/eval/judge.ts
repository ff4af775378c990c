/**
 * LLM-as-judge: a model behind any endpoint grades each reply against a rubric on a 1-5 scale and
 * explains why. The reasoning is kept in the results; the score is scaled to 0..1.
 */
import type { ChatMessage } from "../dataset/types.js";
import type { GenerationParams, ModelRunner } from "./runner/types.js";

export interface JudgeVerdict {
  /** 0..1 ((score - 1) / 4), null when the judge failed or gave no score. */
  score: number | null;
  /** The raw 1-5 score. */
  raw: number | null;
  reasoning: string;
  error?: string;
}

export function judgePrompt(rubric: string, question: string, reference: string, reply: string): ChatMessage[] {
  return [
    {
      role: "system",
      content:
        "You grade a reply written by an AI assistant. Follow the rubric strictly. Answer with a JSON object only: " +
        '{"reasoning": "<two or three sentences>", "score": <integer 1-5>} where 5 is best.',
    },
    {
      role: "user",
      content: `Rubric:\n${rubric.trim()}\n\n<question>\n${question}\n</question>\n\n<reference_reply>\n${reference}\n</reference_reply>\n\n<reply_to_grade>\n${reply}\n</reply_to_grade>`,
    },
  ];
}

/** Reads the judge's answer: a JSON object, or failing that a "score: N" line. */
export function parseJudgeReply(text: string): { raw: number | null; reasoning: string } {
  const m = /\{[\s\S]*\}/.exec(text);
  if (m) {
    try {
      const o = JSON.parse(m[0]) as { score?: unknown; reasoning?: unknown };
      const s = Number(o.score);
      if (Number.isFinite(s) && s >= 1 && s <= 5) return { raw: s, reasoning: String(o.reasoning ?? "").trim() };
    } catch {
      // fall through to the plain-text form
    }
  }
  const s = /score\W{0,3}([1-5])\b/i.exec(text);
  return { raw: s ? Number(s[1]) : null, reasoning: text.trim() };
}

export async function judgeReply(
  judge: ModelRunner,
  rubric: string,
  question: string,
  reference: string,
  reply: string,
  params: GenerationParams = { temperature: 0, maxTokens: 400 },
): Promise<JudgeVerdict> {
  const g = await judge.generate(judgePrompt(rubric, question, reference, reply), params);
  if (g.error) return { score: null, raw: null, reasoning: "", error: g.error };
  const { raw, reasoning } = parseJudgeReply(g.text);
  return { score: raw === null ? null : (raw - 1) / 4, raw, reasoning };
}
