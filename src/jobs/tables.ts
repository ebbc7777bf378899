/** The per-sentence probability table of a document, as CSV and as an Excel workbook. */
import { csvFormatRows } from "d3-dsv";
import ExcelJS from "exceljs";
import { writeFileAtomic } from "../util/fsx.js";

/** A document's predictions: one row per sentence, probabilities row-major [N, labels]. */
export interface SentenceTable {
  labels: string[];
  sentences: { text: string; paragraph: number }[];
  probs: Float32Array;
  /** The most probable label's index per sentence. */
  predicted: Int32Array;
  /** Mean probability per label over the sentences. */
  mean: Record<string, number>;
}

/**
 * A text cell as a spreadsheet shows it, never runs it: one starting with =, +, -, @, a tab or a CR
 * (a formula to Excel, LibreOffice and Google Sheets) gets a leading single quote, as OWASP's
 * "CSV injection" advice says. Every table gotune writes (CSV or XLSX) passes its text through this.
 */
export function spreadsheetText(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

/** The rows as CSV (RFC 4180 quoting), every text cell through spreadsheetText; numbers as they are. */
export function safeCsvRows(rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  return csvFormatRows(
    rows.map((r) => r.map((c) => (typeof c === "string" ? spreadsheetText(c) : String(c ?? "")))),
  );
}

const HEADER = (labels: string[]) => ["sentence", "paragraph", "text", ...labels, "predicted"];

// Six decimals keep the CSV short while staying finer than float32 noise matters here.
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** The table's rows (1-based sentence and paragraph numbers), header first. */
export function tableRows(t: SentenceTable): (string | number)[][] {
  const L = t.labels.length;
  const rows: (string | number)[][] = [HEADER(t.labels)];
  t.sentences.forEach((s, i) => {
    const p = Array.from(t.probs.subarray(i * L, (i + 1) * L), round);
    rows.push([i + 1, s.paragraph + 1, s.text, ...p, t.labels[t.predicted[i]!]!]);
  });
  return rows;
}

/** The table as CSV text (RFC 4180 quoting, formulas written as text). */
export function csvText(t: SentenceTable): string {
  return `${safeCsvRows(tableRows(t))}\n`;
}

/** Writes the table as CSV atomically. */
export async function writeCsv(path: string, t: SentenceTable): Promise<void> {
  await writeFileAtomic(path, csvText(t));
}

/** Writes the table as an .xlsx workbook: a "sentences" sheet and a "summary" sheet of the means. */
export async function writeXlsx(path: string, t: SentenceTable, source: string): Promise<void> {
  await writeFileAtomic(path, await xlsxBytes(t, source));
}

/** The table as .xlsx bytes; `source` names the document on the summary sheet. */
export async function xlsxBytes(t: SentenceTable, source: string): Promise<Uint8Array> {
  const wb = new ExcelJS.Workbook();
  wb.creator = "gotune";
  const ws = wb.addWorksheet("sentences", { views: [{ state: "frozen", ySplit: 1 }] });
  ws.columns = [
    { header: "sentence", key: "sentence", width: 10 },
    { header: "paragraph", key: "paragraph", width: 11 },
    { header: "text", key: "text", width: 90 },
    ...t.labels.map((l) => ({
      header: spreadsheetText(l),
      key: `p_${l}`,
      width: Math.max(12, l.length + 2),
    })),
    { header: "predicted", key: "predicted", width: 22 },
  ];
  for (const r of tableRows(t).slice(1)) {
    // Sentences are at most MAX_SENTENCE_CHARS (10,000), within Excel's 32,767 characters a cell.
    ws.addRow(r.map((c) => (typeof c === "string" ? spreadsheetText(c) : c)));
  }
  ws.getRow(1).font = { bold: true };
  ws.getColumn("text").alignment = { wrapText: true, vertical: "top" };
  t.labels.forEach((l) => {
    ws.getColumn(`p_${l}`).numFmt = "0.000";
  });
  ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: t.labels.length + 4 } };
  const sum = wb.addWorksheet("summary");
  sum.columns = [
    { header: "label", key: "label", width: 24 },
    { header: "mean probability", key: "mean", width: 18 },
    { header: "sentences predicted", key: "count", width: 20 },
  ];
  t.labels.forEach((l, j) => {
    const count = t.predicted.reduce((n, p) => n + (p === j ? 1 : 0), 0);
    sum.addRow({ label: spreadsheetText(l), mean: t.mean[l], count });
  });
  sum.getColumn("mean").numFmt = "0.000";
  sum.getRow(1).font = { bold: true };
  sum.addRow([]);
  sum.addRow(["document", spreadsheetText(source)]);
  sum.addRow(["sentences", t.sentences.length]);
  const buf = await wb.xlsx.writeBuffer();
  return new Uint8Array(buf as ArrayBuffer);
}
