import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import { DEBIAN_GO } from "../../src/data/fetch-go.js";
import { PREPARE_OUTPUTS as P } from "../../src/jobs/prepare.js";
import { gotuneHome } from "../../src/util/paths.js";
import { gotune, ROOT } from "../helpers/cli.js";

const MINI = join(ROOT, "test", "fixtures", "prepare", "mini.obo");
const ASPECTS = ["biological_process", "cellular_component", "molecular_function"];

const made: string[] = [];
const tmp = async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-prepare-"));
  made.push(dir);
  return dir;
};
after(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));
const readLines = async (p: string) =>
  (await readFile(p, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Every file under `dir` (relative paths) with its bytes, to compare runs. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out.set(p.slice(dir.length + 1), (await readFile(p)).toString("base64"));
  }
  return out;
}

/** Checks one train/test line against the contract. */
function checkExample(x: Record<string, unknown>, where: string): void {
  assert.match(String(x.go_id), /^GO:\d{7}$/, where);
  assert.ok(typeof x.text === "string" && x.text.length > 0, where);
  assert.ok(typeof x.name === "string", where);
  assert.ok(ASPECTS.includes(String(x.aspect)), where);
  assert.equal(x.label, ASPECTS.indexOf(String(x.aspect)), where);
}

test("prepare --help says what it does", () => {
  const r = gotune(["prepare", "--help"]);
  assert.equal(r.code, 0);
  for (const s of [
    "--obo",
    "--out",
    "--seed",
    "--test-size",
    "--keep-obsolete",
    "--top",
    "train.jsonl",
    "figures",
  ])
    assert.ok(r.stdout.includes(s), s);
});

