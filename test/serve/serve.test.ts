/** `gotune serve`'s API as clients use it: the built command on a tiny model, real HTTP on loopback. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import ExcelJS from "exceljs";
import { attentionOf } from "../../src/inference/attention-map.js";
import type { Classifier } from "../../src/inference/classifier.js";
import { splitSentences } from "../../src/inference/sentences.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { assertOneLineError, type CliRun, gotuneAsync } from "../helpers/cli.js";
import { type Json, postJson, type Served, startServe } from "../helpers/serve.js";

let dir = "";
let model = "";
let clf: Classifier;
let server: Served;
const TEXTS = ["the mitochondrial membrane", "protein binding", "a cell, in the membrane of mitochondria"];
const DOC =
  "ATP binding is a molecular function. The protein localises to the mitochondrial membrane, e.g. in yeast.\n\n" +
  "The cell divides during mitosis. Catalysis of the hydrolysis of ATP.";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-serve-"));
  model = join(dir, "model");
  clf = await writeTinyModel(model);
  server = await startServe([
    "--model",
    model,
    "--max-texts",
    "8",
    "--max-chars",
    "200",
    "--body-limit",
    "4096",
  ]);
});
after(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const near = (a: number, b: number) => Math.abs(a - b) < 1e-6;

test("serve says where it listens and that only this machine can reach it", () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(server.stdout, /only this machine can reach it/);
});

test("GET /health and GET /info: the model, its labels, max length and the limits", async () => {
  const h = await (await fetch(`${server.url}/health`)).json();
  assert.equal(h.status, "ok");
  const info = await (await fetch(`${server.url}/info`)).json();
  assert.deepEqual(info.labels, clf.labels);
  // The model's own length: its tokenizer's model_max_length (512) within its 128 positions.
  assert.equal(info.max_length, 128);
  assert.equal(info.max_length, clf.maxLength);
  assert.equal(info.layers, 2);
  assert.equal(info.dtype, "fp32");
  assert.equal(info.limits.texts_per_request, 8);
  assert.equal(info.colors.cellular_component, "#E69F00");
});

test("POST /predict: {texts} and the Inference API's {inputs} give the classifier's probabilities", async () => {
  const { probs, logits } = clf.predictProba(TEXTS);
  const r = await postJson(`${server.url}/predict`, { texts: TEXTS });
  assert.equal(r.status, 200);
  r.body.predictions.forEach((p: Json, i: number) => {
    assert.equal(p.text, TEXTS[i]);
    clf.labels.forEach((l, j) => {
      assert.ok(near(p.probabilities[l], probs[i * 3 + j]!));
    });
    assert.equal(p.label, clf.labels[clf.argmax(probs)[i]!]);
  });
  const one = await postJson(`${server.url}/predict`, { inputs: TEXTS[0] });
  assert.equal(one.status, 200);
  assert.equal(one.body.length, 3);
  assert.ok(one.body[0].score >= one.body[1].score && one.body[1].score >= one.body[2].score);
  for (const { label, score } of one.body) assert.ok(near(score, probs[clf.labels.indexOf(label)]!));
  const many = await postJson(`${server.url}/predict`, {
    inputs: TEXTS,
    parameters: { top_k: 1, function_to_apply: "none" },
  });
  assert.equal(many.status, 200);
  many.body.forEach((row: Json[], i: number) => {
    assert.equal(row.length, 1);
    const j = clf.labels.indexOf(row[0].label);
    assert.equal(j, clf.argmax(probs)[i]);
    assert.ok(Math.abs(row[0].score - logits[i * 3 + j]!) < 1e-5);
  });
});

test("requests that arrive together share forward passes, and each gets its own answer", async () => {
  const before = (await (await fetch(`${server.url}/health`)).json()).batches;
  const texts = Array.from({ length: 24 }, (_, i) => `${TEXTS[i % 3]} ${"membrane ".repeat(i % 5)}`.trim());
  const { probs } = clf.predictProba(texts);
  const answers = await Promise.all(texts.map((t) => postJson(`${server.url}/predict`, { inputs: [t] })));
  answers.forEach((a, i) => {
    assert.equal(a.status, 200);
    for (const { label, score } of a.body[0])
      assert.ok(near(score, probs[i * 3 + clf.labels.indexOf(label)]!));
  });
  const batches = (await (await fetch(`${server.url}/health`)).json()).batches - before;
  assert.ok(batches < texts.length, `${texts.length} requests took ${batches} forward passes`);
});

test("POST /document: sentences, probabilities, the mean; ?format=csv and xlsx give the table", async () => {
  const sentences = splitSentences(DOC);
  const { probs } = clf.predictProba(sentences.map((s) => s.text));
  const r = await postJson(`${server.url}/document`, { text: DOC });
  assert.equal(r.status, 200);
  assert.deepEqual(
    r.body.sentences.map((s: Json) => [s.text, s.paragraph]),
    sentences.map((s) => [s.text, s.paragraph + 1]),
  );
  assert.deepEqual(
    r.body.sentences.map((s: Json) => s.paragraph),
    [1, 1, 2, 2],
  );
  clf.labels.forEach((l, j) => {
    const mean = sentences.reduce((a, _, i) => a + probs[i * 3 + j]!, 0) / sentences.length;
    assert.ok(near(r.body.mean[l], mean));
  });
  const csv = await fetch(`${server.url}/document?format=csv`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: DOC, name: "paper.txt" }),
  });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get("content-disposition")!, /filename="paper\.predictions\.csv"/);
  const rows = parseCsv(await csv.text(), { columns: true }) as Record<string, string>[];
  assert.equal(rows.length, sentences.length);
  assert.equal(rows[1]!.text, sentences[1]!.text);
  assert.equal(rows[1]!.predicted, r.body.sentences[1].label);
  // Paragraphs are numbered the same way in the JSON answer and in the tables.
  assert.deepEqual(
    rows.map((row) => Number(row.paragraph)),
    r.body.sentences.map((s: Json) => s.paragraph),
  );
  const xlsx = await fetch(`${server.url}/document?format=xlsx`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: DOC }),
  });
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(await xlsx.arrayBuffer());
  assert.equal(wb.getWorksheet("sentences")!.rowCount, sentences.length + 1);
});

test("POST and GET /attention give the model's attention for a sentence", async () => {
  const want = attentionOf(clf, TEXTS[2]!, { digits: 4 });
  const post = await postJson(`${server.url}/attention`, { text: TEXTS[2] });
  assert.equal(post.status, 200);
  assert.deepEqual(post.body.tokens, want.tokens);
  assert.deepEqual(post.body.attention, want.attention);
  const get = await (await fetch(`${server.url}/attention?text=${encodeURIComponent(TEXTS[2]!)}`)).json();
  assert.deepEqual(get.attention, want.attention);
});

test("GET /openapi.json describes every route; / and its assets are served", async () => {
  const api = await (await fetch(`${server.url}/openapi.json`)).json();
  assert.equal(api.openapi.slice(0, 2), "3.");
  for (const p of ["/predict", "/document", "/attention", "/health", "/info"]) assert.ok(api.paths[p], p);
  const page = await fetch(`${server.url}/`);
  assert.match(page.headers.get("content-type")!, /text\/html/);
  assert.match(await page.text(), /<script src="\/assets\/app\.js">/);
  assert.equal((await fetch(`${server.url}/assets/app.js`)).status, 200);
  assert.equal((await fetch(`${server.url}/assets/..%2Fserver.js`)).status, 400);
});

test("bad requests get a 400 (or 413) with one clear message, and the server keeps serving", async () => {
  const cases: [unknown, number, RegExp, boolean?][] = [
    ['{"texts": ["a"', 400, /not valid JSON/, true],
    [{ texts: ["a", 3] }, 400, /^texts\[1\] must be a string$/],
    [{ inputs: 3 }, 400, /^inputs must be a string or a list of strings$/],
    [{ inputs: [] }, 400, /^inputs must hold at least one text$/],
    [{ inputs: "" }, 400, /^inputs must not be empty$/],
    [{ text: "a" }, 400, /unknown field "text"/],
    [{}, 400, /give "texts"/],
    [{ texts: [] }, 400, /^texts must hold at least one text$/],
    [{ texts: Array(9).fill("a") }, 400, /^texts may hold at most 8 texts/],
    [{ inputs: "x".repeat(201) }, 400, /more than 200 characters/],
    [{ inputs: "a", parameters: { top_k: 0 } }, 400, /^parameters\.top_k must be at least 1$/],
    ["[1]", 400, /^the body must be an object$/, true],
    [{ texts: Array(8).fill("😀".repeat(199)) }, 413, /larger than this server takes/],
  ];
  for (const [body, status, re, raw] of cases) {
    const r = await postJson(`${server.url}/predict`, body, raw);
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body), ["error"]);
    assert.match(r.body.error, re);
  }
  const blank = await postJson(`${server.url}/document`, { text: " \n\n " });
  assert.equal(blank.status, 400);
  assert.match(blank.body.error, /no sentences/);
  const fmt = await postJson(`${server.url}/document?format=pdf`, { text: "A text." });
  assert.match(fmt.body.error, /^the query's format must be one of json, csv, xlsx$/);
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
});

test("a body that is not JSON gets 415 naming the type wanted; a known path asked wrongly 405 with Allow", async () => {
  const plain = await fetch(`${server.url}/predict`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "protein binding",
  });
  assert.equal(plain.status, 415);
  assert.deepEqual(await plain.json(), {
    error: "a body of type text/plain: send JSON (Content-Type: application/json)",
  });
  const get = await fetch(`${server.url}/predict`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  assert.match((await get.json()).error, /^\/predict takes POST, not GET/);
  const del = await fetch(`${server.url}/attention`, { method: "DELETE" });
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("allow"), "GET, HEAD, POST");
  assert.equal((await fetch(`${server.url}/assets/app.js`, { method: "POST" })).status, 405);
  assert.equal((await fetch(`${server.url}/nosuch`)).status, 404);
});

test("each request is one line of the log: method, route, status, texts, milliseconds; --quiet has none", async () => {
  await postJson(`${server.url}/predict`, { texts: ["a", "b"] });
  await postJson(`${server.url}/document`, { text: DOC });
  await fetch(`${server.url}/nosuch`);
  // The log line is written once the answer is sent: give it a moment to arrive.
  await new Promise((r) => setTimeout(r, 200));
  const lines = server.stderr().split("\n");
  assert.ok(
    lines.some((l) => /^gotune serve: POST \/predict 200 2 texts \d+ ms$/.test(l)),
    server.stderr(),
  );
  assert.ok(lines.some((l) => /^gotune serve: POST \/document 200 4 texts \d+ ms$/.test(l)));
  assert.ok(lines.some((l) => /^gotune serve: GET \/nosuch 404 0 texts \d+ ms$/.test(l)));
  const quiet = await startServe(["--model", model, "--quiet"]);
  try {
    assert.equal((await postJson(`${quiet.url}/predict`, { texts: ["a"] })).status, 200);
    await new Promise((r) => setTimeout(r, 200));
    assert.doesNotMatch(quiet.stderr(), /POST \/predict/);
  } finally {
    await quiet.stop();
  }
});

test("past the queue bound a request gets 429, past the timeout 503, both with Retry-After", async () => {
  // Batches of two that wait 3 s for company, a queue of two texts, and a 1 s timeout.
  const s = await startServe([
    "--model",
    model,
    "--max-batch",
    "2",
    "--max-queue",
    "2",
    "--max-wait",
    "3000",
    "--timeout",
    "1",
  ]);
  try {
    const first = postJson(`${s.url}/predict`, { inputs: "a" });
    await new Promise((r) => setTimeout(r, 200));
    const second = await postJson(`${s.url}/predict`, { inputs: ["b", "c"] });
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers.get("retry-after")) >= 1);
    const late = await first;
    assert.equal(late.status, 503);
    assert.match(late.body.error, /did not answer within 1 s/);
    assert.ok(Number(late.headers.get("retry-after")) >= 1);
    // The timed-out text left the queue: the server takes the next request.
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
  } finally {
    await s.stop();
  }
});

/** The run's stderr without serve's "loading" line: what is left must be one error line. */
const startErrors = (r: CliRun): CliRun => ({
  ...r,
  lines: r.lines.filter((l) => !/^gotune serve: loading /.test(l)),
});

