/** The error analysis: the test terms a model got wrong, the most confidently wrong first. */

/** One misclassified test term. */
export interface Misclassified {
  go_id: string;
  name: string;
  definition: string;
  truth: string;
  predicted: string;
  /** The probability the model gave its (wrong) prediction. */
  probability: number;
  /** The probability it gave the true aspect. */
  p_true: number;
}

/** A test term as `gotune prepare` writes it (test.jsonl). */
export interface TestTerm {
  go_id: string;
  name: string;
  text: string;
}

/** A prediction as fine-tuning writes it (predictions.jsonl). */
export interface Prediction {
  id: string | null;
  label: number;
  predicted: number;
  probabilities: number[];
}

/**
 * Joins predictions with their terms by GO id and keeps the wrong ones, sorted by the probability of the
 * wrong prediction, highest first (ties: by GO id, so the order is stable).
 */
export function misclassified(
  predictions: readonly Prediction[],
  terms: ReadonlyMap<string, TestTerm>,
  labels: readonly string[],
): Misclassified[] {
  const out: Misclassified[] = [];
  for (const p of predictions) {
    if (p.predicted === p.label) continue;
    const t = p.id === null ? undefined : terms.get(p.id);
    out.push({
      go_id: p.id ?? "?",
      name: t?.name ?? "?",
      definition: t?.text ?? "?",
      truth: labels[p.label] ?? String(p.label),
      predicted: labels[p.predicted] ?? String(p.predicted),
      probability: p.probabilities[p.predicted] ?? Number.NaN,
      p_true: p.probabilities[p.label] ?? Number.NaN,
    });
  }
  return out.sort(
    (a, b) => b.probability - a.probability || (a.go_id < b.go_id ? -1 : a.go_id > b.go_id ? 1 : 0),
  );
}
