/**
 * Fact-injection detection: does an assistant reply assert specifics (numbers, prices, dates,
 * durations, names, contact details, URLs, versions, policies) that the conversation before it does not
 * supply? Such an example teaches a fact rather than a behaviour, and the fact belongs in retrieval.
 * A reply that quotes, extracts, reformats or computes from what the prompt gives is behaviour: every
 * specific is checked against the system/user/tool content (and earlier turns), with numbers also
 * accepted when one arithmetic step from given numbers (sums, differences, percentages, unit factors)
 * produces them.
 */
import { contentText, type ChatExample } from "../types.js";
import { guessLanguage } from "../../shape/language.js";

export type SpecificKind =
  | "price"
  | "percent"
  | "date"
  | "time"
  | "duration"
  | "quantity"
  | "number"
  | "email"
  | "phone"
  | "url"
  | "version"
  | "id"
  | "name"
  | "policy";

export interface FactSpan {
  /** Index of the assistant message in `messages`. */
  message: number;
  /** Character offsets into that message's text. */
  start: number;
  end: number;
  text: string;
  kind: SpecificKind;
}

export interface FactCheck {
  /** Unsupported specifics, in reply order. */
  spans: FactSpan[];
  /** Sum of span weights: strong specifics count 1, names and bare numbers less. */
  score: number;
  /** True when the example teaches facts (score >= 1). */
  injects: boolean;
}

const WEIGHT: Record<SpecificKind, number> = {
  price: 1,
  percent: 1,
  date: 1,
  time: 1,
  duration: 1,
  quantity: 1,
  number: 0.5,
  email: 1,
  phone: 1,
  url: 1,
  version: 1,
  id: 0.6,
  name: 0.5,
  policy: 1,
};

const NUMBER_WORDS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18,
  nineteen: 19, twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
  hundred: 100, thousand: 1000, half: 0.5, dozen: 12, single: 1, double: 2, twice: 2, once: 1,
};
const NUM_WORD = "(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)";
const NUM = "\\d[\\d,]*(?:\\.\\d+)?";
const MONTH = "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
const WEEKDAY = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?";
const DUR_UNIT = "(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|months?|years?|yrs?|business days?|working days?|calendar days?|business hours?|working hours?)";
const QTY_UNIT =
  "(?:million|billion|trillion|thousand|kg|g|mg|lbs?|pounds|oz|ounces|km|cm|mm|m|miles?|meters?|metres?|feet|ft|inches|in\\b|gb|mb|tb|kb|ghz|mhz|mah|kwh|w|watts?|volts?|v|°\\s?[cf]|degrees|mph|km/h|kph|calories|kcal|mg/dl|users|seats|licenses|licences|devices|requests|calls|messages|credits|points|people|guests|employees|items|units|pages|words|characters|tokens|rooms|floors|beds|servings|cups|tbsp|tsp|ml|l|liters?|litres?|gallons?)";

interface Pattern {
  kind: SpecificKind;
  re: RegExp;
  /** Only worth running when the text has a digit (most replies of a behaviour set have none). */
  digits?: boolean;
}

