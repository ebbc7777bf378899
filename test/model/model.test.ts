import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Batch,
  BertForMaskedLM,
  BertForSequenceClassification,
  BertModel,
} from "../../src/model/bert.js";
import { type BertConfig, makeConfig } from "../../src/model/config.js";
import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";

function tiny(overrides: Partial<BertConfig> = {}): BertConfig {
  return makeConfig({
    vocab_size: 40,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 32,
    max_position_embeddings: 16,
    ...overrides,
  });
}

function batchOf(B: number, T: number, rng: Rng, V: number, labels?: Int32Array): Batch {
  return {
    inputIds: new Int32Array(B * T).map(() => 1 + rng.int(V - 1)),
    tokenTypeIds: new Int32Array(B * T).map((_, i) => (i % T > T / 2 ? 1 : 0)),
    attentionMask: new Int32Array(B * T).fill(1),
    batchSize: B,
    seqLen: T,
    labels,
  };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("parameters carry Hugging Face's names, order and shapes", () => {
  const c = tiny();
  const names = new BertForSequenceClassification(c, { numLabels: 3 })
    .params()
    .map((p) => `${p.name} ${p.shape}`);
  assert.deepEqual(names.slice(0, 6), [
    "bert.embeddings.word_embeddings.weight 40,16",
    "bert.embeddings.position_embeddings.weight 16,16",
    "bert.embeddings.token_type_embeddings.weight 2,16",
    "bert.embeddings.LayerNorm.weight 16",
    "bert.embeddings.LayerNorm.bias 16",
    "bert.encoder.layer.0.attention.self.query.weight 16,16",
  ]);
  assert.ok(names.includes("bert.encoder.layer.1.intermediate.dense.weight 32,16"));
  assert.ok(names.includes("bert.encoder.layer.1.output.dense.weight 16,32"));
  assert.ok(names.includes("bert.encoder.layer.0.attention.output.LayerNorm.bias 16"));
  assert.deepEqual(names.slice(-4), [
    "bert.pooler.dense.weight 16,16",
    "bert.pooler.dense.bias 16",
    "classifier.weight 3,16",
    "classifier.bias 3",
  ]);
  assert.equal(names.length, 5 + 2 * 16 + 2 + 2);
  const mlm = new BertForMaskedLM(c).params().map((p) => p.name);
  assert.ok(!mlm.some((n) => n.includes("pooler")));
  assert.deepEqual(mlm.slice(-5), [
    "cls.predictions.transform.dense.weight",
    "cls.predictions.transform.dense.bias",
    "cls.predictions.transform.LayerNorm.weight",
    "cls.predictions.transform.LayerNorm.bias",
    "cls.predictions.bias",
  ]);
  assert.equal(new BertModel(c).params()[0].name, "embeddings.word_embeddings.weight");
});

test("initialisation follows Hugging Face and is reproducible from the seed", () => {
  const c = tiny({ vocab_size: 2000, initializer_range: 0.02 });
  const a = new BertForSequenceClassification(c, { seed: 1 }).params();
  const b = new BertForSequenceClassification(c, { seed: 1 }).params();
  const d = new BertForSequenceClassification(c, { seed: 2 }).params();
  assert.deepEqual(a[0].data, b[0].data);
  assert.notDeepEqual(a[0].data, d[0].data);
  const word = a[0].data;
  assert.ok(
    word.subarray(0, 16).every((v) => v === 0),
    "padding row is zero",
  );
  let s = 0,
    s2 = 0;
  for (const v of word) {
    s += v;
    s2 += v * v;
  }
  const std = Math.sqrt(s2 / word.length - (s / word.length) ** 2);
  assert.ok(Math.abs(std - 0.02) < 0.001, `std ${std}`);
  for (const p of a) {
    if (p.name.endsWith("LayerNorm.weight"))
      assert.ok(
        p.data.every((v) => v === 1),
        p.name,
      );
    else if (p.name.endsWith("bias"))
      assert.ok(
        p.data.every((v) => v === 0),
        p.name,
      );
  }
});

test("setDtype reaches every Linear of every encoder layer, found without a hand-made list", () => {
  const model = new BertModel(tiny());
  for (const l of model.layers)
    assert.deepEqual(l.linears(), [l.attention.qkv, l.attention.dense, l.intermediate, l.output]);
  model.setDtype("int8");
  // int8 refuses backward: each Linear of each layer now runs in int8.
  for (const l of model.layers)
    for (const lin of [l.attention.qkv, l.attention.dense, l.intermediate, l.output])
      assert.throws(() => lin.backward(new Float32Array(0), null), /int8 products are for inference/);
  model.setDtype("fp32");
  for (const l of model.layers)
    for (const lin of l.linears()) {
      lin.forward(new Float32Array(2 * lin.inFeatures), 2);
      lin.backward(new Float32Array(2 * lin.outFeatures), null); // fp32 again: backward runs
    }
});

test("the label count comes from numLabels, else id2label, else 2", () => {
  assert.equal(new BertForSequenceClassification(tiny(), { numLabels: 5 }).numLabels, 5);
  const c = tiny({ id2label: { "0": "bp", "1": "cc", "2": "mf" } });
  assert.equal(new BertForSequenceClassification(c).numLabels, 3);
  assert.equal(new BertForSequenceClassification(tiny()).numLabels, 2);
});

test("masked positions are ignored: attention to them is zero and their tokens change nothing else", () => {
  const c = tiny();
  const model = new BertForSequenceClassification(c, { seed: 3, numLabels: 3 });
  const rng = new Rng(4);
  const B = 2,
    T = 6;
  const batch = batchOf(B, T, rng, c.vocab_size);
  batch.attentionMask.fill(0, 4, 6); // example 0: two padding positions
  const out = model.forward(batch, { train: false, outputAttentions: true });
  const logits = out.logits.slice();
  const probs = out.attentions![0]; // [B, heads, T, T]
  for (let h = 0; h < c.num_attention_heads; h++)
    for (let i = 0; i < T; i++) {
      const row = probs.subarray(
        ((0 * c.num_attention_heads + h) * T + i) * T,
        ((0 * c.num_attention_heads + h) * T + i + 1) * T,
      );
      assert.equal(row[4], 0);
      assert.equal(row[5], 0);
      assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-5);
    }
  batch.inputIds[4] = 7;
  batch.inputIds[5] = 9;
  const again = model.forward(batch, { train: false }).logits;
  assert.ok(maxDiff(again, logits) < 1e-6);
});

