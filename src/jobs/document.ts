/** The study's application to a paper: split a document into sentences, classify each, summarise. */
import { promises as fsp } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { meanProbabilityPie } from "../figures/pie.js";
import { argmaxRows, type Classifier, type PredictOptions } from "../inference/classifier.js";
import { type Sentence, splitSentences } from "../inference/sentences.js";
import { UserError } from "../util/errors.js";
import { assertReadable, writeFileAtomic } from "../util/fsx.js";
import { type SentenceTable, writeCsv, writeXlsx } from "./tables.js";

/** What `classifyDocument` wrote, by kind. */
export interface DocumentOutputs {
  csv: string;
  xlsx: string;
  summary: string;
  pieSvg: string;
  piePng: string;
}

/** Reads a UTF-8 text document and classifies each of its sentences. */
export async function predictDocument(
  clf: Classifier,
  path: string,
  opts: PredictOptions = {},
): Promise<SentenceTable> {
  await assertReadable(path, "document");
  const bytes = await fsp.readFile(path);
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
    csv: at("predictions.csv"),
    xlsx: at("predictions.xlsx"),
    summary: at("summary.json"),
    pieSvg: at("pie.svg"),
    piePng: at("pie.png"),
  };
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
