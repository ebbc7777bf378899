/**
 * `npm run bench:annotate`: the throughput of `gotune annotate` at the default model (what `gotune run`
 * fine-tunes: the shipped go-bert-mini with a 3-label head; runs/latest/model when it exists, else the
 * shipped encoder with a seeded head, which runs at the same speed). A PubMed-style corpus (gzipped
 * PubmedArticleSet XML whose sentences are real GO definitions) is annotated by the real command in a child
 * process; then the bare classifier classifies the same sentences in another child (no parsing, splitting
 * or writing), so the pipeline's share of the time shows. Prints sentences/s, documents/s, peak RSS, the
 * load average, the time to annotate all of PubMed on 1, 10 and 100 such machines, then one JSON line.
 * `--docs N` (default 3000), `--model DIR`, `--keep DIR` (keep the corpus and outputs there).
 */

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ASPECTS } from "../src/data/terms.js";
import { loadModelFolder, readModelConfig } from "../src/hf/model-folder.js";
import { BertTokenizer } from "../src/hf/tokenizer.js";
import { Classifier } from "../src/inference/classifier.js";
import { BertForSequenceClassification } from "../src/model/bert.js";
import { writePubmed } from "../test/fixtures/annotate/pubmed-corpus.js";
import { goDefinitions } from "./batches.js";
import { cpuInfo, cpuLine } from "./cpu.js";
import { peakRssMb } from "./rss.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "dist", "src", "cli", "main.js");
const SHIPPED = join(ROOT, "models", "go-bert-mini");
const RUN_MODEL = join(ROOT, "runs", "latest", "model");
/** All of PubMed: about 36 million abstracts, about 300 million sentences (titles included). */
export const PUBMED = { abstracts: 36e6, sentences: 300e6 };
/** annotate's defaults, which the bare classifier uses too. */
const BATCH = 32;
const MAX_LENGTH = 100;
/** annotate classifies this many sentences per call (annotate.ts: batch size × 8). */
const CHUNK = BATCH * 8;

const arg = (flag: string) =>
  process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined;

/** The bare classifier's figures (a child process). */
interface BareResult {
  sentences: number;
  load_s: number;
  seconds: number;
  sentences_per_s: number;
  mean_tokens: number;
  peak_rss_mb: number;
}

