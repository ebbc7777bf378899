/**
 * The baseline against scikit-learn itself (Debian's python3-sklearn, installed by scripts/setup.sh):
 * the same TF-IDF matrix and, fitted to a tight tolerance, the same logistic-regression probabilities.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { LogisticRegression, multinomialLoss } from "../../src/baseline/logreg.js";
import { runBaseline, TUNE_FOLDS } from "../../src/baseline/run.js";
import { toDense } from "../../src/baseline/sparse.js";
import { TfidfVectorizer } from "../../src/baseline/tfidf.js";
import { stratifiedFolds } from "../../src/baseline/tune.js";
import { Rng } from "../../src/util/rng.js";

const SCRIPT = fileURLToPath(new URL("../../../test/fixtures/baseline/sklearn_ref.py", import.meta.url));

// Small GO-like definitions: class words, shared words, repeats (for sublinear tf) and Unicode.
const WORDS = [
  ["process", "regulation", "pathway", "signaling", "response", "development", "metabolic"],
  ["complex", "membrane", "nucleus", "organelle", "compartment", "vesicle", "lumen"],
  ["activity", "binding", "catalysis", "transporter", "kinase", "receptor", "ligand"],
];
const SHARED = ["the", "of", "a", "protein", "cell", "any", "that", "in", "ß-catenin", "Ca2+", "x"];

function corpus(seed: number, n: number, noise = 0): { texts: string[]; labels: number[] } {
  const rng = new Rng(seed);
  const texts: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = rng.int(3);
    const len = 4 + rng.int(10);
    const words = Array.from({ length: len }, () =>
      rng.next() < 0.55
        ? WORDS[c]![rng.int(7)]!
        : rng.next() < 0.15
          ? WORDS[rng.int(3)]![rng.int(7)]!
          : SHARED[rng.int(SHARED.length)]!,
    );
    texts.push(`${words.join(" ")}.`.replace(/^./, (s) => s.toUpperCase()));
    // Some labels flipped, so that regularisation matters and Cs score differently.
    labels.push(rng.next() < noise ? (c + 1 + rng.int(2)) % 3 : c);
  }
  return { texts, labels };
}

test("TF-IDF and logistic regression agree with scikit-learn", () => {
  const train = corpus(5, 120);
  const test_ = corpus(6, 40);
  const job = {
    train_texts: train.texts,
    train_labels: train.labels,
    test_texts: [...test_.texts, "nothing known here", "Kinase binding; membrane (vesicle) activity"],
    C: 1,
    tol: 1e-10,
    max_iter: 10000,
  };
  const py = spawnSync("/usr/bin/python3", [SCRIPT], { input: JSON.stringify(job), encoding: "utf8" });
  assert.equal(
    py.status,
    0,
    `scikit-learn reference failed (run scripts/setup.sh as root for python3-sklearn): ${py.stderr}`,
  );
  const ref = JSON.parse(py.stdout) as {
    features: string[];
    idf: number[];
    train_dense: number[][];
    test_dense: number[][];
    coef: number[][];
    intercept: number[];
    test_proba: number[][];
  };

  const v = new TfidfVectorizer();
  const X = v.fitTransform(job.train_texts);
  const Xt = v.transform(job.test_texts);
  assert.deepEqual(v.terms, ref.features);
  const maxDiff = (a: ArrayLike<number>, b: number[]) =>
    b.reduce((m, x, i) => Math.max(m, Math.abs(x - a[i]!)), 0);
  assert.ok(maxDiff(v.idf, ref.idf) < 1e-12, "idf");
  assert.ok(maxDiff(toDense(X), ref.train_dense.flat()) < 1e-12, "train matrix");
  assert.ok(maxDiff(toDense(Xt), ref.test_dense.flat()) < 1e-12, "test matrix");

  const model = LogisticRegression.train(X, job.train_labels, 3, { C: 1, tol: 1e-10, maxIter: 10000 });
  // scikit-learn stops on SciPy's relative-decrease test before reaching tol 1e-10, so its solution is
  // only near the optimum: ours must be at least as good on the shared objective, and close to it.
  const d = X.nCols;
  const theirs = new Float64Array(d * 3 + 3);
  for (let j = 0; j < d; j++) for (let c = 0; c < 3; c++) theirs[j * 3 + c] = ref.coef[c]![j]!;
  for (let c = 0; c < 3; c++) theirs[d * 3 + c] = ref.intercept[c]!;
  const g = new Float64Array(theirs.length);
  const fTheirs = multinomialLoss(X, job.train_labels, 3, 1, theirs, g);
  assert.ok(Math.max(...g.map(Math.abs)) < 1e-5, "scikit-learn's fit is near the optimum");
  assert.ok(model.fit.f <= fTheirs + 1e-12, `objective ${model.fit.f} vs scikit-learn's ${fTheirs}`);
  assert.ok(maxDiff(model.weights, Array.from(theirs.subarray(0, d * 3))) < 1e-4, "weights");
  const probs = model.predictProba(Xt);
  const diff = maxDiff(probs, ref.test_proba.flat());
  assert.ok(diff < 5e-5, `probabilities differ from scikit-learn's by ${diff}`);
});

test("the choice of C scores each C as scikit-learn's pipeline does on the same folds; the chosen C's test scores agree to 0.002", () => {
  const train = corpus(7, 600, 0.1);
  const test_ = corpus(8, 400, 0.1);
  const split = {
    train: train.texts.map((text, i) => ({ text, label: train.labels[i]! })),
    test: test_.texts.map((text, i) => ({ text, label: test_.labels[i]! })),
  };
  const grid = [0.03, 0.3, 3, 30];
  // Tight fits on both sides, so that only the choice and the scoring are compared.
  const ours = runBaseline(split, { seed: 3, grid, maxIter: 10000, tol: 1e-8 });
  const t = ours.tuning!;
  assert.equal(t.folds_scored, TUNE_FOLDS, "a small train set is cross-validated on every fold");
  assert.equal(t.fits, TUNE_FOLDS * grid.length);
  const accs = t.grid.map((g) => g.accuracy);
  assert.ok(Math.max(...accs) - Math.min(...accs) > 0.01, `the Cs should score differently: ${accs}`);
  assert.equal(ours.C, t.grid[accs.indexOf(Math.max(...accs))]!.C, "the best-scoring C is chosen");
  // The same call chooses the same C with the same scores.
  assert.deepEqual(runBaseline(split, { seed: 3, grid, maxIter: 10000, tol: 1e-8 }).tuning!.grid, t.grid);

  const job = {
    train_texts: train.texts,
    train_labels: train.labels,
    test_texts: test_.texts,
    test_labels: test_.labels,
    folds: Array.from(stratifiedFolds(train.labels, TUNE_FOLDS, 3)),
    folds_scored: TUNE_FOLDS,
    grid,
    C: ours.C,
    tol: 1e-10,
    max_iter: 10000,
  };
  const py = spawnSync("/usr/bin/python3", [SCRIPT], { input: JSON.stringify(job), encoding: "utf8" });
  assert.equal(py.status, 0, `scikit-learn reference failed: ${py.stderr}`);
  const ref = JSON.parse(py.stdout) as {
    grid: { C: number; accuracy: number; macro_f1: number }[];
    test_accuracy: number;
    test_macro_f1: number;
  };
  // SciPy's L-BFGS-B stops scikit-learn on its relative-decrease test short of the optimum at weak
  // regularisation, so a validation fold may differ by an example or two (120 a fold): 0.01 on the mean.
  const diffs = ref.grid.map((g, j) => [
    g.C,
    t.grid[j]!.accuracy - g.accuracy,
    t.grid[j]!.macro_f1 - g.macro_f1,
  ]);
  assert.ok(
    diffs.every(([, a, f]) => Math.abs(a!) <= 0.01 && Math.abs(f!) <= 0.01),
    `per-C differences from scikit-learn (C, accuracy, macro-F1): ${JSON.stringify(diffs)}`,
  );
  assert.ok(Math.abs(ours.accuracy - ref.test_accuracy) <= 0.002, `${ours.accuracy} vs ${ref.test_accuracy}`);
  assert.ok(Math.abs(ours.macro_f1 - ref.test_macro_f1) <= 0.002, `${ours.macro_f1} vs ${ref.test_macro_f1}`);
});

test("stratified folds: every class dealt evenly, sizes within one, the same for a seed", () => {
  const labels = Array.from({ length: 103 }, (_, i) => (i % 7 === 0 ? 2 : i % 3 === 0 ? 1 : 0));
  const f = stratifiedFolds(labels, 5, 1);
  const sizes = [0, 0, 0, 0, 0];
  for (const k of f) sizes[k]!++;
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${sizes}`);
  for (const c of [0, 1, 2]) {
    const per = [0, 0, 0, 0, 0];
    labels.forEach((l, i) => {
      if (l === c) per[f[i]!]!++;
    });
    assert.ok(Math.max(...per) - Math.min(...per) <= 1, `class ${c}: ${per}`);
  }
  assert.deepEqual(stratifiedFolds(labels, 5, 1), f);
  assert.notDeepEqual(stratifiedFolds(labels, 5, 2), f);
});
