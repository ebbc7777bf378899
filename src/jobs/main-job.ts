/**
 * The main job behind `gotune run`: GO in, every stage of the study out, one HTML report.
 * get GO -> prepare -> TF-IDF baseline -> MLM pre-training -> fine-tuning on the full split -> evaluation
 * -> the study's 2,000/1,000 protocol (pre-trained and from scratch) -> a document -> OUT/report.html.
 * Every stage writes into its own folder of OUT, and rerunning resumes the training stages.
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { type BaselineResult, runBaseline } from "../baseline/run.js";
import { loadSplit } from "../data/examples.js";
import { fetchGo } from "../data/fetch-go.js";
import { Classifier } from "../inference/classifier.js";
import type { Metrics } from "../inference/metrics.js";
import { writeFileAtomic } from "../util/fsx.js";
import { outputPaths, predictDocument, writeDocumentOutputs } from "./document.js";
import { FINETUNE_DEFAULTS, type FinetuneResult, finetune } from "./finetune.js";
import { prepare } from "./prepare.js";
import { PRETRAIN_DEFAULTS, type PretrainSummary, pretrain } from "./pretrain.js";
import { esc, figure, metricsHtml, para, type ReportSection, table, writeReport } from "./report.js";

/** The main job's choices; the defaults (in the command) fit a 2-core machine in 20 minutes. */
export interface MainJobOptions {
  obo?: string;
  out: string;
  seed: number;
  figures: boolean;
  /** Size preset of the model pre-trained and fine-tuned. */
  preset: string;
  /** Minutes of MLM pre-training at most, and its epochs. */
  pretrainMinutes: number;
  pretrainEpochs: number;
  /** Optimiser steps of pre-training at most (for quick runs). */
  pretrainMaxSteps?: number;
  /** Fine-tuning on the full split. */
  epochs: number;
  lr: number;
  batchSize: number;
  /** The study's protocol: examples after a seeded shuffle, and epochs. */
  studyTrain: number;
  studyEval: number;
  studyEpochs: number;
  /** A text document classified sentence by sentence for the report. */
  document: string;
  /** Pre-training and fine-tuning with bf16 products (Trainer's bf16=True). */
  bf16?: boolean;
  log: (line: string) => void;
}

/** What the job found, as written to OUT/summary.json. */
export interface MainJobSummary {
  go: { path: string; source: string; data_version?: string; sha256: string };
  baseline: { full: Brief; study: Brief };
  pretrain: {
    steps: number;
    seconds: number;
    held_out_loss: number | null;
    vocab_size: number;
    parameters: number;
  };
  finetune: Brief & { seconds: number };
  study: { pretrained: Brief; scratch: Brief };
  beats_baseline: boolean;
  document?: { path: string; sentences: number; mean_probability: Record<string, number> };
  seconds: Record<string, number>;
}

/** One model's result on one protocol. */
export interface Brief {
  train_examples: number;
  eval_examples: number;
  accuracy: number;
  macro_f1: number;
}

const brief = (m: Metrics, train: number, evalN: number): Brief => ({
  train_examples: train,
  eval_examples: evalN,
  accuracy: m.accuracy,
  macro_f1: m.macro_f1,
});

