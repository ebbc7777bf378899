/**
 * `gotune annotate`: every sentence of a literature classified, streaming. Documents are read one at a
 * time, their sentences classified in chunks of a few batches, and rows written as they come, so memory
 * stays flat whatever the input size. Each input file's outputs are written under temporary names and
 * renamed into place whole; a completion marker then records the settings, so a killed run resumes with
 * the files it had not finished and a finished one is a no-op.
 */
import { promises as fsp } from "node:fs";
import { basename, join, resolve } from "node:path";
import { resolveModel } from "../../hf/hub.js";
import { readModelConfig } from "../../hf/model-folder.js";
import { BertTokenizer } from "../../hf/tokenizer.js";
import { Classifier, labelsOf, ownMaxLength } from "../../inference/classifier.js";
import { splitWithSpans } from "../../inference/sentences.js";
import { type Dtype, setThreads, usableDtype } from "../../native/index.js";
import { UserError } from "../../util/errors.js";
import { assertReadable, writeFileAtomic } from "../../util/fsx.js";
import { type Progress, progress } from "../../util/progress.js";
import { type Shard, shardOf, shardTag } from "./shard.js";
import { type Doc, type Format, formatOf, type JsonlFields, openText, readDocs, stemOf } from "./sources.js";
import {
  checkLabels,
  type DocumentRow,
  JsonlWriter,
  probColumn,
  type SentenceRow,
  SentenceWriter,
} from "./tables.js";

/** What annotate is asked to do. */
export interface AnnotateOptions {
  model: string;
  inputs: string[];
  out: string;
  format: Format;
  shard?: Shard;
  fields: JsonlFields;
  batchSize: number;
  /** Tokens a sentence (default: the model's own, ownMaxLength). */
  maxLength?: number;
  /** The encoder's products: fp32, bf16 or int8 (fp32, said in one line, where the CPU cannot). */
  dtype: Dtype;
  /** Kernel threads (default: all cores). */
  threads?: number;
  /** Rows per Parquet row group (default ROW_GROUP): what the Parquet writer buffers. */
  rowGroup?: number;
}

/** The settings that decide an output: a marker with other settings is another run's. */
export interface Settings {
  input: string;
  format: string;
  shard: string | null;
  model: string;
  labels: string[];
  max_length: number;
  dtype: string;
  fields: JsonlFields | null;
}

/** One input file's outputs, by kind, as file names inside OUT. */
export interface FileOutputs {
  sentences_jsonl: string;
  sentences_parquet: string;
  documents: string;
  marker: string;
}

/** A completion marker: the settings, the outputs and what they hold. */
export interface Marker extends Settings {
  version: 1;
  position: number;
  name: string;
  files: FileOutputs;
  documents: number;
  sentences: number;
  seconds: number;
}

/** The manifest a run writes last (OUT/annotate[.shard-I-of-N].json): every input's marker. */
export interface Manifest {
  version: 1;
  shard: string | null;
  model: string;
  labels: string[];
  inputs: Marker[];
  documents: number;
  sentences: number;
}

/** What a run did. */
export interface AnnotateSummary {
  out: string;
  manifest: string;
  files: number;
  annotated: number;
  skipped: number;
  documents: number;
  sentences: number;
  seconds: number;
  sentences_per_s: number;
  peak_rss_mb: number;
}

/** The manifest's file name for a shard. */
export function manifestName(shard: Shard | undefined): string {
  return shard ? `annotate.shard-${shardTag(shard)}.json` : "annotate.json";
}

function outputsOf(name: string): FileOutputs {
  return {
    sentences_jsonl: `${name}.sentences.jsonl`,
    sentences_parquet: `${name}.sentences.parquet`,
    documents: `${name}.documents.jsonl`,
    marker: `${name}.done.json`,
  };
}

const partial = (file: string) => `.${file}.partial`;

const sameSettings = (a: Settings, b: Settings) =>
  (Object.keys(b) as (keyof Settings)[]).every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));

/** The options with the length that runs. */
type Resolved = AnnotateOptions & { maxLength: number };

interface Plan {
  settings: Settings;
  position: number;
  name: string;
  files: FileOutputs;
  done?: Marker;
}

