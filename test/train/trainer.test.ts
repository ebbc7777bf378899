import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadModelFolder, readModelConfig } from "../../src/hf/model-folder.js";
import { BertTokenizer } from "../../src/hf/tokenizer.js";
import { Classifier } from "../../src/inference/classifier.js";
import { type Batch, BertForSequenceClassification } from "../../src/model/bert.js";
import { makeConfig } from "../../src/model/config.js";
import { ClassificationData, encodeTexts } from "../../src/train/batching.js";
import { lastCheckpoint, listCheckpoints, readTrainerState } from "../../src/train/checkpoint.js";
import { evalRecords, readRunLog, trainRecords } from "../../src/train/run-log.js";
import { type TrainOptions, type TrainTask, trainLoop } from "../../src/train/trainer.js";
import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";

const LABELS = ["alpha", "beta", "gamma"];
const WORDS = ["red", "green", "blue", "cat", "dog", "fish", "one", "two", "three", "four"];

/** A tokenizer over a small vocabulary: specials, the label cue words, filler words. */
function tokenizer(): BertTokenizer {
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...LABELS, ...WORDS];
  return BertTokenizer.fromVocab(`${vocab.join("\n")}\n`);
}

/** Texts of filler words with one cue word somewhere; the label is the cue's class. */
function synthetic(n: number, seed: number): { texts: string[]; labels: number[] } {
  const rng = new Rng(seed);
  const texts: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = 2 + rng.int(8);
    const words = Array.from({ length: len }, () => WORDS[rng.int(WORDS.length)]!);
    const label = rng.int(3);
    words.splice(rng.int(len + 1), 0, LABELS[label]!);
    texts.push(words.join(" "));
    labels.push(label);
  }
  return { texts, labels };
}

