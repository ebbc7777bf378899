/** `gotune run`: the main job end to end — get GO, prepare the dataset, run the baseline. */
import { join } from "node:path";
import type { Command } from "commander";
import { type BaselineResult, runBaseline } from "../../baseline/run.js";
import { loadSplit } from "../../data/examples.js";
import { fetchGo } from "../../data/fetch-go.js";
import { prepare } from "../../data/prepare.js";
import { runCommand } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fsx.js";

interface Options {
  obo?: string;
  out: string;
  seed: string;
  figures: boolean;
}

/** The study's protocol: 2,000 train and 1,000 test examples after a seeded shuffle. */
const STUDY = { trainLimit: 2000, evalLimit: 1000 };
const FIT = { C: 1, maxIter: 1000, tol: 1e-5 };

/** Adds the run command. */
export function register(program: Command): void {
  program
    .command("run")
    .description(
      "The main job, end to end and offline by default: get GO (--obo, the cache, the official release, " +
        "else Debian's 2018 release), prepare the dataset and figures into OUT, and run the TF-IDF baseline " +
        "on the full split and on the study's 2,000/1,000 protocol. Writes OUT/summary.json.",
    )
    .option("--obo <path|url>", "the GO release to use (default: as `gotune fetch-go` finds one)")
    .option("--out <dir>", "the folder for everything the run writes", "runs/latest")
    .option("--seed <n>", "seed of the split and the shuffles", "42")
    .option("--no-figures", "skip the figures")
    .action((opts: Options) => runCommand(() => run(opts)));
}

async function run(opts: Options): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const seed = Number(opts.seed);
  const t0 = performance.now();
  log("run: 1/3 getting GO");
  const go = await fetchGo({ obo: opts.obo });
  for (const note of go.notes) log(`run: ${note}`);
  log(`run: GO release ${go.dataVersion ?? "(no data-version)"} from ${go.source} (${go.path})`);

  log("run: 2/3 preparing the dataset");
  const data = join(opts.out, "data");
  await prepare({
    obo: go.path,
    out: data,
    seed,
    testSize: 0.2,
    keepObsolete: false,
    top: 30,
    figures: opts.figures,
  });

  log("run: 3/3 TF-IDF baseline (full split, then the study's 2,000/1,000)");
  const split = await loadSplit(data);
  const full = runBaseline(split, { seed, ...FIT });
  const study = runBaseline(split, { seed, ...STUDY, ...FIT });
  await writeFileAtomic(join(data, "baseline.json"), `${JSON.stringify(full, null, 2)}\n`);

  const brief = (r: BaselineResult) => ({
    train_examples: r.train_examples,
    eval_examples: r.eval_examples,
    accuracy: r.accuracy,
    macro_f1: r.macro_f1,
  });
  const summary = {
    go: { path: go.path, source: go.source, data_version: go.dataVersion, sha256: go.sha256 },
    data,
    baseline: { full: brief(full), study: brief(study) },
    seconds: (performance.now() - t0) / 1000,
  };
  await writeFileAtomic(join(opts.out, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  const pct = (x: number) => x.toFixed(4);
  process.stdout.write(
    `GO ${summary.go.data_version ?? ""} (${go.source}); dataset in ${data}\n` +
      `baseline, full split (${full.train_examples}/${full.eval_examples}): accuracy ${pct(full.accuracy)}, macro-F1 ${pct(full.macro_f1)}\n` +
      `baseline, study protocol (${study.train_examples}/${study.eval_examples}): accuracy ${pct(study.accuracy)}, macro-F1 ${pct(study.macro_f1)}\n` +
      `done in ${summary.seconds.toFixed(1)} s; summary in ${join(opts.out, "summary.json")}\n`,
  );
}
