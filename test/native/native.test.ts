import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  adamwUpdate,
  addon,
  getThreads,
  scaleInPlace,
  setThreads,
  sumSquares,
} from "../../src/native/index.js";
import { Rng } from "../../src/util/rng.js";

const k = addon();

function randn(n: number, rng: Rng, s = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * s;
  return a;
}

/** bf16 values widened to the float32 they stand for. */
const widen = (h: Uint16Array) => new Float32Array(Uint32Array.from(h, (v) => v << 16).buffer);

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= tol * (1 + Math.abs(want[i])))) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/** Row-major reference product with transposes, leading dimensions and offsets, in double. */
function refGemm(
  ta: boolean,
  tb: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  oa: number,
  lda: number,
  B: Float32Array,
  ob: number,
  ldb: number,
  beta: number,
  C: Float32Array,
  oc: number,
  ldc: number,
): void {
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) {
        const a = ta ? A[oa + p * lda + i] : A[oa + i * lda + p];
        const b = tb ? B[ob + j * ldb + p] : B[ob + p * ldb + j];
        s += a * b;
      }
      C[oc + i * ldc + j] = alpha * s + beta * C[oc + i * ldc + j];
    }
}

test("sgemm honours transposes, leading dimensions, offsets, alpha and beta", () => {
  const rng = new Rng(1);
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    const M = 5,
      N = 7,
      K = 3,
      lda = (ta ? M : K) + 2,
      ldb = (tb ? K : N) + 1,
      ldc = N + 3;
    const A = randn(4 + lda * (ta ? K : M), rng),
      B = randn(2 + ldb * (tb ? N : K), rng);
    const C = randn(1 + ldc * M, rng),
      want = C.slice();
    k.sgemm(ta, tb, M, N, K, 0.5, A, 4, lda, B, 2, ldb, 0.25, C, 1, ldc);
    refGemm(ta, tb, M, N, K, 0.5, A, 4, lda, B, 2, ldb, 0.25, want, 1, ldc);
    assertClose(C, want, 1e-5, `sgemm ta=${ta} tb=${tb}`);
  }
  // A view with a byte offset is read from its own start.
  const buf = randn(20, rng),
    view = buf.subarray(4, 10),
    out = new Float32Array(1);
  k.sgemm(false, false, 1, 1, 6, 1, view, 0, 6, new Float32Array(6).fill(1), 0, 1, 0, out, 0, 1);
  assertClose(out, [view.reduce((s, x) => s + x, 0)], 1e-5, "subarray");
  assert.throws(
    () =>
      k.sgemm(
        false,
        false,
        4,
        4,
        4,
        1,
        new Float32Array(15),
        0,
        4,
        new Float32Array(16),
        0,
        4,
        0,
        new Float32Array(16),
        0,
        4,
      ),
    RangeError,
  );
});

