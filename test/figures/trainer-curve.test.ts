import assert from "node:assert/strict";
import { test } from "node:test";
import { smoothLoss, trainingCurve } from "../../src/figures/training-curve.js";

test("smoothLoss: a constant stays constant, a step is followed gradually, short runs are barely smoothed", () => {
  assert.deepEqual(smoothLoss([2, 2, 2, 2]), [2, 2, 2, 2]);
  const steps = [...new Array(500).fill(1), ...new Array(500).fill(0)];
  const s = smoothLoss(steps);
  assert.ok(Math.abs(s[499]! - 1) < 1e-12);
  for (let i = 501; i < s.length; i++) assert.ok(s[i]! < s[i - 1]! && s[i]! > 0);
  assert.ok(s[520]! > 0.5 && s[999]! < 0.01, `${s[520]} ${s[999]}`);
  // 20 steps: a window of one step, so the raw values come back.
  const raw = Array.from({ length: 20 }, (_, i) => (i * 7) % 5);
  assert.deepEqual(smoothLoss(raw), raw);
});

test("trainingCurve renders the loss and the per-epoch scores to SVG and PNG", async () => {
  const steps = Array.from({ length: 300 }, (_, i) => ({ step: i + 1, loss: 1 / (1 + i / 30) }));
  const fig = await trainingCurve(steps, [
    { epoch: 1, step: 150, accuracy: 0.91, macro_f1: 0.85 },
    { epoch: 2, step: 300, accuracy: 0.95, macro_f1: 0.9 },
  ]);
  assert.match(fig.svg, /^<svg/);
  for (const text of [
    "training loss",
    "evaluation after each epoch",
    "accuracy 0.9500, macro-F1 0.9000",
    "smoothed",
  ])
    assert.ok(fig.svg.includes(text), text);
  assert.deepEqual([...fig.png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  const none = await trainingCurve(steps.slice(0, 10), []);
  assert.ok(none.svg.includes("no evaluation yet"));
});
