/**
 * The generic training loop under `gotune train` (classification) and `gotune pretrain` (masked LM):
 * AdamW as Hugging Face's Trainer sets it up, the linear schedule, global gradient-norm clipping, a
 * progress bar, JSONL logs, checkpoints and an exact resume.
 *
 * API
 *   trainLoop<B>(task, data, opts): Promise<TrainResult>
 *   task: TrainTask<B>
 *     params()             the parameters to train (their order is the optimiser state's)
 *     zeroGrad()           zeroes every gradient (called before each step)
 *     step(batch)          forward in training mode + backward; returns the batch's mean loss
 *     setDropoutSeed(s)    restarts the dropout stream; called before every step with a seed derived from
 *                          (opts.seed, global step), so a resumed run draws the same masks
 *   data: TrainData<B>
 *     stepsPerEpoch        batches per epoch (one optimiser step each)
 *     batches(epoch, from) the batches of `epoch` (0-based) from batch index `from` on; the same for the
 *                          same arguments on every call (seed shuffles and any masking from the epoch
 *                          and the batch index, never from a running RNG), so a resume mid-epoch can skip
 *     size(batch)          examples in a batch (for examples/s)
 *   opts: TrainOptions     epochs, lr, warmupSteps | warmupRatio, weightDecay (hfNoDecay exemptions),
 *                          maxGradNorm, seed, logFile, checkpoint { dir, save, saveSteps?, totalLimit? },
 *                          onEpochEnd(epoch, step) -> metrics to log, resumeFrom (a checkpoint folder),
 *                          signal (stop after the current step with a checkpoint), onStep, label
 *
 * A checkpoint is OUT/checkpoint-STEP: whatever checkpoint.save(dir) writes (a Hugging Face model folder:
 * config.json, model.safetensors, tokenizer files) plus optimizer.safetensors and trainer_state.json,
 * written into a temporary folder and renamed (see checkpoint.ts). Resuming loads the weights from the
 * checkpoint's model.safetensors into task.params(), the optimiser state and the step; the result equals
 * an uninterrupted run's bit for bit when weight decay is 0 (to float rounding otherwise).
 *
 * Log lines (JSONL, one a step): {"type":"train","step","epoch","loss","lr","grad_norm","examples_per_s"};
 * after each epoch {"type":"eval","step","epoch",...metrics}; {"type":"checkpoint","step","path"}.
 * With a weight decay, untouched embedding rows are decayed lazily (AdamW.flush): the loop flushes before
 * onEpochEnd, before each checkpoint and at the end, so the weights are current whenever anyone reads them.
 */
import { join } from "node:path";
import { loadParams, openWeights } from "../hf/model-folder.js";
import type { Param } from "../model/param.js";
import { UserError } from "../util/errors.js";
import { progress } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { AdamW, hfNoDecay } from "./adamw.js";
import {
  OPTIMIZER_STATE,
  pruneCheckpoints,
  readTrainerState,
  removeStaleTemporaries,
  type TrainerState,
  writeCheckpoint,
  writeTrainerState,
} from "./checkpoint.js";
import { clipCoefficient, globalGradNorm } from "./clip.js";
import { openRunLog } from "./run-log.js";
import { LinearSchedule } from "./schedule.js";

/** What the loop trains: parameters, and one forward + backward on a batch. */
export interface TrainTask<B> {
  params(): Param[];
  zeroGrad(): void;
  /** Forward in training mode and backward on `batch`; returns the batch's mean loss. */
  step(batch: B): number;
  setDropoutSeed(seed: number): void;
}

/** The training batches, reproducible per (epoch, position) so that a run can resume mid-epoch. */
export interface TrainData<B> {
  readonly stepsPerEpoch: number;
  batches(epoch: number, from: number): Iterable<B>;
  size(batch: B): number;
}

/** Where and how checkpoints are written. */
export interface CheckpointOptions {
  /** The run's folder; checkpoints are DIR/checkpoint-STEP. */
  dir: string;
  /** Writes the model folder (config.json, model.safetensors, tokenizer files) into `dir`. */
  save(dir: string): Promise<void>;
  /** Also checkpoint every this many steps (Hugging Face's save_steps); each epoch's end always. */
  saveSteps?: number;
  /** Keep only the newest this many checkpoints (save_total_limit); all by default. */
  totalLimit?: number;
}

