import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadSplit, readExamples, takeShuffled } from "../../src/data/examples.js";
import { UserError } from "../../src/util/errors.js";

async function tmpFile(name: string, body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gotune-ex-"));
  const p = join(dir, name);
  await writeFile(p, body);
  return p;
}

/** Asserts that `p` rejects with a UserError whose line starts with FILE:LINE and mentions `what`. */
async function rejectsAt(p: Promise<unknown>, file: string, line: number, what: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`);
    const msg = e.toLine();
    assert.ok(msg.startsWith(`gotune: ${file}:${line}: `), msg);
    assert.match(msg, what);
    assert.ok(!msg.includes("\n"), "one line");
    return true;
  });
}

test("JSONL examples: label or aspect name, go_id kept, blank lines skipped", async () => {
  const p = await tmpFile(
    "a.jsonl",
    [
      '{"go_id":"GO:1","text":"A process.","aspect":"biological_process","label":0}',
      "",
      '{"text":"A part of a cell.","aspect":"cellular_component"}',
      '{"definition":"Binding to a thing.","label":2}',
    ].join("\n"),
  );
  assert.deepEqual(await readExamples(p), [
    { id: "GO:1", text: "A process.", label: 0 },
    { text: "A part of a cell.", label: 1 },
    { text: "Binding to a thing.", label: 2 },
  ]);
});

test("CSV examples with a header, quoted commas and newlines, `definition` and `aspect` columns", async () => {
  const p = await tmpFile(
    "t.csv",
    'go_id,name,aspect,definition\nGO:1,x,molecular_function,"Binding, then ""release""."\nGO:2,y,cellular_component,"Two\nlines."\n',
  );
  assert.deepEqual(await readExamples(p), [
    { id: "GO:1", text: 'Binding, then "release".', label: 2 },
    { id: "GO:2", text: "Two\nlines.", label: 1 },
  ]);
  const q = await tmpFile("l.csv", "text,label\nsome text,1\nmore text,molecular_function\n");
  assert.deepEqual(await readExamples(q), [
    { text: "some text", label: 1 },
    { text: "more text", label: 2 },
  ]);
});

test("bad examples name the file and line", async () => {
  const lines = (bad: string) => ['{"text":"ok","label":0}', "", bad].join("\n");
  let p = await tmpFile("a.jsonl", lines('{"label":1}'));
  await rejectsAt(readExamples(p), p, 3, /missing text/);
  p = await tmpFile("a.jsonl", lines('{"text":"  ","label":1}'));
  await rejectsAt(readExamples(p), p, 3, /missing text/);
  p = await tmpFile("a.jsonl", lines('{"text":"x","label":3}'));
  await rejectsAt(readExamples(p), p, 3, /label 3 is not 0, 1, 2 or an aspect's name/);
  p = await tmpFile("a.jsonl", lines('{"text":"x","label":1.5}'));
  await rejectsAt(readExamples(p), p, 3, /label 1\.5/);
  p = await tmpFile("a.jsonl", lines('{"text":"x","aspect":"biological_proces"}'));
  await rejectsAt(readExamples(p), p, 3, /unknown aspect "biological_proces"/);
  p = await tmpFile("a.jsonl", lines('{"text":"x"}'));
  await rejectsAt(readExamples(p), p, 3, /missing label/);
  p = await tmpFile("a.jsonl", lines('{"text":"x","label":0,"aspect":"molecular_function"}'));
  await rejectsAt(readExamples(p), p, 3, /disagree/);
  p = await tmpFile("a.jsonl", lines("[1,2]"));
  await rejectsAt(readExamples(p), p, 3, /not a JSON object/);
  p = await tmpFile("a.jsonl", lines("{oops"));
  await rejectsAt(readExamples(p), p, 3, /not valid JSON/);
  p = await tmpFile("b.csv", "text,label\nfine,0\nbad,7\n");
  await rejectsAt(readExamples(p), p, 3, /label "7" is not 0, 1, 2 or an aspect's name/);
  p = await tmpFile("b.csv", "text,label\nfine,0\n\nbad,cellular\n");
  await rejectsAt(readExamples(p), p, 4, /label "cellular" is not 0, 1, 2 or an aspect's name/);
  p = await tmpFile("c.csv", "words,label\nfine,0\n");
  await rejectsAt(readExamples(p), p, 1, /no `text` or `definition` column/);
  p = await tmpFile("d.csv", 'text,label\n"unterminated,0\n');
  await assert.rejects(
    readExamples(p),
    (e: unknown) => e instanceof UserError && /not readable as CSV/.test(e.message),
  );
  p = await tmpFile("e.jsonl", "\n\n");
  await assert.rejects(
    readExamples(p),
    (e: unknown) => e instanceof UserError && /no examples/.test(e.message),
  );
  await assert.rejects(readExamples(join(tmpdir(), "no-such-file.jsonl")), UserError);
});

test("loadSplit reads train and test, and a missing split says to run gotune prepare", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-split-"));
  await writeFile(join(dir, "train.jsonl"), '{"text":"a b","label":0}\n{"text":"c d","label":1}\n');
  await assert.rejects(loadSplit(dir), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.toLine(), new RegExp(`^gotune: ${dir}: no test.jsonl .*run gotune prepare`));
    return true;
  });
  await writeFile(join(dir, "test.jsonl"), '{"text":"e f","aspect":"molecular_function"}\n');
  const s = await loadSplit(dir);
  assert.equal(s.train.length, 2);
  assert.deepEqual(s.test, [{ text: "e f", label: 2 }]);
});

test("takeShuffled takes n after a seeded shuffle, the same for the same seed, without touching its input", () => {
  const xs = Array.from({ length: 50 }, (_, i) => i);
  const a = takeShuffled(xs, 10, 42);
  assert.equal(a.length, 10);
  assert.deepEqual(a, takeShuffled(xs, 10, 42));
  assert.notDeepEqual(a, takeShuffled(xs, 10, 43));
  assert.notDeepEqual(a, xs.slice(0, 10));
  assert.equal(new Set(a).size, 10);
  // A smaller n is a prefix of a larger one with the same seed, as select(range(n)) after one shuffle.
  assert.deepEqual(takeShuffled(xs, 5, 42), a.slice(0, 5));
  const all = takeShuffled(xs, 500, 42);
  assert.deepEqual(
    [...all].sort((x, y) => x - y),
    xs,
  );
  assert.deepEqual(takeShuffled(xs, undefined, 42), all);
  assert.deepEqual(
    xs,
    Array.from({ length: 50 }, (_, i) => i),
  );
});
