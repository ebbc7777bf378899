import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import ExcelJS from "exceljs";
import { Classifier } from "../../src/inference/classifier.js";
import { MAX_SENTENCE_CHARS, splitSentences } from "../../src/inference/sentences.js";
import { DOCUMENT_OUTPUTS as D } from "../../src/jobs/document.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { assertOneLineError, dtypeRuns, gotune } from "../helpers/cli.js";

const FIXTURE = join(import.meta.dirname, "..", "..", "..", "test", "fixtures", "app", "tricky.txt");
const LABELS = ["biological_process", "cellular_component", "molecular_function"];
let dir = "";
let model = "";
let clf: Classifier;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-predict-"));
  model = join(dir, "model");
  await writeTinyModel(model);
  clf = await Classifier.load(model);
});
after(() => rm(dir, { recursive: true, force: true }));

const TEXTS = ["the mitochondrial membrane", "protein binding", "a cell, in the membrane of mitochondria"];

test("predict --json: one object a line with text, probabilities and the label", () => {
  const r = gotune(["predict", "--model", model, "--json", ...TEXTS]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, TEXTS.length);
  const { probs } = clf.predictProba(TEXTS);
  lines.forEach((o, i) => {
    assert.deepEqual(Object.keys(o), ["text", "probabilities", "label"]);
    assert.equal(o.text, TEXTS[i]);
    assert.deepEqual(Object.keys(o.probabilities), LABELS);
    const p = Object.values(o.probabilities) as number[];
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    p.forEach((v, j) => {
      assert.ok(Math.abs(v - probs[i * 3 + j]!) < 1e-6);
    });
    assert.equal(o.label, LABELS[p.indexOf(Math.max(...p))]);
  });
});

test("predict --json --logits adds logits whose softmax is the probabilities", () => {
  const r = gotune(["predict", "--model", model, "--json", "--logits", ...TEXTS]);
  assert.equal(r.code, 0, r.stderr);
  for (const line of r.stdout.trim().split("\n")) {
    const o = JSON.parse(line);
    assert.deepEqual(Object.keys(o.logits), LABELS);
    const l = Object.values(o.logits) as number[];
    const z = l.reduce((a, b) => a + Math.exp(b), 0);
    LABELS.forEach((k, j) => {
      assert.ok(Math.abs(Math.exp(l[j]!) / z - o.probabilities[k]) < 1e-6);
    });
  }
});

test("predict --dtype int8|bf16: near fp32's probabilities where oneDNN runs them; else one line and fp32", () => {
  const fp32 = clf.predictProba(TEXTS).probs;
  const probsOf = (stdout: string) =>
    stdout
      .trim()
      .split("\n")
      .flatMap((l) => Object.values(JSON.parse(l).probabilities) as number[]);
  // Each dtype on the CPU in hand, then with oneDNN held to AVX2 (a Zen 3: int8 on 7-bit weights, no bf16)
  // and to AVX (no int8 products at all). What runs is what oneDNN reports for this CPU (dtypeRuns).
  for (const isa of [undefined, "AVX2", "AVX"] as const)
    for (const dtype of ["int8", "bf16"] as const) {
      const env: Record<string, string> = isa ? { DNNL_MAX_CPU_ISA: isa } : {};
      const r = gotune(["predict", "--model", model, "--json", "--dtype", dtype, ...TEXTS], env);
      assert.equal(r.code, 0, r.stderr);
      const p = probsOf(r.stdout);
      const d = Math.max(...p.map((v, i) => Math.abs(v - fp32[i]!)));
      if (dtypeRuns(dtype, isa)) {
        assert.deepEqual(r.lines, [], `${dtype} under ${isa ?? "this CPU"}`);
        assert.ok(
          d > 0 && d < 0.05,
          `${dtype} under ${isa ?? "this CPU"}: probabilities differ from fp32's by ${d}`,
        );
      } else {
        assert.deepEqual(r.lines, [
          `${dtype} is unavailable on this CPU (${dtype === "int8" ? "no AVX2" : "no AVX512-BF16 or AMX"}): running in fp32`,
        ]);
        assert.ok(d < 1e-6, `${dtype} under ${isa ?? "this CPU"} ran in fp32, yet differs by ${d}`);
      }
    }
  assertOneLineError(
    gotune(["predict", "--model", model, "--dtype", "int4", "a text"]),
    /--dtype <fp32\|bf16\|int8>.*'int4' is invalid\. give one of fp32, bf16, int8/,
  );
  assert.match(gotune(["predict", "--help"]).stdout, /--dtype <fp32\|bf16\|int8>/);
});