test("examples are independent: a batch gives each example's own logits, whatever the batch shape", () => {
  const c = tiny();
  const model = new BertForSequenceClassification(c, { seed: 5, numLabels: 3 });
  const rng = new Rng(6);
  const B = 3,
    T = 5;
  const batch = batchOf(B, T, rng, c.vocab_size);
  const all = model.forward(batch, { train: false }).logits.slice();
  for (let b = 0; b < B; b++) {
    const one: Batch = {
      inputIds: batch.inputIds.slice(b * T, (b + 1) * T),
      tokenTypeIds: batch.tokenTypeIds.slice(b * T, (b + 1) * T),
      attentionMask: batch.attentionMask.slice(b * T, (b + 1) * T),
      batchSize: 1,
      seqLen: T,
    };
    assert.ok(maxDiff(model.forward(one, { train: false }).logits, all.subarray(b * 3, (b + 1) * 3)) < 1e-5);
  }
});

test("buffers are reused across calls of the same shape", () => {
  const c = tiny();
  const model = new BertForSequenceClassification(c, { seed: 7, numLabels: 3 });
  const batch = batchOf(2, 4, new Rng(8), c.vocab_size, Int32Array.from([0, 1]));
  const a = model.forward(batch, { train: true }).logits;
  model.backward();
  const b = model.forward(batch, { train: false }).logits;
  assert.equal(a, b, "the same logits buffer");
});

test("dropout is active only in training, and reproducible from the dropout seed", () => {
  const c = tiny({ hidden_dropout_prob: 0.3, attention_probs_dropout_prob: 0.3 });
  const model = new BertForSequenceClassification(c, { seed: 9, numLabels: 3 });
  const batch = batchOf(2, 6, new Rng(10), c.vocab_size);
  const e1 = model.forward(batch, { train: false }).logits.slice();
  const e2 = model.forward(batch, { train: false }).logits.slice();
  assert.deepEqual(e1, e2);
  model.setDropoutSeed(1);
  const t1 = model.forward(batch, { train: true }).logits.slice();
  const t2 = model.forward(batch, { train: true }).logits.slice();
  model.setDropoutSeed(1);
  const t3 = model.forward(batch, { train: true }).logits.slice();
  assert.ok(maxDiff(t1, e1) > 1e-4, "training differs from inference");
  assert.ok(maxDiff(t1, t2) > 1e-4, "each training pass draws new masks");
  assert.deepEqual(t1, t3);
});

