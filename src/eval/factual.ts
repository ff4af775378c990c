/**
 * Factual accuracy for question-answer items: the specifics a reference states (amounts, percentages,
 * durations, dates, emails, URLs, plain numbers, named entities) must appear in the reply, and the
 * reply must not state a different specific of the same kind ("14 days" where the reference says
 * "30 days"). Items whose reference has no specifics are not scored (null).
 */

export type SpecificKind = "money" | "percent" | "duration" | "date" | "email" | "url" | "number" | "entity";

export interface Specific {
  kind: SpecificKind;
  /** Canonical value used for comparison, e.g. "usd:29.99", "days:30", "2024-03-05". */
  value: string;
  /** The text as written. */
  text: string;
}

const MONTHS = [
  "january", "february", "march", "april", "may", "june",
  "july", "august", "september", "october", "november", "december",
];
const MONTH_RE = "(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
const NUM = "(\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.(\\d+))?";
const WORD_NUMBERS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, fourteen: 14, fifteen: 15, twenty: 20, thirty: 30, sixty: 60, ninety: 90,
};
const UNIT_CANON: Record<string, string> = {
  second: "seconds", sec: "seconds", minute: "minutes", min: "minutes", hour: "hours", hr: "hours",
  day: "days", week: "weeks", month: "months", year: "years", yr: "years",
  "business day": "business days", "working day": "business days",
};
const CURRENCY: Record<string, string> = { $: "usd", "€": "eur", "£": "gbp", usd: "usd", eur: "eur", gbp: "gbp", dollars: "usd", euros: "eur", pounds: "gbp" };

function numValue(intPart: string, frac: string | undefined): string {
  const v = Number(intPart.replace(/,/g, "") + (frac ? `.${frac}` : ""));
  return String(v);
}

function monthIndex(name: string): number {
  const k = name.toLowerCase().slice(0, 3);
  return MONTHS.findIndex((m) => m.startsWith(k)) + 1;
}

const pad = (n: number | string) => String(n).padStart(2, "0");

/** Common words that start sentences or are capitalised without naming anything. */
const NOT_ENTITIES = new Set(
  "i a an the this that these those it its our your my we you they he she yes no if when what which who why how please thanks thank hi hello dear next tl;dr step note also but and or so for to in on at of by with from as is are was were be can will would should could may might do does did not all any each every some there here then ask contact call email visit reply send check see go try use write sorry sure great unfortunately".split(" "),
);

/**
 * Pulls the specifics out of a text. Spans already claimed by a more specific kind (an amount, a
 * date) are not counted again as plain numbers.
 */
