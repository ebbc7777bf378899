import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { saveModelFolder } from "../../src/hf/model-folder.js";
import { Classifier } from "../../src/inference/classifier.js";
import { BertForMaskedLM } from "../../src/model/bert.js";
import { UserError } from "../../src/util/errors.js";
import { tinyClassifier, writeTinyModel } from "../fixtures/app/tiny-model.js";

const dirs: string[] = [];
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), "gotune-clf-"));
  dirs.push(d);
  return d;
};
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const TEXTS = [
  "the mitochondrial membrane",
  "protein binding",
  "a cell",
  "the binding of a protein in the mitochondrial membrane of cells, ( in a cell ) - the protein",
  "cafe",
  "the cell membrane binding protein",
  "mitochondria",
  "x",
];

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

test("probabilities are a softmax of the logits and sum to 1", async () => {
  const c = await tinyClassifier();
  const { probs, logits } = c.predictProba(TEXTS);
  assert.equal(probs.length, TEXTS.length * 3);
  for (let i = 0; i < TEXTS.length; i++) {
    const row = probs.subarray(i * 3, i * 3 + 3);
    assert.ok(Math.abs(row[0]! + row[1]! + row[2]! - 1) < 1e-6);
    const l = logits.subarray(i * 3, i * 3 + 3);
    // Ratios of probabilities are exp of differences of logits.
    assert.ok(Math.abs(Math.log(row[1]! / row[0]!) - (l[1]! - l[0]!)) < 1e-4);
  }
  // The texts do get different answers (the model is not constant).
  assert.ok(maxDiff(probs.subarray(0, 3), probs.subarray(3, 6)) > 1e-3);
});

test("rows come back in input order, whatever the length sorting and the batch size", async () => {
  const c = await tinyClassifier();
  const alone = TEXTS.map((t) => c.predictProba([t]).logits);
  for (const batchSize of [1, 3, 32]) {
    const { logits } = c.predictProba(TEXTS, { batchSize });
    TEXTS.forEach((t, i) => {
      const d = maxDiff(logits.subarray(i * 3, i * 3 + 3), alone[i]!);
      assert.ok(d < 1e-4, `batch ${batchSize}, text ${i} (${t}): differs by ${d}`);
    });
  }
  // The reversed input gives the reversed rows.
  const rev = c.predictProba([...TEXTS].reverse(), { batchSize: 3 }).logits;
  const fwd = c.predictProba(TEXTS, { batchSize: 3 }).logits;
  for (let i = 0; i < TEXTS.length; i++)
    assert.ok(
      maxDiff(
        rev.subarray(i * 3, i * 3 + 3),
        fwd.subarray((TEXTS.length - 1 - i) * 3, (TEXTS.length - i) * 3),
      ) < 1e-4,
    );
});

test("onBatch reports progress; maxLength truncates; no texts gives empty arrays", async () => {
  const c = await tinyClassifier();
  const seen: number[] = [];
  c.predictProba(TEXTS, { batchSize: 3, onBatch: (done, total) => seen.push(done, total) });
  assert.deepEqual(seen, [3, 8, 6, 8, 8, 8]);
  const long = `${"the cell ".repeat(30)}binding`;
  const cut = c.predictProba([long, `${"the cell ".repeat(30)}mito`], { maxLength: 12 }).logits;
  // Both texts agree on their first 10 pieces, so truncated to 12 tokens they are the same input.
  assert.ok(maxDiff(cut.subarray(0, 3), cut.subarray(3, 6)) < 1e-5);
  assert.equal(c.predictProba([]).probs.length, 0);
  assert.throws(() => c.predictProba(TEXTS, { maxLength: 1000 }), UserError);
  assert.throws(() => c.predictProba(TEXTS, { batchSize: 0 }), UserError);
});

test("a saved classifier loads back with the same labels, tokenizer and outputs", async () => {
  const dir = await tmp();
  const c = await writeTinyModel(dir);
  const back = await Classifier.load(dir);
  assert.deepEqual(back.labels, c.labels);
  assert.equal(back.tokenizer.vocabSize, c.tokenizer.vocabSize);
  assert.deepEqual(back.tokenizer.encode(TEXTS[3]!), c.tokenizer.encode(TEXTS[3]!));
  assert.ok(maxDiff(back.predictProba(TEXTS).logits, c.predictProba(TEXTS).logits) < 1e-6);
  assert.equal(back.dir, dir);
  assert.equal(back.labelId("molecular_function"), 2);
  assert.deepEqual([...back.argmax(new Float32Array([0.1, 0.7, 0.2, 0.5, 0.2, 0.3]))], [1, 0]);
});