test("large sgemm split over threads (by rows and by columns) equals the reference, on both libraries", () => {
  const rng = new Rng(11);
  const rule0 = k.blasInfo().onednnMinFlops;
  for (const [M, N, K] of [
    [130, 97, 100],
    [33, 260, 130],
  ]) {
    for (const [ta, tb] of [
      [false, true],
      [true, false],
      [false, false],
    ] as const) {
      const lda = (ta ? M : K) + 1,
        ldb = (tb ? K : N) + 2,
        ldc = N + 3;
      const A = randn(3 + lda * (ta ? K : M), rng),
        B = randn(ldb * (tb ? N : K), rng);
      const C0 = randn(2 + ldc * M, rng),
        want = C0.slice();
      refGemm(ta, tb, M, N, K, 1, A, 3, lda, B, 0, ldb, 1, want, 2, ldc);
      for (const mode of [0, 1])
        for (const rule of [-1, 0]) {
          k.setGemmMode(mode);
          k.setGemmRule(rule); // OpenBLAS, then oneDNN
          const C = C0.slice();
          k.sgemm(ta, tb, M, N, K, 1, A, 3, lda, B, 0, ldb, 1, C, 2, ldc);
          assertClose(C, want, 1e-4, `${M}x${N}x${K} ta=${ta} tb=${tb} mode ${mode} rule ${rule}`);
        }
    }
  }
  k.setGemmMode(1);
  k.setGemmRule(rule0);
  const x = new Float32Array(12);
  k.fillRows(x, Float32Array.of(1, 2, 3), 4, 3);
  assert.deepEqual([...x], [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
});

test("sgemmBatched runs every (i, j) product of a two-level batch", () => {
  const rng = new Rng(2);
  const B = 3,
    nh = 2,
    T = 4,
    d = 3,
    H = nh * d;
  const Q = randn(B * T * H, rng),
    K = randn(B * T * H, rng);
  for (const threads of [1, 2]) {
    setThreads(threads);
    const S = new Float32Array(B * nh * T * T),
      want = new Float32Array(B * nh * T * T);
    k.sgemmBatched(
      false,
      true,
      T,
      T,
      d,
      0.5,
      Q,
      0,
      H,
      T * H,
      d,
      K,
      0,
      H,
      T * H,
      d,
      0,
      S,
      0,
      T,
      nh * T * T,
      T * T,
      B,
      nh,
    );
    for (let b = 0; b < B; b++)
      for (let h = 0; h < nh; h++)
        refGemm(
          false,
          true,
          T,
          T,
          d,
          0.5,
          Q,
          b * T * H + h * d,
          H,
          K,
          b * T * H + h * d,
          H,
          0,
          want,
          (b * nh + h) * T * T,
          T,
        );
    assertClose(S, want, 1e-5, `batched, ${threads} threads`);
  }
  setThreads(2);
});

test("embeddings gather-sum forward and scatter-add backward with touched rows", () => {
  const rng = new Rng(3);
  const V = 10,
    P = 6,
    TV = 2,
    H = 4,
    B = 2,
    T = 3;
  const word = randn(V * H, rng),
    pos = randn(P * H, rng),
    type = randn(TV * H, rng);
  const ids = Int32Array.from([5, 0, 5, 9, 2, 0]),
    types = Int32Array.from([0, 0, 1, 1, 0, 1]);
  const out = new Float32Array(B * T * H);
  k.embeddingsForward(word, pos, type, ids, types, out, B, T, H);
  for (let r = 0; r < B * T; r++)
    for (let h = 0; h < H; h++)
      assert.ok(
        Math.abs(out[r * H + h] - (word[ids[r] * H + h] + pos[(r % T) * H + h] + type[types[r] * H + h])) <
          1e-6,
      );
  const dout = randn(B * T * H, rng);
  const dWord = new Float32Array(V * H),
    dPos = new Float32Array(P * H),
    dType = new Float32Array(TV * H);
  const touched = new Int32Array(B * T);
  const n = k.embeddingsBackward(dout, dWord, dPos, dType, ids, types, B, T, H, 0, touched);
  assert.deepEqual([...touched.subarray(0, n)], [2, 5, 9]);
  const wantWord = new Float64Array(V * H),
    wantPos = new Float64Array(P * H),
    wantType = new Float64Array(TV * H);
  for (let r = 0; r < B * T; r++)
    for (let h = 0; h < H; h++) {
      if (ids[r] !== 0) wantWord[ids[r] * H + h] += dout[r * H + h];
      wantPos[(r % T) * H + h] += dout[r * H + h];
      wantType[types[r] * H + h] += dout[r * H + h];
    }
  assertClose(dWord, wantWord, 1e-6, "dWord (padding row 0 gets nothing)");
  assertClose(dPos, wantPos, 1e-6, "dPos");
  assertClose(dType, wantType, 1e-6, "dType");
  k.zeroRows(dWord, touched, n, H);
  assert.ok(dWord.every((x) => x === 0));
  assert.throws(
    () => k.embeddingsForward(word, pos, type, Int32Array.from([1, 2, 10, 0, 0, 0]), types, out, B, T, H),
    /token id 10 at position 2/,
  );
});

/** Finite-difference check of a kernel's backward: L = sum(w * f(x)) in double around x. */
function numericGrad(
  f: (x: Float32Array) => Float32Array,
  x: Float32Array,
  w: Float32Array,
  eps = 1e-2,
): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps;
    const yp = f(x);
    let lp = 0;
    for (let j = 0; j < yp.length; j++) lp += w[j] * yp[j];
    x[i] = keep - eps;
    const ym = f(x);
    let lm = 0;
    for (let j = 0; j < ym.length; j++) lm += w[j] * ym[j];
    x[i] = keep;
    g[i] = (lp - lm) / (2 * eps);
  }
  return g;
}

