import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createProgress, createStatusLine } from "../../src/cli/progress.js";

/** A terminal-like stderr that records what is written. */
function fakeTerminal(isTTY = true) {
  const writes: string[] = [];
  const stderr = { isTTY, columns: 160, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream;
  const last = () => writes.filter((w) => w !== "\r\u001b[K").at(-1) ?? "";
  return { io: { stderr }, writes, last };
}

test("progress bar: done/total with the unit once, and the caller's ETA in place of its own rate", () => {
  const t = fakeTerminal();
  const p = createProgress(t.io, { label: "train", unit: "steps", delayMs: 0, showRate: false });
  p.setTotal(150);
  p.update(35, "loss 1.23", 12);
  const line = t.last();
  assert.match(line, /23% 35\/150 steps ETA 12s loss 1\.23/);
  assert.doesNotMatch(line, /steps\/s/);
  assert.doesNotMatch(line, /35 steps\/150/);
  p.finish();
  assert.equal(t.writes.at(-1), "\r\u001b[K");
});

test("progress bar: the rate counts from the first update, not from setup time before it", async () => {
  const t = fakeTerminal();
  const p = createProgress(t.io, { label: "read", unit: "items", total: 1000, delayMs: 0 });
  await sleep(400); // setup (e.g. loading a model) before any unit of work
  p.update(0);
  await sleep(200);
  p.update(20);
  const rate = Number(/ ([\d.,]+) items\/s/.exec(t.last())?.[1].replace(/,/g, ""));
  // 20 items over ~0.2 s is ~100/s; counting the setup too would give ~33/s.
  assert.ok(rate > 60, `rate ${rate} in: ${t.last()}`);
  p.finish();
});

test("status line: drawn and erased on a terminal, silent in a pipe", () => {
  const t = fakeTerminal();
  const s = createStatusLine(t.io);
  s.show("train: loading the model ...");
  assert.equal(t.writes.at(-1), "\rtrain: loading the model ...\u001b[K");
  s.clear();
  assert.equal(t.writes.at(-1), "\r\u001b[K");
  s.clear();
  assert.equal(t.writes.length, 2, "a second clear writes nothing");

  const pipe = fakeTerminal(false);
  const quiet = createStatusLine(pipe.io);
  quiet.show("x");
  quiet.clear();
  assert.equal(pipe.writes.length, 0);
});
