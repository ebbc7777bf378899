import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  architectureOf,
  loadModelFolder,
  loadParams,
  openWeights,
  readModelConfig,
  saveModelFolder,
} from "../../src/hf/model-folder.js";
import {
  encodeSafetensors,
  type NamedTensor,
  SafetensorsFile,
  writeSafetensors,
} from "../../src/hf/safetensors.js";
import { BertForMaskedLM, BertForSequenceClassification } from "../../src/model/bert.js";
import { type BertConfig, makeConfig } from "../../src/model/config.js";
import { makeParam, type Param } from "../../src/model/param.js";
import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";

const tmp = () => mkdtemp(join(tmpdir(), "gotune-mf-"));
const CONFIG = makeConfig({ vocab_size: 50, max_position_embeddings: 16 }, "bert-tiny");

/** Hugging Face's parameter list for a BERT of `c`, as the model classes give it (values random). */
function hfParams(c: BertConfig, head: "cls" | "mlm" | "base", seed = 1): Param[] {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const pre = head === "base" ? "" : "bert.";
  const spec: [string, number[]][] = [
    [`${pre}embeddings.word_embeddings.weight`, [c.vocab_size, H]],
    [`${pre}embeddings.position_embeddings.weight`, [c.max_position_embeddings, H]],
    [`${pre}embeddings.token_type_embeddings.weight`, [c.type_vocab_size, H]],
    [`${pre}embeddings.LayerNorm.weight`, [H]],
    [`${pre}embeddings.LayerNorm.bias`, [H]],
  ];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const L = `${pre}encoder.layer.${l}.`;
    for (const m of ["query", "key", "value"])
      spec.push([`${L}attention.self.${m}.weight`, [H, H]], [`${L}attention.self.${m}.bias`, [H]]);
    spec.push([`${L}attention.output.dense.weight`, [H, H]], [`${L}attention.output.dense.bias`, [H]]);
    spec.push([`${L}attention.output.LayerNorm.weight`, [H]], [`${L}attention.output.LayerNorm.bias`, [H]]);
    spec.push([`${L}intermediate.dense.weight`, [I, H]], [`${L}intermediate.dense.bias`, [I]]);
    spec.push([`${L}output.dense.weight`, [H, I]], [`${L}output.dense.bias`, [H]]);
    spec.push([`${L}output.LayerNorm.weight`, [H]], [`${L}output.LayerNorm.bias`, [H]]);
  }
  if (head !== "mlm") spec.push([`${pre}pooler.dense.weight`, [H, H]], [`${pre}pooler.dense.bias`, [H]]);
  if (head === "cls") spec.push(["classifier.weight", [3, H]], ["classifier.bias", [3]]);
  if (head === "mlm")
    spec.push(
      ["cls.predictions.transform.dense.weight", [H, H]],
      ["cls.predictions.transform.dense.bias", [H]],
      ["cls.predictions.transform.LayerNorm.weight", [H]],
      ["cls.predictions.transform.LayerNorm.bias", [H]],
      ["cls.predictions.bias", [c.vocab_size]],
    );
  const rng = new Rng(seed);
  return spec.map(([name, shape]) => {
    const p = makeParam(name, shape);
    for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal();
    return p;
  });
}

const model = (params: Param[], numLabels?: number) => ({ config: CONFIG, params: () => params, numLabels });
const asTensors = (ps: Param[]): NamedTensor[] =>
  ps.map((p) => ({ name: p.name, shape: p.shape, data: p.data }));

function assertSameValues(a: Param[], b: Param[]): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].name, b[i].name);
    assert.deepEqual(a[i].data, b[i].data, a[i].name);
  }
}