test("dtype int8 and bf16: logits near fp32's, the same labels; int8 refuses to train", async (t) => {
  const dir = await tmp();
  const c = await writeTinyModel(dir);
  const fp32 = c.predictProba(TEXTS).logits;
  let spread = 0;
  for (const v of fp32) spread = Math.max(spread, Math.abs(v));
  const notes: string[] = [];
  for (const dtype of ["bf16", "int8"] as const) {
    const other = await Classifier.load(dir, { dtype, note: (l) => notes.push(l) });
    if (notes.length) {
      t.diagnostic(`skipped ${dtype}: ${notes.pop()}`);
      continue;
    }
    const { logits } = other.predictProba(TEXTS);
    const d = maxDiff(logits, fp32);
    // Rounding moves the logits a little, never not at all (the dtype ran), and not far enough to change
    // a label. On this wide-weighted model (weights of std 0.3, 32 wide) bf16 moved them 2% of their
    // range and int8 5% (each product rounds both operands to 8 bits); the GO model, 0.004 on logits near 5.
    const bound = dtype === "bf16" ? 0.03 : 0.08;
    assert.ok(d > 0 && d < bound * spread, `${dtype}: logits differ from fp32's by ${d} (range ${spread})`);
    assert.deepEqual(other.argmax(logits), c.argmax(fp32), dtype);
  }
  const int8 = await Classifier.load(dir, { dtype: "int8" });
  int8.model.setDtype("int8");
  assert.throws(() => int8.model.bert.layers[0]!.output.backward(new Float32Array(32), null), /inference/);
});

async function loadError(dir: string): Promise<string> {
  try {
    await Classifier.load(dir);
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${err}`);
    assert.ok(!err.toLine().includes("\n"));
    return err.toLine();
  }
  assert.fail("loaded a bad model folder");
}

test("bad model folders are one-line UserErrors", async () => {
  const base = await tmp();
  const fresh = async (name: string) => {
    const d = join(base, name);
    await writeTinyModel(d);
    return d;
  };
  const noWeights = await fresh("no-weights");
  await rm(join(noWeights, "model.safetensors"));
  assert.match(await loadError(noWeights), /no weights/);

  const bertType = await fresh("roberta");
  const cfg = JSON.parse(await readFile(join(bertType, "config.json"), "utf8"));
  await writeFile(join(bertType, "config.json"), JSON.stringify({ ...cfg, model_type: "roberta" }));
  assert.match(await loadError(bertType), /model_type "roberta" is not supported/);

  const noLabels = await fresh("no-labels");
  const { id2label: _a, label2id: _b, ...bare } = cfg;
  await writeFile(join(noLabels, "config.json"), JSON.stringify(bare));
  assert.match(await loadError(noLabels), /no labels \(id2label\)/);

  const gap = await fresh("gap");
  await writeFile(
    join(gap, "config.json"),
    JSON.stringify({ ...cfg, id2label: { "0": "a", "2": "c", "3": "d" }, label2id: undefined }),
  );
  assert.match(await loadError(gap), /id2label must map each id 0..N-1 to a name, not "3" to "d"/);

  const bigVocab = await fresh("big-vocab");
  const vocab = await readFile(join(bigVocab, "vocab.txt"), "utf8");
  await rm(join(bigVocab, "tokenizer.json"));
  await writeFile(join(bigVocab, "vocab.txt"), `${vocab}extra\nmore\n`);
  assert.match(await loadError(bigVocab), /tokenizer has 43 tokens but the model's embeddings only 41 rows/);

  const mlm = await fresh("mlm");
  const mlmModel = new BertForMaskedLM({ ...(await Classifier.load(mlm)).model.config });
  await rm(join(mlm, "model.safetensors"));
  await saveModelFolder(mlm, mlmModel, { id2label: cfg.id2label });
  assert.match(await loadError(mlm), /no classification head/);

  assert.match(await loadError(join(base, "nowhere")), /no such folder/);
});
