/** `gotune eval`: a fine-tuned model's metrics on any labelled JSONL or CSV file. */
import type { Command } from "commander";
import { PREDICT_DEFAULTS } from "../../inference/classifier.js";
import { evaluateFile } from "../../inference/evaluate.js";
import { formatReport } from "../../inference/metrics.js";
import type { Dtype } from "../../native/index.js";
import { runCommand } from "../../util/errors.js";
import { dtypeOption, maxLengthOption, positiveInt } from "../options.js";

interface EvalOptions {
  model: string;
  input: string;
  json?: boolean;
  batchSize: number;
  maxLength?: number;
  dtype: Dtype;
}

/** Adds `eval` to the program. */
export function register(program: Command): void {
  program
    .command("eval")
    .summary("Evaluate a fine-tuned model on a labelled file")
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
    .option("--batch-size <n>", "texts per forward pass", positiveInt, PREDICT_DEFAULTS.batchSize)
    .option(dtypeOption.flags, dtypeOption.description, dtypeOption.parse, dtypeOption.default)
    .addOption(maxLengthOption("per text"))
    .action((opts: EvalOptions) => runCommand(() => evaluate(opts)));
}

async function evaluate(opts: EvalOptions): Promise<void> {
  const { metrics, examples, modelDir } = await evaluateFile(opts.model, opts.input, opts);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(metrics)}\n`);
    return;
  }
  process.stdout.write(`eval: ${examples} examples from ${opts.input}, model ${modelDir}\n\n`);
  process.stdout.write(formatReport(metrics));
}
