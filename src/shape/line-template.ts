/**
 * Line templates: replies such as "TL;DR: ...\nNext step: ..." share a fixed sequence of line labels
 * while their content varies. A reply is reduced to its line skeleton (labels, bullets, numbered items,
 * headings, free text); the dominant skeleton of a set of replies is the template, and a reply matches
 * it when its skeleton is the same sequence.
 */

/** One element of a skeleton: "TL;DR:" (a label), "•+" (bullets), "#.+" (numbered items), "#" (heading), "text". */
export type LineSlot = string;

export interface LineTemplate {
  /** The slots in order, e.g. ["TL;DR:", "Next step:"]. */
  slots: LineSlot[];
  /** Share of the inferring replies whose skeleton is exactly this one. */
  share: number;
  /** How many replies it was inferred from. */
  support: number;
}

export interface TemplateMatch {
  ok: boolean;
  /** Why not, in words, when `ok` is false. */
  reason?: string;
}

// A label: 1-4 short words (letters, digits, a few joiners such as "TL;DR") ending in ":" and then a
// space or the end of the line. Times like "10:30" are not labels because a label starts with a letter.
const LABEL = /^\s*(?:[*_]{1,2})?(\p{L}[\p{L}\p{N};'&/().\-]*(?: [\p{L}\p{N};'&/().\-]+){0,3})(?:[*_]{1,2})?:(?:\s|$)/u;
const BULLET = /^\s*[-*•+]\s+\S/;
const NUMBERED = /^\s*\d{1,3}[.)]\s+\S/;
const HEADING = /^\s*#{1,6}\s+\S/;

/** Classifies one non-blank line. */
export function lineSlot(line: string): LineSlot {
  if (HEADING.test(line)) return "#";
  if (BULLET.test(line)) return "•+";
  if (NUMBERED.test(line)) return "#.+";
  const m = LABEL.exec(line);
  if (m && m[1].length <= 32) return m[1].replace(/\s+/g, " ") + ":";
  return "text";
}

/**
 * The skeleton of a reply: blank lines dropped; free-text lines right after a labelled line are its
 * continuation; runs of bullets (or numbered items, or free text) count once.
 */
export function lineSkeleton(text: string): LineSlot[] {
  const out: LineSlot[] = [];
  let prev: LineSlot | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === "") continue;
    const slot = lineSlot(raw);
    if (slot === "text" && prev !== undefined && prev.endsWith(":")) continue; // continuation of a label
    if (slot === prev && (slot === "•+" || slot === "#.+" || slot === "text")) continue;
    out.push(slot);
    prev = slot;
  }
  return out;
}

export function skeletonKey(slots: LineSlot[]): string {
  return slots.join("\u241E");
}

/** True when the skeleton has at least one labelled line: only then is it a template worth checking. */
export function hasLabels(slots: LineSlot[]): boolean {
  return slots.some((s) => s.endsWith(":"));
}

/**
 * Infers the line template of `replies`: the most common skeleton, when it has labels and at least
 * `minShare` (default 0.5) of the replies follow it. Undefined otherwise.
 */
export function inferLineTemplate(replies: string[], minShare = 0.5): LineTemplate | undefined {
  if (replies.length === 0) return undefined;
  const counts = new Map<string, { slots: LineSlot[]; n: number }>();
  for (const r of replies) {
    const slots = lineSkeleton(r);
    const key = skeletonKey(slots);
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { slots, n: 1 });
  }
  let best: { slots: LineSlot[]; n: number } | undefined;
  for (const c of counts.values()) if (!best || c.n > best.n) best = c;
  if (!best || !hasLabels(best.slots)) return undefined;
  const share = best.n / replies.length;
  if (share < minShare || best.n < 2) return undefined;
  return { slots: best.slots, share, support: replies.length };
}

function describe(slot: LineSlot | undefined): string {
  if (slot === undefined) return "nothing";
  if (slot === "•+") return "a bullet list";
  if (slot === "#.+") return "a numbered list";
  if (slot === "#") return "a heading";
  if (slot === "text") return "free text";
  return `a line starting "${slot}"`;
}

/** Checks `text` against `template`; the reason names the first slot that differs. */
export function matchLineTemplate(template: LineTemplate | { slots: LineSlot[] }, text: string): TemplateMatch {
  const got = lineSkeleton(text);
  const want = template.slots;
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (got[i] !== want[i]) {
      if (i >= want.length) return { ok: false, reason: `unexpected ${describe(got[i])} after the template's last line` };
      return { ok: false, reason: `expected ${describe(want[i])} as line ${i + 1}, got ${describe(got[i])}` };
    }
  }
  return { ok: true };
}

/** Template from a literal example such as "TL;DR: ...\nNext step: ..." (for a user-given format). */
export function lineTemplateFromExample(example: string): LineTemplate {
  return { slots: lineSkeleton(example), share: 1, support: 1 };
}
