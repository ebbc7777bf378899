/**
 * The fine-tuning task behind `gotune train`: a GO split and a model (folder, hub id or size preset) in;
 * per-epoch evaluation, checkpoints, OUT/model, OUT/log.jsonl and a training-curve figure out.
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { ASPECTS, type Example, loadSplit, takeShuffled } from "../data/examples.js";
import { trainingCurve } from "../figures/training-curve.js";
import { resolveModel } from "../hf/hub.js";
import {
  checkWeightsCover,
  loadModelFolder,
  MODEL_FILES,
  openWeights,
  readModelConfig,
} from "../hf/model-folder.js";
import { BertTokenizer } from "../hf/tokenizer.js";
import { trainVocabulary, vocabularyCounter } from "../hf/vocabulary.js";
import { Classifier } from "../inference/classifier.js";
import { evaluateClassifier, modelLabelIds } from "../inference/evaluate.js";
import type { Metrics } from "../inference/metrics.js";
import { type Batch, BertForSequenceClassification } from "../model/bert.js";
import { BERT_PRESETS, type BertConfig, makeConfig, type ProblemType } from "../model/config.js";
import { usableDtype } from "../native/index.js";
import { ClassificationData, encodeTexts } from "../train/batching.js";
import { lastCheckpoint, readTrainerState } from "../train/checkpoint.js";
import { evalRecords, readRunLog, trainRecords } from "../train/run-log.js";
import { type TrainResult, type TrainTask, trainLoop } from "../train/trainer.js";
import { UserError } from "../util/errors.js";
import { isDir, writeDirAtomic, writeFileAtomic } from "../util/fsx.js";

/** What a fine-tuning run writes into OUT (checkpoint-STEP folders are train/checkpoint.ts's). */
export const FINETUNE_OUTPUTS = {
  log: "log.jsonl",
  model: "model",
  predictions: "predictions.jsonl",
  curveSvg: "training-curve.svg",
  curvePng: "training-curve.png",
  evalEpoch: (epoch: number) => `eval-epoch-${epoch}.json`,
} as const;

/** What `gotune train` takes; defaults (in the command) are Hugging Face Trainer's. */
export interface FinetuneOptions {
  data: string;
  model: string;
  out: string;
  epochs: number;
  lr: number;
  batchSize: number;
  maxLength: number;
  warmupRatio: number;
  warmupSteps?: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  groupByLength: boolean;
  trainLimit?: number;
  evalLimit?: number;
  /** Vocabulary size of the tokenizer trained for a preset. */
  vocabSize: number;
  evalBatchSize: number;
  saveSteps?: number;
  saveTotalLimit?: number;
  /** A checkpoint folder, or `true` for OUT's newest; undefined: OUT's newest if there is one. */
  resume?: string | true;
  figures: boolean;
  /** Write each test example's prediction at the last evaluation to OUT/predictions.jsonl (error analysis). */
  savePredictions?: boolean;
  /** "epoch": evaluate after each epoch (default); "end": after the last only (saves time). */
  evalStrategy?: "epoch" | "end";
  signal?: AbortSignal;
  /** Where notes go (stderr in the command). */
  note?: (line: string) => void;
  /** The encoder's products in bf16, as Trainer's bf16=True (fp32 where the CPU lacks bf16). */
  bf16?: boolean;
}

/** How a fine-tuning run ended. */
export interface FinetuneResult {
  train: TrainResult;
  trainExamples: number;
  evalExamples: number;
  /** The last epoch's evaluation (absent when interrupted before any). */
  metrics?: Metrics;
  /** OUT/model, when the run finished. */
  modelDir?: string;
  resumedFrom?: string;
}

/** Hugging Face Trainer's defaults (and gotune's for the rest): spread them under a caller's choices. */
export const FINETUNE_DEFAULTS = {
  epochs: 3,
  lr: 5e-5,
  batchSize: 8,
  maxLength: 100,
  warmupRatio: 0,
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 42,
  groupByLength: false,
  vocabSize: 8000,
  evalBatchSize: 32,
  figures: true,
  evalStrategy: "epoch",
} satisfies Partial<FinetuneOptions>;

const isGeneric = (labels: string[]) => labels.every((l, i) => l === `LABEL_${i}`);

/** A model to fine-tune, its tokenizer and labels. */
export interface Built {
  model: BertForSequenceClassification;
  tokenizer: BertTokenizer;
  labels: string[];
  /** Where the starting point came from, for the log. */
  source: string;
}

/**
 * A model and tokenizer from a checkpoint, a classifier or a pre-trained folder: labels from its id2label
 * (a fresh head has the three aspects); `problemType` multi-label makes the head a sigmoid a label.
 */