test("prepare on a fixture writes terms, a stratified split, stats and figures", async () => {
  const out = await tmp();
  const r = gotune(["prepare", "--obo", MINI, "--out", out, "--top", "8"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.lines.some((l) => l.includes("parsing")));
  const warn = r.lines.filter((l) => l.includes("warning: skipped 2 terms"));
  assert.equal(warn.length, 1, r.stderr);
  assert.ok(warn[0]!.includes("mini.obo:189"), warn[0]);

  const terms = await readLines(join(out, P.termsJsonl));
  assert.equal(terms.length, 25);
  assert.deepEqual(Object.keys(terms[0]!), [
    "go_id",
    "name",
    "aspect",
    "definition",
    "def_word_count",
    "label",
  ]);
  const train = await readLines(join(out, P.train));
  const test_ = await readLines(join(out, P.test));
  assert.equal(train.length, 20);
  assert.equal(test_.length, 5);
  train.forEach((x, i) => {
    checkExample(x, `train.jsonl:${i + 1}`);
  });
  test_.forEach((x, i) => {
    checkExample(x, `test.jsonl:${i + 1}`);
  });
  assert.deepEqual(
    [...train, ...test_].map((x) => x.go_id).sort(),
    terms.map((t) => t.go_id).sort(),
    "train and test together are the terms, each once",
  );
  const byId = new Map(terms.map((t) => [t.go_id, t]));
  for (const x of [...train, ...test_]) assert.equal(x.text, byId.get(x.go_id)!.definition);
  // BP 10, CC 7, MF 8 terms: round(n × 0.2) of each go to test.
  assert.deepEqual(
    ASPECTS.map((a) => test_.filter((x) => x.aspect === a).length),
    [2, 1, 2],
  );

  // The CSV, read back by an independent parser, holds exactly the JSONL's records (quotes, commas, newlines).
  const rows = parseCsv(await readFile(join(out, P.termsCsv)), { columns: true }) as Record<string, string>[];
  assert.equal(rows.length, terms.length);
  rows.forEach((row, i) => {
    const t = terms[i]!;
    assert.deepEqual(row, Object.fromEntries(Object.entries(t).map(([k, v]) => [k, String(v)])));
  });
  const tricky = rows.find((r) => r.go_id === "GO:0090001")!;
  assert.equal(tricky.name, 'quoting "term", with comma');
  assert.ok(tricky.definition!.includes("\n") && tricky.definition!.includes('"α-helix"'));

  const stats = JSON.parse(await readFile(join(out, P.stats), "utf8"));
  assert.equal(stats.source.data_version, "releases/2099-01-01");
  assert.equal(stats.terms.obsolete_skipped, 1);
  assert.deepEqual(stats.terms.per_aspect, {
    biological_process: 10,
    cellular_component: 7,
    molecular_function: 8,
  });
  assert.equal(stats.skipped.no_namespace, 1);
  assert.equal(stats.skipped.no_definition, 1);
  assert.deepEqual(stats.split.test, {
    total: 5,
    biological_process: 2,
    cellular_component: 1,
    molecular_function: 2,
  });
  assert.equal(stats.def_word_count.biological_process.count, 10);
  assert.ok(stats.def_word_count.all.min <= stats.def_word_count.all.median);
  assert.equal(stats.graph.nodes, 27);
  assert.deepEqual(
    stats.graph.roots.map((r: { id: string }) => r.id),
    ["GO:0003674", "GO:0005575", "GO:0008150"],
  );
  assert.equal(stats.graph.edges_by_type.part_of, 2);
  assert.equal(stats.top_terms.length, 8);
  for (const f of ["term_graph", "wordcloud", "definition_word_counts", "class_distribution"]) {
    for (const ext of ["png", "svg"])
      assert.ok(existsSync(join(out, P.figures, `${f}.${ext}`)), `${f}.${ext}`);
    const png = await readFile(join(out, P.figures, `${f}.png`));
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
    const width = png.readUInt32BE(16);
    assert.ok(width >= 1000 && width <= 2600, `${f}.png is ${width} px wide`);
  }
  assert.ok(
    !(await readdir(out, { recursive: true })).some((n) => n.endsWith(".tmp")),
    "no temporary file left",
  );
});

test("the split is the same on every run for a seed and changes with the seed", async () => {
  const [a, b, c] = [await tmp(), await tmp(), await tmp()];
  for (const [dir, seed] of [
    [a, "7"],
    [b, "7"],
    [c, "8"],
  ] as const)
    assert.equal(gotune(["prepare", "--obo", MINI, "--out", dir, "--seed", seed, "--no-figures"]).code, 0);
  for (const f of [P.train, P.test, P.termsCsv, P.stats])
    assert.equal(await readFile(join(a, f), "utf8"), await readFile(join(b, f), "utf8"), f);
  assert.notEqual(await readFile(join(a, P.test), "utf8"), await readFile(join(c, P.test), "utf8"));
  assert.ok(!existsSync(join(a, P.figures)), "--no-figures draws none");
});

test("bad input: one clear line, a non-zero exit, earlier outputs intact", async () => {
  const out = await tmp();
  assert.equal(gotune(["prepare", "--obo", MINI, "--out", out, "--no-figures"]).code, 0);
  const before = await snapshot(out);

  const missing = gotune(["prepare", "--obo", join(out, "nope.obo"), "--out", out]);
  assert.notEqual(missing.code, 0);
  assert.equal(missing.lines.length, 1, missing.stderr);
  assert.match(missing.lines[0]!, /nope\.obo: no such OBO file/);

  const blocked = gotune(["prepare", "--obo", MINI, "--out", join(out, P.termsCsv, "sub")]);
  assert.notEqual(blocked.code, 0);
  assert.equal(blocked.lines.length, 1, blocked.stderr);
  assert.match(blocked.lines[0]!, /terms\.csv\/sub: the output folder/);

  for (const args of [
    ["--test-size", "1.5"],
    ["--seed", "-3"],
    ["--top", "many"],
  ]) {
    const r = gotune(["prepare", "--obo", MINI, "--out", out, ...args]);
    assert.notEqual(r.code, 0, args.join(" "));
    assert.equal(r.lines.length, 1, r.stderr);
    assert.ok(r.lines[0]!.includes(args[0]!), r.lines[0]);
  }

  const bad = join(await tmp(), "bad.obo");
  await writeFile(bad, 'format-version: 1.2\n\n[Term]\nid: GO:0000001\nname: x\ndef: "a \\q" []\n');
  const broken = gotune(["prepare", "--obo", bad, "--out", out]);
  assert.notEqual(broken.code, 0);
  const errors = broken.lines.filter((l) => !/^gotune: parsing /.test(l));
  assert.equal(errors.length, 1, broken.stderr);
  assert.ok(errors[0]!.includes(`${bad}:6`), errors[0]);
  assert.ok(!broken.stderr.includes("    at "), "no stack trace");

  assert.deepEqual(await snapshot(out), before, "the earlier outputs are untouched and no file was added");
});

const RELEASE = join(gotuneHome(), "go", DEBIAN_GO.file);
const noRelease = existsSync(RELEASE)
  ? false
  : `the 2018 GO release is not cached at ${RELEASE}; run \`gotune fetch-go --source debian\` (scripts/setup.sh does)`;

test("prepare on the real 2018 release: 44,939 terms, an 80/20 split, every line valid", {
  skip: noRelease,
}, async () => {
  const out = await tmp();
  const r = gotune(["prepare", "--obo", RELEASE, "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const stats = JSON.parse(await readFile(join(out, P.stats), "utf8"));
  assert.equal(stats.source.data_version, "releases/2018-03-09");
  assert.equal(stats.terms.kept, 44939);
  assert.equal(stats.terms.obsolete_skipped, 2183);
  assert.deepEqual(stats.terms.per_aspect, {
    biological_process: 29614,
    cellular_component: 4171,
    molecular_function: 11154,
  });
  assert.equal(stats.skipped.total, 0);
  const train = await readLines(join(out, P.train));
  const test_ = await readLines(join(out, P.test));
  assert.equal(train.length + test_.length, 44939);
  ASPECTS.forEach((a) => {
    const n = stats.terms.per_aspect[a];
    const t = test_.filter((x) => x.aspect === a).length;
    assert.ok(Math.abs(t - 0.2 * n) <= 1, `${a}: ${t} of ${n} in test`);
  });
  assert.equal(test_.length, 8988);
  train.forEach((x, i) => {
    checkExample(x, `train.jsonl:${i + 1}`);
  });
  test_.forEach((x, i) => {
    checkExample(x, `test.jsonl:${i + 1}`);
  });
  assert.equal(new Set([...train, ...test_].map((x) => x.go_id)).size, 44939);
  assert.deepEqual(
    stats.graph.roots.map((x: { name: string }) => x.name),
    ["molecular_function", "cellular_component", "biological_process"],
  );
  for (const f of stats.figures as string[]) {
    const png = await readFile(join(out, f));
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG", f);
    const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    assert.ok(w >= 1200 && w <= 2600 && h >= 400 && h <= 6000, `${f}: ${w}×${h}`);
  }
});
