/**
 * The article classifier behind `gotune articles`: a multi-label head (a sigmoid an aspect, so a sentence
 * may speak of none) fine-tuned on CRAFT's train-article sentences with their aspect sets, empty ones
 * included, plus GO definitions of a prepared split's train terms; thresholds tuned on train articles held
 * out of training; scored on CRAFT's dev articles. CRAFT's test articles are never read (not in the file).
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { type CraftArticle, readCraft } from "../data/craft.js";
import { loadSplit, takeShuffled } from "../data/examples.js";
import { ASPECTS } from "../data/terms.js";
import { Classifier } from "../inference/classifier.js";
import {
  confidentlyWrong,
  type MultiLabelMetrics,
  multiLabelMetrics,
  tuneThresholds,
} from "../inference/multilabel.js";
import { ClassificationData, encodeTexts } from "../train/batching.js";
import { lastCheckpoint } from "../train/checkpoint.js";
import { type TrainResult, trainLoop } from "../train/trainer.js";
import { UserError } from "../util/errors.js";
import { writeDirAtomic, writeFileAtomic } from "../util/fsx.js";
import { Rng } from "../util/rng.js";
import { classifierTask, fromFolder } from "./finetune.js";
import { SHIPPED_MODEL_DIR } from "./shipped-model.js";

/** What an article-classifier run writes into OUT (checkpoint-STEP folders are train/checkpoint.ts's). */
export const ARTICLES_OUTPUTS = {
  log: "log.jsonl",
  model: "model",
  /** The dev articles' scores (MultiLabelMetrics) and the run's counts. */
  metrics: "articles.json",
  /** The dev sentences most confidently wrong, one JSON object a line. */
  wrong: "wrong-sentences.jsonl",
} as const;

/** The command's defaults (and the main job's). */
export const ARTICLES_DEFAULTS = {
  epochs: 3,
  lr: 1e-4,
  batchSize: 32,
  maxLength: 64,
  seed: 42,
  heldOut: 6,
  goExamples: 2000,
  evalBatchSize: 64,
  wrongLimit: 50,
} as const;

/** What `gotune articles` takes. */
export interface ArticlesOptions {
  /** The starting model: a pre-trained (or classifier) folder; the shipped go-bert-mini by default. */
  model?: string;
  out: string;
  /** The CRAFT file (the vendored one by default). */
  craft?: string;
  /** A folder written by `gotune prepare`: its train definitions are mixed in (labelled by aspect). */
  data?: string;
  /** How many GO train definitions to mix in (0: none; all when fewer). */
  goExamples?: number;
  epochs?: number;
  lr?: number;
  batchSize?: number;
  maxLength?: number;
  seed?: number;
  /** Train articles held out of training to choose the thresholds on. */
  heldOut?: number;
  /** Stop after a number of training sentences (a quick run); all by default. */
  trainLimit?: number;
  signal?: AbortSignal;
  note?: (line: string) => void;
}

/** A dev sentence the model got wrong, with its article. */
export interface WrongArticleSentence {
  pmid: string;
  text: string;
  gold: string[];
  predicted: string[];
  probabilities: Record<string, number>;
  confidence: number;
}

/** How a run ended. */
export interface ArticlesResult {
  train: TrainResult;
  /** Dev scores (absent when interrupted). */
  metrics?: MultiLabelMetrics;
  /** Held-out train articles' scores at the tuned thresholds (the thresholds' own data). */
  heldOutMetrics?: MultiLabelMetrics;
  wrong: WrongArticleSentence[];
  counts: {
    train_articles: number;
    held_out_articles: number;
    dev_articles: number;
    train_sentences: number;
    go_examples: number;
    dev_sentences: number;
  };
  modelDir?: string;
}

interface Sentences {
  texts: string[];
  gold: number[][];
  pmids: string[];
}

function sentencesOf(articles: readonly CraftArticle[]): Sentences {
  const out: Sentences = { texts: [], gold: [], pmids: [] };
  for (const a of articles)
    for (const s of a.sentences) {
      if (s.text.trim() === "") continue;
      out.texts.push(s.text);
      out.gold.push(s.aspects.map((x) => ASPECTS.indexOf(x)));
      out.pmids.push(a.pmid);
    }
  return out;
}

