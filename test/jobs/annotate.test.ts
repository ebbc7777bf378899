/**
 * gotune annotate: sentence spans, the three input formats (gzipped or not), the two sentence tables and
 * the document summaries, --shard, resume after a kill, a finished run as a no-op, one-line errors, and
 * memory that stays flat as the input grows.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { splitSentences, splitWithSpans } from "../../src/inference/sentences.js";
import { PubmedStream } from "../../src/jobs/annotate/pubmed.js";
import { shardOf } from "../../src/jobs/annotate/shard.js";
import type { HeapProbe } from "../fixtures/annotate/heap-probe.js";
import { pubmedXml, writePubmed } from "../fixtures/annotate/pubmed-corpus.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { assertOneLineError, CLI, gotune, gotuneAsync } from "../helpers/cli.js";

let dir = "";
let model = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-annotate-"));
  model = join(dir, "model");
  await writeTinyModel(model);
});
after(() => rm(dir, { recursive: true, force: true }));

const jsonl = async (p: string) =>
  (await readFile(p, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
/** Code-point slice, as Python's str[start:end]. */
const slice = (s: string, a: number, b: number) => Array.from(s).slice(a, b).join("");
const norm = (s: string) => s.replace(/\s+/g, " ").replace(/- /g, "-").trim();

test("splitWithSpans: each span slices its sentence out of the raw text (CRLF, hyphens, astral characters)", () => {
  const raw =
    "  The 𝛼-helix binds ATP.  It is re-\r\n  quired for folding (Fig. 2).\r\n\r\nA new 🧬 paragraph? Yes… " +
    "Smith et al. showed it [4].\n";
  const s = splitWithSpans(raw);
  assert.deepEqual(
    s.map((x) => x.text),
    splitSentences(raw).map((x) => x.text),
  );
  assert.equal(s.length, 5);
  for (const x of s) assert.equal(norm(slice(raw, x.start, x.end)), x.text);
  assert.equal(s[0]!.start, 2);
  assert.ok(s[1]!.start > s[0]!.end && s[2]!.paragraph === 1);
});

test("PubmedStream: PMID, title, labelled sections, journal and year; cited PMIDs and other abstracts ignored", () => {
  const xml = pubmedXml(12, 5, 500);
  const p = new PubmedStream("x.xml");
  // Fed in small pieces: articles come out whole whatever the chunking.
  for (let i = 0; i < xml.length; i += 97) p.write(xml.slice(i, i + 97));
  p.end();
  const a = p.drain();
  assert.deepEqual(
    a.map((x) => x.pmid),
    Array.from({ length: 12 }, (_, i) => String(500 + i)),
  );
  assert.match(a[0]!.title, /: a <study> & review\.$/);
  assert.deepEqual(
    a[0]!.sections.map((s) => s.label),
    ["BACKGROUND", "METHODS"],
  );
  assert.deepEqual(
    a[1]!.sections.map((s) => s.label),
    ["abstract"],
  );
  assert.ok(a[0]!.sections[0]!.text.includes("protein") && !a[0]!.sections[0]!.text.includes("<i>"));
  assert.equal(a[6]!.sections.length, 0); // every 7th has no abstract
  assert.ok(a.every((x) => !x.sections.some((s) => s.text === "Ignored text.")));
  assert.deepEqual([a[0]!.year, a[4]!.year, a[3]!.journal], [1990, 1994, "PLoS One"]); // a[4]: MedlineDate
});

