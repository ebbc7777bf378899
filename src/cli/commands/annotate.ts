/** `gotune annotate`: classify every sentence of a literature (text, JSONL, PubMed XML), streaming, sharded. */
import type { Command } from "commander";
import { PREDICT_DEFAULTS } from "../../inference/classifier.js";
import { annotate } from "../../jobs/annotate/annotate.js";
import { parseShard, type Shard } from "../../jobs/annotate/shard.js";
import { FORMATS, type Format } from "../../jobs/annotate/sources.js";
import { ROW_GROUP } from "../../jobs/annotate/tables.js";
import type { Dtype } from "../../native/index.js";
import { runCommand } from "../../util/errors.js";
import { dtypeOption, maxLengthOption, oneOf, positiveInt, wholeNumber } from "../options.js";

interface AnnotateCliOptions {
  model: string;
  input: string[];
  out: string;
  format: Format;
  shard?: Shard;
  idField: string;
  textField: string;
  batchSize: number;
  maxLength?: number;
  dtype: Dtype;
  threads?: number;
  rowGroup: number;
  json?: boolean;
}

/** Adds `annotate` to the program. */
export function register(program: Command): void {
  program
    .command("annotate")
    .summary("Classify every sentence of a literature, streaming")
    .description(
      "Classify every sentence of a literature with a fine-tuned model, streaming: plain text (one " +
        "document a file), JSON Lines (one document a line: an id and a text) or PubMed XML " +
        "(PubmedArticleSet: PMID, title, abstract sections, journal, year), each gzipped or not. For each " +
        "input OUT gets NAME.sentences.jsonl and .parquet (doc_id, sentence, start, end, section, text, " +
        "p_LABEL per label, predicted), NAME.documents.jsonl (a summary row per document) and a completion " +
        "marker NAME.done.json; then annotate[.shard-I-of-N].json lists them all. Outputs appear whole or " +
        "not at all; rerunning a killed run redoes only the files it had not finished, and rerunning a " +
        "finished one does nothing.",
    )
    .requiredOption("--model <dir|id>", "a fine-tuned classifier folder (e.g. gotune run's OUT/model)")
    .requiredOption("--input <file...>", "input files: .txt, .jsonl, .xml, each optionally .gz")
    .requiredOption("--out <dir>", "the output folder")
    .option("--format <format>", "input format (auto: from the file name)", oneOf(FORMATS), "auto")
    .option(
      "--shard <I/N>",
      "annotate shard I of N only: the documents whose id hashes to I (SHA-256, first 4 bytes mod N, + 1)",
      parseShard,
    )
    .option("--id-field <name>", "JSONL: the field holding the document id", "id")
    .option("--text-field <name>", "JSONL: the field holding the text", "text")
    .option("--batch-size <n>", "sentences per forward pass", positiveInt, PREDICT_DEFAULTS.batchSize)
    .addOption(maxLengthOption("per sentence"))
    .option(dtypeOption.flags, dtypeOption.description, dtypeOption.parse, dtypeOption.default)
    .option("--threads <n>", "kernel threads (default: all cores)", wholeNumber(1, 1024))
    .option(
      "--row-group <n>",
      "sentences per Parquet row group, the most buffered before writing (fewer: less memory, more metadata)",
      wholeNumber(64, 1 << 20),
      ROW_GROUP,
    )
    .option("--json", "print the run's summary as one JSON object")
    .action((opts: AnnotateCliOptions) =>
      runCommand(async () => {
        const s = await annotate({
          model: opts.model,
          inputs: opts.input,
          out: opts.out,
          format: opts.format,
          shard: opts.shard,
          fields: { idField: opts.idField, textField: opts.textField },
          batchSize: opts.batchSize,
          maxLength: opts.maxLength,
          dtype: opts.dtype,
          threads: opts.threads,
          rowGroup: opts.rowGroup,
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(s)}\n`);
          return;
        }
        const what =
          s.annotated === 0
            ? `all ${s.files} input file${s.files === 1 ? " was" : "s were"} already annotated: nothing to do`
            : `annotated ${s.annotated} file${s.annotated === 1 ? "" : "s"} (${s.skipped} already done): ` +
              `${s.documents.toLocaleString("en-US")} documents, ${s.sentences.toLocaleString("en-US")} ` +
              `sentences in ${s.seconds.toFixed(1)} s (${Math.round(s.sentences_per_s)} sentences/s)`;
        process.stdout.write(`${what}\nmanifest: ${s.manifest}\n`);
      }),
    );
}
