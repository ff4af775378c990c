/**
 * The graph builder: values with (partly symbolic) shapes, ONNX nodes, and a tape of differentiable
 * op applications. Ops (ops.ts) emit ONNX nodes and record a tape entry whose vector-Jacobian product
 * is written with other ops, so autodiff (autodiff.ts) only walks the tape backwards.
 */
import type { AttrValue, Dim, ElemType, OnnxModel, OnnxNode, TensorInit, ValueInfo } from "../onnx/model.js";

export type { Dim, ElemType } from "../onnx/model.js";

export interface Value {
  readonly name: string;
  readonly dtype: ElemType;
  readonly shape: readonly Dim[];
}

/** Initializers outside the model: bytes handed over from memory, and a folder ONNX Runtime reads files from. */
export interface ExternalData {
  inMemory: { path: string; data: Uint8Array }[];
  folder?: string;
}

/**
 * Given the gradients of an op's outputs (undefined where no gradient flows) and which inputs need a
 * gradient, return the input gradients (undefined where not needed or zero).
 */
export type Vjp = (grads: (Value | undefined)[], need: boolean[]) => (Value | undefined)[];

export interface TapeEntry {
  inputs: Value[];
  outputs: Value[];
  vjp: Vjp;
}

export type FloatType = "float32" | "float64";

export interface GraphOptions {
  /** Use com.microsoft.FusedMatMul (float32 only) so transposed operands are never copied. */
  fusedMatMul?: boolean;
}

export class Graph {
  readonly nodes: OnnxNode[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly initializers: TensorInit[] = [];
  readonly tape: TapeEntry[] = [];
  readonly fusedMatMul: boolean;
  private counter = 0;
  private constCache = new Map<string, Value>();
  private names = new Set<string>();

  constructor(options: GraphOptions = {}) {
    this.fusedMatMul = options.fusedMatMul ?? true;
  }

  fresh(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.names.has(n));
    this.names.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph: duplicate value name ${name}`);
    this.names.add(name);
    return name;
  }

  input(name: string, dtype: ElemType, shape: Dim[]): Value {
    this.claim(name);
    this.inputs.push({ name, elemType: dtype, shape });
    return { name, dtype, shape };
  }

  /** A constant tensor stored in the model (frozen weights, tables). */
  initializer(name: string, dtype: ElemType, dims: number[], data: ArrayBufferView, external = false): Value {
    const v = this.addInitializer(this.claim(name), dtype, dims, data);
    if (external) this.initializers[this.initializers.length - 1].external = `ext${this.externalCount++}.bin`;
    return v;
  }

  /** A constant whose bytes are already in a file (`file` in folder `dir`, at `offset`): ONNX Runtime reads them from there. */
  storedInitializer(name: string, dtype: ElemType, dims: number[], at: { dir: string; file: string; offset: number; length: number }): Value {
    if (this.storedFolder !== undefined && this.storedFolder !== at.dir) throw new Error(`storedInitializer: a second folder ${at.dir} (the graph reads from ${this.storedFolder})`);
    this.storedFolder = at.dir;
    const v = this.addInitializer(this.claim(name), dtype, dims, new Uint8Array(0));
    const init = this.initializers[this.initializers.length - 1];
    init.external = at.file;
    init.stored = { offset: at.offset, length: at.length };
    return v;
  }

  private externalCount = 0;
  private storedFolder: string | undefined;

  /**
   * The initializers stored outside the model: the bytes of those in memory, for ONNX Runtime's
   * `externalData` option, and the folder of those already in a file.
   */
  externalData(): ExternalData {
    const inMemory = this.initializers.filter((t) => t.external !== undefined && !t.stored).map((t) => ({ path: t.external!, data: t.raw }));
    return { inMemory, ...(this.storedFolder !== undefined ? { folder: this.storedFolder } : {}) };
  }

  private addInitializer(name: string, dtype: ElemType, dims: number[], data: ArrayBufferView): Value {
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, elemType: dtype, dims, raw });
    return { name, dtype, shape: dims };
  }

  /** A float constant of the given dtype; scalars are cached. */
  constF(dtype: ElemType, values: number | ArrayLike<number>, shape?: number[]): Value {
    const arr = typeof values === "number" ? [values] : values;
    const dims = shape ?? (typeof values === "number" ? [] : [arr.length]);
    const key = typeof values === "number" && shape === undefined ? `${dtype}:${values}` : undefined;
    if (key !== undefined) {
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const data = dtype === "float64" ? Float64Array.from(arr) : Float32Array.from(arr);
    const v = this.addInitializer(this.fresh("const"), dtype, dims, data);
    if (key !== undefined) this.constCache.set(key, v);
    return v;
  }

  constI64(values: number[], shape?: number[]): Value {
    const key = `i64:${values.join(",")}:${shape?.join(",") ?? "v"}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const v = this.addInitializer(this.fresh("const"), "int64", shape ?? [values.length], BigInt64Array.from(values.map(BigInt)));
    this.constCache.set(key, v);
    return v;
  }

