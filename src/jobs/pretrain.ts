/**
 * Masked-language-model pre-training of a compact BERT with its own WordPiece vocabulary, on the train
 * split's unlabelled text: the offline stand-in for a downloaded pre-trained model. The run is the shared
 * training loop (trainer.ts) over MlmTask and MlmData; the result is a Hugging Face folder (config.json,
 * model.safetensors with bert.* and cls.predictions.*, tokenizer files) that `gotune train` fine-tunes.
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { buildCorpus, type Corpus, type CorpusOptions, corpusSummary } from "../data/corpus.js";
import { type Figure, VL_CONFIG, vegaLiteFigure } from "../figures/render.js";
import { saveModelFolder } from "../hf/model-folder.js";
import { BERT_SPECIALS } from "../hf/tokenizer.js";
import { writeTokenizerFiles } from "../hf/tokenizer-files.js";
import { trainVocabulary, vocabularyCounter } from "../hf/vocabulary.js";
import { TRAIN_SPECIALS } from "../hf/wordpiece-trainer.js";
import { type Batch, BertForMaskedLM } from "../model/bert.js";
import { Buffers } from "../model/buffers.js";
import { BERT_PRESETS, type BertConfig, makeConfig } from "../model/config.js";
import type { Param } from "../model/param.js";
import { addon, usableDtype } from "../native/index.js";
import { collate, epochSeed, lengthGroupedIndices, shuffledIndices } from "../train/batching.js";
import { listCheckpoints } from "../train/checkpoint.js";
import {
  buildSequences,
  IGNORE,
  MlmCollator,
  type MlmTokens,
  type Packing,
  paddingShare,
} from "../train/mlm-collator.js";
import { evalRecords, readRunLog, trainRecords, writeRunLog } from "../train/run-log.js";
import { type TrainData, type TrainTask, trainLoop } from "../train/trainer.js";
import { UserError } from "../util/errors.js";
import { ensureWritableDir, writeFileAtomic } from "../util/fsx.js";
import { progress } from "../util/progress.js";
import { Rng } from "../util/rng.js";

// Rows decoded per batch are rounded up to a multiple of this, so the head's buffers keep their size.
const ROW_BUCKET = 64;

/**
 * One MLM training step on BertForMaskedLM. With `maskedOnly` (the default) the head (transform and the
 * decoder over the vocabulary) runs on the chosen positions alone: the loss ignores every other row, so
 * the result is the same as the full head's, at about a seventh of the head's cost.
 */
export class MlmTask implements TrainTask<Batch> {
  private readonly bufs = new Buffers();
  private rows = new Int32Array(0);
  private compact = new Int32Array(0);

  constructor(
    readonly model: BertForMaskedLM,
    readonly maskedOnly = true,
  ) {}

  params(): Param[] {
    return this.model.params();
  }

  zeroGrad(): void {
    this.model.zeroGrad();
  }

  setDropoutSeed(seed: number): void {
    this.model.setDropoutSeed(seed);
  }

  /** Forward (training mode) and backward on a batch with MLM labels; returns the mean loss. */
  step(batch: Batch): number {
    if (!this.maskedOnly) {
      const { loss } = this.model.forward(batch, { train: true });
      this.model.backward();
      return loss!;
    }
    const { loss, count, m } = this.forwardMasked(batch, true);
    const a = addon();
    const { hidden_size: H, vocab_size: V } = this.model.config;
    const dl = this.lastLogits; // becomes d(loss)/d(logits) in place
    a.crossEntropyBackward(dl, this.compact, dl, m, V, count ? 1 / count : 0);
    const dPicked = this.bufs.get("dPicked", m * H);
    this.model.head.backward(dl, dPicked);
    const N = batch.batchSize * batch.seqLen;
    const dHidden = this.bufs.get("dHidden", N * H);
    dHidden.fill(0);
    for (let r = 0; r < this.rows.length; r++)
      dHidden.set(dPicked.subarray(r * H, (r + 1) * H), this.rows[r]! * H);
    this.model.bert.markWordGradDense(); // the tied decoder's gradient reaches every row
    this.model.bert.backward({ lastHidden: dHidden });
    return loss;
  }

  /** The mean MLM loss of a batch in evaluation mode (no dropout, no gradients). */
  evalLoss(batch: Batch): { loss: number; count: number } {
    const { loss, count } = this.forwardMasked(batch, false);
    return { loss, count };
  }

  private lastLogits: Float32Array = new Float32Array(0);

