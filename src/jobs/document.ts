/** The study's application to a paper: split a document into sentences, classify each, summarise. */
import { basename, dirname, extname, join } from "node:path";
import { meanProbabilityPie } from "../figures/pie.js";
import { argmaxRows, Classifier, type PredictOptions } from "../inference/classifier.js";
import { type Sentence, splitSentences } from "../inference/sentences.js";
import type { Dtype } from "../native/index.js";
import { UserError } from "../util/errors.js";
import { assertReadable, readBoundedFile, writeFileAtomic } from "../util/fsx.js";
import { batchProgress } from "../util/progress.js";
import { type SentenceTable, writeCsv, writeXlsx } from "./tables.js";

/** The files written for a document NAME.txt: NAME + each suffix, beside it or in the folder given. */
export const DOCUMENT_OUTPUTS = {
  csv: "predictions.csv",
  xlsx: "predictions.xlsx",
  summary: "summary.json",
  pieSvg: "pie.svg",
  piePng: "pie.png",
} as const;

/** What `writeDocumentOutputs` wrote, by kind. */
export interface DocumentOutputs {
  csv: string;
  xlsx: string;
  summary: string;
  pieSvg: string;
  piePng: string;
}

/**
 * Largest document `predict --file` reads: its table, CSV and workbook are built in memory, so it is
 * capped (8 MiB is some 4,000 pages); `gotune annotate` streams inputs of any size.
 */
export const MAX_DOCUMENT_BYTES = 8 << 20;

/** Reads a UTF-8 text document (at most MAX_DOCUMENT_BYTES) and classifies each of its sentences. */
export async function predictDocument(
  clf: Classifier,
  path: string,
  opts: PredictOptions = {},
): Promise<SentenceTable> {
  await assertReadable(path, "document");
  const bytes = await readBoundedFile(
    path,
    MAX_DOCUMENT_BYTES,
    "document",
    "split it, or classify it with gotune annotate, which streams inputs of any size",
  );
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UserError("is not UTF-8 text", {
      file: path,
      hint: "give a plain-text (.txt) document in UTF-8",
    });
  }
  const sentences = splitSentences(text);
  if (sentences.length === 0)
    throw new UserError("the document holds no sentences (it is empty or blank)", {
      file: path,
      hint: "give a text document with at least one sentence",
    });
  const { probs } = clf.predictProba(
    sentences.map((s) => s.text),
    opts,
  );
  return sentenceTable(clf.labels, sentences, probs);
}

/** The table of sentences classified elsewhere (e.g. by the server's batched passes): argmax and means. */
export function sentenceTable(labels: string[], sentences: Sentence[], probs: Float32Array): SentenceTable {
  const L = labels.length;
  const mean: Record<string, number> = {};
  labels.forEach((l, j) => {
    let s = 0;
    for (let i = 0; i < sentences.length; i++) s += probs[i * L + j]!;
    mean[l] = s / sentences.length;
  });
  return { labels, sentences, probs, predicted: argmaxRows(probs, L), mean };
}

/** The output paths for a document: OUT/NAME.predictions.csv and so on, OUT defaulting to its folder. */
export function outputPaths(doc: string, outDir?: string): DocumentOutputs {
  const stem = basename(doc, extname(doc));
  const at = (suffix: string) => join(outDir ?? dirname(doc), `${stem}.${suffix}`);
  return {
    csv: at(DOCUMENT_OUTPUTS.csv),
    xlsx: at(DOCUMENT_OUTPUTS.xlsx),
    summary: at(DOCUMENT_OUTPUTS.summary),
    pieSvg: at(DOCUMENT_OUTPUTS.pieSvg),
    piePng: at(DOCUMENT_OUTPUTS.piePng),
  };
}

/** `gotune predict --file`: which model, which document, where its outputs go, how to batch. */
export interface DocumentJobOptions {
  model: string;
  doc: string;
  /** The outputs' folder (default: the document's). */
  out?: string;
  dtype?: Dtype;
  batchSize?: number;
  maxLength?: number;
}

/** Loads the model, classifies the document's sentences (with a progress bar) and writes its outputs. */
export async function documentJob(
  o: DocumentJobOptions,
): Promise<{ table: SentenceTable; summary: Record<string, unknown>; files: DocumentOutputs }> {
  const clf = await Classifier.load(o.model, { dtype: o.dtype });
  const bar = batchProgress("predict");
  const table = await predictDocument(clf, o.doc, {
    batchSize: o.batchSize,
    maxLength: o.maxLength,
    onBatch: bar.onBatch,
  });
  bar.done();
  const files = outputPaths(o.doc, o.out);
  const summary = await writeDocumentOutputs(table, o.doc, clf.dir ?? o.model, files);
  return { table, summary, files };
}

/** Writes the table (CSV, XLSX), the summary JSON and the pie (SVG, PNG); returns the summary. */
export async function writeDocumentOutputs(
  t: SentenceTable,
  doc: string,
  model: string,
  out: DocumentOutputs,
): Promise<Record<string, unknown>> {
  const counts: Record<string, number> = Object.fromEntries(t.labels.map((l) => [l, 0]));
  for (const p of t.predicted) counts[t.labels[p]!]!++;
  const summary = {
    document: doc,
    model,
    sentences: t.sentences.length,
    mean_probability: t.mean,
    predicted_counts: counts,
    files: out,
  };
  await writeCsv(out.csv, t);
  await writeXlsx(out.xlsx, t, doc);
  const n = t.sentences.length;
  const fig = await meanProbabilityPie(t.mean, `${basename(doc)}: ${n} sentence${n === 1 ? "" : "s"}`);
  await writeFileAtomic(out.pieSvg, fig.svg);
  await writeFileAtomic(out.piePng, fig.png);
  await writeFileAtomic(out.summary, `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
