/**
 * Scores of a multi-label classifier on sentences that speak of a set of labels, possibly none: single-label
 * accuracy and macro-F1 on the sentences of exactly one label, per-label F1 with "none", detection F1 (does
 * it speak of any label), the expected calibration error with its reliability bins, per-label thresholds
 * tuned for F1, and the most confidently wrong sentences.
 */
import { type ClassScores, computeMetrics } from "./metrics.js";

/** The name of the empty label set in per-label scores. */
export const NONE = "none";

/** One bin of a reliability diagram: predicted probabilities in [lo, hi), their mean and the observed rate. */
export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  confidence: number;
  accuracy: number;
}

/** What multiLabelMetrics returns (its JSON is the report's and `--json`'s). */
export interface MultiLabelMetrics {
  sentences: number;
  /** Sentences whose gold set has exactly one label. */
  single_label: number;
  /** On those: the most probable label against the gold one. */
  single_accuracy: number;
  single_macro_f1: number;
  /** Each label's yes/no at its threshold, and "none" (the predicted set is empty). */
  per_label: Record<string, ClassScores>;
  /** The mean F1 over the labels ("none" left out). */
  per_label_f1_mean: number;
  /** "Speaks of any label": a non-empty predicted set against a non-empty gold set. */
  detection: ClassScores;
  /** Expected calibration error of the per-label probabilities (every sentence × label a yes/no), 10 bins. */
  ece: number;
  reliability: ReliabilityBin[];
  /** The thresholds the sets were cut at. */
  thresholds: Record<string, number>;
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Binary precision, recall, F1 and support from counts. */
function scores(tp: number, fp: number, fn: number): ClassScores {
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision: r4(precision), recall: r4(recall), f1: r4(f1), support: tp + fn };
}

/** The label sets of `probs` [N, L] cut at `thresholds` (a label is on at or above its threshold). */
export function cutSets(probs: Float32Array, thresholds: ArrayLike<number>): number[][] {
  const L = thresholds.length;
  const out: number[][] = [];
  for (let r = 0; r * L < probs.length; r++) {
    const on: number[] = [];
    for (let j = 0; j < L; j++) if (probs[r * L + j]! >= thresholds[j]!) on.push(j);
    out.push(on);
  }
  return out;
}

/** Scores `probs` [N, L] against the gold label sets at `thresholds` (see MultiLabelMetrics). */
export function multiLabelMetrics(
  probs: Float32Array,
  gold: readonly (readonly number[])[],
  labels: readonly string[],
  thresholds: ArrayLike<number>,
): MultiLabelMetrics {
  const L = labels.length;
  const N = gold.length;
  if (probs.length !== N * L) throw new RangeError(`${probs.length} probabilities for ${N} × ${L}`);
  const pred = cutSets(probs, thresholds);
  const per_label: Record<string, ClassScores> = {};
  let f1Sum = 0;
  for (let j = 0; j < L; j++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < N; i++) {
      const g = gold[i]!.includes(j);
      const p = pred[i]!.includes(j);
      if (g && p) tp++;
      else if (p) fp++;
      else if (g) fn++;
    }
    per_label[labels[j]!] = scores(tp, fp, fn);
    f1Sum += per_label[labels[j]!]!.f1;
  }
  // "none" and detection count the same events from the two sides.
  let tpNone = 0;
  let fpNone = 0;
  let fnNone = 0;
  for (let i = 0; i < N; i++) {
    const g = gold[i]!.length === 0;
    const p = pred[i]!.length === 0;
    if (g && p) tpNone++;
    else if (p) fpNone++;
    else if (g) fnNone++;
  }
  per_label[NONE] = scores(tpNone, fpNone, fnNone);
  const tn = N - tpNone - fpNone - fnNone; // both non-empty
  const detection = scores(tn, fnNone, fpNone);

  const single = gold.map((g, i) => [g, i] as const).filter(([g]) => g.length === 1);
  const yTrue = single.map(([g]) => g[0]!);
  const yPred = single.map(([, i]) => {
    let best = 0;
    for (let j = 1; j < L; j++) if (probs[i * L + j]! > probs[i * L + best]!) best = j;
    return best;
  });
  const m = computeMetrics(yTrue, yPred, labels);

  const { ece, bins } = calibration(probs, gold, L);
  return {
    sentences: N,
    single_label: single.length,
    single_accuracy: r4(m.accuracy),
    single_macro_f1: r4(m.macro_f1),
    per_label,
    per_label_f1_mean: r4(f1Sum / L),
    detection,
    ece: r4(ece),
    reliability: bins,
    thresholds: Object.fromEntries(labels.map((l, j) => [l, r4(thresholds[j]!)])),
  };
}

