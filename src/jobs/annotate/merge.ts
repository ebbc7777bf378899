/**
 * `gotune annotate-merge`: the shards of an annotate run made one, in the order a single process would
 * have written them (input by input, document by document), with a summary and a report of the aspect
 * mix per year and per journal. Streams: each shard's files are read line by line, merged by document
 * position, and written as they come.
 */
import { promises as fsp } from "node:fs";
import { dirname, join } from "node:path";
import { aspectMixFigure, type GroupMix } from "../../figures/aspect-mix.js";
import { UserError } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fsx.js";
import { figure, para, type ReportSection, table, writeReport } from "../report.js";
import type { Manifest, Marker } from "./annotate.js";
import { lines, openText } from "./sources.js";
import { checkLabels, type DocumentRow, JsonlWriter, type SentenceRow, SentenceWriter } from "./tables.js";

/** What the merge wrote and counted. */
export interface MergeSummary {
  out: string;
  shards: number;
  model: string;
  labels: string[];
  inputs: string[];
  documents: number;
  sentences: number;
  predicted_counts: Record<string, number>;
  mean_probability: Record<string, number> | null;
  by_year: GroupStats[];
  by_journal: GroupStats[];
  files: Record<string, string>;
}

/** Documents, sentences and predicted labels of one year or journal. */
export interface GroupStats {
  group: string;
  documents: number;
  sentences: number;
  predicted_counts: Record<string, number>;
}

/** Journals shown in the report's figure and table (all are in summary.json). */
const TOP_JOURNALS = 20;

interface Loaded extends Manifest {
  path: string;
  index: number;
  count: number;
}

async function loadManifest(path: string): Promise<Loaded> {
  const hint = "give the annotate[.shard-I-of-N].json files gotune annotate wrote";
  let m: Manifest;
  try {
    m = JSON.parse(await fsp.readFile(path, "utf8")) as Manifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new UserError("no such manifest", { file: path, hint });
    throw new UserError("is not a JSON manifest", { file: path, hint });
  }
  if (m?.version !== 1 || !Array.isArray(m.inputs) || !Array.isArray(m.labels))
    throw new UserError("is not an annotate manifest (version 1)", { file: path, hint });
  const sm = m.shard === null ? ["", "1", "1"] : /^(\d+)\/(\d+)$/.exec(String(m.shard));
  if (!sm) throw new UserError(`has a bad shard "${String(m.shard).slice(0, 20)}"`, { file: path, hint });
  checkLabels(m.labels, path);
  // File names come from a file: plain names inside the manifest's folder only.
  for (const i of m.inputs)
    for (const f of Object.values(i?.files ?? {}))
      if (typeof f !== "string" || !/^[^/\\]+$/.test(f) || f.startsWith("."))
        throw new UserError(`names an output "${String(f).slice(0, 60)}" outside its folder`, {
          file: path,
          hint,
        });
  return { ...m, path, index: Number(sm[1]), count: Number(sm[2]) };
}

/** Checks the manifests are the N shards of one run: same model, labels and inputs, each shard once. */
function checkShards(ms: Loaded[]): void {
  const first = ms[0]!;
  const n = first.count;
  const hint = `give the manifests of all ${n} shards of one run, each once`;
  const key = (m: Loaded) => JSON.stringify(m.inputs.map((i) => [i.input, i.position, i.format]));
  for (const m of ms) {
    if (m.count !== n)
      throw new UserError(`is shard ${m.index} of ${m.count}, not of ${n}`, { file: m.path, hint });
    if (m.model !== first.model || JSON.stringify(m.labels) !== JSON.stringify(first.labels))
      throw new UserError(`comes from another model than ${first.path}`, { file: m.path, hint });
    if (key(m) !== key(first))
      throw new UserError(`lists other inputs than ${first.path}`, { file: m.path, hint });
  }
  const seen = new Set(ms.map((m) => m.index));
  if (seen.size !== ms.length) throw new UserError("a shard is given twice", { file: first.path, hint });
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length)
    throw new UserError(`shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${n} missing`, {
      hint,
    });
}

