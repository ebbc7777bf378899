/**
 * annotate's output tables, written as streams: one row per sentence as JSON Lines and as Parquet (row
 * groups flushed as they fill, so memory stays flat), and one summary row per document as JSON Lines.
 */
import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { ParquetSchema, ParquetWriter } from "@dsnp/parquetjs";
import { UserError } from "../../util/errors.js";

/** One sentence's row; `p_<label>` columns hold the probabilities, `predicted` the most probable label. */
export interface SentenceRow {
  doc_id: string;
  sentence: number;
  start: number;
  end: number;
  section: string | null;
  text: string;
  [probability: `p_${string}`]: number;
  predicted: string;
}

/** One document's summary row. */
export interface DocumentRow {
  doc_id: string;
  /** 0-based position of the document in its input file. */
  index: number;
  /** The input file's name. */
  source: string;
  sentences: number;
  journal?: string;
  year?: number;
  mean_probability: Record<string, number> | null;
  predicted_counts: Record<string, number>;
  predicted: string | null;
}

/** Rows per Parquet row group by default: the most the writer buffers (about 12 MB of sentences). */
export const ROW_GROUP = 8192;

/** The probability column of a label. */
export const probColumn = (label: string): `p_${string}` => `p_${label}`;

/** Label names become column names: they must be plain words, and distinct. */
export function checkLabels(labels: string[], file: string): void {
  const bad = labels.find((l) => !/^[A-Za-z0-9_.-]{1,64}$/.test(l));
  if (bad !== undefined || new Set(labels).size !== labels.length)
    throw new UserError(
      bad !== undefined
        ? `the label "${bad.slice(0, 70)}" cannot name a column`
        : "two labels have the same name",
      { file, hint: "id2label's names must be distinct words of letters, digits, _ . or -" },
    );
}

/** The Parquet schema of the sentence table for `labels`. */
export function sentenceSchema(labels: string[]): ParquetSchema {
  const fields: Record<string, { type: string; optional?: boolean; compression?: string }> = {
    doc_id: { type: "UTF8" },
    sentence: { type: "INT32" },
    start: { type: "INT64" },
    end: { type: "INT64" },
    section: { type: "UTF8", optional: true },
    text: { type: "UTF8" },
  };
  for (const l of labels) fields[probColumn(l)] = { type: "FLOAT" };
  fields.predicted = { type: "UTF8" };
  for (const f of Object.values(fields)) f.compression = "SNAPPY";
  return new ParquetSchema(fields as ConstructorParameters<typeof ParquetSchema>[0]);
}

/** A JSON Lines file written through a stream that waits when the disk lags (memory stays flat). */
export class JsonlWriter {
  private readonly out: WriteStream;
  private failed: Error | undefined;

  constructor(readonly path: string) {
    this.out = createWriteStream(path);
    this.out.on("error", (e) => {
      this.failed = e;
    });
  }

  /** Appends one object as a line. */
  async write(row: object): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.out.write(`${JSON.stringify(row)}\n`)) await once(this.out, "drain");
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
  }

  /** Closes without caring about errors (on the way out of a failure). */
  abort(): void {
    this.out.destroy();
  }
}

/** The sentence table as JSON Lines and Parquet, in step. */
export class SentenceWriter {
  private constructor(
    private readonly jsonl: JsonlWriter,
    private readonly pq: ParquetWriter,
  ) {}

  /**
   * Opens both files (paths are the temporary names; the caller renames them when whole); `rowGroup` rows
   * are buffered before each Parquet row group is written.
   */
  static async open(
    jsonlPath: string,
    parquetPath: string,
    labels: string[],
    rowGroup = ROW_GROUP,
  ): Promise<SentenceWriter> {
    const pq = await ParquetWriter.openFile(sentenceSchema(labels), parquetPath, {
      rowGroupSize: rowGroup,
      // A row group is one page here, so the page index would repeat the row groups' statistics; its
      // objects are held until the footer is written, 19 of the 46 KB each row group keeps in memory.
      pageIndex: false,
    });
    pq.setMetadata("writer", "gotune annotate");
    pq.setMetadata("labels", JSON.stringify(labels));
    return new SentenceWriter(new JsonlWriter(jsonlPath), pq);
  }

  /** Appends one row to both files. */
  async write(row: SentenceRow): Promise<void> {
    await this.jsonl.write(row);
    await this.pq.appendRow(
      (row.section === null ? { ...row, section: undefined } : row) as Record<string, unknown>,
    );
  }

  /** Writes the last row group and the footer, and closes both. */
  async close(): Promise<void> {
    await this.jsonl.close();
    await this.pq.close();
  }

  /** Gives up on both files (their temporary names are removed by the caller). */
  abort(): void {
    this.jsonl.abort();
    const env = (this.pq as unknown as { envelopeWriter?: { close?: () => unknown } }).envelopeWriter;
    try {
      void env?.close?.();
    } catch {
      // already closed
    }
  }
}