/** Hyper-parameters and hooks of a run; defaults are Hugging Face Trainer's. */
export interface TrainOptions {
  epochs: number;
  lr: number;
  /** Warm-up steps; else ceil(total * warmupRatio); 0 by default. */
  warmupSteps?: number;
  warmupRatio?: number;
  /** AdamW's decoupled weight decay (0 by default); biases and LayerNorm weights are exempt. */
  weightDecay?: number;
  /** Clip the global gradient norm to this (1.0 by default; 0 turns clipping off). */
  maxGradNorm?: number;
  seed: number;
  /** JSONL log; a fresh run starts it anew, a resumed one keeps the lines up to its checkpoint. */
  logFile?: string;
  checkpoint?: CheckpointOptions;
  /** After each epoch (1-based count), with the weights current: returns numbers to log (e.g. eval metrics). */
  onEpochEnd?(epoch: number, step: number): Promise<Record<string, unknown> | undefined>;
  /** A checkpoint folder to continue from. */
  resumeFrom?: string;
  /** When aborted, the loop stops after the current step, writes a checkpoint and returns. */
  signal?: AbortSignal;
  /** After each step (1-based global step). */
  onStep?(step: number, loss: number): void;
  /** The progress bar's label. */
  label?: string;
}

/** How a run ended. */
export interface TrainResult {
  globalStep: number;
  totalSteps: number;
  /** True when stopped by the signal before the last step. */
  interrupted: boolean;
  /** The newest checkpoint folder written, if any. */
  lastCheckpoint?: string;
  /** Evaluation and checkpoint records, including those before a resume. */
  history: Record<string, unknown>[];
  /** Mean training throughput of this session. */
  examplesPerSecond: number;
  /** Mean training loss of this session's last 100 steps (NaN without steps). */
  recentLoss: number;
}

