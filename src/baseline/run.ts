/** The whole baseline experiment on a split: vectorise, fit, predict, score. Shared by `baseline` and `run`. */
import { ASPECTS, type Split, takeShuffled } from "../data/examples.js";
import { computeMetrics, type Metrics } from "../inference/metrics.js";
import { LogisticRegression } from "./logreg.js";
import { TfidfVectorizer } from "./tfidf.js";
import { C_GRID, chooseC, type TuneResult } from "./tune.js";

/** k of the k-fold choice of C (a large train set holds out one fold: a 20% validation split). */
export const TUNE_FOLDS = 5;

/** How to run the baseline; limits take N examples after a seeded shuffle, as the study did. */
export interface BaselineRunOptions {
  trainLimit?: number;
  evalLimit?: number;
  seed: number;
  /** A fixed C; undefined chooses it on the training examples (tune.ts) over `grid`. */
  C?: number;
  grid?: readonly number[];
  maxIter: number;
  tol: number;
  /** Called once the features are built. */
  onVectorized?: (info: { train: number; test: number; features: number }) => void;
  /** Called after each fit of the choice of C. */
  onTuneFit?: (done: number, total: number) => void;
  /** Called after each L-BFGS iteration with the largest gradient component. */
  onIteration?: (iter: number, loss: number, gmax: number) => void;
}

/** The metrics and what produced them, as written to baseline.json. */
export type BaselineResult = Metrics & {
  model: "tfidf-logreg";
  train_examples: number;
  eval_examples: number;
  seed: number;
  features: number;
  C: number;
  /** How C was chosen (null: given). */
  tuning: TuneResult | null;
  tol: number;
  iterations: number;
  converged: boolean;
  stop_reason: string;
  seconds: { tune: number; vectorize: number; fit: number; total: number };
};

/** Trains TF-IDF + logistic regression on the split's train part and scores it on its test part. */
export function runBaseline(split: Split, opts: BaselineRunOptions): BaselineResult {
  const train = takeShuffled(split.train, opts.trainLimit, opts.seed);
  const test = takeShuffled(split.test, opts.evalLimit, opts.seed);
  const t0 = performance.now();
  // Tuning fits stop at a tenth of the final fit's precision: enough to rank the Cs, at half the iterations.
  const tuning =
    opts.C === undefined
      ? chooseC(
          train.map((e) => e.text),
          train.map((e) => e.label),
          {
            grid: opts.grid ?? C_GRID,
            folds: TUNE_FOLDS,
            seed: opts.seed,
            tol: opts.tol * 10,
            maxIter: opts.maxIter,
            onFit: opts.onTuneFit,
          },
        )
      : null;
  const C = tuning ? tuning.C : opts.C!;
  const tTune = performance.now();
  const vectorizer = new TfidfVectorizer();
  const Xtrain = vectorizer.fitTransform(train.map((e) => e.text));
  const Xtest = vectorizer.transform(test.map((e) => e.text));
  const tVec = performance.now();
  opts.onVectorized?.({ train: train.length, test: test.length, features: vectorizer.terms.length });
  const model = LogisticRegression.train(
    Xtrain,
    train.map((e) => e.label),
    ASPECTS.length,
    { C, maxIter: opts.maxIter, tol: opts.tol, onIteration: opts.onIteration },
  );
  const tFit = performance.now();
  const probs = model.predictProba(Xtest);
  const pred = LogisticRegression.argmax(probs, ASPECTS.length);
  const metrics = computeMetrics(
    test.map((e) => e.label),
    pred,
    ASPECTS,
    probs,
  );
  return {
    ...metrics,
    model: "tfidf-logreg",
    train_examples: train.length,
    eval_examples: test.length,
    seed: opts.seed,
    features: vectorizer.terms.length,
    C,
    tuning,
    tol: opts.tol,
    iterations: model.fit.iterations,
    converged: model.fit.converged,
    stop_reason: model.fit.reason,
    seconds: {
      tune: (tTune - t0) / 1000,
      vectorize: (tVec - tTune) / 1000,
      fit: (tFit - tVec) / 1000,
      total: (performance.now() - t0) / 1000,
    },
  };
}
