import assert from "node:assert/strict";
import { test } from "node:test";
import { BertTokenizer } from "../../src/hf/tokenizer.js";
import {
  ClassificationData,
  collate,
  encodeTexts,
  lengthGroupedIndices,
  shuffledIndices,
} from "../../src/train/batching.js";
import { Rng } from "../../src/util/rng.js";

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test("collate pads to the batch's longest with the pad id, masks padding, gathers labels", () => {
  const seqs = [Int32Array.of(2, 7, 3), Int32Array.of(2, 8, 9, 10, 3), Int32Array.of(2, 3)];
  const b = collate(seqs, [2, 0, 1], 5, [10, 11, 12]);
  assert.equal(b.batchSize, 3);
  assert.equal(b.seqLen, 5);
  assert.deepEqual([...b.inputIds], [2, 3, 5, 5, 5, 2, 7, 3, 5, 5, 2, 8, 9, 10, 3]);
  assert.deepEqual([...b.attentionMask], [1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual([...b.tokenTypeIds], new Array(15).fill(0));
  assert.deepEqual([...b.labels!], [12, 10, 11]);
  // A batch of short texts is only as long as its longest: dynamic padding.
  assert.equal(collate(seqs, [0, 2], 0).seqLen, 3);
  assert.equal(collate(seqs, [0, 2], 0).labels, undefined);
});

test("encodeTexts adds [CLS]/[SEP] and truncates to max_length", () => {
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"];
  const tok = BertTokenizer.fromVocab(`${vocab.join("\n")}\n`);
  const [short, long] = encodeTexts(tok, ["a b", "a b c a b c a b c"], 6);
  assert.deepEqual([...short!], [2, 5, 6, 3]);
  assert.deepEqual([...long!], [2, 5, 6, 7, 5, 3]);
});

test("length-grouped order is a permutation, deterministic for a seed, sorted within megabatches", () => {
  const rng = new Rng(11);
  const n = 1000;
  const lengths = Array.from({ length: n }, () => 3 + rng.int(97));
  const B = 4;
  const a = lengthGroupedIndices(lengths, B, new Rng(42));
  const b = lengthGroupedIndices(lengths, B, new Rng(42));
  const c = lengthGroupedIndices(lengths, B, new Rng(43));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual(sorted(a), range(n));
  // min(1000 / (4 * 4), 50) = 50 batches a megabatch: 200 examples, longest first within each.
  const mega = 200;
  const max = Math.max(...lengths);
  assert.equal(lengths[a[0]!], max, "the longest example comes first");
  for (let m = 0; m < n; m += mega) {
    const part = a.slice(m, m + mega).map((i) => lengths[i]!);
    // The first megabatch's head was swapped with the global maximum; the rest is descending.
    for (let j = m === 0 ? 2 : 1; j < part.length; j++) assert.ok(part[j - 1]! >= part[j]!);
  }
  // Batches of similar length pad far less than a plain shuffle's.
  const padding = (order: number[]) => {
    let pad = 0;
    for (let s = 0; s < n; s += B) {
      const ls = order.slice(s, s + B).map((i) => lengths[i]!);
      pad += ls.length * Math.max(...ls) - ls.reduce((x, y) => x + y, 0);
    }
    return pad;
  };
  assert.ok(padding(a) * 5 < padding(shuffledIndices(n, new Rng(42))));
  // Few examples: megabatches of one batch.
  const small = lengthGroupedIndices([5, 1, 9, 2, 7], 2, new Rng(1));
  assert.deepEqual(sorted(small), range(5));
  assert.equal(small[0], 2);
});

test("ClassificationData: every example once an epoch, a new order each epoch, resumable from a position", () => {
  const n = 37;
  const seqs = Array.from({ length: n }, (_, i) => Int32Array.from({ length: 2 + (i % 9) }, () => 5 + i));
  const labels = range(n).map((i) => i % 3);
  for (const groupByLength of [false, true]) {
    const data = new ClassificationData(seqs, labels, { batchSize: 8, padId: 0, seed: 42, groupByLength });
    assert.equal(data.stepsPerEpoch, 5);
    const seen = (epoch: number, from = 0) => {
      const ids: number[] = [];
      for (const b of data.batches(epoch, from))
        for (let r = 0; r < b.batchSize; r++) {
          const first = b.inputIds[r * b.seqLen]! - 5; // each example's tokens hold its index + 5
          assert.equal(b.labels![r], labels[first]);
          assert.equal(
            b.attentionMask.subarray(r * b.seqLen, (r + 1) * b.seqLen).indexOf(0),
            seqs[first]!.length === b.seqLen ? -1 : seqs[first]!.length,
          );
          ids.push(first);
        }
      return ids;
    };
    const e0 = seen(0);
    const e1 = seen(1);
    assert.deepEqual(sorted(e0), range(n));
    assert.deepEqual(sorted(e1), range(n));
    assert.notDeepEqual(e0, e1);
    assert.deepEqual(seen(0), e0, "the same epoch gives the same batches");
    assert.deepEqual(seen(1, 3), e1.slice(24), "starting at batch 3 skips the first 24 examples");
    assert.equal([...data.batches(0)].at(-1)!.batchSize, 5, "the last batch is short, not dropped");
  }
});
