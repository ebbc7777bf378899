/**
 * Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ computes it. The coefficient is
 * not applied here: AdamW folds it into its update (gradScale), which saves a pass over every gradient.
 */

import type { Param } from "../model/param.js";
import { sumSquares } from "../native/index.js";

/**
 * The L2 norm of all gradients together. For a parameter with `touchedRows`, only those rows are read:
 * the gradient is zero elsewhere, and the 105,879-row embedding table would otherwise dominate.
 */
export function globalGradNorm(params: Param[]): number {
  let total = 0;
  for (const p of params) {
    if (p.touchedRows && p.shape.length === 2) {
      // A few hundred short rows: a plain loop beats one native call (and thread hand-off) per row.
      const w = p.shape[1];
      for (const r of p.touchedRows) {
        let s = 0;
        for (let i = r * w, end = i + w; i < end; i++) s += p.grad[i] * p.grad[i];
        total += s;
      }
    } else total += sumSquares(p.grad);
  }
  return Math.sqrt(total);
}

/** torch's clip coefficient: max_norm / (norm + 1e-6), capped at 1 (no clipping below the bound). */
export function clipCoefficient(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}
