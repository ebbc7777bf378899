/** LayerNorm over the hidden dimension, with the config's eps. */
import { addon } from "../native/index.js";
import { Buffers, roleOf } from "./buffers.js";
import { makeParam, type Param } from "./param.js";

/** LayerNorm(H) under `name` (`.weight` = gamma [H], `.bias` = beta [H]). */
export class LayerNorm {
  readonly weight: Param;
  readonly bias: Param;
  private readonly bufs: Buffers;
  private x: Float32Array = new Float32Array(0);
  private n = 0;

  constructor(
    name: string,
    readonly hidden: number,
    readonly eps: number,
    pool?: Buffers,
  ) {
    this.bufs = new Buffers(roleOf(name), pool);
    this.weight = makeParam(`${name}.weight`, [hidden]);
    this.bias = makeParam(`${name}.bias`, [hidden]);
  }

  params(): Param[] {
    return [this.weight, this.bias];
  }

  /** out [N, H] = (x - mean) / sqrt(var + eps) * gamma + beta, per row; x [N, H] is kept for backward. */
  forward(x: Float32Array, N: number, shared = false): Float32Array {
    const H = this.hidden;
    const out = this.bufs.get("out", N * H, shared);
    const mean = this.bufs.get("mean", N, shared),
      rstd = this.bufs.get("rstd", N, shared);
    addon().layerNormForward(x, this.weight.data, this.bias.data, out, mean, rstd, N, H, this.eps);
    this.x = x;
    this.n = N;
    return out;
  }

  /**
   * The residual block's tail in one pass: out [N, H] = LayerNorm(dropout(y + bias) + residual), with
   * `drop` from Dropout.arm. The sum overwrites y and is kept for backward.
   */
  forwardResidual(
    y: Float32Array,
    bias: Float32Array,
    residual: Float32Array,
    drop: { p: number; seed: number },
    N: number,
    shared = false,
  ): Float32Array {
    const H = this.hidden;
    const out = this.bufs.get("out", N * H, shared);
    const mean = this.bufs.get("mean", N, shared),
      rstd = this.bufs.get("rstd", N, shared);
    addon().residualLayerNormForward(
      y,
      bias,
      residual,
      y,
      this.weight.data,
      this.bias.data,
      out,
      mean,
      rstd,
      N,
      H,
      this.eps,
      drop.p,
      drop.seed,
    );
    this.x = y;
    this.n = N;
    return out;
  }

  /** dx [N, H] from dout [N, H] (added with accumulate); dgamma, dbeta [H] accumulate into the grads. */
  backward(dout: Float32Array, dx: Float32Array, accumulate = false): void {
    const H = this.hidden,
      N = this.n;
    const mean = this.bufs.get("mean", N),
      rstd = this.bufs.get("rstd", N);
    addon().layerNormBackward(
      dout,
      this.x,
      this.weight.data,
      mean,
      rstd,
      dx,
      this.weight.grad,
      this.bias.grad,
      N,
      H,
      accumulate,
    );
  }
}
