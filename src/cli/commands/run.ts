/** `gotune run`: the main job end to end (see src/jobs/main-job.ts). */
import { join } from "node:path";
import { type Command, Option } from "commander";
import { FINETUNE_OUTPUTS } from "../../jobs/finetune.js";
import {
  MAIN_JOB_DEFAULTS as D,
  MAIN_JOB_OUTPUTS,
  type MainJobOptions,
  runMainJob,
} from "../../jobs/main-job.js";
import type { Brief } from "../../jobs/report.js";
import { runCommand } from "../../util/errors.js";
import { positiveInt, positiveNumber } from "../options.js";

/** Training-set sizes of the learning curve, comma-separated. */
function sizes(v: string): number[] {
  return v.split(",").map((x) => positiveInt(x.trim()));
}

/** The command's options are the main job's, less where the log goes. */
type Options = Omit<MainJobOptions, "log">;

/** Adds the run command. */
export function register(program: Command): void {
  program
    .command("run")
    .summary("The main job: GO in, a fine-tuned model and a report out")
    .description(
      "The main job, end to end and offline by default: get GO (--obo, the cache, the official release, else " +
        "Debian's 2018 release), prepare the dataset and figures, run the TF-IDF baseline (C chosen on the training " +
        "examples), fine-tune the shipped pre-trained GO-BERT (models/go-bert-mini; where this split's test terms " +
        "were in its corpus, or with --no-shipped, pre-train a compact BERT here instead) on the full train split, " +
        "evaluate it on the full test split, run the study's 2,000/1,000 protocol on several samples, a learning " +
        "curve (pre-trained, from scratch, baseline) and an error analysis, classify a document sentence by " +
        "sentence, and write OUT/report.html and OUT/summary.json. The fine-tuned model lands in OUT/model. " +
        "Rerunning with the same OUT resumes the training stages.",
    )
    .option("--obo <path|url>", "the GO release to use (default: as `gotune fetch-go` finds one)")
    .option("--out <dir>", "the folder for everything the run writes", D.out)
    .option("--seed <n>", "seed of the split, shuffles and initialisation", positiveInt, D.seed)
    .option("--no-figures", "skip the figures")
    .option(
      "--preset <name>",
      "size preset of a model pre-trained here and of the from-scratch runs",
      D.preset,
    )
    .option("--pretrained <path|id>", "fine-tune this pre-trained model (a folder or a Hugging Face id)")
    .option("--no-shipped", "pre-train a model here even where the shipped one fits this split")
    .option(
      "--pretrain-minutes <m>",
      "minutes of masked-LM pre-training at most, when this run pre-trains its own",
      positiveNumber,
      D.pretrainMinutes,
    )
    .option(
      "--pretrain-epochs <n>",
      "passes over the pre-training corpus at most",
      positiveInt,
      D.pretrainEpochs,
    )
    .option("--pretrain-max-steps <n>", "optimiser steps of pre-training at most (quick runs)", positiveInt)
    .option("--epochs <n>", "fine-tuning epochs on the full split", positiveInt, D.epochs)
    .option("--lr <x>", "fine-tuning learning rate", positiveNumber, D.lr)
    .option("--batch-size <n>", "fine-tuning batch size", positiveInt, D.batchSize)
    .option("--study-train <n>", "train examples of the study's protocol", positiveInt, D.studyTrain)
    .option("--study-eval <n>", "test examples of the study's protocol", positiveInt, D.studyEval)
    .option("--study-epochs <n>", "epochs of the study's protocol", positiveInt, D.studyEpochs)
    .option(
      "--bf16",
      "pre-train and fine-tune with bf16 matrix products with fp32 accumulation and fp32 master weights (CPUs with AVX512-BF16 or AMX)",
    )
    .option(
      "--study-seeds <n>",
      "samples of the study's protocol (seeds SEED, SEED+1...)",
      positiveInt,
      D.studySeeds,
    )
    .option(
      "--curve <sizes>",
      "training examples of the learning curve below the study's (its 2,000 and all are reused)",
      sizes,
      D.curve,
    )
    .addOption(
      // The default is a path inside this checkout: shown by its name, not by this machine's path.
      new Option("--document <file>", "a text document to classify sentence by sentence").default(
        D.document,
        "examples/abstract.txt of gotune",
      ),
    )
    .action((opts: Options) =>
      runCommand(async () => {
        const s = await runMainJob({ ...opts, log: (l) => process.stderr.write(`${l}\n`) });
        const f = (x: number) => x.toFixed(4);
        const line = (name: string, b: Brief) =>
          `${name} (${b.train_examples}/${b.eval_examples}): accuracy ${f(b.accuracy)}, macro-F1 ${f(b.macro_f1)}\n`;
        process.stdout.write(
          `GO ${s.go.data_version ?? ""} (${s.go.source})\n` +
            line(`TF-IDF baseline (C = ${s.baseline.full.C}), full split`, s.baseline.full) +
            line(`pre-trained (${s.pretrained.source}) + fine-tuned, full split`, s.finetune) +
            line("TF-IDF baseline, study protocol", s.baseline.study) +
            line(`pre-trained (${s.pretrained.source}), study protocol`, s.study.pretrained) +
            line(`${opts.preset}, from scratch, study protocol`, s.study.scratch) +
            `study protocol over seeds ${s.study.seeds.join(", ")}: pre-trained accuracy ` +
            `${f(s.study.mean.pretrained.accuracy.mean)} ± ${f(s.study.mean.pretrained.accuracy.sd)}, macro-F1 ` +
            `${f(s.study.mean.pretrained.macro_f1.mean)} ± ${f(s.study.mean.pretrained.macro_f1.sd)}; baseline ` +
            `${f(s.study.mean.baseline.accuracy.mean)} ± ${f(s.study.mean.baseline.accuracy.sd)}, ` +
            `${f(s.study.mean.baseline.macro_f1.mean)} ± ${f(s.study.mean.baseline.macro_f1.sd)}\n` +
            `${s.beats_baseline ? "beats" : "does NOT beat"} the tuned baseline; done in ${s.seconds.total.toFixed(0)} s\n` +
            `report: ${join(opts.out, MAIN_JOB_OUTPUTS.report)}; model: ${join(opts.out, FINETUNE_OUTPUTS.model)}\n`,
        );
      }),
    );
}