/** Running counts for the report. */
class Tally {
  readonly total: GroupStats = { group: "all", documents: 0, sentences: 0, predicted_counts: {} };
  readonly sum: Record<string, number> = {};
  readonly years = new Map<string, GroupStats>();
  readonly journals = new Map<string, GroupStats>();

  constructor(readonly labels: string[]) {
    for (const l of labels) {
      this.total.predicted_counts[l] = 0;
      this.sum[l] = 0;
    }
  }

  add(d: DocumentRow): void {
    const groups = [this.total];
    if (d.year !== undefined) groups.push(this.group(this.years, String(d.year)));
    if (d.journal !== undefined) groups.push(this.group(this.journals, d.journal));
    for (const g of groups) {
      g.documents++;
      g.sentences += d.sentences;
      for (const l of this.labels) g.predicted_counts[l]! += d.predicted_counts[l] ?? 0;
    }
    if (d.mean_probability) for (const l of this.labels) this.sum[l]! += d.mean_probability[l]! * d.sentences;
  }

  private group(map: Map<string, GroupStats>, key: string): GroupStats {
    let g = map.get(key);
    if (!g) {
      g = { group: key, documents: 0, sentences: 0, predicted_counts: {} };
      for (const l of this.labels) g.predicted_counts[l] = 0;
      map.set(key, g);
    }
    return g;
  }
}

/** A line reader over one shard file that names the file and line when a row is not what it should be. */
async function rowsOf<T>(path: string): Promise<{ next(): Promise<T | undefined> }> {
  const it = lines(path, (await openText(path)).chunks)[Symbol.asyncIterator]();
  return {
    async next() {
      for (;;) {
        const r = await it.next();
        if (r.done) return undefined;
        const [line, n] = r.value;
        if (line.trim() === "") continue;
        try {
          return JSON.parse(line) as T;
        } catch {
          throw new UserError("this line is not valid JSON", {
            file: path,
            line: n,
            hint: "rerun that shard",
          });
        }
      }
    },
  };
}

