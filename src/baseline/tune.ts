/**
 * Choosing the baseline's regularisation as a careful user would: on the training examples only, by
 * stratified k-fold cross-validation (small train sets) or on one fold held out as a validation split
 * (large ones, where k fits per C would cost too much), over a grid of C. Deterministic for a seed.
 */

import { ASPECTS } from "../data/examples.js";
import { computeMetrics } from "../inference/metrics.js";
import { Rng } from "../util/rng.js";
import { LogisticRegression } from "./logreg.js";
import { TfidfVectorizer } from "./tfidf.js";

/** scikit-learn's C from strong to weak regularisation, a factor of about 3 apart. */
export const C_GRID: readonly number[] = [0.3, 1, 3, 10, 30, 100];

/** Up to this many training examples every fold is scored; above it, the first fold alone (a 1/k validation split). */
export const FULL_CV_MAX = 5000;

/** How to choose C. */
export interface TuneOptions {
  grid: readonly number[];
  /** k of k-fold; the validation split of a large train set is one fold, 1/k of it. */
  folds: number;
  seed: number;
  /** Tolerance and iterations of each fit (a choice among Cs needs less than the final fit). */
  tol: number;
  maxIter: number;
  /** Called after each fit, for progress. */
  onFit?: (done: number, total: number) => void;
}

/** The choice and the evidence for it, as written to baseline.json. */
export interface TuneResult {
  C: number;
  method: string;
  folds_scored: number;
  grid: { C: number; accuracy: number; macro_f1: number }[];
  fits: number;
  seconds: number;
}

/** Stratified fold of each example (0..k-1): each class's examples shuffled with the seed, then dealt in turn. */
export function stratifiedFolds(labels: ArrayLike<number>, k: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const fold = new Int32Array(labels.length);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (!byClass.has(c)) byClass.set(c, []);
    byClass.get(c)!.push(i);
  }
  // Dealing continues across classes, so fold sizes differ by at most one.
  let next = 0;
  for (const c of [...byClass.keys()].sort((a, b) => a - b))
    for (const i of rng.shuffle(byClass.get(c)!)) fold[i] = next++ % k;
  return fold;
}

/**
 * Picks the C of `grid` with the best mean validation accuracy (ties: the better macro-F1, then the
 * smaller C). TF-IDF is refitted on each fold's training part, as a scikit-learn Pipeline in
 * GridSearchCV does; along the grid each fit starts from the previous C's solution (same result, fewer iterations).
 */
export function chooseC(texts: readonly string[], labels: readonly number[], o: TuneOptions): TuneResult {
  if (!o.grid.length || o.grid.some((c) => !(c > 0)))
    throw new RangeError("the C grid needs positive values");
  if (!(Number.isInteger(o.folds) && o.folds >= 2)) throw new RangeError("k-fold needs k ≥ 2");
  const t0 = performance.now();
  const fold = stratifiedFolds(labels, o.folds, o.seed);
  const scored = labels.length <= FULL_CV_MAX ? o.folds : 1;
  const grid = [...o.grid].sort((a, b) => a - b);
  const sums = grid.map(() => ({ accuracy: 0, macro_f1: 0 }));
  const total = scored * grid.length;
  let fits = 0;
  for (let f = 0; f < scored; f++) {
    const tr: number[] = [];
    const va: number[] = [];
    for (let i = 0; i < labels.length; i++) (fold[i] === f ? va : tr).push(i);
    const vec = new TfidfVectorizer();
    const X = vec.fitTransform(tr.map((i) => texts[i]!));
    const Xv = vec.transform(va.map((i) => texts[i]!));
    const y = tr.map((i) => labels[i]!);
    const yv = va.map((i) => labels[i]!);
    let init: Float64Array | undefined;
    grid.forEach((C, j) => {
      const m = LogisticRegression.train(X, y, ASPECTS.length, { C, tol: o.tol, maxIter: o.maxIter, init });
      init = m.params();
      const pred = LogisticRegression.argmax(m.predictProba(Xv), ASPECTS.length);
      const s = computeMetrics(yv, pred, ASPECTS);
      sums[j]!.accuracy += s.accuracy / scored;
      sums[j]!.macro_f1 += s.macro_f1 / scored;
      fits++;
      o.onFit?.(fits, total);
    });
  }
  let best = 0;
  for (let j = 1; j < grid.length; j++) {
    const a = sums[j]!;
    const b = sums[best]!;
    // A difference below one example in a million is a tie, so float noise cannot pick a C.
    if (
      a.accuracy > b.accuracy + 1e-9 ||
      (Math.abs(a.accuracy - b.accuracy) <= 1e-9 && a.macro_f1 > b.macro_f1 + 1e-9)
    )
      best = j;
  }
  return {
    C: grid[best]!,
    method:
      scored === o.folds
        ? `${o.folds}-fold stratified cross-validation on the training examples`
        : `a stratified validation split of 1/${o.folds} of the training examples (more than ${FULL_CV_MAX.toLocaleString("en-US")} of them)`,
    folds_scored: scored,
    grid: grid.map((C, j) => ({ C, ...sums[j]! })),
    fits,
    seconds: (performance.now() - t0) / 1000,
  };
}
