/**
 * Gradient checks by central finite differences, module by module and for whole models (tiny configs,
 * dropout 0 unless the seed is replayed). Each tensor is checked along a random direction u:
 * (L(p + eps u) - L(p - eps u)) / 2 eps must equal grad · u.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Attention } from "../../src/model/attention.js";
import { type Batch, BertForMaskedLM, BertForSequenceClassification } from "../../src/model/bert.js";
import { Buffers } from "../../src/model/buffers.js";
import { type BertConfig, makeConfig } from "../../src/model/config.js";
import { type Ctx, SeedSource } from "../../src/model/context.js";
import { Embeddings } from "../../src/model/embeddings.js";
import { initBertParams } from "../../src/model/init.js";
import { Layer } from "../../src/model/layer.js";
import { LayerNorm } from "../../src/model/layernorm.js";
import { Linear } from "../../src/model/linear.js";
import { BCEWithLogits } from "../../src/model/loss.js";
import { MlmHead } from "../../src/model/mlm-head.js";
import { makeParam, type Param } from "../../src/model/param.js";
import { Pooler } from "../../src/model/pooler.js";
import { Rng } from "../../src/util/rng.js";

const EPS = 5e-3;

function randn(n: number, rng: Rng, s = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * s;
  return a;
}

/** L = sum(w * y) in double. */
function weighted(y: Float32Array, w: Float32Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
}

/** Checks grad against finite differences of loss() along a random direction over `data`. */
function checkTensor(
  name: string,
  data: Float32Array,
  grad: ArrayLike<number>,
  loss: () => number,
  rng: Rng,
): void {
  const u = randn(data.length, rng);
  const keep = data.slice();
  let ana = 0;
  for (let i = 0; i < data.length; i++) ana += grad[i] * u[i];
  for (let i = 0; i < data.length; i++) data[i] = keep[i] + EPS * u[i];
  const lp = loss();
  for (let i = 0; i < data.length; i++) data[i] = keep[i] - EPS * u[i];
  const lm = loss();
  data.set(keep);
  const num = (lp - lm) / (2 * EPS);
  const ok = Math.abs(num - ana) <= 1e-2 * Math.abs(ana) + 2e-3;
  assert.ok(ok, `${name}: finite difference ${num} vs analytic ${ana}`);
}

function checkParams(params: Param[], loss: () => number, rng: Rng): void {
  for (const p of params) checkTensor(p.name, p.data, p.grad, loss, rng);
}

/** A tiny config with dropout off and a large init range, so every gradient is well above float32 noise. */
function tiny(overrides: Partial<BertConfig> = {}): BertConfig {
  return makeConfig({
    vocab_size: 23,
    hidden_size: 8,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 16,
    max_position_embeddings: 12,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    initializer_range: 0.5,
    ...overrides,
  });
}

function randomize(params: Param[], config: BertConfig, seed: number): void {
  initBertParams(params, config, new Rng(seed));
  // LayerNorm weights and biases away from 1 and 0, so their gradients are exercised fully.
  const rng = new Rng(seed + 1);
  for (const p of params)
    if (/LayerNorm|bias/.test(p.name))
      for (let i = 0; i < p.data.length; i++) p.data[i] += 0.3 * rng.normal();
}

function ctxFor(B: number, T: number, train = false, seed = 0): Ctx {
  return { B, T, train, seeds: new SeedSource(seed) };
}

test("Linear: weight, bias and input gradients, also on strided rows", () => {
  const rng = new Rng(1);
  const lin = new Linear("l", 5, 4);
  randomize(lin.params(), tiny(), 2);
  for (const [N, off, ld] of [
    [3, 0, 5],
    [2, 1, 11],
  ]) {
    const x = randn(off + (N - 1) * ld + 5, rng),
      w = randn(N * 4, rng);
    const loss = () => weighted(lin.forward(x, N, off, ld), w);
    lin.forward(x, N, off, ld);
    for (const p of lin.params()) p.grad.fill(0);
    const dx = new Float32Array(x.length);
    lin.backward(w, dx);
    checkParams(lin.params(), loss, rng);
    checkTensor("x", x, dx, loss, rng);
  }
});