test("the word-embedding gradient is kept to touched rows, which accumulate until zeroGrad", () => {
  const c = tiny();
  const model = new BertForSequenceClassification(c, { seed: 11, numLabels: 2 });
  const word = model.params()[0];
  const H = c.hidden_size;
  const b1 = batchOf(1, 4, new Rng(0), c.vocab_size, Int32Array.of(1));
  b1.inputIds.set([5, 9, 5, 0]);
  const b2 = batchOf(1, 4, new Rng(0), c.vocab_size, Int32Array.of(0));
  b2.inputIds.set([3, 9, 30, 3]);
  model.zeroGrad();
  assert.deepEqual([...word.touchedRows!], []);
  model.forward(b1, { train: true });
  model.backward();
  assert.deepEqual([...word.touchedRows!], [5, 9]);
  const g1 = word.grad.slice();
  model.forward(b2, { train: true });
  model.backward();
  assert.deepEqual([...word.touchedRows!], [3, 5, 9, 30]);
  for (let r = 0; r < c.vocab_size; r++) {
    const nonzero = word.grad.subarray(r * H, (r + 1) * H).some((v) => v !== 0);
    assert.equal(nonzero, [3, 5, 9, 30].includes(r), `row ${r}`);
  }
  assert.ok(
    maxDiff(word.grad.subarray(5 * H, 6 * H), g1.subarray(5 * H, 6 * H)) === 0,
    "row 5 only from batch 1",
  );
  model.zeroGrad();
  assert.deepEqual([...word.touchedRows!], []);
  for (const p of model.params())
    assert.ok(
      p.grad.every((v) => v === 0),
      p.name,
    );
});

test("MLM: loss over labelled tokens only, and a dense word gradient through the tied decoder", () => {
  const c = tiny();
  const model = new BertForMaskedLM(c, { seed: 12 });
  const labels = new Int32Array(2 * 5).fill(-100);
  labels[2] = 11;
  labels[7] = 4;
  const batch = batchOf(2, 5, new Rng(13), c.vocab_size, labels);
  const { logits, loss } = model.forward(batch, { train: false });
  assert.equal(logits.length, 2 * 5 * c.vocab_size);
  let want = 0;
  for (const r of [2, 7]) {
    const row = logits.subarray(r * c.vocab_size, (r + 1) * c.vocab_size);
    const mx = Math.max(...row);
    want += Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0)) + mx - row[labels[r]];
  }
  assert.ok(Math.abs(loss! - want / 2) < 1e-5);
  model.forward(batch, { train: true });
  model.backward();
  const word = model.params()[0];
  assert.equal(word.touchedRows, undefined);
  model.zeroGrad();
  assert.ok(word.grad.every((v) => v === 0));
  assert.deepEqual([...word.touchedRows!], []);
});

test("a batch that does not fit the model is a UserError naming what is wrong", () => {
  const c = tiny();
  const model = new BertForSequenceClassification(c, { numLabels: 3 });
  const rng = new Rng(14);
  const bad = batchOf(2, 4, rng, c.vocab_size);
  bad.inputIds[5] = 40;
  assert.throws(
    () => model.forward(bad, { train: false }),
    (e: unknown) => e instanceof UserError && /token id 40 at position 5/.test(e.message),
  );
  const long = batchOf(1, 17, rng, c.vocab_size);
  assert.throws(
    () => model.forward(long, { train: false }),
    (e: unknown) => e instanceof UserError && /max_position_embeddings 16/.test(e.message),
  );
  const short = batchOf(2, 4, rng, c.vocab_size);
  short.attentionMask = new Int32Array(7);
  assert.throws(
    () => model.forward(short, { train: false }),
    (e: unknown) => e instanceof UserError && /attentionMask has 7/.test(e.message),
  );
  const lab = batchOf(2, 4, rng, c.vocab_size, Int32Array.of(0, 3));
  assert.throws(
    () => model.forward(lab, { train: true }),
    (e: unknown) => e instanceof UserError && /label 3/.test(e.message),
  );
});

test("inference shares one set of layer buffers and gives the training pass's logits (dropout 0)", () => {
  const c = tiny({ hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, num_hidden_layers: 3 });
  const model = new BertForSequenceClassification(c, { seed: 15, numLabels: 3 });
  const batch = batchOf(2, 5, new Rng(16), c.vocab_size, Int32Array.of(1, 2));
  const trained = model.forward(batch, { train: true }).logits.slice();
  const out = model.forward(batch, { train: false, outputAttentions: true });
  assert.ok(maxDiff(out.logits, trained) < 1e-6);
  const [a0, a1, a2] = out.attentions!;
  assert.ok(a0 !== a1 && a1 !== a2, "each layer keeps its own attention probabilities when asked");
  assert.ok(maxDiff(a0, a1) > 1e-4);
  assert.throws(() => model.backward(), /train: true/);
});
