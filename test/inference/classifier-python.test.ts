/**
 * A model folder gotune writes loads as Python's transformers would load it: the fields transformers
 * reads, and (with Debian's /usr/bin/python3 + torch) the reference BertForSequenceClassification of
 * ../shared/bench/torch_bert.py loaded from the folder with strict names, giving the same logits.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { SafetensorsFile } from "../../src/hf/safetensors.js";
import { BertTokenizer } from "../../src/hf/tokenizer.js";
import { Classifier } from "../../src/inference/classifier.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { PYTHON, whyNoTorch } from "../helpers/torch.js";

const REPO = resolve(import.meta.dirname, "..", "..", "..");
const SCRIPT = join(REPO, "test", "fixtures", "app", "hf_load.py");

const dirs: string[] = [];
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), "gotune-hf-"));
  dirs.push(d);
  return d;
};
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const TEXTS = [
  "the mitochondrial membrane",
  "protein binding of a cell, in the membrane (mitochondrial)",
  "Cafe naive cells",
  "a",
  "the unknown word zebra binds",
];

const readJson = async (path: string) => JSON.parse(await readFile(path, "utf8"));

test("config.json, the weights and the tokenizer files have what transformers reads", async () => {
  const dir = await tmp();
  const clf = await writeTinyModel(dir);
  const cfg = await readJson(join(dir, "config.json"));
  assert.equal(cfg.model_type, "bert");
  assert.deepEqual(cfg.architectures, ["BertForSequenceClassification"]);
  assert.equal(cfg.torch_dtype, "float32");
  assert.match(cfg.transformers_version, /^4\.\d+\.\d+$/);
  // PretrainedConfig turns id2label's keys into ints and counts labels from it.
  assert.deepEqual(Object.keys(cfg.id2label), ["0", "1", "2"]);
  assert.deepEqual(Object.values(cfg.id2label), clf.labels);
  assert.deepEqual(cfg.label2id, { biological_process: 0, cellular_component: 1, molecular_function: 2 });
  for (const k of [
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "pad_token_id",
  ])
    assert.ok(Number.isInteger(cfg[k]), k);
  assert.equal(cfg.hidden_act, "gelu");
  assert.equal(cfg.position_embedding_type, "absolute");
  assert.equal(cfg.vocab_size, clf.tokenizer.vocabSize);

  const st = await SafetensorsFile.open(join(dir, "model.safetensors"));
  try {
    assert.deepEqual(st.metadata, { format: "pt" }); // transformers refuses any other format
    assert.deepEqual(
      st.names().sort(),
      clf.model
        .params()
        .map((p) => p.name)
        .sort(),
    );
    assert.ok(st.names().every((n) => st.info(n)!.dtype === "F32"));
  } finally {
    await st.close();
  }

  const tc = await readJson(join(dir, "tokenizer_config.json"));
  const stm = await readJson(join(dir, "special_tokens_map.json"));
  const vocab = (await readFile(join(dir, "vocab.txt"), "utf8")).split("\n").slice(0, -1);
  assert.equal(tc.tokenizer_class, "BertTokenizer");
  assert.equal(tc.do_lower_case, true);
  assert.equal(tc.model_max_length, 512);
  for (const [k, v] of Object.entries({
    cls_token: "[CLS]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    unk_token: "[UNK]",
    mask_token: "[MASK]",
  })) {
    assert.equal(tc[k], v, k);
    assert.equal(stm[k], v, k);
  }
  for (const [id, a] of Object.entries(tc.added_tokens_decoder as Record<string, { content: string }>))
    assert.equal(vocab[Number(id)], a.content);
  const tj = await readJson(join(dir, "tokenizer.json"));
  assert.deepEqual(tj.model.vocab, Object.fromEntries(vocab.map((t, i) => [t, i])));
  // The slow path (vocab.txt + tokenizer_config.json, as BertTokenizer reads it) tokenises the same.
  await rm(join(dir, "tokenizer.json"));
  const slow = await BertTokenizer.fromFolder(dir);
  for (const t of TEXTS) assert.deepEqual(slow.encode(t), clf.tokenizer.encode(t), t);
});

const reason = whyNoTorch();

test("PyTorch loads the folder with strict names and gives the same logits", { skip: reason }, async () => {
  const dir = await tmp();
  await writeTinyModel(join(dir, "model"), 11);
  const clf = await Classifier.load(join(dir, "model"));
  await writeFile(join(dir, "in.json"), JSON.stringify({ texts: TEXTS }));
  const r = spawnSync(PYTHON, [SCRIPT, join(dir, "model"), join(dir, "in.json")], {
    encoding: "utf8",
    timeout: 300_000,
  });
  assert.equal(r.status, 0, `hf_load.py failed: ${r.stdout} ${r.stderr}`);
  const py = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.deepEqual(py.labels, clf.labels);
  assert.deepEqual(
    py.input_ids,
    TEXTS.map((t) => clf.tokenizer.encode(t).input_ids),
  );
  const { logits } = clf.predictProba(TEXTS);
  let worst = 0;
  TEXTS.forEach((_, i) => {
    for (let j = 0; j < 3; j++) worst = Math.max(worst, Math.abs(py.logits[i][j] - logits[i * 3 + j]!));
  });
  assert.ok(worst < 1e-4, `logits differ by ${worst}`);
  // The check can fail: a folder with a wrong safetensors format is refused as transformers refuses it.
  const st = await readFile(join(dir, "model", "model.safetensors"));
  const bad = Buffer.from(st.toString("latin1").replace('"format":"pt"', '"format":"xx"'), "latin1");
  await writeFile(join(dir, "model", "model.safetensors"), bad);
  const r2 = spawnSync(PYTHON, [SCRIPT, join(dir, "model"), join(dir, "in.json")], { encoding: "utf8" });
  assert.notEqual(r2.status, 0);
  assert.match(r2.stdout, /__metadata__/);
});

test("a multi-label folder: problem_type and thresholds in config.json, sigmoid probabilities as Python's", {
  skip: reason,
}, async () => {
  const dir = await tmp();
  const written = await writeTinyModel(join(dir, "model"), 12, { multiLabel: true });
  written.thresholds.set([0.3, 0.5, 0.7]);
  await written.save(join(dir, "model"));
  const cfg = await readJson(join(dir, "model", "config.json"));
  assert.equal(cfg.problem_type, "multi_label_classification");
  assert.deepEqual(cfg.label_thresholds, {
    biological_process: 0.3,
    cellular_component: 0.5,
    molecular_function: 0.7,
  });
  const clf = await Classifier.load(join(dir, "model"));
  assert.ok(clf.multiLabel);
  assert.deepEqual(
    [...clf.thresholds].map((t) => Number(t.toFixed(4))),
    [0.3, 0.5, 0.7],
  );
  await writeFile(join(dir, "in.json"), JSON.stringify({ texts: TEXTS }));
  const r = spawnSync(PYTHON, [SCRIPT, join(dir, "model"), join(dir, "in.json")], {
    encoding: "utf8",
    timeout: 300_000,
  });
  assert.equal(r.status, 0, `hf_load.py failed: ${r.stdout} ${r.stderr}`);
  const py = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.equal(py.problem_type, "multi_label_classification");
  const { probs } = clf.predictProba(TEXTS);
  let worst = 0;
  let sum = 0;
  TEXTS.forEach((_, i) => {
    for (let j = 0; j < 3; j++) {
      worst = Math.max(worst, Math.abs(py.probabilities[i][j] - probs[i * 3 + j]!));
      sum += probs[i * 3 + j]!;
    }
  });
  assert.ok(worst < 1e-5, `probabilities differ by ${worst}`);
  // Sigmoids, not a softmax: the rows do not each sum to 1.
  assert.ok(Math.abs(sum - TEXTS.length) > 1e-3);
  // Each text's labels are those at or above their own threshold, possibly none.
  const sets = clf.labelSets(probs);
  TEXTS.forEach((_, i) => {
    assert.deepEqual(
      sets[i],
      [0, 1, 2].filter((j) => probs[i * 3 + j]! >= [0.3, 0.5, 0.7][j]!),
    );
  });
});

test("a config.json with an unknown problem_type or bad thresholds is one clear error", async () => {
  const dir = await tmp();
  await writeTinyModel(dir, 13, { multiLabel: true });
  const cfg = await readJson(join(dir, "config.json"));
  await writeFile(join(dir, "config.json"), JSON.stringify({ ...cfg, problem_type: "ranking" }));
  await assert.rejects(Classifier.load(dir), /problem_type "ranking" is not supported/);
  await writeFile(
    join(dir, "config.json"),
    JSON.stringify({ ...cfg, label_thresholds: { biological_process: 1.5 } }),
  );
  await assert.rejects(Classifier.load(dir), /label_thresholds's "biological_process" must be a probability/);
  await writeFile(join(dir, "config.json"), JSON.stringify({ ...cfg, label_thresholds: { other: 0.5 } }));
  await assert.rejects(Classifier.load(dir), /names "other", which is not a label/);
});
