/**
 * `gotune train-vocab` as a function: text files in, a WordPiece vocabulary learnt by gotune's recipe
 * (src/hf/vocabulary.ts) out, as Hugging Face tokenizer files in one folder.
 */
import { promises as fsp } from "node:fs";
import { BertTokenizer } from "../hf/tokenizer.js";
import { writeTokenizerFiles } from "../hf/tokenizer-files.js";
import { trainVocabulary, vocabularyCounter } from "../hf/vocabulary.js";
import type { WordCounter } from "../hf/wordpiece-trainer.js";
import { UserError } from "../util/errors.js";
import { assertReadable, textLines } from "../util/fsx.js";
import { progress } from "../util/progress.js";

/** `gotune train-vocab`'s defaults: BERT's uncased vocabulary size and HF's minimum pair frequency. */
export const TRAIN_VOCAB_DEFAULTS = { vocabSize: 8000, minFrequency: 2, lowercase: true } as const;

/** What `gotune train-vocab` does, flag by flag. */
export interface TrainVocabOptions {
  input: string[];
  out: string;
  vocabSize: number;
  minFrequency: number;
  lowercase: boolean;
}

/** Feeds a file's texts to the counter: JSONL (`.jsonl`/`.ndjson`, a `text` field) or one text a line. */
async function countFile(path: string, counter: WordCounter, tick: (n: number) => void): Promise<void> {
  const jsonl = /\.(jsonl|ndjson)$/i.test(path);
  for await (const [n, line] of textLines(path)) {
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

/** Learns the vocabulary, writes the tokenizer files into `o.out` and returns the tokenizer read back. */
export async function trainVocab(o: TrainVocabOptions): Promise<{ tokenizer: BertTokenizer; words: number }> {
  for (const f of o.input) await assertReadable(f, "input file");
  const counter = vocabularyCounter(o.lowercase);
  const sizes = await Promise.all(o.input.map(async (f) => (await fsp.stat(f)).size));
  const reading = progress(
    "train-vocab: reading",
    Math.max(
      1,
      sizes.reduce((a, b) => a + b, 0),
    ),
  );
  for (const f of o.input) await countFile(f, counter, (n) => reading.tick(n));
  reading.done();
  if (counter.counts.size === 0)
    throw new UserError("the input holds no words", {
      file: o.input.join(", "),
      hint: "give files with text",
    });
  const tok = trainVocabulary(counter, {
    vocabSize: o.vocabSize,
    minFrequency: o.minFrequency,
    label: "train-vocab: merges",
  });
  await writeTokenizerFiles(o.out, tok);
  // Read back what was written: the files must load as a tokenizer.
  return { tokenizer: await BertTokenizer.fromFolder(o.out), words: counter.counts.size };
}
