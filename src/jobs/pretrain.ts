/**
 * Masked-language-model pre-training of a compact BERT with its own WordPiece vocabulary, on the train
 * split's unlabelled text: the offline stand-in for a downloaded pre-trained model. The run is the shared
 * training loop (train/trainer.ts) over MlmTask (train/mlm-task.ts) and MlmData (train/mlm-data.ts),
 * planned against a time budget (train/plan.ts); the result is a Hugging Face folder (config.json,
 * model.safetensors with bert.* and cls.predictions.*, tokenizer files) that `gotune train` fine-tunes.
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { buildCorpus, type Corpus, type CorpusOptions, corpusSummary } from "../data/corpus.js";
import { pretrainLossFigure } from "../figures/pretrain-loss.js";
import { saveModelFolder } from "../hf/model-folder.js";
import type { BertTokenizer } from "../hf/tokenizer.js";
import { writeTokenizerFiles } from "../hf/tokenizer-files.js";
import { trainVocabulary, vocabularyCounter } from "../hf/vocabulary.js";
import { type Batch, BertForMaskedLM } from "../model/bert.js";
import { BERT_PRESETS, type BertConfig, makeConfig } from "../model/config.js";
import { usableDtype } from "../native/index.js";
import { listCheckpoints } from "../train/checkpoint.js";
import { MlmCollator, type MlmTokens, type Packing } from "../train/mlm-collator.js";
import { corpusSequences, heldOutBatches, MlmData, mlmTokens } from "../train/mlm-data.js";
import { MlmTask } from "../train/mlm-task.js";
import { budgetSpent, readPlan, stepsThatFit, timeStep, writePlan } from "../train/plan.js";
import { evalRecords, readRunLog, trainRecords, writeRunLog } from "../train/run-log.js";
import { type TrainResult, trainLoop } from "../train/trainer.js";
import { UserError } from "../util/errors.js";
import { ensureWritableDir, writeFileAtomic } from "../util/fsx.js";

/** What a pre-training run writes into its folder, besides the model and tokenizer files. */
export const PRETRAIN_OUTPUTS = {
  /** The summary (PretrainSummary). */
  summary: "pretrain.json",
  /** The JSONL run log: corpus, vocabulary and sequences, every step, the held-out curve, the summary. */
  log: "pretrain_log.jsonl",
  lossFigureSvg: join("figures", "pretrain_loss.svg"),
  lossFigurePng: join("figures", "pretrain_loss.png"),
  /** Checkpoints of an interrupted run (gone once a run finishes), with the run's plan. */
  checkpoints: "checkpoints",
  plan: join("checkpoints", "plan.json"),
} as const;

/** What `gotune pretrain` does, flag by flag. */
export interface PretrainOptions {
  corpus: CorpusOptions;
  out: string;
  /** A size preset of src/model/config.ts (bert-mini, bert-tiny...). */
  preset: string;
  /** Shape overrides (layers, hidden size, heads, intermediate size). */
  shape: Partial<BertConfig>;
  vocabSize: number;
  minFrequency: number;
  epochs: number;
  batchSize: number;
  lr: number;
  warmupRatio: number;
  weightDecay: number;
  /** Tokens a sequence, [CLS] and [SEP] included. */
  maxLength: number;
  /** The model's max_position_embeddings (fine-tuning's max_length must fit in it). */
  maxPositions: number;
  mlmProbability: number;
  seed: number;
  packing: Packing;
  groupByLength: boolean;
  /** Stop (and save) when this many minutes have passed since `startedAt`. */
  timeBudgetMinutes?: number;
  /** At most this many optimiser steps (the schedule then ends there). */
  maxSteps?: number;
  /** Also checkpoint every this many steps (OUT/checkpoints; a signal or the end always writes one). */
  saveSteps?: number;
  /** performance.now() when the command started (the budget counts from it); now by default. */
  startedAt?: number;
  /** Decode only the chosen positions (default true); false runs BertForMaskedLM's full head. */
  maskedOnly?: boolean;
  /** Stops after the current step and saves (Ctrl-C). */
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** The encoder's products in bf16, as Trainer's bf16=True (fp32 where the CPU lacks bf16). */
  bf16?: boolean;
}

