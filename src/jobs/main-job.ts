/**
 * The main job behind `gotune run`: GO in, every stage of the study out, one HTML report.
 * get GO -> prepare -> TF-IDF baseline -> MLM pre-training -> fine-tuning on the full split -> evaluation
 * -> the study's 2,000/1,000 protocol (pre-trained and from scratch) -> a document -> OUT/report.html.
 * Every stage writes into its own folder of OUT, and rerunning resumes the training stages.
 */
import { promises as fsp } from "node:fs";
import { join, resolve } from "node:path";
import { type BaselineResult, runBaseline } from "../baseline/run.js";
import { ASPECTS, loadSplit } from "../data/examples.js";
import { fetchGo } from "../data/fetch-go.js";
import { type CurvePoint, confusionFigure, learningCurveFigure } from "../figures/evaluation.js";
import type { Figure } from "../figures/render.js";
import { Classifier } from "../inference/classifier.js";
import type { Metrics } from "../inference/metrics.js";
import { type Misclassified, misclassified, type Prediction } from "../inference/misclassified.js";
import { readJsonl, writeFileAtomic } from "../util/fsx.js";
import { BASELINE_DEFAULTS, BASELINE_OUTPUTS, writeBaseline } from "./baseline.js";
import { outputPaths, predictDocument, writeDocumentOutputs } from "./document.js";
import { FINETUNE_DEFAULTS, FINETUNE_OUTPUTS, type FinetuneResult, finetune } from "./finetune.js";
import { PREPARE_DEFAULTS, PREPARE_OUTPUTS, prepare } from "./prepare.js";
import { PRETRAIN_DEFAULTS, PRETRAIN_OUTPUTS, type PretrainSummary, pretrain } from "./pretrain.js";
import {
  type Brief,
  documentHtml,
  type MainJobSummary,
  mainReportSections,
  para,
  type Spread,
  writeReport,
} from "./report.js";
import { checkCorpus, readCorpusRecord, SHIPPED_MODEL_DIR } from "./shipped-model.js";

/** The main job's choices; the defaults (in the command) fit a 2-core machine in 20 minutes. */
export interface MainJobOptions {
  obo?: string;
  out: string;
  seed: number;
  figures: boolean;
  /** Size preset of the model pre-trained (when the shipped one does not fit) and of the from-scratch runs. */
  preset: string;
  /** A pre-trained model (folder or hub id) to fine-tune instead of the shipped one. */
  pretrained?: string;
  /** false: pre-train a model of our own even where the shipped one fits (--no-shipped). */
  shipped: boolean;
  /** Minutes of MLM pre-training at most (when this run pre-trains its own), and its epochs. */
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
  /** Seeds of the study's sample (seed, seed+1...): the spread over samples of 1,000 test examples. */
  studySeeds: number;
  /** Training examples of the learning curve below the study's (the study's and "all" are reused). */
  curve: number[];
  /** A text document classified sentence by sentence for the report. */
  document: string;
  /** Pre-training and fine-tuning with bf16 products (Trainer's bf16=True). */
  bf16?: boolean;
  log: (line: string) => void;
}

/** What the main job writes into OUT besides the fine-tuning's own outputs (FINETUNE_OUTPUTS: model/...). */
export const MAIN_JOB_OUTPUTS = {
  data: "data",
  pretrained: "pretrained",
  study: "study",
  curve: "curve",
  document: "document",
  figures: "figures",
  learningCurve: "learning_curve",
  confusionMatrix: "confusion_matrix",
  summary: "summary.json",
  misclassified: "misclassified.jsonl",
  report: "report.html",
} as const;

/** `gotune run`'s defaults: the full split once, the study's protocol on three samples, a short curve. */
export const MAIN_JOB_DEFAULTS = {
  out: "runs/latest",
  seed: 42,
  figures: true,
  preset: "bert-mini",
  shipped: true,
  pretrainMinutes: 12,
  pretrainEpochs: 5,
  epochs: 1,
  lr: 1e-4,
  batchSize: 16,
  studyTrain: 2000,
  studyEval: 1000,
  studyEpochs: 3,
  studySeeds: 3,
  curve: [100, 250, 500, 1000],
  document: resolve(import.meta.dirname, "..", "..", "..", "examples", "abstract.txt"),
} satisfies Partial<MainJobOptions>;

function spread(bs: readonly Brief[]): Spread {
  const ms = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
    return { mean, sd };
  };
  return { accuracy: ms(bs.map((b) => b.accuracy)), macro_f1: ms(bs.map((b) => b.macro_f1)) };
}

