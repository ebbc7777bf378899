import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseOboFile, parseOboText, readOboHeader } from "../../src/data/obo.js";
import type { OboTerm } from "../../src/data/obo-types.js";
import { UserError } from "../../src/util/errors.js";

const FIX = fileURLToPath(new URL("../../../test/fixtures/obo/", import.meta.url));
const fx = (name: string) => join(FIX, name);

function term(terms: OboTerm[], id: string): OboTerm {
  const t = terms.find((x) => x.id === id);
  assert.ok(t, `term ${id} not found`);
  return t;
}

/** A check that an error is a one-line UserError starting with `file:line:` and matching `words`. */
function at(file: string, line: number, words: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`);
    const msg = e.toLine();
    assert.ok(msg.startsWith(`gotune: ${file}:${line}: `), msg);
    assert.match(msg, words);
    assert.ok(!msg.includes("\n"), "one line");
    return true;
  };
}

async function rejectsAt(p: Promise<unknown>, file: string, line: number, words: RegExp) {
  await assert.rejects(p, at(file, line, words));
}

function throwsAt(f: () => unknown, file: string, line: number, words: RegExp) {
  assert.throws(f, at(file, line, words));
}

test("header tags: the well-known ones and every tag as raw values", async () => {
  const doc = await parseOboFile(fx("features.obo"));
  assert.equal(doc.header.formatVersion, "1.4");
  assert.equal(doc.header.dataVersion, "releases/2024-01-17");
  assert.equal(doc.header.ontology, "go");
  assert.equal(doc.header.date, "17:01:2024 10:00");
  assert.deepEqual(doc.header.tags.subsetdef, ['goslim_generic "Generic GO slim"']);
  assert.deepEqual(doc.header.tags.remark, ["a remark with an escaped ! bang"]);
});

test("a [Term] with every modelled tag", async () => {
  const doc = await parseOboFile(fx("features.obo"));
  const t = term(doc.terms, "GO:0000001");
  assert.equal(t.line, 10);
  assert.equal(t.name, "mitochondrion inheritance");
  assert.equal(t.namespace, "biological_process");
  assert.deepEqual(t.altIds, ["GO:0000002"]);
  assert.deepEqual(t.def, {
    text: 'The distribution of mitochondria, including the "genome", into daughter cells.\nSecond line.',
    xrefs: [
      { id: "GOC:mcc" },
      { id: "PMID:10873824" },
      { id: "Reactome:R-1", description: 'a, b "quoted" [x]' },
    ],
  });
  assert.equal(
    t.comment,
    "Tab\there, space there, colon: comma, parens() brackets[] braces{} backslash\\ bang! end",
  );
  assert.deepEqual(t.synonyms, [
    { text: "mitochondrial inheritance", scope: "EXACT", xrefs: [] },
    {
      text: "mito inheritance",
      scope: "NARROW",
      type: "systematic_synonym",
      xrefs: [{ id: "GOC:a" }, { id: "GOC:b" }],
    },
    { text: "inheritance of mitochondria", scope: "RELATED", xrefs: [{ id: "GOC:c" }] },
    { text: "no scope", scope: "RELATED", xrefs: [] },
    { text: "old style exact", scope: "EXACT", xrefs: [{ id: "GOC:old" }] },
    { text: "old style narrow", scope: "NARROW", xrefs: [] },
  ]);
  assert.deepEqual(t.isA, ["GO:0000010", "GO:0000011"]);
  assert.deepEqual(t.relationships, [{ type: "part_of", target: "GO:0000012" }]);
  assert.deepEqual(t.intersectionOf, [
    { target: "GO:0000010" },
    { relation: "part_of", target: "GO:0000012" },
  ]);
  assert.deepEqual(t.subsets, ["goslim_generic"]);
  assert.deepEqual(t.xrefs, [
    { id: "Wikipedia:Mitochondrion", description: "Mitochondrion {page}" },
    { id: "UM-BBD_pathwayID:2,4d" },
  ]);
  assert.deepEqual(t.other, { created_by: ["someone"], creation_date: ["2010-01-01T00:00:00Z"] });
  assert.equal(t.isObsolete, false);
});

test("braces are modifiers only at the end of a value, outside quotes, after a space", async () => {
  const doc = await parseOboFile(fx("features.obo"));
  const p1 = term(doc.terms, "GO:0000010");
  assert.deepEqual(p1.def, { text: "A parent {with braces} in the def.", xrefs: [{ id: "GOC:p" }] });
  assert.deepEqual(p1.other.name_with_braces_test, ["name {not a modifier}here"]);
  const p2 = term(doc.terms, "GO:0000011");
  assert.equal(p2.name, "4-alpha-D-{(1,4)-alpha-D-glucano}trehalose");
  assert.deepEqual(p2.def?.xrefs, [{ id: "http:http://example.org/x" }]);
});

test("obsolete terms are skipped and counted by default, kept on request", async () => {
  const doc = await parseOboFile(fx("features.obo"));
  assert.deepEqual(
    doc.terms.map((t) => t.id),
    ["GO:0000001", "GO:0000010", "GO:0000011", "GO:0000012"],
  );
  assert.equal(doc.obsoleteSkipped, 1);
  const all = await parseOboFile(fx("features.obo"), { keepObsolete: true });
  assert.equal(all.terms.length, 5);
  assert.equal(all.obsoleteSkipped, 0);
  const o = term(all.terms, "GO:0000003");
  assert.equal(o.isObsolete, true);
  assert.deepEqual(o.replacedBy, ["GO:0000001"]);
  assert.deepEqual(o.consider, ["GO:0000010", "GO:0000011"]);
});

test("[Typedef] and [Instance] stanzas; an unknown stanza is skipped with a warning", async () => {
  const doc = await parseOboFile(fx("features.obo"));
  assert.equal(doc.typedefs.length, 1);
  const td = doc.typedefs[0]!;
  assert.equal(td.id, "part_of");
  assert.equal(td.name, "part of");
  assert.equal(td.isTransitive, true);
  assert.deepEqual(td.tags.xref, ["BFO:0000050"]);
  assert.equal(td.line, 63);
  assert.deepEqual(doc.instances, [
    {
      id: "INST:0001",
      name: "an instance",
      instanceOf: "GO:0000012",
      tags: { name: ["an instance"], instance_of: ["GO:0000012"] },
      line: 69,
    },
  ]);
  assert.deepEqual(doc.warnings, [`${fx("features.obo")}:74: unknown stanza type [Annotation] skipped`]);
  assert.ok(!doc.terms.some((t) => t.id === "ANN:1"));
});

test("parseOboText and parseOboFile agree; CRLF, a BOM and a missing final newline are handled", async () => {
  const text = await readFile(fx("features.obo"), "utf8");
  const fromFile = await parseOboFile(fx("features.obo"), { source: "x.obo" });
  assert.deepEqual(parseOboText(text, { source: "x.obo" }), fromFile);
  const crlf = parseOboText(`\uFEFF${text.replace(/\n/g, "\r\n")}`, { source: "x.obo" });
  assert.deepEqual(crlf, fromFile);
  const noNl = parseOboText(text.trimEnd(), { source: "x.obo" });
  assert.deepEqual(noNl.terms, fromFile.terms);
  assert.match(noNl.warnings.at(-1)!, /^x\.obo:76: the file does not end with a newline/);
});

test("streaming keeps multi-byte characters and lines whole across read chunks", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-obo-"));
  const p = join(dir, "big.obo");
  const parts = ["format-version: 1.2\n"];
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const id = `GO:${String(i).padStart(7, "0")}`;
    parts.push(
      `\n[Term]\nid: ${id}\nname: αβγ término ${i} ✓\nnamespace: biological_process\n` +
        `def: "Définition ${"ü".repeat(i % 97)} ${i}." [GOC:x]\n`,
    );
  }
  await writeFile(p, parts.join(""));
  const doc = await parseOboFile(p);
  assert.equal(doc.terms.length, n);
  for (const i of [0, 1234, 4999, n - 1]) {
    const t = doc.terms[i]!;
    assert.equal(t.name, `αβγ término ${i} ✓`);
    assert.equal(t.def?.text, `Définition ${"ü".repeat(i % 97)} ${i}.`);
  }
  assert.ok(doc.terms.every((t) => t.name?.endsWith("✓") && t.def?.text.startsWith("Définition")));
  await rm(dir, { recursive: true, force: true });
});

test("in free text an unmatched quote is an ordinary character", () => {
  const doc = parseOboText('[Term]\nid: GO:1\nname: a 5" screen ! note\ncomment: say "hi {x=1}\n');
  assert.equal(doc.terms[0]?.name, 'a 5" screen');
  assert.equal(doc.terms[0]?.comment, 'say "hi');
  throwsAt(
    () => parseOboText('[Term]\nid: GO:1\nsynonym: "a 5 EXACT []\n', { source: "q" }),
    "q",
    3,
    /unterminated/,
  );
});

test("a stanza header may carry a comment", () => {
  const doc = parseOboText("[Term] ! the first\nid: GO:1\n\n[Typedef]   ! a relation\nid: r\n");
  assert.deepEqual([doc.terms[0]?.id, doc.typedefs[0]?.id], ["GO:1", "r"]);
});

test("readOboHeader reads only the header frame", async () => {
  const h = await readOboHeader(fx("features.obo"));
  assert.equal(h.dataVersion, "releases/2024-01-17");
  assert.equal(h.formatVersion, "1.4");
});

test("a missing file is one clear line", async () => {
  await assert.rejects(
    parseOboFile(fx("no-such.obo")),
    (e: unknown) => e instanceof UserError && /no-such\.obo: no such OBO file/.test(e.toLine()),
  );
});

test("a file that is not OBO: a PNG, JSON, Markdown, an empty file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-obo-"));
  const png = join(dir, "image.png");
  // A real 1x1 PNG.
  await writeFile(
    png,
    Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
      "base64",
    ),
  );
  await rejectsAt(parseOboFile(png), png, 1, /binary data, not an OBO text file/);
  await rejectsAt(parseOboFile(fx("go.json")), fx("go.json"), 1, /looks like JSON/);
  const md = join(dir, "README.md");
  await writeFile(md, "# A title\n\nSome text.\n");
  await rejectsAt(parseOboFile(md), md, 1, /does not look like an OBO file/);
  const empty = join(dir, "empty.obo");
  await writeFile(empty, "");
  await assert.rejects(
    parseOboFile(empty),
    (e: unknown) => e instanceof UserError && /is empty/.test(e.message),
  );
  const yaml = join(dir, "conf.yaml");
  await writeFile(yaml, "name: x\nversion: 2\n");
  await rejectsAt(parseOboFile(yaml), yaml, 2, /no stanza and no format-version/);
  await rm(dir, { recursive: true, force: true });
  throwsAt(() => parseOboText("[{]\n", { source: "s" }), "s", 1, /not a stanza header/);
  throwsAt(() => parseOboText("caf\uFFFD: x\n", { source: "s" }), "s", 1, /is not UTF-8 text/);
  throwsAt(() => parseOboText('"a b": 1\n', { source: "s" }), "s", 1, /is not an OBO tag/);
});

test("truncated files: an unterminated string, a cut stanza header, a stanza without id", async () => {
  await rejectsAt(
    parseOboFile(fx("truncated-quote.obo")),
    fx("truncated-quote.obo"),
    7,
    /unterminated quoted/,
  );
  await rejectsAt(
    parseOboFile(fx("truncated-header.obo")),
    fx("truncated-header.obo"),
    7,
    /not closed with `]`/,
  );
  await rejectsAt(parseOboFile(fx("truncated-stanza.obo")), fx("truncated-stanza.obo"), 7, /has no id/);
  throwsAt(
    () => parseOboText("format-version: 1.2\n\n[Term]\nid: GO:1\nnam", { source: "cut.obo" }),
    "cut.obo",
    5,
    /not `tag: value`/,
  );
});

test("bad escapes and a duplicate id name the file and line", async () => {
  await rejectsAt(parseOboFile(fx("bad-escape.obo")), fx("bad-escape.obo"), 7, /unknown escape `\\q`/);
  await rejectsAt(parseOboFile(fx("lone-backslash.obo")), fx("lone-backslash.obo"), 5, /lone backslash/);
  await rejectsAt(
    parseOboFile(fx("duplicate-id.obo")),
    fx("duplicate-id.obo"),
    9,
    /duplicate Term id GO:0000001 \(first declared at line 4\)/,
  );
  // Obsolete terms are skipped, but their ids still count as taken.
  throwsAt(
    () => parseOboText("[Term]\nid: GO:1\nis_obsolete: true\n\n[Term]\nid: GO:1\n", { source: "d.obo" }),
    "d.obo",
    6,
    /duplicate Term id GO:1/,
  );
});

test("malformed values are errors with their line", () => {
  const bad = (body: string) =>
    parseOboText(`format-version: 1.2\n[Term]\nid: GO:1\n${body}\n`, { source: "v" });
  throwsAt(() => bad("def: no quotes [x]"), "v", 4, /def must start with a quoted string/);
  throwsAt(() => bad('def: "text" [GOC:x'), "v", 4, /not closed with `]`/);
  throwsAt(() => bad('def: "text" trailing'), "v", 4, /unexpected text after the quoted def/);
  throwsAt(() => bad('synonym: "x" SIMILAR []'), "v", 4, /unknown synonym scope `SIMILAR`/);
  throwsAt(() => bad('synonym: "x" EXACT t1 t2 []'), "v", 4, /unexpected `t2`/);
  throwsAt(() => bad("relationship: part_of"), "v", 4, /relationship needs 2 parts/);
  throwsAt(() => bad("is_a:   ! only a comment"), "v", 4, /empty value for is_a/);
  throwsAt(() => bad("is_obsolete: maybe"), "v", 4, /is_obsolete must be true or false/);
  throwsAt(() => bad("id: GO:2"), "v", 4, /a second id/);
});
