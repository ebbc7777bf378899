import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SPLIT_FILES } from "../../src/data/examples.js";
import { saveModelFolder } from "../../src/hf/model-folder.js";
import { BertTokenizer } from "../../src/hf/tokenizer.js";
import { writeTokenizerFiles } from "../../src/hf/tokenizer-files.js";
import { Classifier } from "../../src/inference/classifier.js";
import { FINETUNE_OUTPUTS as F } from "../../src/jobs/finetune.js";
import { BertForMaskedLM, BertForSequenceClassification } from "../../src/model/bert.js";
import { makeConfig } from "../../src/model/config.js";
import { Rng } from "../../src/util/rng.js";
import { assertOneLineError, gotune, runAndSignal } from "../helpers/cli.js";

const ASPECTS = ["biological_process", "cellular_component", "molecular_function"];
const CUES = [
  ["process", "regulation", "pathway", "signaling", "development"],
  ["membrane", "complex", "organelle", "nucleus", "vesicle"],
  ["activity", "binding", "catalysis", "transporter", "kinase"],
];
const FILLER = ["the", "of", "a", "cell", "protein", "that", "in", "to", "any", "and", "which", "by"];

/** GO-like definitions: filler words with two cue words of the aspect. */
async function writeSplit(dir: string, nTrain: number, nTest: number): Promise<void> {
  const rng = new Rng(2);
  const line = (i: number) => {
    const label = rng.int(3);
    const words = Array.from({ length: 4 + rng.int(20) }, () => FILLER[rng.int(FILLER.length)]!);
    for (let k = 0; k < 2; k++) words.splice(rng.int(words.length), 0, CUES[label]![rng.int(5)]!);
    return JSON.stringify({ go_id: `GO:${String(i).padStart(7, "0")}`, text: words.join(" "), label });
  };
  await mkdir(dir, { recursive: true });
  let i = 0;
  const lines = (n: number) => `${Array.from({ length: n }, () => line(i++)).join("\n")}\n`;
  await writeFile(join(dir, SPLIT_FILES.train), lines(nTrain));
  await writeFile(join(dir, SPLIT_FILES.test), lines(nTest));
}

let root: string;
let data: string;
const common = () => ["--data", data, "--model", "bert-tiny", "--vocab-size", "200", "--lr", "2e-3"];

