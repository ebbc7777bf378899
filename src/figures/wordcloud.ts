/**
 * A word cloud of the definitions: d3-cloud places the words (measured with a real canvas and font),
 * and the SVG is written here. Each word takes the colour of the aspect that uses it most, relative to
 * that aspect's total word count, so the cloud also shows which words give an aspect away.
 */
import { createCanvas } from "@napi-rs/canvas";
import cloud from "d3-cloud";
import { eng } from "stopword";
import { ASPECTS, type Aspect, words } from "../data/terms.js";
import { Rng } from "../util/rng.js";
import { type Figure, FONT, figureFromSvg, fontFiles, textWidth, xmlEscape } from "./render.js";
import { ASPECT_COLORS } from "./theme.js";

/** English stop words, plus a few function words that are everywhere in GO definitions. */
const STOP = new Set([
  ...eng,
  ...[
    "its",
    "one",
    "two",
    "within",
    "etc",
    "via",
    "during",
    "whose",
    "non",
    "ii",
    "either",
    "may",
    "upon",
    "not",
  ],
]);

/** One word's weight and colouring aspect. */
export interface WordWeight {
  text: string;
  count: number;
  aspect: Aspect;
}

/** The `n` most frequent non-stop words of the definitions (lower-cased), with their dominant aspect. */
export function wordWeights(
  terms: readonly { aspect: Aspect; definition: string }[],
  n: number,
): WordWeight[] {
  const perAspect = new Map<string, Record<Aspect, number>>();
  const totals = Object.fromEntries(ASPECTS.map((a) => [a, 0])) as Record<Aspect, number>;
  for (const t of terms) {
    for (const raw of words(t.definition)) {
      const w = raw.toLowerCase();
      totals[t.aspect]++;
      if (w.length < 2 || STOP.has(w) || /^\d+$/.test(w)) continue;
      let c = perAspect.get(w);
      if (!c) {
        c = { biological_process: 0, cellular_component: 0, molecular_function: 0 };
        perAspect.set(w, c);
      }
      c[t.aspect]++;
    }
  }
  const out: WordWeight[] = [];
  for (const [text, c] of perAspect) {
    let aspect: Aspect = ASPECTS[0];
    let best = -1;
    for (const a of ASPECTS) {
      const share = totals[a] ? c[a] / totals[a] : 0;
      if (share > best) [best, aspect] = [share, a];
    }
    out.push({ text, count: c.biological_process + c.cellular_component + c.molecular_function, aspect });
  }
  out.sort((a, b) => b.count - a.count || (a.text < b.text ? -1 : 1));
  return out.slice(0, n);
}

interface Placed {
  text: string;
  size: number;
  x: number;
  y: number;
  rotate: number;
  aspect: Aspect;
}

/** Runs d3-cloud's layout to completion (synchronous with an unlimited time slice) on a seeded generator. */
function layout(ws: WordWeight[], width: number, height: number, seed: number): Promise<Placed[]> {
  fontFiles();
  const rng = new Rng(seed);
  const max = ws[0]?.count ?? 1;
  const input: cloud.Word[] = ws.map((w) => ({ text: w.text, size: 13 + 80 * Math.sqrt(w.count / max) }));
  const aspectOf = new Map(ws.map((w) => [w.text, w.aspect]));
  return new Promise((resolve) => {
    cloud()
      .canvas(() => createCanvas(1, 1) as unknown as HTMLCanvasElement)
      .size([width, height])
      .words(input)
      .padding(3)
      .font(FONT)
      .fontWeight("bold")
      .fontSize((d) => d.size!)
      .rotate(() => (rng.next() < 0.15 ? -90 : 0))
      .random(() => rng.next())
      .spiral("archimedean")
      .timeInterval(Number.POSITIVE_INFINITY)
      .on("end", (placed) =>
        resolve(
          placed.map((p) => ({
            text: p.text!,
            size: p.size!,
            x: p.x!,
            y: p.y!,
            rotate: p.rotate!,
            aspect: aspectOf.get(p.text!)!,
          })),
        ),
      )
      .start();
  });
}

/** Renders the word cloud of `terms`' definitions (top `n` words) as SVG and PNG. */
export async function wordCloud(
  terms: readonly { aspect: Aspect; definition: string }[],
  opts: { words?: number; seed?: number } = {},
): Promise<Figure> {
  const W = 1400;
  const H = 780;
  const top = 80;
  const bottom = 70;
  const weights = wordWeights(terms, opts.words ?? 160);
  const placed = await layout(weights, W, H, opts.seed ?? 42);
  const total = H + top + bottom;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${total}" viewBox="0 0 ${W} ${total}" font-family="${FONT}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="24" y="40" font-size="26" font-weight="bold" fill="#111">Words of the GO term definitions</text>`,
    `<text x="24" y="66" font-size="15" fill="#555">The ${placed.length} most frequent words (stop words removed) of ${terms.length.toLocaleString("en-US")} definitions; size grows with frequency.</text>`,
    `<g transform="translate(${W / 2},${top + H / 2})" text-anchor="middle" font-weight="bold">`,
  ];
  for (const p of placed)
    parts.push(
      `<text transform="translate(${p.x},${p.y}) rotate(${p.rotate})" font-size="${p.size}" fill="${ASPECT_COLORS[p.aspect]}">${xmlEscape(p.text)}</text>`,
    );
  parts.push("</g>");
  const ly = top + H + 40;
  const caption = "Colour: the aspect whose definitions use the word most, as a share of their words:";
  parts.push(`<text x="24" y="${ly}" font-size="15" fill="#333">${xmlEscape(caption)}</text>`);
  let x = 24 + textWidth(caption, `15px "${FONT}"`) + 24;
  for (const a of ASPECTS) {
    parts.push(`<rect x="${x}" y="${ly - 14}" width="18" height="18" rx="3" fill="${ASPECT_COLORS[a]}"/>`);
    parts.push(`<text x="${x + 26}" y="${ly}" font-size="15" fill="#333">${a}</text>`);
    x += 26 + textWidth(a, `15px "${FONT}"`) + 28;
  }
  parts.push("</svg>");
  return figureFromSvg("wordcloud", parts.join("\n"), W);
}
