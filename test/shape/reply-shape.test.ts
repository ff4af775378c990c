import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { conformsToShape, guessLanguage, inferLineTemplate, inferReplyShape, lineTemplateFromExample, matchLineTemplate, replyShapeSignature } from "../../src/shape/index.js";
import { projectRoot } from "../helpers/cli.js";

const tldr = [
  "TL;DR: Customer was charged twice for order 1182.\nNext step: Refund the duplicate charge.",
  "TL;DR: App crashes on launch after the update.\nNext step: Ask for the device model and app version.",
  "TL;DR: Wants to change the delivery address.\n\nNext step: Confirm the new address before dispatch.",
  "TL;DR: Password reset email never arrives.\nNext step: Check the spam folder and resend:\nuse the support form if it still fails.",
];

test("a TL;DR / Next step template is inferred whatever the content, and mismatches say why", () => {
  const t = inferLineTemplate(tldr);
  assert.ok(t);
  assert.deepEqual(t.slots, ["TL;DR:", "Next step:"]);
  assert.equal(t.share, 1);
  assert.equal(matchLineTemplate(t, "TL;DR: something else entirely.\nNext step: do a thing.").ok, true);
  const missing = matchLineTemplate(t, "TL;DR: only a summary.");
  assert.equal(missing.ok, false);
  assert.match(missing.reason!, /line 2/);
  assert.match(missing.reason!, /Next step:/);
  const prose = matchLineTemplate(t, "Sorry to hear that! Please try again later.");
  assert.equal(prose.ok, false);
  assert.match(prose.reason!, /free text/);
  assert.equal(matchLineTemplate(t, "TL;DR: a\nNext step: b\nNote: extra").ok, false);
  assert.equal(matchLineTemplate(lineTemplateFromExample("TL;DR: ...\nNext step: ..."), tldr[1]).ok, true);
});

test("free text has no template; times are not labels", () => {
  assert.equal(inferLineTemplate(["Sure, happy to help.", "The meeting is at 10:30 tomorrow.", "Thanks!"]), undefined);
  assert.equal(replyShapeSignature("Meet me at 10:30 please"), "text");
});

test("inferReplyShape: JSON replies give a schema and conformance, templates and free text are told apart", () => {
  const json = ['{"label":"bug","priority":2}', '{"label":"feature","priority":1}', '{"label":"bug","priority":3}', "not json at all"];
  const s = inferReplyShape(json);
  assert.equal(s.kind, "json");
  assert.equal(s.json.parseRate, 0.75);
  assert.deepEqual(s.json.schema?.required?.sort(), ["label", "priority"]);
  assert.equal(conformsToShape(s, '{"label":"bug","priority":5}').ok, true);
  const miss = conformsToShape(s, '{"label":"bug"}');
  assert.equal(miss.ok, false);
  assert.match(miss.reasons.join(" "), /priority/);
  assert.equal(conformsToShape(s, "plain words").ok, false);
  assert.equal(s.conformance, 0.75);

  const t = inferReplyShape(tldr);
  assert.equal(t.kind, "line-template");
  assert.equal(t.conformance, 1);
  assert.equal(inferReplyShape(["Hello there, how are you?", "It is fine.", "I like it."]).kind, "free-text");
});

test("language guess and the language part of a shape", () => {
  assert.equal(guessLanguage("The order will arrive and you can track it with the link in your email."), "en");
  assert.equal(guessLanguage("Die Bestellung ist unterwegs und Sie können sie mit dem Link verfolgen."), "de");
  assert.equal(guessLanguage("El pedido está en camino y puede seguirlo con el enlace de su correo."), "es");
  assert.equal(guessLanguage("Заказ уже в пути."), "ru");
  assert.equal(guessLanguage("12345"), "und");
  const english = Array.from({ length: 10 }, (_, i) => `This is reply number ${i} and it is written in English for you.`);
  const shape = inferReplyShape(english);
  assert.equal(shape.language.dominant, "en");
  const de = conformsToShape(shape, "Das ist eine Antwort und sie ist auf Deutsch für Sie geschrieben.");
  assert.equal(de.ok, false);
  assert.match(de.reasons[0], /language de/);
});

test("the bundled support-ticket set is one line template", () => {
  const file = join(projectRoot, "examples", "support-tickets.jsonl");
  const replies = readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).messages.at(-1).content as string);
  const s = inferReplyShape(replies);
  assert.equal(s.kind, "line-template");
  assert.deepEqual(s.template?.slots, ["TL;DR:", "Next step:"]);
  assert.ok(s.conformance >= 0.95, `conformance ${s.conformance}`);
});
