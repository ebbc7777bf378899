/** `gotune train`: fine-tune a BERT classifier on a GO split, with Hugging Face Trainer's defaults. */
import { join } from "node:path";
import type { Command } from "commander";
import {
  FINETUNE_DEFAULTS as D,
  FINETUNE_OUTPUTS,
  type FinetuneOptions,
  finetune,
} from "../../jobs/finetune.js";
import { runCommand } from "../../util/errors.js";
import { maxLengthOption, nonNegativeInt, oneOf, positiveInt, realNumber, wholeNumber } from "../options.js";
import { stopOnSignals } from "../signals.js";

/** The flags are FinetuneOptions' fields, one to one. */
type Options = Omit<FinetuneOptions, "signal" | "note">;

/** Adds the train command. */
export function register(program: Command): void {
  program
    .command("train")
    .summary("Fine-tune BERT to tell a GO definition's aspect")
    .description(
      "Fine-tune BERT to tell a GO definition's aspect, as Hugging Face's Trainer does (AdamW, linear decay, " +
        "clipping at 1.0, dynamic padding). --data is a folder from `gotune prepare` (train.jsonl, test.jsonl); " +
        "--model is a model folder, a hub id, or a size preset (bert-mini, bert-tiny...) trained from scratch " +
        "with a WordPiece vocabulary learnt from the train split. Evaluates on test.jsonl after each epoch " +
        "(OUT/eval-epoch-N.json), checkpoints each epoch (OUT/checkpoint-STEP, resumed automatically when " +
        "the same command runs again), logs to OUT/log.jsonl, draws OUT/training-curve.png and writes the " +
        "fine-tuned model to OUT/model. Ctrl-C stops after the current step with a checkpoint.",
    )
    .requiredOption("--data <dir>", "folder with train.jsonl and test.jsonl (gotune prepare)")
    .requiredOption("--model <model>", "model folder, Hugging Face id, or preset (bert-mini, bert-tiny, ...)")
    .requiredOption("--out <dir>", "folder for checkpoints, logs, evaluations and the final model")
    .option("--epochs <n>", "training epochs", positiveInt, D.epochs)
    .option("--lr <x>", "peak learning rate", realNumber(0, 1, true), D.lr)
    .option("--batch-size <n>", "examples a step", positiveInt, D.batchSize)
    .addOption(maxLengthOption("per text, saved with the model as the default of inference", D.maxLength))
    .option("--warmup-ratio <x>", "fraction of the steps for linear warm-up", realNumber(0, 1), D.warmupRatio)
    .option("--warmup-steps <n>", "warm-up steps (overrides --warmup-ratio)", nonNegativeInt)
    .option(
      "--weight-decay <x>",
      "AdamW weight decay (biases, LayerNorm exempt)",
      realNumber(0, 1),
      D.weightDecay,
    )
    .option(
      "--max-grad-norm <x>",
      "clip the global gradient norm (0: no clipping)",
      realNumber(0),
      D.maxGradNorm,
    )
    .option("--seed <n>", "seed of the shuffles, the initialisation and dropout", nonNegativeInt, D.seed)
    .option("--group-by-length", "batch texts of similar length together (less padding, faster)", false)
    .option(
      "--train-limit <n>",
      "train on this many examples of a seeded shuffle (the study: 2000)",
      positiveInt,
    )
    .option(
      "--eval-limit <n>",
      "evaluate on this many examples of a seeded shuffle (the study: 1000)",
      positiveInt,
    )
    .option(
      "--vocab-size <n>",
      "vocabulary size of the tokenizer trained for a preset",
      wholeNumber(100),
      D.vocabSize,
    )
    .option("--eval-batch-size <n>", "texts a forward pass when evaluating", positiveInt, D.evalBatchSize)
    .option(
      "--eval-strategy <when>",
      "evaluate after each epoch (epoch) or the last only (end)",
      oneOf(["epoch", "end"] as const),
      D.evalStrategy,
    )
    .option("--save-steps <n>", "also checkpoint every N steps (each epoch's end always)", positiveInt)
    .option("--save-total-limit <n>", "keep only the newest N checkpoints", positiveInt)
    .option(
      "--resume [checkpoint]",
      "continue from OUT's newest checkpoint (automatic when there is one), or from the one given",
    )
    .option("--no-figures", "skip the training-curve figure")
    .option(
      "--bf16",
      "bf16 matrix products with fp32 accumulation and fp32 master weights (CPUs with AVX512-BF16 or AMX)",
    )
    .action((opts: Options) => runCommand(() => train(opts)));
}

async function train(opts: Options): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const stop = stopOnSignals(
    (sig) => `\ntrain: ${sig}: stopping after this step and writing a checkpoint (again to quit at once)`,
  );
  try {
    const r = await finetune({ ...opts, signal: stop.signal, note: log });
    const t = r.train;
    if (t.interrupted) {
      log(
        `train: stopped at step ${t.globalStep} of ${t.totalSteps}; checkpoint ${t.lastCheckpoint}; ` +
          "run the same command again to resume",
      );
      process.exitCode = stop.exitCode();
      return;
    }
    const m = r.metrics;
    process.stdout.write(
      `trained on ${r.trainExamples} examples, ${t.globalStep} steps (${t.examplesPerSecond.toFixed(1)} examples/s)\n` +
        (m
          ? `evaluation on ${r.evalExamples} examples: accuracy ${m.accuracy.toFixed(4)}, macro-F1 ${m.macro_f1.toFixed(4)}\n`
          : "") +
        `model in ${r.modelDir}; log in ${join(opts.out, FINETUNE_OUTPUTS.log)}\n`,
    );
  } finally {
    stop.dispose();
  }
}