test("layerNorm forward matches the definition and backward matches finite differences", () => {
  const rng = new Rng(4);
  const N = 3,
    H = 8,
    eps = 1e-12;
  const x = randn(N * H, rng),
    gamma = randn(H, rng),
    beta = randn(H, rng);
  const out = new Float32Array(N * H),
    mean = new Float32Array(N),
    rstd = new Float32Array(N);
  k.layerNormForward(x, gamma, beta, out, mean, rstd, N, H, eps);
  for (let r = 0; r < N; r++) {
    const row = [...x.subarray(r * H, (r + 1) * H)];
    const m = row.reduce((s, v) => s + v, 0) / H;
    const v = row.reduce((s, u) => s + (u - m) ** 2, 0) / H;
    for (let h = 0; h < H; h++)
      assert.ok(Math.abs(out[r * H + h] - ((row[h] - m) / Math.sqrt(v + eps)) * gamma[h] - beta[h]) < 1e-5);
  }
  const w = randn(N * H, rng);
  const dx = new Float32Array(N * H),
    dgamma = new Float32Array(H),
    dbeta = new Float32Array(H);
  k.layerNormBackward(w, x, gamma, mean, rstd, dx, dgamma, dbeta, N, H, false);
  const fwd = (xx: Float32Array) => {
    const o = new Float32Array(N * H);
    k.layerNormForward(xx, gamma, beta, o, new Float32Array(N), new Float32Array(N), N, H, eps);
    return o;
  };
  assertClose(dx, numericGrad(fwd, x, w), 2e-2, "dx");
  const fwdG = (g: Float32Array) => {
    const o = new Float32Array(N * H);
    k.layerNormForward(x, g, beta, o, new Float32Array(N), new Float32Array(N), N, H, eps);
    return o;
  };
  assertClose(dgamma, numericGrad(fwdG, gamma, w), 2e-2, "dgamma");
  const db = new Float64Array(H);
  for (let r = 0; r < N; r++) for (let h = 0; h < H; h++) db[h] += w[r * H + h];
  assertClose(dbeta, db, 1e-5, "dbeta");
  // accumulate adds to what is there
  const dx2 = new Float32Array(N * H).fill(1);
  k.layerNormBackward(w, x, gamma, mean, rstd, dx2, new Float32Array(H), new Float32Array(H), N, H, true);
  assertClose(
    dx2,
    Array.from(dx, (v) => v + 1),
    1e-5,
    "accumulated dx",
  );
});

