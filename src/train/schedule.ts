/** Learning-rate schedules, stepped as transformers' LambdaLR schedules are. */

/**
 * transformers' get_linear_schedule_with_warmup: the multiplier rises linearly from 0 over `warmup`
 * steps, then falls linearly to 0 at `total`. `step` counts scheduler steps already taken, so the
 * first optimiser step uses step 0 (a learning rate of 0 when there is a warm-up, as in transformers).
 */
export function linearWarmupFactor(step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (total - step) / Math.max(1, total - warmup));
}

/** A linear schedule with warm-up over `total` optimiser steps from a peak learning rate `lr`. */
export class LinearSchedule {
  constructor(
    readonly lr: number,
    readonly warmup: number,
    readonly total: number,
  ) {
    if (!(total > 0) || warmup < 0) throw new Error(`LinearSchedule: bad warmup ${warmup} / total ${total}`);
  }

  /** The learning rate of optimiser step `step` (1-based, as AdamW counts its steps). */
  lrAt(step: number): number {
    return this.lr * linearWarmupFactor(step - 1, this.warmup, this.total);
  }

  /** Warm-up steps for a ratio of the total (transformers' warmup_ratio: ceil(total * ratio)). */
  static warmupSteps(total: number, ratio: number): number {
    return Math.ceil(total * ratio);
  }
}