/** Trains and scores the article classifier as the header says. */
export async function articlesJob(opts: ArticlesOptions): Promise<ArticlesResult> {
  const o = { ...ARTICLES_DEFAULTS, ...opts };
  const note = o.note ?? (() => {});
  const articles = await readCraft({ file: o.craft });
  const trainArticles = articles.filter((a) => a.split === "train");
  const dev = articles.filter((a) => a.split === "dev");
  if (o.heldOut >= trainArticles.length)
    throw new UserError(
      `--held-out ${o.heldOut} leaves no train article to train on (${trainArticles.length})`,
      {
        hint: "hold out fewer articles",
      },
    );
  // A seeded choice of whole articles: sentences of one article are alike, so thresholds are tuned on unseen ones.
  const shuffled = new Rng(o.seed).shuffle([...trainArticles]);
  const heldOutArticles = shuffled.slice(0, o.heldOut);
  const fitArticles = shuffled.slice(o.heldOut);
  const fit = sentencesOf(fitArticles);
  const held = sentencesOf(heldOutArticles);
  const devS = sentencesOf(dev);
  const L = ASPECTS.length;

  let texts = fit.texts;
  let gold = fit.gold;
  if (o.trainLimit !== undefined && o.trainLimit < texts.length) {
    texts = texts.slice(0, o.trainLimit);
    gold = gold.slice(0, o.trainLimit);
  }
  let goCount = 0;
  if (o.data && o.goExamples > 0) {
    const split = await loadSplit(o.data);
    const go = takeShuffled(split.train, o.goExamples, o.seed);
    texts = [...texts, ...go.map((e) => e.text)];
    gold = [...gold, ...go.map((e) => [e.label])];
    goCount = go.length;
  }
  note(
    `articles: training on ${texts.length - goCount} sentences of ${fitArticles.length} CRAFT train articles` +
      `${goCount ? ` and ${goCount} GO definitions` : ""}; thresholds on ${held.texts.length} sentences of ` +
      `${heldOutArticles.length} held-out train articles; scored on ${devS.texts.length} sentences of ${dev.length} dev articles`,
  );
  const targets = new Float32Array(texts.length * L);
  gold.forEach((g, i) => {
    for (const j of g) targets[i * L + j] = 1;
  });

  const resumeFrom = await lastCheckpoint(o.out);
  const built = await fromFolder(
    resumeFrom ?? o.model ?? SHIPPED_MODEL_DIR,
    !!resumeFrom,
    o.seed,
    note,
    "multi_label_classification",
  );
  const { model, tokenizer, labels } = built;
  if (labels.join() !== ASPECTS.join())
    throw new UserError(`the model's labels are ${labels.join(", ")}, not the three GO aspects`, {
      file: built.source,
      hint: "start from a pre-trained model (a fresh head) or an article classifier",
    });
  if (o.maxLength > model.config.max_position_embeddings)
    throw new UserError(
      `--max-length ${o.maxLength} exceeds the model's ${model.config.max_position_embeddings} positions`,
    );
  const clf = new Classifier(model, tokenizer, labels);
  const data = new ClassificationData(
    encodeTexts(tokenizer, texts, o.maxLength),
    { targets, width: L },
    { batchSize: o.batchSize, padId: tokenizer.padId, seed: o.seed, groupByLength: true },
  );
  await fsp.mkdir(o.out, { recursive: true });
  const train = await trainLoop(classifierTask(model), data, {
    epochs: o.epochs,
    lr: o.lr,
    warmupRatio: 0.06,
    weightDecay: 0.01,
    maxGradNorm: 1,
    seed: o.seed,
    logFile: join(o.out, ARTICLES_OUTPUTS.log),
    checkpoint: { dir: o.out, save: (dir) => clf.save(dir), totalLimit: 1 },
    resumeFrom,
    signal: o.signal,
    label: "articles",
  });
  const counts = {
    train_articles: fitArticles.length,
    held_out_articles: heldOutArticles.length,
    dev_articles: dev.length,
    train_sentences: texts.length - goCount,
    go_examples: goCount,
    dev_sentences: devS.texts.length,
  };
  if (train.interrupted) return { train, wrong: [], counts };

  const predict = (t: string[], label: string) =>
    clf.predictProba(t, {
      batchSize: o.evalBatchSize,
      maxLength: o.maxLength,
      onBatch: (d, n) => {
        if (d === n) note(`articles: ${label}: ${n} sentences classified`);
      },
    }).probs;
  const heldProbs = predict(held.texts, "held-out train articles");
  clf.thresholds = tuneThresholds(heldProbs, held.gold, L);
  const heldOutMetrics = multiLabelMetrics(heldProbs, held.gold, labels, clf.thresholds);
  const devProbs = predict(devS.texts, "dev articles");
  const metrics = multiLabelMetrics(devProbs, devS.gold, labels, clf.thresholds);
  const wrong = confidentlyWrong(devProbs, devS.gold, clf.thresholds, o.wrongLimit).map((w) => ({
    pmid: devS.pmids[w.index]!,
    text: devS.texts[w.index]!,
    gold: w.gold.map((j) => labels[j]!),
    predicted: w.predicted.map((j) => labels[j]!),
    probabilities: Object.fromEntries(
      labels.map((l, j) => [l, Math.round(devProbs[w.index * L + j]! * 1e4) / 1e4]),
    ),
    confidence: w.confidence,
  }));
  const modelDir = join(o.out, ARTICLES_OUTPUTS.model);
  await writeDirAtomic(modelDir, (dir) => clf.save(dir));
  await writeFileAtomic(
    join(o.out, ARTICLES_OUTPUTS.metrics),
    `${JSON.stringify({ counts, dev: metrics, held_out: heldOutMetrics }, null, 2)}\n`,
  );
  await writeFileAtomic(
    join(o.out, ARTICLES_OUTPUTS.wrong),
    wrong.map((w) => `${JSON.stringify(w)}\n`).join(""),
  );
  note(
    `articles: dev: single-aspect accuracy ${metrics.single_accuracy.toFixed(4)}, macro-F1 ${metrics.single_macro_f1.toFixed(4)}; ` +
      `per-aspect F1 mean ${metrics.per_label_f1_mean.toFixed(4)}; detection F1 ${metrics.detection.f1.toFixed(4)}; ECE ${metrics.ece.toFixed(4)}`,
  );
  return { train, metrics, heldOutMetrics, wrong, counts, modelDir };
}