/** Merges the shards listed by `manifests` into OUT, with summary.json and report.html. */
export async function mergeShards(manifests: string[], out: string): Promise<MergeSummary> {
  if (manifests.length === 0) throw new UserError("no manifests", { hint: "give OUT/annotate*.json files" });
  const ms = (await Promise.all(manifests.map(loadManifest))).sort((a, b) => a.index - b.index);
  checkShards(ms);
  const { labels, model } = ms[0]!;
  await fsp.mkdir(out, { recursive: true });
  const files = {
    sentences_jsonl: join(out, "sentences.jsonl"),
    sentences_parquet: join(out, "sentences.parquet"),
    documents: join(out, "documents.jsonl"),
  };
  const tmp = (p: string) => join(dirname(p), `.merge.${process.pid}.${p.split("/").pop()}.partial`);
  const sentences = await SentenceWriter.open(
    tmp(files.sentences_jsonl),
    tmp(files.sentences_parquet),
    labels,
  );
  const documents = new JsonlWriter(tmp(files.documents));
  const tally = new Tally(labels);
  try {
    const inputs = [...ms[0]!.inputs].sort((a, b) => a.position - b.position);
    for (const input of inputs) {
      const parts = await Promise.all(
        ms.map(async (m) => {
          const mk = m.inputs.find((i) => i.position === input.position) as Marker;
          const dir = dirname(m.path);
          const docsPath = join(dir, mk.files.documents);
          const sentPath = join(dir, mk.files.sentences_jsonl);
          const docs = await rowsOf<DocumentRow>(docsPath);
          return { docs, sents: await rowsOf<SentenceRow>(sentPath), sentPath, head: await docs.next() };
        }),
      );
      for (;;) {
        let best: (typeof parts)[number] | undefined;
        for (const p of parts) if (p.head && (!best || p.head.index < best.head!.index)) best = p;
        if (!best) break;
        const d = best.head!;
        for (let k = 0; k < d.sentences; k++) {
          const row = await best.sents.next();
          if (!row || row.doc_id !== d.doc_id || row.sentence !== k)
            throw new UserError(`sentence ${k} of document ${d.doc_id} is missing or out of order`, {
              file: best.sentPath,
              hint: "that shard's outputs are damaged; delete them and rerun the shard",
            });
          await sentences.write(row);
        }
        await documents.write(d);
        tally.add(d);
        best.head = await best.docs.next();
      }
    }
    await sentences.close();
    await documents.close();
  } catch (err) {
    sentences.abort();
    documents.abort();
    await Promise.all(Object.values(files).map((f) => fsp.rm(tmp(f), { force: true })));
    throw err;
  }
  for (const f of Object.values(files)) await fsp.rename(tmp(f), f);

  const t = tally.total;
  const byYear = [...tally.years.values()].sort((a, b) => Number(a.group) - Number(b.group));
  const byJournal = [...tally.journals.values()].sort(
    (a, b) => b.sentences - a.sentences || a.group.localeCompare(b.group),
  );
  const summary: MergeSummary = {
    out,
    shards: ms[0]!.count,
    model,
    labels,
    inputs: ms[0]!.inputs.map((i) => i.input),
    documents: t.documents,
    sentences: t.sentences,
    predicted_counts: t.predicted_counts,
    mean_probability: t.sentences
      ? Object.fromEntries(labels.map((l) => [l, tally.sum[l]! / t.sentences]))
      : null,
    by_year: byYear,
    by_journal: byJournal,
    files: { ...files, summary: join(out, "summary.json"), report: join(out, "report.html") },
  };
  await writeReportFiles(summary, out);
  await writeFileAtomic(join(out, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** The figures (PNG and SVG in OUT/figures) and the self-contained report.html. */
async function writeReportFiles(s: MergeSummary, out: string): Promise<void> {
  const mix = (g: GroupStats): GroupMix => ({ group: g.group, counts: g.predicted_counts });
  const fmt = (n: number) => n.toLocaleString("en-US");
  const caption = `${fmt(s.documents)} documents, ${fmt(s.sentences)} sentences`;
  const figs: { key: string; by: string; groups: GroupStats[]; note: string }[] = [];
  if (s.by_year.length) figs.push({ key: "aspect_mix_by_year", by: "year", groups: s.by_year, note: "" });
  if (s.by_journal.length)
    figs.push({
      key: "aspect_mix_by_journal",
      by: "journal",
      groups: s.by_journal.slice(0, TOP_JOURNALS),
      note: s.by_journal.length > TOP_JOURNALS ? ` (the ${TOP_JOURNALS} with the most sentences)` : "",
    });
  if (!figs.length)
    figs.push({ key: "aspect_mix", by: "corpus", groups: [{ ...s, group: "all" } as GroupStats], note: "" });
  const sections: ReportSection[] = [];
  const header = ["", "documents", "sentences", ...s.labels.map((l) => `% ${l}`)];
  const rowOf = (g: GroupStats) => [
    g.group,
    g.documents,
    g.sentences,
    ...s.labels.map((l) => (g.sentences ? (100 * g.predicted_counts[l]!) / g.sentences : null)),
  ];
  sections.push({
    title: "Overview",
    html:
      para(`${caption} from ${s.inputs.length} input file(s) in ${s.shards} shard(s), model ${s.model}.`) +
      table(
        header,
        [
          rowOf({
            group: "all",
            documents: s.documents,
            sentences: s.sentences,
            predicted_counts: s.predicted_counts,
          }),
        ],
        1,
      ),
  });
  await fsp.mkdir(join(out, "figures"), { recursive: true });
  for (const f of figs) {
    const fig = await aspectMixFigure(f.key, f.by, f.groups.map(mix), s.labels, `${caption}${f.note}`);
    const png = join(out, "figures", `${f.key}.png`);
    await writeFileAtomic(png, fig.png);
    await writeFileAtomic(join(out, "figures", `${f.key}.svg`), fig.svg);
    sections.push({
      title: `Aspect mix per ${f.by}`,
      html:
        (await figure(png, `Share of sentences predicted as each label, per ${f.by}${f.note}.`)) +
        table([f.by, ...header.slice(1)], f.groups.map(rowOf), 1),
    });
  }
  await writeReport(
    join(out, "report.html"),
    "gotune annotate: report",
    `${s.inputs.map((i) => i.split("/").pop()).join(", ")}`,
    sections,
  );
}
