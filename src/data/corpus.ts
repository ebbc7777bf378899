/**
 * The unlabelled corpus for masked-language-model pre-training: the train split's names, definitions,
 * synonyms and comments (the last two from the OBO release the split came from), plus any text files given. Terms of the test split
 * never enter it, so pre-training cannot see what fine-tuning is later scored on.
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { assertReadable, isFile, jsonlRecords, textLines } from "../util/fsx.js";
import { SPLIT_FILES } from "./examples.js";
import { parseOboFile } from "./obo.js";

/** What went into a corpus, for the log and the report. */
export interface CorpusCounts {
  train_terms: number;
  names: number;
  definitions: number;
  synonyms: number;
  comments: number;
  /** Train terms the OBO release holds (a term missing there contributes no synonyms). */
  terms_found_in_obo: number;
  extra_files: number;
  extra_texts: number;
  /** Texts dropped because the very same text was already in (a synonym equal to a name, say). */
  duplicates_dropped: number;
  texts: number;
  characters: number;
  obo: string | null;
}

/** A corpus: its texts, in a fixed order, and what they are. */
export interface Corpus {
  texts: string[];
  counts: CorpusCounts;
}

/** Where the corpus comes from. */
export interface CorpusOptions {
  /** A folder written by `gotune prepare` (train.jsonl, stats.json). */
  dataDir: string;
  /** The OBO release for synonyms and comments; undefined means the one recorded in DATA/stats.json; null: no synonyms. */
  obo?: string | null;
  /** More text files: one text a line, or JSONL (`.jsonl`/`.ndjson`) with a `text` field. */
  textFiles?: string[];
}

interface TrainLine {
  go_id?: unknown;
  name?: unknown;
  text?: unknown;
}

/** The OBO file `gotune prepare` read for this folder, from DATA/stats.json's source.file. */
export async function recordedObo(dataDir: string): Promise<string> {
  const statsPath = join(dataDir, SPLIT_FILES.stats);
  let stats: { source?: { file?: unknown } };
  try {
    stats = JSON.parse(await fsp.readFile(statsPath, "utf8"));
  } catch {
    throw new UserError("no readable stats.json to find the OBO release for synonyms", {
      file: statsPath,
      hint: "give the release with --obo FILE",
    });
  }
  const file = stats?.source?.file;
  if (typeof file !== "string" || file === "")
    throw new UserError("stats.json does not name its OBO release (source.file)", {
      file: statsPath,
      hint: "give the release with --obo FILE",
    });
  if (!(await isFile(file)))
    throw new UserError(`the OBO release ${file} recorded in stats.json is gone`, {
      file: statsPath,
      hint: "fetch it again (gotune fetch-go) or give the release with --obo FILE",
    });
  return file;
}

/** The texts of a file: one a line (blank lines skipped), or each JSONL line's `text`; streamed a line at a time. */
export async function readTextFile(path: string): Promise<string[]> {
  await assertReadable(path, "text file");
  const out: string[] = [];
  if (!/\.(jsonl|ndjson)$/i.test(path)) {
    for await (const [, line] of textLines(path)) if (line.trim() !== "") out.push(line.trim());
    return out;
  }
  for await (const [n, rec] of jsonlRecords(path)) {
    const text = (rec as { text?: unknown } | null)?.text;
    if (typeof text !== "string")
      throw new UserError("this JSON line has no string `text` field", {
        file: path,
        line: n,
        hint: 'e.g. {"text": "..."}',
      });
    if (text.trim() !== "") out.push(text.trim());
  }
  return out;
}

/** Reads DATA/train.jsonl's ids, names and definitions, checking each line. */
async function readTrain(dataDir: string): Promise<{ id: string; name: string; text: string }[]> {
  const path = join(dataDir, SPLIT_FILES.train);
  if (!(await isFile(path)))
    throw new UserError("no train.jsonl in this folder (no split)", {
      file: dataDir,
      hint: `run gotune prepare --obo FILE --out ${dataDir} first`,
    });
  const out: { id: string; name: string; text: string }[] = [];
  for await (const [line, r] of jsonlRecords<TrainLine | null>(path)) {
    if (!r || typeof r !== "object" || typeof r.go_id !== "string" || typeof r.text !== "string")
      throw new UserError("this line lacks a string `go_id` or `text`", {
        file: path,
        line,
        hint: "train.jsonl is written by gotune prepare; prepare the folder again",
      });
    out.push({ id: r.go_id, name: typeof r.name === "string" ? r.name : "", text: r.text });
  }
  return out;
}

/** Builds the pre-training corpus; texts are trimmed, non-empty and unique, in train-file order. */
export async function buildCorpus(opts: CorpusOptions): Promise<Corpus> {
  const train = await readTrain(opts.dataDir);
  const trainIds = new Set(train.map((t) => t.id));
  const obo = opts.obo === undefined ? await recordedObo(opts.dataDir) : opts.obo;
  const synonymsOf = new Map<string, string[]>();
  const commentOf = new Map<string, string>();
  let found = 0;
  if (obo !== null) {
    await assertReadable(obo, "OBO file");
    const doc = await parseOboFile(obo);
    for (const term of doc.terms) {
      if (!trainIds.has(term.id)) continue; // test terms (and terms outside the split) stay out
      found++;
      synonymsOf.set(
        term.id,
        term.synonyms.map((s) => s.text),
      );
      if (term.comment) commentOf.set(term.id, term.comment);
    }
  }
  const counts: CorpusCounts = {
    train_terms: train.length,
    names: 0,
    definitions: 0,
    synonyms: 0,
    comments: 0,
    terms_found_in_obo: found,
    extra_files: opts.textFiles?.length ?? 0,
    extra_texts: 0,
    duplicates_dropped: 0,
    texts: 0,
    characters: 0,
    obo,
  };
  const seen = new Set<string>();
  const texts: string[] = [];
  const add = (raw: string, kind: "names" | "definitions" | "synonyms" | "comments" | "extra_texts") => {
    const t = raw.trim();
    if (t === "") return;
    if (seen.has(t)) {
      counts.duplicates_dropped++;
      return;
    }
    seen.add(t);
    texts.push(t);
    counts[kind]++;
    counts.characters += t.length;
  };
  for (const t of train) {
    add(t.name, "names");
    add(t.text, "definitions");
    for (const s of synonymsOf.get(t.id) ?? []) add(s, "synonyms");
    const comment = commentOf.get(t.id);
    if (comment !== undefined) add(comment, "comments");
  }
  for (const f of opts.textFiles ?? []) for (const t of await readTextFile(f)) add(t, "extra_texts");
  counts.texts = texts.length;
  if (texts.length === 0)
    throw new UserError("the pre-training corpus is empty", {
      file: opts.dataDir,
      hint: "give a prepared folder with a non-empty train split, or text files with --text",
    });
  return { texts, counts };
}

/** One line for the log: what the corpus holds. */
export function corpusSummary(c: CorpusCounts): string {
  const fmt = (n: number) => n.toLocaleString("en-US");
  return (
    `corpus: ${fmt(c.texts)} texts (${fmt(c.characters)} characters) from ${fmt(c.train_terms)} train terms: ` +
    `${fmt(c.names)} names, ${fmt(c.definitions)} definitions, ${fmt(c.synonyms)} synonyms, ${fmt(c.comments ?? 0)} comments` +
    (c.extra_files ? `, ${fmt(c.extra_texts)} texts from ${c.extra_files} file(s)` : "") +
    (c.duplicates_dropped ? `; ${fmt(c.duplicates_dropped)} duplicates dropped` : "")
  );
}