test("a saved classifier folder has transformers' config and names and loads back exactly", async () => {
  const dir = join(await tmp(), "out");
  const src = hfParams(CONFIG, "cls", 1);
  const cfg = {
    ...CONFIG,
    id2label: { "0": "biological_process", "1": "cellular_component", "2": "molecular_function" },
  };
  await saveModelFolder(dir, { config: cfg, params: () => src, numLabels: 3 });
  assert.deepEqual((await readdir(dir)).sort(), ["config.json", "model.safetensors"]);
  const json = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
  assert.equal(json.model_type, "bert");
  assert.deepEqual(json.architectures, ["BertForSequenceClassification"]);
  assert.equal(json.hidden_size, CONFIG.hidden_size);
  assert.equal(json.hidden_act, "gelu");
  assert.deepEqual(json.label2id, { biological_process: 0, cellular_component: 1, molecular_function: 2 });
  const f = await SafetensorsFile.open(join(dir, "model.safetensors"));
  assert.deepEqual(f.metadata, { format: "pt" });
  assert.deepEqual(
    f.names(),
    src.map((p) => p.name),
  );
  await f.close();

  const { config } = await readModelConfig(dir);
  assert.equal(config.num_hidden_layers, CONFIG.num_hidden_layers);
  assert.deepEqual(config.id2label, cfg.id2label);
  assert.equal(config.label2id!.cellular_component, 1);
  const dst = hfParams(config, "cls", 99);
  const report = await loadModelFolder(dir, model(dst));
  assert.deepEqual(report, { initialisedFresh: [], unused: [], notes: [] });
  assertSameValues(dst, src);
});

test("labels default to LABEL_i in config.json, and the architecture follows the parameters", async () => {
  const dir = await tmp();
  await saveModelFolder(dir, model(hfParams(CONFIG, "cls"), 3));
  const json = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
  assert.deepEqual(json.id2label, { "0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2" });
  assert.equal(architectureOf(hfParams(CONFIG, "mlm")), "BertForMaskedLM");
  assert.equal(architectureOf(hfParams(CONFIG, "base")), "BertModel");
});

test("an old base checkpoint (gamma/beta, no bert. prefix, position_ids) loads; the head is fresh", async () => {
  const dir = await tmp();
  const base = hfParams(CONFIG, "base", 5);
  const old = asTensors(base).map((t) => ({
    ...t,
    name: t.name
      .replace(/LayerNorm\.weight$/, "LayerNorm.gamma")
      .replace(/LayerNorm\.bias$/, "LayerNorm.beta"),
  }));
  old.push({
    name: "embeddings.position_ids",
    shape: [1, 16],
    data: Float32Array.from({ length: 16 }, (_, i) => i),
  });
  old.push({
    name: "cls.seq_relationship.weight",
    shape: [2, CONFIG.hidden_size],
    data: new Float32Array(2 * 128),
  });
  await writeSafetensors(join(dir, "model.safetensors"), old);
  const dst = hfParams(CONFIG, "cls", 7);
  const headBefore = dst.filter((p) => p.name.startsWith("classifier.")).map((p) => p.data.slice());
  const report = await loadModelFolder(dir, model(dst));
  assert.deepEqual(report.initialisedFresh, ["classifier.weight", "classifier.bias"]);
  assert.deepEqual(report.unused, ["cls.seq_relationship.weight"]);
  assert.match(report.notes.join("\n"), /initialised fresh .*classifier\.weight/);
  for (const p of dst) {
    if (p.name.startsWith("classifier.")) continue;
    const b = base.find((q) => `bert.${q.name}` === p.name)!;
    assert.deepEqual(p.data, b.data, p.name);
  }
  assert.deepEqual(
    dst.filter((p) => p.name.startsWith("classifier.")).map((p) => p.data),
    headBefore,
  );
});

test("a bert.-prefixed checkpoint loads into a bare BertModel", async () => {
  const dir = await tmp();
  const src = hfParams(CONFIG, "cls", 2);
  await writeSafetensors(join(dir, "model.safetensors"), asTensors(src));
  const dst = hfParams(CONFIG, "base", 3);
  const report = await loadModelFolder(dir, model(dst));
  assert.deepEqual(report.unused, ["classifier.weight", "classifier.bias"]);
  for (const p of dst) assert.deepEqual(p.data, src.find((q) => q.name === `bert.${p.name}`)!.data);
});

