/** `gotune eval`: a fine-tuned model's metrics on any labelled JSONL or CSV file. */
import type { Command } from "commander";
import { ASPECTS, type Example, readExamples } from "../../data/examples.js";
import { Classifier } from "../../inference/classifier.js";
import { computeMetrics, formatReport } from "../../inference/metrics.js";
import type { Dtype } from "../../native/index.js";
import { runCommand, UserError } from "../../util/errors.js";
import { progress } from "../../util/progress.js";
import { dtypeOption, positiveInt } from "../options.js";

interface EvalOptions {
  model: string;
  input: string;
  json?: boolean;
  batchSize: number;
  maxLength: number;
  dtype: Dtype;
}

/** Adds `eval` to the program. */
export function register(program: Command): void {
  program
    .command("eval")
    .description(
      "Evaluate a fine-tuned model on a labelled file (JSONL or CSV with a `text` and a `label` 0/1/2 or " +
        "`aspect` name): accuracy, macro-F1, per-class precision/recall/F1, confusion matrix and " +
        "one-vs-rest ROC-AUC. Labels are matched to the model's by name (config.json's label2id).",
    )
    .requiredOption(
      "--model <dir|id>",
      "model folder (e.g. written by gotune train) or Hugging Face model id",
    )
    .requiredOption("--input <file>", "labelled examples, .jsonl or .csv")
    .option("--json", "print one JSON object: accuracy, macro_f1, per_class, confusion_matrix, roc_auc")
    .option("--batch-size <n>", "texts per forward pass", positiveInt, 32)
    .option(dtypeOption.flags, dtypeOption.description, dtypeOption.parse, dtypeOption.default)
    .option(
      "--max-length <n>",
      "tokens per text, [CLS] and [SEP] included (as in training)",
      positiveInt,
      100,
    )
    .action((opts: EvalOptions) => runCommand(() => evaluate(opts)));
}

/** The model's label id of every example, by aspect name; a label the model lacks is a UserError. */
export function modelLabels(examples: Example[], clf: Classifier, file: string): Int32Array {
  // A model saved without names (LABEL_0, LABEL_1, ...) is taken to use gotune's label ids.
  const generic = clf.labels.every((l, i) => l === `LABEL_${i}`);
  const out = new Int32Array(examples.length);
  examples.forEach((ex, i) => {
    const name = ASPECTS[ex.label]!;
    const id = generic ? (ex.label < clf.labels.length ? ex.label : undefined) : clf.labelId(name);
    if (id === undefined)
      throw new UserError(`example ${i + 1} has label ${name}, which the model does not know`, {
        file,
        hint: `the model's labels are ${clf.labels.join(", ")}`,
      });
    out[i] = id;
  });
  return out;
}

async function evaluate(opts: EvalOptions): Promise<void> {
  const examples = await readExamples(opts.input);
  const clf = await Classifier.load(opts.model, { dtype: opts.dtype });
  const yTrue = modelLabels(examples, clf, opts.input);
  const bar = progress("eval", examples.length);
  let seen = 0;
  const { probs } = clf.predictProba(
    examples.map((e) => e.text),
    {
      batchSize: opts.batchSize,
      maxLength: opts.maxLength,
      onBatch: (done) => {
        bar.tick(done - seen);
        seen = done;
      },
    },
  );
  bar.done();
  const metrics = computeMetrics(yTrue, clf.argmax(probs), clf.labels, probs);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(metrics)}\n`);
    return;
  }
  process.stdout.write(`eval: ${examples.length} examples from ${opts.input}, model ${clf.dir}\n\n`);
  process.stdout.write(formatReport(metrics));
}
