/**
 * A minimal protobuf writer: just the wire types ONNX needs (varint, 64-bit-free fixed32 floats,
 * length-delimited). Messages are built as lists of byte chunks so large weight buffers are referenced,
 * not copied, until the single final concatenation.
 */

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  length = 0;

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    const b = Uint8Array.from(this.scratch);
    this.chunks.push(b);
    this.length += b.length;
    this.scratch = [];
  }

  private varint(v: number | bigint): void {
    let x = typeof v === "bigint" ? BigInt.asUintN(64, v) : v < 0 ? BigInt.asUintN(64, BigInt(v)) : v;
    if (typeof x === "number") {
      // Safe integers only; numbers above 2^53 never occur in ONNX shapes or attributes.
      while (x >= 0x80) {
        this.scratch.push((x % 128) | 0x80);
        x = Math.floor(x / 128);
      }
      this.scratch.push(x);
      return;
    }
    while (x >= 0x80n) {
      this.scratch.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.scratch.push(Number(x));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.scratch.push(x);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varint(data.length);
    this.flushScratch();
    if (data.length > 0) {
      this.chunks.push(data);
      this.length += data.length;
    }
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    m.flushScratch();
    this.tag(field, 2);
    this.varint(m.length);
    this.flushScratch();
    for (const c of m.chunks) this.chunks.push(c);
    this.length += m.length;
    return this;
  }

  packedInts(field: number, vs: ArrayLike<number | bigint>): this {
    const inner = new ProtoWriter();
    for (let i = 0; i < vs.length; i++) inner.varint(vs[i]);
    inner.flushScratch();
    this.tag(field, 2);
    this.varint(inner.length);
    this.flushScratch();
    for (const c of inner.chunks) this.chunks.push(c);
    this.length += inner.length;
    return this;
  }

  packedFloats(field: number, vs: ArrayLike<number>): this {
    const f = Float32Array.from(vs as ArrayLike<number>);
    return this.bytes(field, new Uint8Array(f.buffer));
  }

  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
