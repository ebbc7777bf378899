/** Named activation buffers, reallocated only when a size changes, so steady-state calls never allocate. */

/** A set of named Float32Arrays owned by one module (or shared as scratch by a whole model). */
export class Buffers {
  private readonly map = new Map<string, Float32Array>();

  /** The buffer `name` with exactly `n` elements; its contents are whatever the last user left. */
  get(name: string, n: number): Float32Array {
    let b = this.map.get(name);
    if (!b || b.length !== n) {
      b = new Float32Array(n);
      this.map.set(name, b);
    }
    return b;
  }

  /** Total elements held, for memory accounting. */
  size(): number {
    let s = 0;
    for (const b of this.map.values()) s += b.length;
    return s;
  }
}