/** The dropout seed of global step `step` (0-based) of a run seeded with `seed`. */
export function stepSeed(seed: number, step: number): number {
  return new Rng((seed ^ Math.imul(step + 1, 0x9e3779b1)) >>> 0).nextUint32();
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Trains `task` on `data` as the header describes; see TrainOptions for the knobs. */
export async function trainLoop<B>(
  task: TrainTask<B>,
  data: TrainData<B>,
  opts: TrainOptions,
): Promise<TrainResult> {
  const spe = data.stepsPerEpoch;
  if (!(Number.isInteger(opts.epochs) && opts.epochs > 0))
    throw new UserError(`epochs must be a whole number above 0, not ${opts.epochs}`);
  if (!(Number.isInteger(spe) && spe > 0))
    throw new UserError("there is nothing to train on (0 batches an epoch)", { hint: "give training data" });
  if (!(opts.lr > 0)) throw new UserError(`the learning rate must be above 0, not ${opts.lr}`);
  const total = opts.epochs * spe;
  const warmup = opts.warmupSteps ?? LinearSchedule.warmupSteps(total, opts.warmupRatio ?? 0);
  const schedule = new LinearSchedule(opts.lr, warmup, total);
  const maxNorm = opts.maxGradNorm ?? 1;
  const params = task.params();
  const optimizer = new AdamW(params, {
    lr: opts.lr,
    weightDecay: opts.weightDecay ?? 0,
    noDecay: hfNoDecay,
  });

  let step = 0;
  let history: Record<string, unknown>[] = [];
  if (opts.resumeFrom) {
    const st = await readTrainerState(opts.resumeFrom);
    if (st.steps_per_epoch !== spe || st.total_steps !== total || st.warmup_steps !== warmup)
      throw new UserError(
        `the checkpoint's run had ${st.total_steps} steps (${st.steps_per_epoch} an epoch, ${st.warmup_steps} warm-up), this one ${total} (${spe}, ${warmup})`,
        {
          file: opts.resumeFrom,
          hint: "resume with the same data, batch size, epochs and warm-up, or start afresh in another output folder",
        },
      );
    await loadCheckpointWeights(opts.resumeFrom, params);
    await optimizer.loadState(join(opts.resumeFrom, OPTIMIZER_STATE));
    step = st.global_step;
    history = st.log_history;
    if (optimizer.stepCount !== step)
      throw new UserError(`the optimiser state is at step ${optimizer.stepCount}, the trainer at ${step}`, {
        file: opts.resumeFrom,
        hint: "the checkpoint is inconsistent; resume from an earlier one",
      });
  }
  if (opts.checkpoint) await removeStaleTemporaries(opts.checkpoint.dir);
  const log = opts.logFile ? await openRunLog(opts.logFile, opts.resumeFrom ? step : undefined) : undefined;

  let lastCheckpoint: string | undefined;
  const checkpoint = async () => {
    const ck = opts.checkpoint;
    if (!ck) return;
    optimizer.flush();
    const state: TrainerState = {
      format: "gotune-trainer",
      global_step: step,
      epoch: step / spe,
      steps_per_epoch: spe,
      total_steps: total,
      warmup_steps: warmup,
      learning_rate: opts.lr,
      seed: opts.seed,
      rng: "dropout seeded per step from (seed, global_step)",
      log_history: history,
    };
    lastCheckpoint = await writeCheckpoint(ck.dir, step, async (tmp) => {
      await ck.save(tmp);
      await optimizer.saveState(join(tmp, OPTIMIZER_STATE));
      await writeTrainerState(tmp, state); // last: its presence marks a complete checkpoint
    });
    await pruneCheckpoints(ck.dir, ck.totalLimit);
    const rec = { type: "checkpoint", step, epoch: step / spe, path: lastCheckpoint };
    log?.(rec);
  };

  // The bar is closed while onEpochEnd runs (an evaluation draws its own) and opened again after.
  const openBar = () => {
    const b = progress(opts.label ?? "train", total, ["loss", "lr", "speed"]);
    if (step > 0) b.tick(step);
    return b;
  };
  let bar = openBar();
  const recent = new Float64Array(100);
  let recentN = 0;
  let examples = 0;
  let trainMs = 0;
  let interrupted = false;
  try {
    outer: for (let epoch = Math.floor(step / spe); epoch < opts.epochs; epoch++) {
      let i = step - epoch * spe;
      for (const batch of data.batches(epoch, i)) {
        if (i >= spe) throw new Error(`data.batches gave more than stepsPerEpoch (${spe}) batches`);
        const t0 = performance.now();
        task.zeroGrad();
        task.setDropoutSeed(stepSeed(opts.seed, step));
        const loss = task.step(batch);
        if (!Number.isFinite(loss))
          throw new UserError(`the loss became ${loss} at step ${step + 1}`, {
            hint: "lower the learning rate (--lr) or keep gradient clipping on",
          });
        const norm = globalGradNorm(params);
        const lr = schedule.lrAt(step + 1);
        optimizer.step({ lr, gradScale: maxNorm > 0 ? clipCoefficient(norm, maxNorm) : 1 });
        step++;
        i++;
        const ms = performance.now() - t0;
        const n = data.size(batch);
        examples += n;
        trainMs += ms;
        recent[recentN++ % recent.length] = loss;
        const rate = (n * 1000) / ms;
        log?.({
          type: "train",
          step,
          epoch: step / spe,
          loss,
          lr,
          grad_norm: norm,
          examples_per_s: rate,
        });
        bar.tick(1, {
          loss: meanOf(recent, recentN).toFixed(4),
          lr: lr.toExponential(2),
          speed: `${((examples * 1000) / trainMs).toFixed(1)} ex/s`,
        });
        opts.onStep?.(step, loss);
        // Lets signal handlers (Ctrl-C, SIGTERM) run between steps.
        await yieldToEventLoop();
        if (i === spe) break;
        if (opts.signal?.aborted) {
          await checkpoint();
          interrupted = true;
          break outer;
        }
        if (opts.checkpoint?.saveSteps && step % opts.checkpoint.saveSteps === 0) await checkpoint();
      }
      if (i !== spe) throw new Error(`data.batches gave ${i} batches in epoch ${epoch}, not ${spe}`);
      optimizer.flush();
      bar.done();
      const metrics = await opts.onEpochEnd?.(epoch + 1, step);
      if (metrics) {
        const rec = { type: "eval", step, epoch: epoch + 1, ...metrics };
        history.push(rec);
        log?.(rec);
      }
      await checkpoint();
      if (opts.signal?.aborted && step < total) {
        interrupted = true;
        break;
      }
      if (step < total) bar = openBar();
    }
  } finally {
    bar.done();
    log?.close();
  }
  optimizer.flush();
  return {
    globalStep: step,
    totalSteps: total,
    interrupted,
    lastCheckpoint,
    history,
    examplesPerSecond: trainMs > 0 ? (examples * 1000) / trainMs : 0,
    recentLoss: recentN ? meanOf(recent, recentN) : Number.NaN,
  };
}

function meanOf(ring: Float64Array, n: number): number {
  const k = Math.min(n, ring.length);
  let s = 0;
  for (let j = 0; j < k; j++) s += ring[j]!;
  return s / k;
}

/** Copies a checkpoint's model.safetensors into `params`; every parameter must be there. */
async function loadCheckpointWeights(dir: string, params: Param[]): Promise<void> {
  const source = await openWeights(dir);
  try {
    const report = await loadParams(params, source);
    if (report.initialisedFresh.length)
      throw new UserError(`the checkpoint lacks ${report.initialisedFresh[0]}`, {
        file: dir,
        hint: "it belongs to another model; start afresh without --resume",
      });
  } finally {
    await source.close();
  }
}