/** erf to 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), for checking the kernel's GELU. */
function erf(x: number): number {
  const z = Math.abs(x),
    t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

test("erf GELU and tanh, forward and backward", () => {
  const rng = new Rng(5);
  const n = 50000; // above the parallel threshold
  const x = randn(n, rng, 3),
    y = new Float32Array(n);
  k.geluForward(x, y, n);
  for (let i = 0; i < n; i += 97)
    assert.ok(Math.abs(y[i] - 0.5 * x[i] * (1 + erf(x[i] / Math.SQRT2))) < 1e-5, `gelu(${x[i]})`);
  const small = randn(40, rng, 2),
    w = randn(40, rng),
    d = new Float32Array(40);
  k.geluBackward(w, small, d, 40);
  const gelu = (xx: Float32Array) => {
    const o = new Float32Array(xx.length);
    k.geluForward(xx, o, xx.length);
    return o;
  };
  assertClose(d, numericGrad(gelu, small, w, 1e-2), 1e-2, "gelu'");
  const t = new Float32Array(40),
    dt = new Float32Array(40);
  k.tanhForward(small, t, 40);
  for (let i = 0; i < 40; i++) assert.ok(Math.abs(t[i] - Math.tanh(small[i])) < 1e-6);
  k.tanhBackward(w, t, dt, 40);
  for (let i = 0; i < 40; i++) assert.ok(Math.abs(dt[i] - w[i] * (1 - Math.tanh(small[i]) ** 2)) < 1e-5);
});

test("dropout is seeded, independent of threads, scales kept values, and its backward reuses the mask", () => {
  const n = 100000,
    p = 0.1;
  const x = new Float32Array(n).fill(1),
    a = new Float32Array(n),
    b = new Float32Array(n);
  setThreads(1);
  k.dropout(x, a, n, p, 7);
  setThreads(2);
  k.dropout(x, b, n, p, 7);
  assert.deepEqual(a, b);
  const kept = a.filter((v) => v !== 0);
  assert.ok(Math.abs(1 - kept.length / n - p) < 0.01, `drop rate ${1 - kept.length / n}`);
  assert.ok(kept.every((v) => Math.abs(v - 1 / (1 - p)) < 1e-6));
  k.dropout(x, b, n, p, 8);
  assert.notDeepEqual(a, b);
  const g = new Float32Array(n).fill(2),
    dg = new Float32Array(n);
  k.dropout(g, dg, n, p, 7);
  for (let i = 0; i < n; i += 13) assert.equal(dg[i], a[i] * 2);
  const res = new Float32Array(n).fill(5);
  k.dropout(x, b, n, p, 7, res);
  for (let i = 0; i < n; i += 13) assert.ok(Math.abs(b[i] - (a[i] + 5)) < 1e-6);
});

test("attention softmax with scale and additive mask, and its backward", () => {
  const rng = new Rng(6);
  const B = 2,
    per = 3,
    R = B * per;
  // Rows within a vector, at and across its 16 lanes, and past what the vector path holds in registers.
  for (const n of [5, 16, 17, 36, 600]) {
    const s = randn(R * n, rng, 3),
      mask = new Float32Array(B * n);
    mask[n - 1] = -3.4028234663852886e38; // last key of example 0 is padding
    const p = new Float32Array(R * n);
    k.softmaxForward(s, mask, p, R, n, per, 0.5);
    for (let r = 0; r < R; r++) {
      const b = Math.floor(r / per);
      const e = Array.from({ length: n }, (_, j) => Math.exp(0.5 * s[r * n + j] + mask[b * n + j]));
      const z = e.reduce((u, v) => u + v, 0);
      for (let j = 0; j < n; j++)
        assert.ok(Math.abs(p[r * n + j] - e[j] / z) < 1e-6, `row of ${n}, column ${j}`);
      if (b === 0) assert.equal(p[r * n + n - 1], 0);
    }
  }
  const Tk = 5;
  const s = randn(R * Tk, rng),
    mask = new Float32Array(B * Tk);
  mask[4] = -3.4028234663852886e38;
  const p = new Float32Array(R * Tk);
  k.softmaxForward(s, mask, p, R, Tk, per, 0.5);
  const w = randn(R * Tk, rng),
    ds = new Float32Array(R * Tk);
  k.softmaxBackward(w, p, ds, R, Tk, 0.5);
  const f = (xx: Float32Array) => {
    const o = new Float32Array(R * Tk);
    k.softmaxForward(xx, mask, o, R, Tk, per, 0.5);
    return o;
  };
  assertClose(ds, numericGrad(f, s, w, 1e-2), 1e-2, "softmax'");
});

test("attentionPacked: per sequence and head, softmax(scale · q kᵀ) v at the sequence's own length", () => {
  const rng = new Rng(16);
  const nh = 3,
    d = 4,
    W = nh * d,
    ldq = 2 * W + 1, // q's rows are wider than its heads
    ldkv = 3 * W;
  // (query row, query count, key row, key count): whole sequences of 1, 5 and 20 tokens, and one query alone.
  const seqs = Int32Array.from([0, 1, 0, 1, 1, 5, 1, 5, 6, 20, 6, 20, 26, 1, 6, 20]);
  const rows = 27;
  const q = randn(rows * ldq, rng),
    kv = randn(26 * ldkv, rng),
    ctx = new Float32Array(rows * W).fill(Number.NaN);
  const offQ = 1,
    offK = W,
    offV = 2 * W;
  k.attentionPacked(ctx, W, q, offQ, ldq, kv, offK, offV, ldkv, seqs, 4, nh, d, 0.5);
  for (let s = 0; s < 4; s++) {
    const [q0, Tq, k0, T] = seqs.subarray(4 * s, 4 * s + 4) as unknown as number[];
    for (let i = 0; i < Tq; i++)
      for (let h = 0; h < nh; h++) {
        const dot = (j: number) => {
          let v = 0;
          for (let c = 0; c < d; c++)
            v += q[offQ + (q0 + i) * ldq + h * d + c] * kv[offK + (k0 + j) * ldkv + h * d + c];
          return Math.exp(0.5 * v);
        };
        const e = Array.from({ length: T }, (_, j) => dot(j)),
          z = e.reduce((u, v) => u + v, 0);
        for (let c = 0; c < d; c++) {
          let want = 0;
          for (let j = 0; j < T; j++) want += (e[j] / z) * kv[offV + (k0 + j) * ldkv + h * d + c];
          const got = ctx[(q0 + i) * W + h * d + c];
          assert.ok(Math.abs(got - want) < 1e-5, `sequence ${s}, query ${i}, head ${h}: ${got} vs ${want}`);
        }
      }
  }
  const run = (bad: number[]) =>
    k.attentionPacked(ctx, W, q, offQ, ldq, kv, offK, offV, ldkv, Int32Array.from(bad), 1, nh, d, 0.5);
  assert.throws(() => run([0, 1, 20, 7]), /kv is too small/); // keys past kv's last row
  assert.throws(() => run([27, 1, 0, 1]), /q is too small/);
  assert.throws(() => run([0, 0, 0, 1]), /no queries or keys/);
  assert.throws(() => run([-1, 1, 0, 1]), /negative row/);
  assert.throws(
    () => k.attentionPacked(ctx, W, q, 0, ldq, kv, 2 * W + 1, offV, ldkv, seqs, 4, nh, d, 0.5),
    /past a row/,
  );
});

test("cross-entropy: mean over rows not labelled -100, and its gradient", () => {
  const rng = new Rng(7);
  const N = 4,
    C = 5;
  const x = randn(N * C, rng, 2),
    labels = Int32Array.from([1, -100, 4, 0]);
  const [loss, count] = k.crossEntropyForward(x, labels, N, C);
  assert.equal(count, 3);
  let want = 0;
  for (const r of [0, 2, 3]) {
    const row = [...x.subarray(r * C, (r + 1) * C)];
    want += Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[labels[r]];
  }
  assert.ok(Math.abs(loss - want / 3) < 1e-5);
  const d = new Float32Array(N * C);
  k.crossEntropyBackward(x, labels, d, N, C, 1 / 3);
  const f = (xx: Float32Array) => Float32Array.of(k.crossEntropyForward(xx, labels, N, C)[0]);
  assertClose(d, numericGrad(f, x, Float32Array.of(1), 1e-2), 1e-2, "dlogits");
  assert.ok(d.subarray(C, 2 * C).every((v) => v === 0));
  assert.throws(() => k.crossEntropyForward(x, Int32Array.from([1, 5, 0, 0]), N, C), /label 5 at row 1/);
});

test("adamwUpdate follows torch.optim.AdamW, densely and by rows", () => {
  const rng = new Rng(8);
  const rows = 6,
    len = 5,
    n = rows * len;
  const p0 = randn(n, rng),
    g = randn(n, rng);
  const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1, gradScale: 0.5 };
  const p = p0.slice(),
    m = new Float32Array(n),
    v = new Float32Array(n);
  const rp = new Float64Array(p0),
    rm = new Float64Array(n),
    rv = new Float64Array(n);
  for (let step = 1; step <= 3; step++) {
    adamwUpdate(p, g, m, v, { ...h, step });
    for (let i = 0; i < n; i++) {
      const gi = g[i] * h.gradScale;
      rp[i] *= 1 - h.lr * h.weightDecay;
      rm[i] = h.beta1 * rm[i] + (1 - h.beta1) * gi;
      rv[i] = h.beta2 * rv[i] + (1 - h.beta2) * gi * gi;
      rp[i] -=
        ((h.lr / (1 - h.beta1 ** step)) * rm[i]) /
        (Math.sqrt(rv[i]) / Math.sqrt(1 - h.beta2 ** step) + h.eps);
    }
  }
  assertClose(p, rp, 1e-5, "param");
  assertClose(m, rm, 1e-5, "m");
  assertClose(v, rv, 1e-5, "v");
  const q = p0.slice(),
    qm = new Float32Array(n),
    qv = new Float32Array(n);
  adamwUpdate(q, g, qm, qv, h, Int32Array.from([1, 4]), len);
  const d = p0.slice(),
    dm = new Float32Array(n),
    dv = new Float32Array(n);
  adamwUpdate(d, g, dm, dv, h);
  for (let r = 0; r < rows; r++) {
    const span = [r * len, (r + 1) * len] as const;
    if (r === 1 || r === 4) assert.deepEqual(q.subarray(...span), d.subarray(...span));
    else assert.deepEqual(q.subarray(...span), p0.subarray(...span));
  }
});