test("annotate: PubMed XML (plain and gzipped), JSONL and text into sentence rows, Parquet and document rows", async () => {
  const inDir = join(dir, "formats");
  const out = join(inDir, "out");
  await rm(inDir, { recursive: true, force: true });
  await mkdir(inDir, { recursive: true });
  const xml = pubmedXml(10, 9, 7000);
  await writeFile(join(inDir, "pm.xml"), xml);
  await writeFile(join(inDir, "pmz.xml.gz"), gzipSync(pubmedXml(6, 10, 8000)));
  await writeFile(
    join(inDir, "docs.jsonl"),
    `${JSON.stringify({ id: "d1", text: "Kinases bind ATP. They phosphorylate proteins." })}\n\n${JSON.stringify({ id: 7, text: "The nucleus." })}\n`,
  );
  const paper = "A membrane-bounded organelle.  It has DNA.\n\nThe second para-\ngraph ends here.";
  await writeFile(join(inDir, "paper.txt"), paper);
  const inputs = ["pm.xml", "pmz.xml.gz", "docs.jsonl", "paper.txt"].map((f) => join(inDir, f));
  const r = gotune(["annotate", "--model", model, "--input", ...inputs, "--out", out, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.annotated, 4);
  assert.equal(s.documents, 10 + 6 + 2 + 1);

  // PubMed: spans index the document text (title and sections joined by blank lines).
  const p = new PubmedStream("pm.xml");
  p.write(xml);
  p.end();
  const texts = new Map(
    p.drain().map((a) => [a.pmid, [a.title, ...a.sections.map((x) => x.text)].join("\n\n")]),
  );
  const rows = await jsonl(join(out, "pm.sentences.jsonl"));
  assert.deepEqual(Object.keys(rows[0]!), [
    "doc_id",
    "sentence",
    "start",
    "end",
    "section",
    "text",
    "p_biological_process",
    "p_cellular_component",
    "p_molecular_function",
    "predicted",
  ]);
  for (const row of rows) {
    const t = texts.get(row.doc_id as string)!;
    assert.equal(norm(slice(t, row.start as number, row.end as number)), row.text);
    const ps = [row.p_biological_process, row.p_cellular_component, row.p_molecular_function] as number[];
    assert.ok(Math.abs(ps[0]! + ps[1]! + ps[2]! - 1) < 1e-5);
    const labels = ["biological_process", "cellular_component", "molecular_function"];
    assert.equal(row.predicted, labels[ps.indexOf(Math.max(...ps))]);
  }
  assert.equal(rows[0]!.section, "title");
  const docs = await jsonl(join(out, "pm.documents.jsonl"));
  assert.equal(docs.length, 10);
  for (const d of docs) {
    const mine = rows.filter((x) => x.doc_id === d.doc_id);
    assert.equal(d.sentences, mine.length);
    assert.equal(d.source, "pm.xml");
    const counts = d.predicted_counts as Record<string, number>;
    assert.equal(counts.cellular_component, mine.filter((x) => x.predicted === "cellular_component").length);
    const mean = (d.mean_probability as Record<string, number>).molecular_function;
    const want = mine.reduce((a, x) => a + (x.p_molecular_function as number), 0) / mine.length;
    assert.ok(Math.abs(mean! - want) < 1e-9);
  }
  assert.deepEqual([docs[0]!.journal, docs[0]!.year, docs[0]!.index], ["J Biol Chem", 1990, 0]);

  // Gzipped XML, JSONL ids (a number becomes a string), and a text file as one document with file offsets.
  assert.equal((await jsonl(join(out, "pmz.documents.jsonl"))).length, 6);
  const j = await jsonl(join(out, "docs.sentences.jsonl"));
  assert.deepEqual(
    j.map((x) => [x.doc_id, x.sentence, x.start, x.end, x.section]),
    [
      ["d1", 0, 0, 17, null],
      ["d1", 1, 18, 46, null],
      ["7", 0, 0, 12, null],
    ],
  );
  const txt = await jsonl(join(out, "paper.sentences.jsonl"));
  assert.deepEqual(
    txt.map((x) => x.text),
    ["A membrane-bounded organelle.", "It has DNA.", "The second para-graph ends here."],
  );
  for (const x of txt) assert.equal(norm(slice(paper, x.start as number, x.end as number)), x.text);
  assert.equal(txt[0]!.doc_id, "paper");
  const manifest = JSON.parse(await readFile(join(out, "annotate.json"), "utf8"));
  assert.deepEqual(
    manifest.inputs.map((m: { name: string; format: string }) => [m.name, m.format]),
    [
      ["pm", "pubmed"],
      ["pmz", "pubmed"],
      ["docs", "jsonl"],
      ["paper", "text"],
    ],
  );
  assert.equal(manifest.sentences, s.sentences);
});

test("--shard I/N: the shards partition the documents by the hash of their id, deterministically", async () => {
  const input = join(dir, "shard.xml");
  await writeFile(input, pubmedXml(40, 2, 9000));
  const ids: string[][] = [];
  for (const i of [1, 2, 3]) {
    const out = join(dir, "shards");
    const r = gotune(["annotate", "--model", model, "--input", input, "--out", out, "--shard", `${i}/3`]);
    assert.equal(r.code, 0, r.stderr);
    const docs = await jsonl(join(out, `shard.shard-${i}-of-3.documents.jsonl`));
    ids.push(docs.map((d) => d.doc_id as string));
    assert.ok(docs.every((d) => shardOf(d.doc_id as string, 3) === i));
  }
  const all = ids.flat().sort();
  assert.deepEqual(
    all,
    Array.from({ length: 40 }, (_, k) => String(9000 + k)),
  );
  assert.ok(
    ids.every((x) => x.length >= 5),
    `unbalanced shards: ${ids.map((x) => x.length)}`,
  );
  // The hash is SHA-256's first four bytes, big-endian, mod N, + 1: Python computes the same shards.
  const py = spawnSync(
    "python3",
    [
      "-c",
      "import hashlib,sys\nfor i in sys.argv[1:]: print(int.from_bytes(hashlib.sha256(i.encode()).digest()[:4],'big')%7+1)",
      ...all,
    ],
    { encoding: "utf8" },
  );
  assert.deepEqual(
    py.stdout.trim().split("\n").map(Number),
    all.map((id) => shardOf(id, 7)),
  );
});

test("a killed run resumes with its unfinished files; a finished run is a no-op; other settings are refused", async () => {
  const small = join(dir, "r1.xml");
  const big = join(dir, "r2.xml.gz");
  await writeFile(small, pubmedXml(20, 11, 100));
  await writePubmed(big, 3000, { seed: 12, first: 200_000, gzip: true });
  const out = join(dir, "resume");
  const args = ["annotate", "--model", model, "--input", small, big, "--out", out];
  // Kill -9 while the second file is under way (the first one's marker is there).
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: "ignore",
    env: { ...process.env, GOTUNE_NO_PROGRESS: "1" },
  });
  const ended = new Promise((r) => child.once("exit", r));
  for (let i = 0; i < 1200 && !existsSync(join(out, "r1.done.json")); i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.ok(existsSync(join(out, "r1.done.json")), "the first file never finished");
  await new Promise((r) => setTimeout(r, 300));
  child.kill("SIGKILL");
  await ended;
  assert.ok(!existsSync(join(out, "r2.done.json")), "the run finished before it was killed: make r2 bigger");
  assert.ok(
    !existsSync(join(out, "r2.sentences.jsonl")),
    "an unfinished file has no output under its final name",
  );
  const firstMtime = (await stat(join(out, "r1.sentences.parquet"))).mtimeMs;

  const resumed = await gotuneAsync([...args, "--json"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const s = JSON.parse(resumed.stdout);
  assert.deepEqual([s.annotated, s.skipped], [1, 1]);
  assert.equal((await stat(join(out, "r1.sentences.parquet"))).mtimeMs, firstMtime);
  assert.equal((await jsonl(join(out, "r2.documents.jsonl"))).length, 3000);
  assert.deepEqual(
    (await readdir(out)).filter((f) => f.endsWith(".partial")),
    [],
  );

  const again = gotune(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already annotated: nothing to do/);
  assert.equal((await stat(join(out, "r1.sentences.parquet"))).mtimeMs, firstMtime);

  const other = gotune([...args, "--max-length", "64"]);
  assertOneLineError(
    other,
    /r1\.done\.json: holds the outputs of a run with another max_length; give another --out/,
  );
});

test("--dtype int8: near fp32's probabilities, recorded in the marker; fp32 on that output is refused", async () => {
  const input = join(dir, "d1.xml");
  await writeFile(input, pubmedXml(4, 21, 100));
  const run = async (out: string, dtype: string, env: Record<string, string> = {}) => {
    const r = gotune(["annotate", "--model", model, "--input", input, "--out", out, "--dtype", dtype], env);
    return { r, rows: r.code === 0 ? await jsonl(join(out, "d1.sentences.jsonl")) : [] };
  };
  const fp32 = await run(join(dir, "dt-fp32"), "fp32");
  const int8 = await run(join(dir, "dt-int8"), "int8");
  assert.equal(int8.r.code, 0, int8.r.stderr);
  assert.equal(JSON.parse(await readFile(join(dir, "dt-int8", "d1.done.json"), "utf8")).dtype, "int8");
  assert.equal(int8.rows.length, fp32.rows.length);
  let d = 0;
  int8.rows.forEach((row, i) => {
    for (const [k, v] of Object.entries(row))
      if (k.startsWith("p_")) d = Math.max(d, Math.abs((v as number) - (fp32.rows[i]![k] as number)));
  });
  assert.ok(d > 0 && d < 0.05, `int8 probabilities differ from fp32's by ${d}`);
  assertOneLineError(
    (await run(join(dir, "dt-int8"), "fp32")).r,
    /d1\.done\.json: holds the outputs of a run with another dtype; give another --out/,
  );
  // With oneDNN held to AVX2 (a Zen 3) int8 still runs; below AVX2 (no u8 x s8 products): one line, and
  // the run is the fp32 run it is (marker and all).
  const avx2 = await run(join(dir, "dt-avx2"), "int8", { DNNL_MAX_CPU_ISA: "AVX2" });
  assert.equal(avx2.r.code, 0, avx2.r.stderr);
  assert.deepEqual(avx2.r.lines, []);
  assert.equal(JSON.parse(await readFile(join(dir, "dt-avx2", "d1.done.json"), "utf8")).dtype, "int8");
  const old = await run(join(dir, "dt-old"), "int8", { DNNL_MAX_CPU_ISA: "AVX" });
  assert.equal(old.r.code, 0, old.r.stderr);
  assert.deepEqual(old.r.lines, ["int8 is unavailable on this CPU (no AVX2): running in fp32"]);
  assert.equal(JSON.parse(await readFile(join(dir, "dt-old", "d1.done.json"), "utf8")).dtype, "fp32");
});

test("bad input is one line naming the file and line", async () => {
  const bad = join(dir, "bad.jsonl");
  await writeFile(bad, `${JSON.stringify({ id: "a", text: "Fine." })}\n{"text": "no id"}\n`);
  assertOneLineError(
    gotune(["annotate", "--model", model, "--input", bad, "--out", join(dir, "bad")]),
    /bad\.jsonl:2: this object has no "id"/,
  );
  const xml = join(dir, "bad.xml");
  await writeFile(xml, "<PubmedArticleSet>\n<PubmedArticle><MedlineCitation>\n</PubmedArticle>");
  assertOneLineError(
    gotune(["annotate", "--model", model, "--input", xml, "--out", join(dir, "bad")]),
    /bad\.xml:3: is not well-formed XML/,
  );
  const other = join(dir, "other.xml");
  await writeFile(other, "<html><body/></html>");
  assertOneLineError(
    gotune(["annotate", "--model", model, "--input", other, "--out", join(dir, "bad")]),
    /other\.xml:1: is not PubMed XML/,
  );
  const unknown = join(dir, "notes.md");
  await writeFile(unknown, "text");
  assertOneLineError(
    gotune(["annotate", "--model", model, "--input", unknown, "--out", join(dir, "bad")]),
    /cannot tell the input's format.*--format/,
  );
  assertOneLineError(
    gotune(["annotate", "--model", model, "--input", bad, "--out", dir, "--shard", "4/3"]),
    /--shard.*1 <= I <= N/,
  );
});

test("memory stays flat: four times the documents, the same memory held after garbage collection", async (t) => {
  // The child collects garbage every 50 ms (often enough for ten samples on a quiet machine, where the small
  // run takes about two seconds) and keeps the largest heap + buffers that survive (see
  // heap-probe.ts): peak RSS would mostly measure when V8 chose to collect, not what the run holds.
  const probe = pathToFileURL(join(import.meta.dirname, "..", "fixtures", "annotate", "heap-probe.js"));
  const held = async (n: number) => {
    const input = join(dir, `mem${n}.xml.gz`);
    await writePubmed(input, n, { seed: 13, first: 1_000_000, gzip: true });
    const report = join(dir, `mem${n}.json`);
    // Small row groups: the buffered group's fill when sampled (up to 12 MB at the default 8,192) would
    // otherwise be most of the difference between two runs.
    const r = await gotuneAsync(
      ["annotate", "--model", model, "--input", input, "--out", join(dir, `mem${n}`), "--row-group", "1024"],
      {
        NODE_OPTIONS: `--expose-gc --import=${probe.href}`,
        GOTUNE_HEAP_PROBE: report,
        GOTUNE_HEAP_EVERY: "50",
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(await readFile(report, "utf8")) as HeapProbe;
    const marker = JSON.parse(await readFile(join(dir, `mem${n}`, `mem${n}.done.json`), "utf8"));
    return { ...p, sentences: marker.sentences as number };
  };
  const a = await held(1500);
  const b = await held(6000);
  assert.ok(b.sentences > 3.9 * a.sentences, `${a.sentences}, ${b.sentences}`);
  assert.ok(a.samples >= 10 && b.samples >= 10, `too few samples: ${a.samples}, ${b.samples}`);
  // 22,000 more sentences from 4,500 more documents: keeping 0.6 KB a document or 120 bytes a sentence
  // adds more than 2.5 MB.
  const grew = b.max_held_mb - a.max_held_mb;
  const what =
    `held ${a.max_held_mb.toFixed(1)} MB at ${a.sentences} sentences, ${b.max_held_mb.toFixed(1)} MB at ` +
    `${b.sentences} (heap ${a.max_heap_mb.toFixed(1)} -> ${b.max_heap_mb.toFixed(1)}, buffers ` +
    `${a.max_external_mb.toFixed(1)} -> ${b.max_external_mb.toFixed(1)})`;
  t.diagnostic(what);
  assert.ok(grew < 2.5, what);
});
