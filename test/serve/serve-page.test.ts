/**
 * `gotune serve`'s page as a person uses it, in a real headless Chromium: paste a paragraph, read the
 * highlighted sentences and the pie, download the CSV, open the attention view, drop bad files.
 * Screenshots go to test-output/serve/.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import { type Browser, chromium, type Page } from "playwright-core";
import type { Classifier } from "../../src/inference/classifier.js";
import { splitSentences } from "../../src/inference/sentences.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { ROOT } from "../helpers/cli.js";
import { type Served, startServe } from "../helpers/serve.js";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(ROOT, "test-output", "serve");
const PARAGRAPH =
  "ATP binding is a molecular function. The protein localises to the mitochondrial membrane, e.g. in yeast. " +
  "The cell divides during mitosis.\n\nCatalysis of the hydrolysis of ATP. A membrane-bounded organelle.";

let dir = "";
let clf: Classifier;
let server: Served;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

const skip = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (scripts/setup.sh installs chromium)`;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), "gotune-page-"));
  clf = await writeTinyModel(join(dir, "model"));
  server = await startServe(["--model", join(dir, "model")]);
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(`${server.url}/`);
  await page.waitForSelector("body[data-ready]");
});
after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("paste a paragraph: each sentence highlighted by its predicted aspect, with bars and the pie", {
  skip,
}, async () => {
  await page.fill("#text", PARAGRAPH);
  await page.click("#run");
  await page.waitForSelector("#sentences li");
  const sentences = splitSentences(PARAGRAPH);
  const { probs } = clf.predictProba(sentences.map((s) => s.text));
  const predicted = clf.argmax(probs);
  const shown = await page.$$eval("#sentences li", (lis) =>
    lis.map((li) => ({
      text: li.querySelector(".text")!.textContent,
      label: (li as HTMLElement).dataset.label,
      border: getComputedStyle(li).borderLeftColor,
      bars: [...li.querySelectorAll(".bar .fill")].map((f) =>
        Number.parseFloat((f as HTMLElement).style.width),
      ),
    })),
  );
  assert.equal(shown.length, sentences.length);
  const rgb = {
    biological_process: "rgb(0, 114, 178)",
    cellular_component: "rgb(230, 159, 0)",
    molecular_function: "rgb(0, 158, 115)",
  };
  shown.forEach((s, i) => {
    assert.equal(s.text, sentences[i]!.text);
    assert.equal(s.label, clf.labels[predicted[i]!]);
    assert.equal(s.border, rgb[s.label as keyof typeof rgb]);
    s.bars.forEach((w, j) => {
      assert.ok(Math.abs(w - probs[i * 3 + j]! * 100) < 0.06, `bar ${i}.${j}: ${w}`);
    });
  });
  assert.ok(new Set(shown.map((s) => s.label)).size > 1, "the tiny model predicts more than one aspect here");
  // The pie: one slice per label, shares the mean probabilities.
  const slices = await page.$$eval("#pie .slice", (ps) =>
    ps.map((p) => [(p as SVGElement).dataset.label, Number((p as SVGElement).dataset.share)] as const),
  );
  assert.deepEqual(
    slices.map((s) => s[0]),
    clf.labels,
  );
  slices.forEach(([, share], j) => {
    const mean = sentences.reduce((a, _, i) => a + probs[i * 3 + j]!, 0) / sentences.length;
    assert.ok(Math.abs(share - mean) < 1e-6);
  });
  assert.match(
    (await page.textContent("#status")) ?? "",
    new RegExp(`^${sentences.length} sentences in \\d+ ms\\.$`),
  );
  await page.screenshot({ path: join(SHOTS, "1-sentences.png"), fullPage: true });
});

test("the CSV downloaded from the page is the table of the sentences shown", { skip }, async () => {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
  assert.equal(download.suggestedFilename(), "document.predictions.csv");
  const rows = parseCsv(await readFile((await download.path())!, "utf8"), { columns: true }) as Record<
    string,
    string
  >[];
  const labels = await page.$$eval("#sentences li", (lis) =>
    lis.map((li) => (li as HTMLElement).dataset.label),
  );
  assert.deepEqual(
    rows.map((r) => r.predicted),
    labels,
  );
  assert.deepEqual(
    rows.map((r) => r.text),
    splitSentences(PARAGRAPH).map((s) => s.text),
  );
  const [xlsx] = await Promise.all([page.waitForEvent("download"), page.click("#xlsx")]);
  assert.equal(xlsx.suggestedFilename(), "document.predictions.xlsx");
  assert.equal((await readFile((await xlsx.path())!)).subarray(0, 2).toString(), "PK");
});

test("a click on a sentence opens its attention view: layers, heads, hover", { skip }, async () => {
  await page.click("#sentences li >> nth=1");
  await page.waitForSelector("#att-view line");
  const sentence = splitSentences(PARAGRAPH)[1]!.text;
  const tokens = clf.tokenizer.encode(sentence).tokens;
  assert.deepEqual(
    await page.$$eval("#att-view .hv-left text", (ts) => ts.map((t) => t.textContent)),
    tokens,
  );
  assert.equal(await page.locator("#att-view .hv-layer option").count(), 2);
  const heads = async () =>
    new Set(await page.$$eval("#att-view line", (ls) => ls.map((l) => l.getAttribute("data-head"))));
  assert.deepEqual(await heads(), new Set(["0", "1"]));
  await page.dblclick("#att-view .hv-head[data-head='1']");
  assert.deepEqual(await heads(), new Set(["1"]));
  await page.click("#att-view .hv-all");
  await page.selectOption("#att-view .hv-layer", "1");
  await page.screenshot({ path: join(SHOTS, "2-attention.png"), fullPage: true });
  // Hovering token 2 on the left keeps only its lines.
  await page.hover("#att-view .hv-left >> nth=2");
  const from = new Set(
    await page.$$eval("#att-view line", (ls) => ls.map((l) => l.getAttribute("data-from"))),
  );
  assert.deepEqual(from, new Set(["2"]));
  await page.screenshot({ path: join(SHOTS, "3-attention-hover.png"), fullPage: true });
});

test("an empty or a binary file is said on the page, and nothing is sent", { skip }, async () => {
  const before = (await (await fetch(`${server.url}/health`)).json()).texts;
  await page.setInputFiles("#file", { name: "empty.txt", mimeType: "text/plain", buffer: Buffer.alloc(0) });
  await page.waitForSelector("#status.error");
  assert.match((await page.textContent("#status"))!, /empty\.txt is empty/);
  await page.setInputFiles("#file", {
    name: "figure.png",
    mimeType: "image/png",
    buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0xff, 0xfe]),
  });
  await page.waitForFunction(() => /figure\.png/.test(document.getElementById("status")!.textContent!));
  assert.match((await page.textContent("#status"))!, /figure\.png is not a text file/);
  await page.screenshot({ path: join(SHOTS, "4-binary-file.png") });
  assert.equal((await (await fetch(`${server.url}/health`)).json()).texts, before);
  // A good file classifies at once, under its own name.
  await page.setInputFiles("#file", {
    name: "paper.txt",
    mimeType: "text/plain",
    buffer: Buffer.from(PARAGRAPH),
  });
  await page.waitForFunction(() => /sentences in/.test(document.getElementById("status")!.textContent!));
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
  assert.equal(download.suggestedFilename(), "paper.predictions.csv");
  assert.deepEqual(pageErrors, []);
});