const brief = (m: Metrics, train: number, evalN: number): Brief => ({
  train_examples: train,
  eval_examples: evalN,
  accuracy: m.accuracy,
  macro_f1: m.macro_f1,
});

// fetch, prepare, baseline, [pretrain], fine-tune, study, curve, and the last: errors, document, report.

/** The misclassified test terms of the full fine-tune (OUT/predictions.jsonl joined with DATA/test.jsonl). */
async function errorAnalysis(out: string, dataDir: string, labels: string[]): Promise<Misclassified[]> {
  const preds = await readJsonl<Prediction>(join(out, FINETUNE_OUTPUTS.predictions));
  const terms = new Map<string, { go_id: string; name: string; text: string }>();
  for (const t of await readJsonl<{ go_id: string; name: string; text: string }>(
    join(dataDir, PREPARE_OUTPUTS.test),
  ))
    terms.set(t.go_id, t);
  return misclassified(preds, terms, labels);
}

/** Runs the main job end to end; returns its summary (also written to OUT/summary.json). */
export async function runMainJob(o: MainJobOptions): Promise<MainJobSummary> {
  const t0 = performance.now();
  const seconds: Record<string, number> = {};
  // Each stage is logged as it starts and timed into summary.seconds.
  let n = 0;
  // fetch, prepare, baseline, [pre-training], fine-tuning, study, curve, then errors, document and report.
  let STAGES = o.pretrained || o.shipped ? 7 : 8;
  const timed = async <T>(name: string, what: string, body: () => Promise<T>): Promise<T> => {
    o.log(`run: ${++n}/${STAGES} ${what}`);
    const t = performance.now();
    const r = await body();
    seconds[name] = (performance.now() - t) / 1000;
    return r;
  };
  const dataDir = join(o.out, MAIN_JOB_OUTPUTS.data);

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
      testSize: PREPARE_DEFAULTS.testSize,
      keepObsolete: PREPARE_DEFAULTS.keepObsolete,
      top: PREPARE_DEFAULTS.top,
      figures: o.figures,
    }),
  );

  const seeds = Array.from({ length: o.studySeeds }, (_, i) => o.seed + i);
  let curveSizes: number[] = [];
  const { base, baseSeeds, baseCurve } = await timed(
    "baseline",
    "TF-IDF baseline, C chosen on the training examples (full split, the study's samples, the learning curve)",
    async () => {
      const split = await loadSplit(dataDir);
      // Sizes at or above the study's (or the whole train split) would repeat a run.
      const below = Math.min(o.studyTrain, split.train.length);
      curveSizes = [...new Set(o.curve)].filter((n) => n < below).sort((x, y) => x - y);
      const fit = { maxIter: BASELINE_DEFAULTS.maxIter, tol: BASELINE_DEFAULTS.tol };
      const full = runBaseline(split, { ...fit, seed: o.seed });
      await writeBaseline(join(dataDir, BASELINE_OUTPUTS.metrics), full);
      o.log(
        `run: baseline (C = ${full.C}, chosen by ${full.tuning?.method ?? "the caller"} in ${full.seconds.tune.toFixed(0)} s): ` +
          `accuracy ${full.accuracy.toFixed(4)}, macro-F1 ${full.macro_f1.toFixed(4)}`,
      );
      const limits = { evalLimit: o.studyEval };
      const baseSeeds = seeds.map((seed) =>
        runBaseline(split, { ...fit, ...limits, seed, trainLimit: o.studyTrain }),
      );
      const baseCurve = curveSizes.map((n) =>
        runBaseline(split, { ...fit, ...limits, seed: o.seed, trainLimit: n }),
      );
      return { base: full, baseSeeds, baseCurve };
    },
  );
  const baseStudy = baseSeeds[0]!;

  // The model to fine-tune: one given, else the shipped one where its corpus kept clear of this test
  // split, else one pre-trained here.
  const ptDir = join(o.out, MAIN_JOB_OUTPUTS.pretrained);
  let start: MainJobSummary["pretrained"] | undefined;
  if (o.pretrained) {
    start = { source: "given", path: o.pretrained, why: "given with --pretrained" };
    const rec = await readCorpusRecord(o.pretrained).catch(() => undefined);
    if (rec) {
      const c = await checkCorpus(o.pretrained, rec, dataDir);
      if (c.leaked) o.log(`run: note: ${c.line}; fine-tuning from it as asked, but its scores are not clean`);
    }
  } else if (!o.shipped) o.log("run: --no-shipped: pre-training a model of its own");
  else {
    const rec = await readCorpusRecord(SHIPPED_MODEL_DIR);
    if (!rec) o.log(`run: no shipped model at ${SHIPPED_MODEL_DIR}: pre-training a model of its own`);
    else {
      const c = await checkCorpus(SHIPPED_MODEL_DIR, rec, dataDir);
      o.log(`run: ${c.line}${c.leaked ? ": pre-training a model of its own" : ""}`);
      if (!c.leaked) start = { source: "shipped", path: SHIPPED_MODEL_DIR, why: c.line };
    }
  }
  let pt: PretrainSummary | undefined;
  if (!start) {
    STAGES = 8;
    pt = await timed(
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
    start = { source: "pre-trained here", path: ptDir, why: "no shipped model fits this split" };
  }
  const modelPath = start.path;

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
    () =>
      finetune({
        ...tune,
        model: modelPath,
        out: o.out,
        evalStrategy: "end",
        saveTotalLimit: 1,
        savePredictions: true,
      }),
  );
  const ftMetrics = need(ft, "fine-tuning");

  const study = {
    ...tune,
    epochs: o.studyEpochs,
    batchSize: 8,
    evalLimit: o.studyEval,
  };
  const briefRun = (r: FinetuneResult, what: string) => brief(need(r, what), r.trainExamples, r.evalExamples);
  const { stSeeds, stScratch } = await timed(
    "study",
    `the study's protocol (${o.studyTrain}/${o.studyEval}) on ${seeds.length} samples pre-trained, on one from scratch`,
    async () => {
      const stSeeds: Brief[] = [];
      for (const seed of seeds) {
        const r = await finetune({
          ...study,
          seed,
          trainLimit: o.studyTrain,
          model: modelPath,
          out: join(
            o.out,
            MAIN_JOB_OUTPUTS.study,
            seed === o.seed ? "pretrained" : `pretrained-seed-${seed}`,
          ),
        });
        stSeeds.push(briefRun(r, "the study's protocol"));
      }
      const sc = await finetune({
        ...study,
        trainLimit: o.studyTrain,
        model: o.preset,
        out: join(o.out, MAIN_JOB_OUTPUTS.study, "scratch"),
      });
      return { stSeeds, stScratch: briefRun(sc, "the study's protocol") };
    },
  );

  const curve: CurvePoint[] = await timed(
    "curve",
    `the learning curve (${[...curveSizes, o.studyTrain].join(", ")} and all examples)`,
    async () => {
      const pre = `${start.source === "shipped" ? "shipped " : ""}pre-trained ${o.preset}`;
      const points: CurvePoint[] = [];
      const add = (model: string, b: Brief) =>
        points.push({ model, examples: b.train_examples, accuracy: b.accuracy, macro_f1: b.macro_f1 });
      for (const [i, n] of curveSizes.entries()) {
        const run = (model: string, dir: string) =>
          finetune({
            ...study,
            trainLimit: n,
            model,
            out: join(o.out, MAIN_JOB_OUTPUTS.curve, `${dir}-${n}`),
          });
        add(pre, briefRun(await run(modelPath, "pretrained"), "the learning curve"));
        add(`${o.preset} from scratch`, briefRun(await run(o.preset, "scratch"), "the learning curve"));
        add("TF-IDF + logistic regression (C tuned)", briefOf(baseCurve[i]!));
      }
      add(pre, stSeeds[0]!);
      add(`${o.preset} from scratch`, stScratch);
      add("TF-IDF + logistic regression (C tuned)", briefOf(baseStudy));
      // "All": the full split, evaluated on its full test split (the from-scratch model is not run there).
      add(pre, brief(ftMetrics, ft.trainExamples, ft.evalExamples));
      add("TF-IDF + logistic regression (C tuned)", briefOf(base));
      return points;
    },
  );

  o.log(`run: ${++n}/${STAGES} the error analysis, a document sentence by sentence, and the report`);
  const wrong = await errorAnalysis(o.out, dataDir, [...ASPECTS]);
  const clf = await Classifier.load(join(o.out, FINETUNE_OUTPUTS.model));
  let doc: MainJobSummary["document"];
  let docHtml = para("No document was given.");
  try {
    await fsp.access(o.document);
    const t = await predictDocument(clf, o.document);
    const paths = outputPaths(o.document, join(o.out, MAIN_JOB_OUTPUTS.document));
    await writeDocumentOutputs(t, o.document, join(o.out, FINETUNE_OUTPUTS.model), paths);
    doc = { path: o.document, sentences: t.sentences.length, mean_probability: t.mean };
    docHtml = await documentHtml(t.sentences, t.probs, t.labels, t.mean, paths.piePng);
  } catch (err) {
    o.log(`run: note: the document step was skipped: ${(err as Error).message}`);
  }

  const full = brief(ftMetrics, ft.trainExamples, ft.evalExamples);
  const summary: MainJobSummary = {
    go: { path: go.path, source: go.source, data_version: go.dataVersion, sha256: go.sha256 },
    baseline: {
      full: { ...briefOf(base), C: base.C, tuning: base.tuning?.method ?? null },
      study: briefOf(baseStudy),
    },
    pretrained: start,
    pretrain: pt
      ? {
          steps: pt.steps.done,
          seconds: pt.seconds.total,
          held_out_loss: pt.loss.last_held_out,
          vocab_size: pt.vocab_size,
          parameters: pt.parameters,
        }
      : null,
    finetune: { ...full, seconds: seconds.finetune ?? 0 },
    study: {
      pretrained: stSeeds[0]!,
      scratch: stScratch,
      seeds,
      per_seed: seeds.map((seed, i) => ({ seed, pretrained: stSeeds[i]!, baseline: briefOf(baseSeeds[i]!) })),
      mean: { pretrained: spread(stSeeds), baseline: spread(baseSeeds.map(briefOf)) },
    },
    learning_curve: curve,
    misclassified: wrong.length,
    beats_baseline: full.accuracy > base.accuracy && full.macro_f1 > base.macro_f1,
    document: doc,
    seconds: { ...seconds, total: (performance.now() - t0) / 1000 },
  };
  await writeFileAtomic(join(o.out, MAIN_JOB_OUTPUTS.summary), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFileAtomic(
    join(o.out, MAIN_JOB_OUTPUTS.misclassified),
    wrong.map((w) => JSON.stringify(w)).join("\n") + (wrong.length ? "\n" : ""),
  );
  // The job draws its two figures under its own names; the report embeds them.
  const figurePath = (name: string, ext: "png" | "svg") =>
    join(o.out, MAIN_JOB_OUTPUTS.figures, `${name}.${ext}`);
  const writeFigure = async (name: string, f: Figure) => {
    await writeFileAtomic(figurePath(name, "png"), f.png);
    await writeFileAtomic(figurePath(name, "svg"), f.svg);
  };
  const pre = `${o.preset}, ${start.source === "shipped" ? "shipped pre-trained model" : "pre-trained"}`;
  await writeFigure(
    MAIN_JOB_OUTPUTS.learningCurve,
    await learningCurveFigure(
      curve,
      `Seed ${o.seed}; ${o.studyEval.toLocaleString("en-US")} test examples up to ${o.studyTrain.toLocaleString("en-US")} training examples, the full test split for all of them.`,
    ),
  );
  await writeFigure(
    MAIN_JOB_OUTPUTS.confusionMatrix,
    await confusionFigure(
      Object.keys(ftMetrics.per_class),
      ftMetrics.confusion_matrix,
      `${pre}, fine-tuned on ${full.train_examples.toLocaleString("en-US")} examples; ${wrong.length} of ${full.eval_examples.toLocaleString("en-US")} wrong.`,
    ),
  );
  await writeReport(
    join(o.out, MAIN_JOB_OUTPUTS.report),
    "gotune: the Gene Ontology as a text classifier",
    `GO ${go.dataVersion ?? ""} (${go.source}), ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ` +
      `${summary.seconds.total.toFixed(0)} s in all`,
    await mainReportSections({
      summary,
      run: { preset: o.preset, seed: o.seed, studyTrain: o.studyTrain, studyEval: o.studyEval },
      stats: prepared.stats,
      base,
      ft: ftMetrics,
      pt,
      docHtml,
      wrong,
      figures: {
        data: join(dataDir, PREPARE_OUTPUTS.figures),
        learningCurve: figurePath(MAIN_JOB_OUTPUTS.learningCurve, "png"),
        confusionMatrix: figurePath(MAIN_JOB_OUTPUTS.confusionMatrix, "png"),
        pretrainLoss: join(ptDir, PRETRAIN_OUTPUTS.lossFigurePng),
        finetuneCurve: join(o.out, FINETUNE_OUTPUTS.curvePng),
      },
    }),
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
