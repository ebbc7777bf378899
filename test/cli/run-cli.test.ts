import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BASELINE_OUTPUTS } from "../../src/jobs/baseline.js";
import { DOCUMENT_OUTPUTS } from "../../src/jobs/document.js";
import { FINETUNE_OUTPUTS } from "../../src/jobs/finetune.js";
import { MAIN_JOB_OUTPUTS as O } from "../../src/jobs/main-job.js";
import { PREPARE_OUTPUTS } from "../../src/jobs/prepare.js";
import { assertOneLineError, type CliRun, gotune, ROOT } from "../helpers/cli.js";

const MINI = join(ROOT, "test", "fixtures", "prepare", "mini.obo");
// A quick main job: the smallest preset, a few pre-training steps, one epoch everywhere.
const QUICK = [
  ...["--preset", "bert-tiny", "--pretrain-max-steps", "3", "--epochs", "1", "--study-epochs", "1"],
  ...["--study-seeds", "2", "--curve", "6,12,100000"],
];
let dir = "";
let out = "";
let r: CliRun;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-run-"));
  out = join(dir, "out");
  r = gotune(["run", "--obo", MINI, "--out", out, ...QUICK], { GOTUNE_HOME: join(dir, "home") });
});
after(() => rm(dir, { recursive: true, force: true }));

test("gotune run goes from an OBO file to a fine-tuned model, a summary and a report", async () => {
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(await readFile(join(out, O.summary), "utf8"));
  assert.equal(s.go.source, "file");
  assert.equal(s.go.path, MINI);
  const P = PREPARE_OUTPUTS;
  for (const f of [P.train, P.test, P.termsCsv, P.stats, BASELINE_OUTPUTS.metrics])
    assert.ok(existsSync(join(out, O.data, f)), f);
  // Hugging Face's own file names, spelt as transformers expects them.
  const model = FINETUNE_OUTPUTS.model;
  for (const f of [
    join(model, "config.json"),
    join(model, "model.safetensors"),
    join(model, "tokenizer.json"),
    join(O.pretrained, "config.json"),
  ])
    assert.ok(existsSync(join(out, f)), f);
  const lines = async (f: string) => (await readFile(join(out, O.data, f), "utf8")).trim().split("\n").length;
  const [train, test_] = [await lines(P.train), await lines(P.test)];
  // The fixture is smaller than the study's 2,000/1,000, so every protocol uses every example.
  for (const b of [s.baseline.full, s.baseline.study, s.finetune, s.study.pretrained, s.study.scratch]) {
    assert.deepEqual([b.train_examples, b.eval_examples], [train, test_]);
    assert.ok(b.accuracy >= 0 && b.accuracy <= 1 && b.macro_f1 >= 0 && b.macro_f1 <= 1);
  }
  assert.equal(s.pretrain.steps, 3);
  // No shipped model fits a split of another release: this run pre-trained its own and said why.
  assert.equal(s.pretrained.source, "pre-trained here");
  assert.match(r.stderr, /run: (no shipped model at |this split differs from the shipped model's: release)/);
  assert.equal(typeof s.baseline.full.C, "number");
  assert.match(s.baseline.full.tuning, /cross-validation on the training examples/);
  assert.deepEqual(s.study.seeds, [42, 43]);
  assert.equal(s.study.per_seed.length, 2);
  for (const k of ["pretrained", "baseline"]) assert.ok(s.study.mean[k].accuracy.sd >= 0);
  // The curve: 6 and 12 examples, then the study's size (here all 20) and the full split; 100000 dropped.
  const sizes = (m: string) =>
    s.learning_curve
      .filter((p: { model: string }) => p.model.startsWith(m))
      .map((p: { examples: number }) => p.examples);
  assert.deepEqual(sizes("pre-trained"), [6, 12, train, train]);
  assert.deepEqual(sizes("bert-tiny from scratch"), [6, 12, train]);
  assert.deepEqual(sizes("TF-IDF"), [6, 12, train, train]);
  // The error analysis lists every wrong prediction of the full fine-tune, the most confident first.
  const wrong = (await readFile(join(out, O.misclassified), "utf8"))
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  assert.equal(wrong.length, s.misclassified);
  assert.equal(wrong.length, Math.round((1 - s.finetune.accuracy) * test_));
  for (const [i, w] of wrong.entries()) {
    assert.match(w.go_id, /^GO:\d{7}$/);
    assert.notEqual(w.truth, w.predicted);
    if (i) assert.ok(w.probability <= wrong[i - 1].probability);
  }
  assert.equal(typeof s.beats_baseline, "boolean");
  assert.equal(s.document.sentences, 9, "the example document, sentence by sentence");
  assert.ok(existsSync(join(out, O.document, `abstract.${DOCUMENT_OUTPUTS.csv}`)));
  assert.match(r.stdout, /TF-IDF baseline \(C = [\d.]+\), full split/);
});

test("the report is one self-contained HTML file with every figure embedded", async () => {
  const html = await readFile(join(out, O.report), "utf8");
  assert.match(html, /^<!doctype html>/);
  for (const title of [
    "Results",
    "Data",
    "The study protocol over samples",
    "Learning curve",
    "TF-IDF baseline",
    "Error analysis",
    "Pre-training",
    "Fine-tuned model",
    "A document",
    "Time",
  ])
    assert.ok(html.includes(`<h2>${title}`), title);
  const images = html.match(/<img [^>]*src="data:image\/png;base64,[A-Za-z0-9+/=]+"/g) ?? [];
  // Four data figures, the learning curve, the confusion matrix, the pre-training loss, the training
  // curve and the document's pie.
  assert.ok(images.length >= 9, `${images.length} embedded figures`);
  assert.doesNotMatch(html, /<script|src="http|Figure not available/);
});

test("gotune run with a missing OBO file says so in one line", async () => {
  const bad = gotune(["run", "--obo", join(ROOT, "no-such.obo"), "--out", join(dir, "x")]);
  // Stage lines ("run: ...") may come first; the error itself is one line, with no stack trace.
  assertOneLineError({ ...bad, lines: bad.lines.filter((l) => !l.startsWith("run: ")) }, /no-such\.obo/);
});
