import assert from "node:assert/strict";
import { test } from "node:test";
import {
  confidentlyWrong,
  cutSets,
  multiLabelMetrics,
  tuneThresholds,
} from "../../src/inference/multilabel.js";

const LABELS = ["a", "b", "c"];
// Five sentences: gold {a}, {}, {b, c}, {c}, {}.
const GOLD = [[0], [], [1, 2], [2], []];
const PROBS = Float32Array.from(
  [
    [0.9, 0.1, 0.2], // {a}: right
    [0.6, 0.1, 0.1], // {}: wrongly {a}
    [0.2, 0.7, 0.4], // {b, c}: {b} only
    [0.1, 0.3, 0.8], // {c}: right
    [0.1, 0.2, 0.3], // {}: right
  ].flat(),
);

test("cutSets: a label is on at or above its threshold, the set may be empty", () => {
  assert.deepEqual(cutSets(PROBS, [0.5, 0.5, 0.5]), [[0], [0], [1], [2], []]);
  assert.deepEqual(cutSets(PROBS, [0.85, 0.65, 0.35]), [[0], [], [1, 2], [2], []]);
});

test("multiLabelMetrics: per-label F1 with none, detection, single-label accuracy, by hand", () => {
  const m = multiLabelMetrics(PROBS, GOLD, LABELS, [0.5, 0.5, 0.5]);
  assert.equal(m.sentences, 5);
  // a: tp 1, fp 1 → P 0.5, R 1, F1 2/3. b: tp 1 → 1. c: tp 1, fn 1 → P 1, R 0.5, F1 2/3.
  assert.equal(m.per_label.a!.f1, 0.6667);
  assert.equal(m.per_label.b!.f1, 1);
  assert.equal(m.per_label.c!.f1, 0.6667);
  assert.equal(m.per_label_f1_mean, Math.round((((2 / 3) * 2 + 1) / 3) * 1e4) / 1e4);
  // none: predicted empty only for sentence 5 (gold empty), gold empty also for 2 → P 1, R 0.5.
  assert.deepEqual(m.per_label.none, { precision: 1, recall: 0.5, f1: 0.6667, support: 2 });
  // detection: gold non-empty 1, 3, 4, all predicted non-empty; 2 predicted non-empty wrongly → P 0.75, R 1.
  assert.deepEqual(m.detection, { precision: 0.75, recall: 1, f1: 0.8571, support: 3 });
  // single-label sentences 1 and 4: argmax a and c, both right.
  assert.equal(m.single_label, 2);
  assert.equal(m.single_accuracy, 1);
  // ECE: 15 yes/no, the bins' |mean p − rate| weighted; every bin is counted once.
  assert.equal(
    m.reliability.reduce((s, b) => s + b.count, 0),
    15,
  );
  assert.ok(m.ece > 0 && m.ece < 0.5);
  assert.deepEqual(m.thresholds, { a: 0.5, b: 0.5, c: 0.5 });
});

test("ECE is 0 for perfectly calibrated 0/1 probabilities, and large for confident errors", () => {
  const sure = Float32Array.from([1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0]);
  assert.equal(multiLabelMetrics(sure, GOLD, LABELS, [0.5, 0.5, 0.5]).ece, 0);
  const wrong = sure.map((p) => 1 - p);
  assert.equal(multiLabelMetrics(wrong, GOLD, LABELS, [0.5, 0.5, 0.5]).ece, 1);
});

test("tuneThresholds picks each label's F1-best threshold on its data", () => {
  const t = tuneThresholds(PROBS, GOLD, 3);
  // a: above 0.6 drops the false positive; c: at or below 0.4 catches sentence 3 (0.3 would add sentence 5).
  assert.ok(t[0]! > 0.6 && t[0]! <= 0.9 + 1e-6, `${t[0]}`);
  assert.ok(t[2]! > 0.3 && t[2]! <= 0.4 + 1e-6, `${t[2]}`);
  const m = multiLabelMetrics(PROBS, GOLD, LABELS, t);
  assert.equal(m.per_label.a!.f1, 1);
  assert.equal(m.per_label.c!.f1, 1);
});

test("confidentlyWrong lists the wrong sets, the surest first", () => {
  const w = confidentlyWrong(PROBS, GOLD, [0.5, 0.5, 0.5], 10);
  assert.deepEqual(
    w.map((x) => x.index),
    [1, 2],
  );
  assert.deepEqual(w[0], { index: 1, gold: [], predicted: [0], confidence: 0.6 });
  assert.equal(confidentlyWrong(PROBS, GOLD, [0.5, 0.5, 0.5], 1).length, 1);
});
