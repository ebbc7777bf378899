/**
 * BertAttention: multi-head self-attention (query/key/value projections as one product, scaled scores
 * plus the additive mask, softmax, attention dropout, context) and its output block (dense, then bias,
 * dropout, residual and LayerNorm in one pass). Heads are strided views of [B, T, ·]: head h of example b
 * is columns h*d .. h*d+d-1 of its rows (views.ts), so no product copies its operands.
 */
import { addon } from "../native/index.js";
import { bmm, heads, perHead, t } from "../native/views.js";
import { Buffers, roleOf } from "./buffers.js";
import type { BertConfig } from "./config.js";
import type { Ctx } from "./context.js";
import { Dropout } from "./dropout.js";
import { LayerNorm } from "./layernorm.js";
import { Linear, linearsOf } from "./linear.js";
import type { Param } from "./param.js";

/** Self-attention plus output block under `prefix` (e.g. `bert.encoder.layer.0.attention`). */
export class Attention {
  /** query, key and value packed: weight [3H, H], output [B*T, 3H] (q | k | v in each row). */
  readonly qkv: Linear;
  readonly dense: Linear;
  readonly norm: LayerNorm;
  private readonly probsDropout: Dropout;
  private readonly hiddenDropout: Dropout;
  private readonly H: number;
  private readonly heads: number;
  private readonly d: number;
  private readonly scale: number;
  private readonly bufs: Buffers;
  private qkvOut: Float32Array = new Float32Array(0);
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
    const self = `${prefix}.self`;
    this.qkv = new Linear([`${self}.query`, `${self}.key`, `${self}.value`], H, 3 * H, scratch);
    this.dense = new Linear(`${prefix}.output.dense`, H, H, scratch);
    this.norm = new LayerNorm(`${prefix}.output.LayerNorm`, H, config.layer_norm_eps, scratch);
    this.probsDropout = new Dropout(config.attention_probs_dropout_prob);
    this.hiddenDropout = new Dropout(config.hidden_dropout_prob);
  }

  /** Every Linear of the block (query-key-value and the output dense). */
  linears(): Linear[] {
    return linearsOf(this);
  }

  params(): Param[] {
    return [...this.qkv.params(), ...this.dense.params(), ...this.norm.params()];
  }

  /** The attention probabilities of the last forward, [B, heads, T, T] (before dropout); see `keepProbs`. */
  attentionProbs(): Float32Array {
    return this.probs;
  }

  /** q, k and v of [B*T, 3H] (or of its gradient) as B × heads matrices [T, d]. */
  private qkvHeads(x: Float32Array) {
    const { B, T, heads: nh, d, H } = this;
    return [0, 1, 2].map((i) => heads(x, B, T, nh, d, i * H, 3 * H));
  }

  /**
   * out [B*T, H] = LayerNorm(dropout(dense(attention(x))) + x); maskBias [B, T] is 0 or float32 min.
   * `keepProbs` keeps this layer's attention probabilities in its own buffer even in shared mode.
   */
  forward(x: Float32Array, maskBias: Float32Array, ctx: Ctx, keepProbs = false): Float32Array {
    const { B, T } = ctx,
      { H, heads: nh, d } = this,
      N = B * T,
      S = B * nh * T * T;
    this.B = B;
    this.T = T;
    const sh = ctx.shared === true;
    this.qkvOut = this.qkv.forward(x, N, 0, H, sh); // [B, T, 3H]
    const [q, k, v] = this.qkvHeads(this.qkvOut); // each B × nh of [T, d]
    const probs = this.bufs.get("probs", S, sh && !keepProbs); // [B, nh, T, T]
    const P = perHead(probs, B, nh, T, T);
    bmm(P, q, t(k)); // scores[b, h] [T, T] = q [T, d] · kᵀ [d, T]
    addon().softmaxForward(probs, maskBias, probs, B * nh * T, T, nh * T, this.scale); // scale, mask, softmax
    this.probs = probs;
    const used = ctx.train && this.probsDropout.p > 0 ? this.bufs.get("probsDropped", S) : probs;
    this.probsUsed = this.probsDropout.forward(probs, used, S, ctx); // [B, nh, T, T]
    const context = this.bufs.get("context", N * H, sh); // [B, T, H]
    bmm(heads(context, B, T, nh, d), perHead(this.probsUsed, B, nh, T, T), v); // context[b, h] [T, d] = P [T, T] · v [T, d]
    return this.outputBlock(context, x, N, ctx);
  }

  /** BertSelfOutput: out [N, H] = LayerNorm(dropout(dense(context [N, H])) + x [N, H]), for any N rows. */
  outputBlock(context: Float32Array, x: Float32Array, N: number, ctx: Ctx): Float32Array {
    const sh = ctx.shared === true;
    const y = this.dense.forwardNoBias(context, N, sh); // [N, H]
    return this.norm.forwardResidual(y, this.dense.bias.data, x, this.hiddenDropout.arm(ctx), N, sh);
  }

  /**
   * From dout [B*T, H]: all parameter gradients, and d(loss)/d(x) [B*T, H], returned in the scratch
   * buffer "dB" (dout may be that same buffer: it is read first).
   */
  backward(dout: Float32Array): Float32Array {
    const { B, T, H, heads: nh, d } = this,
      N = B * T,
      S = B * nh * T * T;
    const dx = this.scratch.get("dB", N * H);
    this.norm.backward(dout, dx); // dx now holds d(sum): the residual's gradient, and the branch's
    const dy = this.hiddenDropout.backward(dx, this.scratch.get("dTmp", N * H), N * H);
    const dContext = this.scratch.get("dContext", N * H); // [B, T, H]
    this.dense.backward(dy, dContext);
    const [q, k, v] = this.qkvHeads(this.qkvOut);
    const dQKV = this.scratch.get("dQKV", N * 3 * H); // [B, T, 3H]
    const [dq, dk, dv] = this.qkvHeads(dQKV);
    const dC = heads(dContext, B, T, nh, d),
      P = perHead(this.probsUsed, B, nh, T, T);
    const dPbuf = this.scratch.get("dP", S),
      dP = perHead(dPbuf, B, nh, T, T); // [B, nh, T, T]
    bmm(dP, dC, t(v)); // dP [T, T] = dContext [T, d] · vᵀ [d, T]
    bmm(dv, t(P), dC); // dv [T, d] = Pᵀ [T, T] · dContext [T, d]
    const dProbs = this.probsDropout.backward(dPbuf, dPbuf, S);
    addon().softmaxBackward(dProbs, this.probs, dPbuf, B * nh * T, T, this.scale); // dP: d(raw scores q·kᵀ)
    bmm(dq, dP, k); // dq [T, d] = dS [T, T] · k [T, d]
    bmm(dk, t(dP), q); // dk [T, d] = dSᵀ [T, T] · q [T, d]
    this.qkv.backward(dQKV, dx, true);
    return dx;
  }
}
