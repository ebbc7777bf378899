import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Resvg } from "@resvg/resvg-js";
import { buildGoGraph, topByDegree } from "../../src/data/graph.js";
import { parseOboText } from "../../src/data/obo.js";
import { extractTerms } from "../../src/data/terms.js";
import { classDistribution, wordCountBoxplot } from "../../src/figures/charts.js";
import { termGraphFigure, termsWithAncestors, wrapText } from "../../src/figures/graph.js";
import { type Figure, FONT, textWidth } from "../../src/figures/render.js";
import { wordCloud, wordWeights } from "../../src/figures/wordcloud.js";

const MINI = join(import.meta.dirname, "..", "..", "..", "test", "fixtures", "prepare", "mini.obo");

async function fixture() {
  const doc = parseOboText(await readFile(MINI, "utf8"), { source: MINI });
  return { doc, terms: extractTerms(doc, MINI).terms, graph: buildGoGraph(doc) };
}

/** The width and height from a PNG's IHDR chunk, after checking the signature. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...png.subarray(0, 8)], sig, "PNG signature");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  assert.equal(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Parses the SVG (resvg refuses malformed XML) and returns its size. */
export function svgSize(svg: string): { width: number; height: number } {
  const r = new Resvg(svg);
  return { width: r.width, height: r.height };
}

/** Checks a figure: valid PNG of a sensible size, an SVG that parses, with the same aspect ratio. */
export function checkFigure(f: Figure, minW = 1000, maxW = 2600): void {
  const png = pngSize(f.png);
  assert.ok(png.width >= minW && png.width <= maxW, `${f.name}: PNG width ${png.width}`);
  assert.ok(png.height >= 400 && png.height <= 6000, `${f.name}: PNG height ${png.height}`);
  const svg = svgSize(f.svg);
  assert.ok(Math.abs(svg.width / svg.height - png.width / png.height) < 0.02, `${f.name}: aspect ratio`);
}

test("the size checks fail on broken images", () => {
  assert.throws(() =>
    pngSize(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18])),
  );
  assert.throws(() =>
    svgSize('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><text>a & b</text></svg>'),
  );
});

test("the term graph shows the top terms, their ancestors and a legend, as valid PNG and SVG", async () => {
  const { graph } = await fixture();
  const leaves = ["GO:0004672", "GO:0006811"];
  assert.deepEqual(termsWithAncestors(graph, leaves, ["is_a"]).sort(), [
    "GO:0003674",
    "GO:0003824",
    "GO:0004672",
    "GO:0006810",
    "GO:0006811",
    "GO:0008150",
    "GO:0009987",
    "GO:0016301",
    "GO:0016740",
  ]);
  const top = topByDegree(graph, 6);
  const f = termGraphFigure(graph, top, { contextRelations: ["is_a"] });
  checkFigure(f);
  for (const id of top) {
    const name = graph.getNodeAttribute(id, "name");
    assert.ok(f.svg.includes(`>${name}<`) || f.svg.includes(id), `${id} (${name}) is drawn`);
  }
  for (const a of ["biological_process", "cellular_component", "molecular_function", "is_a"])
    assert.ok(f.svg.includes(`>${a}<`), `legend has ${a}`);
  const plain = termGraphFigure(graph, top);
  checkFigure(plain);
  assert.ok(!plain.svg.includes("ancestor"));
});

test("long names wrap within the box width and end in an ellipsis past the line limit", () => {
  const font = `13px "${FONT}"`;
  const name =
    "oxidoreductase activity, acting on paired donors, with incorporation or reduction of molecular oxygen, NAD(P)H as one donor";
  const lines = wrapText(name, font, 190, 3);
  assert.equal(lines.length, 3);
  assert.ok(lines[2]!.endsWith("…"));
  for (const l of lines) assert.ok(textWidth(l, font) <= 190, l);
  const chem = wrapText("S-adenosylmethionine-dependent methyltransferase", font, 150, 3);
  assert.ok(chem.length > 1 && !chem.some((l) => l.endsWith("…")), chem.join(" / "));
  for (const l of chem) assert.ok(textWidth(l, font) <= 150, l);
  assert.equal(chem.join("").replace(/\s/g, ""), "S-adenosylmethionine-dependentmethyltransferase");
});

test("the word cloud drops stop words and colours each word by its dominant aspect", async () => {
  const { terms } = await fixture();
  const ws = wordWeights(terms, 50);
  const texts = ws.map((w) => w.text);
  for (const stop of ["the", "of", "and", "or", "a"]) assert.ok(!texts.includes(stop), stop);
  assert.equal(ws.find((w) => w.text === "catalysis")?.aspect, "molecular_function");
  assert.equal(ws.find((w) => w.text === "membrane")?.aspect, "cellular_component");
  for (let i = 1; i < ws.length; i++) assert.ok(ws[i - 1]!.count >= ws[i]!.count);
  const f = await wordCloud(terms, { words: 60, seed: 1 });
  checkFigure(f);
  assert.ok(f.svg.includes(">catalysis<"));
  const again = await wordCloud(terms, { words: 60, seed: 1 });
  assert.equal(again.svg, f.svg, "the layout is seeded");
});

test("the boxplot and the class distribution render with titles and axis labels", async () => {
  const { terms } = await fixture();
  const box = await wordCountBoxplot(terms);
  checkFigure(box);
  assert.ok(
    box.svg.includes("Definition length per GO aspect") && box.svg.includes("words in the definition"),
  );
  const bars = await classDistribution(
    {
      train: { biological_process: 8, cellular_component: 6, molecular_function: 6 },
      test: { biological_process: 2, cellular_component: 1, molecular_function: 2 },
    },
    "test caption",
  );
  checkFigure(bars);
  assert.ok(bars.svg.includes("Class distribution") && bars.svg.includes("biological_process (0)"));
});
