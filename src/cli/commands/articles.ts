/** `gotune articles`: the article-sentence classifier (multi-label, "no GO aspect" possible) on CRAFT. */
import { join } from "node:path";
import type { Command } from "commander";
import {
  ARTICLES_OUTPUTS,
  type ArticlesOptions,
  articlesJob,
  ARTICLES_DEFAULTS as D,
} from "../../jobs/articles.js";
import { runCommand } from "../../util/errors.js";
import { maxLengthOption, nonNegativeInt, positiveInt, positiveNumber } from "../options.js";
import { stopOnSignals } from "../signals.js";

type Options = Omit<ArticlesOptions, "signal" | "note"> & { json?: boolean };

/** Adds `articles` to the program. */
export function register(program: Command): void {
  program
    .command("articles")
    .summary("Train the article-sentence classifier (says no aspect too)")
    .description(
      "Fine-tune a multi-label sentence classifier for articles (a sigmoid per GO aspect, so a sentence may " +
        "speak of none) on CRAFT's train articles (corpora/craft) with their aspect sets, empty ones included, " +
        "plus GO definitions of a prepared split (--data); choose each aspect's threshold on train articles held " +
        "out of training, and score it on CRAFT's dev articles: OUT/model, OUT/articles.json, " +
        "OUT/wrong-sentences.jsonl. CRAFT's test articles are never used",
    )
    .requiredOption("--out <dir>", "the run folder")
    .option(
      "--model <dir>",
      "the starting model (a pre-trained folder); default: the shipped models/go-bert-mini",
    )
    .option("--craft <file>", "the CRAFT file (.jsonl.gz); default: the vendored corpora/craft one")
    .option("--data <dir>", "a folder written by `gotune prepare`: mix in its train definitions")
    .option("--go-examples <n>", "GO train definitions to mix in (0: none)", nonNegativeInt, D.goExamples)
    .option("--epochs <n>", "passes over the training sentences", positiveInt, D.epochs)
    .option("--lr <x>", "peak learning rate (linear warm-up over 6%, then decay)", positiveNumber, D.lr)
    .option("--batch-size <n>", "sentences per step", positiveInt, D.batchSize)
    .addOption(maxLengthOption("per sentence", D.maxLength))
    .option(
      "--held-out <n>",
      "train articles held out of training for the thresholds",
      positiveInt,
      D.heldOut,
    )
    .option("--train-limit <n>", "train on the first N article sentences only (a quick run)", positiveInt)
    .option("--seed <n>", "the seed of the held-out choice, the order and the head", nonNegativeInt, D.seed)
    .option("--json", "print the dev scores as one JSON object")
    .action((opts: Options) => runCommand(() => articles(opts)));
}

async function articles(opts: Options): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const stop = stopOnSignals(
    (sig) => `\narticles: ${sig}: stopping after this step and writing a checkpoint (again to quit at once)`,
  );
  try {
    const r = await articlesJob({ ...opts, signal: stop.signal, note: log });
    if (r.train.interrupted) {
      log(
        `articles: stopped at step ${r.train.globalStep} of ${r.train.totalSteps}; run the same command again to resume`,
      );
      process.exitCode = stop.exitCode();
      return;
    }
    const m = r.metrics!;
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ counts: r.counts, dev: m })}\n`);
      return;
    }
    const pl = Object.entries(m.per_label)
      .map(([l, s]) => `${l} ${s.f1.toFixed(4)}`)
      .join(", ");
    process.stdout.write(
      `dev articles (${m.sentences} sentences, ${m.single_label} of one aspect): single-aspect accuracy ` +
        `${m.single_accuracy.toFixed(4)}, macro-F1 ${m.single_macro_f1.toFixed(4)}\n` +
        `per-aspect F1: ${pl}; mean over the aspects ${m.per_label_f1_mean.toFixed(4)}\n` +
        `speaks of any aspect: F1 ${m.detection.f1.toFixed(4)}; ECE ${m.ece.toFixed(4)}\n` +
        `model in ${r.modelDir}; scores in ${join(opts.out, ARTICLES_OUTPUTS.metrics)}\n`,
    );
  } finally {
    stop.dispose();
  }
}
