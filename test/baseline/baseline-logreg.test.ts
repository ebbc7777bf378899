import assert from "node:assert/strict";
import { test } from "node:test";
import { lbfgs } from "../../src/baseline/lbfgs.js";
import { LogisticRegression, multinomialLoss } from "../../src/baseline/logreg.js";
import { type CsrMatrix, csrFromRows } from "../../src/baseline/sparse.js";
import { Rng } from "../../src/util/rng.js";

/** A random sparse matrix with about `perRow` entries a row. */
function randomCsr(rng: Rng, rows: number, cols: number, perRow: number): CsrMatrix {
  return csrFromRows(
    Array.from({ length: rows }, () => {
      const set = new Set<number>();
      while (set.size < perRow) set.add(rng.int(cols));
      const c = [...set];
      return { cols: c, vals: c.map(() => rng.normal()) };
    }),
    cols,
  );
}

test("the loss gradient matches finite differences", () => {
  const rng = new Rng(3);
  const k = 3;
  const X = randomCsr(rng, 12, 7, 3);
  const y = Array.from({ length: 12 }, (_, i) => i % k);
  const C = 0.7;
  const p = Float64Array.from({ length: 7 * k + k }, () => 0.5 * rng.normal());
  const g = new Float64Array(p.length);
  const f = multinomialLoss(X, y, k, C, p, g);
  assert.ok(f > 0 && Number.isFinite(f));
  const scratch = new Float64Array(p.length);
  const h = 1e-6;
  for (let j = 0; j < p.length; j++) {
    const q = Float64Array.from(p);
    q[j] = p[j]! + h;
    const fp = multinomialLoss(X, y, k, C, q, scratch);
    q[j] = p[j]! - h;
    const fm = multinomialLoss(X, y, k, C, q, scratch);
    const num = (fp - fm) / (2 * h);
    assert.ok(Math.abs(num - g[j]!) < 1e-7, `param ${j}: analytic ${g[j]} vs numeric ${num}`);
  }
  // The intercept is not penalised: with X all zero, its gradient is the mean residual only.
  const Z = csrFromRows([{ cols: [], vals: [] }], 2);
  const pz = Float64Array.from([1, 2, 3, 4, 5, 6, 0, 0, 0]);
  const gz = new Float64Array(9);
  const fz = multinomialLoss(Z, [1], 3, 1, pz, gz);
  const sq = 1 + 4 + 9 + 16 + 25 + 36;
  assert.ok(Math.abs(fz - (Math.log(3) + 0.5 * sq)) < 1e-12, `${fz}`);
  assert.deepEqual(
    Array.from(gz.subarray(6), (x) => x.toFixed(12)),
    [1 / 3, 1 / 3 - 1, 1 / 3].map((x) => x.toFixed(12)),
  );
});

test("L-BFGS finds the Rosenbrock minimum", () => {
  const res = lbfgs(
    (x, g) => {
      const [a, b] = [x[0]!, x[1]!];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    },
    Float64Array.from([-1.2, 1]),
    { maxIter: 200, gtol: 1e-8 },
  );
  assert.equal(res.reason, "gtol");
  assert.ok(Math.abs(res.x[0]! - 1) < 1e-6 && Math.abs(res.x[1]! - 1) < 1e-6, `${res.x}`);
  const parabola = (x: Float64Array, g: Float64Array) => {
    g[0] = 2 * (x[0]! - 3);
    return (x[0]! - 3) ** 2 + 1;
  };
  const capped = lbfgs(parabola, Float64Array.of(0), { maxIter: 1, gtol: 0 });
  assert.equal(capped.iterations, 1);
});

test("on a separable problem the fit converges, separates the classes and its probabilities sum to 1", () => {
  const rng = new Rng(11);
  const k = 3;
  // Each class has its own ten features; every example draws three of them and one shared noise feature.
  const rows: { cols: number[]; vals: number[] }[] = [];
  const y: number[] = [];
  for (let i = 0; i < 150; i++) {
    const c = i % k;
    const cols = new Set<number>();
    while (cols.size < 3) cols.add(c * 10 + rng.int(10));
    cols.add(30 + rng.int(5));
    const cs = [...cols];
    rows.push({ cols: cs, vals: cs.map(() => 0.5 + rng.next()) });
    y.push(c);
  }
  const X = csrFromRows(rows, 35);
  const losses: number[] = [];
  const model = LogisticRegression.train(X, y, k, {
    C: 10,
    tol: 1e-6,
    maxIter: 500,
    onIteration: (_, f) => losses.push(f),
  });
  assert.ok(model.fit.converged, JSON.stringify(model.fit));
  assert.equal(losses.length, model.fit.iterations);
  for (let i = 1; i < losses.length; i++) assert.ok(losses[i]! <= losses[i - 1]!, "the loss never rises");
  const grad = new Float64Array(35 * k + k);
  multinomialLoss(X, y, k, 10, Float64Array.from([...model.weights, ...model.intercept]), grad);
  assert.ok(Math.max(...grad.map(Math.abs)) <= 1e-6, "gradient below tol at the solution");
  const probs = model.predictProba(X);
  const pred = LogisticRegression.argmax(probs, k);
  assert.deepEqual(Array.from(pred), y);
  for (let i = 0; i < 150; i++) {
    const row = probs.subarray(i * k, i * k + k);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok(row.every((v) => v > 0 && v < 1));
    assert.ok(row[y[i]!]! > 0.5, `example ${i}: ${row}`);
  }
  // An unseen example made of class 2's features goes to class 2.
  const probe = csrFromRows([{ cols: [21, 25, 28], vals: [1, 1, 1] }], 35);
  assert.equal(LogisticRegression.argmax(model.predictProba(probe), k)[0], 2);
});
