/**
 * Named activation buffers that only grow: a smaller request is a view of the storage already there, so
 * length-grouped batches (a new shape almost every step) allocate nothing once the largest has been seen.
 */

/**
 * The buffers of one module. With a `pool`, a buffer asked for as shared comes from the pool under the
 * module's role (its name with the layer index replaced by `*`), so in inference every encoder layer
 * writes into the same buffers instead of keeping its own activations.
 */
export class Buffers {
  private readonly map = new Map<string, { store: Float32Array; view: Float32Array }>();
  private readonly keys = new Map<string, string>();

  constructor(
    private readonly role = "",
    private readonly pool?: Buffers,
  ) {}

  /** The buffer `name` with exactly `n` elements; its contents are whatever the last user left. */
  get(name: string, n: number, shared = false): Float32Array {
    if (shared && this.pool) return this.pool.get(this.key(name), n);
    let b = this.map.get(name);
    if (!b || b.store.length < n) {
      const store = new Float32Array(n);
      b = { store, view: store };
      this.map.set(name, b);
    } else if (b.view.length !== n) b.view = b.store.subarray(0, n);
    return b.view;
  }

  private key(name: string): string {
    let k = this.keys.get(name);
    if (k === undefined) {
      k = `${this.role}/${name}`;
      this.keys.set(name, k);
    }
    return k;
  }
}

/** A module's role: its name with the encoder layer index replaced by `*` (the same in every layer). */
export function roleOf(name: string): string {
  return name.replace(/\.layer\.\d+(?=\.|$)/, ".layer.*");
}
