/**
 * The main job's report: one self-contained HTML file (figures embedded as data URIs, no scripts, no
 * network), readable offline and printable.
 */
import { promises as fsp } from "node:fs";
import type { Metrics } from "../inference/metrics.js";
import { writeFileAtomic } from "../util/fsx.js";

/** One titled part of the report; `html` is already escaped markup. */
export interface ReportSection {
  title: string;
  html: string;
}

/** Escapes text for HTML element content and attribute values. */
export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A paragraph of plain text. */
export function para(text: string): string {
  return `<p>${esc(text)}</p>`;
}

/** A table; numbers are right-aligned, non-integers shown to `digits` places. */
export function table(headers: string[], rows: (string | number | null)[][], digits = 4): string {
  const cell = (v: string | number | null) =>
    typeof v === "number"
      ? `<td class="n">${esc(Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(digits))}</td>`
      : `<td>${esc(v ?? "–")}</td>`;
  return (
    `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map(cell).join("")}</tr>`).join("") +
    "</tbody></table>"
  );
}

/** A PNG figure embedded as a data URI, with its caption; a missing file becomes a visible note. */
export async function figure(pngPath: string, caption: string): Promise<string> {
  let data: Buffer;
  try {
    data = await fsp.readFile(pngPath);
  } catch {
    return `<p class="missing">Figure not available: ${esc(caption)}</p>`;
  }
  return `<figure><img alt="${esc(caption)}" src="data:image/png;base64,${data.toString("base64")}"><figcaption>${esc(caption)}</figcaption></figure>`;
}

/** Per-class scores, the confusion matrix and ROC-AUC of one evaluation. */
export function metricsHtml(m: Metrics): string {
  const names = Object.keys(m.per_class);
  const perClass = table(
    ["class", "precision", "recall", "F1", "support", "ROC-AUC"],
    names.map((c) => {
      const s = m.per_class[c]!;
      return [c, s.precision, s.recall, s.f1, s.support, m.roc_auc?.[c] ?? null];
    }),
  );
  const cm = table(
    ["true \\ predicted", ...names],
    m.confusion_matrix.map((row, i) => [names[i]!, ...row]),
  );
  return (
    `<p><b>accuracy ${m.accuracy.toFixed(4)}</b>, <b>macro-F1 ${m.macro_f1.toFixed(4)}</b>` +
    (m.roc_auc?.macro != null ? `, macro ROC-AUC ${m.roc_auc.macro.toFixed(4)}` : "") +
    `</p>${perClass}${cm}`
  );
}

const STYLE = `
body{font:15px/1.5 "DejaVu Sans",system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0}th,td{border:1px solid #ddd;padding:.25em .6em}th{background:#f3f3f3}
td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}.missing{color:#a33}.meta{color:#666}nav a{margin-right:1em}`;

/** Writes the report atomically: a title, a contents line and the sections. */
export async function writeReport(
  path: string,
  title: string,
  meta: string,
  sections: ReportSection[],
): Promise<void> {
  const id = (i: number) => `s${i + 1}`;
  const nav = sections.map((s, i) => `<a href="#${id(i)}">${esc(s.title)}</a>`).join("");
  const body = sections
    .map((s, i) => `<section id="${id(i)}"><h2>${esc(s.title)}</h2>${s.html}</section>`)
    .join("\n");
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>` +
    `<style>${STYLE}</style></head><body><h1>${esc(title)}</h1><p class="meta">${esc(meta)}</p>` +
    `<nav>${nav}</nav>\n${body}\n</body></html>\n`;
  await writeFileAtomic(path, html);
}