// Order matters: earlier patterns win overlaps (an email is not also a URL, a price not also a number).
const PATTERNS: Pattern[] = [
  { kind: "email", re: /\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/g },
  { kind: "url", re: /\bhttps?:\/\/[^\s<>()"'`]+|\bwww\.[^\s<>()"'`]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|ai|co|gov|edu|app|info|biz|us|uk|de)(?:\/[^\s<>()"'`]*)?(?![\w.])/gi },
  { kind: "phone", digits: true, re: /(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\b\d{1,4}[\s.-])?\d{3,4}[\s.-]\d{3,4}(?:[\s.-]\d{2,4})?\b/g },
  { kind: "version", digits: true, re: /\bv?\d+\.\d+\.\d+(?:[-.][\w.]+)?\b|\bv\d+(?:\.\d+)?\b|\bversion\s+\d+(?:\.\d+)*\b/gi },
  { kind: "date", re: new RegExp(`\\b${MONTH}\\.?\\s+\\d{1,2}(?:st|nd|rd|th)?(?:,?\\s+\\d{4})?\\b|\\b\\d{1,2}(?:st|nd|rd|th)?\\s+(?:of\\s+)?${MONTH}\\b(?:,?\\s+\\d{4})?|\\b${MONTH}\\s+\\d{4}\\b|\\b\\d{1,2}(?:st|nd|rd|th)\\s+(?:of\\s+)?(?:each|every|the|this|next)\\s+month\\b|\\bthe\\s+\\d{1,2}(?:st|nd|rd|th)\\b|\\b\\d{4}-\\d{2}-\\d{2}\\b|\\b\\d{1,2}\\/\\d{1,2}\\/\\d{2,4}\\b|\\b(?:19|20)\\d{2}\\b|\\b${WEEKDAY}\\b`, "gi") },
  { kind: "time", digits: true, re: /\b\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?!\w)|\b\d{1,2}:\d{2}\b|\bnoon\b|\bmidnight\b/gi },
  { kind: "price", digits: true, re: new RegExp(`(?:[$€£¥₹]|\\b(?:usd|eur|gbp|cad|aud)\\s?)\\s?${NUM}(?:\\s?(?:k|m|bn|million|billion)\\b)?|\\b${NUM}\\s?(?:dollars|euros|pounds sterling|usd|eur|gbp|cents|bucks)\\b|\\bfree of charge\\b`, "gi") },
  { kind: "percent", digits: true, re: new RegExp(`\\b${NUM}\\s?(?:%|percent\\b|per cent\\b)`, "gi") },
  { kind: "duration", re: new RegExp(`\\b(?:${NUM}|${NUM_WORD})(?:\\s?(?:-|–|to|or)\\s?(?:${NUM}|${NUM_WORD}))?[\\s-]+${DUR_UNIT}\\b|\\b(?:24/7|overnight|same[- ]day|next[- ]day)\\b`, "gi") },
  { kind: "quantity", digits: true, re: new RegExp(`\\b${NUM}(?:\\s?(?:-|–|to)\\s?${NUM})?\\s?${QTY_UNIT}(?![\\w/])`, "gi") },
  { kind: "id", digits: true, re: /\b[A-Z]{2,}[-_#]?\d{3,}\b|#\d{3,}\b/g },
  { kind: "number", digits: true, re: new RegExp(`(?<![\\w.])${NUM}(?![\\w])`, "g") },
  {
    kind: "policy",
    re: /\b(?:our|the|this|your)\s+(?:refund|return|returns|cancellation|warranty|guarantee|shipping|delivery|privacy|exchange|trial|pricing|billing|data retention|retention|late fee|overdraft|membership|loyalty|price match|price-match|rescheduling|booking|pet|baggage|luggage|check-in|check-out|parking|visitor|attendance|leave|vacation|overtime|expense|travel|security)\s+(?:policy|window|period|terms|rules|fee|limit|allowance)\b[^.\n]*|\bwe\s+(?:do not|don't|never|always|only)?\s*(?:offer|provide|accept|ship|deliver|charge|refund|allow|guarantee|cover|support|waive|match)\b[^.\n]*|\b(?:is|are)\s+(?:non-refundable|fully refundable|refundable|free|not covered|covered|included at no|waived|not eligible|eligible)\b[^.\n]*|\b(?:is|are|will be|won't be|cannot be|can't be)\s+(?:not\s+)?(?:refunded|prorated|reimbursed|credited|waived)\b[^.\n]*/gi,
  },
];

// Capitalised words that are not names (sentence-openers, UI words, template labels, greetings).
const NOT_NAMES = new Set(
  (
    "I I'm I've I'll I'd Im Hi Hello Hey Dear Thanks Thank Please Sorry Yes No Ok OK Okay Sure Great Good Note " +
    "The A An This That These Those It Its If When Then Also However But And Or So For To In On At By With From " +
    "Here There What Why How Who Where Which You Your We Our They Their He She His Her Let Just Unfortunately " +
    "Alternatively Additionally Finally First Second Third Next Step Steps Summary Answer Question Reply TL DR Regards " +
    "Best Kind Sincerely Cheers Subject Re Fwd Customer Agent User Assistant Support Team Settings Account Profile " +
    "Billing Dashboard Home Menu Help Save Cancel Submit Login Logout Sign Click Open Go Select Choose Enter Type " +
    "Use Check Try Make Take Keep Add Remove Update Contact Call Email Visit Follow Read Review Confirm Reset " +
    "True False Null None JSON API URL FAQ CSV PDF ID OS App Web Mobile Monday Tuesday Wednesday Thursday Friday " +
    "Saturday Sunday January February March April May June July August September October November December " +
    "Mr Mrs Ms Dr Prof Inc Ltd LLC Co Corp Order Ticket Invoice Priority High Low Medium Urgent Status Category " +
    "Positive Negative Neutral Title Name Date Time Total Price Amount Sentiment Label Result Output Input Example"
  ).split(" "),
);

const NAME_RE = /\b[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?(?:\s+(?:[A-Z][a-z]+|[A-Z]\.|(?:de|van|von|da|del|la|le|of|the)\s+[A-Z][a-z]+))*/g;

/** Numeric values mentioned in a text (digits and number words), for support checks. */
function numbersIn(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/\d[\d,]*(?:\.\d+)?/g)) {
    const raw = m[0].replace(/,(?=\d{3}\b)/g, "").replace(/,/g, "");
    const v = Number(raw);
    if (Number.isFinite(v)) out.push(v);
  }
  // "27:30" (minutes:seconds or hours:minutes) also as 27.5, so paces and durations can be derived.
  for (const m of text.matchAll(/\b(\d{1,3}):([0-5]\d)\b/g)) out.push(+m[1] + +m[2] / 60);
  for (const m of text.toLowerCase().matchAll(/\b[a-z]+\b/g)) {
    const v = NUMBER_WORDS[m[0]];
    if (v !== undefined) out.push(v);
  }
  return out;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** "March 5, 2024" / "5 March" / "2024-03-05" / "3/5/2024" -> "m3d5" keys (both d/m orders for slashes). */
function dateKeys(text: string): string[] {
  const keys: string[] = [];
  const t = text.toLowerCase();
  for (const m of t.matchAll(new RegExp(`\\b(${MONTH})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?\\b`, "g"))) keys.push(`m${MONTHS.indexOf(m[1].slice(0, 3)) + 1}d${+m[2]}`);
  for (const m of t.matchAll(new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+(?:of\\s+)?(${MONTH})\\b`, "g"))) keys.push(`m${MONTHS.indexOf(m[2].slice(0, 3)) + 1}d${+m[1]}`);
  for (const m of t.matchAll(/\b\d{4}-(\d{2})-(\d{2})\b/g)) keys.push(`m${+m[1]}d${+m[2]}`);
  for (const m of t.matchAll(/\b(\d{1,2})\/(\d{1,2})(?:\/\d{2,4})?\b/g)) keys.push(`m${+m[1]}d${+m[2]}`, `m${+m[2]}d${+m[1]}`);
  for (const m of t.matchAll(new RegExp(`\\b(${MONTH})\\b`, "g"))) keys.push(`m${MONTHS.indexOf(m[1].slice(0, 3)) + 1}`);
  return keys;
}

