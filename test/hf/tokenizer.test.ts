import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Tokenizer as HfJsTokenizer } from "@huggingface/tokenizers";
import { BertTokenizer, truncateLongestFirst } from "../../src/hf/tokenizer.js";
import { UserError } from "../../src/util/errors.js";

// The fixture vocabulary, ids by line: 0 [PAD] 1 [UNK] 2 [CLS] 3 [SEP] 4 [MASK] 5 the 6 cell 7 ##s
// 8 mito 9 ##chon 10 ##dria 11 ##l 12 membrane 13 . 14 , 15 ( 16 ) 17 - 18 a 19 protein 20 bind
// 21 ##ing 22 cafe 23 naive 24 中 25 国 26 οδοσ 27 $ 28 + 29 ^ 30 ##a 31 x 32 ##x 33 of 34 in
// 35 ##b 36 b 37 𠀀 38 is 39 Cell 40 ##e
const FIXTURE = join(import.meta.dirname, "..", "..", "..", "test", "fixtures", "hf", "tiny-bert");

async function fromVocab(config: Record<string, unknown> = {}): Promise<BertTokenizer> {
  return BertTokenizer.fromVocab(await readFile(join(FIXTURE, "vocab.txt"), "utf8"), config);
}

const ids = (t: BertTokenizer, s: string) => t.encodeIds(s);

test("lower-casing, punctuation split, ## continuations and [UNK] for an unsplittable word", async () => {
  const t = await fromVocab();
  assert.deepEqual(t.tokenize("The cells' Mitochondrial membrane."), [
    "the",
    "cell",
    "##s",
    "[UNK]",
    "mito",
    "##chon",
    "##dria",
    "##l",
    "membrane",
    ".",
  ]);
  assert.deepEqual(ids(t, "binding"), [20, 21]);
  // "cellz": "cell" matches, but no "##z": the whole word becomes [UNK], not "cell [UNK]".
  assert.deepEqual(ids(t, "cellz zebra"), [1, 1]);
});

test("accents are stripped (NFD, drop Mn) whether precomposed or decomposed", async () => {
  const t = await fromVocab();
  assert.deepEqual(ids(t, "Café naïve"), [22, 23]);
  assert.deepEqual(ids(t, "Cafe\u0301 NAI\u0308VE"), [22, 23]);
});

test("Chinese characters are split apart, also outside the BMP", async () => {
  const t = await fromVocab();
  assert.deepEqual(ids(t, "中国protein"), [24, 25, 19]);
  assert.deepEqual(ids(t, "𠀀a"), [37, 18]);
  const noCjk = await fromVocab({ tokenize_chinese_chars: false });
  assert.deepEqual(ids(noCjk, "中国"), [1]);
});

test("ASCII symbols split as punctuation; control characters vanish; whitespace normalised", async () => {
  const t = await fromVocab();
  assert.deepEqual(ids(t, "a$b+x^x"), [18, 27, 36, 28, 31, 29, 31]);
  assert.deepEqual(ids(t, "a\u0007b x\u200bx a\u0000b"), [18, 35, 31, 32, 18, 35]);
  assert.deepEqual(ids(t, "a\tb\nx\u00a0(x)\r\n"), [18, 36, 31, 15, 31, 16]);
});

test("Greek capital sigma lowercases per character (σ, not final ς)", async () => {
  const t = await fromVocab();
  assert.deepEqual(ids(t, "ΟΔΟΣ"), [26]);
});

test("a word of over 100 characters is [UNK]; one of exactly 100 is split", async () => {
  const t = await fromVocab();
  assert.deepEqual(ids(t, "a".repeat(101)), [1]);
  const hundred = ids(t, "a".repeat(100));
  assert.equal(hundred.length, 100);
  assert.deepEqual(hundred.slice(0, 3), [18, 30, 30]);
});

test("special tokens in the text are kept whole and not lowercased", async () => {
  const t = await fromVocab();
  assert.deepEqual(ids(t, "the [MASK] cell[SEP]"), [5, 4, 6, 3]);
  assert.deepEqual(ids(t, "the [mask]"), [5, 1, 1, 1]);
});

