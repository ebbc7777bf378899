import assert from "node:assert/strict";
import { test } from "node:test";
import { csrFromRows, toDense } from "../../src/baseline/sparse.js";
import { ngrams, TfidfVectorizer, tokenize } from "../../src/baseline/tfidf.js";

test("tokens are lowercased runs of two or more Unicode word characters", () => {
  assert.deepEqual(tokenize("The Ångström-scale β sheet of x_y in 3'-UTR (2 nm), ΔNp63!"), [
    "the",
    "ångström",
    "scale",
    "sheet",
    "of",
    "x_y",
    "in",
    "utr",
    "nm",
    "δnp63",
  ]);
  assert.deepEqual(ngrams("A cat sat, on a mat."), [
    "cat",
    "sat",
    "on",
    "mat",
    "cat sat",
    "sat on",
    "on mat",
  ]);
  assert.deepEqual(tokenize("a b c"), []);
});

test("TF-IDF on a three-document corpus: sorted vocabulary, smooth idf, sublinear tf, bigrams, l2 rows", () => {
  const docs = ["The cat sat.", "The cat, the cat!", "A dog sat"];
  const v = new TfidfVectorizer();
  const X = v.fitTransform(docs);
  // "a" is one character: no token, so doc 3's only bigram is "dog sat".
  assert.deepEqual(v.terms, ["cat", "cat sat", "cat the", "dog", "dog sat", "sat", "the", "the cat"]);
  const n = 3;
  const idf1 = Math.log((1 + n) / (1 + 1)) + 1; // a term in one document
  const idf2 = Math.log((1 + n) / (1 + 2)) + 1; // a term in two
  assert.deepEqual(
    Array.from(v.idf, (x) => x.toFixed(12)),
    [idf2, idf1, idf1, idf1, idf1, idf2, idf2, idf2].map((x) => x.toFixed(12)),
  );
  const dense = toDense(X);
  const row = (i: number) => Array.from(dense.subarray(i * 8, i * 8 + 8));
  const norm = (xs: number[]) => {
    const s = Math.sqrt(xs.reduce((a, x) => a + x * x, 0));
    return xs.map((x) => x / s);
  };
  const near = (a: number[], b: number[]) => {
    for (const [j, x] of a.entries()) assert.ok(Math.abs(x - b[j]!) < 1e-12, `${j}: ${x} vs ${b[j]}`);
  };
  // doc 1: cat, cat sat, sat, the, the cat once each
  near(row(0), norm([idf2, idf1, 0, 0, 0, idf2, idf2, idf2]));
  // doc 2: the ×2, cat ×2, "the cat" ×2 -> 1 + ln 2; "cat the" once
  const tf2 = 1 + Math.log(2);
  near(row(1), norm([tf2 * idf2, 0, idf1, 0, 0, 0, tf2 * idf2, tf2 * idf2]));
  near(row(2), norm([0, 0, 0, idf1, idf1, idf2, 0, 0]));
  assert.deepEqual(Array.from(X.indptr), [0, 5, 9, 12]);

  // New documents: unknown terms are ignored; a document with no known term is a zero row.
  const T = v.transform(["the dog barked", "zebra"]);
  assert.equal(T.nCols, 8);
  const t = toDense(T);
  near(Array.from(t.subarray(0, 8)), norm([0, 0, 0, idf1, 0, 0, idf2, 0]));
  assert.deepEqual(Array.from(t.subarray(8)), new Array(8).fill(0));
});

test("CSR rows come out with sorted columns", () => {
  const m = csrFromRows(
    [
      { cols: [3, 0, 2], vals: [30, 0.5, 20] },
      { cols: [], vals: [] },
      { cols: [1], vals: [7] },
    ],
    4,
  );
  assert.deepEqual(Array.from(m.indptr), [0, 3, 3, 4]);
  assert.deepEqual(Array.from(m.indices), [0, 2, 3, 1]);
  assert.deepEqual(Array.from(m.data), [0.5, 20, 30, 7]);
  assert.deepEqual(Array.from(toDense(m)), [0.5, 0, 20, 30, 0, 0, 0, 0, 0, 7, 0, 0]);
});