test("serve --dtype int8: the model thread runs int8 (near fp32's probabilities) and /info says so", async (t) => {
  const int8 = await startServe(["--model", model, "--dtype", "int8"]);
  try {
    const info = await (await fetch(`${int8.url}/info`)).json();
    if (info.dtype !== "int8") {
      assert.match(int8.stderr(), /int8 is unavailable on this CPU/);
      t.skip("no int8 dot products on this CPU");
      return;
    }
    assert.match(int8.stdout, /; int8\) at http/);
    const { probs } = clf.predictProba(TEXTS);
    const r = await postJson(`${int8.url}/predict`, { texts: TEXTS });
    assert.equal(r.status, 200);
    let d = 0;
    r.body.predictions.forEach((p: Json, i: number) => {
      clf.labels.forEach((l, j) => {
        d = Math.max(d, Math.abs(p.probabilities[l] - probs[i * 3 + j]!));
      });
    });
    assert.ok(d > 0 && d < 0.05, `int8 probabilities differ from fp32's by ${d}`);
  } finally {
    await int8.stop();
  }
});

test("serve: a folder that cannot serve, or a port in use, is one line at start", async () => {
  const bad = join(dir, "no-weights");
  await mkdir(bad);
  await writeFile(
    join(bad, "config.json"),
    JSON.stringify({ model_type: "bert", id2label: { 0: "a", 1: "b" } }),
  );
  await writeFile(join(bad, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n");
  const noWeights = startErrors(await gotuneAsync(["serve", "--model", bad, "--port", "0"]));
  assertOneLineError(
    { ...noWeights, stderr: noWeights.lines.join("\n") },
    /weights|safetensors|pytorch_model/,
  );
  const none = startErrors(await gotuneAsync(["serve", "--model", join(dir, "nothing"), "--port", "0"]));
  assertOneLineError({ ...none, stderr: none.lines.join("\n") }, /no such folder/);
  const port = new URL(server.url).port;
  const inUse = startErrors(await gotuneAsync(["serve", "--model", model, "--port", port]));
  assertOneLineError(
    { ...inUse, stderr: inUse.lines.join("\n") },
    new RegExp(`^gotune: port ${port} on 127\\.0\\.0\\.1 is already in use; `),
  );
});