/** The defaults of `gotune pretrain` (and of `gotune run`'s pre-training): everything but data and out. */
export const PRETRAIN_DEFAULTS: Omit<PretrainOptions, "corpus" | "out"> = {
  preset: "bert-mini",
  shape: {},
  vocabSize: 8000,
  minFrequency: 2,
  epochs: 3,
  batchSize: 32,
  lr: 5e-4,
  warmupRatio: 0.05,
  weightDecay: 0.01,
  maxLength: 64,
  maxPositions: 128,
  mlmProbability: 0.15,
  seed: 42,
  packing: "pack",
  groupByLength: true,
};

/** What a run did, as written to OUT/pretrain.json. */
export interface PretrainSummary {
  corpus: Corpus["counts"];
  vocab_size: number;
  sequences: { train: number; held_out: number; mean_tokens: number; padding_share: number };
  config: BertConfig;
  parameters: number;
  steps: { planned: number; done: number; per_pass: number; passes: number; stopped_by_budget: boolean };
  options: Record<string, unknown>;
  loss: { first_held_out: number | null; last_held_out: number | null; last_train_mean: number };
  held_out_curve: { step: number; loss: number }[];
  seconds: { corpus_and_vocab: number; training: number; total: number };
  examples_per_s: number;
}

function checkOptions(o: PretrainOptions): void {
  if (!(o.preset in BERT_PRESETS))
    throw new UserError(`unknown --preset ${o.preset}`, {
      hint: `choose one of ${Object.keys(BERT_PRESETS).join(", ")}`,
    });
  if (o.maxLength < 3 || o.maxLength > o.maxPositions)
    throw new UserError(
      `--max-length ${o.maxLength} must be between 3 and --max-positions ${o.maxPositions}`,
      {
        hint: "e.g. --max-length 64 --max-positions 128",
      },
    );
  if (!(o.mlmProbability > 0 && o.mlmProbability < 1))
    throw new UserError(`--mlm-probability ${o.mlmProbability} is not between 0 and 1`, {
      hint: "e.g. 0.15",
    });
  const c = makeConfig(o.shape, o.preset);
  if (c.hidden_size % c.num_attention_heads !== 0)
    throw new UserError(
      `the hidden size ${c.hidden_size} is not a multiple of the ${c.num_attention_heads} attention heads`,
      { hint: "give --hidden and --heads that divide" },
    );
}

/** Held-out evaluations a run makes (besides the one before training and the one at its end). */
const EVALS = 10;

/** A point of the held-out curve. */
type CurvePoint = { step: number; loss: number };