test("cased vocabulary: no lower-casing and (strip_accents unset) no accent stripping", async () => {
  const t = await fromVocab({ do_lower_case: false });
  assert.deepEqual(ids(t, "Cell is"), [39, 38]);
  assert.deepEqual(ids(t, "The café"), [1, 1]);
  const strip = await fromVocab({ do_lower_case: false, strip_accents: true });
  assert.deepEqual(ids(strip, "Cafe\u0301"), [1]);
  assert.deepEqual(ids(strip, "cafe\u0301"), [22]);
});

test("single texts get [CLS] … [SEP], type ids 0 and a full attention mask", async () => {
  const t = await fromVocab();
  assert.deepEqual(t.encode("The cell"), {
    tokens: ["[CLS]", "the", "cell", "[SEP]"],
    input_ids: [2, 5, 6, 3],
    token_type_ids: [0, 0, 0, 0],
    attention_mask: [1, 1, 1, 1],
  });
});

test("pairs get [CLS] A [SEP] B [SEP] with type ids 1 on B", async () => {
  const t = await fromVocab();
  const e = t.encode("the cell", "a protein");
  assert.deepEqual(e.input_ids, [2, 5, 6, 3, 18, 19, 3]);
  assert.deepEqual(e.token_type_ids, [0, 0, 0, 0, 1, 1, 1]);
});

test("truncation: a single text is cut after its first max_length-2 pieces", async () => {
  const t = await fromVocab();
  assert.deepEqual(
    t.encode("the cell of the membrane", undefined, { maxLength: 5 }).input_ids,
    [2, 5, 6, 33, 3],
  );
  assert.deepEqual(t.encode("the cell", undefined, { maxLength: 5 }).input_ids, [2, 5, 6, 3]);
  assert.deepEqual(t.encode("the", undefined, { maxLength: 2 }).input_ids, [2, 3]);
  assert.throws(() => t.encode("the", undefined, { maxLength: 1 }), UserError);
});

test("truncation of pairs is longest_first", async () => {
  const t = await fromVocab();
  // Budget 7-3 = 4 for pieces [the cell] + [a protein bind ##ing]: only the longer is cut, to 2.
  assert.deepEqual(
    t.encode("the cell", "a protein binding", { maxLength: 7 }).input_ids,
    [2, 5, 6, 3, 18, 19, 3],
  );
  // Budget 8-3 = 5 for 5 + 4 pieces: both cut, to 2 and 3; the longer (first) gets the odd one.
  const e = t.encode("the cell of the membrane", "a protein binding", { maxLength: 8 });
  assert.deepEqual(e.input_ids, [2, 5, 6, 33, 3, 18, 19, 3]);
  assert.deepEqual(e.token_type_ids, [0, 0, 0, 0, 0, 1, 1, 1]);
  // Equal lengths 3+3, budget 5: first gets 2, second 3.
  assert.deepEqual(t.encode("a b x", "the cell in", { maxLength: 8 }).input_ids, [2, 18, 36, 3, 5, 6, 34, 3]);
});

test("longest_first over every pair of lengths 0, 2, 4, 8 with a budget of 7", () => {
  const seq = (n: number) => Array.from({ length: n }, (_, i) => i);
  const lens = [0, 2, 4, 8];
  // Rows: first length; columns: second length; cells: [kept of first, kept of second].
  const want = [
    [
      [0, 0],
      [0, 2],
      [0, 4],
      [0, 7],
    ],
    [
      [2, 0],
      [2, 2],
      [2, 4],
      [2, 5],
    ],
    [
      [4, 0],
      [4, 2],
      [3, 4],
      [3, 4],
    ],
    [
      [7, 0],
      [5, 2],
      [4, 3],
      [3, 4],
    ],
  ];
  lens.forEach((n1, i) => {
    lens.forEach((n2, j) => {
      const [a, b] = truncateLongestFirst(seq(n1), seq(n2), 7);
      assert.deepEqual([a.length, b!.length], want[i]![j], `${n1} + ${n2}`);
    });
  });
});

