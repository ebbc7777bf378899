/**
 * The heads' losses: softmax cross-entropy with PyTorch's ignore_index (single-label and MLM heads: the mean
 * over the rows whose label is not IGNORE_INDEX, by the native kernels, log-sum-exp in double), and sigmoid
 * binary cross-entropy (multi-label heads).
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

/**
 * Sigmoid binary cross-entropy of each logit against a target in [0, 1] (PyTorch's BCEWithLogitsLoss,
 * mean over every element): the loss of a multi-label head, one independent yes/no a label.
 */
export class BCEWithLogits {
  private targets: Float32Array | undefined;
  private size = 0;

  /**
   * The mean loss of logits [n, c] against targets [n, c]; a target outside [0, 1] (or NaN) is a UserError.
   * Without targets it only forgets the last ones.
   */
  forward(logits: Float32Array, targets: Float32Array | undefined, n: number, c: number): number | undefined {
    this.targets = targets;
    this.size = n * c;
    if (!targets) return undefined;
    if (targets.length !== n * c)
      throw new UserError(`batch.targets has ${targets.length} entries, expected ${n} x ${c}`);
    let sum = 0;
    for (let i = 0; i < n * c; i++) {
      const x = logits[i];
      const y = targets[i];
      if (!(y >= 0 && y <= 1)) throw new UserError(`bad target ${y}: multi-label targets are from 0 to 1`);
      // max(x, 0) - x y + log(1 + e^-|x|): no overflow for any x (PyTorch's form).
      sum += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
    }
    return n * c ? sum / (n * c) : 0;
  }

  /** Throws unless the last forward had targets (backward needs them). */
  assertLabels(): void {
    if (!this.targets) throw new Error("backward() needs a forward pass with batch.targets");
  }

  /** d(mean loss)/d(logits) = (sigmoid(x) - y) / (n c) into dLogits, which may be `logits` itself. */
  backward(logits: Float32Array, dLogits: Float32Array): void {
    this.assertLabels();
    const y = this.targets!;
    const scale = this.size ? 1 / this.size : 0;
    for (let i = 0; i < this.size; i++) dLogits[i] = (sigmoid(logits[i]) - y[i]) * scale;
  }
}

/** The logistic function, without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
