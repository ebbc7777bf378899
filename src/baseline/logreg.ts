/**
 * Multinomial logistic regression with an L2 penalty on sparse features, fitted by L-BFGS, as
 * scikit-learn's LogisticRegression(C, solver="lbfgs", fit_intercept=True) for three or more classes.
 * The objective is sklearn's (≥ 1.4): mean cross-entropy + ||W||² / (2 C n); the intercept is not penalised.
 */
import { type LbfgsResult, lbfgs } from "./lbfgs.js";
import type { CsrMatrix } from "./sparse.js";

/** Fitting settings; the defaults are sklearn's (C 1, tol 1e-4, max_iter 100). */
export interface LogRegOptions {
  C?: number;
  tol?: number;
  maxIter?: number;
  /** Starting parameters (a warm start from a fit at a nearby C); zeros by default. */
  init?: Float64Array;
  onIteration?: (iter: number, loss: number, gmax: number) => void;
}

/** The objective value at `params` (W row-major features × classes, then the K intercepts); fills `grad`. */
export function multinomialLoss(
  X: CsrMatrix,
  y: ArrayLike<number>,
  k: number,
  C: number,
  params: Float64Array,
  grad: Float64Array,
): number {
  const n = X.nRows;
  const d = X.nCols;
  const bOff = d * k;
  const { indptr, indices, data } = X;
  const z = new Float64Array(k);
  let loss = 0;
  grad.fill(0);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) z[c] = params[bOff + c]!;
    const end = indptr[i + 1]!;
    for (let p = indptr[i]!; p < end; p++) {
      const w = indices[p]! * k;
      const v = data[p]!;
      for (let c = 0; c < k; c++) z[c]! += v * params[w + c]!;
    }
    let zMax = z[0]!;
    for (let c = 1; c < k; c++) if (z[c]! > zMax) zMax = z[c]!;
    let sum = 0;
    for (let c = 0; c < k; c++) {
      z[c] = Math.exp(z[c]! - zMax);
      sum += z[c]!;
    }
    const yi = y[i]!;
    loss += Math.log(sum) - Math.log(z[yi]!);
    // z becomes the residual (p - onehot) / n, the gradient of this row's loss w.r.t. its logits.
    for (let c = 0; c < k; c++) {
      z[c] = (z[c]! / sum - (c === yi ? 1 : 0)) / n;
      grad[bOff + c]! += z[c]!;
    }
    for (let p = indptr[i]!; p < end; p++) {
      const w = indices[p]! * k;
      const v = data[p]!;
      for (let c = 0; c < k; c++) grad[w + c]! += v * z[c]!;
    }
  }
  const lambda = 1 / (C * n);
  let sq = 0;
  for (let j = 0; j < bOff; j++) {
    const w = params[j]!;
    sq += w * w;
    grad[j]! += lambda * w;
  }
  return loss / n + 0.5 * lambda * sq;
}

/** A fitted model: weights (features × classes, row-major), intercepts and how the fit went. */
export class LogisticRegression {
  constructor(
    readonly nFeatures: number,
    readonly nClasses: number,
    readonly weights: Float64Array,
    readonly intercept: Float64Array,
    readonly fit: Omit<LbfgsResult, "x">,
  ) {}

  /** Fits the model to rows of X with labels y in 0..nClasses-1. */
  static train(
    X: CsrMatrix,
    y: ArrayLike<number>,
    nClasses: number,
    opts: LogRegOptions = {},
  ): LogisticRegression {
    const C = opts.C ?? 1;
    const k = nClasses;
    const x0 = new Float64Array(X.nCols * k + k);
    if (opts.init) {
      if (opts.init.length !== x0.length)
        throw new Error(`LogisticRegression.train: init holds ${opts.init.length} values, not ${x0.length}`);
      x0.set(opts.init);
    }
    const res = lbfgs((p, g) => multinomialLoss(X, y, k, C, p, g), x0, {
      maxIter: opts.maxIter ?? 100,
      gtol: opts.tol ?? 1e-4,
      onIteration: opts.onIteration,
    });
    const { x, ...fit } = res;
    return new LogisticRegression(X.nCols, k, x.slice(0, X.nCols * k), x.slice(X.nCols * k), fit);
  }

  /** The parameters as L-BFGS sees them (weights, then intercepts): a warm start for another fit. */
  params(): Float64Array {
    const out = new Float64Array(this.weights.length + this.intercept.length);
    out.set(this.weights);
    out.set(this.intercept, this.weights.length);
    return out;
  }

  /** Class probabilities, row-major rows × classes (softmax of the logits). */
  predictProba(X: CsrMatrix): Float64Array {
    const k = this.nClasses;
    const out = new Float64Array(X.nRows * k);
    for (let i = 0; i < X.nRows; i++) {
      const o = i * k;
      for (let c = 0; c < k; c++) out[o + c] = this.intercept[c]!;
      for (let p = X.indptr[i]!; p < X.indptr[i + 1]!; p++) {
        const j = X.indices[p]!;
        if (j >= this.nFeatures) continue;
        const v = X.data[p]!;
        for (let c = 0; c < k; c++) out[o + c]! += v * this.weights[j * k + c]!;
      }
      let zMax = out[o]!;
      for (let c = 1; c < k; c++) if (out[o + c]! > zMax) zMax = out[o + c]!;
      let sum = 0;
      for (let c = 0; c < k; c++) {
        out[o + c] = Math.exp(out[o + c]! - zMax);
        sum += out[o + c]!;
      }
      for (let c = 0; c < k; c++) out[o + c]! /= sum;
    }
    return out;
  }

  /** The most probable class of each row (the first on a tie, as numpy's argmax). */
  static argmax(probs: Float64Array, k: number): Int32Array {
    const n = probs.length / k;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (probs[i * k + c]! > probs[i * k + best]!) best = c;
      out[i] = best;
    }
    return out;
  }
}
