/** `gotune train-vocab`: train a BERT WordPiece vocabulary and write Hugging Face tokenizer files. */
import { createReadStream, promises as fsp } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { BERT_SPECIALS, BertTokenizer, bertTokenizerJson } from "../../hf/tokenizer.js";
import { TRAIN_SPECIALS, trainWordPiece, WordCounter } from "../../hf/wordpiece-trainer.js";
import { runCommand, UserError } from "../../util/errors.js";
import { assertReadable, writeFileAtomic } from "../../util/fsx.js";
import { progress } from "../../util/progress.js";
import { positiveInt, wholeNumber } from "../options.js";

interface Options {
  input: string[];
  out: string;
  vocabSize: number;
  minFrequency: number;
  lowercase: boolean;
}

/** Feeds a file's texts to the counter: JSONL (`.jsonl`/`.ndjson`, a `text` field) or one text a line. */
async function countFile(path: string, counter: WordCounter, tick: (n: number) => void): Promise<void> {
  const jsonl = /\.(jsonl|ndjson)$/i.test(path);
  const rl = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  for await (const line of rl) {
    n++;
    tick(Buffer.byteLength(line) + 1);
    if (line.trim() === "") continue;
    if (!jsonl) {
      counter.add(line);
      continue;
    }
    let text: unknown;
    try {
      text = (JSON.parse(line) as { text?: unknown }).text;
    } catch {
      throw new UserError("this line is not valid JSON", {
        file: path,
        line: n,
        hint: "each line must be one JSON object",
      });
    }
    if (typeof text !== "string")
      throw new UserError("this JSON object has no string `text` field", {
        file: path,
        line: n,
        hint: 'e.g. {"text": "..."}',
      });
    counter.add(text);
  }
}

/** Adds the train-vocab command. */
export function register(program: Command): void {
  program
    .command("train-vocab")
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
      8000,
    )
    .option("--min-frequency <n>", "never merge a pair seen fewer times", positiveInt, 2)
    .option("--lowercase", "lower-case and strip accents (uncased model; the default)", true)
    .option("--no-lowercase", "keep case and accents (cased model)")
    .action((opts: Options) =>
      runCommand(async () => {
        const { vocabSize, minFrequency } = opts;
        for (const f of opts.input) await assertReadable(f, "input file");
        const normalizer = {
          cleanText: true,
          handleChineseChars: true,
          stripAccents: null,
          lowercase: opts.lowercase,
        };
        const counter = new WordCounter(normalizer);
        const sizes = await Promise.all(opts.input.map(async (f) => (await fsp.stat(f)).size));
        const reading = progress(
          "train-vocab: reading",
          Math.max(
            1,
            sizes.reduce((a, b) => a + b, 0),
          ),
        );
        for (const f of opts.input) await countFile(f, counter, (n) => reading.tick(n));
        reading.done();
        if (counter.counts.size === 0)
          throw new UserError("the input holds no words", {
            file: opts.input.join(", "),
            hint: "give files with text",
          });

        let bar: ReturnType<typeof progress> | undefined;
        const tokens = trainWordPiece(counter.counts, {
          vocabSize,
          minFrequency,
          onMerge: (done, total) => {
            bar ??= progress("train-vocab: merges", Math.max(1, total));
            bar.tick(1);
            void done;
          },
        });
        bar?.done();

        const vocab = new Map(tokens.map((t, i) => [t, i] as [string, number]));
        const json = bertTokenizerJson(vocab, BERT_SPECIALS, normalizer);
        const specials = {
          cls_token: BERT_SPECIALS.cls,
          mask_token: BERT_SPECIALS.mask,
          pad_token: BERT_SPECIALS.pad,
          sep_token: BERT_SPECIALS.sep,
          unk_token: BERT_SPECIALS.unk,
        };
        const addedDecoder: Record<string, unknown> = {};
        for (const t of TRAIN_SPECIALS)
          addedDecoder[String(vocab.get(t))] = {
            content: t,
            lstrip: false,
            normalized: false,
            rstrip: false,
            single_word: false,
            special: true,
          };
        const config = {
          added_tokens_decoder: addedDecoder,
          clean_up_tokenization_spaces: true,
          ...specials,
          do_basic_tokenize: true,
          do_lower_case: opts.lowercase,
          model_max_length: 512,
          never_split: null,
          strip_accents: null,
          tokenize_chinese_chars: true,
          tokenizer_class: "BertTokenizer",
        };
        await writeFileAtomic(join(opts.out, "vocab.txt"), `${tokens.join("\n")}\n`);
        await writeFileAtomic(join(opts.out, "tokenizer.json"), `${JSON.stringify(json, null, 2)}\n`);
        await writeFileAtomic(
          join(opts.out, "tokenizer_config.json"),
          `${JSON.stringify(config, null, 2)}\n`,
        );
        await writeFileAtomic(
          join(opts.out, "special_tokens_map.json"),
          `${JSON.stringify(specials, null, 2)}\n`,
        );
        // Read back what was written: the files must load as a tokenizer.
        const tok = await BertTokenizer.fromFolder(opts.out);
        process.stdout.write(
          `train-vocab: ${tok.vocabSize} tokens (${counter.counts.size} distinct words) written to ${opts.out}\n`,
        );
      }),
    );
}
