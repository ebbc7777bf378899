import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadModelFolder, readModelConfig } from "../../src/hf/model-folder.js";
import { BertTokenizer } from "../../src/hf/tokenizer.js";
import { BertForMaskedLM } from "../../src/model/bert.js";
import { assertOneLineError, gotune, runAndSignal } from "../helpers/cli.js";
import { markedSplit, markersIn } from "../helpers/pretrain-fixture.js";

let dir = "";
let data = "";
// A model small enough to pre-train in seconds.
const TINY = [
  "--layers",
  "1",
  "--hidden",
  "32",
  "--heads",
  "2",
  "--intermediate",
  "64",
  "--vocab-size",
  "150",
];
const SHORT = ["--max-length", "32", "--max-positions", "64", "--batch-size", "8"];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-pretrain-"));
  data = await markedSplit(dir, 90);
});
after(() => rm(dir, { recursive: true, force: true }));

test("gotune pretrain writes a Hugging Face MLM folder that loads, with log, summary and figure", async () => {
  const out = join(dir, "mlm");
  const r = gotune(["pretrain", "--data", data, "--out", out, ...TINY, ...SHORT, "--epochs", "3"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /corpus: \d+ texts .* from 72 train terms: 72 names, 72 definitions, \d+ synonyms/);
  assert.match(r.stdout, /^pretrain: \d+ steps/);

  const raw = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
  assert.equal(raw.model_type, "bert");
  assert.deepEqual(raw.architectures, ["BertForMaskedLM"]);
  const { config } = await readModelConfig(out);
  assert.equal(config.num_hidden_layers, 1);
  assert.equal(config.hidden_size, 32);
  assert.equal(config.max_position_embeddings, 64);
  const tok = await BertTokenizer.fromFolder(out);
  assert.equal(config.vocab_size, tok.vocabSize);
  assert.ok(tok.vocabSize <= 150);
  assert.equal(config.pad_token_id, tok.padId);
  const model = new BertForMaskedLM(config, { seed: 9 });
  const report = await loadModelFolder(out, model);
  assert.deepEqual(report.initialisedFresh, [], "every bert.* and cls.predictions.* tensor is in the folder");
  assert.deepEqual(report.unused, []);
  const enc = tok.encode("the membrane complex of the nucleus");
  assert.ok(!enc.tokens.includes("[UNK]"), enc.tokens.join(" "));

  const summary = JSON.parse(await readFile(join(out, "pretrain.json"), "utf8"));
  assert.equal(summary.corpus.train_terms, 72);
  assert.equal(summary.steps.done, 3 * summary.steps.per_pass);
  assert.equal(summary.vocab_size, tok.vocabSize);
  const log = (await readFile(join(out, "pretrain_log.jsonl"), "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  assert.equal(log[0].type, "corpus");
  assert.equal(log[0].names, 72);
  const steps = log.filter((l) => l.type === "train");
  assert.equal(steps.length, summary.steps.done);
  assert.ok(steps.every((s) => Number.isFinite(s.loss)));
  assert.equal(log[log.length - 1].type, "summary");
  const png = await readFile(join(out, "figures", "pretrain_loss.png"));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);

  // The test split's terms are not in what the model learnt from: check the vocabulary's markers.
  const testIds = new Set(
    (await readFile(join(data, "test.jsonl"), "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => Number(JSON.parse(l).go_id.slice(3)) - 1000),
  );
  const vocab = await readFile(join(out, "vocab.txt"), "utf8");
  for (const k of markersIn(vocab)) assert.ok(!testIds.has(k), `test marker ${k} in the vocabulary`);

  // gotune train fine-tunes the folder.
  const ft = join(dir, "ft");
  const t = gotune([
    "train",
    "--data",
    data,
    "--model",
    out,
    "--out",
    ft,
    "--epochs",
    "1",
    "--batch-size",
    "8",
    "--max-length",
    "32",
    "--no-figures",
  ]);
  assert.equal(t.code, 0, t.stderr);
  const ftConfig = JSON.parse(await readFile(join(ft, "model", "config.json"), "utf8"));
  assert.deepEqual(ftConfig.architectures, ["BertForSequenceClassification"]);
  assert.equal(ftConfig.vocab_size, tok.vocabSize);
});

test("a time budget plans fewer steps and still saves the model", async () => {
  const out = join(dir, "budget");
  const r = gotune([
    "pretrain",
    "--data",
    data,
    "--out",
    out,
    ...TINY,
    ...SHORT,
    "--epochs",
    "500",
    "--time-budget",
    "0.05",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /time budget 0\.05 min: .* steps planned/);
  const summary = JSON.parse(await readFile(join(out, "pretrain.json"), "utf8"));
  assert.ok(summary.steps.planned < 500 * summary.steps.per_pass, JSON.stringify(summary.steps));
  assert.ok(summary.steps.done >= 1 && summary.steps.done <= summary.steps.planned);
  assert.ok(existsSync(join(out, "model.safetensors")));
  assert.ok(existsSync(join(out, "tokenizer.json")));
});

test("a run stopped by SIGTERM exits 143, keeps its checkpoint, and the same command resumes it", async () => {
  const out = join(dir, "stopped");
  const args = ["pretrain", "--data", data, "--out", out, ...TINY, ...SHORT, "--epochs", "20"];
  const t = await runAndSignal(args, join(out, "pretrain_log.jsonl"), 5, "SIGTERM");
  assert.equal(t.code, 143, t.stderr);
  const m = /run the same command again to resume from step (\d+)/.exec(t.stderr);
  assert.ok(m, t.stderr);
  const resumed = gotune(args);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`resuming from .* \\(step ${m[1]} of `));
  assert.ok(existsSync(join(out, "model.safetensors")));
});

test("--max-steps ends the run (and its schedule) early", async () => {
  const out = join(dir, "steps");
  const r = gotune([
    "pretrain",
    "--data",
    data,
    "--out",
    out,
    ...TINY,
    ...SHORT,
    "--epochs",
    "5",
    "--max-steps",
    "3",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(await readFile(join(out, "pretrain.json"), "utf8"));
  assert.equal(summary.steps.planned, 3);
  assert.equal(summary.steps.done, 3);
  const lrs = (await readFile(join(out, "pretrain_log.jsonl"), "utf8"))
    .split("\n")
    .filter((l) => l.startsWith('{"type":"train"'))
    .map((l) => JSON.parse(l).lr);
  assert.equal(lrs.length, 3);
  assert.ok(lrs[2] < lrs[1], `the learning rate decays over the 3 steps: ${lrs}`);
});

test("bad input: one line and a non-zero exit, nothing written", async () => {
  const out = join(dir, "never");
  const empty = join(dir, "empty");
  await mkdir(empty, { recursive: true });
  assertOneLineError(gotune(["pretrain", "--data", empty, "--out", out]), /no train\.jsonl.*gotune prepare/);
  assertOneLineError(
    gotune(["pretrain", "--data", data, "--out", out, "--preset", "bert-huge"]),
    /unknown --preset bert-huge/,
  );
  assertOneLineError(
    gotune(["pretrain", "--data", data, "--out", out, "--max-length", "200"]),
    /--max-length 200 must be between 3 and --max-positions 128/,
  );
  assertOneLineError(
    gotune(["pretrain", "--data", data, "--out", out, "--packing", "tight"]),
    /--packing tight/,
  );
  assertOneLineError(
    gotune(["pretrain", "--data", data, "--out", out, "--obo", join(dir, "nope.obo")]),
    /nope\.obo: no such OBO file/,
  );
  assertOneLineError(
    gotune(["pretrain", "--data", data, "--out", out, "--hidden", "30", "--heads", "4"]),
    /not a multiple/,
  );
  const bad = join(dir, "bad.jsonl");
  await writeFile(bad, '{"text": "ok"}\n{"text": 3}\n');
  assertOneLineError(
    gotune(["pretrain", "--data", data, "--out", out, "--text", bad]),
    /bad\.jsonl:2: .*`text`/,
  );
  const zero = gotune(["pretrain", "--data", data, "--out", out, "--epochs", "0"]);
  assert.notEqual(zero.code, 0);
  assert.match(zero.lines[0]!, /^gotune: option '--epochs <n>' argument '0' is invalid/); // commander's own check
  assert.ok(!existsSync(join(out, "config.json")));
});
