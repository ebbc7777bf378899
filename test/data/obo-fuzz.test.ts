/**
 * Fuzzing the OBO reader and what prepare builds from it: small valid OBO files mutated with a fixed
 * seed (see test/helpers/fuzz.ts). Every case must parse or fail with one UserError line naming the
 * file; a sample runs through `gotune prepare` as well.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ancestors, buildGoGraph, roots, topByDegree } from "../../src/data/graph.js";
import { parseOboFile, readOboHeader } from "../../src/data/obo.js";
import { stratifiedSplit } from "../../src/data/split.js";
import { extractTerms, wordCountSummaries } from "../../src/data/terms.js";
import { ROOT } from "../helpers/cli.js";
import {
  assertNoFailures,
  caseIndexes,
  caseRng,
  type FuzzFailure,
  fuzzCase,
  mutateBytes,
  peakRss,
} from "../helpers/fuzz.js";
import { assertCliCase, cliCase, inPairs } from "../helpers/fuzz-cli.js";

const THIS = "dist/test/data/obo-fuzz.test.js";
const SEEDS = [
  "test/fixtures/obo/features.obo",
  "test/fixtures/obo/graph.obo",
  "test/fixtures/prepare/mini.obo",
];
let dir = "";
let seeds: Buffer[] = [];
let rss0 = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-fuzz-obo-"));
  seeds = await Promise.all(SEEDS.map((s) => readFile(join(ROOT, s))));
  rss0 = process.memoryUsage().rss;
});
after(() => rm(dir, { recursive: true, force: true }));

/** Case i's file: one of the seed files, mutated. */
function mutated(target: string, i: number): Buffer {
  const rng = caseRng(target, i);
  return mutateBytes(rng, seeds[rng.int(seeds.length)]!);
}

/** What `gotune prepare` computes from a release before it writes or draws anything. */
async function prepareInMemory(path: string): Promise<void> {
  await readOboHeader(path);
  const doc = await parseOboFile(path);
  const { terms } = extractTerms(doc, path);
  wordCountSummaries(terms);
  const graph = buildGoGraph(doc);
  for (const id of topByDegree(graph, 5)) ancestors(graph, id);
  roots(graph);
  stratifiedSplit(terms, { testSize: 0.2, seed: 1, classOf: (t) => t.label, keyOf: (t) => t.go_id });
}

test("OBO: mutated files parse (and split, and graph) or fail with one line naming the file", async () => {
  const p = join(dir, "go.obo");
  const failures: FuzzFailure[] = [];
  for (const i of caseIndexes(1000)) {
    await writeFile(p, mutated("obo", i));
    const f = await fuzzCase(i, p, () => prepareInMemory(p));
    if (f) failures.push(f);
  }
  assertNoFailures("OBO", THIS, failures);
  const grown = peakRss() - rss0;
  assert.ok(grown < 256 * 2 ** 20, `the peak resident set grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
});

test("gotune prepare on mutated OBO files: exit 0, or one line and a non-zero exit; nothing outside --out touched", async () => {
  await inPairs(caseIndexes(6), async (i) => {
    const root = join(dir, `cli-${i}`);
    await mkdir(root, { recursive: true });
    await writeFile(join(root, "go.obo"), mutated("prepare", i));
    // Figures for one case in six: drawing is the slow part, and seldom what a bad file reaches.
    const args = ["prepare", "--obo", join(root, "go.obo"), "--out", join(root, "out")];
    const r = await cliCase(root, i % 6 === 0 ? args : [...args, "--no-figures"]);
    assertCliCase(r, `prepare case ${i}`, /^gotune: (parsing|parsed|warning: |drawing|drew|writing)/);
    await rm(root, { recursive: true, force: true });
  });
});
