import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { makeParam, type Param } from "../../src/model/param.js";
import { AdamW, hfNoDecay } from "../../src/train/adamw.js";
import { clipCoefficient, globalGradNorm } from "../../src/train/clip.js";
import { LinearSchedule } from "../../src/train/schedule.js";
import { Rng } from "../../src/util/rng.js";

function randomParam(name: string, shape: number[], rng: Rng): Param {
  const p = makeParam(name, shape);
  for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal();
  return p;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1e-3, Math.abs(b[i])));
  return m;
}

test("the update is torch.optim.AdamW's arithmetic (checked against a float64 reference)", () => {
  const rng = new Rng(11);
  const p = randomParam("w", [300], rng);
  const ref = Float64Array.from(p.data);
  const m = new Float64Array(300);
  const v = new Float64Array(300);
  const [b1, b2, eps, wd] = [0.9, 0.999, 1e-8, 0.05];
  const opt = new AdamW([p], { lr: 0, weightDecay: wd });
  for (let step = 1; step <= 5; step++) {
    const lr = 1e-2 / step;
    const scale = step % 2 ? 0.5 : 1;
    for (let i = 0; i < 300; i++) p.grad[i] = rng.normal() * (i % 7 === 0 ? 1e-6 : 1);
    opt.step({ lr, gradScale: scale });
    for (let i = 0; i < 300; i++) {
      const g = p.grad[i] * scale;
      ref[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      ref[i] -= ((lr / (1 - b1 ** step)) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** step) + eps);
    }
  }
  let worst = 0;
  for (let i = 0; i < 300; i++) worst = Math.max(worst, Math.abs(p.data[i] - ref[i]));
  assert.ok(worst < 1e-5, `max |diff| ${worst}`);
  assert.equal(opt.stepCount, 5);
});

/** An embedding table, a dense weight and a bias, as a model would hand them to the optimiser. */
function sparseParams(): Param[] {
  const rng = new Rng(5);
  return [
    randomParam("bert.embeddings.word_embeddings.weight", [64, 8], rng),
    randomParam("bert.encoder.layer.0.output.dense.weight", [4, 8], rng),
    randomParam("bert.encoder.layer.0.output.dense.bias", [4], rng),
  ];
}

/** Steps `from`..`to` of a clipped, scheduled run in which each step touches a few embedding rows. */
function trainSparse(params: Param[], opt: AdamW, from: number, to: number, total: number): void {
  const [emb, dense, bias] = params;
  const sched = new LinearSchedule(1e-2, 2, total);
  for (let step = from; step <= to; step++) {
    const rng = new Rng(1000 + step);
    emb.grad.fill(0);
    // A few rows a step, drawn from a growing range so that some rows are first touched late.
    const rows = [...new Set(Array.from({ length: 5 }, () => rng.int(8 + 6 * step)))].sort((a, b) => a - b);
    for (const r of rows) for (let j = 0; j < 8; j++) emb.grad[r * 8 + j] = rng.normal();
    emb.touchedRows = Int32Array.from(rows);
    for (const p of [dense, bias]) for (let i = 0; i < p.grad.length; i++) p.grad[i] = rng.normal();
    const coef = clipCoefficient(globalGradNorm(params), 1.0);
    opt.step({ lr: sched.lrAt(step), gradScale: coef });
  }
}

function runSparse(
  lazy: boolean,
  wd: number,
  steps: number,
): { params: Param[]; opt: AdamW; initial: Float32Array } {
  const params = sparseParams();
  const initial = params[0].data.slice();
  const opt = new AdamW(params, { lr: 1e-2, weightDecay: wd, noDecay: hfNoDecay, lazyRows: lazy });
  trainSparse(params, opt, 1, steps, steps);
  return { params, opt, initial };
}

test("lazy embedding rows give exactly dense AdamW without weight decay", () => {
  const dense = runSparse(false, 0, 8);
  const lazy = runSparse(true, 0, 8);
  for (let i = 0; i < 3; i++)
    assert.deepEqual(lazy.params[i].data, dense.params[i].data, lazy.params[i].name);
  const active = lazy.opt.activeRows()["bert.embeddings.word_embeddings.weight"];
  assert.ok(active > 5 && active < 64, `active rows ${active}`);
});

