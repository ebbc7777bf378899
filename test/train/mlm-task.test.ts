import assert from "node:assert/strict";
import { test } from "node:test";
import type { Batch } from "../../src/model/bert.js";
import { BertForMaskedLM } from "../../src/model/bert.js";
import { type BertConfig, makeConfig } from "../../src/model/config.js";
import { collate } from "../../src/train/batching.js";
import { IGNORE, MlmCollator } from "../../src/train/mlm-collator.js";
import { MlmData } from "../../src/train/mlm-data.js";
import { MlmTask } from "../../src/train/mlm-task.js";
import { trainLoop } from "../../src/train/trainer.js";
import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { testTokens } from "../helpers/mlm.js";

const V = 60;
const TOKENS = testTokens(V);

function tiny(overrides: Partial<BertConfig> = {}): BertConfig {
  return makeConfig({
    vocab_size: V,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 64,
    max_position_embeddings: 32,
    ...overrides,
  });
}

/** Sequences of a tiny language: each text counts up from a random start (so every token is predictable). */
function counting(n: number, seed: number): Int32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const len = 4 + rng.int(10);
    const start = 5 + rng.int(V - 5 - len);
    return Int32Array.from({ length: len + 2 }, (_, i) =>
      i === 0 ? TOKENS.clsId : i === len + 1 ? TOKENS.sepId : start + i - 1,
    );
  });
}

function masked(seqs: Int32Array[], seed: number): Batch {
  return new MlmCollator(TOKENS).mask(
    collate(
      seqs,
      seqs.map((_, i) => i),
      TOKENS.padId,
    ),
    new Rng(seed),
  );
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return m / scale;
}

test("decoding only the chosen rows gives the full head's loss and gradients", () => {
  // No dropout, so both paths see the same network; a padded batch with masks of every kind.
  const config = tiny({ hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 });
  const full = new BertForMaskedLM(config, { seed: 3 });
  const fast = new BertForMaskedLM(config, { seed: 3 });
  const batch = masked(counting(6, 1), 2);
  const chosen = batch.labels!.filter((l) => l !== IGNORE).length;
  assert.ok(chosen > 3 && chosen < batch.labels!.length / 3);
  const fullTask = new MlmTask(full, false);
  const fastTask = new MlmTask(fast, true);
  fullTask.zeroGrad();
  fastTask.zeroGrad();
  const lossFull = fullTask.step(batch);
  const lossFast = fastTask.step(batch);
  assert.ok(Math.abs(lossFull - lossFast) < 1e-5, `${lossFull} vs ${lossFast}`);
  const pf = full.params();
  const pq = fast.params();
  for (let i = 0; i < pf.length; i++) {
    const d = maxRelDiff(pq[i]!.grad, pf[i]!.grad);
    assert.ok(d < 1e-4, `${pf[i]!.name}: gradients differ by ${d}`);
  }
  // A second, differently shaped batch reuses the buffers correctly.
  const batch2 = masked(counting(3, 5), 6);
  fullTask.zeroGrad();
  fastTask.zeroGrad();
  assert.ok(Math.abs(fullTask.step(batch2) - fastTask.step(batch2)) < 1e-5);
  const eval1 = fastTask.evalLoss(batch2);
  assert.equal(eval1.count, batch2.labels!.filter((l) => l !== IGNORE).length);
});

test("the MLM loss falls on a tiny corpus, through the shared training loop", async () => {
  const seqs = counting(256, 11);
  const collator = new MlmCollator(TOKENS, 0.15);
  const model = new BertForMaskedLM(tiny(), { seed: 1 });
  const task = new MlmTask(model);
  const data = new MlmData(seqs, collator, { batchSize: 16, seed: 2, groupByLength: true });
  const held = [masked(counting(32, 99), 7), masked(counting(32, 98), 8)];
  const heldLoss = () => held.reduce((s, b) => s + task.evalLoss(b).loss, 0) / held.length;
  const before = heldLoss();
  const losses: number[] = [];
  const result = await trainLoop(task, data, {
    epochs: 40,
    lr: 3e-3,
    warmupRatio: 0.05,
    seed: 5,
    onStep: (_s, loss) => losses.push(loss),
  });
  const after = heldLoss();
  assert.equal(result.globalStep, 40 * data.stepsPerPass);
  assert.ok(Math.abs(before - Math.log(V)) < 0.5, `initial loss ${before} near ln V = ${Math.log(V)}`);
  assert.ok(after < 0.65 * before, `held-out loss ${before} -> ${after}`);
  const head = losses.slice(0, 10).reduce((a, b) => a + b, 0) / 10;
  const tail = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
  assert.ok(tail < 0.65 * head, `training loss ${head} -> ${tail}`);
});

test("bad MLM batches are UserErrors", () => {
  const task = new MlmTask(new BertForMaskedLM(tiny(), { seed: 1 }));
  const batch = masked(counting(2, 1), 1);
  assert.throws(() => task.step({ ...batch, labels: undefined }), UserError);
  const bad = batch.labels!.slice();
  bad[bad.findIndex((l) => l !== IGNORE)] = V + 5;
  assert.throws(
    () => task.step({ ...batch, labels: bad }),
    (e: unknown) => e instanceof UserError && /label/.test(e.message),
  );
});