test("LayerNorm: gamma, beta and input gradients", () => {
  const rng = new Rng(3);
  const ln = new LayerNorm("ln", 6, 1e-12);
  randomize(ln.params(), tiny(), 4);
  const x = randn(4 * 6, rng),
    w = randn(4 * 6, rng);
  const loss = () => weighted(ln.forward(x, 4), w);
  loss();
  const dx = new Float32Array(x.length);
  ln.backward(w, dx);
  checkParams(ln.params(), loss, rng);
  checkTensor("x", x, dx, loss, rng);
});

test("Embeddings: the three tables (word only in touched rows), LayerNorm and padding", () => {
  const rng = new Rng(5);
  const config = tiny();
  const emb = new Embeddings("embeddings", config);
  randomize(emb.params(), config, 6);
  const B = 2,
    T = 5,
    H = config.hidden_size;
  const ids = Int32Array.from([3, 7, 7, 0, 0, 9, 22, 3, 1, 0]);
  const types = Int32Array.from([0, 0, 0, 1, 1, 0, 1, 1, 1, 1]);
  const w = randn(B * T * H, rng);
  const loss = () => weighted(emb.forward(ids, types, ctxFor(B, T)), w);
  loss();
  const touched = new Int32Array(B * T);
  const n = emb.backward(w.slice(), new Float32Array(B * T * H), touched);
  assert.deepEqual([...touched.subarray(0, n)], [1, 3, 7, 9, 22]);
  assert.ok(
    emb.word.grad.subarray(0, H).every((v) => v === 0),
    "no gradient for the padding row",
  );
  // The padding row does change the output, but torch's padding_idx gives it no gradient: check the others.
  const pad = emb.word.data.slice(0, H);
  const gradNoPad = emb.word.grad.slice();
  const lossFixedPad = () => {
    emb.word.data.set(pad, 0);
    return loss();
  };
  checkTensor("word_embeddings", emb.word.data, gradNoPad, lossFixedPad, rng);
  checkParams([emb.position, emb.tokenType, ...emb.norm.params()], loss, rng);
});

test("Attention: projections, scores with the additive mask, softmax, context, output block", () => {
  const rng = new Rng(7);
  const config = tiny();
  const att = new Attention("attention", config, new Buffers());
  randomize(att.params(), config, 8);
  const B = 2,
    T = 4,
    H = config.hidden_size;
  const x = randn(B * T * H, rng),
    w = randn(B * T * H, rng);
  const maskBias = new Float32Array(B * T);
  maskBias[3] = -3.4028234663852886e38; // example 0's last token is padding
  const loss = () => weighted(att.forward(x, maskBias, ctxFor(B, T)), w);
  loss();
  const dx = att.backward(w.slice());
  const dxCopy = dx.slice();
  checkParams(att.params(), loss, rng);
  checkTensor("x", x, dxCopy, loss, rng);
});

test("Layer: a whole encoder layer, including erf GELU", () => {
  const rng = new Rng(9);
  const config = tiny();
  const layer = new Layer("layer", config, new Buffers());
  randomize(layer.params(), config, 10);
  const B = 2,
    T = 3,
    H = config.hidden_size;
  const x = randn(B * T * H, rng),
    w = randn(B * T * H, rng);
  const maskBias = new Float32Array(B * T);
  const loss = () => weighted(layer.forward(x, maskBias, ctxFor(B, T)), w);
  loss();
  const dx = layer.backward(w.slice()).slice();
  checkParams(layer.params(), loss, rng);
  checkTensor("x", x, dx, loss, rng);
});

test("Pooler: tanh(dense) on the [CLS] rows", () => {
  const rng = new Rng(11);
  const config = tiny();
  const pooler = new Pooler("pooler", config.hidden_size, new Buffers());
  randomize(pooler.params(), config, 12);
  const B = 3,
    T = 4,
    H = config.hidden_size;
  const x = randn(B * T * H, rng),
    w = randn(B * H, rng);
  const loss = () => weighted(pooler.forward(x, B, T), w);
  loss();
  const dx = new Float32Array(B * T * H);
  pooler.backward(w, dx);
  for (let r = 0; r < B * T; r++)
    if (r % T !== 0) assert.ok(dx.subarray(r * H, (r + 1) * H).every((v) => v === 0));
  checkParams(pooler.params(), loss, rng);
  checkTensor("x", x, dx, loss, rng);
});