export async function fromFolder(
  dir: string,
  resumed: boolean,
  seed: number,
  note: (s: string) => void,
  problemType?: ProblemType,
): Promise<Built> {
  const { config } = await readModelConfig(dir);
  const tokenizer = await BertTokenizer.fromFolder(dir);
  const weights = await openWeights(dir);
  let headRows: number | undefined;
  try {
    checkWeightsCover(config, weights, join(dir, "config.json"));
    headRows = weights.info("classifier.weight")?.shape[0];
  } finally {
    await weights.close();
  }
  let labels: string[];
  if (headRows === undefined) {
    // A base or pre-trained encoder: the head starts fresh with the data's labels.
    labels = [...ASPECTS];
  } else {
    const names = config.id2label ?? {};
    labels = Array.from({ length: headRows }, (_, i) => names[String(i)] ?? `LABEL_${i}`);
    if (isGeneric(labels) && labels.length === ASPECTS.length) labels = [...ASPECTS];
  }
  const cfg: BertConfig = {
    ...config,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    ...(problemType ? { problem_type: problemType } : {}),
  };
  // The seed draws a fresh head (and anything else the checkpoint lacks), as set_seed does in transformers.
  const model = new BertForSequenceClassification(cfg, { numLabels: labels.length, seed });
  // A resumed run gets its weights from the trainer (with the optimiser state); loading them here too
  // would only cost time.
  if (!resumed) {
    const report = await loadModelFolder(dir, model);
    for (const n of report.notes) note(`train: ${n}`);
  }
  return { model, tokenizer, labels, source: dir };
}

/** A model from a size preset, initialised from scratch, with a tokenizer trained on `texts`. */
function fromPreset(preset: string, texts: string[], o: FinetuneOptions, note: (s: string) => void): Built {
  const counter = vocabularyCounter();
  for (const t of texts) counter.add(t);
  const tokenizer = trainVocabulary(counter, {
    vocabSize: o.vocabSize,
    minFrequency: 2,
    label: "train: vocabulary",
  });
  note(
    `train: ${preset} from scratch; WordPiece vocabulary of ${tokenizer.vocabSize} tokens from the train split`,
  );
  const labels = [...ASPECTS];
  const config = makeConfig(
    {
      vocab_size: tokenizer.vocabSize,
      id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
      label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    },
    preset,
  );
  return {
    model: new BertForSequenceClassification(config, { seed: o.seed }),
    tokenizer,
    labels,
    source: preset,
  };
}

/** A folder, a hub id, or else (for a bare name) a clear word on the presets. */
async function resolveSource(model: string): Promise<string> {
  try {
    return await resolveModel(model, "model");
  } catch (err) {
    if (err instanceof UserError && !model.includes("/"))
      throw new UserError(
        `${model} is not a model folder or a size preset (${Object.keys(BERT_PRESETS).join(", ")}), and as a hub id: ${err.message}`,
        { hint: "give a folder, a preset or a Hugging Face id ORG/NAME" },
      );
    throw err;
  }
}

/** The model's id for each example's aspect; a label the model's head does not have is a UserError. */
function mapLabels(examples: Example[], labels: string[], where: string): Int32Array {
  return modelLabelIds(
    examples,
    labels,
    (_i, aspect) =>
      new UserError(
        `the data has label ${aspect} but the model's classifier knows only ${labels.join(", ")}`,
        {
          file: where,
          hint: "fine-tune a base model, or one trained on the GO aspects",
        },
      ),
  );
}

