/** `gotune train-vocab`: train a BERT WordPiece vocabulary and write Hugging Face tokenizer files. */
import type { Command } from "commander";
import { TRAIN_SPECIALS } from "../../hf/wordpiece-trainer.js";
import { TRAIN_VOCAB_DEFAULTS as D, type TrainVocabOptions, trainVocab } from "../../jobs/train-vocab.js";
import { runCommand } from "../../util/errors.js";
import { positiveInt, wholeNumber } from "../options.js";

/** Adds the train-vocab command. */
export function register(program: Command): void {
  program
    .command("train-vocab")
    .summary("Train a BERT WordPiece vocabulary from text files")
    .description(
      "Train a BERT WordPiece vocabulary (as Hugging Face's WordPieceTrainer) from text files: plain text, " +
        "one text a line, or JSONL with a `text` field. Writes vocab.txt, tokenizer.json, tokenizer_config.json " +
        "and special_tokens_map.json to --out, loadable by `gotune tokenize` and by Python's AutoTokenizer.",
    )
    .requiredOption("--input <file...>", "text or .jsonl files to learn from")
    .requiredOption("--out <dir>", "folder to write the tokenizer files into")
    .option(
      "--vocab-size <n>",
      "vocabulary size, special tokens and alphabet included",
      wholeNumber(TRAIN_SPECIALS.length),
      D.vocabSize,
    )
    .option("--min-frequency <n>", "never merge a pair seen fewer times", positiveInt, D.minFrequency)
    .option("--lowercase", "lower-case and strip accents (uncased model; the default)", D.lowercase)
    .option("--no-lowercase", "keep case and accents (cased model)")
    .action((opts: TrainVocabOptions) =>
      runCommand(async () => {
        const { tokenizer, words } = await trainVocab(opts);
        process.stdout.write(
          `train-vocab: ${tokenizer.vocabSize} tokens (${words} distinct words) written to ${opts.out}\n`,
        );
      }),
    );
}
