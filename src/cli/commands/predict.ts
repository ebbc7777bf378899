/** `gotune predict`: label probabilities for texts, or per sentence of a document with a summary and a pie. */
import type { Command } from "commander";
import { Classifier, PREDICT_DEFAULTS } from "../../inference/classifier.js";
import { documentJob } from "../../jobs/document.js";
import type { Dtype } from "../../native/index.js";
import { runCommand, UserError } from "../../util/errors.js";
import { batchProgress } from "../../util/progress.js";
import { dtypeOption, maxLengthOption, positiveInt } from "../options.js";

interface PredictOptions {
  model: string;
  json?: boolean;
  logits?: boolean;
  file?: string;
  out?: string;
  batchSize: number;
  maxLength?: number;
  dtype: Dtype;
}

/** Adds `predict` to the program. */
export function register(program: Command): void {
  program
    .command("predict")
    .summary("Classify texts, or a document sentence by sentence")
    .description(
      "Classify texts with a fine-tuned model: the probability of each label (config.json's id2label) per " +
        "text. With --file DOC.txt, split the document into sentences and write a per-sentence table " +
        "(CSV and XLSX), the mean probability per label (printed and in a JSON summary) and a pie chart " +
        "(PNG and SVG) beside the document, or in --out.",
    )
    .argument("[text...]", "the texts to classify (or give --file)")
    .requiredOption(
      "--model <dir|id>",
      "model folder (e.g. written by gotune train) or Hugging Face model id",
    )
    .option(
      "--json",
      "one JSON object a line: text, probabilities (label -> p), label; with --file, the summary",
    )
    .option("--logits", "also give the raw logits (label -> logit)")
    .option("--file <doc>", "a UTF-8 text document to classify sentence by sentence")
    .option("--out <dir>", "where the document's outputs go (default: the document's folder)")
    .option("--batch-size <n>", "texts per forward pass", positiveInt, PREDICT_DEFAULTS.batchSize)
    .option(dtypeOption.flags, dtypeOption.description, dtypeOption.parse, dtypeOption.default)
    .addOption(maxLengthOption("per text"))
    .action((texts: string[], opts: PredictOptions) =>
      runCommand(() => (opts.file !== undefined ? predictFile(texts, opts) : predictTexts(texts, opts))),
    );
}

const byLabel = (labels: string[], row: Float32Array) =>
  Object.fromEntries(labels.map((l, j) => [l, row[j]!]));

async function predictTexts(texts: string[], opts: PredictOptions): Promise<void> {
  if (texts.length === 0)
    throw new UserError("no texts to classify", {
      hint: 'give texts (gotune predict --model DIR "a text") or --file DOC.txt',
    });
  if (opts.out !== undefined) throw new UserError("--out goes with --file", { hint: "give --file DOC.txt" });
  const clf = await Classifier.load(opts.model, { dtype: opts.dtype });
  const bar = batchProgress("predict");
  const { probs, logits } = clf.predictProba(texts, {
    batchSize: opts.batchSize,
    maxLength: opts.maxLength,
    onBatch: bar.onBatch,
  });
  bar.done();
  const L = clf.labels.length;
  const pred = clf.argmax(probs);
  const row = (a: Float32Array, i: number) => a.subarray(i * L, (i + 1) * L);
  if (opts.json) {
    const lines = texts.map((text, i) =>
      JSON.stringify({
        text,
        probabilities: byLabel(clf.labels, row(probs, i)),
        label: clf.labels[pred[i]!],
        ...(opts.logits ? { logits: byLabel(clf.labels, row(logits, i)) } : {}),
      }),
    );
    process.stdout.write(`${lines.join("\n")}\n`);
    return;
  }
  const width = clf.labels.map((l) => Math.max(l.length, 8));
  const short = (t: string) => (t.length > 48 ? `${t.slice(0, 47)}…` : t);
  const textW = Math.max(4, ...texts.map((t) => short(t).length));
  const cells = (vals: string[]) => vals.map((v, j) => v.padStart(width[j]!)).join("  ");
  const lines = [`${"text".padEnd(textW)}  ${cells(clf.labels)}  predicted`];
  texts.forEach((t, i) => {
    const p = Array.from(row(probs, i), (x) => x.toFixed(4));
    lines.push(`${short(t).padEnd(textW)}  ${cells(p)}  ${clf.labels[pred[i]!]}`);
    if (opts.logits)
      lines.push(`${"  logits".padEnd(textW)}  ${cells(Array.from(row(logits, i), (x) => x.toFixed(4)))}`);
  });
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function predictFile(texts: string[], opts: PredictOptions): Promise<void> {
  const doc = opts.file!;
  if (texts.length > 0)
    throw new UserError("give texts or --file, not both", {
      hint: `e.g. gotune predict --model DIR --file ${doc}`,
    });
  if (opts.logits) throw new UserError("--logits goes with texts, not --file", { hint: "drop --logits" });
  const { table, summary, files } = await documentJob({
    model: opts.model,
    doc,
    out: opts.out,
    dtype: opts.dtype,
    batchSize: opts.batchSize,
    maxLength: opts.maxLength,
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const w = Math.max(...table.labels.map((l) => l.length));
  const lines = [`${doc}: ${table.sentences.length} sentences`, "mean probability per label:"];
  for (const l of table.labels) lines.push(`  ${l.padEnd(w)}  ${table.mean[l]!.toFixed(4)}`);
  lines.push("wrote:");
  for (const f of Object.values(files)) lines.push(`  ${f}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