/** Runs the fine-tuning described by `o` (see FinetuneOptions). */
export async function finetune(o: FinetuneOptions): Promise<FinetuneResult> {
  const note = o.note ?? (() => {});
  const split = await loadSplit(o.data);
  const train = takeShuffled(split.train, o.trainLimit, o.seed);
  const test = takeShuffled(split.test, o.evalLimit, o.seed);

  let resumeFrom: string | undefined;
  if (typeof o.resume === "string") resumeFrom = o.resume;
  else {
    resumeFrom = await lastCheckpoint(o.out);
    if (o.resume === true && !resumeFrom)
      throw new UserError("no checkpoint to resume from", {
        file: o.out,
        hint: "run without --resume to start, or give --resume CHECKPOINT_DIR",
      });
  }
  if (resumeFrom) {
    const st = await readTrainerState(resumeFrom);
    note(`train: resuming from ${resumeFrom} (step ${st.global_step} of ${st.total_steps})`);
  }

  const isPreset = Object.hasOwn(BERT_PRESETS, o.model) && !(await isDir(o.model));
  const built = resumeFrom
    ? await fromFolder(resumeFrom, true, o.seed, note)
    : isPreset
      ? fromPreset(
          o.model,
          split.train.map((e) => e.text),
          o,
          note,
        )
      : await fromFolder(await resolveSource(o.model), false, o.seed, note);
  const { model, tokenizer, labels } = built;
  if (o.bf16) model.setDtype(usableDtype("bf16", note));
  const configFile = join(built.source, MODEL_FILES.config);
  const trainLabels = mapLabels(train, labels, configFile);
  const testLabels = mapLabels(test, labels, configFile);
  const maxPos = model.config.max_position_embeddings;
  if (o.maxLength > maxPos)
    throw new UserError(`--max-length ${o.maxLength} exceeds the model's ${maxPos} positions`, {
      hint: `give --max-length ${maxPos} or less`,
    });
  // Saved as tokenizer_config.json's model_max_length, so inference truncates as training did.
  const clf = new Classifier(model, tokenizer.withModelMaxLength(o.maxLength), labels);

  const data = new ClassificationData(
    encodeTexts(
      tokenizer,
      train.map((e) => e.text),
      o.maxLength,
    ),
    trainLabels,
    { batchSize: o.batchSize, padId: tokenizer.padId, seed: o.seed, groupByLength: o.groupByLength },
  );
  const evalTexts = test.map((e) => e.text);
  let metrics: Metrics | undefined;

  const evaluate = async (epoch: number, step: number) => {
    if (o.evalStrategy === "end" && epoch < o.epochs) return undefined;
    const t0 = performance.now();
    const {
      metrics: m,
      probs,
      pred,
    } = evaluateClassifier(clf, evalTexts, testLabels, {
      batchSize: o.evalBatchSize,
      maxLength: o.maxLength,
      label: `eval epoch ${epoch}`,
    });
    metrics = m;
    if (o.savePredictions && epoch === o.epochs) {
      const L = labels.length;
      const lines = test.map((e, i) =>
        JSON.stringify({
          id: e.id ?? null,
          label: testLabels[i],
          predicted: pred[i],
          probabilities: Array.from(probs.subarray(i * L, (i + 1) * L), (p) => Math.round(p * 1e6) / 1e6),
        }),
      );
      await writeFileAtomic(join(o.out, FINETUNE_OUTPUTS.predictions), `${lines.join("\n")}\n`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const record = { epoch, step, eval_examples: evalTexts.length, eval_seconds: seconds, ...m };
    await writeFileAtomic(
      join(o.out, FINETUNE_OUTPUTS.evalEpoch(epoch)),
      `${JSON.stringify(record, null, 2)}\n`,
    );
    note(
      `train: epoch ${epoch}: accuracy ${m.accuracy.toFixed(4)}, macro-F1 ${m.macro_f1.toFixed(4)} on ${evalTexts.length} examples`,
    );
    return { eval_examples: evalTexts.length, eval_seconds: seconds, ...m };
  };

  await fsp.mkdir(o.out, { recursive: true });
  const result = await trainLoop(classifierTask(model), data, {
    epochs: o.epochs,
    lr: o.lr,
    warmupRatio: o.warmupRatio,
    warmupSteps: o.warmupSteps,
    weightDecay: o.weightDecay,
    maxGradNorm: o.maxGradNorm,
    seed: o.seed,
    logFile: join(o.out, FINETUNE_OUTPUTS.log),
    checkpoint: {
      dir: o.out,
      save: (dir) => clf.save(dir),
      saveSteps: o.saveSteps,
      totalLimit: o.saveTotalLimit,
    },
    onEpochEnd: evaluate,
    resumeFrom,
    signal: o.signal,
    label: "train",
  });

  // A run resumed after its end has no eval of its own: take the last one written.
  if (!metrics) {
    const last = [...result.history].reverse().find((h) => h.type === "eval");
    if (last) metrics = last as unknown as Metrics;
  }
  let modelDir: string | undefined;
  if (!result.interrupted) {
    modelDir = join(o.out, FINETUNE_OUTPUTS.model);
    await writeDirAtomic(modelDir, (dir) => clf.save(dir));
  }
  if (o.figures) await writeCurve(o.out);
  return {
    train: result,
    trainExamples: train.length,
    evalExamples: test.length,
    metrics,
    modelDir,
    resumedFrom: resumeFrom,
  };
}

/** OUT/training-curve.svg and .png from OUT/log.jsonl. */
async function writeCurve(out: string): Promise<void> {
  const log = await readRunLog(join(out, FINETUNE_OUTPUTS.log));
  const steps = trainRecords(log).map((r) => ({ step: r.step, loss: r.loss }));
  const evals = evalRecords(log).map((r) => ({
    epoch: r.epoch!,
    step: r.step,
    accuracy: r.accuracy!,
    macro_f1: r.macro_f1!,
  }));
  if (!steps.length) return;
  const fig = await trainingCurve(steps, evals);
  await writeFileAtomic(join(out, FINETUNE_OUTPUTS.curveSvg), fig.svg);
  await writeFileAtomic(join(out, FINETUNE_OUTPUTS.curvePng), fig.png);
}

/** The training step of a sequence classifier (single- or multi-label: its loss is the model's own). */
export function classifierTask(model: BertForSequenceClassification): TrainTask<Batch> {
  return {
    params: () => model.params(),
    zeroGrad: () => model.zeroGrad(),
    setDropoutSeed: (s) => model.setDropoutSeed(s),
    step(batch: Batch) {
      const { loss } = model.forward(batch, { train: true });
      model.backward();
      return loss!;
    },
  };
}