test("sumSquares, scaleInPlace and the thread count", () => {
  const rng = new Rng(9);
  const x = randn(100003, rng);
  let want = 0;
  for (const v of x) want += v * v;
  assert.ok(Math.abs(sumSquares(x) - want) < 1e-9 * want);
  assert.ok(
    Math.abs(sumSquares(x.subarray(3, 10)) - [...x.subarray(3, 10)].reduce((s, v) => s + v * v, 0)) < 1e-9,
  );
  const y = x.slice();
  scaleInPlace(y, 0.5);
  for (let i = 0; i < x.length; i += 101) assert.equal(y[i], x[i] * 0.5);
  setThreads(1);
  assert.equal(getThreads(), 1);
  setThreads(2);
  assert.equal(getThreads(), 2);
  assert.throws(() => setThreads(0), RangeError);
});

test("a checkout without the built addon gets one line saying to run scripts/setup.sh", async () => {
  // A copy of the loader in a fresh tree (binding.gyp but no build/) must fail cleanly on first use.
  const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const root = await mkdtemp(join(tmpdir(), "gotune-noaddon-"));
  await writeFile(join(root, "binding.gyp"), "{}");
  await writeFile(join(root, "package.json"), '{"type":"module"}');
  for (const f of ["src/native/index.js", "src/util/errors.js"]) {
    await mkdir(dirname(join(root, f)), { recursive: true });
    await copyFile(join(dist, f), join(root, f));
  }
  const loader = (await import(
    join(root, "src/native/index.js")
  )) as typeof import("../../src/native/index.js");
  const errors = (await import(
    join(root, "src/util/errors.js")
  )) as typeof import("../../src/util/errors.js");
  assert.throws(
    () => loader.getThreads(),
    (e: unknown) =>
      e instanceof errors.UserError &&
      /native addon is not built/.test(e.message) &&
      /run scripts\/setup.sh/.test(e.toLine()),
  );
});

