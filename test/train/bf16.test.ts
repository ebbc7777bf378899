import assert from "node:assert/strict";
import { test } from "node:test";
import { BertForSequenceClassification } from "../../src/model/bert.js";
import { makeConfig } from "../../src/model/config.js";
import { bf16Available } from "../../src/native/index.js";
import { AdamW } from "../../src/train/adamw.js";
import { clipCoefficient, globalGradNorm } from "../../src/train/clip.js";
import { Rng } from "../../src/util/rng.js";

const config = makeConfig({
  vocab_size: 50,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 128,
  max_position_embeddings: 32,
});

/** A learnable task: the label is which third of the vocabulary the first token comes from (read at [CLS]'s own position). */
function batches(count: number, B: number, T: number, seed: number) {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const inputIds = new Int32Array(B * T).map(() => 2 + rng.int(48));
    const labels = new Int32Array(B).map((_, b) => Math.min(2, Math.floor((inputIds[b * T]! - 2) / 16)));
    const attentionMask = new Int32Array(B * T).fill(1);
    for (let b = 0; b < B; b++) attentionMask.fill(0, b * T + T - (b % 3), (b + 1) * T); // some padding
    return { inputIds, tokenTypeIds: new Int32Array(B * T), attentionMask, batchSize: B, seqLen: T, labels };
  });
}

/** Trains from the same initialisation on the same batches; returns the losses and the final accuracy. */
function train(dtype: "fp32" | "bf16"): { losses: number[]; accuracy: number; logits: Float32Array } {
  const model = new BertForSequenceClassification(config, { seed: 1, numLabels: 3 });
  model.setDtype(dtype);
  const params = model.params();
  const opt = new AdamW(params, { lr: 1e-3 });
  const losses: number[] = [];
  for (const batch of batches(60, 16, 12, 7)) {
    model.zeroGrad();
    losses.push(model.forward(batch, { train: true }).loss!);
    model.backward();
    opt.step({ gradScale: clipCoefficient(globalGradNorm(params), 1.0) });
  }
  const [held] = batches(1, 256, 12, 99);
  const logits = model.forward(held!, { train: false }).logits.slice();
  let right = 0;
  for (let b = 0; b < 256; b++) {
    const row = logits.subarray(b * 3, b * 3 + 3);
    if (row.indexOf(Math.max(...row)) === held!.labels[b]) right++;
  }
  return { losses, accuracy: right / 256, logits };
}

test("bf16 products stay close to fp32: logits, the loss curve and the final accuracy", (t) => {
  if (!bf16Available()) {
    t.skip("no AVX512-BF16 or AMX on this CPU");
    return;
  }
  const f = train("fp32"),
    h = train("bf16");
  assert.ok(f.accuracy > 0.6, `the fp32 run learns the task (accuracy ${f.accuracy})`);
  // Not the fp32 path in disguise: bf16 rounding shows in the first loss already.
  assert.notEqual(h.losses[0], f.losses[0]);
  assert.ok(Math.abs(h.losses[0]! - f.losses[0]!) < 5e-3, `first loss ${h.losses[0]} vs ${f.losses[0]}`);
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  for (let i = 0; i < 60; i += 10) {
    const a = mean(f.losses.slice(i, i + 10)),
      b = mean(h.losses.slice(i, i + 10));
    assert.ok(Math.abs(a - b) < 0.05 * Math.max(1, a), `steps ${i}..${i + 9}: mean loss ${b} vs fp32 ${a}`);
  }
  assert.ok(Math.abs(h.accuracy - f.accuracy) <= 0.03, `accuracy ${h.accuracy} vs fp32 ${f.accuracy}`);
  // Inference of one model in both dtypes: the logits differ by bf16 rounding only.
  const model = new BertForSequenceClassification(config, { seed: 3, numLabels: 3 });
  const [batch] = batches(1, 8, 12, 5);
  const a = model.forward(batch!, { train: false }).logits.slice();
  model.setDtype("bf16");
  const b = model.forward(batch!, { train: false }).logits.slice();
  const scale = Math.max(...a.map(Math.abs));
  const diff = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
  assert.ok(diff > 0 && diff < 2e-2 * scale, `logits differ by ${diff} (scale ${scale})`);
});
