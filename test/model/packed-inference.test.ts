import assert from "node:assert/strict";
import { test } from "node:test";
import { type Batch, BertForSequenceClassification } from "../../src/model/bert.js";
import { makeConfig } from "../../src/model/config.js";
import { packedRuns } from "../../src/model/packed-inference.js";
import { bf16Available } from "../../src/native/index.js";
import { Rng } from "../../src/util/rng.js";

/**
 * A tiny classifier with large weights (initializer_range 0.5) and random biases (Hugging Face's init
 * zeroes them), so a wrong step, or a bias dropped where it matters, shows in the logits.
 */
function tinyModel(layers: number, seed = 1): BertForSequenceClassification {
  const config = makeConfig({
    vocab_size: 50,
    hidden_size: 16,
    num_hidden_layers: layers,
    num_attention_heads: 4,
    intermediate_size: 32,
    max_position_embeddings: 24,
    initializer_range: 0.5,
  });
  const model = new BertForSequenceClassification(config, { seed, numLabels: 3 });
  const rng = new Rng(seed + 100);
  for (const p of model.params())
    if (p.name.endsWith(".bias") && !p.name.includes("LayerNorm"))
      p.data.set(p.data.map(() => 0.5 * rng.normal()));
  return model;
}

/** Right-padded rows of the given real lengths; padding carries random ids (the mask must hide them). */
function padded(lengths: number[], rng: Rng, T = Math.max(...lengths)): Batch {
  const B = lengths.length;
  const batch: Batch = {
    inputIds: new Int32Array(B * T).map(() => 1 + rng.int(49)),
    tokenTypeIds: new Int32Array(B * T).map(() => rng.int(2)),
    attentionMask: new Int32Array(B * T),
    batchSize: B,
    seqLen: T,
  };
  for (const [b, len] of lengths.entries()) batch.attentionMask.fill(1, b * T, b * T + len);
  return batch;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0,
    scale = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return m / scale;
}

test("runs group consecutive rows of equal real length; other masks are refused", () => {
  const m = (rows: number[][]) => Int32Array.from(rows.flat());
  assert.deepEqual(
    packedRuns(
      m([
        [1, 1, 0],
        [1, 1, 0],
        [1, 1, 1],
        [1, 0, 0],
      ]),
      4,
      3,
    ),
    [
      { b0: 0, n: 2, T: 2, r0: 0 },
      { b0: 2, n: 1, T: 3, r0: 4 },
      { b0: 3, n: 1, T: 1, r0: 7 },
    ],
  );
  assert.equal(packedRuns(m([[1, 0, 1]]), 1, 3), undefined); // a hole
  assert.equal(packedRuns(m([[0, 1, 1]]), 1, 3), undefined); // left padding
  assert.equal(packedRuns(m([[0, 0, 0]]), 1, 3), undefined); // nothing attended
  assert.equal(packedRuns(m([[1, 2, 0]]), 1, 3), undefined); // not a 0/1 mask
});

test("the fast path's logits equal the plain forward's on padded batches of mixed lengths", () => {
  const rng = new Rng(7);
  for (const layers of [1, 2, 3]) {
    const model = tinyModel(layers);
    // Unsorted and sorted lengths, equal neighbours, a full row, one-token rows, extra padding columns.
    for (const [lengths, T] of [
      [[5, 9, 9, 2, 12, 1], 12],
      [[12, 12, 8, 8, 8, 3, 1], 15],
      [[4], 4],
      [[6, 6], 10],
    ] as [number[], number][]) {
      const batch = padded(lengths, rng, T);
      const plain = Float32Array.from(model.forward(batch, { train: false }).logits);
      const fast = Float32Array.from(model.predictLogits(batch));
      assert.equal(fast.length, plain.length);
      const d = maxRelDiff(fast, plain);
      assert.ok(d < 1e-5, `${layers} layers, lengths ${lengths}: logits differ by ${d} (relative)`);
    }
  }
});

test("the fast path ignores what padding holds, and falls back to forward for a mask it does not pack", () => {
  const rng = new Rng(3);
  const model = tinyModel(2);
  const a = padded([7, 3, 5], rng, 8);
  const b = { ...a, inputIds: a.inputIds.map((id, i) => (a.attentionMask[i] ? id : 0)) };
  assert.deepEqual(Float32Array.from(model.predictLogits(a)), Float32Array.from(model.predictLogits(b)));
  const holes = padded([8, 8], rng, 8);
  holes.attentionMask[3] = 0; // a hole: attention masks position 3 alone
  const plain = Float32Array.from(model.forward(holes, { train: false }).logits);
  assert.deepEqual(Float32Array.from(model.predictLogits(holes)), plain);
});

test("bf16 products take the fast path too and agree with bf16 forward", { skip: !bf16Available() }, () => {
  const rng = new Rng(11);
  const model = tinyModel(2);
  model.setDtype("bf16");
  const batch = padded([10, 10, 6, 2], rng);
  const plain = Float32Array.from(model.forward(batch, { train: false }).logits);
  const fast = Float32Array.from(model.predictLogits(batch));
  const d = maxRelDiff(fast, plain);
  assert.ok(d < 1e-2, `bf16 logits differ by ${d} (relative)`);
  model.setDtype("fp32");
  const fp32 = Float32Array.from(model.forward(batch, { train: false }).logits);
  assert.ok(maxRelDiff(fast, fp32) > 0, "bf16 products differ from fp32 ones");
});

// Inference runs on copies of the weights packed for oneDNN (Linear's packed weights): they must follow
// the weights through a training step, and through new weights written in followed by setDtype.
test("packed weights follow the weights: after setDtype, and after a training step", () => {
  const rng = new Rng(13);
  const batch = padded([9, 7, 7, 3], rng);
  const copy = (to: BertForSequenceClassification, from: BertForSequenceClassification) => {
    const src = from.params();
    for (const [i, p] of to.params().entries()) p.data.set(src[i]!.data);
  };
  const a = tinyModel(2, 1),
    b = tinyModel(2, 2);
  const before = Float32Array.from(a.predictLogits(batch)); // packs a's weights
  copy(a, b);
  a.setDtype("fp32");
  const loaded = Float32Array.from(a.predictLogits(batch));
  assert.deepEqual(loaded, Float32Array.from(b.predictLogits(batch)));
  assert.ok(maxRelDiff(loaded, before) > 0.01, "the new weights change the logits");
  // One SGD step by hand; a fresh model given the stepped weights is the reference.
  a.forward({ ...batch, labels: Int32Array.of(0, 1, 2, 0) }, { train: true });
  a.backward();
  for (const p of a.params()) for (let i = 0; i < p.data.length; i++) p.data[i]! -= 0.5 * p.grad[i]!;
  const stepped = Float32Array.from(a.predictLogits(batch));
  const fresh = tinyModel(2, 3);
  copy(fresh, a);
  const d = maxRelDiff(stepped, Float32Array.from(fresh.predictLogits(batch)));
  assert.ok(d < 1e-5, `after the step, logits differ from a fresh model's by ${d}`);
  assert.ok(maxRelDiff(stepped, loaded) > 1e-3, "the step changes the logits");
});