test("padding to max_length and to the longest of a batch", async () => {
  const t = await fromVocab();
  assert.deepEqual(t.encode("the cell", undefined, { maxLength: 7, padding: "max_length" }), {
    tokens: ["[CLS]", "the", "cell", "[SEP]", "[PAD]", "[PAD]", "[PAD]"],
    input_ids: [2, 5, 6, 3, 0, 0, 0],
    token_type_ids: [0, 0, 0, 0, 0, 0, 0],
    attention_mask: [1, 1, 1, 1, 0, 0, 0],
  });
  const batch = t.encodeBatch(["the cell", "a protein binding"], undefined, { padding: "longest" });
  assert.deepEqual(batch[0]!.input_ids, [2, 5, 6, 3, 0, 0]);
  assert.deepEqual(batch[0]!.attention_mask, [1, 1, 1, 1, 0, 0]);
  assert.deepEqual(batch[1]!.input_ids, [2, 18, 19, 20, 21, 3]);
});

test("tokenizer.json and vocab.txt give the same results, and the JSON round-trips", async () => {
  const a = await fromVocab();
  const dir = await mkdtemp(join(tmpdir(), "gotune-tok-"));
  await writeFile(join(dir, "tokenizer.json"), JSON.stringify(a.toJson()));
  const b = await BertTokenizer.fromFolder(dir);
  const c = await BertTokenizer.fromFolder(FIXTURE);
  for (const s of ["The cells' Mitochondrial membrane.", "中国 Café [MASK] ΟΔΟΣ", "a$b+x^x binding"]) {
    assert.deepEqual(b.encode(s, "a protein"), a.encode(s, "a protein"));
    assert.deepEqual(c.encode(s, "a protein"), a.encode(s, "a protein"));
  }
  assert.deepEqual(b.toJson(), a.toJson());
  await rm(dir, { recursive: true });
});

test("agrees with @huggingface/tokenizers on plain text (where that library follows the Rust crate)", async () => {
  const ours = await fromVocab();
  const json = ours.toJson();
  const lib = new HfJsTokenizer(json, {});
  const texts = [
    "The cells' mitochondrial membrane.",
    "binding of a protein (in the cell), cafe-naive",
    "a$b+x^x   the\tcell\nmito",
    "Café NAÏVE 中国protein",
    "the [MASK] cell",
    "a".repeat(101),
  ];
  for (const s of texts) {
    const theirs = lib.encode(s, { text_pair: "a cell", return_token_type_ids: true });
    const mine = ours.encode(s, "a cell");
    assert.deepEqual(mine.input_ids, theirs.ids, s);
    assert.deepEqual(mine.token_type_ids, theirs.token_type_ids, s);
  }
  // Where they differ, we follow the crate: per-character lowercase (σ) and CJK beyond the BMP.
  assert.notDeepEqual(lib.encode("ΟΔΟΣ", { add_special_tokens: false }).ids, ours.encodeIds("ΟΔΟΣ"));
  assert.notDeepEqual(lib.encode("𠀀a", { add_special_tokens: false }).ids, ours.encodeIds("𠀀a"));
});

test("tokenizer_config.json overrides tokenizer.json's normaliser, as BertTokenizerFast does", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-tok-"));
  const cased = (await fromVocab({ do_lower_case: false })).toJson();
  await writeFile(join(dir, "tokenizer.json"), JSON.stringify(cased));
  assert.equal(BertTokenizer.fromTokenizerJson(cased).encodeIds("Cell")[0], 39);
  // No tokenizer_config.json: transformers still applies do_lower_case=True by default.
  assert.deepEqual((await BertTokenizer.fromFolder(dir)).encodeIds("Cell"), [6]);
  await writeFile(join(dir, "tokenizer_config.json"), '{"do_lower_case": false}');
  assert.deepEqual((await BertTokenizer.fromFolder(dir)).encodeIds("Cell"), [39]);
  await rm(dir, { recursive: true });
});

