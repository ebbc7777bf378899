import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ASPECTS, SPLIT_FILES } from "../../src/data/examples.js";
import { BASELINE_OUTPUTS } from "../../src/jobs/baseline.js";
import { Rng } from "../../src/util/rng.js";
import { gotune } from "../helpers/cli.js";

const VOCAB = [
  ["regulation", "process", "pathway", "signaling", "response", "development", "cellular", "metabolic"],
  ["complex", "membrane", "nucleus", "organelle", "part", "compartment", "vesicle", "lumen"],
  ["activity", "binding", "catalysis", "transporter", "kinase", "receptor", "ligand", "enzyme"],
];
const SHARED = ["the", "of", "any", "protein", "cell", "that", "in", "to"];

/** Writes a synthetic split (GO-like definitions, labels by their words) as `gotune prepare` would. */
async function syntheticSplit(nTrain: number, nTest: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gotune-baseline-"));
  const rng = new Rng(9);
  const line = (i: number) => {
    const label = i % 3;
    const words = Array.from({ length: 8 }, () =>
      rng.next() < 0.5 ? VOCAB[label]![rng.int(8)]! : SHARED[rng.int(SHARED.length)]!,
    );
    return JSON.stringify({ go_id: `GO:${i}`, text: `${words.join(" ")}.`, aspect: ASPECTS[label], label });
  };
  await writeFile(
    join(dir, SPLIT_FILES.train),
    `${Array.from({ length: nTrain }, (_, i) => line(i)).join("\n")}\n`,
  );
  await writeFile(
    join(dir, SPLIT_FILES.test),
    `${Array.from({ length: nTest }, (_, i) => line(i)).join("\n")}\n`,
  );
  return dir;
}

test("gotune baseline --json prints the metrics and writes them atomically to DIR/baseline.json", async () => {
  const dir = await syntheticSplit(90, 30);
  const r = gotune(["baseline", "--data", dir, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(r.stdout.trim().split("\n").length, 1, "one JSON object");
  assert.ok(out.accuracy >= 0.9 && out.accuracy <= 1, `accuracy ${out.accuracy}`);
  assert.ok(out.macro_f1 >= 0.9 && out.macro_f1 <= 1);
  assert.deepEqual(Object.keys(out.per_class), [...ASPECTS]);
  for (const a of ASPECTS) {
    assert.deepEqual(Object.keys(out.per_class[a]), ["precision", "recall", "f1", "support"]);
    assert.equal(out.per_class[a].support, 10);
  }
  assert.equal(out.confusion_matrix.length, 3);
  assert.equal(
    out.confusion_matrix.flat().reduce((a: number, b: number) => a + b, 0),
    30,
  );
  assert.deepEqual(Object.keys(out.roc_auc), [...ASPECTS, "macro"]);
  assert.equal(out.train_examples, 90);
  assert.equal(out.eval_examples, 30);
  assert.ok(out.features > 20);
  const saved = JSON.parse(await readFile(join(dir, BASELINE_OUTPUTS.metrics), "utf8"));
  assert.equal(saved.accuracy, out.accuracy);
  assert.deepEqual((await readdir(dir)).sort(), [
    BASELINE_OUTPUTS.metrics,
    SPLIT_FILES.test,
    SPLIT_FILES.train,
  ]);
});

test("gotune baseline with limits, --out and the text report", async () => {
  const dir = await syntheticSplit(90, 30);
  const outFile = join(dir, "sub", "small.json");
  const r = gotune([
    "baseline",
    "--data",
    dir,
    "--train-limit",
    "30",
    "--eval-limit",
    "12",
    "--out",
    outFile,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ *accuracy +\d\.\d{4} +12$/m);
  assert.match(r.stdout, /confusion matrix/);
  const saved = JSON.parse(await readFile(outFile, "utf8"));
  assert.equal(saved.train_examples, 30);
  assert.equal(saved.eval_examples, 12);
  // The same seed takes the same examples: the same result again.
  const again = gotune([
    "baseline",
    "--data",
    dir,
    "--train-limit",
    "30",
    "--eval-limit",
    "12",
    "--json",
    "--out",
    outFile,
  ]);
  assert.equal(JSON.parse(again.stdout).accuracy, saved.accuracy);
  assert.deepEqual(JSON.parse(again.stdout).confusion_matrix, saved.confusion_matrix);
});

test("gotune baseline: a missing split, a bad line and a bad option are one line and a non-zero exit", async () => {
  const empty = await mkdtemp(join(tmpdir(), "gotune-nosplit-"));
  let r = gotune(["baseline", "--data", empty]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    `gotune: ${empty}: no train.jsonl in this folder (no split); run gotune prepare --obo FILE --out ${empty} first\n`,
  );

  const dir = await syntheticSplit(9, 3);
  const train = join(dir, SPLIT_FILES.train);
  const lines = (await readFile(train, "utf8")).trim().split("\n");
  lines[4] = '{"go_id":"GO:4","text":"x y","aspect":"biological_process","label":5}';
  await writeFile(train, `${lines.join("\n")}\n`);
  r = gotune(["baseline", "--data", dir]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`^gotune: ${train}:5: label 5 is not 0, 1, 2 or an aspect's name; .*\\n$`),
  );
  assert.equal(r.stderr.split("\n").length, 2, "one line");
  assert.deepEqual((await readdir(dir)).sort(), [SPLIT_FILES.test, SPLIT_FILES.train], "nothing written");

  r = gotune(["baseline", "--data", dir, "--train-limit", "many"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--train-limit.*many.*whole number/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");

  r = gotune(["baseline", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /TF-IDF/);
  assert.match(r.stdout, /--train-limit/);
});