/** Calendar dates (UTC ms) written in a text, with the year when given (else a leap-free default). */
function datesIn(text: string): number[] {
  const out: number[] = [];
  const t = text.toLowerCase();
  const year = (y: string | undefined) => (y ? +y : 2001);
  for (const m of t.matchAll(new RegExp(`\\b(${MONTH})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?(?:,?\\s+(\\d{4}))?`, "g"))) out.push(Date.UTC(year(m[3]), MONTHS.indexOf(m[1].slice(0, 3)), +m[2]));
  for (const m of t.matchAll(new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+(?:of\\s+)?(${MONTH})\\b(?:,?\\s+(\\d{4}))?`, "g"))) out.push(Date.UTC(year(m[3]), MONTHS.indexOf(m[2].slice(0, 3)), +m[1]));
  for (const m of t.matchAll(/\b(\d{4})-(\d{2})-(\d{2})\b/g)) out.push(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return out;
}

/** A date that is a context date plus or minus a number of days or weeks the context gives. */
function dateShifted(text: string, ctx: Context): boolean {
  const targets = datesIn(text);
  if (targets.length === 0) return false;
  const bases = datesIn(ctx.text);
  const day = 86_400_000;
  for (const target of targets) {
    for (const base of bases) {
      const diff = Math.round(Math.abs(target - base) / day);
      if (diff === 0) return true;
      if (ctx.hasNumber(diff) || (diff % 7 === 0 && ctx.hasNumber(diff / 7))) return true;
    }
  }
  return false;
}

/** What the conversation before a reply supplies, prepared once per reply. */
class Context {
  readonly lower: string;
  readonly compact: string;
  readonly digits: string;
  private nums?: number[];
  private numSet?: Set<number>;
  private dates?: Set<string>;
  constructor(readonly text: string) {
    this.lower = text.toLowerCase();
    this.compact = this.lower.replace(/[^\p{L}\p{N}@.]+/gu, "");
    this.digits = text.replace(/\D+/g, " ");
  }
  numbers(): number[] {
    this.nums ??= numbersIn(this.text);
    return this.nums;
  }
  /** Numbers the reply itself derived (an intermediate result may feed the next step). */
  addNumbers(vals: number[]): void {
    const ns = this.numbers();
    for (const v of vals) {
      ns.push(v);
      this.numSet?.add(Math.round(v * 1000) / 1000);
    }
  }
  hasNumber(v: number): boolean {
    this.numSet ??= new Set(this.numbers().map((x) => Math.round(x * 1000) / 1000));
    return this.numSet.has(Math.round(v * 1000) / 1000);
  }
  hasDate(key: string): boolean {
    this.dates ??= new Set(dateKeys(this.text));
    return this.dates.has(key);
  }
}

// Factors a reply may apply to given numbers without teaching anything (unit conversions, percent).
const FACTORS = [7, 10, 12, 24, 30, 52, 60, 100, 365, 1000, 1024, 2.20462, 1.60934, 2.54, 0.3048, 3.78541, 0.453592, 0.621371, 28.3495];

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(0.011, Math.abs(b) * 0.006);
}

/** Is `v` one arithmetic step (or a known unit factor) away from numbers the context gives? */
function derivable(v: number, ctx: Context): boolean {
  if (ctx.hasNumber(v)) return true;
  const ns = ctx.numbers().slice(0, 80);
  if (ns.length === 0) return false;
  let total = 0;
  for (const a of ns) {
    total += a;
    if (close(Math.round(a), v) || close(Math.round(a * 100) / 100, v)) return true;
    for (const f of FACTORS) if (close(a * f, v) || close(a / f, v)) return true;
  }
  if (close(total, v) || close(total / ns.length, v)) return true;
  for (let i = 0; i < ns.length; i++) {
    const a = ns[i];
    for (let j = 0; j < ns.length; j++) {
      if (i === j) continue;
      const b = ns[j];
      if (close(a + b, v) || close(a - b, v) || close(a * b, v) || (b !== 0 && close(a / b, v))) return true;
      if (close((a * b) / 100, v) || (b !== 0 && close(((a - b) / b) * 100, v)) || close(a * (1 - b / 100), v) || close(a * (1 + b / 100), v)) return true;
      if (b !== 0 && close((a / b) * 100, v)) return true;
    }
  }
  // Two steps over small prompts: (a op b) op c, e.g. 2,400 + 1,100 - 650, 300 x 6 / 4, (18 - 15) x 2 + 25,
  // and sums of two products (2 x 3.50 + 2 x 4.75).
  if (ns.length <= 12) {
    const terms: number[] = [...ns];
    for (let i = 0; i < ns.length; i++) {
      for (let j = 0; j < ns.length; j++) {
        if (i === j) continue;
        const a = ns[i];
        const b = ns[j];
        terms.push(a - b, a * b);
        if (b !== 0) terms.push(a / b);
        if (i < j) terms.push(a + b);
      }
    }
    for (const t of terms) {
      for (const c of ns) {
        if (close(t + c, v) || close(t - c, v) || close(t * c, v) || (c !== 0 && close(t / c, v))) return true;
      }
    }
    const products = ns.length <= 8 ? terms : [];
    for (let i = 0; i < products.length; i++) for (let j = i + 1; j < products.length; j++) if (close(products[i] + products[j], v)) return true;
  }
  return false;
}

const STOP = new Set(
  "a an the and or but of to in on at by for with from is are was were be been this that these those it its we our you your they their our us can will may must not no do does don't within after before up all any each per".split(" "),
);

function contentWordsSupported(span: string, ctx: Context): boolean {
  const words = (span.toLowerCase().match(/\p{L}{3,}/gu) ?? []).filter((w) => !STOP.has(w));
  if (words.length === 0) return true;
  let hit = 0;
  for (const w of words) if (ctx.lower.includes(w.length > 5 ? w.slice(0, w.length - 2) : w)) hit++;
  return hit / words.length >= 0.6;
}

function normUrl(s: string): string {
  return s.toLowerCase().replace(/^https?:\/\//, "").replace(/^www\./, "").replace(/[/.,;:!?]+$/, "");
}

function spanSupported(kind: SpecificKind, text: string, ctx: Context): boolean {
  const lower = text.toLowerCase();
  if (ctx.lower.includes(lower)) return true;
  switch (kind) {
    case "email":
      return ctx.lower.includes(lower);
    case "url":
      return ctx.compact.includes(normUrl(text).replace(/[^\p{L}\p{N}@.]+/gu, ""));
    case "phone": {
      const d = text.replace(/\D/g, "");
      return ctx.text.replace(/\D/g, "").includes(d.slice(-7));
    }
    case "id":
      return ctx.compact.includes(lower.replace(/[^\p{L}\p{N}]/gu, ""));
    case "name": {
      const parts = lower.split(/[\s-]+/).filter((p) => p.length > 1 && !STOP.has(p));
      return parts.length > 0 && parts.every((p) => ctx.lower.includes(p.replace(/'s$/, "")));
    }
    case "policy":
      return contentWordsSupported(text, ctx) && numbersIn(text).every((v) => derivable(v, ctx));
    case "date": {
      if (/^\d{4}$/.test(text)) return ctx.hasNumber(+text);
      if (new RegExp(`^${WEEKDAY}$`, "i").test(text)) return ctx.lower.includes(lower.replace(/s$/, "")) || ctx.lower.includes("weekday");
      const keys = dateKeys(text);
      if (keys.length === 0) return numbersIn(text).every((v) => derivable(v, ctx));
      const days = keys.filter((k) => k.includes("d"));
      const needed = days.length > 0 ? days : keys;
      const dayOk = needed.length === 0 || needed.some((k) => ctx.hasDate(k)) || dateShifted(text, ctx);
      const years = (text.match(/\b(?:19|20)\d{2}\b/g) ?? []).map(Number);
      return dayOk && years.every((y) => ctx.hasNumber(y));
    }
    case "time": {
      if (/noon|midnight/i.test(text)) return ctx.lower.includes(lower);
      const m = /(\d{1,2})(?::(\d{2}))?\s?(a|p)?/i.exec(text);
      if (!m) return false;
      let h = +m[1];
      const min = m[2] ?? "00";
      if (m[3]?.toLowerCase() === "p" && h < 12) h += 12;
      const h12 = h % 12 === 0 ? 12 : h % 12;
      const candidates = [`${h}:${min}`, `${h12}:${min}`, `${String(h).padStart(2, "0")}:${min}`];
      if (candidates.some((c) => ctx.lower.includes(c))) return true;
      // A time shifted from a given time by a given number of minutes or hours (boarding 20 minutes before 18:40).
      const minutes = h * 60 + +min;
      for (const t of ctx.text.matchAll(/\b(\d{1,2}):(\d{2})\s?(am|pm|a\.m\.|p\.m\.)?/gi)) {
        let th = +t[1];
        if (t[3] && /^p/i.test(t[3]) && th < 12) th += 12;
        const diff = Math.abs(th * 60 + +t[2] - minutes);
        if (diff > 0 && (ctx.hasNumber(diff) || (diff % 60 === 0 && ctx.hasNumber(diff / 60)))) return true;
      }
      // A clock-like value the reply computed (a pace of 5:30 per km from 27:30 over 5 km).
      if (!m[3] && derivable(+m[1] + +min / 60, ctx)) return true;
      return min === "00" && new RegExp(`\\b${h12}\\s?(?:${h >= 12 ? "pm|p\\.m\\." : "am|a\\.m\\."})`, "i").test(ctx.text);
    }
    default: {
      // Numbers with or without units: every number in the span must be given or derived.
      if (/free of charge|24\/7|overnight|same[- ]day|next[- ]day/i.test(text)) return ctx.lower.includes(lower.replace(/-/g, " ")) || ctx.lower.includes(lower);
      const vals = numbersIn(text);
      if (vals.length === 0) return contentWordsSupported(text, ctx);
      const scaled = /\b(k)\b/i.test(text) ? vals.map((v) => v * 1000) : /million|\bm\b/i.test(text) ? vals.map((v) => v * 1e6) : vals;
      return scaled.every((v, i) => derivable(v, ctx) || derivable(vals[i], ctx));
    }
  }
}

/** Bare numbers that carry no knowledge: list markers, small counts, step numbers. */
function trivialNumber(text: string, reply: string, start: number): boolean {
  const v = Number(text.replace(/,/g, ""));
  if (!Number.isFinite(v)) return true;
  if (Number.isInteger(v) && v <= 12) return true;
  const lineStart = reply.lastIndexOf("\n", start - 1) + 1;
  if (/^\s*$/.test(reply.slice(lineStart, start)) && /^[.)]/.test(reply.slice(start + text.length))) return true;
  return false;
}

const SKIPPED = new Set([" ", "\t", "\r", "*", "_", "#", ">", "-", "•", '"', "'", "(", "["]);
const ENDERS = new Set([".", "!", "?", ":", ";", "\n"]);
const isSpace = (c: string | undefined) => c === undefined || c === " " || c === "\t" || c === "\n" || c === "\r";

/** Is `start` the first word of a sentence, list item or heading (markdown markers skipped)? */
function sentenceStartAt(reply: string, start: number): boolean {
  let i = start - 1;
  while (i >= 0 && (SKIPPED.has(reply[i]) || reply[i] === "\n")) {
    if (reply[i] === "\n") return true;
    // An inline list marker (" - ", " • ", " * ") starts an item even mid-line.
    if ((reply[i] === "-" || reply[i] === "•" || reply[i] === "*") && isSpace(reply[i - 1]) && isSpace(reply[i + 1])) return true;
    i--;
  }
  while (i > 0 && reply.charCodeAt(i) >= 48 && reply.charCodeAt(i) <= 57 && isSpace(reply[i - 1])) i--;
  return i < 0 || ENDERS.has(reply[i]);
}

const CONNECTOR = /^(?:de|van|von|da|del|la|le|of|the)$/;

/** Candidate specifics of one reply, overlaps resolved in pattern order. */
export function extractSpecifics(reply: string): { start: number; end: number; text: string; kind: SpecificKind }[] {
  const taken: { start: number; end: number; text: string; kind: SpecificKind }[] = [];
  const overlaps = (s: number, e: number) => taken.some((t) => s < t.end && e > t.start);
  const hasDigit = /\d/.test(reply);
  const hasAt = reply.includes("@");
  for (const p of PATTERNS) {
    if (p.digits && !hasDigit && !(p.kind === "price" && /free of charge/i.test(reply))) continue;
    if (p.kind === "email" && !hasAt) continue;
    p.re.lastIndex = 0;
    for (const m of reply.matchAll(p.re)) {
      const text = m[0].replace(/[\s,;:.!?]+$/, "");
      const start = m.index!;
      const end = start + text.length;
      if (text.length === 0 || overlaps(start, end)) continue;
      if (p.kind === "number" && trivialNumber(text, reply, start)) continue;
      if (p.kind === "date" && /^\d{4}$/.test(text) && false) continue;
      taken.push({ start, end, text, kind: p.kind });
    }
  }
  const names: { start: number; end: number; text: string; kind: SpecificKind }[] = [];
  for (const m of reply.matchAll(NAME_RE)) {
    const whole = m[0];
    // Fast path: most matches are one capitalised word opening a sentence.
    if (whole.indexOf(" ") < 0 && whole.indexOf("\t") < 0 && whole.indexOf("\n") < 0) {
      if (NOT_NAMES.has(whole.replace(/'s$/, "")) || sentenceStartAt(reply, m.index!)) continue;
    }
    const words = whole.split(/\s+/);
    const offsets: number[] = [];
    let pos = m.index!;
    for (const w of words) {
      pos = reply.indexOf(w, pos);
      offsets.push(pos);
      pos += w.length;
    }
    let lo = 0;
    let hi = words.length;
    // Drop capitalised non-names and a sentence-opening word ("Try the Pomodoro Technique" -> "Pomodoro Technique").
    for (;;) {
      if (lo < hi && (NOT_NAMES.has(words[lo].replace(/'s$/, "")) || CONNECTOR.test(words[lo]))) lo++;
      else if (lo < hi - 1 && sentenceStartAt(reply, offsets[lo]) && CONNECTOR.test(words[lo + 1])) lo++;
      else break;
    }
    while (hi > lo && (NOT_NAMES.has(words[hi - 1]) || CONNECTOR.test(words[hi - 1]))) hi--;
    if (hi <= lo) continue;
    const start = offsets[lo];
    const end = offsets[hi - 1] + words[hi - 1].length;
    const text = reply.slice(start, end);
    // A single capitalised word opening a sentence or list item is usually just a sentence.
    if (hi - lo === 1 && sentenceStartAt(reply, start)) continue;
    // A label such as "Priority:" or "**Set goals:**" is template, not a name.
    if (/^[*_]*:/.test(reply.slice(end, end + 3)) || /^[^.\n]{0,30}:\*\*/.test(reply.slice(end))) continue;
    if (overlaps(start, end)) continue;
    names.push({ start, end, text, kind: "name" });
  }
  // Capitalisation marks names only in English (German capitalises every noun).
  if (names.length > 0) {
    const lang = guessLanguage(reply);
    if (lang === "en" || lang === "und") taken.push(...names);
  }
  return taken.sort((a, b) => a.start - b.start);
}

function messageText(ex: ChatExample, i: number): string {
  const m = ex.messages[i];
  let t = contentText(m.content);
  if (m.tool_calls) for (const c of m.tool_calls) t += `\n${c.function?.name ?? ""} ${c.function?.arguments ?? ""}`;
  return t;
}

/**
 * Checks every trained assistant message (weight not 0) against the conversation before it (system,
 * developer, user and tool messages, earlier turns, tool definitions).
 */
/** Weight of an unsupported span: bare small numbers and single names are weak evidence on their own. */
function spanWeight(kind: SpecificKind, text: string): number {
  if (kind === "number") {
    const v = Number(text.replace(/,/g, ""));
    return Math.abs(v) >= 100 || !Number.isInteger(v) ? 1 : 0.5;
  }
  if (kind === "name") return /\s/.test(text) ? 0.75 : 0.5;
  // "one year", "a day or two": a vague single unit is weak on its own.
  if (kind === "duration") return numbersIn(text).every((v) => v <= 1) ? 0.5 : 1;
  return WEIGHT[kind];
}

/**
 * Checks every trained assistant message (weight not 0) against the conversation before it (system,
 * developer, user and tool messages, earlier turns, tool definitions). Numbers the reply derives in
 * one step may feed a second step ("$360 ... minus 10% is $324").
 */
export function detectFactInjection(ex: ChatExample, maxSpans = 20): FactCheck {
  const spans: FactSpan[] = [];
  let score = 0;
  let prefix = ex.tools ? JSON.stringify(ex.tools) : "";
  const msgs = Array.isArray(ex.messages) ? ex.messages : [];
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    const text = messageText(ex, i);
    if (m.role === "assistant" && m.weight !== 0 && text.length > 0) {
      const found = extractSpecifics(contentText(m.content));
      if (found.length > 0) {
        const ctx = new Context(prefix);
        let pending = found;
        // Up to three rounds: each round's supported numbers become context for the next.
        for (let round = 0; round < 3 && pending.length > 0; round++) {
          const still: typeof found = [];
          const derived: number[] = [];
          for (const s of pending) {
            if (spanSupported(s.kind, s.text, ctx)) {
              if (s.kind !== "name" && s.kind !== "policy") derived.push(...numbersIn(s.text));
            } else still.push(s);
          }
          const progressed = still.length < pending.length;
          pending = still;
          if (!progressed || derived.length === 0) break;
          ctx.addNumbers(derived);
        }
        for (const s of pending) {
          score += spanWeight(s.kind, s.text);
          if (spans.length < maxSpans) spans.push({ message: i, ...s });
        }
      }
    }
    prefix += "\n" + text;
  }
  return { spans, score: Math.round(score * 100) / 100, injects: score >= 1 };
}
