import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { codeUnitIndex, craftArticles, readCraft } from "../../src/data/craft.js";
import { UserError } from "../../src/util/errors.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-craft-"));
});
after(() => rm(dir, { recursive: true, force: true }));

let n = 0;
async function gz(lines: unknown[]): Promise<string> {
  const file = join(dir, `craft-${++n}.jsonl.gz`);
  await writeFile(
    file,
    gzipSync(lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n")),
  );
  return file;
}

// "α" is one code unit, "𝛂" (U+1D6C2) two: code-point offsets past it differ from JS string indexes.
const TEXT = "𝛂 cells divide. Nothing here. The nucleus binds ATP.";
const ARTICLE = {
  pmid: "123",
  split: "train",
  text: TEXT,
  sentences: [
    [0, 15],
    [16, 29],
    [30, 52],
  ],
  mentions: [
    {
      spans: [[8, 14]],
      text: "divide",
      aspect: "biological_process",
      go_id: "GO:0051301",
      go_name: "cell division",
    },
    {
      spans: [[34, 41]],
      text: "nucleus",
      aspect: "cellular_component",
      go_id: "GO:0005634",
      go_name: "nucleus",
    },
    {
      spans: [
        [42, 47],
        [48, 51],
      ],
      text: "binds ... ATP",
      aspect: "molecular_function",
      go_id: "GO:0005524",
      go_name: "ATP binding",
    },
  ],
};

test("codeUnitIndex maps code points to UTF-16 indexes", () => {
  assert.deepEqual([...codeUnitIndex("a𝛂b")], [0, 1, 3, 4]);
  assert.deepEqual([...codeUnitIndex("")], [0]);
  // A lone surrogate is one code point, as Python counts it.
  assert.deepEqual([...codeUnitIndex("\ud800x")], [0, 1, 2]);
});

test("an article reads into sentences (code-point offsets) with their aspect sets, and mentions", async () => {
  const [a] = await readCraft({ file: await gz([ARTICLE]) });
  assert.equal(a.pmid, "123");
  assert.equal(a.split, "train");
  assert.deepEqual(
    a.sentences.map((s) => s.text),
    ["𝛂 cells divide.", "Nothing here.", "The nucleus binds ATP."],
  );
  assert.deepEqual(
    a.sentences.map((s) => s.aspects),
    [["biological_process"], [], ["cellular_component", "molecular_function"]],
  );
  assert.deepEqual(
    a.sentences.map((s) => s.mentions),
    [[0], [], [1, 2]],
  );
  assert.deepEqual(
    a.mentions.map((m) => m.sentence),
    [0, 2, 2],
  );
  assert.deepEqual(a.mentions[2].spans, [
    [42, 47],
    [48, 51],
  ]);
  const u = codeUnitIndex(a.text);
  assert.equal(a.text.slice(u[8], u[14]), "divide");
});

test("splits filter, and the stream yields articles one by one", async () => {
  const file = await gz([ARTICLE, { ...ARTICLE, pmid: "456", split: "dev" }, ""]);
  assert.deepEqual(
    (await readCraft({ file, splits: ["dev"] })).map((a) => a.pmid),
    ["456"],
  );
  const seen: string[] = [];
  for await (const a of craftArticles({ file })) seen.push(a.pmid);
  assert.deepEqual(seen, ["123", "456"]);
});

test("a mention spanning two sentences counts in both; one between sentences in none", async () => {
  const [a] = await readCraft({
    file: await gz([
      {
        ...ARTICLE,
        mentions: [
          { spans: [[8, 20]], text: "x", aspect: "biological_process", go_id: "GO:0000001", go_name: "x" },
          { spans: [[15, 16]], text: " ", aspect: "molecular_function", go_id: "GO:0000002", go_name: "y" },
        ],
      },
    ]),
  });
  assert.deepEqual(
    a.sentences.map((s) => s.aspects),
    [["biological_process"], ["biological_process"], []],
  );
  assert.deepEqual(
    a.mentions.map((m) => m.sentence),
    [0, -1],
  );
});

test("the vendored file reads: 60 train and 7 dev articles, the counts of its README", async () => {
  const articles = await readCraft();
  assert.equal(articles.filter((a) => a.split === "train").length, 60);
  assert.equal(articles.filter((a) => a.split === "dev").length, 7);
  const sentences = articles.flatMap((a) => a.sentences);
  assert.equal(sentences.length, 21727);
  assert.equal(sentences.filter((s) => s.aspects.length === 1).length, 7166);
  assert.equal(sentences.filter((s) => s.aspects.length > 1).length, 1091);
  const mentions = articles.flatMap((a) => a.mentions);
  assert.equal(mentions.length, 13730);
  // Every single-span mention's text is what its offsets cut from the article.
  for (const a of articles) {
    const u = codeUnitIndex(a.text);
    for (const m of a.mentions)
      if (m.spans.length === 1) assert.equal(a.text.slice(u[m.spans[0][0]], u[m.spans[0][1]]), m.text);
  }
});

const bad: [string, unknown, RegExp][] = [
  ["not JSON", "{oops", /:1: this line is not valid JSON/],
  ["unknown split", { ...ARTICLE, split: "test" }, /split "test" is not one of train, dev/],
  [
    "a sentence past the text",
    { ...ARTICLE, sentences: [[0, 53]] },
    /sentence 1 \[0, 53\] is not a \[start, end\] range within its 52 code points/,
  ],
  ["a negative offset", { ...ARTICLE, sentences: [[-1, 3]] }, /sentence 1/],
  ["a fractional offset", { ...ARTICLE, sentences: [[0.5, 3]] }, /sentence 1/],
  ["reversed", { ...ARTICLE, sentences: [[5, 3]] }, /sentence 1/],
  [
    "overlapping sentences",
    {
      ...ARTICLE,
      sentences: [
        [0, 15],
        [10, 20],
      ],
    },
    /sentence 2 starts before the previous one ends/,
  ],
  [
    "an unknown aspect",
    { ...ARTICLE, mentions: [{ ...ARTICLE.mentions[0], aspect: "phenotype" }] },
    /mention 1's aspect "phenotype" is not one of/,
  ],
  [
    "a bad GO id",
    { ...ARTICLE, mentions: [{ ...ARTICLE.mentions[0], go_id: "../x" }] },
    /go_id "..\/x" is not a GO id/,
  ],
  [
    "no spans",
    { ...ARTICLE, mentions: [{ ...ARTICLE.mentions[0], spans: [] }] },
    /mention 1 has no list of spans/,
  ],
  [
    "a span past the text",
    { ...ARTICLE, mentions: [{ ...ARTICLE.mentions[0], spans: [[50, 99]] }] },
    /mention 1's span \[50, 99\]/,
  ],
  ["a pmid that is no id", { ...ARTICLE, pmid: "../../etc" }, /pmid "..\/..\/etc" is not a PubMed id/],
  ["no text", { ...ARTICLE, text: 3 }, /has no string text/],
];
for (const [what, line, re] of bad)
  test(`a hostile line is one clear error: ${what}`, async () => {
    const file = await gz([line]);
    await assert.rejects(readCraft({ file }), (e: unknown) => e instanceof UserError && re.test(e.toLine()));
  });

test("a repeated article, a file that is not gzip, and a missing file are one clear error each", async () => {
  await assert.rejects(
    readCraft({ file: await gz([ARTICLE, ARTICLE]) }),
    (e: unknown) => e instanceof UserError && /:2: article 123 appears twice/.test(e.toLine()),
  );
  const plain = join(dir, "plain.jsonl.gz");
  await writeFile(plain, JSON.stringify(ARTICLE));
  await assert.rejects(
    readCraft({ file: plain }),
    (e: unknown) => e instanceof UserError && /is not a readable gzip file/.test(e.toLine()),
  );
  await assert.rejects(readCraft({ file: join(dir, "none.gz") }), UserError);
});
