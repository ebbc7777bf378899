/**
 * The one reader of labelled examples (a text and its GO aspect) for every command: JSON Lines or CSV,
 * each line checked, errors naming the file and line.
 */
import { promises as fsp } from "node:fs";
import { extname, join } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { shown, UserError } from "../util/errors.js";
import { assertReadable, jsonlRecords, readBoundedFile } from "../util/fsx.js";
import { Rng } from "../util/rng.js";

import { ASPECTS, type Aspect } from "./terms.js";

export { ASPECTS };

/** One labelled example; `id` is the GO id when the source has one. */
export interface Example {
  id?: string;
  text: string;
  label: number;
}

/** The train and test splits written by `gotune prepare`. */
export interface Split {
  train: Example[];
  test: Example[];
}

/** Largest examples file read (GO's whole train split is about 10 MB), and its longest JSON line. */
export const MAX_EXAMPLES_BYTES = 256 << 20;
export const MAX_EXAMPLE_LINE = 1 << 20;

/** Reads labelled examples from a .jsonl or .csv file (by extension; otherwise by the first character). */
export async function readExamples(path: string): Promise<Example[]> {
  await assertReadable(path);
  const ext = extname(path).toLowerCase();
  let isJsonl = ext === ".jsonl" || ext === ".ndjson" || ext === ".json";
  let raw: string | undefined;
  if (!isJsonl) {
    // CSV records may span lines, so a CSV is parsed whole: its size is checked before it is read.
    raw = (await readBoundedFile(path, MAX_EXAMPLES_BYTES, "examples file")).toString("utf8");
    isJsonl = ext !== ".csv" && raw.trimStart().startsWith("{");
  }
  const examples = isJsonl ? await fromJsonl(path) : fromCsv(raw!, path);
  if (examples.length === 0)
    throw new UserError("holds no examples", {
      file: path,
      hint: "give a file with at least one labelled text",
    });
  return examples;
}

/** A split folder's files, as the prepare job writes them and the data layer reads them. */
export const SPLIT_FILES = { train: "train.jsonl", test: "test.jsonl", stats: "stats.json" } as const;

/** Reads DIR/train.jsonl and DIR/test.jsonl; a missing split says to run `gotune prepare` first. */
export async function loadSplit(dir: string): Promise<Split> {
  const names = [SPLIT_FILES.train, SPLIT_FILES.test] as const;
  for (const name of names) {
    const path = join(dir, name);
    const st = await fsp.stat(path).catch(() => undefined);
    if (!st?.isFile())
      throw new UserError(`no ${name} in this folder (no split)`, {
        file: dir,
        hint: `run gotune prepare --obo FILE --out ${dir} first`,
      });
  }
  const [train, test] = await Promise.all(names.map((n) => readExamples(join(dir, n))));
  return { train: train!, test: test! };
}

/** The first `n` examples after a seeded shuffle (the study's `.shuffle(seed).select(range(n))`); all if n is undefined or larger. */
export function takeShuffled<T>(examples: readonly T[], n: number | undefined, seed: number): T[] {
  const order = new Rng(seed).shuffle(Array.from(examples.keys()));
  const k = n === undefined ? examples.length : Math.min(n, examples.length);
  return order.slice(0, k).map((i) => examples[i]!);
}

async function fromJsonl(path: string): Promise<Example[]> {
  const out: Example[] = [];
  const limits = { maxLine: MAX_EXAMPLE_LINE, maxBytes: MAX_EXAMPLES_BYTES };
  for await (const [line, rec] of jsonlRecords(path, limits)) {
    if (rec === null || typeof rec !== "object" || Array.isArray(rec))
      throw new UserError("this line is not a JSON object", {
        file: path,
        line,
        hint: 'each line must look like {"text": "...", "label": 0}',
      });
    out.push(toExample(rec as Record<string, unknown>, path, line));
  }
  return out;
}

function fromCsv(raw: string, path: string): Example[] {
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parseCsv(raw, { columns: true, bom: true, info: true, skip_empty_lines: true }) as typeof rows;
  } catch (err) {
    const e = err as { message?: string; lines?: number };
    throw new UserError(`not readable as CSV (${(e.message ?? String(err)).replace(/\s+/g, " ")})`, {
      file: path,
      line: e.lines,
      hint: "give a CSV file with a header row, or a .jsonl file",
    });
  }
  const header = rows[0] ? Object.keys(rows[0].record) : [];
  if (rows.length > 0 && !header.includes("text") && !header.includes("definition"))
    throw new UserError("the CSV header has no `text` or `definition` column", {
      file: path,
      line: 1,
      hint: "name the text column `text` (or `definition`)",
    });
  if (rows.length > 0 && !header.includes("label") && !header.includes("aspect"))
    throw new UserError("the CSV header has no `label` or `aspect` column", {
      file: path,
      line: 1,
      hint: "add a `label` column (0, 1, 2) or an `aspect` column (the aspect's name)",
    });
  // csv-parse counts lines up to a record's end; a record spanning lines is reported at its last line.
  return rows.map(({ record, info }) => toExample(record, path, info.lines));
}

function toExample(rec: Record<string, unknown>, file: string, line: number): Example {
  const text = rec.text ?? rec.definition;
  if (typeof text !== "string" || text.trim() === "")
    throw new UserError("missing text (no non-empty `text` or `definition` field)", {
      file,
      line,
      hint: "give every example its text",
    });
  const fromLabel = parseLabel(rec.label, file, line);
  const fromAspect = parseAspect(rec.aspect, file, line);
  if (fromLabel === undefined && fromAspect === undefined)
    throw new UserError("missing label (no `label` or `aspect` field)", {
      file,
      line,
      hint: `give a label 0, 1, 2 or an aspect name (${ASPECTS.join(", ")})`,
    });
  if (fromLabel !== undefined && fromAspect !== undefined && fromLabel !== fromAspect)
    throw new UserError(`label ${fromLabel} and aspect ${String(rec.aspect)} disagree`, {
      file,
      line,
      hint: `label ${fromAspect} is ${ASPECTS[fromAspect]}; fix one of them`,
    });
  const id = rec.go_id ?? rec.id;
  const ex: Example = { text, label: (fromLabel ?? fromAspect)! };
  if (typeof id === "string" && id !== "") ex.id = id;
  return ex;
}

// A label is 0, 1 or 2 (a number or a numeric string) or, as `gotune eval` accepts, an aspect's name.
function parseLabel(v: unknown, file: string, line: number): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "string" && ASPECTS.includes(v.trim() as Aspect))
    return ASPECTS.indexOf(v.trim() as Aspect);
  const n =
    typeof v === "number" ? v : typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n >= ASPECTS.length)
    throw new UserError(`label ${shown(v)} is not 0, 1, 2 or an aspect's name`, {
      file,
      line,
      hint: `labels are 0 ${ASPECTS[0]}, 1 ${ASPECTS[1]}, 2 ${ASPECTS[2]}`,
    });
  return n;
}

function parseAspect(v: unknown, file: string, line: number): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const i = typeof v === "string" ? ASPECTS.indexOf(v.trim() as Aspect) : -1;
  if (i < 0)
    throw new UserError(`unknown aspect ${shown(v)}`, {
      file,
      line,
      hint: `the aspects are ${ASPECTS.join(", ")}`,
    });
  return i;
}