test("MLM head: transform, GELU, LayerNorm and the tied decoder (gradient into the shared word table)", () => {
  const rng = new Rng(19);
  const config = tiny();
  const word = makeParam("embeddings.word_embeddings.weight", [config.vocab_size, config.hidden_size]);
  const head = new MlmHead("cls.predictions", config, word, new Buffers());
  randomize([word, ...head.params()], config, 20);
  const N = 3,
    H = config.hidden_size;
  const x = randn(N * H, rng),
    w = randn(N * config.vocab_size, rng);
  const loss = () => weighted(head.forward(x, N), w);
  loss();
  const dx = new Float32Array(N * H);
  head.backward(w.slice(), dx);
  checkParams([word, ...head.params()], loss, rng);
  checkTensor("x", x, dx, loss, rng);
});

function batchOf(config: BertConfig, B: number, T: number, rng: Rng, labels?: Int32Array): Batch {
  const inputIds = new Int32Array(B * T).map(() => 1 + rng.int(config.vocab_size - 1));
  const attentionMask = new Int32Array(B * T).fill(1);
  attentionMask[T - 1] = 0; // padding at the end of example 0
  inputIds[T - 1] = 0;
  const tokenTypeIds = new Int32Array(B * T).map((_, i) => (i % T >= T / 2 ? 1 : 0));
  return { inputIds, tokenTypeIds, attentionMask, batchSize: B, seqLen: T, labels };
}

test("BertForSequenceClassification: every parameter, through pooler and classifier", () => {
  const rng = new Rng(13);
  const config = tiny();
  const model = new BertForSequenceClassification(config, { seed: 14, numLabels: 3 });
  randomize(model.params(), config, 14);
  const batch = batchOf(config, 3, 5, rng, Int32Array.from([0, 2, 1]));
  const loss = () => model.forward(batch, { train: true }).loss!;
  model.zeroGrad();
  loss();
  model.backward();
  const word = model.params()[0];
  word.data.fill(0, 0, config.hidden_size); // keep the padding row fixed (it has no gradient by design)
  checkParams(model.params(), loss, rng);
});

test("BertForSequenceClassification, multi-label: BCEWithLogitsLoss through every parameter", () => {
  const rng = new Rng(23);
  const config = tiny({ problem_type: "multi_label_classification" });
  const model = new BertForSequenceClassification(config, { seed: 24, numLabels: 3 });
  randomize(model.params(), config, 24);
  const batch = batchOf(config, 3, 5, rng);
  // Any set of labels, also none; a soft target too.
  batch.targets = Float32Array.from([1, 0, 1, 0, 0, 0, 0.3, 1, 0]);
  const loss = () => model.forward(batch, { train: true }).loss!;
  model.zeroGrad();
  loss();
  model.backward();
  const word = model.params()[0];
  word.data.fill(0, 0, config.hidden_size);
  checkParams(model.params(), loss, rng);
});

test("BCEWithLogits: PyTorch's values (also at large logits) and the gradient (sigmoid(x) - y) / n", () => {
  const bce = new BCEWithLogits();
  const logits = Float32Array.from([0, 2, -3, 40, -40, 1]);
  const targets = Float32Array.from([1, 0, 0, 1, 1, 0.5]);
  // torch.nn.BCEWithLogitsLoss()(x, y) of these: log 2, 2.126928, 0.048587, 0, 40, 0.813262; mean 7.1630.
  const ref = [Math.log(2), 2.1269280110429727, 0.04858735157374206, 0, 40, 0.8132616875182228];
  const loss = bce.forward(logits, targets, 2, 3)!;
  assert.ok(Math.abs(loss - ref.reduce((a, b) => a + b) / 6) < 1e-6, `${loss}`);
  const d = new Float32Array(6);
  bce.backward(logits, d);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(d[i] - (sig(logits[i]) - targets[i]) / 6) < 1e-7);
  assert.throws(() => bce.forward(logits, Float32Array.from([1, 0, 2, 0, 0, 0]), 2, 3), /bad target 2/);
  assert.throws(() => bce.forward(logits, Float32Array.from([1, 0]), 2, 3), /expected 2 x 3/);
});

