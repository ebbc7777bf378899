/**
 * The tokenizer benchmark: tokenise every GO definition (about 45,000 texts, 1.3 M words; goal: under
 * 2 s) with a WordPiece vocabulary trained on them, and time the training too. Part of `npm run bench`
 * when bench/run.ts calls it; also runs alone: `node dist/bench/tokenizer.js`.
 */
import { fileURLToPath } from "node:url";
import { fetchGo } from "../src/data/fetch-go.js";
import { parseOboFile } from "../src/data/obo.js";
import { BERT_SPECIALS, BertTokenizer, bertTokenizerJson } from "../src/hf/tokenizer.js";
import { trainWordPiece, WordCounter } from "../src/hf/wordpiece-trainer.js";

const GOAL_MS = 2000;

/** Times vocabulary training and tokenisation of all GO definitions; prints one line, returns the figures. */
export async function benchTokenizer(): Promise<Record<string, number>> {
  const { path } = await fetchGo({ source: "debian" });
  const doc = await parseOboFile(path);
  const texts = doc.terms.map((t) => t.def?.text).filter((t): t is string => !!t);
  const normalizer = { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: true };

  let t0 = performance.now();
  const counter = new WordCounter(normalizer);
  for (const t of texts) counter.add(t);
  const vocab = trainWordPiece(counter.counts, { vocabSize: 8000, minFrequency: 2 });
  const trainMs = performance.now() - t0;
  const words = [...counter.counts.values()].reduce((a, b) => a + b, 0);

  const json = bertTokenizerJson(
    new Map(vocab.map((t, i) => [t, i] as [string, number])),
    BERT_SPECIALS,
    normalizer,
  );
  const encodeAll = (tok: BertTokenizer) => {
    let tokens = 0;
    for (const t of texts) tokens += tok.encode(t, undefined, { maxLength: 512 }).input_ids.length;
    return tokens;
  };
  // Cold: a fresh tokenizer (empty word cache), as a command run sees it.
  t0 = performance.now();
  const cold = BertTokenizer.fromTokenizerJson(json);
  const tokens = encodeAll(cold);
  const coldMs = performance.now() - t0;
  t0 = performance.now();
  encodeAll(cold);
  const warmMs = performance.now() - t0;

  const r = {
    texts: texts.length,
    words,
    tokens,
    train_vocab_ms: Math.round(trainMs),
    tokenize_cold_ms: Math.round(coldMs),
    tokenize_warm_ms: Math.round(warmMs),
    words_per_s: Math.round(words / (coldMs / 1000)),
    goal_ms: GOAL_MS,
  };
  process.stdout.write(
    `tokenizer: ${r.texts} GO definitions (${(words / 1e6).toFixed(2)} M words, ${(tokens / 1e6).toFixed(2)} M tokens) ` +
      `in ${r.tokenize_cold_ms} ms cold, ${r.tokenize_warm_ms} ms warm (goal < ${GOAL_MS} ms: ` +
      `${coldMs < GOAL_MS ? "met" : "MISSED"}); train-vocab 8000: ${r.train_vocab_ms} ms\n`,
  );
  return r;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  benchTokenizer().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