export function extractSpecifics(text: string): Specific[] {
  const out: Specific[] = [];
  const taken: [number, number][] = [];
  const free = (s: number, e: number) => taken.every(([a, b]) => e <= a || s >= b);
  const add = (kind: SpecificKind, value: string, m: RegExpExecArray, matched = m[0]) => {
    if (!free(m.index, m.index + matched.length)) return;
    taken.push([m.index, m.index + matched.length]);
    out.push({ kind, value, text: matched.trim() });
  };
  const scan = (re: RegExp, fn: (m: RegExpExecArray) => void) => {
    for (const m of text.matchAll(re)) fn(m as RegExpExecArray);
  };

  scan(/[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, (m) => add("email", m[0].toLowerCase(), m));
  scan(/\bhttps?:\/\/[^\s)>\]"']+/gi, (m) => {
    const url = m[0].replace(/[.,;:]+$/, "");
    add("url", url.toLowerCase(), m, url);
  });
  // ISO dates, "March 5, 2024", "5 March 2024", "March 2024".
  scan(/\b(\d{4})-(\d{2})-(\d{2})\b/g, (m) => add("date", `${m[1]}-${m[2]}-${m[3]}`, m));
  scan(new RegExp(`\\b${MONTH_RE}\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?(?:,?\\s+(\\d{4}))?\\b`, "gi"), (m) =>
    add("date", `${m[3] ?? "????"}-${pad(monthIndex(m[1]))}-${pad(m[2])}`, m),
  );
  scan(new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+(?:of\\s+)?${MONTH_RE}\\.?(?:,?\\s+(\\d{4}))?\\b`, "gi"), (m) =>
    add("date", `${m[3] ?? "????"}-${pad(monthIndex(m[2]))}-${pad(m[1])}`, m),
  );
  scan(new RegExp(`\\b${MONTH_RE}\\s+(\\d{4})\\b`, "gi"), (m) => add("date", `${m[2]}-${pad(monthIndex(m[1]))}`, m));
  // Money: "$29.99", "€5", "29.99 USD", "40 dollars".
  scan(new RegExp(`([$€£])\\s?${NUM}`, "g"), (m) => add("money", `${CURRENCY[m[1]]}:${numValue(m[2], m[3])}`, m));
  scan(new RegExp(`\\b${NUM}\\s?(usd|eur|gbp|dollars|euros|pounds)\\b`, "gi"), (m) =>
    add("money", `${CURRENCY[m[3].toLowerCase()]}:${numValue(m[1], m[2])}`, m),
  );
  scan(new RegExp(`\\b${NUM}\\s?(%|percent\\b)`, "gi"), (m) => add("percent", numValue(m[1], m[2]), m));
  // Durations: "30 days", "thirty days", "2 business days", "24-hour".
  const unit = "(business day|working day|second|sec|minute|min|hour|hr|day|week|month|year|yr)s?";
  scan(new RegExp(`\\b${NUM}[\\s-]?${unit}\\b`, "gi"), (m) =>
    add("duration", `${UNIT_CANON[m[3].toLowerCase()]}:${numValue(m[1], m[2])}`, m),
  );
  scan(new RegExp(`\\b(${Object.keys(WORD_NUMBERS).join("|")})[\\s-]${unit}\\b`, "gi"), (m) =>
    add("duration", `${UNIT_CANON[m[2].toLowerCase()]}:${WORD_NUMBERS[m[1].toLowerCase()]}`, m),
  );
  // Plain numbers (times like 9:30 and versions included as written).
  scan(/(?<![\w.])\d+(?::\d{2}|(?:[.,]\d+)+)?(?![\w])/g, (m) => {
    const v = /^\d{1,3}(,\d{3})+$/.test(m[0]) ? m[0].replace(/,/g, "") : m[0];
    add("number", v.includes(":") ? v : String(Number.isNaN(Number(v)) ? v : Number(v)), m);
  });
  // Named entities: runs of capitalised words not at the start of a sentence, or multi-word runs.
  // Line labels ("TL;DR:", "Next step:") are format, not facts: blank them out for the entity scan.
  const unlabelled = text.replace(/^([ \t]*)([^:\n]{1,32}):(?=\s|$)/gm, (_m, sp: string, label: string) => sp + " ".repeat(label.length + 1));
  for (const m of unlabelled.matchAll(/\b[A-Z][\w&'-]*(?:\s+(?:of\s+|de\s+)?[A-Z][\w&'-]*)*/g)) {
    const words = m[0].split(/\s+/);
    const before = unlabelled.slice(0, m.index).trimEnd();
    const sentenceStart = before === "" || /[.!?:\n]$/.test(before);
    if (words.length === 1 && (sentenceStart || NOT_ENTITIES.has(words[0].toLowerCase()))) continue;
    // Drop leading common words ("The Acme Store" -> "Acme Store").
    while (words.length > 1 && NOT_ENTITIES.has(words[0].toLowerCase())) words.shift();
    if (words.length === 1 && (NOT_ENTITIES.has(words[0].toLowerCase()) || (sentenceStart && m[0] === words[0]))) continue;
    add("entity", words.join(" ").toLowerCase(), m as RegExpExecArray);
  }
  return out;
}

export interface FactualResult {
  /** 1 when every expected specific is present and none contradicted, else 0; null when not applicable. */
  score: number | null;
  expected: Specific[];
  missing: Specific[];
  contradicting: Specific[];
}

/** Kinds whose differing values in a reply contradict the reference (entities only need presence). */
const CONTRADICTABLE: SpecificKind[] = ["money", "percent", "duration", "date", "email", "url", "number"];

function durationUnit(value: string): string {
  return value.split(":")[0];
}

export function factualAccuracy(prediction: string, reference: string): FactualResult {
  const expected = dedupe(extractSpecifics(reference));
  if (expected.length === 0) return { score: null, expected, missing: [], contradicting: [] };
  const got = dedupe(extractSpecifics(prediction));
  const gotKeys = new Set(got.map((s) => `${s.kind}|${s.value}`));
  const lowerPred = prediction.toLowerCase();
  const missing = expected.filter((s) => {
    if (gotKeys.has(`${s.kind}|${s.value}`)) return false;
    // A specific may be present in another form (an entity inside a longer run, a number inside an amount).
    if (s.kind === "entity") return !lowerPred.includes(s.value);
    if (s.kind === "number") return !got.some((g) => g.value.split(":").pop() === s.value);
    return true;
  });
  const expectedKeys = new Set(expected.map((s) => `${s.kind}|${s.value}`));
  const expectedValues = new Set(expected.map((s) => s.value.split(":").pop()));
  const contradicting = got.filter((g) => {
    if (!CONTRADICTABLE.includes(g.kind) || expectedKeys.has(`${g.kind}|${g.value}`)) return false;
    const sameKind = expected.filter((s) => s.kind === g.kind);
    if (sameKind.length === 0) return false;
    // Durations contradict only in the same unit ("14 days" vs "30 days", not "2 hours").
    if (g.kind === "duration") return sameKind.some((s) => durationUnit(s.value) === durationUnit(g.value));
    if (g.kind === "number") return !expectedValues.has(g.value);
    return true;
  });
  return { score: missing.length === 0 && contradicting.length === 0 ? 1 : 0, expected, missing, contradicting };
}

function dedupe(xs: Specific[]): Specific[] {
  const seen = new Set<string>();
  return xs.filter((s) => {
    const k = `${s.kind}|${s.value}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
