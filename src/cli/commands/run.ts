/** `gotune run`: the main job end to end (see src/jobs/main-job.ts). */
import { join } from "node:path";
import type { Command } from "commander";
import { type Brief, type MainJobOptions, runMainJob } from "../../jobs/main-job.js";
import { runCommand } from "../../util/errors.js";
import { positiveInt, positiveNumber } from "../options.js";

/** The command's options are the main job's, less where the log goes. */
type Options = Omit<MainJobOptions, "log">;

const EXAMPLE_DOCUMENT = join(import.meta.dirname, "..", "..", "..", "..", "examples", "abstract.txt");

/** Adds the run command. */
export function register(program: Command): void {
  program
    .command("run")
    .description(
      "The main job, end to end and offline by default: get GO (--obo, the cache, the official release, else " +
        "Debian's 2018 release), prepare the dataset and figures, run the TF-IDF baseline, pre-train a compact " +
        "BERT (masked LM) on the train split, fine-tune it on the full train split, evaluate it on the full test " +
        "split, run the study's 2,000/1,000 protocol from the pre-trained model and from scratch, classify a " +
        "document sentence by sentence, and write OUT/report.html and OUT/summary.json. The fine-tuned model " +
        "lands in OUT/model. Rerunning with the same OUT resumes the training stages.",
    )
    .option("--obo <path|url>", "the GO release to use (default: as `gotune fetch-go` finds one)")
    .option("--out <dir>", "the folder for everything the run writes", "runs/latest")
    .option("--seed <n>", "seed of the split, shuffles and initialisation", positiveInt, 42)
    .option("--no-figures", "skip the figures")
    .option("--preset <name>", "size preset of the model (src/model/config.ts)", "bert-mini")
    .option("--pretrain-minutes <m>", "minutes of masked-LM pre-training at most", positiveNumber, 4)
    .option("--pretrain-epochs <n>", "passes over the pre-training corpus at most", positiveInt, 3)
    .option("--pretrain-max-steps <n>", "optimiser steps of pre-training at most (quick runs)", positiveInt)
    .option("--epochs <n>", "fine-tuning epochs on the full split", positiveInt, 1)
    .option("--lr <x>", "fine-tuning learning rate", positiveNumber, 1e-4)
    .option("--batch-size <n>", "fine-tuning batch size", positiveInt, 16)
    .option("--study-train <n>", "train examples of the study's protocol", positiveInt, 2000)
    .option("--study-eval <n>", "test examples of the study's protocol", positiveInt, 1000)
    .option("--study-epochs <n>", "epochs of the study's protocol", positiveInt, 3)
    .option(
      "--bf16",
      "pre-train and fine-tune with bf16 matrix products with fp32 accumulation and fp32 master weights (CPUs with AVX512-BF16 or AMX)",
    )
    .option("--document <file>", "a text document to classify sentence by sentence", EXAMPLE_DOCUMENT)
    .action((opts: Options) =>
      runCommand(async () => {
        const s = await runMainJob({ ...opts, log: (l) => process.stderr.write(`${l}\n`) });
        const f = (x: number) => x.toFixed(4);
        const line = (name: string, b: Brief) =>
          `${name} (${b.train_examples}/${b.eval_examples}): accuracy ${f(b.accuracy)}, macro-F1 ${f(b.macro_f1)}\n`;
        process.stdout.write(
          `GO ${s.go.data_version ?? ""} (${s.go.source})\n` +
            line("TF-IDF baseline, full split", s.baseline.full) +
            line(`${opts.preset}, pre-trained + fine-tuned, full split`, s.finetune) +
            line("TF-IDF baseline, study protocol", s.baseline.study) +
            line(`${opts.preset}, pre-trained, study protocol`, s.study.pretrained) +
            line(`${opts.preset}, from scratch, study protocol`, s.study.scratch) +
            `${s.beats_baseline ? "beats" : "does NOT beat"} the baseline; done in ${s.seconds.total.toFixed(0)} s\n` +
            `report: ${join(opts.out, "report.html")}; model: ${join(opts.out, "model")}\n`,
        );
      }),
    );
}
