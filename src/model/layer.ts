/** BertLayer: attention block, then the feed-forward block (dense + erf GELU, dense, dropout, residual, LayerNorm). */
import { addon } from "../native/index.js";
import { Attention } from "./attention.js";
import { Buffers, roleOf } from "./buffers.js";
import type { BertConfig } from "./config.js";
import type { Ctx } from "./context.js";
import { Dropout } from "./dropout.js";
import { LayerNorm } from "./layernorm.js";
import { Linear, linearsOf } from "./linear.js";
import type { Param } from "./param.js";

/** One post-LayerNorm encoder layer under `prefix` (e.g. `bert.encoder.layer.3`). */
export class Layer {
  readonly attention: Attention;
  readonly intermediate: Linear;
  readonly output: Linear;
  readonly norm: LayerNorm;
  private readonly dropout: Dropout;
  private readonly bufs: Buffers;
  private readonly H: number;
  private readonly I: number;
  private inter: Float32Array = new Float32Array(0);
  private n = 0;

  constructor(
    prefix: string,
    config: BertConfig,
    private readonly scratch: Buffers,
  ) {
    this.H = config.hidden_size;
    this.I = config.intermediate_size;
    this.attention = new Attention(`${prefix}.attention`, config, scratch);
    this.bufs = new Buffers(roleOf(prefix), scratch);
    this.intermediate = new Linear(`${prefix}.intermediate.dense`, this.H, this.I, scratch);
    this.output = new Linear(`${prefix}.output.dense`, this.I, this.H, scratch);
    this.norm = new LayerNorm(`${prefix}.output.LayerNorm`, this.H, config.layer_norm_eps, scratch);
    this.dropout = new Dropout(config.hidden_dropout_prob);
  }

  /** Every Linear of the layer: its attention block's, then the feed-forward's. */
  linears(): Linear[] {
    return [...this.attention.linears(), ...linearsOf(this)];
  }

  params(): Param[] {
    return [
      ...this.attention.params(),
      ...this.intermediate.params(),
      ...this.output.params(),
      ...this.norm.params(),
    ];
  }

  /**
   * out [B*T, H] from x [B*T, H] and the additive mask [B, T]. With ctx.shared (inference) the buffers
   * are common to all layers: x is last read before this layer's final LayerNorm overwrites it.
   */
  forward(x: Float32Array, maskBias: Float32Array, ctx: Ctx, keepProbs = false): Float32Array {
    const a = this.attention.forward(x, maskBias, ctx, keepProbs); // [N, H]
    return this.feedForward(a, ctx.B * ctx.T, ctx);
  }

  /**
   * The feed-forward block on the attention block's output a [N, H] (any N rows: the inference fast path
   * runs it on the [CLS] rows alone): out [N, H] = LayerNorm(dropout(dense(GELU(intermediate(a)))) + a).
   */
  feedForward(a: Float32Array, N: number, ctx: Ctx): Float32Array {
    const I = this.I,
      sh = ctx.shared === true;
    this.n = N;
    let g: Float32Array; // [N, I]
    if (sh)
      g = this.intermediate.forwardGelu(a, N); // inference: bias and GELU in the product's epilogue
    else {
      this.inter = this.intermediate.forwardNoBias(a, N); // [N, I], before its bias
      g = this.bufs.get("gelu", N * I);
      // inter += bias (kept for backward), g = GELU(inter), in one pass
      addon().biasGeluForward(this.inter, this.intermediate.bias.data, this.inter, g, N, I);
    }
    const y = this.output.forwardNoBias(g, N, sh); // [N, H]
    return this.norm.forwardResidual(y, this.output.bias.data, a, this.dropout.arm(ctx), N, sh);
  }

  /** From dout [B*T, H]: parameter gradients, and d(loss)/d(x) [B*T, H] (a scratch buffer, returned). */
  backward(dout: Float32Array): Float32Array {
    const N = this.n,
      H = this.H,
      I = this.I;
    const dA = this.scratch.get("dA", N * H);
    this.norm.backward(dout, dA); // d(sum): flows to the residual a and to the dense branch
    const dy = this.dropout.backward(dA, this.scratch.get("dTmp", N * H), N * H);
    const dG = this.scratch.get("dG", N * I); // [N, I]
    this.output.backward(dy, dG);
    addon().geluBackward(dG, this.inter, dG, N * I);
    this.intermediate.backward(dG, dA, true); // dA += d(inter) · W_intermediate
    return this.attention.backward(dA);
  }
}
