/** The baseline job: TF-IDF + logistic regression on a prepared split, its metrics written as JSON. */
import { join } from "node:path";
import { type BaselineResult, type BaselineRunOptions, runBaseline } from "../baseline/run.js";
import { C_GRID } from "../baseline/tune.js";
import { loadSplit, SPLIT_FILES } from "../data/examples.js";
import { writeFileAtomic } from "../util/fsx.js";
import { type Progress, progress } from "../util/progress.js";

/** The files the baseline job writes (into the split's folder unless told otherwise). */
export const BASELINE_OUTPUTS = { metrics: "baseline.json" } as const;

/** `gotune baseline`'s defaults (the fit's, as scikit-learn's, but a finer tol). */
export const BASELINE_DEFAULTS = { seed: 42, maxIter: 1000, tol: 1e-5, grid: C_GRID } as const;

/** Where the split is, where the metrics go, and how to fit. */
export interface BaselineJobOptions
  extends Omit<BaselineRunOptions, "onVectorized" | "onTuneFit" | "onIteration"> {
  /** A folder written by the prepare job. */
  data: string;
  /** The metrics file (default: DATA/baseline.json). */
  out?: string;
  /** Progress notes (stderr in the command); the fit's summary lines only when `verbose`. */
  log: (line: string) => void;
  verbose: boolean;
}

/** Loads the split, fits and scores the baseline with progress bars, and writes its metrics atomically. */
export async function baselineJob(
  opts: BaselineJobOptions,
): Promise<{ result: BaselineResult & { data: string }; out: string }> {
  const { log } = opts;
  const split = await loadSplit(opts.data);
  for (const [flag, limit, have, file] of [
    ["--train-limit", opts.trainLimit, split.train.length, SPLIT_FILES.train],
    ["--eval-limit", opts.evalLimit, split.test.length, SPLIT_FILES.test],
  ] as const)
    if (limit !== undefined && limit > have)
      log(`gotune: note: ${flag} ${limit} > ${have} examples in ${file}; using all`);

  let tuneBar: Progress | undefined;
  // The bar follows the largest gradient component on a log scale, from its start down to tol.
  const bar = progress("fit", 100, ["iter", "loss"]);
  let g0 = 0;
  let shown = 0;
  const r = runBaseline(split, {
    trainLimit: opts.trainLimit,
    evalLimit: opts.evalLimit,
    seed: opts.seed,
    C: opts.C,
    grid: opts.grid,
    maxIter: opts.maxIter,
    tol: opts.tol,
    onTuneFit: (done, total) => {
      tuneBar ??= progress("choosing C", total);
      tuneBar.tick(1);
      if (done === total) tuneBar.done();
    },
    onVectorized: (info) => {
      if (opts.verbose)
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
  if (r.tuning && opts.verbose) {
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
  const out = opts.out ?? join(opts.data, BASELINE_OUTPUTS.metrics);
  await writeBaseline(out, result);
  return { result, out };
}

/** Writes a baseline's metrics as indented JSON, atomically (the main job writes its own with this too). */
export async function writeBaseline(path: string, result: BaselineResult): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(result, null, 2)}\n`);
}