/** Runs the whole pre-training and writes the model folder, log, figure and summary into `opts.out`. */
export async function pretrain(opts: PretrainOptions): Promise<PretrainSummary> {
  const start = opts.startedAt ?? performance.now();
  const log = opts.log ?? ((l: string) => process.stderr.write(`gotune: ${l}\n`));
  checkOptions(opts);
  await ensureWritableDir(opts.out);
  const file = (name: string) => join(opts.out, name);

  // The corpus, its vocabulary, its sequences and the model.
  const corpus = await buildCorpus(opts.corpus);
  log(corpusSummary(corpus.counts));
  const tok = corpusVocabulary(corpus, opts, log);
  const tokens = mlmTokens(tok);
  const { train: seqs, heldOut } = corpusSequences(corpus.texts, tok, tokens, opts);
  const collator = new MlmCollator(tokens, opts.mlmProbability);
  const heldBatches = heldOutBatches(heldOut, collator, opts.batchSize, opts.seed + 1);
  const model = new BertForMaskedLM(modelConfig(opts, tokens), { seed: opts.seed });
  if (opts.bf16) model.setDtype(usableDtype("bf16", log));
  const task = new MlmTask(model, opts.maskedOnly ?? true);
  const saveModel = async (dir: string) => {
    await saveModelFolder(dir, model);
    await writeTokenizerFiles(dir, tok);
  };
  const dataOpts = { batchSize: opts.batchSize, seed: opts.seed, groupByLength: opts.groupByLength };
  const probe = new MlmData(seqs, collator, dataOpts);
  const perPass = probe.stepsPerPass;
  const sequences = {
    train: seqs.length,
    held_out: heldOut.length,
    mean_tokens: probe.meanTokens(),
    padding_share: probe.paddingShare(),
  };
  const nParams = model.params().reduce((s, p) => s + p.data.length, 0);
  log(sequencesLine(opts, sequences, model.config, nParams));
  const prepMs = performance.now() - start;

  // The plan: the steps to run, and the held-out curve so far.
  const ckDir = file(PRETRAIN_OUTPUTS.checkpoints);
  const logFile = file(PRETRAIN_OUTPUTS.log);
  const resume = (await listCheckpoints(ckDir)).pop();
  const budgetMs = opts.timeBudgetMinutes === undefined ? undefined : opts.timeBudgetMinutes * 60_000;
  const { planned, curve } = await planRun({
    opts,
    key: runKey(opts, corpus, tok, seqs.length, model.config),
    resume,
    task,
    probe,
    heldBatches,
    budgetMs,
    start,
    log,
  });

  // Training: the shared loop, evaluating EVALS times and stopping when the budget is spent.
  const fullEpochs = planned === opts.epochs * perPass;
  const data = new MlmData(seqs, collator, dataOpts, fullEpochs ? perPass : planned);
  const { result, byBudget, trainMs } = await trainPlanned({
    opts,
    task,
    save: saveModel,
    data,
    epochs: fullEpochs ? opts.epochs : 1,
    planned,
    heldBatches,
    curve,
    resumeFrom: resume?.dir,
    budgetMs,
    start,
  });
  log(doneLine(result, byBudget, planned, perPass, trainMs, curve));

  // The model; a finished run (or one its budget ended) needs no checkpoint, one stopped by a signal
  // keeps it to resume.
  await saveModel(opts.out);
  if (result.interrupted && !byBudget)
    log(`run the same command again to resume from step ${result.globalStep}`);
  else await fsp.rm(ckDir, { recursive: true, force: true });

  // The summary, the log in its final order, the figure.
  const summary: PretrainSummary = {
    corpus: corpus.counts,
    vocab_size: tok.vocabSize,
    sequences,
    config: model.config,
    parameters: nParams,
    steps: {
      planned,
      done: result.globalStep,
      per_pass: perPass,
      passes: result.globalStep / perPass,
      stopped_by_budget: byBudget,
    },
    options: summaryOptions(opts),
    loss: {
      first_held_out: curve[0]?.loss ?? null,
      last_held_out: curve[curve.length - 1]?.loss ?? null,
      last_train_mean: result.recentLoss,
    },
    held_out_curve: curve,
    seconds: {
      corpus_and_vocab: prepMs / 1000,
      training: trainMs / 1000,
      total: (performance.now() - start) / 1000,
    },
    examples_per_s: result.examplesPerSecond,
  };
  await finishLog(logFile, summary);
  await writeLossFigure(opts.out, summary);
  await writeFileAtomic(file(PRETRAIN_OUTPUTS.summary), `${JSON.stringify(summary, null, 2)}\n`);
  summary.seconds.total = (performance.now() - start) / 1000;
  return summary;
}

const secs = (ms: number) => (ms / 1000).toFixed(1);

/**
 * An interrupted run of the same command continues with the plan it made (and the curve it logged); a new
 * run evaluates once (the curve's start, and the cost of an evaluation), fits its steps to the budget so
 * the schedule ends at 0 inside it, and saves that plan.
 */
async function planRun(a: {
  opts: PretrainOptions;
  key: Record<string, unknown>;
  resume: { dir: string; step: number } | undefined;
  task: MlmTask;
  probe: MlmData;
  heldBatches: readonly Batch[];
  budgetMs: number | undefined;
  start: number;
  log: (line: string) => void;
}): Promise<{ planned: number; curve: CurvePoint[] }> {
  const { opts, probe } = a;
  const planFile = join(opts.out, PRETRAIN_OUTPUTS.plan);
  const perPass = probe.stepsPerPass;
  const curve: CurvePoint[] = [];
  if (a.resume) {
    const planned = await readPlan(planFile, a.key, join(opts.out, PRETRAIN_OUTPUTS.checkpoints));
    curve.push(...(await heldOutRecords(join(opts.out, PRETRAIN_OUTPUTS.log), a.resume.step)));
    a.log(`resuming from ${a.resume.dir} (step ${a.resume.step} of ${planned})`);
    return { planned, curve };
  }
  let planned = Math.min(opts.epochs * perPass, opts.maxSteps ?? Number.POSITIVE_INFINITY);
  const e0 = performance.now();
  if (a.heldBatches.length) curve.push({ step: 0, loss: a.task.heldOutLoss(a.heldBatches) });
  const evalMs = performance.now() - e0;
  if (a.budgetMs !== undefined) {
    const stepMs = timeStep(a.task, (k) => probe.batchAt(k), perPass);
    const elapsedMs = performance.now() - a.start;
    planned = stepsThatFit(planned, { budgetMs: a.budgetMs, elapsedMs, stepMs, evalMs, evals: EVALS });
    a.log(
      `time budget ${opts.timeBudgetMinutes} min: ${secs(stepMs)} s a step here, ${planned} of ${opts.epochs * perPass} steps planned ` +
        `(${(planned / perPass).toFixed(2)} passes)`,
    );
  }
  await writePlan(planFile, a.key, planned);
  return { planned, curve };
}

