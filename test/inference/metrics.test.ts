import assert from "node:assert/strict";
import { test } from "node:test";
import {
  computeMetrics,
  confusionMatrix,
  formatReport,
  rocAuc,
  rocAucOvr,
} from "../../src/inference/metrics.js";

const NAMES = ["biological_process", "cellular_component", "molecular_function"];
const close = (a: number | null | undefined, b: number, msg = "") =>
  assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${msg} ${a} != ${b}`);

test("accuracy, per-class scores, macro-F1 and the confusion matrix on a hand-computed case", () => {
  const yTrue = [0, 0, 1, 1, 2, 2, 0];
  const yPred = [0, 1, 1, 1, 0, 2, 0];
  const m = computeMetrics(yTrue, yPred, NAMES);
  // rows true, columns predicted
  assert.deepEqual(m.confusion_matrix, [
    [2, 1, 0],
    [0, 2, 0],
    [1, 0, 1],
  ]);
  close(m.accuracy, 5 / 7);
  const bp = m.per_class.biological_process!;
  close(bp.precision, 2 / 3);
  close(bp.recall, 2 / 3);
  close(bp.f1, 2 / 3);
  assert.equal(bp.support, 3);
  const cc = m.per_class.cellular_component!;
  close(cc.precision, 2 / 3);
  close(cc.recall, 1);
  close(cc.f1, 0.8);
  const mf = m.per_class.molecular_function!;
  close(mf.precision, 1);
  close(mf.recall, 0.5);
  close(mf.f1, 2 / 3);
  assert.equal(mf.support, 2);
  close(m.macro_f1, (2 / 3 + 0.8 + 2 / 3) / 3);
  assert.equal(m.roc_auc, undefined);
});

test("a class never predicted scores 0 and counts in the macro mean", () => {
  const m = computeMetrics([0, 1, 2, 2], [0, 1, 1, 1], NAMES);
  assert.deepEqual(m.per_class.molecular_function, { precision: 0, recall: 0, f1: 0, support: 2 });
  close(m.per_class.cellular_component!.precision, 1 / 3);
  close(m.per_class.cellular_component!.f1, 0.5);
  close(m.accuracy, 0.5);
  close(m.macro_f1, (1 + 0.5 + 0) / 3);
});

test("a class absent from truth and predictions is listed with support 0 and left out of macro-F1", () => {
  const yTrue = [0, 1, 0, 1];
  const m = computeMetrics(
    yTrue,
    [0, 1, 1, 1],
    NAMES,
    [0.7, 0.2, 0.1, 0.2, 0.7, 0.1, 0.4, 0.5, 0.1, 0.1, 0.8, 0.1],
  );
  assert.deepEqual(m.per_class.molecular_function, { precision: 0, recall: 0, f1: 0, support: 0 });
  close(m.macro_f1, (2 / 3 + 0.8) / 2);
  // No positives for class 2: its AUC is undefined and the macro mean is over the other two.
  assert.equal(m.roc_auc!.molecular_function, null);
  close(m.roc_auc!.biological_process, 1);
  close(m.roc_auc!.cellular_component, 1);
  close(m.roc_auc!.macro, 1);
});

test("ROC-AUC gives tied scores half credit, as sklearn's roc_auc_score", () => {
  // positives 0.9, 0.4, 0.4 against negatives 0.4, 0.1: pairs won 1+1, 0.5+1, 0.5+1 of 6
  close(rocAuc([true, true, true, false, false], [0.9, 0.4, 0.4, 0.4, 0.1]), 5 / 6);
  close(rocAuc([true, false], [0.3, 0.3]), 0.5);
  close(rocAuc([false, true, false, true], [0.1, 0.2, 0.3, 0.4]), 3 / 4);
  assert.equal(rocAuc([true, true], [0.1, 0.2]), null);
  assert.equal(rocAuc([], []), null);
});

test("one-vs-rest ROC-AUC per class and macro from probabilities", () => {
  const y = [0, 0, 1, 1, 2, 2];
  const p = [0.6, 0.3, 0.1, 0.4, 0.4, 0.2, 0.3, 0.4, 0.3, 0.2, 0.7, 0.1, 0.4, 0.2, 0.4, 0.1, 0.3, 0.6];
  const auc = rocAucOvr(y, p, NAMES);
  // class 0: positives 0.6, 0.4 vs 0.3, 0.2, 0.4, 0.1 -> (4 + 3.5) / 8
  close(auc.biological_process, 7.5 / 8);
  // class 1: positives 0.4, 0.7 vs 0.3, 0.4, 0.2, 0.3 -> (3.5 + 4) / 8
  close(auc.cellular_component, 7.5 / 8);
  close(auc.molecular_function, 1);
  close(auc.macro, (7.5 / 8 + 7.5 / 8 + 1) / 3);
  assert.throws(() => rocAucOvr(y, p.slice(1), NAMES), RangeError);
});

test("the confusion matrix rejects labels outside the classes", () => {
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), RangeError);
  assert.throws(() => computeMetrics([0, 1], [0], NAMES), RangeError);
});

test("the text report shows every class, accuracy, macro avg and the matrix", () => {
  const m = computeMetrics([0, 0, 1, 1, 2, 2, 0], [0, 1, 1, 1, 0, 2, 0], NAMES, new Array(21).fill(1 / 3));
  const r = formatReport(m);
  for (const name of NAMES) assert.match(r, new RegExp(`^ *${name} +\\d\\.\\d{4}`, "m"));
  assert.match(r, /^ *accuracy +0\.7143 +7$/m);
  assert.match(r, /^ *macro avg +0\.7778 +0\.7222 +0\.7111 +7$/m);
  assert.match(r, /confusion matrix \(rows: true, columns: predicted\)/);
  assert.match(r, /^ *molecular_function +1 +0 +1$/m);
  assert.match(r, /^ *macro +0\.5000$/m);
});