/** Reads a marker; undefined when there is none (or only a damaged one, which is redone). */
async function readMarker(path: string): Promise<Marker | undefined> {
  try {
    const m = JSON.parse(await fsp.readFile(path, "utf8")) as Marker;
    return m && m.version === 1 ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Works out each input's outputs and which are already done; a marker of other settings is a UserError. */
async function plan(o: Resolved, modelDir: string, labels: string[], dtype: Dtype): Promise<Plan[]> {
  if (o.inputs.length === 0)
    throw new UserError("no input files", {
      hint: "give --input FILE… (.txt, .jsonl, .xml, or .gz of them)",
    });
  const tag = shardTag(o.shard);
  const seen = new Map<string, string>();
  const plans: Plan[] = [];
  for (const [position, input] of o.inputs.entries()) {
    await assertReadable(input, "input file");
    const format = formatOf(input, o.format);
    const name = tag ? `${stemOf(input)}.shard-${tag}` : stemOf(input);
    const other = seen.get(name);
    if (other !== undefined)
      throw new UserError(`its outputs would be named like those of ${other} ("${name}")`, {
        file: input,
        hint: "give inputs distinct file names",
      });
    seen.set(name, input);
    const settings: Settings = {
      input: resolve(input),
      format,
      shard: o.shard ? `${o.shard.index}/${o.shard.count}` : null,
      model: modelDir,
      labels,
      max_length: o.maxLength,
      dtype,
      fields: format === "jsonl" ? o.fields : null,
    };
    const files = outputsOf(name);
    const marker = await readMarker(join(o.out, files.marker));
    if (marker && !sameSettings(marker, settings)) {
      const diff = (Object.keys(settings) as (keyof Settings)[]).filter(
        (k) => JSON.stringify(marker[k]) !== JSON.stringify(settings[k]),
      );
      throw new UserError(`holds the outputs of a run with another ${diff.join(", ")}`, {
        file: join(o.out, files.marker),
        hint: "give another --out, or delete that run's outputs to redo them",
      });
    }
    plans.push({ settings, position, name, files, done: marker });
  }
  return plans;
}

/** Runs annotate: every input not yet done, then the manifest. */
export async function annotate(o: AnnotateOptions): Promise<AnnotateSummary> {
  const t0 = performance.now();
  const modelDir = resolve(await resolveModel(o.model, "model"));
  const { config } = await readModelConfig(modelDir);
  const labels = labelsOf(config.id2label, join(modelDir, "config.json"));
  checkLabels(labels, join(modelDir, "config.json"));
  // The dtype that will run is the one the markers record: a fallback to fp32 is an fp32 run.
  const dtype = usableDtype(o.dtype, (line) => process.stderr.write(`${line}\n`));
  // The length that will run is the one the markers record, so a default and its number are one setting.
  const maxLength =
    o.maxLength ??
    ownMaxLength(
      (await BertTokenizer.fromFolder(modelDir)).spec.modelMaxLength,
      config.max_position_embeddings,
    );
  const r: Resolved = { ...o, maxLength };
  const plans = await plan(r, modelDir, labels, dtype);
  await fsp.mkdir(o.out, { recursive: true });
  const todo = plans.filter((p) => !p.done);
  let stats = { documents: 0, sentences: 0 };
  if (todo.length) {
    if (o.threads !== undefined) setThreads(o.threads);
    const clf = await Classifier.load(modelDir, { dtype });
    const sizes = await Promise.all(todo.map(async (p) => (await fsp.stat(p.settings.input)).size));
    const bar = progress("annotate MB", sizes.reduce((a, b) => a + b, 0) / 1e6, ["sentences/s"]);
    const run = { bar, t0: performance.now(), sentences: 0 };
    try {
      for (const p of todo) {
        const m = await annotateFile(clf, p, r, run);
        p.done = m;
        stats = { documents: stats.documents + m.documents, sentences: stats.sentences + m.sentences };
      }
    } finally {
      bar.done();
    }
  }
  const markers = plans.map((p) => p.done!);
  const manifest: Manifest = {
    version: 1,
    shard: o.shard ? `${o.shard.index}/${o.shard.count}` : null,
    model: modelDir,
    labels,
    inputs: markers,
    documents: markers.reduce((s, m) => s + m.documents, 0),
    sentences: markers.reduce((s, m) => s + m.sentences, 0),
  };
  const manifestPath = join(o.out, manifestName(o.shard));
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  const old = await fsp.readFile(manifestPath, "utf8").catch(() => undefined);
  if (old !== text) await writeFileAtomic(manifestPath, text);
  const seconds = (performance.now() - t0) / 1000;
  return {
    out: o.out,
    manifest: manifestPath,
    files: plans.length,
    annotated: todo.length,
    skipped: plans.length - todo.length,
    ...stats,
    seconds,
    sentences_per_s: stats.sentences / seconds,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
}

/** A document being annotated: its running sums for the summary row. */
interface DocState {
  doc: Doc;
  sentences: number;
  sum: Float64Array;
  counts: number[];
}

/** Queued work, in input order: a sentence awaiting its probabilities, or a document's end. */
type Item =
  | { doc: DocState; sentence: number; start: number; end: number; section: string | null; text: string }
  | { doc: DocState; end: "doc" };

interface RunState {
  bar: Progress;
  t0: number;
  sentences: number;
}

/** Annotates one input file into temporary files, renames them into place, then writes its marker. */
async function annotateFile(clf: Classifier, p: Plan, o: Resolved, run: RunState): Promise<Marker> {
  const t0 = performance.now();
  const at = (f: string) => join(o.out, f);
  const tmp = {
    jsonl: at(partial(p.files.sentences_jsonl)),
    parquet: at(partial(p.files.sentences_parquet)),
    docs: at(partial(p.files.documents)),
  };
  const L = clf.labels.length;
  const cols = clf.labels.map(probColumn);
  const source = basename(p.settings.input);
  const want = o.shard ? (id: string) => shardOf(id, o.shard!.count) === o.shard!.index : () => true;
  const chunk = o.batchSize * 8;
  const input = await openText(p.settings.input);
  const sentences = await SentenceWriter.open(tmp.jsonl, tmp.parquet, clf.labels, o.rowGroup);
  const documents = new JsonlWriter(tmp.docs);
  let queue: Item[] = [];
  let queued = 0;
  let nDocs = 0;
  let nSentences = 0;
  let bytes = 0;

  const finishDoc = async (d: DocState) => {
    const mean = d.sentences
      ? Object.fromEntries(clf.labels.map((l, j) => [l, d.sum[j]! / d.sentences]))
      : null;
    let best: string | null = null;
    if (d.sentences) {
      let j = 0;
      for (let k = 1; k < L; k++) if (d.sum[k]! > d.sum[j]!) j = k;
      best = clf.labels[j]!;
    }
    const row: DocumentRow = {
      doc_id: d.doc.id,
      index: d.doc.index,
      source,
      sentences: d.sentences,
      ...(d.doc.meta.journal !== undefined ? { journal: d.doc.meta.journal } : {}),
      ...(d.doc.meta.year !== undefined ? { year: d.doc.meta.year } : {}),
      mean_probability: mean,
      predicted_counts: Object.fromEntries(clf.labels.map((l, j) => [l, d.counts[j]!])),
      predicted: best,
    };
    await documents.write(row);
    nDocs++;
  };

  const flush = async () => {
    const items = queue;
    queue = [];
    queued = 0;
    const texts: string[] = [];
    for (const it of items) if ("text" in it) texts.push(it.text);
    const { probs } = clf.predictProba(texts, { batchSize: o.batchSize, maxLength: o.maxLength });
    const pred = clf.argmax(probs);
    let i = 0;
    for (const it of items) {
      if (!("text" in it)) {
        await finishDoc(it.doc);
        continue;
      }
      const row = {
        doc_id: it.doc.doc.id,
        sentence: it.sentence,
        start: it.start,
        end: it.end,
        section: it.section,
        text: it.text,
      } as SentenceRow;
      for (let j = 0; j < L; j++) {
        const v = probs[i * L + j]!;
        row[cols[j]!] = v;
        it.doc.sum[j]! += v;
      }
      row.predicted = clf.labels[pred[i]!]!;
      it.doc.counts[pred[i]!]!++;
      await sentences.write(row);
      i++;
    }
    nSentences += texts.length;
    run.sentences += texts.length;
    const now = input.bytesRead();
    const secs = (performance.now() - run.t0) / 1000;
    run.bar.tick((now - bytes) / 1e6, { "sentences/s": secs > 0 ? Math.round(run.sentences / secs) : 0 });
    bytes = now;
  };

  try {
    for await (const doc of readDocs(
      p.settings.input,
      p.settings.format as Exclude<Format, "auto">,
      input,
      want,
      o.fields,
    )) {
      const d: DocState = { doc, sentences: 0, sum: new Float64Array(L), counts: new Array(L).fill(0) };
      for await (const block of doc.blocks) {
        for (const s of splitWithSpans(block.text)) {
          queue.push({
            doc: d,
            sentence: d.sentences++,
            start: block.offset + s.start,
            end: block.offset + s.end,
            section: block.section,
            text: s.text,
          });
          if (++queued >= chunk) await flush();
        }
      }
      queue.push({ doc: d, end: "doc" });
      // Documents without sentences still count toward a flush, so the queue stays bounded.
      if (++queued >= chunk) await flush();
    }
    await flush();
    await sentences.close();
    await documents.close();
  } catch (err) {
    sentences.abort();
    documents.abort();
    await Promise.all(Object.values(tmp).map((f) => fsp.rm(f, { force: true })));
    throw err;
  }
  // Whole files only under their final names; the marker last, so its presence means all are there.
  await fsp.rename(tmp.jsonl, at(p.files.sentences_jsonl));
  await fsp.rename(tmp.parquet, at(p.files.sentences_parquet));
  await fsp.rename(tmp.docs, at(p.files.documents));
  const marker: Marker = {
    version: 1,
    ...p.settings,
    position: p.position,
    name: p.name,
    files: p.files,
    documents: nDocs,
    sentences: nSentences,
    seconds: Math.round((performance.now() - t0) / 10) / 100,
  };
  await writeFileAtomic(at(p.files.marker), `${JSON.stringify(marker, null, 2)}\n`);
  return marker;
}
