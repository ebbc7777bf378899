import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import {
  buildLexicon,
  countAliases,
  type Lexicon,
  readLexicon,
  writeLexicon,
} from "../../src/baseline/lexicon.js";
import { GoLinker, linkingScore } from "../../src/baseline/linker.js";
import { charNgrams } from "../../src/baseline/tfidf.js";
import { CRAFT_FILE } from "../../src/data/craft.js";
import { UserError } from "../../src/util/errors.js";
import { writeLinkerObo } from "../helpers/linker.js";

let dir: string;
let lexicon: Lexicon;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-linker-"));
  lexicon = await buildLexicon({ obo: await writeLinkerObo(dir) });
});
after(() => rm(dir, { recursive: true, force: true }));

test("character n-grams are sklearn's char_wb: inside space-padded words, a short word once", () => {
  // sklearn: TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).build_analyzer()("Ab  cdef x")
  assert.deepEqual(charNgrams("Ab  cdef x", 2, 4), [
    ...[" a", "ab", "b ", " ab", "ab ", " ab "],
    ...[" c", "cd", "de", "ef", "f ", " cd", "cde", "def", "ef ", " cde", "cdef", "def "],
    ...[" x", "x ", " x "],
  ]);
  // Code points, not UTF-16 units: an astral character is one.
  assert.deepEqual(charNgrams("a𝛼", 3, 3), [" a𝛼", "a𝛼 "]);
});

test("the linker ranks a term's own name first, then near names, and says how it matched", () => {
  const linker = new GoLinker(lexicon);
  const r = linker.search("DNA repair", 5);
  assert.equal(r[0]!.go_id, "GO:0006281");
  assert.equal(r[0]!.via, "name");
  assert.equal(r[1]!.go_id, "GO:0006282");
  assert.ok(r[0]!.score > r[1]!.score && r[1]!.score > 0);
  const syn = linker.link("cell nuclei")!;
  assert.equal(syn.go_id, "GO:0005634");
  assert.equal(syn.via, "exact_synonym");
  assert.equal(syn.matched, "cell nucleus");
  // A name that shares no character n-gram with the text: only the definition's words can find it.
  const byDef = new GoLinker({
    release: null,
    aliases: [],
    terms: [
      ...lexicon.terms,
      {
        go_id: "GO:0000001",
        name: "zz",
        aspect: "molecular_function",
        definition: "Catalysis of nothing in particular.",
        synonyms: [],
        alt_ids: [],
      },
    ],
  });
  const def = byDef.search("catalysis", 10).find((c) => c.go_id === "GO:0000001")!;
  assert.equal(def.via, "definition");
  assert.equal(def.matched, "Catalysis of nothing in particular.");
  assert.deepEqual(linker.search("qqqq"), []);
  assert.equal(linker.link("DNA repair")!.go_id, "GO:0006281");
});

test("curators' mention strings link as aliases; the term they chose most often wins a shared string", () => {
  const plain = new GoLinker(lexicon);
  assert.notEqual(plain.link("nucleoli")?.via, "alias");
  const aliases = countAliases([
    { text: "Nucleoli", go_id: "GO:0005730" },
    { text: "nucleoli", go_id: "GO:0005730" },
    { text: "nucleoli ", go_id: "GO:0005634" },
    { text: "repair", go_id: "GO:0006281" },
  ]);
  assert.deepEqual(
    aliases.map((a) => [a.text, a.go_id, a.count]),
    [
      ["nucleoli", "GO:0005730", 2],
      ["nucleoli", "GO:0005634", 1],
      ["repair", "GO:0006281", 1],
    ],
  );
  const linker = new GoLinker({ ...lexicon, aliases });
  const top = linker.search("nucleoli", 2);
  assert.deepEqual(
    top.map((c) => [c.go_id, c.via]),
    [
      ["GO:0005730", "alias"],
      ["GO:0005634", "alias"],
    ],
  );
  assert.equal(linker.link("repair")!.go_id, "GO:0006281");
});

test("an alt_id is its term's id; the score counts right links and names the misses", () => {
  const linker = new GoLinker(lexicon);
  assert.equal(linker.currentId("GO:0044424"), "GO:0005634");
  assert.equal(linker.currentId("GO:0005634"), "GO:0005634");
  assert.equal(linker.currentId("GO:9999999"), undefined);
  const s = linkingScore(linker, [
    { text: "nucleus", go_id: "GO:0044424", go_name: "intracellular part" },
    { text: "DNA repair", go_id: "GO:0006281", go_name: "DNA repair" },
    { text: "DNA repair", go_id: "GO:0006282", go_name: "regulation of DNA repair" },
    { text: "death", go_id: "GO:0016265", go_name: "death" },
  ]);
  assert.equal(s.mentions, 4);
  assert.equal(s.correct, 2);
  assert.equal(s.accuracy, 0.5);
  assert.equal(s.not_in_release, 1);
  assert.deepEqual(
    s.misses.map((m) => [m.text, m.gold, m.count]),
    [
      ["DNA repair", "GO:0006282 regulation of DNA repair", 1],
      ["death", "GO:0016265 death", 1],
    ],
  );
});

test("a lexicon built with CRAFT's train mentions holds their strings for the release's terms only", async () => {
  const withCraft = await buildLexicon({ obo: join(dir, "linker.obo"), craft: CRAFT_FILE });
  assert.equal(withCraft.release, "releases/test-linker");
  assert.equal(withCraft.terms.length, 5);
  assert.ok(withCraft.aliases.some((a) => a.text === "nucleoli" && a.go_id === "GO:0005730" && a.count >= 1));
  assert.ok(
    withCraft.aliases.every((a) => !a.text.includes(" ... ")),
    "discontinuous mentions are left out",
  );
  assert.equal(new GoLinker(withCraft).link("nucleoli")!.via, "alias");
});

test("a lexicon file reads back as written; a hostile one is one line naming the file and field", async () => {
  const file = join(dir, "lexicon.json.gz");
  const lex = { ...lexicon, aliases: countAliases([{ text: "nucleoli", go_id: "GO:0005730" }]) };
  await writeLexicon(file, lex);
  assert.deepEqual(await readLexicon(file), lex);
  const bad = async (content: unknown, re: RegExp, raw = false) => {
    await writeFile(file, raw ? (content as Buffer) : gzipSync(JSON.stringify(content)));
    await assert.rejects(readLexicon(file), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.toLine(), re);
      assert.ok(e.toLine().includes(file));
      return true;
    });
  };
  const term = lexicon.terms[0]!;
  await bad(Buffer.from("not gzip"), /is not a gzipped JSON lexicon/, true);
  await bad([], /is not a JSON object/);
  await bad({ release: 3, terms: [], aliases: [] }, /release 3 is not a string or null/);
  await bad({ release: null, terms: [{ ...term, aspect: "cellular" }], aliases: [] }, /is not a GO aspect/);
  await bad({ release: null, terms: [term, term], aliases: [] }, /appears twice/);
  await bad(
    { release: null, terms: [{ ...term, synonyms: [{ text: "x", scope: "WIDE" }] }], aliases: [] },
    /scope "WIDE"/,
  );
  await bad({ release: null, terms: [], aliases: [{ text: "x", go_id: "GO:1", count: -2 }] }, /count -2/);
  await bad({ release: null, terms: { length: 1e12 }, aliases: [] }, /terms is not a list/);
});
