/**
 * The main job's real batch shapes for the small-shape case of `npm run bench`: GO definitions tokenised
 * with a WordPiece vocabulary learnt from them (max_length 100, as fine-tuning does), cut into batches of
 * 16 by transformers' length grouping (as `gotune run` fine-tunes), and `count` of those batches taken
 * evenly over the epoch. Each batch is padded to its longest text.
 */
import { fetchGo } from "../src/data/fetch-go.js";
import { parseOboFile } from "../src/data/obo.js";
import type { BertTokenizer } from "../src/hf/tokenizer.js";
import { trainVocabulary, vocabularyCounter } from "../src/hf/vocabulary.js";
import { lengthGroupedIndices } from "../src/train/batching.js";
import { Rng } from "../src/util/rng.js";

/** The offline GO release's definitions and a tokenizer with gotune's 8,000-token recipe learnt from them. */
export async function goDefinitions(): Promise<{ texts: string[]; tok: BertTokenizer }> {
  const { path } = await fetchGo({ source: "debian" });
  const doc = await parseOboFile(path);
  const texts = doc.terms.map((t) => t.def?.text).filter((t): t is string => !!t);
  const counter = vocabularyCounter();
  for (const t of texts) counter.add(t);
  return {
    texts,
    tok: trainVocabulary(counter, { vocabSize: 8000, minFrequency: 2, label: "bench vocabulary" }),
  };
}

/** Token counts of `count` length-grouped batches of `batchSize`: one array of row lengths per batch. */
export async function mainJobBatches(count: number, batchSize = 16): Promise<number[][]> {
  const { texts, tok } = await goDefinitions();
  const lengths = texts.map((t) => tok.encode(t, undefined, { maxLength: 100 }).input_ids.length);
  const order = lengthGroupedIndices(lengths, batchSize, new Rng(42));
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize)
    batches.push(order.slice(i, i + batchSize).map((j) => lengths[j]!));
  const step = batches.length / count;
  return Array.from({ length: count }, (_, i) => batches[Math.floor(i * step + step / 2)]!);
}
