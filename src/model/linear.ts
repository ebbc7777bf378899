/** A fully connected layer, y = x Wᵀ + b, with PyTorch's [out, in] weight layout. */
import { addon } from "../native/index.js";
import { Buffers, roleOf } from "./buffers.js";
import { makeParam, type Param } from "./param.js";

/** Linear(in, out) under the Hugging Face name prefix `name` (`.weight` [out, in], `.bias` [out]). */
export class Linear {
  readonly weight: Param;
  readonly bias: Param;
  private readonly bufs: Buffers;
  private x: Float32Array = new Float32Array(0);
  private xOff = 0;
  private ldx = 0;
  private n = 0;

  constructor(
    name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    pool?: Buffers,
  ) {
    this.bufs = new Buffers(roleOf(name), pool);
    this.weight = makeParam(`${name}.weight`, [outFeatures, inFeatures]);
    this.bias = makeParam(`${name}.bias`, [outFeatures]);
  }

  params(): Param[] {
    return [this.weight, this.bias];
  }

  /**
   * y [N, out] = x [N, in] · Wᵀ + b. Row i of x starts at xOff + i*ldx (the pooler reads the [CLS]
   * rows of [B, T, H] this way). x is kept by reference for backward. Returns y (owned by this layer, or
   * by the pool when `shared`).
   */
  forward(x: Float32Array, N: number, xOff = 0, ldx = this.inFeatures, shared = false): Float32Array {
    const I = this.inFeatures,
      O = this.outFeatures,
      k = addon();
    const y = this.bufs.get("y", N * O, shared);
    k.fillRows(y, this.bias.data, N, O); // the bias, then the product added onto it (beta 1)
    k.sgemm(false, true, N, O, I, 1, x, xOff, ldx, this.weight.data, 0, I, 1, y, 0, O);
    this.x = x;
    this.xOff = xOff;
    this.ldx = ldx;
    this.n = N;
    return y;
  }

  /**
   * From dy [N, out]: dW [out, in] += dyᵀ · x, db [out] += column sums of dy, and, when dx is given,
   * dx [N, in] = dy · W (added to dx with accumulate), laid out like x (same offset and row stride).
   */
  backward(dy: Float32Array, dx: Float32Array | null, accumulate = false): void {
    const I = this.inFeatures,
      O = this.outFeatures,
      N = this.n,
      k = addon();
    k.sgemm(true, false, O, I, N, 1, dy, 0, O, this.x, this.xOff, this.ldx, 1, this.weight.grad, 0, I);
    k.biasGrad(dy, this.bias.grad, N, O);
    if (dx)
      k.sgemm(
        false,
        false,
        N,
        I,
        O,
        1,
        dy,
        0,
        O,
        this.weight.data,
        0,
        I,
        accumulate ? 1 : 0,
        dx,
        this.xOff,
        this.ldx,
      );
  }
}