test("bad input: no tokenizer files, an empty vocabulary, a corrupt tokenizer.json", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-tok-"));
  await assert.rejects(
    BertTokenizer.fromFolder(dir),
    (e: unknown) => e instanceof UserError && /no tokenizer files/.test(e.message),
  );
  await writeFile(join(dir, "vocab.txt"), "");
  await assert.rejects(
    BertTokenizer.fromFolder(dir),
    (e: unknown) => e instanceof UserError && /empty/.test(e.message),
  );
  await writeFile(join(dir, "tokenizer.json"), '{"model": {"type": "WordPiece", "vocab": {"a": 0}');
  await assert.rejects(
    BertTokenizer.fromFolder(dir),
    (e: unknown) =>
      e instanceof UserError && e.toLine().includes("tokenizer.json") && /not a valid JSON/.test(e.message),
  );
  await writeFile(join(dir, "tokenizer.json"), '{"model": {"type": "BPE", "vocab": {"a": 0}}}');
  await assert.rejects(
    BertTokenizer.fromFolder(dir),
    (e: unknown) => e instanceof UserError && /BPE/.test(e.message),
  );
  await cp(join(FIXTURE, "vocab.txt"), join(dir, "vocab.txt"));
  await rm(join(dir, "tokenizer.json"));
  assert.deepEqual((await BertTokenizer.fromFolder(dir)).encodeIds("the cell"), [5, 6]);
  await rm(dir, { recursive: true });
});

test("a real-sized vocabulary loads: 250,000 lines of vocab.txt (the largest id found without a spread call)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-tok-"));
  const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  const words = Array.from({ length: 250_000 - specials.length }, (_, i) => `w${i}`);
  await writeFile(join(dir, "vocab.txt"), `${[...specials, ...words].join("\n")}\n`);
  const t = await BertTokenizer.fromFolder(dir);
  assert.equal(t.vocabSize, 250_000);
  assert.deepEqual(t.encode("w0 w249994").input_ids, [2, 5, 249_999, 3]);
  await rm(dir, { recursive: true });
});

test("token ids must be integers in 0..2^31-1 and distinct; a FIFO or oversized file is refused unread", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-tok-"));
  const tj = (vocab: Record<string, unknown>, added: unknown[] = []) =>
    writeFile(
      join(dir, "tokenizer.json"),
      JSON.stringify({ model: { type: "WordPiece", vocab: { "[UNK]": 0, ...vocab } }, added_tokens: added }),
    );
  const refused = async (re: RegExp) =>
    assert.rejects(
      BertTokenizer.fromFolder(dir),
      (e: unknown) => e instanceof UserError && e.toLine().includes("tokenizer.json") && re.test(e.message),
    );
  for (const id of [2 ** 40, 2 ** 31, -1, 1.5, "3"]) {
    await tj({ cell: id });
    await refused(/the vocab id of "cell" is .*not an integer in 0\.\.2\^31-1/);
  }
  await tj({ cell: 2 ** 31 - 1 });
  assert.equal((await BertTokenizer.fromFolder(dir)).encodeIds("cell")[0], 2 ** 31 - 1);
  await tj({ cell: 1, cells: 1 });
  await refused(/the tokens "cell" and "cells" have the same id 1/);
  await tj({ cell: 1 }, [{ id: 2 ** 32, content: "[X]" }]);
  await refused(/added token "\[X\]" has id/);
  await rm(join(dir, "tokenizer.json"));
  execFileSync("mkfifo", [join(dir, "vocab.txt")]);
  await assert.rejects(
    BertTokenizer.fromFolder(dir),
    (e: unknown) => e instanceof UserError && /vocab\.txt.*not a regular file \(a FIFO/.test(e.toLine()),
  );
  await rm(join(dir, "vocab.txt"));
  await writeFile(join(dir, "vocab.txt"), "[UNK]\n");
  await truncate(join(dir, "vocab.txt"), 33 << 20); // sparse
  await assert.rejects(
    BertTokenizer.fromFolder(dir),
    (e: unknown) => e instanceof UserError && /larger than 32 MiB/.test(e.message),
  );
  await rm(dir, { recursive: true });
});
