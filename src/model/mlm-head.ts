/**
 * BertOnlyMLMHead: transform (dense, erf GELU, LayerNorm), then a decoder tied to the word embeddings
 * (logits = h · Eᵀ + bias). The decoder weight is the embedding Param itself, not a copy.
 */
import { addon } from "../native/index.js";
import { Buffers } from "./buffers.js";
import type { BertConfig } from "./config.js";
import { LayerNorm } from "./layernorm.js";
import { Linear } from "./linear.js";
import { makeParam, type Param } from "./param.js";

/** The MLM head under `prefix` (`cls.predictions`), decoding with `word` [V, H]. */
export class MlmHead {
  readonly dense: Linear;
  readonly norm: LayerNorm;
  readonly bias: Param; // [V]
  private readonly bufs = new Buffers();
  private readonly H: number;
  private readonly V: number;
  private pre: Float32Array = new Float32Array(0);
  private h: Float32Array = new Float32Array(0);
  private n = 0;

  constructor(
    prefix: string,
    config: BertConfig,
    private readonly word: Param,
    private readonly scratch: Buffers,
  ) {
    this.H = config.hidden_size;
    this.V = config.vocab_size;
    this.dense = new Linear(`${prefix}.transform.dense`, this.H, this.H);
    this.norm = new LayerNorm(`${prefix}.transform.LayerNorm`, this.H, config.layer_norm_eps);
    this.bias = makeParam(`${prefix}.bias`, [this.V]);
  }

  /** The head's own parameters (the tied decoder weight belongs to the embeddings). */
  params(): Param[] {
    return [...this.dense.params(), ...this.norm.params(), this.bias];
  }

  /** logits [N, V] from hidden [N, H]. */
  forward(hidden: Float32Array, N: number): Float32Array {
    const H = this.H,
      V = this.V,
      a = addon();
    this.n = N;
    this.pre = this.dense.forward(hidden, N); // [N, H]
    const g = this.bufs.get("gelu", N * H);
    a.geluForward(this.pre, g, N * H);
    this.h = this.norm.forward(g, N); // [N, H]
    const logits = this.bufs.get("logits", N * V);
    a.fillRows(logits, this.bias.data, N, V);
    a.sgemm(false, true, N, V, H, 1, this.h, 0, H, this.word.data, 0, H, 1, logits, 0, V);
    return logits;
  }

  /** From dlogits [N, V]: gradients (the whole word table's, densely), and dHidden [N, H] (written). */
  backward(dlogits: Float32Array, dHidden: Float32Array): void {
    const N = this.n,
      H = this.H,
      V = this.V,
      a = addon();
    a.biasGrad(dlogits, this.bias.grad, N, V);
    // dE [V, H] += dlogitsᵀ [V, N] · h [N, H]
    a.sgemm(true, false, V, H, N, 1, dlogits, 0, V, this.h, 0, H, 1, this.word.grad, 0, H);
    const dh = this.scratch.get("dMlm", N * H);
    // dh [N, H] = dlogits [N, V] · E [V, H]
    a.sgemm(false, false, N, H, V, 1, dlogits, 0, V, this.word.data, 0, H, 0, dh, 0, H);
    const dg = this.scratch.get("dMlmGelu", N * H);
    this.norm.backward(dh, dg);
    a.geluBackward(dg, this.pre, dg, N * H);
    this.dense.backward(dg, dHidden);
  }
}
