/**
 * gotune's vocabulary recipe, the one `train-vocab`, pre-training and fine-tuning from a size preset
 * share: BERT's normaliser (lower-cased, accents stripped, unless cased), WordPiece trained as Hugging
 * Face's WordPieceTrainer, and the tokenizer that vocabulary makes.
 */
import { progress } from "../util/progress.js";
import { BertTokenizer } from "./tokenizer.js";
import { trainWordPiece, WordCounter } from "./wordpiece-trainer.js";

/** How to learn a vocabulary. */
export interface VocabularyOptions {
  /** Vocabulary size, special tokens and alphabet included. */
  vocabSize: number;
  /** A pair seen fewer times than this is never merged. */
  minFrequency: number;
  /** The tokenizer's model_max_length (512 by default, as BertTokenizerFast). */
  modelMaxLength?: number;
  /** The progress bar's label while merging. */
  label: string;
}

/** A word counter with the recipe's normaliser; `lowercase: false` keeps case and accents. */
export function vocabularyCounter(lowercase = true): WordCounter {
  return new WordCounter({ cleanText: true, handleChineseChars: true, stripAccents: null, lowercase });
}

/** Trains the vocabulary of the counted words and returns its tokenizer. */
export function trainVocabulary(counter: WordCounter, o: VocabularyOptions): BertTokenizer {
  let bar: ReturnType<typeof progress> | undefined;
  const tokens = trainWordPiece(counter.counts, {
    vocabSize: o.vocabSize,
    minFrequency: o.minFrequency,
    onMerge: (_done, total) => {
      bar ??= progress(o.label, Math.max(1, total));
      bar.tick(1);
    },
  });
  bar?.done();
  return BertTokenizer.fromTokens(tokens, {
    do_lower_case: counter.normalizer.lowercase,
    strip_accents: null,
    tokenize_chinese_chars: true,
    model_max_length: o.modelMaxLength ?? 512,
  });
}
