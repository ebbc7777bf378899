/**
 * Scoring a classifier on labelled examples: the one label mapping (data aspects to the model's label
 * ids) and the one evaluation loop, shared by `gotune eval` and fine-tuning's per-epoch evaluation.
 */
import { ASPECTS, type Example, readExamples } from "../data/examples.js";
import type { Dtype } from "../native/index.js";
import { UserError } from "../util/errors.js";
import { progress } from "../util/progress.js";
import { Classifier } from "./classifier.js";
import { computeMetrics, type Metrics } from "./metrics.js";

/**
 * The model's label id of each example's aspect, matched by name; a model saved without names
 * (LABEL_0, LABEL_1, ...) is taken to use gotune's ids. `unknown` makes the error for the first example
 * whose aspect the model lacks (its index and the aspect).
 */
export function modelLabelIds(
  examples: readonly Example[],
  labels: readonly string[],
  unknown: (index: number, aspect: string) => UserError,
): Int32Array {
  const generic = labels.every((l, i) => l === `LABEL_${i}`);
  const ids = ASPECTS.map((a, i) => (generic ? (i < labels.length ? i : -1) : labels.indexOf(a)));
  return Int32Array.from(examples, (e, i) => {
    const id = ids[e.label] ?? -1;
    if (id < 0) throw unknown(i, ASPECTS[e.label]!);
    return id;
  });
}

/** How to run an evaluation. */
export interface EvaluateOptions {
  batchSize: number;
  /** Tokens a text (default: the model's own, Classifier.maxLength). */
  maxLength?: number;
  /** The progress bar's label. */
  label: string;
}

/** Classifies `texts` (with a progress bar) and scores the predictions against the label ids `yTrue`; the
 * probabilities and predicted ids come back too. */
export function evaluateClassifier(
  clf: Classifier,
  texts: string[],
  yTrue: Int32Array,
  o: EvaluateOptions,
): { metrics: Metrics; probs: Float32Array; pred: Int32Array } {
  const bar = progress(o.label, texts.length);
  let shown = 0;
  const { probs } = clf.predictProba(texts, {
    batchSize: o.batchSize,
    maxLength: o.maxLength,
    onBatch: (done) => {
      bar.tick(done - shown);
      shown = done;
    },
  });
  bar.done();
  const pred = clf.argmax(probs);
  return { metrics: computeMetrics(yTrue, pred, clf.labels, probs), probs, pred };
}

/** A model's metrics on a labelled file (JSONL or CSV), with the model folder it was loaded from. */
export async function evaluateFile(
  model: string,
  input: string,
  o: Omit<EvaluateOptions, "label"> & { dtype?: Dtype },
): Promise<{ metrics: Metrics; examples: number; modelDir: string | undefined }> {
  const examples = await readExamples(input);
  const clf = await Classifier.load(model, { dtype: o.dtype });
  const yTrue = modelLabelIds(
    examples,
    clf.labels,
    (i, aspect) =>
      new UserError(`example ${i + 1} has label ${aspect}, which the model does not know`, {
        file: input,
        hint: `the model's labels are ${clf.labels.join(", ")}`,
      }),
  );
  const { metrics } = evaluateClassifier(
    clf,
    examples.map((e) => e.text),
    yTrue,
    { ...o, label: "eval" },
  );
  return { metrics, examples: examples.length, modelDir: clf.dir };
}
