import assert from "node:assert/strict";
import { test } from "node:test";
import type { Batch } from "../../src/model/bert.js";
import { collate } from "../../src/train/batching.js";
import { buildSequences, IGNORE, MlmCollator, paddingShare } from "../../src/train/mlm-collator.js";
import { Rng } from "../../src/util/rng.js";
import { randomSequences, testTokens } from "../helpers/mlm.js";

const V = 1000;
const TOKENS = testTokens(V);
const sequences = (n: number, seed: number) => randomSequences(n, seed, TOKENS);

function padded(seqs: Int32Array[]): Batch {
  return collate(
    seqs,
    seqs.map((_, i) => i),
    TOKENS.padId,
  );
}

test("masking follows DataCollatorForLanguageModeling: ~15% chosen, 80/10/10, specials and padding never", () => {
  const collator = new MlmCollator(TOKENS, 0.15);
  const rng = new Rng(7);
  let eligible = 0;
  let chosen = 0;
  let masked = 0;
  let replaced = 0;
  let kept = 0;
  for (let draw = 0; draw < 40; draw++) {
    const seqs = sequences(64, draw);
    const before = padded(seqs);
    const original = before.inputIds.slice();
    const batch = collator.mask(before, rng);
    assert.equal(batch.labels!.length, original.length);
    for (let i = 0; i < original.length; i++) {
      const id = original[i]!;
      const label = batch.labels![i]!;
      const special = TOKENS.specialIds.includes(id) || batch.attentionMask[i] === 0;
      if (special) {
        assert.equal(label, IGNORE, "a special or padding position is never chosen");
        assert.equal(batch.inputIds[i], id, "a special or padding position is never changed");
        continue;
      }
      eligible++;
      if (label === IGNORE) {
        assert.equal(batch.inputIds[i], id, "a position not chosen keeps its token");
        continue;
      }
      assert.equal(label, id, "the label is the original token");
      chosen++;
      const now = batch.inputIds[i]!;
      if (now === TOKENS.maskId) masked++;
      else if (now === id) kept++;
      else replaced++;
    }
  }
  const share = chosen / eligible;
  assert.ok(eligible > 30000, `${eligible} eligible tokens`);
  assert.ok(Math.abs(share - 0.15) < 0.01, `chosen ${share}`);
  // A random token equals the original (or [MASK]) 1 time in V: negligible at V = 1000.
  assert.ok(Math.abs(masked / chosen - 0.8) < 0.02, `[MASK] ${masked / chosen}`);
  assert.ok(Math.abs(replaced / chosen - 0.1) < 0.015, `random ${replaced / chosen}`);
  assert.ok(Math.abs(kept / chosen - 0.1) < 0.015, `kept ${kept / chosen}`);
});

test("masking is deterministic for a seed and differs across seeds; another probability is honoured", () => {
  const collator = new MlmCollator(TOKENS, 0.15);
  const seqs = sequences(32, 1);
  const a = collator.mask(padded(seqs), new Rng(5));
  const b = collator.mask(padded(seqs), new Rng(5));
  const c = collator.mask(padded(seqs), new Rng(6));
  assert.deepEqual(a.inputIds, b.inputIds);
  assert.deepEqual(a.labels, b.labels);
  assert.notDeepEqual(a.labels, c.labels);
  const heavy = new MlmCollator(TOKENS, 0.5).mask(padded(sequences(200, 2)), new Rng(1));
  let chosen = 0;
  let eligible = 0;
  for (let i = 0; i < heavy.labels!.length; i++) {
    if (heavy.labels![i] !== IGNORE) chosen++;
    const id = heavy.labels![i] !== IGNORE ? heavy.labels![i]! : heavy.inputIds[i]!;
    if (!TOKENS.specialIds.includes(id) && heavy.attentionMask[i] === 1) eligible++;
  }
  assert.ok(Math.abs(chosen / eligible - 0.5) < 0.03, `chosen ${chosen / eligible}`);
  assert.throws(() => new MlmCollator(TOKENS, 1.5), RangeError);
});

test("a batch always has something to predict", () => {
  const collator = new MlmCollator(TOKENS, 0.01);
  for (let s = 0; s < 50; s++) {
    const batch = collator.mask(padded([Int32Array.of(2, 10, 11, 3)]), new Rng(s));
    const chosen = batch.labels!.filter((l) => l !== IGNORE).length;
    assert.ok(chosen >= 1, `seed ${s}`);
  }
});

test("sequences: one text each (truncated) or packed up to the maximum length, nothing lost", () => {
  const texts = [
    Int32Array.of(10, 11, 12),
    Int32Array.of(20),
    Int32Array.of(),
    Int32Array.of(30, 31, 32, 33, 34, 35),
  ];
  const one = buildSequences(texts, TOKENS, 6, "none");
  assert.deepEqual(
    one.map((s) => [...s]),
    [
      [2, 10, 11, 12, 3],
      [2, 20, 3],
      [2, 30, 31, 32, 33, 3],
    ],
  );
  const packed = buildSequences(texts, TOKENS, 8, "pack");
  assert.deepEqual(
    packed.map((s) => [...s]),
    [
      [2, 10, 11, 12, 3, 20, 3],
      [2, 30, 31, 32, 33, 34, 35, 3],
    ],
  );
  // Over many random texts: every sequence fits, starts with [CLS], ends with [SEP], and the texts' tokens
  // come out in order.
  const rng = new Rng(3);
  const many = Array.from({ length: 300 }, () =>
    Int32Array.from({ length: 1 + rng.int(20) }, () => 5 + rng.int(90)),
  );
  const seqs = buildSequences(many, TOKENS, 32, "pack");
  assert.ok(seqs.length < many.length / 2, `${seqs.length} sequences for ${many.length} texts`);
  const flat: number[] = [];
  for (const s of seqs) {
    assert.ok(s.length <= 32);
    assert.equal(s[0], TOKENS.clsId);
    assert.equal(s[s.length - 1], TOKENS.sepId);
    for (const id of s) if (id !== TOKENS.clsId && id !== TOKENS.sepId) flat.push(id);
  }
  assert.deepEqual(
    flat,
    many.flatMap((t) => [...t]),
  );
});

test("padding share counts the padded slots of each batch", () => {
  assert.equal(paddingShare([4, 4, 2, 2], [0, 1, 2, 3], 2), 0);
  assert.equal(paddingShare([4, 2], [0, 1], 2), 0.25);
});
