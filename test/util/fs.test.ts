import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { withAtomicWriter, writeFileAtomic } from "../../src/util/fs.js";
import { TunekitError } from "../../src/util/errors.js";
import { tempDir } from "../helpers/fixtures.js";

test("withAtomicWriter: content appears only on success, many drains leave no listeners behind", async () => {
  const t = tempDir();
  try {
    const target = join(t.dir, "out.bin");
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    const chunk = new Uint8Array(1 << 20).fill(7);
    await withAtomicWriter(target, async (w) => {
      for (let i = 0; i < 40; i++) await w.write(chunk);
    });
    await new Promise((r) => setImmediate(r));
    process.off("warning", onWarning);
    assert.equal(readFileSync(target).length, 40 << 20);
    assert.deepEqual(warnings.filter((n) => n === "MaxListenersExceededWarning"), []);
    assert.deepEqual(readdirSync(t.dir), ["out.bin"]);
  } finally {
    t.cleanup();
  }
});

test("withAtomicWriter: a failure leaves neither the target nor a temp file", async () => {
  const t = tempDir();
  try {
    const target = join(t.dir, "out.jsonl");
    await assert.rejects(
      withAtomicWriter(target, async (w) => {
        await w.write("partial line\n");
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal(existsSync(target), false);
    assert.deepEqual(readdirSync(t.dir), []);
  } finally {
    t.cleanup();
  }
});

test("withAtomicWriter: failures just after the first write leave no temp file behind, even later", async () => {
  // The stream opens its temp file in the thread pool. Unless abort waits for the stream to close,
  // that open can finish after the cleanup and leave the temp file (a CI run caught this; about 4 in
  // 100 rounds here before the fix).
  const t = tempDir();
  try {
    for (let i = 0; i < 300; i++) {
      await withAtomicWriter(join(t.dir, `out-${i}.jsonl`), async (w) => {
        await w.write("partial line\n");
        throw new Error("boom");
      }).catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(readdirSync(t.dir), []);
  } finally {
    t.cleanup();
  }
});

test("writeFileAtomic into a missing folder is a clear TunekitError", async () => {
  const t = tempDir();
  try {
    await assert.rejects(writeFileAtomic(join(t.dir, "nope", "x.json"), "{}"), (e: unknown) => e instanceof TunekitError && e.code === "file_not_found");
  } finally {
    t.cleanup();
  }
});

test("refuseNonEmptyFolder: a file or a non-empty folder is refused with a code, an empty or missing one is fine", async () => {
  const { refuseNonEmptyFolder } = await import("../../src/util/fs.js");
  const { writeFileSync, mkdirSync } = await import("node:fs");
  const t = tempDir();
  try {
    refuseNonEmptyFolder(join(t.dir, "missing"));
    mkdirSync(join(t.dir, "empty"));
    refuseNonEmptyFolder(join(t.dir, "empty"));
    writeFileSync(join(t.dir, "file"), "x");
    assert.throws(() => refuseNonEmptyFolder(join(t.dir, "file")), (e: unknown) => e instanceof TunekitError && e.code === "already_exists");
    assert.throws(() => refuseNonEmptyFolder(t.dir), (e: unknown) => e instanceof TunekitError && e.code === "output_not_empty");
  } finally {
    t.cleanup();
  }
});
