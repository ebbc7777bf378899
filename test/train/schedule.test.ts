import assert from "node:assert/strict";
import { test } from "node:test";
import { LinearSchedule, linearWarmupFactor } from "../../src/train/schedule.js";

test("linear schedule with warm-up follows transformers' lr_lambda", () => {
  // get_linear_schedule_with_warmup(opt, num_warmup_steps=4, num_training_steps=10), lr 1e-3: the rates
  // of its first 11 optimiser steps, as LambdaLR gives them (step 0 before the first scheduler.step()).
  const expected = [0, 0.25, 0.5, 0.75, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0].map((f) => f * 1e-3);
  const s = new LinearSchedule(1e-3, 4, 10);
  for (const [i, lr] of expected.entries())
    assert.ok(Math.abs(s.lrAt(i + 1) - lr) < 1e-15, `step ${i + 1}: ${s.lrAt(i + 1)}`);
  assert.equal(s.lrAt(50), 0);
});

test("without warm-up the first step uses the full rate and the decay is linear to zero", () => {
  const s = new LinearSchedule(5e-5, 0, 4);
  const want = [5e-5, 3.75e-5, 2.5e-5, 1.25e-5, 0];
  want.forEach((lr, i) => {
    assert.ok(Math.abs(s.lrAt(i + 1) - lr) < 1e-18, `step ${i + 1}`);
  });
  assert.equal(linearWarmupFactor(0, 0, 1), 1);
  assert.equal(LinearSchedule.warmupSteps(1000, 0.06), 60);
  assert.equal(LinearSchedule.warmupSteps(10, 0.05), 1);
  assert.throws(() => new LinearSchedule(1, 0, 0));
});
