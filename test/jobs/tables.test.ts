import assert from "node:assert/strict";
import { test } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import ExcelJS from "exceljs";
import { csvText, type SentenceTable, spreadsheetText, xlsxBytes } from "../../src/jobs/tables.js";

const RISKY = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tlead", "\rlead"];

function table(texts: string[], labels = ["-neg", "plain"]): SentenceTable {
  const L = labels.length;
  const probs = new Float32Array(texts.length * L).fill(1 / L);
  return {
    labels,
    sentences: texts.map((text) => ({ text, paragraph: 0 })),
    probs,
    predicted: new Int32Array(texts.length),
    mean: Object.fromEntries(labels.map((l) => [l, 1 / L])),
  };
}

test("spreadsheetText quotes what a spreadsheet would run as a formula, and only that", () => {
  for (const s of RISKY) assert.equal(spreadsheetText(s), `'${s}`);
  for (const s of ["plain", "a=b", " =x", "", "'quoted"]) assert.equal(spreadsheetText(s), s);
});

test("CSV and XLSX tables write formula-like texts and labels as text; numbers stay numbers", async () => {
  const t = table([...RISKY, "A plain sentence."]);
  const rows = parseCsv(csvText(t), { relax_quotes: true }) as string[][];
  assert.deepEqual(rows[0], ["sentence", "paragraph", "text", "'-neg", "plain", "predicted"]);
  assert.deepEqual(
    rows.slice(1).map((r) => r[2]),
    [...RISKY.map((s) => `'${s}`), "A plain sentence."],
  );
  assert.ok(rows.slice(1).every((r) => r[0] !== undefined && /^\d+$/.test(r[0]) && r[5] === "'-neg"));
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(Buffer.from(await xlsxBytes(t, "=evil.txt")) as unknown as ArrayBuffer);
  const ws = wb.getWorksheet("sentences")!;
  const texts: unknown[] = [];
  ws.eachRow((row, n) => {
    if (n > 1) texts.push(row.getCell(3).value);
  });
  // XML turns a CR into a line feed; the quote in front is what matters.
  assert.deepEqual(texts, [...RISKY.map((s) => `'${s.replace("\r", "\n")}`), "A plain sentence."]);
  assert.equal(ws.getRow(1).getCell(4).value, "'-neg");
  assert.equal(ws.getRow(2).getCell(1).value, 1);
  const sum = wb.getWorksheet("summary")!;
  const cells: unknown[] = [];
  sum.eachRow((row) => {
    cells.push(row.getCell(1).value, row.getCell(2).value);
  });
  assert.ok(cells.includes("'-neg") && cells.includes("'=evil.txt"));
});
