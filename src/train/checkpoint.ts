/**
 * Checkpoint folders (`OUT/checkpoint-STEP`, as Hugging Face's Trainer names them): written whole into a
 * hidden temporary folder and renamed, so the newest complete checkpoint is always usable after a crash
 * or kill -9. Besides the model folder the task writes, a checkpoint holds the trainer's own state:
 * `trainer_state.json` (steps, seed, schedule, log history) and `optimizer.safetensors` (AdamW's m, v).
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { isFile, writeFileAtomic } from "../util/fsx.js";

/** The trainer state file of a checkpoint. */
export const TRAINER_STATE = "trainer_state.json";
/** The optimiser state file of a checkpoint. */
export const OPTIMIZER_STATE = "optimizer.safetensors";

/** What trainer_state.json holds: enough to continue exactly where the run stopped. */
export interface TrainerState {
  format: "gotune-trainer";
  /** Optimiser steps taken (batches trained on) so far. */
  global_step: number;
  /** Epochs done, fractional as Hugging Face logs it (global_step / steps_per_epoch). */
  epoch: number;
  steps_per_epoch: number;
  total_steps: number;
  warmup_steps: number;
  learning_rate: number;
  seed: number;
  /** Dropout masks of step s are drawn from a seed derived from (seed, s): no other RNG to store. */
  rng: "dropout seeded per step from (seed, global_step)";
  /** Evaluation and checkpoint records so far (train-step records live in the JSONL log). */
  log_history: Record<string, unknown>[];
}

const NAME = /^checkpoint-(\d+)$/;

/** The checkpoint folders of `outDir` that are complete (hold trainer_state.json), oldest first. */
export async function listCheckpoints(outDir: string): Promise<{ step: number; dir: string }[]> {
  const names = await fsp.readdir(outDir).catch(() => [] as string[]);
  const out: { step: number; dir: string }[] = [];
  for (const n of names) {
    const m = NAME.exec(n);
    if (!m) continue;
    const dir = join(outDir, n);
    if (await isFile(join(dir, TRAINER_STATE))) out.push({ step: Number(m[1]), dir });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint folder of `outDir`, or undefined. */
export async function lastCheckpoint(outDir: string): Promise<string | undefined> {
  const all = await listCheckpoints(outDir);
  return all[all.length - 1]?.dir;
}

/** Removes temporary checkpoint folders a killed run left behind (they were never complete). */
export async function removeStaleTemporaries(outDir: string): Promise<void> {
  const names = await fsp.readdir(outDir).catch(() => [] as string[]);
  for (const n of names)
    if (/^\.checkpoint-\d+\.tmp/.test(n)) await fsp.rm(join(outDir, n), { recursive: true, force: true });
}

/**
 * Writes `OUT/checkpoint-STEP` through `write(tmpDir)` into a temporary folder, then renames it into
 * place (replacing an older folder of the same name) and returns its path.
 */
export async function writeCheckpoint(
  outDir: string,
  step: number,
  write: (tmpDir: string) => Promise<void>,
): Promise<string> {
  const final = join(outDir, `checkpoint-${step}`);
  const tmp = join(outDir, `.checkpoint-${step}.tmp-${process.pid}-${Date.now()}`);
  await fsp.mkdir(tmp, { recursive: true });
  try {
    await write(tmp);
    await fsp.rm(final, { recursive: true, force: true });
    await fsp.rename(tmp, final);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return final;
}

/** Keeps the newest `limit` checkpoints of `outDir` (Hugging Face's save_total_limit); never the newest. */
export async function pruneCheckpoints(outDir: string, limit: number | undefined): Promise<void> {
  if (!limit || limit < 1) return;
  const all = await listCheckpoints(outDir);
  for (const c of all.slice(0, Math.max(0, all.length - limit)))
    await fsp.rm(c.dir, { recursive: true, force: true });
}

/** Writes trainer_state.json into a checkpoint folder. */
export async function writeTrainerState(dir: string, state: TrainerState): Promise<void> {
  await writeFileAtomic(join(dir, TRAINER_STATE), `${JSON.stringify(state, null, 2)}\n`);
}

/** Reads and checks a checkpoint's trainer_state.json; anything else is a UserError naming the file. */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  const file = join(dir, TRAINER_STATE);
  const hint = "give a checkpoint-N folder written by gotune, or start afresh without --resume";
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(file, "utf8"));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new UserError(missing ? "no trainer_state.json: not a complete checkpoint" : "not valid JSON", {
      file: missing ? dir : file,
      hint,
    });
  }
  const s = raw as Partial<TrainerState>;
  const whole = (x: unknown) => typeof x === "number" && Number.isInteger(x) && x >= 0;
  if (
    s?.format !== "gotune-trainer" ||
    !whole(s.global_step) ||
    !whole(s.steps_per_epoch) ||
    !whole(s.total_steps) ||
    !whole(s.warmup_steps) ||
    typeof s.seed !== "number"
  )
    throw new UserError("not a gotune trainer state", { file, hint });
  return { ...s, log_history: Array.isArray(s.log_history) ? s.log_history : [] } as TrainerState;
}