function tinyModel(vocabSize: number): BertForSequenceClassification {
  const config = makeConfig({
    vocab_size: vocabSize,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 32,
    id2label: Object.fromEntries(LABELS.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(LABELS.map((l, i) => [l, i])),
  });
  return new BertForSequenceClassification(config, { seed: 7 });
}

function classifierTask(model: BertForSequenceClassification): TrainTask<Batch> {
  return {
    params: () => model.params(),
    zeroGrad: () => model.zeroGrad(),
    setDropoutSeed: (s) => model.setDropoutSeed(s),
    step(batch) {
      const { loss } = model.forward(batch, { train: true });
      model.backward();
      return loss!;
    },
  };
}

interface Setup {
  tok: BertTokenizer;
  model: BertForSequenceClassification;
  data: ClassificationData;
  task: TrainTask<Batch>;
  save: (dir: string) => Promise<void>;
}

function setup(n = 64, batchSize = 8, groupByLength = false): Setup {
  const tok = tokenizer();
  const { texts, labels } = synthetic(n, 1);
  const model = tinyModel(tok.vocabSize);
  const data = new ClassificationData(encodeTexts(tok, texts, 16), labels, {
    batchSize,
    padId: tok.padId,
    seed: 3,
    groupByLength,
  });
  const clf = new Classifier(model, tok, LABELS);
  return { tok, model, data, task: classifierTask(model), save: (dir) => clf.save(dir) };
}

const tmp = () => mkdtemp(join(tmpdir(), "gotune-trainer-"));

test("the loop trains a tiny model: the loss falls, JSONL lines, whole checkpoints each epoch", async () => {
  const out = await tmp();
  try {
    const s = setup(256, 16); // 16 batches of 16 an epoch
    const E = 10;
    const total = 16 * E;
    const evals: number[] = [];
    const r = await trainLoop(s.task, s.data, {
      epochs: E,
      lr: 1e-2,
      seed: 42,
      logFile: join(out, "log.jsonl"),
      checkpoint: { dir: out, save: s.save },
      async onEpochEnd(epoch) {
        evals.push(epoch);
        return { eval_marker: epoch * 10 };
      },
    });
    assert.equal(r.globalStep, total);
    assert.equal(r.interrupted, false);
    assert.deepEqual(evals, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const lines = await readRunLog(join(out, "log.jsonl"));
    const train = trainRecords(lines);
    assert.equal(train.length, total);
    assert.deepEqual(
      train.map((l) => l.step),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    for (const l of train) {
      for (const k of ["loss", "lr", "grad_norm", "examples_per_s", "epoch"])
        assert.equal(typeof (l as unknown as Record<string, unknown>)[k], "number", k);
      assert.ok(Number.isFinite(l.loss) && l.grad_norm > 0 && l.examples_per_s > 0);
    }
    // Linear decay without warm-up: step 1 at the peak, the last step at lr / total.
    assert.equal(train[0].lr, 1e-2);
    assert.ok(Math.abs(train[total - 1].lr - 1e-2 / total) < 1e-12);
    const mean = (xs: { loss: number }[]) => xs.reduce((a, x) => a + x.loss, 0) / xs.length;
    const first = mean(train.slice(0, 16));
    const last = mean(train.slice(-16));
    assert.ok(last < first * 0.2, `loss fell from ${first} to only ${last}`);
    const evalLines = evalRecords(lines);
    assert.deepEqual(
      evalLines.map((l) => [l.epoch, l.step, l.eval_marker]),
      evals.map((e) => [e, 16 * e, 10 * e]),
    );

    const cks = await listCheckpoints(out);
    assert.deepEqual(
      cks.map((c) => c.step),
      evals.map((e) => 16 * e),
    );
    assert.deepEqual((await readdir(out)).filter((n) => n.startsWith(".")).length, 0, "no temporary folder");
    for (const c of cks) {
      const files = new Set(await readdir(c.dir));
      for (const f of [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "vocab.txt",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "optimizer.safetensors",
        "trainer_state.json",
      ])
        assert.ok(files.has(f), `${c.dir} lacks ${f}`);
    }
    const newest = (await lastCheckpoint(out))!;
    const { config, raw } = await readModelConfig(newest);
    assert.deepEqual(raw.architectures, ["BertForSequenceClassification"]);
    assert.equal(raw.model_type, "bert");
    assert.deepEqual(config.id2label, { 0: "alpha", 1: "beta", 2: "gamma" });
    assert.deepEqual(config.label2id, { alpha: 0, beta: 1, gamma: 2 });
    const reloaded = new BertForSequenceClassification(config);
    const report = await loadModelFolder(newest, reloaded);
    assert.deepEqual(report.initialisedFresh, []);
    const trained = s.model.params();
    for (const [i, p] of reloaded.params().entries()) assert.deepEqual(p.data, trained[i]!.data, p.name);
    const tok = await BertTokenizer.fromFolder(newest);
    assert.deepEqual(tok.encode("red alpha dog").input_ids, s.tok.encode("red alpha dog").input_ids);
    const st = await readTrainerState(newest);
    assert.equal(st.global_step, total);
    assert.equal(st.log_history.filter((h) => h.type === "eval").length, E);
    // The trained classifier tells the cue words apart.
    const clf = await Classifier.load(newest);
    const fresh = synthetic(60, 99);
    const pred = clf.argmax(clf.predictProba(fresh.texts, { maxLength: 16 }).probs);
    const right = fresh.labels.filter((l, i) => pred[i] === l).length;
    assert.ok(right >= 54, `${right} of 60 right`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

/** Runs `epochs` epochs, stopping (by the abort signal) after `stopAt` steps; returns the weights. */
async function runOnce(out: string, opts: Partial<TrainOptions>, stopAt?: number): Promise<Float32Array[]> {
  const s = setup(40, 8, true);
  const ctl = new AbortController();
  const r = await trainLoop(s.task, s.data, {
    epochs: 3,
    lr: 2e-3,
    seed: 5,
    logFile: join(out, "log.jsonl"),
    checkpoint: { dir: out, save: s.save },
    signal: ctl.signal,
    onStep: (step) => {
      if (step === stopAt) ctl.abort();
    },
    ...opts,
  });
  if (stopAt !== undefined) assert.equal(r.interrupted, stopAt < r.totalSteps);
  return s.model.params().map((p) => p.data.slice());
}

for (const weightDecay of [0, 0.01])
  test(`an interrupted run resumed equals an uninterrupted one (weight decay ${weightDecay})`, async () => {
    const a = await tmp();
    const b = await tmp();
    try {
      const opts = { weightDecay, warmupRatio: 0.1 };
      const straight = await runOnce(a, opts);
      // Stop mid-epoch 2 (5 batches an epoch): the checkpoint holds the position in the epoch.
      await runOnce(b, opts, 7);
      const ck = (await lastCheckpoint(b))!;
      assert.match(ck, /checkpoint-7$/);
      assert.equal((await readTrainerState(ck)).global_step, 7);
      const resumed = await runOnce(b, { ...opts, resumeFrom: ck });
      let worst = 0;
      for (let i = 0; i < straight.length; i++)
        for (let j = 0; j < straight[i]!.length; j++)
          worst = Math.max(worst, Math.abs(straight[i]![j]! - resumed[i]![j]!));
      if (weightDecay === 0) assert.equal(worst, 0, "bit for bit without weight decay");
      else assert.ok(worst <= 1e-6, `max difference ${worst}`);
      // The log reads as one run: each step once, in order.
      const steps = trainRecords(await readRunLog(join(b, "log.jsonl"))).map((l) => l.step);
      assert.deepEqual(
        steps,
        Array.from({ length: 15 }, (_, i) => i + 1),
      );
    } finally {
      await rm(a, { recursive: true, force: true });
      await rm(b, { recursive: true, force: true });
    }
  });

test("a half-written checkpoint is never taken; a mismatched resume is one clear error", async () => {
  const out = await tmp();
  try {
    await runOnce(out, { epochs: 1 });
    // What a kill -9 during a save leaves: a temporary folder, and a folder without its state file.
    await writeFile(join(out, "config.json"), "{}");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(out, ".checkpoint-9.tmp-1-2"));
    await mkdir(join(out, "checkpoint-99"));
    assert.match((await lastCheckpoint(out))!, /checkpoint-5$/);
    await assert.rejects(
      runOnce(out, { epochs: 2, resumeFrom: join(out, "checkpoint-5") }),
      (e: unknown) => e instanceof UserError && /steps/.test(e.message),
    );
    await assert.rejects(
      runOnce(out, { resumeFrom: join(out, "checkpoint-99") }),
      (e: unknown) => e instanceof UserError && /not a complete checkpoint/.test(e.message),
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test("saveSteps adds checkpoints inside epochs; totalLimit keeps the newest", async () => {
  const out = await tmp();
  try {
    const s = setup(40); // 5 batches an epoch
    const r = await trainLoop(s.task, s.data, {
      epochs: 3,
      lr: 1e-3,
      seed: 1,
      checkpoint: { dir: out, save: s.save, saveSteps: 2, totalLimit: 3 },
    });
    assert.match(r.lastCheckpoint!, /checkpoint-15$/);
    // Saved at 2, 4, 5 (epoch end), 6, 8, 10, 12, 14, 15; the newest three are kept.
    assert.deepEqual(
      (await listCheckpoints(out)).map((c) => c.step),
      [12, 14, 15],
    );
    const st = await readTrainerState(join(out, "checkpoint-12"));
    assert.equal(st.global_step, 12);
    assert.equal(st.epoch, 12 / 5);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
