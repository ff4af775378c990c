/**
 * A bounded uniform sample (reservoir sampling, fixed-seed xorshift), deterministic for a given input
 * order. Each validation worker keeps one of the final replies it saw; their union feeds the reply
 * shape inference.
 */
export class Reservoir<T extends string> {
  private readonly sample: T[] = [];
  private seen = 0;
  private state: number;
  constructor(
    private readonly capacity: number,
    private readonly maxChars = Infinity,
    seed = 2463534242,
  ) {
    this.state = seed >>> 0 || 1;
  }
  add(v: T): void {
    const item = (v.length > this.maxChars ? v.slice(0, this.maxChars) : v) as T;
    this.seen++;
    if (this.sample.length < this.capacity) this.sample.push(item);
    else {
      let x = this.state;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.state = x >>> 0;
      const j = Math.floor((this.state / 4294967296) * this.seen);
      if (j < this.capacity) this.sample[j] = item;
    }
  }
  items(): T[] {
    return this.sample.slice();
  }
}
