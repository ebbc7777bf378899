import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildLexicon, LEXICON_FILE, writeLexicon } from "../../src/baseline/lexicon.js";
import { assertOneLineError, gotune } from "../helpers/cli.js";
import { writeLinkerObo } from "../helpers/linker.js";

let dir: string;
let obo: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-search-"));
  obo = await writeLinkerObo(dir);
});
after(() => rm(dir, { recursive: true, force: true }));

test("search ranks a release's terms for each text, with the CRAFT train mentions as aliases", () => {
  const r = gotune(["search", "--obo", obo, "--top", "2", "--json", "nucleoli", "DNA repair"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.text),
    ["nucleoli", "DNA repair"],
  );
  assert.equal(lines[0].candidates.length, 2);
  assert.deepEqual(Object.keys(lines[0].candidates[0]).sort(), [
    "aspect",
    "definition",
    "go_id",
    "matched",
    "name",
    "score",
    "via",
  ]);
  assert.equal(lines[0].candidates[0].go_id, "GO:0005730");
  assert.equal(lines[0].candidates[0].via, "alias");
  assert.equal(lines[1].candidates[0].go_id, "GO:0006281");
  const plain = gotune(["search", "--obo", obo, "--no-aliases", "nucleoli"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^ {2}1\. GO:0005730 nucleolus \(cellular_component\) 0\.\d{3}, by name$/m);
  assert.match(plain.stdout, /^ {5}A small, dense body/m);
});

test("search --model reads a tagger folder's lexicon; bad input is one line", async () => {
  const model = join(dir, "tagger");
  await mkdir(model);
  await writeLexicon(join(model, LEXICON_FILE), await buildLexicon({ obo }));
  const r = gotune(["search", "--model", model, "--json", "cell nucleus"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).candidates[0].go_id, "GO:0005634");
  assertOneLineError(gotune(["search", "--obo", obo]), /no text to search for/);
  assertOneLineError(gotune(["search", "--top", "0", "x"]), /--top/);
  assertOneLineError(gotune(["search", "--model", model, "--obo", obo, "x"]), /not both/);
  assertOneLineError(gotune(["search", "--model", join(dir, "nowhere"), "x"]), /no such file/);
  await writeFile(join(model, LEXICON_FILE), "{}");
  assertOneLineError(
    gotune(["search", "--model", model, "x"]),
    /lexicon\.json\.gz: is not a gzipped JSON lexicon/,
  );
});