test("predict without --json prints a table: a header of labels, a row per text", () => {
  const r = gotune(["predict", "--model", model, "--logits", ...TEXTS]);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split("\n");
  assert.match(rows[0]!, /^text\s+biological_process\s+cellular_component\s+molecular_function\s+predicted$/);
  assert.equal(rows.length, 1 + 2 * TEXTS.length);
  TEXTS.forEach((t, i) => {
    assert.ok(rows[1 + 2 * i]!.startsWith(t));
  });
  assert.match(rows[2]!, /^\s+logits\s+-?\d/);
});

test("predict --file: per-sentence CSV and XLSX, the mean per aspect, a summary and a pie", async () => {
  const docDir = join(dir, "doc");
  await mkdir(docDir);
  const doc = join(docDir, "paper.txt");
  await copyFile(FIXTURE, doc);
  const r = gotune(["predict", "--model", model, "--file", doc]);
  assert.equal(r.code, 0, r.stderr);
  const sentences = splitSentences(await readFile(doc, "utf8"));
  assert.equal(sentences.length, 15);
  const { probs } = clf.predictProba(sentences.map((s) => s.text));

  // CSV: header, one row per sentence, probabilities as the classifier gives them.
  const csv = parseCsv(await readFile(join(docDir, `paper.${D.csv}`), "utf8"), {
    columns: true,
  }) as Record<string, string>[];
  assert.equal(csv.length, 15);
  assert.deepEqual(Object.keys(csv[0]!), ["sentence", "paragraph", "text", ...LABELS, "predicted"]);
  csv.forEach((row, i) => {
    assert.equal(row.sentence, String(i + 1));
    assert.equal(row.paragraph, String(sentences[i]!.paragraph + 1));
    assert.equal(row.text, sentences[i]!.text);
    LABELS.forEach((l, j) => {
      assert.ok(Math.abs(Number(row[l]) - probs[i * 3 + j]!) < 1e-5);
    });
    const p = LABELS.map((l) => Number(row[l]));
    assert.equal(row.predicted, LABELS[p.indexOf(Math.max(...p))]);
  });

  // XLSX, read back: the same table, and a summary sheet with the means.
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(join(docDir, `paper.${D.xlsx}`));
  const ws = wb.getWorksheet("sentences")!;
  assert.equal(ws.rowCount, 16);
  assert.deepEqual((ws.getRow(1).values as unknown[]).slice(1), [
    "sentence",
    "paragraph",
    "text",
    ...LABELS,
    "predicted",
  ]);
  csv.forEach((row, i) => {
    const v = (ws.getRow(i + 2).values as unknown[]).slice(1);
    assert.equal(v[0], i + 1);
    assert.equal(v[2], row.text);
    LABELS.forEach((l, j) => {
      assert.equal(v[3 + j], Number(row[l]));
    });
    assert.equal(v[6], row.predicted);
  });

  // The mean per aspect: printed, in the summary JSON and in the workbook, equal to the CSV's column means.
  const summary = JSON.parse(await readFile(join(docDir, `paper.${D.summary}`), "utf8"));
  assert.equal(summary.sentences, 15);
  const sumSheet = wb.getWorksheet("summary")!;
  LABELS.forEach((l, j) => {
    const mean = csv.reduce((a, row) => a + Number(row[l]), 0) / 15;
    assert.ok(Math.abs(summary.mean_probability[l] - mean) < 1e-5);
    assert.ok(Math.abs((sumSheet.getRow(j + 2).getCell(2).value as number) - mean) < 1e-5);
    assert.match(r.stdout, new RegExp(`${l}\\s+${summary.mean_probability[l].toFixed(4)}`));
  });
  const counts = Object.values(summary.predicted_counts) as number[];
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    15,
  );

  // The pie: a PNG with its signature and a sensible size, and its SVG.
  const png = await readFile(join(docDir, `paper.${D.piePng}`));
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  assert.equal(png.subarray(12, 16).toString("latin1"), "IHDR");
  const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  assert.ok(w >= 600 && w <= 2000 && h >= 400 && h <= 2000, `${w} x ${h}`);
  const svg = await readFile(join(docDir, `paper.${D.pieSvg}`), "utf8");
  assert.match(svg, /^<svg/);
  assert.match(svg, /Mean probability per GO aspect/);
  for (const l of LABELS) assert.ok(svg.includes(l), l);
});

