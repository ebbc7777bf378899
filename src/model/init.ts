/** Hugging Face's BertPreTrainedModel._init_weights, drawn from the project's seeded generator. */
import type { Rng } from "../util/rng.js";
import type { BertConfig } from "./config.js";
import type { Param } from "./param.js";

/** Fills `a` with normal(0, std) samples, using both outputs of each Box–Muller pair (a big table is slow otherwise). */
function fillNormal(a: Float32Array, rng: Rng, std: number): void {
  for (let i = 0; i < a.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next())) * std;
    const t = 2 * Math.PI * rng.next();
    a[i] = r * Math.cos(t);
    if (i + 1 < a.length) a[i + 1] = r * Math.sin(t);
  }
}

/**
 * Initialises parameters in order as Hugging Face does: LayerNorm weight 1 and bias 0, other biases 0,
 * other weights normal(0, initializer_range), and the padding row of the word embeddings zero.
 */
export function initBertParams(params: Param[], config: BertConfig, rng: Rng): void {
  for (const p of params) {
    if (/LayerNorm\.(weight|gamma)$/.test(p.name)) p.data.fill(1);
    else if (/(\.|^)bias$/.test(p.name) || /LayerNorm\.beta$/.test(p.name)) p.data.fill(0);
    else fillNormal(p.data, rng, config.initializer_range);
    if (p.name.endsWith("word_embeddings.weight")) {
      const H = p.shape[1];
      const pad = config.pad_token_id;
      if (pad >= 0 && pad < p.shape[0]) p.data.fill(0, pad * H, (pad + 1) * H);
    }
  }
}
