/**
 * Classification metrics shared by `baseline`, `train` and `eval`, computed as scikit-learn does
 * (accuracy_score, precision_recall_fscore_support, confusion_matrix, roc_auc_score one-vs-rest).
 */

/** Precision, recall, F1 and support of one class. */
export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** The metrics' JSON shape (`--json` of baseline and eval); keys of `per_class` and `roc_auc` are class names. */
export interface Metrics {
  accuracy: number;
  macro_f1: number;
  per_class: Record<string, ClassScores>;
  /** Rows are true classes, columns predicted classes, in class order. */
  confusion_matrix: number[][];
  /** One-vs-rest AUC per class and their macro mean; null where a class has no positive or no negative. */
  roc_auc?: Record<string, number | null>;
}

/**
 * All metrics for true labels and predictions over `classNames` (label i is classNames[i]).
 * `probs`, row-major n × K, adds ROC-AUC. Macro averages are over the classes present in the truth or the
 * predictions (sklearn's default labels); a class absent from both is listed with support 0.
 */
export function computeMetrics(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  classNames: readonly string[],
  probs?: ArrayLike<number>,
): Metrics {
  const n = yTrue.length;
  const k = classNames.length;
  if (yPred.length !== n) throw new RangeError(`${n} labels but ${yPred.length} predictions`);
  const cm = confusionMatrix(yTrue, yPred, k);
  let correct = 0;
  for (let c = 0; c < k; c++) correct += cm[c]![c]!;
  const perClass: Record<string, ClassScores> = {};
  let f1Sum = 0;
  let present = 0;
  for (let c = 0; c < k; c++) {
    const s = classScores(cm, c);
    perClass[classNames[c]!] = s;
    const predicted = cm.reduce((acc, row) => acc + row[c]!, 0);
    if (s.support > 0 || predicted > 0) {
      f1Sum += s.f1;
      present++;
    }
  }
  const m: Metrics = {
    accuracy: n === 0 ? 0 : correct / n,
    macro_f1: present === 0 ? 0 : f1Sum / present,
    per_class: perClass,
    confusion_matrix: cm,
  };
  if (probs) m.roc_auc = rocAucOvr(yTrue, probs, classNames);
  return m;
}

/** The K × K confusion matrix: entry [t][p] counts examples of true class t predicted as p. */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): number[][] {
  const cm = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    if (!(t >= 0 && t < k && p >= 0 && p < k)) throw new RangeError(`label out of range at ${i}: ${t}, ${p}`);
    cm[t]![p]!++;
  }
  return cm;
}

// A ratio with nothing to divide counts as 0, as sklearn's zero_division="warn" does.
function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

function classScores(cm: number[][], c: number): ClassScores {
  const tp = cm[c]![c]!;
  const support = cm[c]!.reduce((a, b) => a + b, 0);
  const predicted = cm.reduce((acc, row) => acc + row[c]!, 0);
  const fp = predicted - tp;
  const fn = support - tp;
  return {
    precision: ratio(tp, predicted),
    recall: ratio(tp, support),
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    support,
  };
}

/**
 * Area under the ROC curve of scores for binary truth, by the Mann–Whitney statistic with tied scores
 * given their average rank (equal to sklearn's trapezoidal roc_auc_score); null without both classes.
 */
export function rocAuc(isPositive: ArrayLike<boolean>, scores: ArrayLike<number>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let nPos = 0;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let t = i; t <= j; t++) {
      if (isPositive[order[t]!]) {
        nPos++;
        rankSumPos += avgRank;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** One-vs-rest ROC-AUC per class from row-major n × K probabilities, plus `macro`, their mean over defined classes. */
export function rocAucOvr(
  yTrue: ArrayLike<number>,
  probs: ArrayLike<number>,
  classNames: readonly string[],
): Record<string, number | null> {
  const n = yTrue.length;
  const k = classNames.length;
  if (probs.length !== n * k) throw new RangeError(`probabilities: ${probs.length} values for ${n} × ${k}`);
  const out: Record<string, number | null> = {};
  let sum = 0;
  let defined = 0;
  const scores = new Float64Array(n);
  const pos = new Array<boolean>(n);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      scores[i] = probs[i * k + c]!;
      pos[i] = yTrue[i] === c;
    }
    const auc = rocAuc(pos, scores);
    out[classNames[c]!] = auc;
    if (auc !== null) {
      sum += auc;
      defined++;
    }
  }
  out.macro = defined === 0 ? null : sum / defined;
  return out;
}

/** A text report like sklearn's classification_report, then the confusion matrix and ROC-AUC if present. */
export function formatReport(m: Metrics, digits = 4): string {
  const names = Object.keys(m.per_class);
  const w = Math.max(12, ...names.map((s) => s.length));
  const num = (x: number) => x.toFixed(digits).padStart(10);
  const cell = (s: string) => s.padStart(10);
  const lines: string[] = [];
  lines.push(
    `${"".padStart(w)}${cell("precision")}${cell("recall")}${cell("f1-score")}${cell("support")}`,
    "",
  );
  const scores = names.map((c) => m.per_class[c]!);
  const total = scores.reduce((a, s) => a + s.support, 0);
  for (const c of names) {
    const s = m.per_class[c]!;
    lines.push(`${c.padStart(w)}${num(s.precision)}${num(s.recall)}${num(s.f1)}${cell(String(s.support))}`);
  }
  lines.push("");
  lines.push(`${"accuracy".padStart(w)}${cell("")}${cell("")}${num(m.accuracy)}${cell(String(total))}`);
  // Macro means over the classes present in the truth or the predictions, like macro_f1.
  const present = scores.filter((s, c) => s.support > 0 || m.confusion_matrix.some((row) => row[c]! > 0));
  const mean = (f: (s: ClassScores) => number) =>
    present.reduce((a, s) => a + f(s), 0) / (present.length || 1);
  const wmean = (f: (s: ClassScores) => number) =>
    scores.reduce((a, s) => a + f(s) * s.support, 0) / (total || 1);
  lines.push(
    `${"macro avg".padStart(w)}${num(mean((s) => s.precision))}${num(mean((s) => s.recall))}${num(m.macro_f1)}${cell(String(total))}`,
  );
  lines.push(
    `${"weighted avg".padStart(w)}${num(wmean((s) => s.precision))}${num(wmean((s) => s.recall))}${num(wmean((s) => s.f1))}${cell(String(total))}`,
  );
  lines.push("", "confusion matrix (rows: true, columns: predicted)");
  const cw = Math.max(8, ...m.confusion_matrix.flat().map((v) => String(v).length + 2));
  lines.push(`${"".padStart(w)}${names.map((c) => c.slice(0, cw - 1).padStart(cw)).join("")}`);
  m.confusion_matrix.forEach((row, i) => {
    lines.push(`${names[i]!.padStart(w)}${row.map((v) => String(v).padStart(cw)).join("")}`);
  });
  if (m.roc_auc) {
    lines.push("", "ROC-AUC (one-vs-rest)");
    for (const [c, v] of Object.entries(m.roc_auc))
      lines.push(`${c.padStart(w)}${v === null ? cell("n/a") : num(v)}`);
  }
  return `${lines.join("\n")}\n`;
}
