import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { Classifier } from "../../src/inference/classifier.js";
import { ARTICLES_OUTPUTS } from "../../src/jobs/articles.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { assertOneLineError, gotune } from "../helpers/cli.js";

let dir = "";
let craft = "";
let model = "";

// Words of the tiny fixture vocabulary, so the tiny model sees tokens and not [UNK] alone.
const SENTENCES: [string, string[]][] = [
  ["the mitochondrial membrane of a cell.", ["cellular_component"]],
  ["protein binding in the nucleus.", ["cellular_component", "molecular_function"]],
  ["a cell.", []],
  ["catalysis of atp hydrolysis.", ["molecular_function"]],
];

/** An article of the four sentences, each aspect marked by a mention over its first word. */
function article(pmid: string, split: string) {
  let text = "";
  const sentences: [number, number][] = [];
  const mentions: unknown[] = [];
  for (const [s, aspects] of SENTENCES) {
    const start = text.length;
    text += `${s} `;
    sentences.push([start, start + s.length]);
    for (const aspect of aspects)
      mentions.push({
        spans: [[start, start + 3]],
        text: s.slice(0, 3),
        aspect,
        go_id: "GO:0000001",
        go_name: "x",
      });
  }
  return { pmid, split, text, sentences, mentions };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-articles-"));
  craft = join(dir, "craft.jsonl.gz");
  const lines = [
    ...["1", "2", "3", "4"].map((p) => article(p, "train")),
    article("5", "dev"),
    article("6", "dev"),
  ];
  await writeFile(craft, gzipSync(lines.map((l) => JSON.stringify(l)).join("\n")));
  model = join(dir, "start");
  await writeTinyModel(model);
});
after(() => rm(dir, { recursive: true, force: true }));

test("articles: a multi-label model trained on train articles, thresholds from held-out ones, dev scored", async () => {
  const out = join(dir, "run");
  const r = gotune([
    "articles",
    "--craft",
    craft,
    "--model",
    model,
    "--out",
    out,
    "--held-out",
    "1",
    "--max-length",
    "32",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /training on 12 sentences of 3 CRAFT train articles; thresholds on 4 sentences of 1 held-out/,
  );
  const res = JSON.parse(r.stdout);
  assert.deepEqual(res.counts, {
    train_articles: 3,
    held_out_articles: 1,
    dev_articles: 2,
    train_sentences: 12,
    go_examples: 0,
    dev_sentences: 8,
  });
  assert.equal(res.dev.sentences, 8);
  assert.equal(res.dev.single_label, 4);
  assert.deepEqual(Object.keys(res.dev.per_label), [
    "biological_process",
    "cellular_component",
    "molecular_function",
    "none",
  ]);
  assert.equal(res.dev.per_label.none.support, 2);
  const cfg = JSON.parse(await readFile(join(out, ARTICLES_OUTPUTS.model, "config.json"), "utf8"));
  assert.equal(cfg.problem_type, "multi_label_classification");
  assert.deepEqual(cfg.label_thresholds, res.dev.thresholds);
  const clf = await Classifier.load(join(out, ARTICLES_OUTPUTS.model));
  assert.ok(clf.multiLabel);
  const saved = JSON.parse(await readFile(join(out, ARTICLES_OUTPUTS.metrics), "utf8"));
  assert.deepEqual(saved.dev, res.dev);
  const wrong = (await readFile(join(out, ARTICLES_OUTPUTS.wrong), "utf8")).split("\n").filter(Boolean);
  for (const w of wrong.map((l) => JSON.parse(l))) {
    assert.ok(["5", "6"].includes(w.pmid), "only dev sentences are listed");
    assert.notDeepEqual(w.gold, w.predicted);
  }
});

test("articles: --help, and bad input is one clear line", async () => {
  const h = gotune(["articles", "--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--held-out/);
  assertOneLineError(
    gotune(["articles", "--craft", craft, "--model", model, "--out", join(dir, "x"), "--held-out", "4"]),
    /--held-out 4 leaves no train article to train on \(4\)/,
  );
  const bad = join(dir, "bad.jsonl.gz");
  await writeFile(bad, gzipSync(JSON.stringify({ ...article("7", "test") })));
  assertOneLineError(
    gotune(["articles", "--craft", bad, "--model", model, "--out", join(dir, "y")]),
    /bad\.jsonl\.gz:1: article 7: split "test" is not one of train, dev/,
  );
});
