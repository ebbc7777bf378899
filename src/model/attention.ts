/**
 * BertAttention: multi-head self-attention (query/key/value projections, scaled scores plus the additive
 * mask, softmax, attention dropout, context) and its output block (dense, dropout, residual, LayerNorm).
 * Heads are addressed inside [B, T, H] by strides: head h of example b is columns h*d .. h*d+d-1.
 */
import { addon } from "../native/index.js";
import { Buffers, roleOf } from "./buffers.js";
import type { BertConfig } from "./config.js";
import type { Ctx } from "./context.js";
import { Dropout } from "./dropout.js";
import { LayerNorm } from "./layernorm.js";
import { Linear } from "./linear.js";
import type { Param } from "./param.js";

/** Self-attention plus output block under `prefix` (e.g. `bert.encoder.layer.0.attention`). */
export class Attention {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly dense: Linear;
  readonly norm: LayerNorm;
  private readonly probsDropout: Dropout;
  private readonly hiddenDropout: Dropout;
  private readonly H: number;
  private readonly heads: number;
  private readonly d: number;
  private readonly scale: number;
  private readonly bufs: Buffers;
  private q: Float32Array = new Float32Array(0);
  private k: Float32Array = new Float32Array(0);
  private v: Float32Array = new Float32Array(0);
  private probs: Float32Array = new Float32Array(0);
  private probsUsed: Float32Array = new Float32Array(0);
  private B = 0;
  private T = 0;

  constructor(
    prefix: string,
    config: BertConfig,
    private readonly scratch: Buffers,
  ) {
    const H = config.hidden_size;
    if (H % config.num_attention_heads !== 0)
      throw new Error(
        `hidden_size ${H} is not a multiple of num_attention_heads ${config.num_attention_heads}`,
      );
    this.H = H;
    this.heads = config.num_attention_heads;
    this.d = H / this.heads;
    this.scale = 1 / Math.sqrt(this.d);
    this.bufs = new Buffers(roleOf(prefix), scratch);
    this.query = new Linear(`${prefix}.self.query`, H, H, scratch);
    this.key = new Linear(`${prefix}.self.key`, H, H, scratch);
    this.value = new Linear(`${prefix}.self.value`, H, H, scratch);
    this.dense = new Linear(`${prefix}.output.dense`, H, H, scratch);
    this.norm = new LayerNorm(`${prefix}.output.LayerNorm`, H, config.layer_norm_eps, scratch);
    this.probsDropout = new Dropout(config.attention_probs_dropout_prob);
    this.hiddenDropout = new Dropout(config.hidden_dropout_prob);
  }

  params(): Param[] {
    return [
      ...this.query.params(),
      ...this.key.params(),
      ...this.value.params(),
      ...this.dense.params(),
      ...this.norm.params(),
    ];
  }

  /** The attention probabilities of the last forward, [B, heads, T, T] (before dropout); see `keepProbs`. */
  attentionProbs(): Float32Array {
    return this.probs;
  }

  /**
   * out [B*T, H] = LayerNorm(dropout(dense(attention(x))) + x); maskBias [B, T] is 0 or float32 min.
   * `keepProbs` keeps this layer's attention probabilities in its own buffer even in shared mode.
   */
  forward(x: Float32Array, maskBias: Float32Array, ctx: Ctx, keepProbs = false): Float32Array {
    const { B, T } = ctx,
      H = this.H,
      nh = this.heads,
      d = this.d,
      N = B * T,
      S = B * nh * T * T,
      a = addon();
    this.B = B;
    this.T = T;
    const sh = ctx.shared === true;
    this.q = this.query.forward(x, N, 0, H, sh); // [B, T, H]
    this.k = this.key.forward(x, N, 0, H, sh); // [B, T, H]
    this.v = this.value.forward(x, N, 0, H, sh); // [B, T, H]
    const probs = this.bufs.get("probs", S, sh && !keepProbs); // [B, nh, T, T]
    // scores[b, h] [T, T] = q[b, :, h] [T, d] · k[b, :, h]ᵀ [d, T]
    a.sgemmBatched(
      false,
      true,
      T,
      T,
      d,
      1,
      this.q,
      0,
      H,
      T * H,
      d,
      this.k,
      0,
      H,
      T * H,
      d,
      0,
      probs,
      0,
      T,
      nh * T * T,
      T * T,
      B,
      nh,
    );
    a.softmaxForward(probs, maskBias, probs, B * nh * T, T, nh * T, this.scale);
    this.probs = probs;
    const used = ctx.train && this.probsDropout.p > 0 ? this.bufs.get("probsDropped", S) : probs;
    this.probsUsed = this.probsDropout.forward(probs, used, S, ctx); // [B, nh, T, T]
    const context = this.bufs.get("context", N * H, sh); // [B, T, H]
    // context[b, :, h] [T, d] = P[b, h] [T, T] · v[b, :, h] [T, d]
    a.sgemmBatched(
      false,
      false,
      T,
      d,
      T,
      1,
      this.probsUsed,
      0,
      T,
      nh * T * T,
      T * T,
      this.v,
      0,
      H,
      T * H,
      d,
      0,
      context,
      0,
      H,
      T * H,
      d,
      B,
      nh,
    );
    const y = this.dense.forward(context, N, 0, H, sh); // [B, T, H]
    const sum = this.hiddenDropout.forward(y, y, N * H, ctx, x); // dropout(y) + x, in place
    return this.norm.forward(sum, N, sh);
  }

