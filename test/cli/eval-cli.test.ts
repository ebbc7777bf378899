import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Classifier } from "../../src/inference/classifier.js";
import { computeMetrics, formatReport } from "../../src/inference/metrics.js";
import { tinyClassifier, writeTinyModel } from "../fixtures/app/tiny-model.js";
import { assertOneLineError, gotune } from "../helpers/cli.js";

let dir = "";
let model = "";
const ROWS: [string, string | number][] = [
  ["the mitochondrial membrane", "cellular_component"],
  ["protein binding", 2],
  ["a cell", "1"],
  ["the binding of a protein in the membrane", "molecular_function"],
  ["cafe", 0],
  ["the cell membrane binding protein", "biological_process"],
  ["mitochondria of the cell", 1],
  ["x", "0"],
  ["binding of the membrane", 2],
];
const ASPECT_IDS: Record<string, number> = {
  biological_process: 0,
  cellular_component: 1,
  molecular_function: 2,
};
const truth = ROWS.map(([, l]) => (typeof l === "number" ? l : (ASPECT_IDS[l] ?? Number(l))));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-eval-"));
  model = join(dir, "model");
  await writeTinyModel(model);
  const jsonl = ROWS.map(([text, l]) =>
    JSON.stringify(typeof l === "string" && l in ASPECT_IDS ? { text, aspect: l } : { text, label: l }),
  );
  await writeFile(join(dir, "small.jsonl"), `${jsonl.join("\n")}\n`);
  const csv = ROWS.map(([t, l]) => `"${t}",${l}`);
  await writeFile(join(dir, "small.csv"), `text,label\n${csv.join("\n")}\n`);
});
after(() => rm(dir, { recursive: true, force: true }));

async function expected() {
  const clf = await Classifier.load(model);
  const { probs } = clf.predictProba(ROWS.map(([t]) => t));
  return computeMetrics(truth, clf.argmax(probs), clf.labels, probs);
}

test("eval --json gives the metrics computeMetrics gives on the same predictions", async () => {
  const r = gotune(["eval", "--model", model, "--input", join(dir, "small.jsonl"), "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(got).sort(), [
    "accuracy",
    "confusion_matrix",
    "macro_f1",
    "per_class",
    "roc_auc",
  ]);
  const exp = await expected();
  assert.deepEqual(got.confusion_matrix, exp.confusion_matrix);
  assert.equal(
    got.confusion_matrix.flat().reduce((a: number, b: number) => a + b, 0),
    ROWS.length,
  );
  assert.ok(Math.abs(got.accuracy - exp.accuracy) < 1e-12);
  assert.ok(Math.abs(got.macro_f1 - exp.macro_f1) < 1e-12);
  assert.deepEqual(Object.keys(got.per_class), [
    "biological_process",
    "cellular_component",
    "molecular_function",
  ]);
  assert.deepEqual(
    Object.values(got.per_class).map((s) => (s as { support: number }).support),
    [3, 3, 3],
  );
  for (const k of Object.keys(exp.roc_auc!)) assert.ok(Math.abs(got.roc_auc[k] - exp.roc_auc![k]!) < 1e-6, k);
  // The same file as CSV, with a small batch, gives the same metrics.
  const csv = gotune([
    "eval",
    "--model",
    model,
    "--input",
    join(dir, "small.csv"),
    "--json",
    "--batch-size",
    "2",
  ]);
  assert.equal(csv.code, 0, csv.stderr);
  assert.deepEqual(JSON.parse(csv.stdout).confusion_matrix, exp.confusion_matrix);
});

test("eval --dtype int8 evaluates the int8 model: the same 9 examples, ROC-AUC near fp32's", async () => {
  const r = gotune([
    "eval",
    "--model",
    model,
    "--input",
    join(dir, "small.jsonl"),
    "--json",
    "--dtype",
    "int8",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const exp = await expected();
  assert.equal(
    got.confusion_matrix.flat().reduce((a: number, b: number) => a + b, 0),
    ROWS.length,
  );
  for (const k of Object.keys(exp.roc_auc!)) assert.ok(Math.abs(got.roc_auc[k] - exp.roc_auc![k]!) < 0.1, k);
  assert.match(gotune(["eval", "--help"]).stdout, /--dtype <fp32\|bf16\|int8>/);
});

test("eval without --json prints the classification report", async () => {
  const r = gotune(["eval", "--model", model, "--input", join(dir, "small.jsonl")]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(formatReport(await expected())));
  assert.match(r.stdout, /9 examples/);
});

test("eval: labels the model lacks, bad files and bad models are one clear line", async () => {
  const two = join(dir, "two-labels");
  const c = await tinyClassifier(3, ["biological_process", "molecular_function"]);
  await c.save(two);
  assertOneLineError(
    gotune(["eval", "--model", two, "--input", join(dir, "small.jsonl")]),
    /example 1 has label cellular_component, which the model does not know; the model's labels are biological_process, molecular_function/,
  );
  await writeFile(join(dir, "bad.jsonl"), '{"text": "a", "label": 1}\n{"text": "b", "label": 7}\n');
  assertOneLineError(
    gotune(["eval", "--model", model, "--input", join(dir, "bad.jsonl")]),
    /bad\.jsonl:2: label 7 is not 0, 1, 2/,
  );
  assertOneLineError(gotune(["eval", "--model", model, "--input", join(dir, "none.jsonl")]), /no such file/);
  assertOneLineError(
    gotune(["eval", "--model", join(dir, "nowhere"), "--input", join(dir, "small.jsonl")]),
    /no such folder/,
  );
  assertOneLineError(
    gotune(["eval", "--model", model, "--input", join(dir, "small.jsonl"), "--max-length", "600"]),
    /max length 600 is outside 3\.\.128/,
  );
  // commander checks option values itself (and adds its usage hint line).
  const zero = gotune(["eval", "--model", model, "--input", join(dir, "small.jsonl"), "--batch-size", "0"]);
  assert.notEqual(zero.code, 0);
  assert.match(zero.lines[0]!, /^gotune: option '--batch-size <n>' argument '0' is invalid/);
  const help = gotune(["eval", "--help"]);
  assert.match(help.stdout, /Evaluate a fine-tuned model/);
});