before(async () => {
  root = await mkdtemp(join(tmpdir(), "gotune-train-cli-"));
  data = join(root, "data");
  await writeSplit(data, 400, 90);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test("gotune train: one epoch of a tiny preset writes the model, checkpoint, eval JSON, log and figure", async () => {
  const out = join(root, "one");
  const r = gotune(["train", ...common(), "--out", out, "--epochs", "1", "--batch-size", "16"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /trained on 400 examples, 25 steps/);
  assert.match(r.stdout, /evaluation on 90 examples: accuracy /);
  const names = new Set(await readdir(out));
  for (const f of ["checkpoint-25", F.model, F.evalEpoch(1), F.log, F.curvePng, F.curveSvg])
    assert.ok(names.has(f), `OUT lacks ${f}`);
  const ev = JSON.parse(await readFile(join(out, F.evalEpoch(1)), "utf8"));
  assert.equal(ev.epoch, 1);
  assert.equal(ev.step, 25);
  assert.equal(ev.eval_examples, 90);
  assert.ok(ev.accuracy > 0.6, `accuracy ${ev.accuracy}`);
  assert.equal(typeof ev.macro_f1, "number");
  assert.deepEqual(Object.keys(ev.per_class), ASPECTS);
  for (const c of ASPECTS)
    for (const k of ["precision", "recall", "f1", "support"])
      assert.equal(typeof ev.per_class[c][k], "number");
  assert.equal(ev.confusion_matrix.length, 3);
  assert.equal(
    ev.confusion_matrix.flat().reduce((a: number, b: number) => a + b, 0),
    90,
  );
  assert.deepEqual(Object.keys(ev.roc_auc), [...ASPECTS, "macro"]);
  const log = (await readFile(join(out, F.log), "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(log.filter((l) => l.type === "train").length, 25);
  const evalLine = log.find((l) => l.type === "eval");
  assert.equal(evalLine.accuracy, ev.accuracy);
  assert.deepEqual(evalLine.confusion_matrix, ev.confusion_matrix);
  for (const dir of [join(out, F.model), join(out, "checkpoint-25")]) {
    const files = new Set(await readdir(dir));
    for (const f of [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "vocab.txt",
      "tokenizer_config.json",
      "special_tokens_map.json",
    ])
      assert.ok(files.has(f), `${dir} lacks ${f}`);
  }
  const config = JSON.parse(await readFile(join(out, F.model, "config.json"), "utf8"));
  assert.equal(config.model_type, "bert");
  assert.deepEqual(config.architectures, ["BertForSequenceClassification"]);
  assert.deepEqual(config.id2label, { 0: ASPECTS[0], 1: ASPECTS[1], 2: ASPECTS[2] });
  assert.deepEqual(config.label2id, { [ASPECTS[0]!]: 0, [ASPECTS[1]!]: 1, [ASPECTS[2]!]: 2 });
  assert.equal(config.hidden_size, 128);
  // The model folder is a working classifier with the vocabulary learnt from the train split.
  const clf = await Classifier.load(join(out, F.model));
  assert.ok(clf.tokenizer.vocabSize <= 200 && clf.tokenizer.vocabSize > 30);
  assert.ok(clf.tokenizer.tokenize("membrane regulation").every((t) => t !== "[UNK]"));
  const png = await readFile(join(out, F.curvePng));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);

  // The same command again finds the finished run's checkpoint and only rewrites the model.
  const again = gotune(["train", ...common(), "--out", out, "--epochs", "1", "--batch-size", "16"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /resuming from .*checkpoint-25 \(step 25 of 25\)/);
  const before = await readFile(join(out, "checkpoint-25", "model.safetensors"));
  assert.deepEqual(await readFile(join(out, F.model, "model.safetensors")), before);
});

test("an interrupted train (SIGTERM, then kill -9) resumes from its last whole checkpoint to the same model", async () => {
  // Evaluation after the last epoch only, so the first epoch's end is a bare checkpoint.
  const args = (out: string) => [
    "train",
    ...common(),
    "--out",
    out,
    "--epochs",
    "2",
    "--group-by-length",
    "--eval-strategy",
    "end",
    // 100 steps an epoch: room for the signals to land mid-run on a busy machine.
    "--batch-size",
    "4",
  ];
  const straight = join(root, "straight");
  const r = gotune(args(straight));
  assert.equal(r.code, 0, r.stderr);

  const out = join(root, "stopped");
  // SIGTERM: the run finishes its step, writes a checkpoint and says how to resume.
  const t = await runAndSignal(args(out), join(out, F.log), 10, "SIGTERM");
  assert.equal(t.code, 143, t.stderr);
  const m = /stopped at step (\d+) of 200; checkpoint (\S+);/.exec(t.stderr);
  assert.ok(m, t.stderr);
  const k = Number(m[1]);
  assert.ok(k >= 10 && k < 100, `stopped at ${k}`);
  assert.ok(existsSync(join(out, `checkpoint-${k}`, "trainer_state.json")));
  assert.ok(!existsSync(join(out, F.model)), "no final model from an interrupted run");

  // kill -9 in epoch 2, after the epoch-1 checkpoint: nothing runs on the way out.
  const kill = await runAndSignal(args(out), join(out, F.log), 120, "SIGKILL");
  assert.equal(kill.sig, "SIGKILL");
  assert.match(kill.stderr, new RegExp(`resuming from .*checkpoint-${k} \\(step ${k} of 200\\)`));
  assert.ok(existsSync(join(out, "checkpoint-100", "trainer_state.json")));

  const done = gotune(args(out));
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stderr, /resuming from .*checkpoint-100 \(step 100 of 200\)/);
  assert.deepEqual(
    await readFile(join(out, F.model, "model.safetensors")),
    await readFile(join(straight, F.model, "model.safetensors")),
    "the resumed run's weights equal the uninterrupted run's",
  );
  const steps = (await readFile(join(out, F.log), "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === "train")
    .map((l) => l.step);
  assert.deepEqual(
    steps,
    Array.from({ length: 200 }, (_, i) => i + 1),
  );
  assert.equal((await readdir(out)).filter((n) => n.startsWith(".")).length, 0, "no temporary folder left");
  assert.ok(!existsSync(join(out, F.evalEpoch(1))) && existsSync(join(out, F.evalEpoch(2))));
});

test("gotune train from a hub id whose snapshot is a masked-LM checkpoint: encoder loaded, head fresh", async () => {
  const cache = join(root, "hub");
  const snap = join(cache, "models--acme--go-mlm", "snapshots", "0123456789abcdef0123456789abcdef01234567");
  await mkdir(join(cache, "models--acme--go-mlm", "refs"), { recursive: true });
  await writeFile(
    join(cache, "models--acme--go-mlm", "refs", "main"),
    "0123456789abcdef0123456789abcdef01234567",
  );
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...FILLER, ...CUES.flat()];
  const tok = BertTokenizer.fromVocab(`${vocab.join("\n")}\n`);
  const mlm = new BertForMaskedLM(
    makeConfig({
      vocab_size: vocab.length,
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 64,
      max_position_embeddings: 128,
    }),
    { seed: 3 },
  );
  await saveModelFolder(snap, mlm);
  await writeTokenizerFiles(snap, tok);
  const out = join(root, "from-hub");
  const r = gotune(
    [
      "train",
      "--data",
      data,
      "--model",
      "acme/go-mlm",
      "--out",
      out,
      "--epochs",
      "1",
      "--lr",
      "2e-3",
      "--no-figures",
    ],
    { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1" },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /initialised fresh \(not in the checkpoint\): .*classifier/);
  assert.match(r.stderr, /not used from the checkpoint: cls\.predictions/);
  const clf = await Classifier.load(join(out, F.model));
  assert.deepEqual(clf.labels, ASPECTS);
  assert.equal(clf.model.config.hidden_size, 32);
  assert.equal(clf.tokenizer.vocabSize, vocab.length);
  // The encoder started from the checkpoint: its word embeddings moved from there, not from a new draw.
  const start = mlm.params().find((p) => p.name === "bert.embeddings.word_embeddings.weight")!.data;
  const end = clf.model.params().find((p) => p.name === "bert.embeddings.word_embeddings.weight")!.data;
  let moved = 0;
  for (let i = 0; i < start.length; i++) moved = Math.max(moved, Math.abs(start[i]! - end[i]!));
  assert.ok(moved > 0 && moved < 0.2, `word embeddings moved by up to ${moved}`);
});

test("gotune train: bad input is one clear line", async () => {
  const out = join(root, "bad");
  const empty = join(root, "empty");
  await mkdir(empty, { recursive: true });
  assertOneLineError(
    gotune(["train", "--data", empty, "--model", "bert-tiny", "--out", out]),
    /no train\.jsonl in this folder/,
  );
  assertOneLineError(
    gotune(["train", ...common(), "--out", out, "--epochs", "0"]),
    /option '--epochs <n>' argument '0' is invalid\. give a whole number of at least 1/,
  );
  assertOneLineError(
    gotune(["train", ...common(), "--out", out, "--eval-strategy", "steps"]),
    /option '--eval-strategy <when>' argument 'steps' is invalid\. give one of epoch, end/,
  );
  assertOneLineError(
    gotune(["train", "--data", data, "--model", "bert-huge", "--out", out], {
      HF_HUB_OFFLINE: "1",
      HF_HUB_CACHE: empty,
    }),
    /bert-huge is not a model folder or a size preset \(.*bert-tiny.*\), and as a hub id: .*HF_HUB_OFFLINE/,
  );
  // A model folder without weights.
  const noWeights = join(root, "no-weights");
  await mkdir(noWeights, { recursive: true });
  await writeFile(
    join(noWeights, "config.json"),
    JSON.stringify({ model_type: "bert", hidden_size: 16, num_attention_heads: 2 }),
  );
  await writeFile(join(noWeights, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n");
  assertOneLineError(
    gotune(["train", "--data", data, "--model", noWeights, "--out", out]),
    /no weights in the model folder/,
  );
  // A classifier trained on other labels.
  const other = join(root, "other-labels");
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...FILLER];
  const tok = BertTokenizer.fromVocab(`${vocab.join("\n")}\n`);
  const config = makeConfig({
    vocab_size: vocab.length,
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 128,
  });
  await new Classifier(new BertForSequenceClassification(config, { numLabels: 2 }), tok, [
    "positive",
    "negative",
  ]).save(other);
  assertOneLineError(
    gotune(["train", "--data", data, "--model", other, "--out", out]),
    /config\.json: the data has label \w+ but the model's classifier knows only positive, negative/,
  );
  // A model folder without its tokenizer files.
  const noTokenizer = join(root, "no-tokenizer");
  await mkdir(noTokenizer, { recursive: true });
  for (const f of ["config.json", "model.safetensors"])
    await writeFile(join(noTokenizer, f), await readFile(join(other, f)));
  assertOneLineError(
    gotune(["train", "--data", data, "--model", noTokenizer, "--out", out]),
    /no-tokenizer: no tokenizer files/,
  );
  assert.ok(!existsSync(join(out, F.model)));
});

test("train saves its --max-length with the model (model_max_length) and inference truncates to it by default", async () => {
  const out = join(root, "short");
  const r = gotune(["train", ...common(), "--out", out, "--epochs", "1", "--max-length", "8"]);
  assert.equal(r.code, 0, r.stderr);
  const model = join(out, F.model);
  const tc = JSON.parse(await readFile(join(model, "tokenizer_config.json"), "utf8"));
  assert.equal(tc.model_max_length, 8);
  assert.equal((await Classifier.load(model)).maxLength, 8);
  // A text far longer than 8 tokens: the default reads what --max-length 8 reads, not what 100 reads.
  const text = `${"the cell of the protein in a cell that ".repeat(4)}membrane complex nucleus vesicle`;
  const predict = (...extra: string[]) => {
    const p = gotune(["predict", "--model", model, "--json", ...extra, text]);
    assert.equal(p.code, 0, p.stderr);
    return p.stdout;
  };
  assert.equal(predict(), predict("--max-length", "8"));
  assert.notEqual(predict(), predict("--max-length", "100"));
});
