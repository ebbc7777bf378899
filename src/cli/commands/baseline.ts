/** `gotune baseline`: TF-IDF + multinomial logistic regression on a prepared split, with its metrics. */
import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { runBaseline, TUNE_FOLDS } from "../../baseline/run.js";
import { C_GRID, FULL_CV_MAX } from "../../baseline/tune.js";
import { loadSplit } from "../../data/examples.js";
import { formatReport } from "../../inference/metrics.js";
import { runCommand } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fsx.js";
import { progress } from "../../util/progress.js";
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
    .option("--seed <n>", "the shuffle's seed", nonNegativeInt, 42)
    .option("--json", "print one JSON object on stdout instead of the text report")
    .option("--out <file>", "where to write the metrics as JSON (default: DIR/baseline.json)")
    .option("--max-iter <n>", "L-BFGS iterations at most (scikit-learn's max_iter)", positiveInt, 1000)
    .option(
      "--tol <t>",
      "stop when no gradient component of the mean loss exceeds this (scikit-learn's tol, 1e-4, stops short of the optimum)",
      positiveNumber,
      1e-5,
    )
    .option(
      "--C <c>",
      "fix the inverse L2 regularisation strength (scikit-learn's C) instead of choosing it",
      positiveNumber,
    )
    .option("--C-grid <list>", "the Cs to choose from, comma-separated", numberList, [...C_GRID])
    .action((opts: BaselineOptions) => runCommand(() => baseline(opts)));
}

async function baseline(opts: BaselineOptions): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const split = await loadSplit(opts.data);
  for (const [flag, limit, have, file] of [
    ["--train-limit", opts.trainLimit, split.train.length, "train.jsonl"],
    ["--eval-limit", opts.evalLimit, split.test.length, "test.jsonl"],
  ] as const)
    if (limit !== undefined && limit > have)
      log(`gotune: note: ${flag} ${limit} > ${have} examples in ${file}; using all`);

  let tuneBar: ReturnType<typeof progress> | undefined;
  // The bar follows the largest gradient component on a log scale, from its start down to --tol.
  const bar = progress("fit", 100, ["iter", "loss"]);
  let g0 = 0;
  let shown = 0;
  const r = runBaseline(split, {
    trainLimit: opts.trainLimit,
    evalLimit: opts.evalLimit,
    seed: opts.seed,
    C: opts.C,
    grid: opts.cGrid,
    maxIter: opts.maxIter,
    tol: opts.tol,
    onTuneFit: (done, total) => {
      tuneBar ??= progress("choosing C", total);
      tuneBar.tick(1);
      if (done === total) tuneBar.done();
    },
    onVectorized: (info) => {
      if (!opts.json)
        log(`baseline: ${info.train} train, ${info.test} test examples; ${info.features} features`);
    },
    onIteration: (iter, loss, gmax) => {
      if (iter === 1) g0 = gmax;
      const done = Math.log(g0 / gmax) / Math.log(g0 / opts.tol);
      const pct = Math.max(shown, Math.min(100, Math.floor(100 * (Number.isFinite(done) ? done : 0))));
      bar.tick(pct - shown, { iter, loss: loss.toFixed(5) });
      shown = pct;
    },
  });
  bar.done();
  if (r.tuning && !opts.json) {
    const t = r.tuning;
    log(
      `baseline: C = ${r.C}, chosen by ${t.method} over ${t.grid.map((g) => g.C).join(", ")} ` +
        `(${t.fits} fits, ${t.seconds.toFixed(1)} s); validation accuracy ` +
        t.grid.map((g) => `${g.C}: ${g.accuracy.toFixed(4)}`).join(", "),
    );
  }
  if (!r.converged)
    log(
      `gotune: note: L-BFGS stopped after ${r.iterations} iterations without converging (${r.stop_reason}); ` +
        "raise --max-iter or --tol",
    );
  const result = { ...r, data: opts.data };
  const out = opts.out ?? join(opts.data, "baseline.json");
  await writeFileAtomic(out, `${JSON.stringify(result, null, 2)}\n`);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(formatReport(r));
    log(
      `baseline: fitted in ${r.seconds.fit.toFixed(1)} s (${r.iterations} iterations, ` +
        `${r.stop_reason}); metrics written to ${out}`,
    );
  }
}
