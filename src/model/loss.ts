/**
 * Softmax cross-entropy with PyTorch's ignore_index, the one loss of every head: the mean over the rows
 * whose label is not IGNORE_INDEX, computed by the native kernels (log-sum-exp in double).
 */
import { addon } from "../native/index.js";
import { UserError } from "../util/errors.js";

/** The label cross-entropy ignores (PyTorch's ignore_index). */
export const IGNORE_INDEX = -100;

/** One head's loss: forward remembers the labels and count that backward needs. */
export class CrossEntropy {
  private labels: Int32Array | undefined;
  private count = 0;
  private n = 0;
  private c = 0;

  /** `labelHint` ends a bad label's message (what valid labels look like, e.g. "labels are 0..2"). */
  constructor(private readonly labelHint: string) {}

  /**
   * The mean loss of logits [n, c] against labels [n] (IGNORE_INDEX rows left out) and how many rows
   * counted; a label outside 0..c-1 is a UserError. Without labels it only forgets the last ones.
   */
  forward(
    logits: Float32Array,
    labels: Int32Array | undefined,
    n: number,
    c: number,
  ): { loss: number; count: number } | undefined {
    this.labels = labels;
    this.n = n;
    this.c = c;
    this.count = 0;
    if (!labels) return undefined;
    try {
      const [loss, count] = addon().crossEntropyForward(logits, labels, n, c);
      this.count = count;
      return { loss, count };
    } catch (err) {
      if (err instanceof RangeError)
        throw new UserError(`bad label: ${err.message}`, { hint: this.labelHint });
      throw err;
    }
  }

  /** Throws unless the last forward had labels (backward needs them). */
  assertLabels(): void {
    if (!this.labels) throw new Error("backward() needs a forward pass with batch.labels");
  }

  /** d(mean loss)/d(logits) [n, c] into dLogits, which may be `logits` itself (then overwritten). */
  backward(logits: Float32Array, dLogits: Float32Array): void {
    this.assertLabels();
    const labels = this.labels!;
    const scale = this.count ? 1 / this.count : 0;
    addon().crossEntropyBackward(logits, labels, dLogits, this.n, this.c, scale);
  }
}
