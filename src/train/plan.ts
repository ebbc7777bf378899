/**
 * Planning a training run against a time budget: time a few steps, plan the steps that fit so the
 * schedule ends at 0 inside the budget, stop early if the machine slows down, and keep the plan beside
 * the checkpoints so a resumed run continues the same schedule.
 */
import { promises as fsp } from "node:fs";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fsx.js";
import type { TrainTask } from "./trainer.js";

/** Time set aside at the end of a budgeted run for saving the model, its figure and its summary. */
export const SAVE_RESERVE_MS = 5000;

/**
 * The mean time of one training step (forward and backward, no update) over batches at 20, 40, 60 and
 * 80% of a pass, after one at 0 that warms the buffers up; gradients are zeroed again afterwards.
 */
export function timeStep<B>(task: TrainTask<B>, batchAt: (k: number) => B, stepsPerPass: number): number {
  const probes = [0, 0.2, 0.4, 0.6, 0.8].map((f) => Math.floor(f * stepsPerPass));
  const times: number[] = [];
  for (const k of probes) {
    const b = batchAt(k);
    const t0 = performance.now();
    task.zeroGrad();
    task.step(b);
    times.push(performance.now() - t0);
  }
  task.zeroGrad();
  return times.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, times.length - 1);
}

/** What a budget leaves for training. */
export interface BudgetLeft {
  budgetMs: number;
  /** Time already spent (preparation, the first evaluation, timing). */
  elapsedMs: number;
  stepMs: number;
  /** One evaluation's time, and how many the run will make. */
  evalMs: number;
  evals: number;
}

/** The steps that fit what the budget leaves (a tenth kept spare), at most `planned` and at least 1. */
export function stepsThatFit(planned: number, b: BudgetLeft): number {
  const left = b.budgetMs - b.elapsedMs - (SAVE_RESERVE_MS + b.evalMs); // saving and the last evaluation
  // A tenth spare: on a shared machine steps slow down, and a run cut short ends before its schedule does.
  const fit = Math.floor((0.9 * left - b.evals * b.evalMs) / b.stepMs);
  return fit < planned ? Math.max(1, fit) : planned;
}

/** True when another step as long as the last would overrun what the budget leaves once saving is set aside. */
export function budgetSpent(budgetMs: number, elapsedMs: number, lastStepMs: number): boolean {
  return budgetMs - elapsedMs - SAVE_RESERVE_MS < lastStepMs;
}

/**
 * The steps an interrupted run planned, from `file`; a missing, unreadable or other run's plan (its
 * `key` differs: other data or options) is a UserError naming `checkpoints`, the folder to remove.
 */
export async function readPlan(file: string, key: unknown, checkpoints: string): Promise<number> {
  const saved = await fsp.readFile(file, "utf8").then(
    (t) => {
      try {
        return JSON.parse(t) as { key?: unknown; planned?: unknown };
      } catch {
        return undefined;
      }
    },
    () => undefined,
  );
  const planned = saved?.planned;
  if (
    !saved ||
    JSON.stringify(saved.key) !== JSON.stringify(key) ||
    !(typeof planned === "number" && Number.isInteger(planned) && planned > 0)
  )
    throw new UserError("this folder holds an interrupted pre-training run with other data or options", {
      file: checkpoints,
      hint: "run the same command again to resume it, or remove that folder to start afresh",
    });
  return planned;
}

/** Saves a run's plan for a resumed run to check and continue. */
export async function writePlan(file: string, key: unknown, planned: number): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify({ key, planned }, null, 2)}\n`);
}
