import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BertTokenizer } from "../../src/hf/tokenizer.js";
import { TRAIN_SPECIALS, trainWordPiece, WordCounter } from "../../src/hf/wordpiece-trainer.js";
import { Rng } from "../../src/util/rng.js";
import { gotune } from "../helpers/cli.js";

let dir = "";

function count(texts: string[], lowercase = true): Map<string, number> {
  const c = new WordCounter({ cleanText: true, handleChineseChars: true, stripAccents: null, lowercase });
  for (const t of texts) c.add(t);
  return c.counts;
}

// Sentences over a small made-up lexicon, so that words repeat and share pieces.
function corpus(n: number, seed: number): string[] {
  const rng = new Rng(seed);
  const stems = [
    "mito",
    "chondri",
    "membran",
    "protein",
    "kinas",
    "bind",
    "transport",
    "nucle",
    "cyto",
    "plasm",
  ];
  const ends = ["", "al", "e", "es", "ing", "ase", "ic", "s"];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const words: string[] = [];
    for (let k = 0; k < 6 + rng.int(6); k++)
      words.push(stems[rng.int(stems.length)]! + ends[rng.int(ends.length)]!);
    out.push(`${words.join(" ")}.`);
  }
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-tv-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("hand-worked example: specials, alphabet, ## symbols, then merges by count", () => {
  // Words ab x3, abc x1. Alphabet a b c (ids 5-7); ##b, ##c (8, 9) as met in ab then abc.
  // Pairs: (a,##b) 4, (##b,##c) 1 -> merge "ab" (10); then (ab,##c) 1 -> "abc" (11) if allowed.
  const c = count(["ab ab ab abc"]);
  assert.deepEqual(trainWordPiece(c, { vocabSize: 100, minFrequency: 1 }), [
    ...TRAIN_SPECIALS,
    "a",
    "b",
    "c",
    "##b",
    "##c",
    "ab",
    "abc",
  ]);
  assert.deepEqual(trainWordPiece(c, { vocabSize: 100, minFrequency: 2 }).slice(10), ["ab"]);
  assert.equal(trainWordPiece(c, { vocabSize: 11, minFrequency: 1 }).length, 11);
});

test("equal counts: the pair with the lower ids merges first", () => {
  // a5 b6 c7 d8 ##b9 ##d10: (a,##b) and (c,##d) both once; (5,9) < (7,10).
  const c = count(["cd ab"]);
  assert.deepEqual(trainWordPiece(c, { vocabSize: 12, minFrequency: 1 }).slice(5), [
    "a",
    "b",
    "c",
    "d",
    "##b",
    "##d",
    "ab",
  ]);
});

test("a trained vocabulary reaches its size, is deterministic and covers every training word", () => {
  const texts = corpus(400, 1);
  const a = trainWordPiece(count(texts), { vocabSize: 150, minFrequency: 2 });
  const b = trainWordPiece(count(texts), { vocabSize: 150, minFrequency: 2 });
  assert.equal(a.length, 150);
  assert.deepEqual(a, b);
  assert.equal(new Set(a).size, a.length);
  const vocab = new Map(a.map((t, i) => [t, i] as [string, number]));
  const tok = BertTokenizer.fromVocab(a.join("\n"));
  for (const t of texts) assert.ok(!tok.tokenize(t).includes("[UNK]"), t);
  // Frequent whole words are learnt as single tokens.
  assert.ok(vocab.has("protein") && vocab.has("membran"), "frequent words merged");
});

test("--no-lowercase keeps case", () => {
  assert.ok(trainWordPiece(count(["Ab ab"], false), { vocabSize: 50, minFrequency: 1 }).includes("A"));
  assert.ok(!trainWordPiece(count(["Ab ab"], true), { vocabSize: 50, minFrequency: 1 }).includes("A"));
});

test("gotune train-vocab writes files the tokenizer loads, from text and JSONL, and they round-trip", async () => {
  const texts = corpus(300, 2);
  await writeFile(join(dir, "a.txt"), `${texts.slice(0, 150).join("\n")}\n`);
  await writeFile(
    join(dir, "b.jsonl"),
    `${texts
      .slice(150)
      .map((t) => JSON.stringify({ text: t, label: 0 }))
      .join("\n")}\n`,
  );
  const out = join(dir, "tok");
  const r = gotune([
    "train-vocab",
    "--input",
    join(dir, "a.txt"),
    join(dir, "b.jsonl"),
    "--out",
    out,
    "--vocab-size",
    "120",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const vocab = (await readFile(join(out, "vocab.txt"), "utf8")).trimEnd().split("\n");
  assert.equal(vocab.length, 120);
  assert.deepEqual(vocab.slice(0, 5), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
  assert.deepEqual(vocab, trainWordPiece(count(texts), { vocabSize: 120, minFrequency: 2 }));
  const config = JSON.parse(await readFile(join(out, "tokenizer_config.json"), "utf8"));
  assert.equal(config.do_lower_case, true);
  assert.equal(config.tokenizer_class, "BertTokenizer");
  const fromJson = await BertTokenizer.fromFolder(out);
  const vocabOnly = join(dir, "vocab-only");
  await mkdir(vocabOnly);
  await copyFile(join(out, "vocab.txt"), join(vocabOnly, "vocab.txt"));
  await copyFile(join(out, "tokenizer_config.json"), join(vocabOnly, "tokenizer_config.json"));
  const fromVocab = await BertTokenizer.fromFolder(vocabOnly);
  for (const t of texts.slice(0, 20)) {
    const e = fromJson.encode(t);
    assert.deepEqual(fromVocab.encode(t), e);
    assert.ok(!e.tokens.includes("[UNK]"));
    assert.deepEqual(e.tokens.slice(1, -1).join(" ").replace(/ ##/g, ""), t.toLowerCase().replace(".", " ."));
  }
});

test("bad input to train-vocab: one line with file and line, non-zero exit", async () => {
  await writeFile(join(dir, "bad.jsonl"), '{"text": "ok"}\n{"txt": 1}\n');
  const r = gotune(["train-vocab", "--input", join(dir, "bad.jsonl"), "--out", join(dir, "x")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.jsonl:2: .*text/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  const missing = gotune(["train-vocab", "--input", join(dir, "nope.txt"), "--out", join(dir, "x")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.txt/);
  const size = gotune([
    "train-vocab",
    "--input",
    join(dir, "a.txt"),
    "--out",
    join(dir, "x"),
    "--vocab-size",
    "3",
  ]);
  assert.equal(size.code, 1);
  assert.match(size.stderr, /--vocab-size/);
});