/**
 * The shared loop over the planned steps: checkpoints into OUT/checkpoints, evaluates the held-out batches
 * EVALS times (into `curve`, which ends at the last step), and stops early when the budget is spent.
 */
async function trainPlanned(a: {
  opts: PretrainOptions;
  task: MlmTask;
  save: (dir: string) => Promise<void>;
  data: MlmData;
  epochs: number;
  planned: number;
  heldBatches: readonly Batch[];
  curve: CurvePoint[];
  resumeFrom: string | undefined;
  budgetMs: number | undefined;
  start: number;
}): Promise<{ result: TrainResult; byBudget: boolean; trainMs: number }> {
  const { opts, task, planned, heldBatches, curve, budgetMs } = a;
  const evalEvery = Math.max(1, Math.round(planned / EVALS));
  const stop = new AbortController();
  if (opts.signal?.aborted) stop.abort();
  else opts.signal?.addEventListener("abort", () => stop.abort());
  let byBudget = false;
  let last = performance.now();
  const trainStart = last;
  const result = await trainLoop(task, a.data, {
    epochs: a.epochs,
    lr: opts.lr,
    warmupRatio: opts.warmupRatio,
    weightDecay: opts.weightDecay,
    maxGradNorm: 1,
    seed: opts.seed,
    logFile: join(opts.out, PRETRAIN_OUTPUTS.log),
    label: "pretrain",
    signal: stop.signal,
    resumeFrom: a.resumeFrom,
    checkpoint: {
      dir: join(opts.out, PRETRAIN_OUTPUTS.checkpoints),
      totalLimit: 1,
      saveSteps: opts.saveSteps,
      save: a.save,
    },
    onStep(step) {
      if (heldBatches.length && (step % evalEvery === 0 || step === planned))
        curve.push({ step, loss: task.heldOutLoss(heldBatches) });
      const now = performance.now();
      const took = now - last;
      last = now;
      if (budgetMs !== undefined && step < planned && budgetSpent(budgetMs, now - a.start, took)) {
        byBudget = true;
        stop.abort();
      }
    },
  });
  const trainMs = performance.now() - trainStart;
  if (heldBatches.length && curve[curve.length - 1]?.step !== result.globalStep)
    curve.push({ step: result.globalStep, loss: task.heldOutLoss(heldBatches) });
  return { result, byBudget, trainMs };
}

/** The vocabulary, as `gotune train-vocab` trains it, on this corpus only. */
function corpusVocabulary(corpus: Corpus, opts: PretrainOptions, log: (l: string) => void): BertTokenizer {
  const counter = vocabularyCounter();
  for (const t of corpus.texts) counter.add(t);
  const tok = trainVocabulary(counter, {
    vocabSize: opts.vocabSize,
    minFrequency: opts.minFrequency,
    modelMaxLength: opts.maxPositions,
    label: "pretrain: vocabulary",
  });
  log(`vocabulary: ${tok.vocabSize} WordPiece tokens from ${counter.counts.size} distinct words`);
  return tok;
}

/** The preset with the options' shape, sized to the vocabulary and positions. */
function modelConfig(opts: PretrainOptions, tokens: MlmTokens): BertConfig {
  return makeConfig(
    {
      ...opts.shape,
      vocab_size: tokens.vocabSize,
      max_position_embeddings: opts.maxPositions,
      pad_token_id: tokens.padId,
    },
    opts.preset,
  );
}

/** What a resumed run must share with the run that left the checkpoint. */
function runKey(
  opts: PretrainOptions,
  corpus: Corpus,
  tok: BertTokenizer,
  sequences: number,
  config: BertConfig,
): Record<string, unknown> {
  return {
    texts: corpus.counts.texts,
    characters: corpus.counts.characters,
    vocab_size: tok.vocabSize,
    sequences,
    config: { ...config },
    ...Object.fromEntries(
      (
        ["epochs", "batchSize", "lr", "warmupRatio", "weightDecay", "maxLength", "seed", "packing"] as const
      ).map((k) => [k, opts[k]]),
    ),
    groupByLength: opts.groupByLength,
    mlmProbability: opts.mlmProbability,
    maxSteps: opts.maxSteps ?? null,
  };
}

