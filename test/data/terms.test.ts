import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { parseOboText } from "../../src/data/obo.js";
import {
  ASPECTS,
  countWords,
  extractTerms,
  labelOf,
  quantile,
  summarize,
  wordCountSummaries,
} from "../../src/data/terms.js";

const MINI = join(import.meta.dirname, "..", "..", "..", "test", "fixtures", "prepare", "mini.obo");

const CASES: [string, number][] = [
  ["", 0],
  ["— … !?", 0],
  ["Catalysis of the reaction: ATP + H2O = ADP + phosphate.", 8],
  ['The "α-helix" forms, in naïve cells', 7],
  ["Na+/K+ exchange, 5'-UTR, 3 μM.", 7],
  ["snake_case counts once; e.g. i.e.", 7],
  ["Ａｌｐｈａ 日本語 ١٢٣", 3],
];

test("countWords counts runs of letters, digits and underscore (Unicode), splitting on punctuation", () => {
  for (const [text, n] of CASES) assert.equal(countWords(text), n, JSON.stringify(text));
});

test("countWords agrees with Python's re.findall(r'\\w+') where a python3 is on PATH", (t) => {
  const code =
    "import json,re,sys\nprint(json.dumps([len(re.findall(r'\\w+', s)) for s in json.load(sys.stdin)]))";
  const r = spawnSync("python3", ["-c", code], {
    input: JSON.stringify(CASES.map((c) => c[0])),
    encoding: "utf8",
  });
  if (r.status !== 0) {
    t.skip("no working python3 on PATH");
    return;
  }
  assert.deepEqual(
    JSON.parse(r.stdout),
    CASES.map((c) => countWords(c[0])),
  );
});

test("labels are the alphabetical aspect codes", () => {
  assert.deepEqual([...ASPECTS], [...ASPECTS].sort());
  assert.equal(labelOf("biological_process"), 0);
  assert.equal(labelOf("cellular_component"), 1);
  assert.equal(labelOf("molecular_function"), 2);
  assert.equal(labelOf("external"), -1);
});

test("extractTerms keeps labelled terms in order and counts the skipped ones with file:line samples", async () => {
  const doc = parseOboText(await readFile(MINI, "utf8"), { source: "mini.obo" });
  const { terms, skipped } = extractTerms(doc, "mini.obo");
  assert.equal(terms.length, 25);
  assert.equal(skipped.noNamespace, 1);
  assert.equal(skipped.noDefinition, 1);
  assert.equal(skipped.otherNamespace, 0);
  assert.ok(
    skipped.samples.some((s) => s.startsWith("mini.obo:189: GO:0090003")),
    skipped.samples.join("\n"),
  );
  assert.ok(
    skipped.samples.some((s) => s.startsWith("mini.obo:195: GO:0090004")),
    skipped.samples.join("\n"),
  );
  assert.equal(terms[0]!.go_id, "GO:0008150");
  assert.ok(!terms.some((t) => t.go_id === "GO:0090002"), "obsolete terms are left out by default");
  for (const t of terms) {
    assert.equal(t.label, ASPECTS.indexOf(t.aspect));
    assert.equal(t.def_word_count, countWords(t.definition));
  }
  const tricky = terms.find((t) => t.go_id === "GO:0090001")!;
  assert.equal(tricky.name, 'quoting "term", with comma');
  assert.ok(tricky.definition.includes('"α-helix"') && tricky.definition.includes("\n"));
  assert.equal(tricky.def_word_count, 17);

  const kept = extractTerms(parseOboText(await readFile(MINI, "utf8"), { keepObsolete: true }), "mini.obo");
  assert.equal(kept.terms.length, 26);
});

test("quartiles interpolate linearly like numpy; summaries per aspect", () => {
  assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4], 0.75), 3.25);
  assert.deepEqual(summarize([4, 1, 3, 2]), {
    count: 4,
    min: 1,
    q1: 1.75,
    median: 2.5,
    q3: 3.25,
    mean: 2.5,
    max: 4,
  });
  assert.ok(Number.isNaN(summarize([]).median));
  const s = wordCountSummaries([
    { go_id: "a", name: "", aspect: "molecular_function", definition: "", def_word_count: 10, label: 2 },
    { go_id: "b", name: "", aspect: "molecular_function", definition: "", def_word_count: 20, label: 2 },
  ]);
  assert.equal(s.molecular_function.median, 15);
  assert.equal(s.biological_process.count, 0);
});
