/** What every module's forward needs to know about the current pass. */
import { Rng } from "../util/rng.js";

/** A stream of dropout seeds: one per dropout call, in forward order, reproducible from one seed. */
export class SeedSource {
  private rng: Rng;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** The next seed, an integer below 2^52 (exact as a double, as the kernel takes it). */
  next(): number {
    return this.rng.nextUint32() * 1048576 + (this.rng.nextUint32() >>> 12);
  }
}

/**
 * The pass: batch shape (B examples of T tokens), training or not, where dropout seeds come from, and
 * whether encoder layers may share activation buffers (inference: nothing is kept for backward).
 */
export interface Ctx {
  B: number;
  T: number;
  train: boolean;
  seeds: SeedSource;
  shared?: boolean;
}