test("a multi-label head refuses class ids, a single-label head refuses multi-hot targets", () => {
  const rng = new Rng(25);
  const multi = new BertForSequenceClassification(tiny({ problem_type: "multi_label_classification" }), {
    numLabels: 3,
  });
  assert.throws(
    () => multi.forward(batchOf(tiny(), 2, 4, rng, Int32Array.from([0, 1])), { train: true }),
    /batch.targets/,
  );
  const single = new BertForSequenceClassification(tiny(), { numLabels: 3 });
  const b = batchOf(tiny(), 2, 4, rng);
  b.targets = new Float32Array(6);
  assert.throws(() => single.forward(b, { train: true }), /multi-label/);
});

/** A randomised tiny BertForMaskedLM and a B x T batch labelled at the given [token row, label] pairs. */
function maskedLM(seed: number, B: number, T: number, labelled: [number, number][]) {
  const rng = new Rng(seed);
  const config = tiny();
  const model = new BertForMaskedLM(config, { seed: seed + 1 });
  randomize(model.params(), config, seed + 1);
  const labels = new Int32Array(B * T).fill(-100);
  for (const [i, l] of labelled) labels[i] = l;
  return { rng, config, model, batch: batchOf(config, B, T, rng, labels) };
}

test("BertForMaskedLM: every parameter, with the decoder tied to the word embeddings", () => {
  const { rng, model, batch } = maskedLM(15, 2, 4, [
    [1, 5],
    [4, 0],
    [6, 17],
  ]);
  const loss = () => model.forward(batch, { train: true }).loss!;
  model.zeroGrad();
  loss();
  model.backward();
  const word = model.params()[0];
  assert.equal(word.touchedRows, undefined, "the tied decoder makes the word gradient dense");
  // The padding row feeds the decoder (its logit for token 0), so it has a gradient there: check all rows.
  checkParams(model.params(), loss, rng);
});

test("BertForMaskedLM.forwardMasked: the head on the labelled rows alone, every parameter", () => {
  const { rng, config, model, batch } = maskedLM(21, 2, 5, [
    [1, 5],
    [3, 0],
    [7, 17],
    [9, 22],
  ]);
  const out = model.forwardMasked(batch, { train: true });
  assert.deepEqual([...out.rows], [1, 3, 7, 9]);
  assert.equal(out.count, 4);
  assert.equal(out.logits.length % config.vocab_size, 0);
  const full = model.forward(batch, { train: true }).loss!;
  assert.ok(Math.abs(out.loss - full) < 1e-5, `masked ${out.loss} vs full ${full}`);
  const loss = () => model.forwardMasked(batch, { train: true }).loss;
  model.zeroGrad();
  loss();
  model.backward();
  assert.equal(model.params()[0].touchedRows, undefined, "the tied decoder makes the word gradient dense");
  checkParams(model.params(), loss, rng);
});

test("with dropout on, gradients match finite differences when the dropout seed is replayed", () => {
  const rng = new Rng(17);
  const config = tiny({ hidden_dropout_prob: 0.2, attention_probs_dropout_prob: 0.2 });
  const model = new BertForSequenceClassification(config, { seed: 18, numLabels: 2 });
  randomize(model.params(), config, 18);
  const batch = batchOf(config, 2, 4, rng, Int32Array.from([1, 0]));
  const loss = () => {
    model.setDropoutSeed(99);
    return model.forward(batch, { train: true }).loss!;
  };
  model.zeroGrad();
  loss();
  model.backward();
  model.params()[0].data.fill(0, 0, config.hidden_size);
  checkParams(model.params(), loss, rng);
});
