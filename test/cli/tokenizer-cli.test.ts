import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gotune } from "../helpers/cli.js";

const FIXTURE = join(import.meta.dirname, "..", "..", "..", "test", "fixtures", "hf", "tiny-bert");

test("tokenize --json prints one object a line with [CLS]/[SEP], type ids and mask", () => {
  const r = gotune(["tokenize", "--model", FIXTURE, "--json", "The cells.", "Café binding"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(lines, [
    {
      tokens: ["[CLS]", "the", "cell", "##s", ".", "[SEP]"],
      input_ids: [2, 5, 6, 7, 13, 3],
      token_type_ids: [0, 0, 0, 0, 0, 0],
      attention_mask: [1, 1, 1, 1, 1, 1],
    },
    {
      tokens: ["[CLS]", "cafe", "bind", "##ing", "[SEP]"],
      input_ids: [2, 22, 20, 21, 3],
      token_type_ids: [0, 0, 0, 0, 0],
      attention_mask: [1, 1, 1, 1, 1],
    },
  ]);
});

test("tokenize --pair, --max-length and --padding", () => {
  const r = gotune([
    "tokenize",
    "--model",
    FIXTURE,
    "--json",
    "--pair",
    "a protein binding",
    "--max-length",
    "7",
    "the cell",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  assert.deepEqual(e.input_ids, [2, 5, 6, 3, 18, 19, 3]);
  assert.deepEqual(e.token_type_ids, [0, 0, 0, 0, 1, 1, 1]);
  const p = JSON.parse(
    gotune(["tokenize", "--model", FIXTURE, "--json", "--max-length", "6", "--padding", "cell"]).stdout,
  );
  assert.deepEqual(p.input_ids, [2, 6, 3, 0, 0, 0]);
  assert.deepEqual(p.attention_mask, [1, 1, 1, 0, 0, 0]);
});

test("tokenize without --json prints a readable table", () => {
  const r = gotune(["tokenize", "--model", FIXTURE, "the cell"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^text 1: "the cell"\n {2}tokens +\[CLS\] +the +cell +\[SEP\]/);
  assert.match(r.stdout, /input_ids +2 +5 +6 +3/);
});

test("tokenize bad input: one line, non-zero exit, no stack trace", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-tokcli-"));
  const cases: [string[], RegExp][] = [
    [["tokenize", "--model", dir, "x"], /no tokenizer files/],
    [["tokenize", "--model", FIXTURE, "--max-length", "zero", "x"], /--max-length/],
    [["tokenize", "--model", "./no/such/folder", "x"], /no such folder/],
    [["tokenize", "--model", "acme/never-downloaded", "x"], /not in the Hugging Face cache/],
  ];
  const corrupt = await mkdtemp(join(tmpdir(), "gotune-tokcli-"));
  await writeFile(join(corrupt, "tokenizer.json"), "{ not json");
  cases.push([["tokenize", "--model", corrupt, "x"], /tokenizer\.json.*not a valid JSON/]);
  for (const [args, re] of cases) {
    const r = gotune(args, { HF_HUB_OFFLINE: "1", HF_HUB_CACHE: join(dir, "cache") });
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.match(r.stderr, /^gotune: /);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  await rm(dir, { recursive: true });
  await rm(corrupt, { recursive: true });
});