  /** Encoder on the whole batch, head on the chosen rows (padded to a bucket with ignored rows). */
  private forwardMasked(batch: Batch, train: boolean): { loss: number; count: number; m: number } {
    const labels = batch.labels;
    const N = batch.batchSize * batch.seqLen;
    if (!labels || labels.length !== N)
      throw new UserError(`an MLM batch needs one label per token (${N}), got ${labels?.length ?? 0}`);
    const { hidden_size: H, vocab_size: V } = this.model.config;
    let chosen = 0;
    for (let i = 0; i < N; i++) if (labels[i] !== IGNORE) chosen++;
    const m = Math.max(ROW_BUCKET, Math.ceil(chosen / ROW_BUCKET) * ROW_BUCKET);
    if (this.rows.length !== chosen) this.rows = new Int32Array(chosen);
    if (this.compact.length !== m) this.compact = new Int32Array(m);
    this.compact.fill(IGNORE);
    for (let i = 0, r = 0; i < N; i++)
      if (labels[i] !== IGNORE) {
        this.rows[r] = i;
        this.compact[r++] = labels[i]!;
      }
    const { lastHidden } = this.model.bert.forward(batch, { train });
    const picked = this.bufs.get("picked", m * H);
    picked.fill(0, chosen * H);
    for (let r = 0; r < chosen; r++) {
      const i = this.rows[r]!;
      picked.set(lastHidden.subarray(i * H, (i + 1) * H), r * H);
    }
    this.lastLogits = this.model.head.forward(picked, m);
    let loss: number;
    let count: number;
    try {
      [loss, count] = addon().crossEntropyForward(this.lastLogits, this.compact, m, V);
    } catch (err) {
      if (err instanceof RangeError)
        throw new UserError(`bad label: ${err.message}`, { hint: "MLM labels are token ids or -100" });
      throw err;
    }
    return { loss, count, m };
  }
}

/** Options of MlmData. */
export interface MlmDataOptions {
  batchSize: number;
  seed: number;
  /** Length-grouped order (LengthGroupedSampler) instead of a plain shuffle. */
  groupByLength: boolean;
}

/**
 * Sequences as the trainer's data: each pass over the corpus its own seeded order, each batch padded to
 * its longest sequence and masked from a seed of its global position, so any batch can be rebuilt alone
 * (a resumed run draws the same masks). `stepsPerEpoch` may differ from a pass's batches (a time budget
 * plans fewer steps, or several passes as one); batch k of the run is batch k mod passSteps of pass k div passSteps.
 */
export class MlmData implements TrainData<Batch> {
  readonly stepsPerPass: number;
  readonly stepsPerEpoch: number;
  private readonly lengths: Int32Array;
  private cached: { pass: number; order: number[] } | undefined;

  constructor(
    readonly seqs: readonly Int32Array[],
    readonly collator: MlmCollator,
    readonly opts: MlmDataOptions,
    stepsPerEpoch?: number,
  ) {
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0))
      throw new UserError(`batch size ${opts.batchSize} is not a whole number above 0`);
    this.lengths = Int32Array.from(seqs, (s) => s.length);
    this.stepsPerPass = Math.ceil(seqs.length / opts.batchSize);
    this.stepsPerEpoch = stepsPerEpoch ?? this.stepsPerPass;
  }

  /** The order of the sequences in pass `pass` (0-based). */
  order(pass: number): number[] {
    if (this.cached?.pass !== pass) {
      const rng = new Rng(epochSeed(this.opts.seed, pass));
      const order = this.opts.groupByLength
        ? lengthGroupedIndices(this.lengths, this.opts.batchSize, rng)
        : shuffledIndices(this.seqs.length, rng);
      this.cached = { pass, order };
    }
    return this.cached.order;
  }

  /** Batch `k` of the run (0-based over all epochs), masked. */
  batchAt(k: number): Batch {
    const pass = Math.floor(k / this.stepsPerPass);
    const j = k % this.stepsPerPass;
    const B = this.opts.batchSize;
    const idx = this.order(pass).slice(j * B, (j + 1) * B);
    const batch = collate(this.seqs, idx, this.collator.tokens.padId);
    return this.collator.mask(batch, new Rng(epochSeed(this.opts.seed ^ 0x2545f491, k)));
  }

  *batches(epoch: number, from: number): Iterable<Batch> {
    for (let i = from; i < this.stepsPerEpoch; i++) yield this.batchAt(epoch * this.stepsPerEpoch + i);
  }

  size(batch: Batch): number {
    return batch.batchSize;
  }

  /** The share of token slots that are padding over one pass. */
  paddingShare(pass = 0): number {
    return paddingShare(this.lengths, this.order(pass), this.opts.batchSize);
  }
}

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

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const HELD_OUT_MAX = 512;
const EVALS = 10;