/** Child mode: classify a JSON file of sentences with the model, in annotate's chunks, and time it. */
async function bareChild(model: string, file: string): Promise<void> {
  const texts = JSON.parse(await readFile(file, "utf8")) as string[];
  const t0 = performance.now();
  const clf = await Classifier.load(model);
  const t1 = performance.now();
  for (let i = 0; i < texts.length; i += CHUNK)
    clf.predictProba(texts.slice(i, i + CHUNK), { batchSize: BATCH, maxLength: MAX_LENGTH });
  const t2 = performance.now();
  let tokens = 0;
  for (const t of texts)
    tokens += clf.tokenizer.encode(t, undefined, { maxLength: MAX_LENGTH }).input_ids.length;
  const seconds = (t2 - t1) / 1000;
  const r: BareResult = {
    sentences: texts.length,
    load_s: (t1 - t0) / 1000,
    seconds,
    sentences_per_s: texts.length / seconds,
    mean_tokens: tokens / texts.length,
    peak_rss_mb: peakRssMb(),
  };
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

/** The model to measure and what it is: a fine-tuned one, or the shipped encoder with a seeded head. */
async function defaultModel(tmp: string): Promise<{ dir: string; what: string }> {
  const given = arg("--model");
  if (given) return { dir: resolve(given), what: `${given} (given)` };
  if (existsSync(join(RUN_MODEL, "config.json")))
    return { dir: RUN_MODEL, what: "runs/latest/model (gotune run's fine-tuned go-bert-mini)" };
  const dir = join(tmp, "model");
  const { config } = await readModelConfig(SHIPPED);
  const labels = [...ASPECTS];
  const cfg = {
    ...config,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
  // As gotune train starts: the shipped encoder's weights, a seeded pooler and 3-label head.
  const model = new BertForSequenceClassification(cfg, { numLabels: labels.length, seed: 42 });
  await loadModelFolder(SHIPPED, model);
  await new Classifier(model, await BertTokenizer.fromFolder(SHIPPED), labels).save(dir);
  return {
    dir,
    what: "models/go-bert-mini with a seeded 3-label head (no runs/latest/model; same shapes, same speed)",
  };
}

/** Runs node on `args` and parses the last line of its stdout as JSON; a failure throws with its stderr. */
function runJson<T>(args: string[]): { result: T; wall_s: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, {
    encoding: "utf8",
    env: { ...process.env, GOTUNE_NO_PROGRESS: "1" },
    maxBuffer: 1 << 26,
  });
  const wall_s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${args.slice(0, 2).join(" ")} failed: ${r.stderr.trim().slice(-500)}`);
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  return { result: JSON.parse(last) as T, wall_s };
}

const hours = (sentences: number, perSecond: number, machines: number) =>
  sentences / perSecond / machines / 3600;

async function main(): Promise<void> {
  const docs = Number(arg("--docs") ?? 3000);
  if (!Number.isInteger(docs) || docs < 10)
    throw new Error(`--docs ${arg("--docs")}: give a whole number >= 10`);
  const keep = arg("--keep");
  const tmp = keep ? resolve(keep) : await mkdtemp(join(tmpdir(), "gotune-bench-annotate-"));
  await mkdir(tmp, { recursive: true });
  try {
    const load = () => loadavg()[0]!;
    process.stdout.write(
      `machine: ${cpuLine()}; ` +
        `${new Date().toISOString().slice(0, 16)}Z; load average ${load().toFixed(1)}\n`,
    );
    const model = await defaultModel(tmp);
    process.stdout.write(`model: ${model.what}\n`);

    // Real GO definitions as the abstracts' sentences (biomedical text, as gotune run trains on).
    const { texts } = await goDefinitions();
    const pool = texts.map((t) => t.trim()).map((t) => (/[.!?]$/.test(t) ? t : `${t}.`));
    const input = join(tmp, "pubmed-bench.xml.gz");
    await writePubmed(input, docs, { seed: 5, first: 30_000_000, gzip: true, sentences: pool });

    const out = join(tmp, "out");
    await rm(out, { recursive: true, force: true });
    const load0 = load();
    const ann = runJson<{ documents: number; sentences: number; seconds: number; peak_rss_mb: number }>([
      CLI,
      "annotate",
      "--model",
      model.dir,
      "--input",
      input,
      "--out",
      out,
      "--json",
    ]);
    const load1 = load();
    const a = ann.result;
    const rows = (await readFile(join(out, "pubmed-bench.sentences.jsonl"), "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { text: string }).text);
    const words = rows.reduce((s, t) => s + t.split(/\s+/).length, 0) / rows.length;
    const sentencesFile = join(tmp, "sentences.json");
    await writeFile(sentencesFile, JSON.stringify(rows));
    const bare = runJson<BareResult>([fileURLToPath(import.meta.url), "--bare", model.dir, sentencesFile]);
    const load2 = load();
    const b = bare.result;

    const sps = a.sentences / a.seconds;
    const dps = a.documents / a.seconds;
    // What annotate spends outside the classifier's forward passes and its own model load.
    const pipeline = Math.max(0, 1 - (b.seconds + b.load_s) / a.seconds);
    process.stdout.write(
      `corpus: ${docs.toLocaleString("en-US")} PubMed-style abstracts (gzipped XML; sentences are GO ` +
        `definitions), ${a.sentences.toLocaleString("en-US")} sentences, ${(a.sentences / a.documents).toFixed(1)} ` +
        `a document, ${words.toFixed(1)} words and ${b.mean_tokens.toFixed(1)} tokens a sentence\n` +
        `annotate:   ${sps.toFixed(0).padStart(6)} sentences/s ${dps.toFixed(1).padStart(7)} documents/s ` +
        `(${a.seconds.toFixed(1)} s inside the command, model load included; ${ann.wall_s.toFixed(1)} s with ` +
        `process start), peak RSS ${a.peak_rss_mb.toFixed(0)} MB, load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}\n` +
        `classifier: ${b.sentences_per_s.toFixed(0).padStart(6)} sentences/s (the same sentences, batch ${BATCH} ` +
        `in chunks of ${CHUNK}, no I/O; ${b.seconds.toFixed(1)} s + ${b.load_s.toFixed(1)} s load), peak RSS ` +
        `${b.peak_rss_mb.toFixed(0)} MB, load average ${load2.toFixed(1)}\n` +
        `pipeline share (XML parse, splitting, JSONL + Parquet writing): ${(100 * pipeline).toFixed(0)}% of ` +
        `annotate's time\n` +
        `all of PubMed (~${PUBMED.sentences / 1e6}M sentences, ~${PUBMED.abstracts / 1e6}M abstracts) at ` +
        `${sps.toFixed(0)} sentences/s a machine (one annotate --shard per machine):\n`,
    );
    const estimate: Record<string, number> = {};
    for (const n of [1, 10, 100]) {
      const h = hours(PUBMED.sentences, sps, n);
      estimate[`pubmed_hours_${n}`] = h;
      process.stdout.write(
        `  ${String(n).padStart(3)} machine${n === 1 ? " " : "s"}: ${h.toFixed(1).padStart(7)} h (${(h / 24).toFixed(1)} days)\n`,
      );
    }
    const summary = {
      annotate_sentences_per_s: sps,
      annotate_documents_per_s: dps,
      annotate_seconds: a.seconds,
      annotate_peak_rss_mb: a.peak_rss_mb,
      classifier_sentences_per_s: b.sentences_per_s,
      classifier_peak_rss_mb: b.peak_rss_mb,
      pipeline_share: pipeline,
      documents: a.documents,
      sentences: a.sentences,
      words_per_sentence: words,
      tokens_per_sentence: b.mean_tokens,
      ...estimate,
      model: model.what,
      cpu: cpuInfo(),
      loadavg: [load0, load1, load2],
      date: new Date().toISOString(),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    if (!keep) await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--bare") await bareChild(process.argv[3]!, process.argv[4]!);
else
  await main().catch((err) => {
    process.stderr.write(`bench:annotate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