test("an MLM checkpoint: the tied decoder is skipped, decoder.bias stands in for cls.predictions.bias", async () => {
  const dir = await tmp();
  const src = hfParams(CONFIG, "mlm", 4);
  const tensors = asTensors(src).map((t) =>
    t.name === "cls.predictions.bias" ? { ...t, name: "cls.predictions.decoder.bias" } : t,
  );
  const we = src[0];
  tensors.push({ name: "cls.predictions.decoder.weight", shape: we.shape, data: we.data });
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  const dst = hfParams(CONFIG, "mlm", 8);
  const report = await loadModelFolder(dir, model(dst));
  assert.deepEqual(report, { initialisedFresh: [], unused: [], notes: [] });
  assertSameValues(dst, src);
  // Saving an MLM model writes what transformers writes: no decoder weight, cls.predictions.bias.
  const out = await tmp();
  await saveModelFolder(out, model(dst));
  const f = await SafetensorsFile.open(join(out, "model.safetensors"));
  assert.ok(f.info("cls.predictions.bias") && !f.info("cls.predictions.decoder.weight"));
  await f.close();
  assert.deepEqual(JSON.parse(await readFile(join(out, "config.json"), "utf8")).architectures, [
    "BertForMaskedLM",
  ]);
});

test("a missing or mis-shaped tensor is one clear error naming it", async () => {
  const dir = await tmp();
  const src = hfParams(CONFIG, "cls", 2);
  const p = join(dir, "model.safetensors");
  await writeSafetensors(
    p,
    asTensors(src.filter((x) => x.name !== "bert.encoder.layer.1.output.dense.bias")),
  );
  await assert.rejects(loadModelFolder(dir, model(hfParams(CONFIG, "cls"))), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(
      e.toLine(),
      /model\.safetensors: the checkpoint has no tensor bert\.encoder\.layer\.1\.output\.dense\.bias/,
    );
    return true;
  });
  // Four labels in the checkpoint, three in the model.
  const four = asTensors(src).map((t) =>
    t.name === "classifier.weight"
      ? { ...t, shape: [4, CONFIG.hidden_size], data: new Float32Array(4 * 128) }
      : t,
  );
  await writeSafetensors(p, four);
  await assert.rejects(loadModelFolder(dir, model(hfParams(CONFIG, "cls"))), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(
      e.toLine(),
      /tensor classifier\.weight has shape \[4, 128\] but the model expects \[3, 128\]/,
    );
    return true;
  });
  // Only half a head: not a base checkpoint, so not initialised fresh.
  await writeSafetensors(p, asTensors(src.filter((x) => x.name !== "classifier.bias")));
  await assert.rejects(loadModelFolder(dir, model(hfParams(CONFIG, "cls"))), /no tensor classifier\.bias/);
});