test("predict --file --out DIR --json writes there and prints the summary", async () => {
  const out = join(dir, "elsewhere");
  const r = gotune(["predict", "--model", model, "--file", FIXTURE, "--out", out, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.sentences, 15);
  assert.deepEqual(
    (await readdir(out)).sort(),
    Object.values(D)
      .map((suffix) => `tricky.${suffix}`)
      .sort(),
  );
});

test("predict: an empty document, a non-UTF-8 one and bad arguments are one clear line", async () => {
  const empty = join(dir, "empty.txt");
  await writeFile(empty, "  \n\n \t\n");
  assertOneLineError(
    gotune(["predict", "--model", model, "--file", empty]),
    /empty\.txt: the document holds no sentences/,
  );
  assert.ok(!(await readdir(dir)).some((f) => f.startsWith("empty.") && f !== "empty.txt"));
  const latin1 = join(dir, "latin1.txt");
  await writeFile(latin1, Buffer.from([0x43, 0x61, 0x66, 0xe9, 0x2e]));
  assertOneLineError(
    gotune(["predict", "--model", model, "--file", latin1]),
    /latin1\.txt: is not UTF-8 text/,
  );
  assertOneLineError(
    gotune(["predict", "--model", model, "--file", join(dir, "none.txt")]),
    /none\.txt: no such document/,
  );
  assertOneLineError(gotune(["predict", "--model", model]), /no texts to classify/);
  assertOneLineError(
    gotune(["predict", "--model", model, "--file", FIXTURE, "a text"]),
    /texts or --file, not both/,
  );
  assertOneLineError(gotune(["predict", "--model", join(dir, "nowhere"), "a text"]), /no such folder/);
  assert.match(gotune(["predict", "--help"]).stdout, /Classify texts with a fine-tuned model/);
});

test("predict --model ORG/NAME reads the model from the Hugging Face cache, offline", async () => {
  const cache = join(dir, "hub");
  const commit = "0123456789abcdef0123456789abcdef01234567";
  const repo = join(cache, "models--gotune--tiny-go");
  await writeTinyModel(join(repo, "snapshots", commit));
  await mkdir(join(repo, "refs"), { recursive: true });
  await writeFile(join(repo, "refs", "main"), commit);
  const env = { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1" };
  const r = gotune(["predict", "--model", "gotune/tiny-go", "--json", TEXTS[0]!], env);
  assert.equal(r.code, 0, r.stderr);
  const local = gotune(["predict", "--model", model, "--json", TEXTS[0]!]);
  assert.deepEqual(JSON.parse(r.stdout).probabilities, JSON.parse(local.stdout).probabilities);
  assertOneLineError(
    gotune(["predict", "--model", "gotune/absent", "a text"], env),
    /model gotune\/absent is not in the Hugging Face cache/,
  );
});

test("predict --file: a run without a sentence end is cut at MAX_SENTENCE_CHARS, the same in CSV and XLSX", async () => {
  const doc = join(dir, "long.txt");
  const long = `the cell membrane ${"binding protein ".repeat(2600)}`.trim();
  await writeFile(doc, long);
  const r = gotune(["predict", "--model", model, "--file", doc]);
  assert.equal(r.code, 0, r.stderr);
  const csv = parseCsv(await readFile(join(dir, `long.${D.csv}`), "utf8"), { columns: true }) as {
    text: string;
  }[];
  const texts = csv.map((row) => row.text);
  assert.ok(
    texts.length >= Math.ceil(long.length / MAX_SENTENCE_CHARS) && texts.length <= 6,
    `${texts.length}`,
  );
  assert.ok(texts.every((t) => t.length <= MAX_SENTENCE_CHARS));
  assert.ok(texts.join(" ") === long, "cut at spaces, nothing lost");
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(join(dir, `long.${D.xlsx}`));
  const cells: string[] = [];
  wb.getWorksheet("sentences")!.eachRow((row, n) => {
    if (n > 1) cells.push(String(row.getCell(3).value));
  });
  assert.ok(
    cells.length === texts.length && cells.every((c, k) => c === texts[k]),
    "the XLSX holds the same",
  );
});