/** ECE over every (sentence, label) yes/no: Σ_bins (count / total) |mean probability − observed rate|. */
function calibration(
  probs: Float32Array,
  gold: readonly (readonly number[])[],
  L: number,
  nBins = 10,
): { ece: number; bins: ReliabilityBin[] } {
  const count = new Float64Array(nBins);
  const conf = new Float64Array(nBins);
  const hits = new Float64Array(nBins);
  for (let i = 0; i < gold.length; i++)
    for (let j = 0; j < L; j++) {
      const p = probs[i * L + j]!;
      const b = Math.min(nBins - 1, Math.max(0, Math.floor(p * nBins)));
      count[b]++;
      conf[b] += p;
      if (gold[i]!.includes(j)) hits[b]++;
    }
  const total = gold.length * L;
  let ece = 0;
  const bins: ReliabilityBin[] = [];
  for (let b = 0; b < nBins; b++) {
    const c = count[b]!;
    const confidence = c ? conf[b]! / c : 0;
    const accuracy = c ? hits[b]! / c : 0;
    if (c) ece += (c / total) * Math.abs(confidence - accuracy);
    bins.push({
      lo: b / nBins,
      hi: (b + 1) / nBins,
      count: c,
      confidence: r4(confidence),
      accuracy: r4(accuracy),
    });
  }
  return { ece, bins };
}

/**
 * Each label's threshold that maximises its F1 on held-out sentences (a grid of 0.05 … 0.95; ties: the
 * one nearest 0.5), so the thresholds are never chosen on the data they are scored on.
 */
export function tuneThresholds(
  probs: Float32Array,
  gold: readonly (readonly number[])[],
  L: number,
): Float32Array {
  const out = new Float32Array(L).fill(0.5);
  for (let j = 0; j < L; j++) {
    let best = -1;
    for (let k = 1; k <= 19; k++) {
      const t = k / 20;
      let tp = 0;
      let fp = 0;
      let fn = 0;
      for (let i = 0; i < gold.length; i++) {
        const g = gold[i]!.includes(j);
        const p = probs[i * L + j]! >= t;
        if (g && p) tp++;
        else if (p) fp++;
        else if (g) fn++;
      }
      const f1 = tp ? (2 * tp) / (2 * tp + fp + fn) : 0;
      if (
        f1 > best + 1e-12 ||
        (Math.abs(f1 - best) <= 1e-12 && Math.abs(t - 0.5) < Math.abs(out[j]! - 0.5))
      ) {
        best = f1;
        out[j] = t;
      }
    }
  }
  return out;
}

/** A sentence the classifier got wrong: its gold and predicted sets and how sure it was. */
export interface WrongSentence {
  index: number;
  gold: number[];
  predicted: number[];
  /** The largest |p − gold| over its labels: how confidently wrong it was. */
  confidence: number;
}

/** The sentences whose predicted set differs from the gold one, the most confidently wrong first. */
export function confidentlyWrong(
  probs: Float32Array,
  gold: readonly (readonly number[])[],
  thresholds: ArrayLike<number>,
  limit: number,
): WrongSentence[] {
  const L = thresholds.length;
  const pred = cutSets(probs, thresholds);
  const out: WrongSentence[] = [];
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i]!;
    const p = pred[i]!;
    if (g.length === p.length && g.every((x) => p.includes(x))) continue;
    let worst = 0;
    for (let j = 0; j < L; j++)
      worst = Math.max(worst, Math.abs(probs[i * L + j]! - (g.includes(j) ? 1 : 0)));
    out.push({ index: i, gold: [...g], predicted: p, confidence: r4(worst) });
  }
  return out.sort((a, b) => b.confidence - a.confidence || a.index - b.index).slice(0, limit);
}
