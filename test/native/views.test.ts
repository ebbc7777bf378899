import assert from "node:assert/strict";
import { test } from "node:test";
import { bmm, heads, mat, perHead, t } from "../../src/native/views.js";
import { Rng } from "../../src/util/rng.js";

function randn(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

test("bmm on head views: every (example, head) product, transposes read from the strides", () => {
  const rng = new Rng(1);
  const B = 2,
    T = 5,
    nh = 3,
    d = 4,
    ld = 3 * nh * d; // q, k, v packed in one [B, T, 3H] tensor
  const qkv = randn(B * T * ld, rng);
  const q = heads(qkv, B, T, nh, d, 0, ld),
    k = heads(qkv, B, T, nh, d, nh * d, ld);
  const S = new Float32Array(B * nh * T * T);
  bmm(perHead(S, B, nh, T, T), q, t(k), 0.5);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < nh; h++)
      for (let i = 0; i < T; i++)
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let c = 0; c < d; c++)
            s += qkv[(b * T + i) * ld + h * d + c] * qkv[(b * T + j) * ld + nh * d + h * d + c];
          const got = S[((b * nh + h) * T + i) * T + j];
          assert.ok(Math.abs(got - 0.5 * s) < 1e-5, `S[${b},${h},${i},${j}] ${got} vs ${0.5 * s}`);
        }
  // one matrix broadcast over the batch, and a shape that does not fit
  const W = randn(d * d, rng),
    out = new Float32Array(B * T * nh * d);
  bmm(heads(out, B, T, nh, d), q, mat(W, d, d));
  const want = (b: number, h: number, i: number, j: number) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += qkv[(b * T + i) * ld + h * d + c] * W[c * d + j];
    return s;
  };
  assert.ok(Math.abs(out[(1 * T + 2) * nh * d + 2 * d + 3] - want(1, 2, 2, 3)) < 1e-5);
  assert.throws(() => bmm(perHead(S, B, nh, T, T), q, k), /does not fit/);
});