test("fused bias+GELU and bias+dropout+residual+LayerNorm equal their unfused kernels", () => {
  const rng = new Rng(12);
  const N = 130,
    H = 256,
    n = N * H; // above the parallel threshold
  const y = randn(n, rng),
    bias = randn(H, rng),
    res = randn(n, rng),
    gamma = randn(H, rng),
    beta = randn(H, rng);
  // bias + GELU: pre keeps y + bias, out its GELU; without pre, out alone
  const pre = new Float32Array(n),
    out = new Float32Array(n),
    want = y.slice();
  k.biasGeluForward(y, bias, pre, out, N, H);
  k.addBias(want, bias, N, H);
  assert.deepEqual(pre, want);
  const g = new Float32Array(n);
  k.geluForward(want, g, n);
  assert.deepEqual(out, g);
  const out2 = new Float32Array(n);
  k.biasGeluForward(y, bias, null, out2, N, H);
  assert.deepEqual(out2, g);
  // LayerNorm(dropout(y + bias) + res), with and without dropout, the sum written over y's copy
  for (const p of [0, 0.1]) {
    const yb = y.slice();
    k.addBias(yb, bias, N, H);
    const sum = new Float32Array(n);
    if (p > 0) k.dropout(yb, sum, n, p, 99, res);
    else k.add(yb, res, sum, n);
    const wantOut = new Float32Array(n),
      wm = new Float32Array(N),
      wr = new Float32Array(N);
    k.layerNormForward(sum, gamma, beta, wantOut, wm, wr, N, H, 1e-12);
    const yy = y.slice(),
      got = new Float32Array(n),
      m = new Float32Array(N),
      r = new Float32Array(N);
    k.residualLayerNormForward(yy, bias, res, yy, gamma, beta, got, m, r, N, H, 1e-12, p, 99);
    assertClose(yy, sum, 1e-6, `sum, p ${p}`);
    assertClose(got, wantOut, 1e-5, `out, p ${p}`);
    assertClose(r, wr, 1e-5, `rstd, p ${p}`);
  }
  assert.throws(
    () =>
      k.residualLayerNormForward(
        y,
        bias,
        res.subarray(1),
        y,
        gamma,
        beta,
        out,
        new Float32Array(N),
        new Float32Array(N),
        N,
        H,
        1e-12,
        0,
        0,
      ),
    RangeError,
  );
});

test("bf16 products: fp32 accumulation of bf16-rounded operands, where the CPU has them", (t) => {
  if (!k.blasInfo().bf16) {
    t.skip("no AVX512-BF16 or AMX on this CPU");
    return;
  }
  const rng = new Rng(13);
  const M = 37,
    N = 70,
    K = 129;
  const A = randn(M * K, rng),
    B = randn(N * K, rng);
  const a = new Uint16Array(M * K),
    b = new Uint16Array(N * K);
  k.toBf16(A, a, M * K);
  k.toBf16(B, b, N * K);
  const Ar = widen(a),
    Br = widen(b);
  for (let i = 0; i < M * K; i++) assert.ok(Math.abs(Ar[i] - A[i]) <= Math.abs(A[i]) * 2 ** -8);
  const C = randn(M * N, rng),
    want = C.slice();
  k.gemmBf16(false, true, M, N, K, 0.5, a, 0, K, b, 0, K, 1, C, 0, N);
  refGemm(false, true, M, N, K, 0.5, Ar, 0, K, Br, 0, K, 1, want, 0, N);
  assertClose(C, want, 1e-4, "bf16 gemm");
  assert.throws(
    () => k.gemmBf16(false, true, M, N, K, 1, a.subarray(1), 0, K, b, 0, K, 0, C, 0, N),
    RangeError,
  );
});

