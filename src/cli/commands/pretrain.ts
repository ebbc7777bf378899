/** `gotune pretrain`: masked-language-model pre-training of a compact BERT with its own vocabulary. */
import type { Command } from "commander";
import { PRETRAIN_DEFAULTS as D, type PretrainOptions, pretrain } from "../../jobs/pretrain.js";
import type { BertConfig } from "../../model/config.js";
import { runCommand, UserError } from "../../util/errors.js";
import { maxLengthOption, nonNegativeInt, positiveInt, positiveNumber, share } from "../options.js";
import { stopOnSignals } from "../signals.js";

/** The flags: PretrainOptions' own fields where they match one to one, and the ones the command maps. */
type Options = Pick<
  PretrainOptions,
  | "bf16"
  | "out"
  | "preset"
  | "vocabSize"
  | "minFrequency"
  | "epochs"
  | "batchSize"
  | "lr"
  | "warmupRatio"
  | "weightDecay"
  | "maxLength"
  | "maxPositions"
  | "mlmProbability"
  | "seed"
  | "groupByLength"
  | "maxSteps"
  | "saveSteps"
> & {
  data: string;
  obo?: string;
  synonyms: boolean;
  text?: string[];
  layers?: number;
  hidden?: number;
  heads?: number;
  intermediate?: number;
  packing: string;
  timeBudget?: number;
  fullHead?: boolean;
};

/** Adds `pretrain` to the program. */
export function register(program: Command): void {
  program
    .command("pretrain")
    .summary("Pre-train a compact BERT (masked LM) on a split's text")
    .description(
      "Pre-train a compact BERT as a masked language model (15% of tokens chosen: 80% [MASK], 10% random, " +
        "10% kept) on the unlabelled text of a prepared train split (names, definitions and synonyms; never " +
        "a test term), with its own WordPiece vocabulary. Writes a Hugging Face folder to --out (config.json, " +
        "model.safetensors, tokenizer files) that `gotune train --model OUT` fine-tunes, plus " +
        "pretrain_log.jsonl, pretrain.json and figures/pretrain_loss.png",
    )
    .requiredOption("--data <dir>", "the folder written by `gotune prepare` (train.jsonl, stats.json)")
    .requiredOption("--out <dir>", "the model folder to write")
    .option(
      "--obo <file>",
      "the GO release for synonyms (default: the one `gotune prepare` read, from stats.json)",
    )
    .option("--no-synonyms", "leave synonyms out (no OBO file read)")
    .option("--text <file...>", "more text to learn from: one text a line, or .jsonl with a `text` field")
    .option("--preset <name>", "model size: bert-mini (4x256), bert-tiny (2x128), ...", D.preset)
    .option("--layers <n>", "encoder layers (overrides the preset)", positiveInt)
    .option("--hidden <n>", "hidden size (overrides the preset)", positiveInt)
    .option("--heads <n>", "attention heads (overrides the preset)", positiveInt)
    .option("--intermediate <n>", "feed-forward size (overrides the preset)", positiveInt)
    .option(
      "--vocab-size <n>",
      "WordPiece vocabulary size, specials and alphabet included",
      positiveInt,
      D.vocabSize,
    )
    .option("--min-frequency <n>", "never merge a pair seen fewer times", positiveInt, D.minFrequency)
    .option("--epochs <n>", "passes over the corpus (a time budget may stop sooner)", positiveInt, D.epochs)
    .option("--batch-size <n>", "sequences a batch", positiveInt, D.batchSize)
    .option("--lr <x>", "AdamW's peak learning rate (linear decay to 0)", positiveNumber, D.lr)
    .option(
      "--warmup-ratio <x>",
      "share of the steps spent warming the learning rate up",
      share,
      D.warmupRatio,
    )
    .option(
      "--weight-decay <x>",
      "AdamW's decoupled weight decay (not on biases and LayerNorm)",
      share,
      D.weightDecay,
    )
    .addOption(maxLengthOption("per sequence", D.maxLength))
    .option(
      "--max-positions <n>",
      "the model's max_position_embeddings (fine-tuning's --max-length must fit)",
      positiveInt,
      D.maxPositions,
    )
    .option("--mlm-probability <x>", "share of tokens chosen for prediction", share, D.mlmProbability)
    .option(
      "--seed <n>",
      "seed of the vocabulary order, initialisation, shuffles and masks",
      nonNegativeInt,
      D.seed,
    )
    .option("--packing <how>", "none: one text a sequence; pack: short texts share a sequence", D.packing)
    .option("--group-by-length", "batch sequences of similar length together (less padding)", D.groupByLength)
    .option("--no-group-by-length", "plain shuffled batches")
    .option(
      "--time-budget <minutes>",
      "plan the steps to fit and stop (saving) when this many minutes have passed",
      positiveNumber,
    )
    .option("--max-steps <n>", "at most this many steps (the learning rate still decays to 0)", positiveInt)
    .option(
      "--save-steps <n>",
      "also checkpoint every N steps into OUT/checkpoints (Ctrl-C always does); the same command resumes",
      positiveInt,
    )
    .option(
      "--bf16",
      "bf16 matrix products with fp32 accumulation and fp32 master weights (CPUs with AVX512-BF16 or AMX)",
    )
    .option(
      "--full-head",
      "run the MLM decoder at every position, not just the chosen ones (slower; for checks)",
    )
    .action((opts: Options) =>
      runCommand(async () => {
        const startedAt = performance.now();
        if (opts.packing !== "none" && opts.packing !== "pack")
          throw new UserError(`--packing ${opts.packing} is not a way of packing`, {
            hint: "give none or pack",
          });
        const shape: Partial<BertConfig> = {};
        if (opts.layers) shape.num_hidden_layers = opts.layers;
        if (opts.hidden) shape.hidden_size = opts.hidden;
        if (opts.heads) shape.num_attention_heads = opts.heads;
        if (opts.intermediate) shape.intermediate_size = opts.intermediate;
        const stop = stopOnSignals(() => "gotune: stopping after this step (the model is still saved)");
        try {
          const s = await pretrain({
            corpus: { dataDir: opts.data, obo: opts.synonyms ? opts.obo : null, textFiles: opts.text },
            out: opts.out,
            preset: opts.preset,
            shape,
            vocabSize: opts.vocabSize,
            minFrequency: opts.minFrequency,
            epochs: opts.epochs,
            batchSize: opts.batchSize,
            lr: opts.lr,
            warmupRatio: opts.warmupRatio,
            weightDecay: opts.weightDecay,
            maxLength: opts.maxLength,
            maxPositions: opts.maxPositions,
            mlmProbability: opts.mlmProbability,
            seed: opts.seed,
            packing: opts.packing,
            groupByLength: opts.groupByLength,
            timeBudgetMinutes: opts.timeBudget,
            maxSteps: opts.maxSteps,
            saveSteps: opts.saveSteps,
            bf16: opts.bf16,
            startedAt,
            maskedOnly: !opts.fullHead,
            signal: stop.signal,
          });
          process.stdout.write(
            `pretrain: ${s.steps.done} steps, held-out MLM loss ${s.loss.last_held_out?.toFixed(3) ?? "n/a"}, ` +
              `model written to ${opts.out} in ${s.seconds.total.toFixed(0)} s\n`,
          );
          // Stopped by a signal: the shell's code for it (as train exits), so a script sees the run unfinished.
          process.exitCode = stop.exitCode();
        } finally {
          stop.dispose();
        }
      }),
    );
}