function sequencesLine(
  opts: PretrainOptions,
  s: PretrainSummary["sequences"],
  config: BertConfig,
  nParams: number,
): string {
  return (
    `sequences: ${s.train} (${opts.packing === "pack" ? "packed" : "one text each"}, ${s.mean_tokens.toFixed(1)} tokens on average, ` +
    `${(s.padding_share * 100).toFixed(1)}% padding${opts.groupByLength ? ", length-grouped" : ""}), ${s.held_out} held out; ` +
    `model ${config.num_hidden_layers}x${config.hidden_size}, ${(nParams / 1e6).toFixed(2)} M parameters`
  );
}

function doneLine(
  result: TrainResult,
  byBudget: boolean,
  planned: number,
  perPass: number,
  trainMs: number,
  curve: readonly CurvePoint[],
): string {
  return (
    `${result.interrupted ? (byBudget ? "time budget spent: stopped" : "interrupted: stopped") : "done"} after ` +
    `${result.globalStep} of ${planned} steps (${(result.globalStep / perPass).toFixed(2)} passes) in ${secs(trainMs)} s, ` +
    `${result.examplesPerSecond.toFixed(1)} sequences/s` +
    (curve.length
      ? `; held-out MLM loss ${curve[0]!.loss.toFixed(3)} -> ${curve[curve.length - 1]!.loss.toFixed(3)}`
      : "")
  );
}

/** The options as pretrain.json records them. */
function summaryOptions(opts: PretrainOptions): Record<string, unknown> {
  return {
    preset: opts.preset,
    epochs: opts.epochs,
    batch_size: opts.batchSize,
    lr: opts.lr,
    warmup_ratio: opts.warmupRatio,
    weight_decay: opts.weightDecay,
    max_length: opts.maxLength,
    mlm_probability: opts.mlmProbability,
    seed: opts.seed,
    packing: opts.packing,
    group_by_length: opts.groupByLength,
    time_budget_minutes: opts.timeBudgetMinutes ?? null,
    max_steps: opts.maxSteps ?? null,
    masked_only_head: opts.maskedOnly ?? true,
  };
}

/** The loss figure, from the log's training steps and the summary's held-out curve. */
async function writeLossFigure(out: string, s: PretrainSummary): Promise<void> {
  const train = trainRecords(await readRunLog(join(out, PRETRAIN_OUTPUTS.log)));
  const fig = await pretrainLossFigure(
    train.map((r) => ({ step: r.step, loss: r.loss })),
    s.held_out_curve,
    {
      layers: s.config.num_hidden_layers,
      hiddenSize: s.config.hidden_size,
      vocabSize: s.config.vocab_size,
      sequences: s.sequences.train,
      steps: s.steps.done,
      passes: s.steps.passes,
      trainingSeconds: s.seconds.training,
      mlmProbability: Number(s.options.mlm_probability),
    },
  );
  await writeFileAtomic(join(out, PRETRAIN_OUTPUTS.lossFigureSvg), fig.svg);
  await writeFileAtomic(join(out, PRETRAIN_OUTPUTS.lossFigurePng), fig.png);
}

/** The held-out losses an earlier, interrupted session logged, up to the checkpoint it resumes from. */
async function heldOutRecords(logFile: string, upTo: number): Promise<CurvePoint[]> {
  return evalRecords(await readRunLog(logFile))
    .filter((r) => r.step <= upTo && Number.isFinite(r.held_out_mlm_loss))
    .map((r) => ({ step: r.step, loss: r.held_out_mlm_loss! }));
}

/** Puts the corpus and vocabulary first in the trainer's JSONL log and the held-out curve and summary last. */
async function finishLog(path: string, s: PretrainSummary): Promise<void> {
  // The trainer's lines; held-out records an interrupted session left are rewritten below with the rest.
  const steps = (await readRunLog(path)).filter((r) => r.type !== "eval");
  await writeRunLog(path, [
    { type: "corpus", ...s.corpus },
    { type: "vocabulary", vocab_size: s.vocab_size },
    { type: "sequences", ...s.sequences },
    ...steps,
    ...s.held_out_curve.map((p) => ({ type: "eval" as const, step: p.step, held_out_mlm_loss: p.loss })),
    { type: "summary", steps: s.steps, loss: s.loss, seconds: s.seconds },
  ]);
}