/** Rounds half to even, as the kernels' nearbyint does. */
const roundEven = (v: number) => {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
const f = Math.fround;
const geluRef = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

/**
 * The int8 inputs' range [0, QIN] on this CPU as oneDNN runs it: 255 with VNNI or AMX, 127 where its
 * kernels sum pairs of products in saturating 16 bits (AVX2).
 */
const QIN = k.blasInfo().int8InputMax;

/** W [N, K] quantised per row by a plain loop in float32 arithmetic: s8 bytes, scales, row sums. */
function quantizeRef(W: Float32Array, N: number, K: number) {
  const q = new Int8Array(N * K),
    ws = new Float32Array(N),
    wsum = new Int32Array(N);
  for (let o = 0; o < N; o++) {
    let m = 0;
    for (let i = 0; i < K; i++) m = Math.max(m, Math.abs(W[o * K + i]!));
    const s = f(m > 0 ? m / 127 : 1);
    ws[o] = s;
    for (let i = 0; i < K; i++) {
      q[o * K + i] = Math.max(-127, Math.min(127, roundEven(f(W[o * K + i]! / s))));
      wsum[o] += q[o * K + i]!;
    }
  }
  return { q, ws, wsum };
}

/**
 * The packed product by plain loops, in double: y [M, N] = x · Wᵀ + bias, then GELU. int8 quantises each
 * row of x to u8 with a zero point and W per row to s8, sums in integers, then dequantises; bf16 rounds
 * both operands to bf16 first.
 */
function refPacked(
  type: "fp32" | "bf16" | "int8",
  M: number,
  N: number,
  K: number,
  x: Float32Array,
  offX: number,
  ldx: number,
  W: Float32Array,
  bias: Float32Array | null,
  gelu: boolean,
): Float32Array {
  const y = new Float32Array(M * N);
  const round = (a: Float32Array) => {
    const h = new Uint16Array(a.length);
    k.toBf16(a, h, a.length);
    return widen(h);
  };
  const Wr = type === "bf16" ? round(W) : W;
  const { q, ws, wsum } = quantizeRef(W, N, K);
  for (let m = 0; m < M; m++) {
    const row = x.subarray(offX + m * ldx, offX + m * ldx + K);
    const r = type === "bf16" ? round(row) : row;
    const lo = Math.min(0, ...row),
      hi = Math.max(0, ...row);
    const s = f(hi > lo ? (hi - lo) / QIN : 1),
      z = Math.max(0, Math.min(QIN, roundEven(f(-lo / s)))),
      inv = f(1 / s);
    const xq = Array.from(row, (v) => Math.max(0, Math.min(QIN, roundEven(f(v * inv)) + z)));
    for (let n = 0; n < N; n++) {
      let acc = 0;
      if (type === "int8") {
        for (let i = 0; i < K; i++) acc += xq[i]! * q[n * K + i]!;
        acc = s * ws[n]! * (acc - z * wsum[n]!);
      } else for (let i = 0; i < K; i++) acc += r[i]! * Wr[n * K + i]!;
      const v = acc + (bias ? bias[n]! : 0);
      y[m * N + n] = gelu ? geluRef(v) : v;
    }
  }
  return y;
}

/**
 * The int8 product y [M, N] (with the bias) against the fp32 product: within the rounding of both operands,
 * half a quantisation step of each, per term.
 */
function int8WithinBound(
  y: Float32Array,
  x: Float32Array,
  offX: number,
  ldx: number,
  W: Float32Array,
  bias: Float32Array,
  M: number,
  N: number,
  K: number,
): void {
  const { ws } = quantizeRef(W, N, K);
  for (let m = 0; m < M; m++) {
    const row = x.subarray(offX + m * ldx, offX + m * ldx + K);
    const sx = (Math.max(0, ...row) - Math.min(0, ...row)) / QIN;
    for (let n = 0; n < N; n++) {
      let exact = bias[n]!,
        bound = 0;
      for (let i = 0; i < K; i++) {
        const w = W[n * K + i]!,
          v = row[i]!;
        exact += v * w;
        bound += (sx / 2) * Math.abs(w) + (ws[n]! / 2) * Math.abs(v) + (sx * ws[n]!) / 4;
      }
      assert.ok(
        Math.abs(y[m * N + n]! - exact) <= bound * 1.001 + 1e-5,
        `int8 y[${m}, ${n}] = ${y[m * N + n]} outside the bound ${bound} of ${exact}`,
      );
    }
  }
}

// The worst case for 16-bit pair sums: every input at the top of its u8 range against every weight at the
// top of its s8 range (127). VNNI sums in 32 bits; without it (AVX2) oneDNN's vpmaddubsw saturates a pair
// at 32,767, which 7-bit inputs keep clear of: 255s would come out at about half of the product.
test("int8 products do not saturate: inputs at the top of their range against the largest weights", {
  skip: !k.blasInfo().int8,
}, () => {
  const N = 8,
    K = 256,
    M = 4;
  const W = new Float32Array(N * K).fill(1);
  for (let n = 0; n < N; n++) if (n % 2) W.fill(-1, n * K, (n + 1) * K); // rows of +1 and of -1
  const x = new Float32Array(M * K).fill(2);
  const w = k.packLinear(2, W, null, N, K, false);
  const y = new Float32Array(M * N);
  k.packedForward(w, M, x, 0, K, y);
  for (let i = 0; i < M * N; i++) {
    const want = ((i % N) % 2 ? -2 : 2) * K;
    assert.ok(Math.abs(y[i]! - want) <= 1e-3 * K, `y[${i}] = ${y[i]}, want ${want}`);
  }
});

// One set of packed weights over many M in a row (below 64, on a bucket, off it; x strided and read past
// its view; y exact, so the product runs on a padded copy, or with the bucket's rows, in place), each
// against the plain loop: catches a primitive run with another M's rows or a layout packed wrong.
test("packed products (fp32, bf16, int8; bias, GELU) over varying M match the plain loops", (t) => {
  const types = (["fp32", "bf16", "int8"] as const).filter((d) => d === "fp32" || k.blasInfo()[d]);
  if (types.length < 3) t.diagnostic(`testing ${types.join(", ")} only: the CPU lacks the others`);
  const rng = new Rng(23);
  const N = 40,
    K = 72,
    ldx = K + 3,
    offX = 5;
  const W = randn(N * K, rng, 0.1),
    bias = randn(N, rng);
  for (const [ti, type] of types.entries())
    for (const gelu of [false, true]) {
      const withBias = gelu || type !== "bf16"; // bf16 also runs without a bias
      const w = k.packLinear(ti === 0 ? 0 : type === "bf16" ? 1 : 2, W, withBias ? bias : null, N, K, gelu);
      const tol = type === "int8" ? 1e-5 : 1e-4;
      for (const [i, M] of [3, 70, 100, 70, 130, 97, 64, 200, 65, 1].entries()) {
        const store = randn(offX + M * ldx + 4 * ldx, rng); // rows past M readable in x's buffer
        const x = store.subarray(0, offX + (M - 1) * ldx + K);
        // A row without negatives and one of zeros: the int8 zero point at both ends of its range.
        if (M > 2) for (let j = 0; j < K; j++) x[offX + ldx + j] = Math.abs(x[offX + ldx + j]!);
        if (M > 3) x.fill(0, offX + 2 * ldx, offX + 2 * ldx + K);
        const want = refPacked(type, M, N, K, x, offX, ldx, W, withBias ? bias : null, gelu);
        const exact = new Float32Array(M * N);
        k.packedForward(w, M, x, offX, ldx, exact);
        assertClose(exact, want, tol, `${type}${gelu ? " GELU" : ""}, call ${i}, M ${M}, y exact`);
        if (type === "int8" && !gelu) int8WithinBound(exact, x, offX, ldx, W, bias, M, N, K);
        const rows = k.packedRows(M);
        assert.ok(rows >= M && (M >= 64 || rows === M), `packedRows(${M}) = ${rows}`);
        const roomy = new Float32Array(rows * N).fill(Number.NaN);
        k.packedForward(w, M, x, offX, ldx, roomy);
        assertClose(
          roomy.subarray(0, M * N),
          want,
          tol,
          `${type}${gelu ? " GELU" : ""}, call ${i}, M ${M}, in place`,
        );
      }
    }
  // Wrong arguments are errors, never stray reads or writes.
  const w = k.packLinear(0, W, bias, N, K, false);
  const x = randn(10 * K, rng),
    y = new Float32Array(10 * N);
  assert.throws(() => k.packedForward({} as never, 10, x, 0, K, y), TypeError);
  assert.throws(() => k.packedForward(w, 10, x.subarray(1), 0, K, y), RangeError);
  assert.throws(() => k.packedForward(w, 10, x, 0, K, y.subarray(1)), RangeError);
  assert.throws(() => k.packedForward(w, 10, x, 0, K - 1, y), RangeError);
  assert.throws(() => k.packLinear(0, W.subarray(1), bias, N, K, false), RangeError);
  assert.throws(() => k.packLinear(0, W, bias.subarray(1), N, K, false), RangeError);
  assert.throws(() => k.packLinear(3, W, bias, N, K, false), RangeError);
});

// The bf16 products keep oneDNN primitives per shape and reuse them across M (padded to a bucket,
// chunked, or exact): one set of weights over many M in a row, each against the plain loop, catches a
// primitive run with another M's rows.
test("bf16 products over varying M with the same weights match the plain loop each time", (t) => {
  if (!k.blasInfo().bf16) {
    t.skip("no AVX512-BF16 on this CPU");
    return;
  }
  const rng = new Rng(23);
  const N = 40,
    K = 72,
    ldc = N + 3;
  const b = new Uint16Array(N * K);
  k.toBf16(randn(N * K, rng), b, N * K);
  const Br = widen(b);
  const Ms = [3, 70, 100, 70, 130, 97, 64, 200, 65, ...Array(9).fill(80)];
  for (const [i, M] of Ms.entries()) {
    for (const ta of [false, true]) {
      // A is [M, K] (or [K, M] read transposed), C [M, ldc] with a gap after each row, beta 0.5.
      const lda = ta ? M + 1 : K + 2;
      const aLen = ta ? K * lda : M * lda;
      const a = new Uint16Array(aLen);
      k.toBf16(randn(aLen, rng), a, aLen);
      const C = randn(M * ldc, rng),
        want = C.slice();
      k.gemmBf16(ta, true, M, N, K, 0.75, a, 0, lda, b, 0, K, 0.5, C, 0, ldc);
      refGemm(ta, true, M, N, K, 0.75, widen(a), 0, lda, Br, 0, K, 0.5, want, 0, ldc);
      assertClose(C, want, 1e-4, `bf16 gemm, call ${i}, M ${M}, ta ${ta}`);
    }
  }
});
