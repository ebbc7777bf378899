/**
 * The one rendering path every figure takes: SVG text -> PNG with resvg and the DejaVu fonts, plus
 * vega-lite -> SVG headless, with text measured by a real font so vega's layout matches the PNG.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createCanvas, GlobalFonts, type SKRSContext2D } from "@napi-rs/canvas";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import { UserError } from "../util/errors.js";

/** The font family every figure uses (Debian's fonts-dejavu-core). */
export const FONT = "DejaVu Sans";

const FONT_FILES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf"];

/** A rendered figure: the SVG text and its PNG bytes. */
export interface Figure {
  name: string;
  svg: string;
  png: Uint8Array;
}

let fontPaths: string[] | undefined;
let measureCtx: SKRSContext2D | undefined;

/** The DejaVu font files (folder from $GOTUNE_FONT_DIR or Debian's); a UserError when they are missing. */
export function fontFiles(): string[] {
  if (fontPaths) return fontPaths;
  const dir = process.env.GOTUNE_FONT_DIR ?? "/usr/share/fonts/truetype/dejavu";
  const paths = FONT_FILES.map((f) => join(dir, f));
  const missing = paths.find((p) => !existsSync(p));
  if (missing)
    throw new UserError("font file not found", {
      file: missing,
      hint: "install Debian's fonts-dejavu-core (bash scripts/setup.sh) or set GOTUNE_FONT_DIR",
    });
  for (const p of paths) GlobalFonts.registerFromPath(p);
  fontPaths = paths;
  return paths;
}

/** A 2D context with the figure fonts loaded, for measuring text (shared, never drawn on). */
export function measureContext(): SKRSContext2D {
  if (!measureCtx) {
    fontFiles();
    measureCtx = createCanvas(8, 8).getContext("2d");
  }
  return measureCtx;
}

/** The width in pixels of `text` set in a CSS font such as `bold 13px "DejaVu Sans"`. */
export function textWidth(text: string, font: string): number {
  const ctx = measureContext();
  ctx.font = font;
  return ctx.measureText(text).width;
}

/** Renders SVG text to PNG bytes `width` pixels wide (height follows the SVG's aspect ratio). */
export function svgToPng(svg: string, width: number): Uint8Array {
  const r = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: fontFiles(), defaultFontFamily: FONT },
    fitTo: { mode: "width", value: Math.round(width) },
    background: "white",
  });
  return r.render().asPng();
}

/** Renders an SVG into a Figure with a PNG `pngWidth` pixels wide. */
export function figureFromSvg(name: string, svg: string, pngWidth: number): Figure {
  return { name, svg, png: svgToPng(svg, pngWidth) };
}

type TextItem = {
  text?: unknown;
  font?: string;
  fontSize?: number;
  fontStyle?: string;
  fontWeight?: string | number;
  fontVariant?: string;
};

let vegaMeasuring = false;

/** Makes vega measure text with the real font (it would otherwise guess 0.8 em a character). */
function useRealTextMetrics(): void {
  if (vegaMeasuring) return;
  const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text?: unknown) => number } })
    .textMetrics;
  metrics.width = (item, text) => {
    const t = text ?? item.text;
    const s = Array.isArray(t) ? t.join(" ") : t == null ? "" : String(t);
    const font = [
      item.fontStyle,
      item.fontVariant,
      item.fontWeight,
      `${item.fontSize ?? 11}px`,
      item.font ?? FONT,
    ]
      .filter((x) => x !== undefined && x !== "")
      .join(" ");
    return textWidth(s, font);
  };
  vegaMeasuring = true;
}

/** The vega-lite config shared by the charts: DejaVu everywhere, a white background, readable sizes. */
export const VL_CONFIG = {
  font: FONT,
  background: "white",
  padding: 16,
  title: { fontSize: 18, subtitleFontSize: 13, subtitleColor: "#555", anchor: "start", offset: 12 },
  axis: { labelFontSize: 13, titleFontSize: 14, titlePadding: 10, grid: true, gridColor: "#e6e6e6" },
  legend: { labelFontSize: 13, titleFontSize: 13 },
  view: { stroke: null },
} as const;

/** Compiles a vega-lite spec and renders it headless to SVG text, then PNG at `scale` × its size. */
export async function vegaLiteFigure(name: string, spec: object, scale = 2): Promise<Figure> {
  useRealTextMetrics();
  // Only errors are worth a user's attention here; the specs are ours, so warnings are for development.
  const quiet = vega.logger(vega.Error);
  const compiled = vegaLite.compile(spec as vegaLite.TopLevelSpec, { logger: quiet }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Error });
  try {
    await view.runAsync();
    const svg = await view.toSVG();
    const width = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)?.[1] ?? 800);
    return figureFromSvg(name, svg, width * scale);
  } finally {
    view.finalize();
  }
}

/** Escapes text for SVG content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c]};`,
  );
}
