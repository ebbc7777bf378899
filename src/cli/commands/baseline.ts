/** `gotune baseline`: TF-IDF + multinomial logistic regression on a prepared split, with its metrics. */
import { type Command, InvalidArgumentError } from "commander";
import { TUNE_FOLDS } from "../../baseline/run.js";
import { FULL_CV_MAX } from "../../baseline/tune.js";
import { formatReport } from "../../inference/metrics.js";
import { baselineJob, BASELINE_DEFAULTS as D } from "../../jobs/baseline.js";
import { runCommand } from "../../util/errors.js";
import { nonNegativeInt, positiveInt, positiveNumber } from "../options.js";

interface BaselineOptions {
  data: string;
  trainLimit?: number;
  evalLimit?: number;
  seed: number;
  json?: boolean;
  out?: string;
  maxIter: number;
  tol: number;
  C?: number;
  cGrid: number[];
}

/** A comma-separated list of positive numbers (the C grid). */
function numberList(v: string): number[] {
  const xs = v.split(",").map((x) => positiveNumber(x.trim()));
  if (!xs.length) throw new InvalidArgumentError("give numbers separated by commas, e.g. 0.3,1,3,10");
  return xs;
}

/** Adds `baseline` to the program. */
export function register(program: Command): void {
  program
    .command("baseline")
    .summary("Train and evaluate the TF-IDF + logistic-regression baseline")
    .description(
      "Train the TF-IDF (word 1-2-grams, sublinear tf) + logistic-regression baseline on DIR/train.jsonl " +
        `(C chosen on the training examples only: ${TUNE_FOLDS}-fold cross-validation up to ${FULL_CV_MAX} of them, ` +
        `a 1/${TUNE_FOLDS} validation split above; or fixed with --C), ` +
        "evaluate it on DIR/test.jsonl, print accuracy, macro-F1, per-class scores and the confusion matrix, " +
        "and write them as JSON (DIR/baseline.json by default)",
    )
    .requiredOption("--data <dir>", "the folder written by `gotune prepare` (train.jsonl, test.jsonl)")
    .option(
      "--train-limit <n>",
      "train on N examples taken after a seeded shuffle (the study: 2000)",
      positiveInt,
    )
    .option(
      "--eval-limit <m>",
      "evaluate on M examples taken after a seeded shuffle (the study: 1000)",
      positiveInt,
    )
    .option("--seed <n>", "the shuffle's seed", nonNegativeInt, D.seed)
    .option("--json", "print one JSON object on stdout instead of the text report")
    .option("--out <file>", "where to write the metrics as JSON (default: DIR/baseline.json)")
    .option("--max-iter <n>", "L-BFGS iterations at most (scikit-learn's max_iter)", positiveInt, D.maxIter)
    .option(
      "--tol <t>",
      "stop when no gradient component of the mean loss exceeds this (scikit-learn's tol, 1e-4, stops short of the optimum)",
      positiveNumber,
      D.tol,
    )
    .option(
      "--C <c>",
      "fix the inverse L2 regularisation strength (scikit-learn's C) instead of choosing it",
      positiveNumber,
    )
    .option("--C-grid <list>", "the Cs to choose from, comma-separated", numberList, [...D.grid])
    .action((opts: BaselineOptions) => runCommand(() => baseline(opts)));
}

async function baseline(opts: BaselineOptions): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const { result, out } = await baselineJob({ ...opts, grid: opts.cGrid, log, verbose: !opts.json });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(formatReport(result));
    log(
      `baseline: fitted in ${result.seconds.fit.toFixed(1)} s (${result.iterations} iterations, ` +
        `${result.stop_reason}); metrics written to ${out}`,
    );
  }
}