/** The MLM loss of held-out batches (evaluation mode), weighted by their chosen tokens. */
function heldOutLoss(task: MlmTask, batches: readonly Batch[]): number {
  let sum = 0;
  let n = 0;
  for (const b of batches) {
    const { loss, count } = task.evalLoss(b);
    sum += loss * count;
    n += count;
  }
  return n ? sum / n : Number.NaN;
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

/** Runs the whole pre-training and writes the model folder, log, figure and summary into `opts.out`. */
export async function pretrain(opts: PretrainOptions): Promise<PretrainSummary> {
  const start = opts.startedAt ?? performance.now();
  const log = opts.log ?? ((l: string) => process.stderr.write(`gotune: ${l}\n`));
  const secs = (ms: number) => (ms / 1000).toFixed(1);
  checkOptions(opts);
  await ensureWritableDir(opts.out);

  const corpus = await buildCorpus(opts.corpus);
  log(corpusSummary(corpus.counts));

  // The vocabulary, as `gotune train-vocab` trains it, on this corpus only.
  const counter = vocabularyCounter();
  for (const t of corpus.texts) counter.add(t);
  const tok = trainVocabulary(counter, {
    vocabSize: opts.vocabSize,
    minFrequency: opts.minFrequency,
    modelMaxLength: opts.maxPositions,
    label: "pretrain: vocabulary",
  });
  log(`vocabulary: ${tok.vocabSize} WordPiece tokens from ${counter.counts.size} distinct words`);

  // Texts in a seeded order, so packing puts unrelated texts side by side.
  const rng = new Rng(opts.seed);
  const texts = rng.shuffle([...corpus.texts]);
  const enc = progress("pretrain: tokenising", texts.length);
  const ids = texts.map((t) => {
    enc.tick();
    return Int32Array.from(tok.encodeIds(t));
  });
  enc.done();
  const id = (t: string) => tok.tokenToId(t)!;
  const tokens: MlmTokens = {
    vocabSize: tok.vocabSize,
    maskId: id(BERT_SPECIALS.mask),
    padId: tok.padId,
    clsId: id(BERT_SPECIALS.cls),
    sepId: id(BERT_SPECIALS.sep),
    specialIds: TRAIN_SPECIALS.map(id),
  };
  const all = buildSequences(ids, tokens, opts.maxLength, opts.packing);
  const nHeld = all.length >= 800 ? Math.min(HELD_OUT_MAX, Math.floor(all.length / 100)) : 0;
  const held = all.slice(0, nHeld);
  const seqs = all.slice(nHeld);
  const collator = new MlmCollator(tokens, opts.mlmProbability);
  const heldBatches: Batch[] = [];
  const heldRng = new Rng(opts.seed + 1);
  for (let i = 0; i < held.length; i += opts.batchSize) {
    const idx = Array.from({ length: Math.min(opts.batchSize, held.length - i) }, (_, k) => i + k);
    heldBatches.push(collator.mask(collate(held, idx, tokens.padId), heldRng));
  }

  const config = makeConfig(
    {
      ...opts.shape,
      vocab_size: tok.vocabSize,
      max_position_embeddings: opts.maxPositions,
      pad_token_id: tokens.padId,
    },
    opts.preset,
  );
  const model = new BertForMaskedLM(config, { seed: opts.seed });
  if (opts.bf16) model.setDtype(usableDtype("bf16", log));
  const task = new MlmTask(model, opts.maskedOnly ?? true);
  const dataOpts = { batchSize: opts.batchSize, seed: opts.seed, groupByLength: opts.groupByLength };
  const probe = new MlmData(seqs, collator, dataOpts);
  const perPass = probe.stepsPerPass;
  const meanTokens = seqs.reduce((s, q) => s + q.length, 0) / Math.max(1, seqs.length);
  const padShare = probe.paddingShare();
  const nParams = model.params().reduce((s, p) => s + p.data.length, 0);
  log(
    `sequences: ${seqs.length} (${opts.packing === "pack" ? "packed" : "one text each"}, ${meanTokens.toFixed(1)} tokens on average, ` +
      `${(padShare * 100).toFixed(1)}% padding${opts.groupByLength ? ", length-grouped" : ""}), ${nHeld} held out; ` +
      `model ${config.num_hidden_layers}x${config.hidden_size}, ${(nParams / 1e6).toFixed(2)} M parameters`,
  );
  const prepMs = performance.now() - start;

  // An interrupted run of the same command left a checkpoint: continue it, with the plan it made.
  const ckDir = join(opts.out, "checkpoints");
  const planFile = join(ckDir, "plan.json");
  const logFile = join(opts.out, "pretrain_log.jsonl");
  const runKey = {
    texts: corpus.counts.texts,
    characters: corpus.counts.characters,
    vocab_size: tok.vocabSize,
    sequences: seqs.length,
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
  const resume = (await listCheckpoints(ckDir)).pop();
  const curve: { step: number; loss: number }[] = [];
  let planned = Math.min(opts.epochs * perPass, opts.maxSteps ?? Number.POSITIVE_INFINITY);
  const budgetMs = opts.timeBudgetMinutes === undefined ? undefined : opts.timeBudgetMinutes * 60_000;
  let evalMs = 0;
  if (resume) {
    const saved = await fsp.readFile(planFile, "utf8").then(
      (t) => JSON.parse(t) as { key: unknown; planned: number },
      () => undefined,
    );
    if (!saved || JSON.stringify(saved.key) !== JSON.stringify(runKey))
      throw new UserError("this folder holds an interrupted pre-training run with other data or options", {
        file: ckDir,
        hint: "run the same command again to resume it, or remove that folder to start afresh",
      });
    planned = saved.planned;
    curve.push(...(await heldOutRecords(logFile, resume.step)));
    log(`resuming from ${resume.dir} (step ${resume.step} of ${planned})`);
  } else {
    // The held-out loss before any training: the curve's start, and the cost of one evaluation.
    const e0 = performance.now();
    if (heldBatches.length) curve.push({ step: 0, loss: heldOutLoss(task, heldBatches) });
    evalMs = performance.now() - e0;
  }

  // With a budget, time a few steps (no update) and plan the steps that fit, so the schedule ends at 0.
  let stepMs = 0;
  if (budgetMs !== undefined && !resume) {
    const probes = [0, 0.2, 0.4, 0.6, 0.8].map((f) => Math.floor(f * perPass));
    const times: number[] = [];
    for (const k of probes) {
      const b = probe.batchAt(k);
      const t0 = performance.now();
      task.zeroGrad();
      task.step(b);
      times.push(performance.now() - t0);
    }
    task.zeroGrad();
    stepMs = times.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, times.length - 1);
    const reserveMs = 5000 + evalMs; // saving, the figure and the last evaluation
    const left = budgetMs - (performance.now() - start) - reserveMs;
    // A tenth spare: on a shared machine steps slow down, and a run cut short ends before its schedule does.
    const fit = Math.floor((0.9 * left - EVALS * evalMs) / stepMs);
    if (fit < planned) planned = Math.max(1, fit);
    log(
      `time budget ${opts.timeBudgetMinutes} min: ${secs(stepMs)} s a step here, ${planned} of ${opts.epochs * perPass} steps planned ` +
        `(${(planned / perPass).toFixed(2)} passes)`,
    );
  }
  if (!resume) await writeFileAtomic(planFile, `${JSON.stringify({ key: runKey, planned }, null, 2)}\n`);
  const fullEpochs = planned === opts.epochs * perPass;
  const data = new MlmData(seqs, collator, dataOpts, fullEpochs ? perPass : planned);

  const evalEvery = Math.max(1, Math.round(planned / EVALS));
  const stop = new AbortController();
  if (opts.signal?.aborted) stop.abort();
  else opts.signal?.addEventListener("abort", () => stop.abort());
  let byBudget = false;
  let last = performance.now();
  const trainStart = last;
  const result = await trainLoop(task, data, {
    epochs: fullEpochs ? opts.epochs : 1,
    lr: opts.lr,
    warmupRatio: opts.warmupRatio,
    weightDecay: opts.weightDecay,
    maxGradNorm: 1,
    seed: opts.seed,
    logFile,
    label: "pretrain",
    signal: stop.signal,
    resumeFrom: resume?.dir,
    checkpoint: {
      dir: ckDir,
      totalLimit: 1,
      saveSteps: opts.saveSteps,
      save: async (dir) => {
        await saveModelFolder(dir, model);
        await writeTokenizerFiles(dir, tok);
      },
    },
    onStep(step) {
      if (heldBatches.length && (step % evalEvery === 0 || step === planned))
        curve.push({ step, loss: heldOutLoss(task, heldBatches) });
      const now = performance.now();
      const took = now - last;
      last = now;
      if (budgetMs !== undefined && step < planned) {
        // Stop when the next step would overrun what is left once saving is set aside.
        const left = budgetMs - (now - start) - 5000;
        if (left < took) {
          byBudget = true;
          stop.abort();
        }
      }
    },
  });
  const trainMs = performance.now() - trainStart;
  if (heldBatches.length && curve[curve.length - 1]?.step !== result.globalStep)
    curve.push({ step: result.globalStep, loss: heldOutLoss(task, heldBatches) });
  log(
    `${result.interrupted ? (byBudget ? "time budget spent: stopped" : "interrupted: stopped") : "done"} after ` +
      `${result.globalStep} of ${planned} steps (${(result.globalStep / perPass).toFixed(2)} passes) in ${secs(trainMs)} s, ` +
      `${result.examplesPerSecond.toFixed(1)} sequences/s` +
      (curve.length
        ? `; held-out MLM loss ${curve[0]!.loss.toFixed(3)} -> ${curve[curve.length - 1]!.loss.toFixed(3)}`
        : ""),
  );

  await saveModelFolder(opts.out, model);
  await writeTokenizerFiles(opts.out, tok);
  // A finished run (or one its budget ended) needs no checkpoint; one stopped by a signal keeps it to resume.
  const resumable = result.interrupted && !byBudget;
  if (resumable) log(`run the same command again to resume from step ${result.globalStep}`);
  else await fsp.rm(ckDir, { recursive: true, force: true });
  const summary: PretrainSummary = {
    corpus: corpus.counts,
    vocab_size: tok.vocabSize,
    sequences: { train: seqs.length, held_out: nHeld, mean_tokens: meanTokens, padding_share: padShare },
    config,
    parameters: nParams,
    steps: {
      planned,
      done: result.globalStep,
      per_pass: perPass,
      passes: result.globalStep / perPass,
      stopped_by_budget: byBudget,
    },
    options: {
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
    },
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
  const fig = await lossFigure(logFile, curve, summary);
  await writeFileAtomic(join(opts.out, "figures", `${fig.name}.svg`), fig.svg);
  await writeFileAtomic(join(opts.out, "figures", `${fig.name}.png`), fig.png);
  await writeFileAtomic(join(opts.out, "pretrain.json"), `${JSON.stringify(summary, null, 2)}\n`);
  summary.seconds.total = (performance.now() - start) / 1000;
  return summary;
}

/** The held-out losses an earlier, interrupted session logged, up to the checkpoint it resumes from. */
async function heldOutRecords(logFile: string, upTo: number): Promise<{ step: number; loss: number }[]> {
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

/** The loss curve: training loss (mean over windows of steps) and the held-out loss. */
async function lossFigure(
  logFile: string,
  curve: { step: number; loss: number }[],
  s: PretrainSummary,
): Promise<Figure> {
  const train = trainRecords(await readRunLog(logFile)).map((r) => ({ step: r.step, loss: r.loss }));
  const w = Math.max(1, Math.round(train.length / 100));
  const values: { step: number; loss: number; series: string }[] = [];
  for (let i = 0; i < train.length; i += w) {
    const part = train.slice(i, i + w);
    values.push({
      step: part[part.length - 1]!.step,
      loss: part.reduce((a, p) => a + p.loss, 0) / part.length,
      series: w > 1 ? `training batches (mean of ${w} steps)` : "training batches",
    });
  }
  for (const p of curve) values.push({ ...p, series: "held-out sequences" });
  const c = s.config;
  const spec = {
    $schema: SCHEMA,
    config: VL_CONFIG,
    title: {
      text: "Masked-language-model pre-training",
      subtitle: [
        `${c.num_hidden_layers} layers × ${c.hidden_size}, vocabulary ${c.vocab_size}; ` +
          `${s.sequences.train.toLocaleString("en-US")} sequences, ${s.steps.done} steps (${s.steps.passes.toFixed(2)} passes) ` +
          `in ${s.seconds.training.toFixed(0)} s`,
        `Cross-entropy over the chosen tokens (${Math.round(Number(s.options.mlm_probability) * 100)}% chosen: 80% [MASK], 10% random, 10% kept).`,
      ],
    },
    width: 640,
    height: 340,
    data: { values },
    mark: { type: "line", point: { size: 30 } },
    encoding: {
      x: { field: "step", type: "quantitative", title: "optimiser step" },
      y: { field: "loss", type: "quantitative", title: "MLM loss (nats)", scale: { zero: false } },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        legend: { orient: "top-right", labelLimit: 400 },
      },
    },
  };
  return vegaLiteFigure("pretrain_loss", spec);
}
