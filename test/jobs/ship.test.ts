/**
 * `gotune ship`: a real (tiny) pre-training made into the shipped folder: half-precision weights that
 * load back as the trained ones rounded, the model card, and the corpus record that `gotune run`
 * checks its test split against.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { SPLIT_FILES } from "../../src/data/examples.js";
import { f16ToF32, f32ToF16, readSafetensors, SafetensorsFile } from "../../src/hf/safetensors.js";
import { checkCorpus, readCorpusRecord, SHIP_OUTPUTS as S } from "../../src/jobs/shipped-model.js";
import { assertOneLineError, gotune } from "../helpers/cli.js";
import { markedSplit } from "../helpers/pretrain-fixture.js";

let dir = "";
let data = "";
let mlm = "";
let shipped = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-ship-"));
  data = await markedSplit(dir, 60);
  mlm = join(dir, "mlm");
  shipped = join(dir, "models", "go-bert-tiny");
  const pt = gotune(["pretrain", "--data", data, "--out", mlm, "--preset", "bert-tiny", "--max-steps", "4"]);
  assert.equal(pt.code, 0, pt.stderr);
  const r = gotune(["ship", "--pretrained", mlm, "--data", data, "--out", shipped, "--name", "go-bert-tiny"]);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rm(dir, { recursive: true, force: true }));

test("the shipped folder holds fp16 weights equal to the trained ones rounded, tokenizer, card and corpus record", async () => {
  const files = (await readdir(shipped)).sort();
  for (const f of [
    S.card,
    "config.json",
    S.corpus,
    S.corpusTerms,
    "model.safetensors",
    S.pretrainSummary,
    "vocab.txt",
  ])
    assert.ok(files.includes(f), f);
  assert.ok(!files.some((f) => f.includes(".tmp")), "no temporary left");
  const f = await SafetensorsFile.open(join(shipped, "model.safetensors"));
  const dtypes = new Set([...f.tensors.values()].map((t) => t.dtype));
  await f.close();
  assert.deepEqual([...dtypes], ["F16"]);
  const trained = (await readSafetensors(join(mlm, "model.safetensors"))).tensors;
  const half = (await readSafetensors(join(shipped, "model.safetensors"))).tensors;
  assert.deepEqual([...half.keys()], [...trained.keys()]);
  for (const [name, t] of trained) {
    const h = half.get(name)!;
    assert.deepEqual(h.shape, t.shape);
    for (let i = 0; i < t.data.length; i++) assert.equal(h.data[i], f16ToF32(f32ToF16(t.data[i]!)), name);
  }
  const config = JSON.parse(await readFile(join(shipped, "config.json"), "utf8"));
  assert.equal(config.torch_dtype, "float16");

  const card = await readFile(join(shipped, S.card), "utf8");
  assert.match(card, /^---\nlanguage: en\nlicense: cc-by-4\.0\n[\s\S]*?\n---\n\n# go-bert-tiny\n/);
  const pt = JSON.parse(await readFile(join(mlm, "pretrain.json"), "utf8"));
  // So small a corpus keeps no held-out sequences: the card says so and gives the training loss.
  const held = pt.loss.last_held_out as number | null;
  assert.ok(card.includes(`**${held === null ? "?" : held.toFixed(3)}**`), "final held-out loss");
  assert.ok(card.includes(`at\n  the end ${pt.loss.last_train_mean.toFixed(3)}`), "final training loss");
  assert.ok(card.includes(`Steps:** ${pt.steps.done} of ${pt.steps.planned} planned`), "steps");
  assert.match(card, /releases\/2099-02-02/);
  assert.match(card, /CC BY 4\.0/);
  assert.match(
    card,
    /gotune pretrain --data data --out mlm --preset bert-tiny .*--max-steps 4 .*gotune ship --pretrained mlm/,
  );

  // The record lists exactly the train split's GO ids.
  const rec = (await readCorpusRecord(shipped))!;
  const ids = (await readFile(join(data, SPLIT_FILES.train), "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).go_id as string)
    .sort();
  const listed = gunzipSync(await readFile(join(shipped, rec.terms_file)))
    .toString()
    .trim()
    .split("\n");
  assert.deepEqual(listed, ids);
  assert.deepEqual(rec.split, { seed: 42, test_size: 0.2 });
  assert.equal(rec.train_terms, ids.length);
});

test("the corpus check passes the model's own split and catches test terms that were in its corpus", async () => {
  const rec = (await readCorpusRecord(shipped))!;
  const own = await checkCorpus(shipped, rec, data);
  assert.equal(own.leaked, 0);
  assert.equal(own.sameSplit, true);
  assert.match(own.line, /none of the 12 test terms/);
  // Another seed: a new split of the same release, whose test split holds terms the model saw.
  const other = join(dir, "other");
  const r = gotune([
    "prepare",
    "--obo",
    join(dir, "fixture.obo"),
    "--out",
    other,
    "--seed",
    "7",
    "--no-figures",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const c = await checkCorpus(shipped, rec, other);
  assert.equal(c.sameSplit, false);
  assert.ok(c.leaked > 0);
  assert.match(
    c.line,
    /^this split differs from the shipped model's: seed 7 \(the model's: 42\); \d+ of its 12 test terms/,
  );
  // A tampered list is refused.
  await writeFile(join(shipped, rec.terms_file), Buffer.from("not gzip"));
  await assert.rejects(checkCorpus(shipped, rec, data), /cannot read the list of corpus terms/);
});

test("gotune ship with a folder that is not a pre-training says so in one line", () => {
  const r = gotune(["ship", "--pretrained", data, "--data", data, "--out", join(dir, "x")]);
  assertOneLineError(r, /pretrain\.json/);
});
