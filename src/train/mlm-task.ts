/** The masked-language-model task for the shared training loop: BertForMaskedLM's loss, step and evaluation. */
import type { Batch, BertForMaskedLM } from "../model/bert.js";
import type { Param } from "../model/param.js";
import type { TrainTask } from "./trainer.js";

/**
 * One MLM training step on BertForMaskedLM. With `maskedOnly` (the default) the head (transform and the
 * decoder over the vocabulary) runs on the chosen positions alone (`forwardMasked`): the loss ignores
 * every other row, so the result is the same as the full head's, at about a seventh of the head's cost.
 */
export class MlmTask implements TrainTask<Batch> {
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
    const loss = this.maskedOnly
      ? this.model.forwardMasked(batch, { train: true }).loss
      : this.model.forward(batch, { train: true }).loss;
    this.model.backward();
    return loss!;
  }

  /** The mean MLM loss of a batch in evaluation mode (no dropout, no gradients). */
  evalLoss(batch: Batch): { loss: number; count: number } {
    const { loss, count } = this.model.forwardMasked(batch, { train: false });
    return { loss, count };
  }

  /** The MLM loss of held-out batches (evaluation mode), weighted by their chosen tokens; NaN if none. */
  heldOutLoss(batches: readonly Batch[]): number {
    let sum = 0;
    let n = 0;
    for (const b of batches) {
      const { loss, count } = this.evalLoss(b);
      sum += loss * count;
      n += count;
    }
    return n ? sum / n : Number.NaN;
  }
}
