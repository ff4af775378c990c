/**
 * The general-skills retention set, written for tunekit: short items a small instruction-tuned model
 * answers before fine-tuning, each with a rule that checks the answer. Scored before and after
 * training, the drop (with its bootstrap interval) shows what the fine-tune broke.
 */
import type { RetentionCheck } from "./retention-checks.js";

export type RetentionCategory = "arithmetic" | "factual" | "instruction" | "json_extraction";

export interface RetentionItem {
  id: string;
  category: RetentionCategory;
  prompt: string;
  check: RetentionCheck;
}

const num = (value: number): RetentionCheck => ({ kind: "number", value });
const has = (...any: string[]): RetentionCheck => ({ kind: "contains", any });

const arithmetic: [string, number][] = [
  ["What is 7 + 5? Answer with just the number.", 12],
  ["What is 9 times 8? Answer with just the number.", 72],
  ["What is 100 minus 37? Answer with just the number.", 63],
  ["What is 144 divided by 12? Answer with just the number.", 12],
  ["What is 15 + 27? Answer with just the number.", 42],
  ["What is 6 squared? Answer with just the number.", 36],
  ["What is 25% of 80? Answer with just the number.", 20],
  ["A shirt costs $20 and is 10% off. What is the sale price in dollars? Answer with just the number.", 18],
  ["What is 1000 - 1? Answer with just the number.", 999],
  ["I have 3 boxes with 4 apples each. How many apples in total? Answer with just the number.", 12],
  ["What is half of 50? Answer with just the number.", 25],
  ["How many minutes are in 2 hours? Answer with just the number.", 120],
];

const factual: [string, RetentionCheck][] = [
  ["What is the capital of France? Answer in one word.", has("Paris")],
  ["What is the capital of Japan? Answer in one word.", has("Tokyo")],
  ["How many days are in a week? Answer with just the number.", num(7)],
  ["What planet do we live on? Answer in one word.", has("Earth")],
  ["What is the chemical symbol for water?", has("H2O", "H₂O")],
  ["How many legs does a spider have? Answer with just the number.", num(8)],
  ["What color is the sky on a clear day? Answer in one word.", has("blue")],
  ["What is the largest ocean on Earth?", has("Pacific")],
  ["Which animal is known as the king of the jungle?", has("lion")],
  ["What is the freezing point of water in degrees Celsius? Answer with just the number.", num(0)],
  ["How many months are in a year? Answer with just the number.", num(12)],
  ["What language is mainly spoken in Spain?", has("Spanish", "Castilian")],
];

const instruction: [string, RetentionCheck][] = [
  ["Reply with only the word YES.", { kind: "regex", pattern: "^\\W*yes\\W*$", flags: "i" }],
  ["Write the word hello in all capital letters and nothing else.", { kind: "regex", pattern: "^\\W*HELLO\\W*$" }],
  ["List three colors, one per line, with nothing else.", { kind: "lines", count: 3 }],
  ["Answer in at most five words: what do bees make?", { kind: "all", checks: [{ kind: "words", max: 5 }, has("honey")] }],
  ["Repeat this sentence exactly: The cat sat on the mat.", { kind: "regex", pattern: "The cat sat on the mat", flags: "i" }],
  ["Write the numbers 1 to 5 separated by commas.", { kind: "regex", pattern: "1\\s*,\\s*2\\s*,\\s*3\\s*,\\s*4\\s*,\\s*5" }],
  ["Say goodbye in French, one word only.", has("au revoir", "adieu", "salut")],
  ["Reply with the opposite of 'hot', one word.", has("cold")],
  ["Translate 'thank you' into Spanish. Reply with the translation only.", has("gracias")],
  ["Spell the word 'cat' backwards. Reply with the result only.", { kind: "regex", pattern: "^\\W*tac\\W*$", flags: "i" }],
  ["Write one sentence that ends with an exclamation mark.", { kind: "regex", pattern: "!\\s*$" }],
  ["Reply in all capital letters: what is the color of grass?", { kind: "all", checks: [{ kind: "uppercase" }, has("GREEN")] }],
];

const extraction: [string, Record<string, unknown>][] = [
  ['Extract the name and age as JSON with keys "name" and "age": "Maria is 34 years old."', { name: "Maria", age: 34 }],
  ['Extract the city as JSON with key "city": "I moved to Berlin last spring."', { city: "Berlin" }],
  ['Return JSON with keys "product" and "price": "The blue kettle costs 25 dollars."', { product: "blue kettle", price: 25 }],
  ['Extract the email address as JSON with key "email": "Write to ana@example.org for details."', { email: "ana@example.org" }],
  ['Return JSON with key "count" for the number of items: "apples, pears, plums".', { count: 3 }],
  ['Extract the first and last name as JSON with keys "first" and "last": "Dr. John Smith will see you now."', { first: "John", last: "Smith" }],
  ['Return JSON with key "sentiment" set to "positive" or "negative": "I love this phone, it is wonderful."', { sentiment: "positive" }],
  ['Return JSON with key "sentiment" set to "positive" or "negative": "This was the worst service I have ever had."', { sentiment: "negative" }],
  ['Extract the year as JSON with key "year": "The bridge opened in 1937."', { year: 1937 }],
  ['Return JSON with key "language" naming the language of: "Bonjour, comment allez-vous?"', { language: "French" }],
  ['Extract the color and animal as JSON with keys "color" and "animal": "A brown dog ran past."', { color: "brown", animal: "dog" }],
  ['Return JSON with key "answer" set to true or false: is 10 greater than 3?', { answer: true }],
];

export const RETENTION_SET: RetentionItem[] = [
  ...arithmetic.map(([prompt, v], i) => ({ id: `arith-${i + 1}`, category: "arithmetic" as const, prompt, check: num(v) })),
  ...factual.map(([prompt, check], i) => ({ id: `fact-${i + 1}`, category: "factual" as const, prompt, check })),
  ...instruction.map(([prompt, check], i) => ({ id: `instr-${i + 1}`, category: "instruction" as const, prompt, check })),
  ...extraction.map(([prompt, expect], i) => ({
    id: `json-${i + 1}`,
    category: "json_extraction" as const,
    prompt: `${prompt} Reply with the JSON object only.`,
    check: { kind: "json" as const, expect },
  })),
];