  /**
   * From dout [B*T, H]: all parameter gradients, and d(loss)/d(x) [B*T, H], returned in the scratch
   * buffer "dB" (dout may be that same buffer: it is read first).
   */
  backward(dout: Float32Array): Float32Array {
    const B = this.B,
      T = this.T,
      H = this.H,
      nh = this.heads,
      d = this.d,
      N = B * T,
      S = B * nh * T * T,
      a = addon();
    const dx = this.scratch.get("dB", N * H);
    this.norm.backward(dout, dx); // dx now holds d(sum): the residual's gradient, and the branch's
    const dy = this.hiddenDropout.backward(dx, this.scratch.get("dTmp", N * H), N * H);
    const dContext = this.scratch.get("dContext", N * H); // [B, T, H]
    this.dense.backward(dy, dContext);
    const dP = this.scratch.get("dP", S); // [B, nh, T, T]
    // dP[b, h] [T, T] = dContext[b, :, h] [T, d] · v[b, :, h]ᵀ [d, T]
    a.sgemmBatched(
      false,
      true,
      T,
      T,
      d,
      1,
      dContext,
      0,
      H,
      T * H,
      d,
      this.v,
      0,
      H,
      T * H,
      d,
      0,
      dP,
      0,
      T,
      nh * T * T,
      T * T,
      B,
      nh,
    );
    const dV = this.scratch.get("dV", N * H);
    // dv[b, :, h] [T, d] = P[b, h]ᵀ [T, T] · dContext[b, :, h] [T, d]
    a.sgemmBatched(
      true,
      false,
      T,
      d,
      T,
      1,
      this.probsUsed,
      0,
      T,
      nh * T * T,
      T * T,
      dContext,
      0,
      H,
      T * H,
      d,
      0,
      dV,
      0,
      H,
      T * H,
      d,
      B,
      nh,
    );
    const dProbs = this.probsDropout.backward(dP, dP, S);
    a.softmaxBackward(dProbs, this.probs, dP, B * nh * T, T, this.scale); // dP: d(raw scores q·kᵀ)
    const dQ = this.scratch.get("dQ", N * H),
      dK = this.scratch.get("dK", N * H);
    // dq[b, :, h] [T, d] = dS[b, h] [T, T] · k[b, :, h] [T, d]
    a.sgemmBatched(
      false,
      false,
      T,
      d,
      T,
      1,
      dP,
      0,
      T,
      nh * T * T,
      T * T,
      this.k,
      0,
      H,
      T * H,
      d,
      0,
      dQ,
      0,
      H,
      T * H,
      d,
      B,
      nh,
    );
    // dk[b, :, h] [T, d] = dS[b, h]ᵀ [T, T] · q[b, :, h] [T, d]
    a.sgemmBatched(
      true,
      false,
      T,
      d,
      T,
      1,
      dP,
      0,
      T,
      nh * T * T,
      T * T,
      this.q,
      0,
      H,
      T * H,
      d,
      0,
      dK,
      0,
      H,
      T * H,
      d,
      B,
      nh,
    );
    this.query.backward(dQ, dx, true);
    this.key.backward(dK, dx, true);
    this.value.backward(dV, dx, true);
    return dx;
  }
}