test("with weight decay, lazy rows catch up on first touch and on flush, equal to dense AdamW", () => {
  const dense = runSparse(false, 0.1, 8);
  const lazy = runSparse(true, 0.1, 8);
  const emb = lazy.params[0];
  // Before flush the never-touched rows still hold their initial values: the work was skipped.
  let untouched = 0;
  for (let r = 0; r < 64; r++) {
    const row = emb.data.subarray(r * 8, r * 8 + 8);
    if (row.every((x, j) => x === lazy.initial[r * 8 + j])) untouched++;
  }
  assert.ok(untouched > 0, "some rows are never touched");
  assert.ok(maxRelDiff(emb.data, dense.params[0].data) > 1e-4, "decay is pending before flush");
  lazy.opt.flush();
  for (let i = 0; i < 3; i++) {
    const d = maxRelDiff(lazy.params[i].data, dense.params[i].data);
    assert.ok(d < 1e-6, `${lazy.params[i].name}: relative diff ${d}`);
  }
  // Dense rows decayed: the never-touched rows moved by the decay product alone.
  assert.notDeepEqual(dense.params[0].data, dense.initial);
  const snapshot = emb.data.slice();
  lazy.opt.flush();
  assert.deepEqual(emb.data, snapshot, "flush is idempotent");
  // No decay for biases under HF's rule: the bias moved only by Adam's step, as dense did.
  assert.deepEqual(lazy.params[2].data, dense.params[2].data);
});

test("a saved optimiser state resumes training exactly", async () => {
  const whole = runSparse(true, 0.1, 8);
  whole.opt.flush();
  const dir = await mkdtemp(join(tmpdir(), "gotune-adamw-"));
  const params = sparseParams();
  const first = new AdamW(params, { lr: 1e-2, weightDecay: 0.1, noDecay: hfNoDecay });
  trainSparse(params, first, 1, 4, 8);
  await first.saveState(join(dir, "optimizer.safetensors"));
  const copy = params.map((p) => ({ ...p, data: p.data.slice(), grad: new Float32Array(p.grad.length) }));
  const second = new AdamW(copy, { lr: 1e-2, weightDecay: 0.1, noDecay: hfNoDecay });
  await second.loadState(join(dir, "optimizer.safetensors"));
  assert.equal(second.stepCount, 4);
  assert.deepEqual(second.activeRows(), first.activeRows());
  trainSparse(copy, second, 5, 8, 8);
  second.flush();
  for (let i = 0; i < 3; i++) assert.deepEqual(copy[i].data, whole.params[i].data, copy[i].name);
  const other = new AdamW([makeParam("z", [3])], { lr: 1 });
  await assert.rejects(other.loadState(join(dir, "optimizer.safetensors")), /has no z\.exp_avg/);
});

test("the global norm reads only touched rows, and the clip coefficient is torch's", () => {
  const rng = new Rng(9);
  const a = makeParam("bert.embeddings.word_embeddings.weight", [100, 16]);
  const b = randomParam("x", [33], rng);
  for (let i = 0; i < b.grad.length; i++) b.grad[i] = rng.normal();
  for (const r of [3, 50, 99]) for (let j = 0; j < 16; j++) a.grad[r * 16 + j] = rng.normal();
  let full = 0;
  for (const p of [a, b]) for (const g of p.grad) full += g * g;
  a.touchedRows = Int32Array.of(3, 50, 99);
  assert.ok(Math.abs(globalGradNorm([a, b]) - Math.sqrt(full)) < 1e-9);
  a.touchedRows = undefined;
  assert.ok(Math.abs(globalGradNorm([a, b]) - Math.sqrt(full)) < 1e-9);
  assert.equal(clipCoefficient(0.5, 1), 1);
  assert.equal(clipCoefficient(4, 1), 1 / (4 + 1e-6));
  assert.ok(hfNoDecay("bert.embeddings.LayerNorm.weight") && hfNoDecay("classifier.bias"));
  assert.ok(!hfNoDecay("classifier.weight") && !hfNoDecay("bert.embeddings.word_embeddings.weight"));
});
