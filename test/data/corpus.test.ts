import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildCorpus, corpusSummary } from "../../src/data/corpus.js";
import { prepare } from "../../src/jobs/prepare.js";
import { UserError } from "../../src/util/errors.js";
import { markersIn, writeMarkedObo } from "../helpers/pretrain-fixture.js";

let dir = "";
let data = "";
let obo = "";
const N = 60;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-corpus-"));
  obo = await writeMarkedObo(dir, N);
  data = join(dir, "split");
  await prepare({
    obo,
    out: data,
    seed: 42,
    testSize: 0.25,
    keepObsolete: false,
    top: 5,
    figures: false,
    log: () => {},
  });
});
after(() => rm(dir, { recursive: true, force: true }));

const idsOf = async (file: string) =>
  new Set(
    (await readFile(join(data, file), "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => Number((JSON.parse(l) as { go_id: string }).go_id.slice(3)) - 1000),
  );

test("the corpus holds the train terms' names, definitions, synonyms and comments, and nothing of a test term", async () => {
  const train = await idsOf("train.jsonl");
  const testIds = await idsOf("test.jsonl");
  assert.equal(train.size + testIds.size, N);
  assert.ok(testIds.size >= 10);
  const corpus = await buildCorpus({ dataDir: data }); // the OBO release recorded in stats.json
  const seen = { m: new Set<number>(), d: new Set<number>(), s: new Set<string>(), c: new Set<number>() };
  for (const t of corpus.texts) {
    for (const k of markersIn(t)) assert.ok(!testIds.has(k), `test term ${k} leaked into the corpus: ${t}`);
    for (const m of t.matchAll(/([mdsc])k(\d+)q(\d*)/g)) {
      if (m[1] === "c") seen.c.add(Number(m[2]));
      if (m[1] === "m") seen.m.add(Number(m[2]));
      if (m[1] === "d") seen.d.add(Number(m[2]));
      if (m[1] === "s") seen.s.add(`${m[2]}.${m[3]}`);
    }
  }
  assert.deepEqual([...seen.m].sort(), [...train].sort(), "every train name");
  assert.deepEqual([...seen.d].sort(), [...train].sort(), "every train definition");
  // Term i has i % 3 synonyms.
  const wantSyn = [...train].flatMap((i) => Array.from({ length: i % 3 }, (_, j) => `${i}.${j}`));
  assert.deepEqual([...seen.s].sort(), wantSyn.sort(), "every train synonym");
  // Every fourth term has a comment.
  const wantComments = [...train].filter((i) => i % 4 === 0);
  assert.deepEqual([...seen.c].sort(), wantComments.sort(), "every train comment");
  const c = corpus.counts;
  assert.equal(c.train_terms, train.size);
  assert.equal(c.terms_found_in_obo, train.size);
  assert.equal(c.names, train.size);
  assert.equal(c.definitions, train.size);
  assert.equal(c.synonyms, wantSyn.length);
  assert.equal(c.comments, wantComments.length);
  assert.equal(c.texts, corpus.texts.length);
  assert.equal(c.obo, obo);
  assert.match(corpusSummary(c), new RegExp(`${c.synonyms} synonyms`));
});

test("without synonyms, and with extra text files (plain lines and JSONL)", async () => {
  const plain = join(dir, "extra.txt");
  const jsonl = join(dir, "extra.jsonl");
  await writeFile(plain, "first extra line\n\n  second extra line  \n");
  await writeFile(jsonl, '{"text": "a jsonl text"}\n\n{"text": "first extra line", "other": 1}\n');
  const corpus = await buildCorpus({ dataDir: data, obo: null, textFiles: [plain, jsonl] });
  assert.equal(corpus.counts.synonyms, 0);
  assert.equal(corpus.counts.obo, null);
  assert.equal(corpus.counts.extra_texts, 3);
  assert.equal(corpus.counts.duplicates_dropped, 1);
  assert.deepEqual(corpus.texts.slice(-3), ["first extra line", "second extra line", "a jsonl text"]);
  assert.ok(!corpus.texts.some((t) => /sk\d+q/.test(t)));
});

test("bad input: one clear UserError naming the file (and line)", async () => {
  const bad = join(dir, "bad.jsonl");
  await writeFile(bad, '{"text": "fine"}\n{"txt": "no text field"}\n');
  await assert.rejects(
    buildCorpus({ dataDir: data, obo: null, textFiles: [bad] }),
    (e: unknown) => e instanceof UserError && e.where.file === bad && e.where.line === 2,
  );
  await writeFile(bad, "{not json\n");
  await assert.rejects(
    buildCorpus({ dataDir: data, obo: null, textFiles: [bad] }),
    (e: unknown) => e instanceof UserError && e.where.line === 1 && /not valid JSON/.test(e.message),
  );
  await assert.rejects(
    buildCorpus({ dataDir: dir }),
    (e: unknown) =>
      e instanceof UserError && /no train\.jsonl/.test(e.message) && /gotune prepare/.test(e.hint!),
  );
  await assert.rejects(
    buildCorpus({ dataDir: data, obo: join(dir, "missing.obo") }),
    (e: unknown) => e instanceof UserError && /no such OBO file/.test(e.message),
  );
  // A folder whose recorded release has gone: say so, and how to give one.
  const moved = join(dir, "moved");
  await prepare({
    obo,
    out: moved,
    seed: 1,
    testSize: 0.25,
    keepObsolete: false,
    top: 5,
    figures: false,
    log: () => {},
  });
  const stats = JSON.parse(await readFile(join(moved, "stats.json"), "utf8"));
  stats.source.file = join(dir, "gone.obo");
  await writeFile(join(moved, "stats.json"), JSON.stringify(stats));
  await assert.rejects(
    buildCorpus({ dataDir: moved }),
    (e: unknown) => e instanceof UserError && /is gone/.test(e.message) && /--obo/.test(e.hint!),
  );
});
