/**
 * The JSONL run log (OUT/log.jsonl, OUT/pretrain_log.jsonl): one JSON object a line, written by the
 * training loop as it goes and read back, typed, for resumes, figures and summaries. This module is its
 * only writer and reader; the jobs own the file names.
 */
import { closeSync, promises as fsp, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { isFile, textLines, writeFileAtomic } from "../util/fsx.js";

/** One optimiser step. */
export interface TrainRecord {
  type: "train";
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  examples_per_s: number;
}

/** An evaluation: fine-tuning's metrics after an epoch, or pre-training's held-out MLM loss. */
export interface EvalRecord {
  type: "eval";
  step: number;
  epoch?: number;
  accuracy?: number;
  macro_f1?: number;
  held_out_mlm_loss?: number;
  [metric: string]: unknown;
}

/** A checkpoint written. */
export interface CheckpointRecord {
  type: "checkpoint";
  step: number;
  epoch: number;
  path: string;
}

/** Any other line (pre-training's corpus, vocabulary, sequences and summary records). */
export interface OtherRecord {
  type: string;
  step?: number;
  [key: string]: unknown;
}

/** A line of the run log. */
export type RunRecord = TrainRecord | EvalRecord | CheckpointRecord | OtherRecord;

/** The records of a run log, in order; a missing file is empty and a line cut short by a kill is skipped. */
export async function readRunLog(path: string): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  if (!(await isFile(path))) return out;
  for await (const [, line] of textLines(path)) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as RunRecord;
      if (r && typeof r === "object" && typeof r.type === "string") out.push(r);
    } catch {
      // a line cut short by a kill
    }
  }
  return out;
}

/** The step records of a log. */
export const trainRecords = (log: readonly RunRecord[]): TrainRecord[] =>
  log.filter((r): r is TrainRecord => r.type === "train");

/** The evaluation records of a log. */
export const evalRecords = (log: readonly RunRecord[]): EvalRecord[] =>
  log.filter((r): r is EvalRecord => r.type === "eval");

const lineOf = (r: RunRecord) => `${JSON.stringify(r)}\n`;

/** Replaces a whole run log (atomically) with `records`. */
export async function writeRunLog(path: string, records: readonly RunRecord[]): Promise<void> {
  await writeFileAtomic(path, records.map(lineOf).join(""));
}

/** Appends records one synchronous write a line, so a kill loses at most the line being written. */
export interface RunLogWriter {
  (record: RunRecord): void;
  close(): void;
}

/**
 * Opens a run log for appending. A resumed run (`keepUpTo` = its checkpoint's step) first drops the
 * lines past that step, which it will redo, and lines without a step; a fresh run starts it empty.
 */
export async function openRunLog(path: string, keepUpTo: number | undefined): Promise<RunLogWriter> {
  await fsp.mkdir(dirname(path), { recursive: true });
  const kept =
    keepUpTo === undefined
      ? []
      : (await readRunLog(path)).filter((r) => typeof r.step === "number" && r.step <= keepUpTo);
  await writeRunLog(path, kept);
  const fd = openSync(path, "a");
  const write = ((record: RunRecord) => {
    writeSync(fd, lineOf(record));
  }) as RunLogWriter;
  write.close = () => closeSync(fd);
  return write;
}