test("sharded checkpoints load through model.safetensors.index.json", async () => {
  const dir = await tmp();
  const src = hfParams(CONFIG, "cls", 6);
  const half = Math.floor(src.length / 2);
  const shards = [src.slice(0, half), src.slice(half)];
  const weightMap: Record<string, string> = {};
  for (const [i, s] of shards.entries()) {
    const name = `model-0000${i + 1}-of-00002.safetensors`;
    await writeFile(join(dir, name), encodeSafetensors(asTensors(s)));
    for (const p of s) weightMap[p.name] = name;
  }
  await writeFile(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  const dst = hfParams(CONFIG, "cls", 9);
  await loadModelFolder(dir, model(dst));
  assertSameValues(dst, src);
  const source = await openWeights(dir);
  // A classifier checkpoint read into an MLM model: the MLM head is fresh, the pooler and classifier unused.
  const report = await loadParams(hfParams(CONFIG, "mlm"), source);
  assert.equal(report.initialisedFresh.length, 5);
  assert.ok(report.initialisedFresh.every((n) => n.startsWith("cls.predictions.")));
  assert.deepEqual(report.unused, [
    "bert.pooler.dense.weight",
    "bert.pooler.dense.bias",
    "classifier.weight",
    "classifier.bias",
  ]);
  await source.close();
});

test("bad folders and configs are one clear line each", async () => {
  const dir = await tmp();
  await assert.rejects(readModelConfig(dir), /no config\.json/);
  await assert.rejects(openWeights(dir), /no weights in the model folder/);
  // Special files are refused before they are read: a FIFO would hang, /dev/zero never end.
  const line = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.toLine());
  execFileSync("mkfifo", [join(dir, "config.json")]);
  await assert.rejects(readModelConfig(dir), line(/config\.json: is not a regular file \(a FIFO/));
  await rm(join(dir, "config.json"));
  await symlink("/dev/zero", join(dir, "config.json"));
  await assert.rejects(readModelConfig(dir), line(/config\.json: is not a regular file/));
  await rm(join(dir, "config.json"));
  execFileSync("mkfifo", [join(dir, "model.safetensors")]);
  await assert.rejects(openWeights(dir), line(/model\.safetensors: is not a regular file/));
  await rm(join(dir, "model.safetensors"));
  // Without safetensors, pytorch_model.bin is read; a broken one is a UserError naming it.
  await writeFile(join(dir, "pytorch_model.bin"), "x");
  await assert.rejects(
    openWeights(dir),
    (e: unknown) => e instanceof UserError && e.toLine().includes("pytorch_model.bin"),
  );
  await writeFile(join(dir, "config.json"), "{ nope");
  await assert.rejects(
    readModelConfig(dir),
    (e: unknown) => e instanceof UserError && e.toLine().includes("config.json"),
  );
  await writeFile(join(dir, "config.json"), JSON.stringify({ model_type: "gpt2" }));
  await assert.rejects(readModelConfig(dir), /model_type "gpt2" is not supported/);
  await writeFile(join(dir, "config.json"), JSON.stringify({ model_type: "bert", hidden_act: "relu" }));
  await assert.rejects(readModelConfig(dir), /hidden_act "relu"/);
  await writeFile(join(dir, "config.json"), JSON.stringify({ model_type: "bert", hidden_size: "big" }));
  await assert.rejects(readModelConfig(dir), /hidden_size must be a number/);
  await mkdir(join(dir, "sub"));
  await writeFile(join(dir, "sub", "config.json"), JSON.stringify({ model_type: "bert", vocab_size: 99 }));
  const { config } = await readModelConfig(join(dir, "sub"));
  assert.equal(config.vocab_size, 99);
  assert.equal(config.hidden_size, 768);
});

test("gotune's own models: a saved classifier reloads to identical logits; an MLM folder seeds a classifier", async () => {
  const config = { ...CONFIG, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };
  const batch = {
    inputIds: Int32Array.of(2, 7, 9, 4, 0, 0, 3, 11, 12, 13, 14, 5),
    tokenTypeIds: new Int32Array(12),
    attentionMask: Int32Array.of(1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1),
    batchSize: 2,
    seqLen: 6,
  };
  const dir = await tmp();
  const a = new BertForSequenceClassification(config, { seed: 1, numLabels: 3 });
  await saveModelFolder(join(dir, "cls"), a);
  const { config: back } = await readModelConfig(join(dir, "cls"));
  const b = new BertForSequenceClassification(back, { seed: 2 });
  assert.equal(b.numLabels, 3);
  await loadModelFolder(join(dir, "cls"), b);
  assert.deepEqual(b.forward(batch, { train: false }).logits, a.forward(batch, { train: false }).logits);

  const mlm = new BertForMaskedLM(config, { seed: 3 });
  await saveModelFolder(join(dir, "mlm"), mlm);
  const c = new BertForSequenceClassification(config, { seed: 4, numLabels: 3 });
  const report = await loadModelFolder(join(dir, "mlm"), c);
  assert.deepEqual(report.initialisedFresh, [
    "bert.pooler.dense.weight",
    "bert.pooler.dense.bias",
    "classifier.weight",
    "classifier.bias",
  ]);
  assert.ok(report.unused.length === 5 && report.unused.every((n) => n.startsWith("cls.predictions.")));
  const mlmParams = new Map(mlm.params().map((p) => [p.name, p.data]));
  for (const p of c.params())
    if (mlmParams.has(p.name)) assert.deepEqual(p.data, mlmParams.get(p.name), p.name);
});