  /** Emit one ONNX node. Output shapes/dtypes are given by the caller (the op's shape rule). */
  emit(
    opType: string,
    inputs: (Value | string)[],
    outs: { dtype: ElemType; shape: readonly Dim[] }[],
    attrs: Record<string, AttrValue> = {},
    domain?: string,
  ): Value[] {
    const outputs = outs.map((o) => ({ name: this.fresh(opType.toLowerCase()), dtype: o.dtype, shape: o.shape }));
    const node: OnnxNode = {
      opType,
      domain,
      name: this.fresh(`n_${opType}`),
      inputs: inputs.map((i) => (typeof i === "string" ? i : i.name)),
      outputs: outputs.map((o) => o.name),
      attrs,
    };
    this.nodes.push(node);
    for (const o of node.outputs) this.producers.set(o, node);
    return outputs;
  }

  emit1(opType: string, inputs: (Value | string)[], dtype: ElemType, shape: readonly Dim[], attrs: Record<string, AttrValue> = {}, domain?: string): Value {
    return this.emit(opType, inputs, [{ dtype, shape }], attrs, domain)[0];
  }

  record(inputs: Value[], outputs: Value[], vjp: Vjp): void {
    this.tape.push({ inputs, outputs, vjp });
  }

  /**
   * Mark a value as a graph output under `name`. A value computed by a node is renamed in place (an
   * Identity would copy it on every run); graph inputs and values already output get an Identity.
   */
  output(v: Value, name: string): Value {
    this.claim(name);
    const producer = this.producerOf(v.name);
    const alreadyOutput = this.outputs.some((o) => o.name === v.name);
    if (producer && !alreadyOutput) {
      // Consumers are redirected to the new name once, on export.
      producer.outputs = producer.outputs.map((o) => (o === v.name ? name : o));
      this.renamed.set(v.name, name);
    } else {
      this.nodes.push({ opType: "Identity", name: this.fresh("n_out"), inputs: [this.resolve(v.name)], outputs: [name], attrs: {} });
    }
    // Symbolic output sizes are left unnamed so ORT's own shape inference is never contradicted.
    this.outputs.push({ name, elemType: v.dtype, shape: v.shape.map((d) => (typeof d === "number" ? d : "")) });
    return { name, dtype: v.dtype, shape: v.shape };
  }

  /** Values renamed by output(): later nodes that still refer to the old name are redirected on export. */
  private renamed = new Map<string, string>();

  private resolve(name: string): string {
    return this.renamed.get(name) ?? name;
  }

  private producers = new Map<string, OnnxNode>();

  private producerOf(name: string): OnnxNode | undefined {
    return this.producers.get(name);
  }

  /**
   * The nodes whose outputs something reads (a graph output, or a live node's input). Ops emit some
   * values eagerly for a backward pass that may never use them (e.g. a split's part shapes); ONNX
   * Runtime keeps such dead nodes and runs them last, which keeps their inputs alive to the end.
   */
  private liveNodes(): OnnxNode[] {
    const needed = new Set(this.outputs.map((o) => o.name));
    const live: boolean[] = new Array(this.nodes.length).fill(false);
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const n = this.nodes[k];
      if (!n.outputs.some((o) => needed.has(o))) continue;
      live[k] = true;
      for (const i of n.inputs) needed.add(i);
    }
    return this.nodes.filter((_, k) => live[k]);
  }

  toModel(): OnnxModel {
    if (this.renamed.size > 0) {
      for (const n of this.nodes) n.inputs = n.inputs.map((i) => this.resolve(i));
    }
    return {
      nodes: this.liveNodes(),
      inputs: this.inputs,
      outputs: this.outputs,
      initializers: this.initializers,
      opsetVersion: 18,
      extraOpsets: { "com.microsoft": 1 },
    };
  }
}
