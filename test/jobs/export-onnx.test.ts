import assert from "node:assert/strict";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { env, pipeline } from "@huggingface/transformers";
import * as ort from "onnxruntime-node";
import { saveModelFolder } from "../../src/hf/model-folder.js";
import { writeTokenizerFiles } from "../../src/hf/tokenizer-files.js";
import { Classifier } from "../../src/inference/classifier.js";
import { BertForMaskedLM } from "../../src/model/bert.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { assertOneLineError, gotune } from "../helpers/cli.js";

let dir = "";
let model = "";
let out = "";
let clf: Classifier;

// Different lengths, so the batch pads all but the longest; a pair gives token type 1 too.
const TEXTS = [
  "protein binding",
  "the mitochondrial inner membrane of a cell, in the nucleus and the membrane of mitochondria",
  "a cell",
  "catalysis of the hydrolysis of atp",
];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-onnx-"));
  model = join(dir, "model");
  out = join(dir, "onnx-out");
  clf = await writeTinyModel(model);
});
after(() => rm(dir, { recursive: true, force: true }));

/** A padded batch [B, T] as onnxruntime's int64 tensors, and as gotune's Int32 batch. */
function paddedBatch(encs: { input_ids: number[]; token_type_ids: number[] }[]) {
  const B = encs.length;
  const T = Math.max(...encs.map((e) => e.input_ids.length));
  const ids = new Int32Array(B * T).fill(clf.tokenizer.padId);
  const types = new Int32Array(B * T);
  const mask = new Int32Array(B * T);
  encs.forEach((e, b) => {
    ids.set(e.input_ids, b * T);
    types.set(e.token_type_ids, b * T);
    mask.fill(1, b * T, b * T + e.input_ids.length);
  });
  const t = (a: Int32Array) => new ort.Tensor("int64", BigInt64Array.from(a, BigInt), [B, T]);
  return {
    feeds: { input_ids: t(ids), attention_mask: t(mask), token_type_ids: t(types) },
    batch: { inputIds: ids, tokenTypeIds: types, attentionMask: mask, batchSize: B, seqLen: T },
  };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

test("export --onnx: onnxruntime gives gotune's logits to 1e-4 on a padded batch", async () => {
  const r = gotune(["export", "--model", model, "--onnx", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /onnx\/model\.onnx/);
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"])
    await access(join(out, f));
  const config = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
  assert.deepEqual(config.id2label, {
    "0": "biological_process",
    "1": "cellular_component",
    "2": "molecular_function",
  });

  const session = await ort.InferenceSession.create(join(out, "onnx", "model.onnx"));
  assert.deepEqual(session.inputNames, ["input_ids", "attention_mask", "token_type_ids"]);
  assert.deepEqual(session.outputNames, ["logits"]);
  const encs = TEXTS.map((t, i) =>
    clf.tokenizer.encode(t, i === 3 ? "the cell membrane" : undefined, { maxLength: 100 }),
  );
  assert.ok(encs[3]!.token_type_ids.includes(1));
  const { feeds, batch } = paddedBatch(encs);
  const got = (await session.run(feeds)).logits!;
  assert.deepEqual(got.dims, [TEXTS.length, 3]);
  const ours = clf.model.forward(batch, { train: false }).logits;
  assert.ok(maxDiff(got.data as Float32Array, ours) < 1e-4, "padded batch");
  // The padding changes nothing: each text alone gives the same logits.
  const alone = clf.predictProba(TEXTS.slice(0, 3), { batchSize: 1 }).logits;
  assert.ok(maxDiff((got.data as Float32Array).subarray(0, 9), alone) < 1e-4, "texts alone");
  // A second batch shape through the same session (dynamic axes).
  const two = paddedBatch(encs.slice(0, 2));
  const got2 = (await session.run(two.feeds)).logits!;
  assert.ok(maxDiff(got2.data as Float32Array, clf.model.forward(two.batch, { train: false }).logits) < 1e-4);
});

test("transformers.js pipeline('text-classification') loads the export offline: same labels and scores", async () => {
  env.allowRemoteModels = false;
  env.localModelPath = dirname(out);
  const classify = await pipeline("text-classification", "onnx-out");
  const { probs } = clf.predictProba(TEXTS);
  const best = clf.argmax(probs);
  const results = (await classify(TEXTS, { top_k: null })) as { label: string; score: number }[][];
  assert.equal(results.length, TEXTS.length);
  results.forEach((scores, i) => {
    assert.equal(scores[0]!.label, clf.labels[best[i]!]);
    for (const { label, score } of scores)
      assert.ok(Math.abs(score - probs[i * 3 + clf.labelId(label)!]!) < 1e-4, `${TEXTS[i]}: ${label}`);
  });
  await classify.dispose();
});

test("a multi-label classifier exports: config.json keeps problem_type and thresholds, transformers.js gives its sigmoids", async () => {
  const multiDir = join(dir, "multi");
  const multiOut = join(dir, "multi-onnx");
  const multi = await writeTinyModel(multiDir, 9, { multiLabel: true });
  const r = gotune(["export", "--model", multiDir, "--onnx", multiOut]);
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(await readFile(join(multiOut, "config.json"), "utf8"));
  assert.equal(config.problem_type, "multi_label_classification");
  assert.deepEqual(Object.keys(config.label_thresholds), multi.labels);
  env.allowRemoteModels = false;
  env.localModelPath = dir;
  const classify = await pipeline("text-classification", "multi-onnx");
  const { probs } = multi.predictProba(TEXTS);
  const results = (await classify(TEXTS, { top_k: null })) as { label: string; score: number }[][];
  results.forEach((scores, i) => {
    for (const { label, score } of scores)
      assert.ok(Math.abs(score - probs[i * 3 + multi.labelId(label)!]!) < 1e-4, `${TEXTS[i]}: ${label}`);
  });
  await classify.dispose();
});

test("export --onnx DIR alone adds onnx/model.onnx to the model folder, which gotune still loads", async () => {
  const own = join(dir, "in-place");
  await writeTinyModel(own, 11);
  const r = gotune(["export", "--onnx", own]);
  assert.equal(r.code, 0, r.stderr);
  await access(join(own, "onnx", "model.onnx"));
  const again = await Classifier.load(own);
  assert.deepEqual(again.labels, clf.labels);
});

test("export: bad input is one clear line", async () => {
  const empty = join(dir, "empty");
  await mkdir(empty);
  assertOneLineError(gotune(["export", "--model", empty, "--onnx", join(dir, "x")]), /no config\.json/);

  // A pre-trained (MLM-only) folder has no classification head to export.
  const mlm = join(dir, "mlm");
  await saveModelFolder(
    mlm,
    new BertForMaskedLM({ ...clf.model.config, id2label: undefined, label2id: undefined }),
  );
  await writeTokenizerFiles(mlm, clf.tokenizer);
  assertOneLineError(gotune(["export", "--model", mlm, "--onnx", join(dir, "y")]), /no labels.*gotune train/);

  // An output folder under a file cannot be made.
  const file = join(dir, "a-file");
  await writeFile(file, "not a folder");
  assertOneLineError(
    gotune(["export", "--model", model, "--onnx", join(file, "out")]),
    /cannot write the export folder/,
  );
  assertOneLineError(gotune(["export", "--model", model]), /no export format given.*--onnx/);
});
