import assert from "node:assert/strict";
import { test } from "node:test";
import { BertTokenizer } from "../../src/hf/tokenizer.js";
import { TRAIN_SPECIALS } from "../../src/hf/wordpiece-trainer.js";
import { IGNORE, MlmCollator } from "../../src/train/mlm-collator.js";
import { corpusSequences, heldOutBatches, MlmData, mlmTokens } from "../../src/train/mlm-data.js";
import { randomSequences, testTokens } from "../helpers/mlm.js";

const TOKENS = testTokens(1000);
const sequences = (n: number, seed: number) => randomSequences(n, seed, TOKENS);

test("MlmData: batches are reproducible from their position (resume), grouped batches pad less", () => {
  const seqs = sequences(300, 9);
  const collator = new MlmCollator(TOKENS, 0.15);
  const data = new MlmData(seqs, collator, { batchSize: 16, seed: 4, groupByLength: true }, 25);
  assert.equal(data.stepsPerPass, 19);
  const epoch1 = [...data.batches(1, 0)];
  assert.equal(epoch1.length, 25);
  const resumed = [...data.batches(1, 10)];
  assert.equal(resumed.length, 15);
  for (let i = 0; i < resumed.length; i++) {
    assert.deepEqual(resumed[i]!.inputIds, epoch1[i + 10]!.inputIds);
    assert.deepEqual(resumed[i]!.labels, epoch1[i + 10]!.labels);
  }
  // Step 25 of the run is batch 6 of the second pass over the corpus.
  assert.deepEqual(epoch1[0]!.labels, data.batchAt(25).labels);
  const plain = new MlmData(seqs, collator, { batchSize: 16, seed: 4, groupByLength: false });
  assert.ok(
    data.paddingShare() < plain.paddingShare() / 2,
    `${data.paddingShare()} vs ${plain.paddingShare()}`,
  );
  // Every sequence appears once in a pass.
  const seen = data
    .order(0)
    .slice()
    .sort((x, y) => x - y);
  assert.deepEqual(
    seen,
    seqs.map((_, i) => i),
  );
});

test("corpus sequences: texts tokenised in a seeded order, 1% held out from 800 sequences, held-out masks fixed", () => {
  const words = ["cell", "membrane", "binding", "kinase", "growth"];
  const tok = BertTokenizer.fromTokens([...TRAIN_SPECIALS, ...words]);
  const tokens = mlmTokens(tok);
  assert.deepEqual(
    [tokens.padId, tokens.clsId, tokens.sepId, tokens.maskId],
    ["[PAD]", "[CLS]", "[SEP]", "[MASK]"].map((t) => tok.tokenToId(t)),
  );
  const texts = Array.from(
    { length: 900 },
    (_, i) => `${words[i % 5]} ${words[(i * 7) % 5]} ${words[i % 3]}`,
  );
  const o = { seed: 3, maxLength: 16, packing: "none" as const };
  const { train, heldOut } = corpusSequences(texts, tok, tokens, o);
  assert.equal(heldOut.length, 9);
  assert.equal(train.length + heldOut.length, 900);
  const again = corpusSequences(texts, tok, tokens, o);
  assert.deepEqual(again.heldOut, heldOut, "the same seed, the same order");
  assert.notDeepEqual(corpusSequences(texts, tok, tokens, { ...o, seed: 4 }).heldOut, heldOut);
  assert.equal(corpusSequences(texts.slice(0, 500), tok, tokens, o).heldOut.length, 0);
  const collator = new MlmCollator(tokens, 0.15);
  const batches = heldOutBatches(heldOut, collator, 4, 7);
  assert.deepEqual(
    batches.map((b) => b.batchSize),
    [4, 4, 1],
  );
  assert.deepEqual(heldOutBatches(heldOut, collator, 4, 7), batches, "masked once from the seed");
  assert.ok(batches.every((b) => b.labels!.some((l) => l !== IGNORE)));
});
