/** A random model folder of any shape, written tensor by tensor (a large model never sits in memory). */
import { closeSync, copyFileSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseModelConfig } from "../../src/engine/io/config.js";
import { expectedTensorShapes } from "../../src/engine/models/tensors.js";

/**
 * Writes model.safetensors tensor by tensor (a 1B model never sits in memory): random values of a
 * realistic size (|x| about 2^-10 .. 2^-6, random signs), norms 1. Cheap xorshift, not a distribution study.
 */
export function writeRandomModel(dir: string, raw: Record<string, unknown>, dtype: "BF16" | "F32", tokenizerDir: string): void {
  mkdirSync(dir, { recursive: true });
  const config = parseModelConfig(raw);
  const shapes = [...expectedTensorShapes(config)];
  const size = dtype === "BF16" ? 2 : 4;
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1) * size;
    header[name] = { dtype, shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(join(dir, "model.safetensors"), "w");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeSync(fd, len);
  writeSync(fd, json);
  let s = 0x9e3779b9;
  const chunk = 1 << 22;
  for (const [name, shape] of shapes) {
    let left = shape.reduce((a, b) => a * b, 1);
    const norm = name.endsWith("norm.weight");
    while (left > 0) {
      const n = Math.min(left, chunk);
      const buf = Buffer.alloc(n * size);
      for (let i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        const bits = norm ? 0x3f80 : (s & 0x8000) | ((117 + ((s >>> 16) & 3)) << 7) | (s & 0x7f);
        if (size === 2) buf.writeUInt16LE(bits, i * 2);
        else buf.writeUInt32LE((bits << 16) >>> 0, i * 4);
      }
      writeSync(fd, buf);
      left -= n;
    }
  }
  closeSync(fd);
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2));
  // A real tokenizer (e.g. SmolLM2's 49,152 tokens); a larger model vocabulary holds ids text never produces.
  copyFileSync(join(tokenizerDir, "tokenizer.json"), join(dir, "tokenizer.json"));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ bos_token: "<|im_start|>", eos_token: "<|im_end|>" }));
}
