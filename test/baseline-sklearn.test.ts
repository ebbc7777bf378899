/**
 * The baseline against scikit-learn itself (Debian's python3-sklearn, installed by scripts/setup.sh):
 * the same TF-IDF matrix and, fitted to a tight tolerance, the same logistic-regression probabilities.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { LogisticRegression, multinomialLoss } from "../src/baseline/logreg.js";
import { toDense } from "../src/baseline/sparse.js";
import { TfidfVectorizer } from "../src/baseline/tfidf.js";
import { Rng } from "../src/util/rng.js";

const SCRIPT = fileURLToPath(new URL("../../test/fixtures/baseline/sklearn_ref.py", import.meta.url));

// Small GO-like definitions: class words, shared words, repeats (for sublinear tf) and Unicode.
const WORDS = [
  ["process", "regulation", "pathway", "signaling", "response", "development", "metabolic"],
  ["complex", "membrane", "nucleus", "organelle", "compartment", "vesicle", "lumen"],
  ["activity", "binding", "catalysis", "transporter", "kinase", "receptor", "ligand"],
];
const SHARED = ["the", "of", "a", "protein", "cell", "any", "that", "in", "ß-catenin", "Ca2+", "x"];

function corpus(seed: number, n: number): { texts: string[]; labels: number[] } {
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
    labels.push(c);
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
