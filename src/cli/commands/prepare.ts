/** `gotune prepare`: a GO release -> labelled terms, a stratified split, statistics and figures. */
import type { Command } from "commander";
import { PREPARE_DEFAULTS as D, prepare } from "../../jobs/prepare.js";
import { runCommand } from "../../util/errors.js";
import { realNumber, wholeNumber } from "../options.js";

interface Options {
  obo: string;
  out: string;
  seed: number;
  testSize: number;
  keepObsolete?: boolean;
  top: number;
  figures: boolean;
}

/** Adds the prepare command. */
export function register(program: Command): void {
  program
    .command("prepare")
    .summary("Turn a GO release into a labelled dataset, a split and figures")
    .description(
      "Turn a GO release (OBO) into a labelled dataset: terms.csv and terms.jsonl (go_id, name, aspect, " +
        "definition, def_word_count, label: 0 biological_process, 1 cellular_component, 2 molecular_function), " +
        "a stratified train/test split (train.jsonl, test.jsonl: go_id, name, aspect, label, text), " +
        "stats.json, and the figures (PNG and SVG) in OUT/figures.",
    )
    .requiredOption("--obo <file>", "the GO release in OBO format (see gotune fetch-go)")
    .requiredOption("--out <dir>", "the folder to write into (created if needed)")
    .option("--seed <n>", "seed of the split and the word-cloud layout", wholeNumber(0, 2 ** 32 - 1), D.seed)
    .option(
      "--test-size <share>",
      "the share of each class that goes to test.jsonl",
      realNumber(0, 1, true),
      D.testSize,
    )
    .option("--keep-obsolete", "keep obsolete terms (left out by default, as obonet does)")
    .option("--top <n>", "how many highest-degree terms the graph figure shows", wholeNumber(1, 200), D.top)
    .option("--no-figures", "skip the figures (faster)")
    .action((opts: Options) =>
      runCommand(async () => {
        const t0 = performance.now();
        const r = await prepare({
          obo: opts.obo,
          out: opts.out,
          seed: opts.seed,
          testSize: opts.testSize,
          top: opts.top,
          keepObsolete: Boolean(opts.keepObsolete),
          figures: opts.figures,
        });
        const s = r.stats as {
          terms: { kept: number };
          split: { train: { total: number }; test: { total: number } };
        };
        process.stdout.write(
          `prepared ${s.terms.kept.toLocaleString("en-US")} terms: ${s.split.train.total.toLocaleString("en-US")} train, ` +
            `${s.split.test.total.toLocaleString("en-US")} test, in ${((performance.now() - t0) / 1000).toFixed(1)} s\n` +
            `wrote ${r.files.length} files to ${r.out}: ${r.files.join(", ")}\n`,
        );
      }),
    );
}