/** Runs the main job end to end; returns its summary (also written to OUT/summary.json). */
export async function runMainJob(o: MainJobOptions): Promise<MainJobSummary> {
  const t0 = performance.now();
  const seconds: Record<string, number> = {};
  // Each stage is logged as it starts and timed into summary.seconds.
  let n = 0;
  const timed = async <T>(name: string, what: string, body: () => Promise<T>): Promise<T> => {
    o.log(`run: ${++n}/7 ${what}`);
    const t = performance.now();
    const r = await body();
    seconds[name] = (performance.now() - t) / 1000;
    return r;
  };
  const dataDir = join(o.out, "data");

  const go = await timed("fetch", "getting GO", async () => {
    const r = await fetchGo({ obo: o.obo });
    for (const note of r.notes) o.log(`run: ${note}`);
    o.log(`run: GO release ${r.dataVersion ?? "(no data-version)"} from ${r.source} (${r.path})`);
    return r;
  });

  const prepared = await timed("prepare", "preparing the dataset and its figures", () =>
    prepare({
      obo: go.path,
      out: dataDir,
      seed: o.seed,
      testSize: 0.2,
      keepObsolete: false,
      top: 30,
      figures: o.figures,
    }),
  );

  const [base, baseStudy] = await timed(
    "baseline",
    "TF-IDF baseline (full split, then the study's protocol)",
    async () => {
      const split = await loadSplit(dataDir);
      const fit = { seed: o.seed, C: 1, maxIter: 1000, tol: 1e-5 };
      const full = runBaseline(split, fit);
      await writeFileAtomic(join(dataDir, "baseline.json"), `${JSON.stringify(full, null, 2)}\n`);
      o.log(`run: baseline accuracy ${full.accuracy.toFixed(4)}, macro-F1 ${full.macro_f1.toFixed(4)}`);
      return [full, runBaseline(split, { ...fit, trainLimit: o.studyTrain, evalLimit: o.studyEval })];
    },
  );

  const ptDir = join(o.out, "pretrained");
  const pt = await timed(
    "pretrain",
    `pre-training a ${o.preset} (masked LM, at most ${o.pretrainMinutes} min)`,
    () =>
      pretrain({
        ...PRETRAIN_DEFAULTS,
        corpus: { dataDir },
        out: ptDir,
        preset: o.preset,
        seed: o.seed,
        epochs: o.pretrainEpochs,
        timeBudgetMinutes: o.pretrainMinutes,
        maxSteps: o.pretrainMaxSteps,
        bf16: o.bf16,
        log: (l) => o.log(`run: ${l}`),
      }),
  );

  const tune = {
    ...FINETUNE_DEFAULTS,
    data: dataDir,
    epochs: o.epochs,
    lr: o.lr,
    batchSize: o.batchSize,
    seed: o.seed,
    groupByLength: true,
    figures: o.figures,
    bf16: o.bf16,
    note: (l: string) => o.log(`run: ${l}`),
  };
  const ft = await timed(
    "finetune",
    `fine-tuning on the full train split (${o.epochs} epochs), evaluating on the full test split`,
    () => finetune({ ...tune, model: ptDir, out: o.out, evalStrategy: "end", saveTotalLimit: 1 }),
  );
  const ftMetrics = need(ft, "fine-tuning");

  const study = {
    ...tune,
    epochs: o.studyEpochs,
    batchSize: 8,
    trainLimit: o.studyTrain,
    evalLimit: o.studyEval,
  };
  const [stPre, stScratch] = await timed(
    "study",
    `the study's protocol (${o.studyTrain}/${o.studyEval}), pre-trained and from scratch`,
    async () => [
      await finetune({ ...study, model: ptDir, out: join(o.out, "study", "pretrained") }),
      await finetune({ ...study, model: o.preset, out: join(o.out, "study", "scratch") }),
    ],
  );

  o.log(`run: ${++n}/7 a document, sentence by sentence, and the report`);
  const clf = await Classifier.load(join(o.out, "model"));
  let doc: MainJobSummary["document"];
  let docHtml = para("No document was given.");
  try {
    await fsp.access(o.document);
    const t = await predictDocument(clf, o.document);
    const paths = outputPaths(o.document, join(o.out, "document"));
    await writeDocumentOutputs(t, o.document, join(o.out, "model"), paths);
    doc = { path: o.document, sentences: t.sentences.length, mean_probability: t.mean };
    docHtml =
      documentHtml(t.sentences, t.probs, t.labels, t.mean) +
      (await figure(paths.piePng, "Mean probability per aspect"));
  } catch (err) {
    o.log(`run: note: the document step was skipped: ${(err as Error).message}`);
  }

  const full = brief(ftMetrics, ft.trainExamples, ft.evalExamples);
  const summary: MainJobSummary = {
    go: { path: go.path, source: go.source, data_version: go.dataVersion, sha256: go.sha256 },
    baseline: { full: briefOf(base), study: briefOf(baseStudy) },
    pretrain: {
      steps: pt.steps.done,
      seconds: pt.seconds.total,
      held_out_loss: pt.loss.last_held_out,
      vocab_size: pt.vocab_size,
      parameters: pt.parameters,
    },
    finetune: { ...full, seconds: seconds.finetune ?? 0 },
    study: {
      pretrained: brief(need(stPre, "the study's protocol"), stPre.trainExamples, stPre.evalExamples),
      scratch: brief(
        need(stScratch, "the study's protocol"),
        stScratch.trainExamples,
        stScratch.evalExamples,
      ),
    },
    beats_baseline: full.accuracy > base.accuracy && full.macro_f1 > base.macro_f1,
    document: doc,
    seconds: { ...seconds, total: (performance.now() - t0) / 1000 },
  };
  await writeFileAtomic(join(o.out, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  await writeReport(
    join(o.out, "report.html"),
    "gotune: the Gene Ontology as a text classifier",
    `GO ${go.dataVersion ?? ""} (${go.source}), ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ` +
      `${summary.seconds.total.toFixed(0)} s in all`,
    await sections(o, prepared.stats, summary, base, ftMetrics, pt, docHtml),
  );
  return summary;
}

function need(r: FinetuneResult, what: string): Metrics {
  if (!r.metrics) throw new Error(`${what} ended without an evaluation`);
  return r.metrics;
}

function briefOf(r: BaselineResult): Brief {
  return brief(r, r.train_examples, r.eval_examples);
}

function documentHtml(
  sentences: { text: string }[],
  probs: Float32Array,
  labels: string[],
  mean: Record<string, number>,
): string {
  const L = labels.length;
  const rows = sentences.map((s, i) => [i + 1, s.text, ...Array.from(probs.subarray(i * L, (i + 1) * L))]);
  return (
    table(["#", "sentence", ...labels], rows, 3) +
    `<p>Mean per aspect: ${labels.map((l) => `${esc(l)} <b>${(mean[l] ?? 0).toFixed(3)}</b>`).join(", ")}</p>`
  );
}

async function sections(
  o: MainJobOptions,
  stats: Record<string, unknown>,
  s: MainJobSummary,
  base: BaselineResult,
  ft: Metrics,
  pt: PretrainSummary,
  docHtml: string,
): Promise<ReportSection[]> {
  const fig = (name: string, caption: string) =>
    figure(join(o.out, "data", "figures", `${name}.png`), caption);
  const figs = await pngsIn(join(o.out, "data", "figures"));
  const figHtml = (
    await Promise.all(
      figs.map((f) => fig(f.replace(/\.png$/, ""), f.replace(/\.png$/, "").replace(/[-_]/g, " "))),
    )
  ).join("");
  const row = (name: string, b: Brief) => [name, b.train_examples, b.eval_examples, b.accuracy, b.macro_f1];
  const results = table(
    ["model", "train", "test", "accuracy", "macro-F1"],
    [
      row("TF-IDF + logistic regression", s.baseline.full),
      row(`${o.preset}, pre-trained, fine-tuned`, s.finetune),
      row("TF-IDF + logistic regression (study protocol)", s.baseline.study),
      row(`${o.preset}, pre-trained (study protocol)`, s.study.pretrained),
      row(`${o.preset}, from scratch (study protocol)`, s.study.scratch),
    ],
  );
  const counts = (stats as { terms?: Record<string, unknown> }).terms ?? {};
  return [
    {
      title: "Results",
      html:
        para(
          `On the same split, the fine-tuned model ${s.beats_baseline ? "beats" : "does not beat"} the TF-IDF baseline ` +
            "in both accuracy and macro-F1. The study's protocol trains on 2,000 examples and evaluates on 1,000, " +
            "both taken after a seeded shuffle; it is run from the pre-trained model and from scratch, which shows " +
            "what pre-training bought.",
        ) + results,
    },
    {
      title: "Data",
      html:
        para(
          `GO release ${s.go.data_version ?? "?"} from ${s.go.source}: ${s.go.path} (sha256 ${s.go.sha256}).`,
        ) +
        table(
          ["what", "value"],
          Object.entries(counts).map(([k, v]) => [k, typeof v === "number" ? v : JSON.stringify(v)]),
        ) +
        figHtml,
    },
    { title: "TF-IDF baseline (full split)", html: metricsHtml(base) },
    {
      title: "Pre-training (masked language model)",
      html:
        para(
          `${o.preset}: ${pt.parameters.toLocaleString("en-US")} parameters, a ${pt.vocab_size}-token WordPiece vocabulary ` +
            `trained on the train split's names, definitions and synonyms; ${pt.steps.done} steps in ` +
            `${pt.seconds.total.toFixed(0)} s; held-out MLM loss ${pt.loss.first_held_out?.toFixed(3) ?? "?"} → ` +
            `${pt.loss.last_held_out?.toFixed(3) ?? "?"}.`,
        ) + (await figure(join(o.out, "pretrained", "figures", "pretrain_loss.png"), "Pre-training loss")),
    },
    {
      title: "Fine-tuned model (full split)",
      html:
        metricsHtml(ft) +
        (await figure(join(o.out, "training-curve.png"), "Fine-tuning: loss and evaluation")),
    },
    { title: "A document, sentence by sentence", html: docHtml },
    {
      title: "Time",
      html: table(
        ["stage", "seconds"],
        Object.entries(s.seconds).map(([k, v]) => [k, Math.round(v)]),
      ),
    },
  ];
}

async function pngsIn(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter((f) => f.endsWith(".png")).sort();
  } catch {
    return [];
  }
}
