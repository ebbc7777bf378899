/** A fully connected layer, y = x Wᵀ + b, with PyTorch's [out, in] weight layout. */

import { addon, type Dtype, type PackedLinear } from "../native/index.js";
import { bmm, mat, t } from "../native/views.js";
import { Buffers, roleOf } from "./buffers.js";
import { makeParam, type Param } from "./param.js";

/** packLinear's type code of each dtype. */
const PACKED_TYPE: Record<Dtype, number> = { fp32: 0, bf16: 1, int8: 2 };

/**
 * The Linear fields of a module, found by looking at its own fields rather than listed by hand, so that a
 * Linear added to a module is never left out of what is done to all of them (`BertModel.setDtype`).
 */
export function linearsOf(module: object): Linear[] {
  return Object.values(module).filter((v): v is Linear => v instanceof Linear);
}

/**
 * Linear(in, out) under the Hugging Face name prefix `name` (`.weight` [out, in], `.bias` [out]). Given
 * several names, the layers share one packed weight [k·out_each, in] whose rows are theirs in order, so
 * that attention's query, key and value are one product; their Params are views of the packed storage.
 */
export class Linear {
  /** The (packed) weight [out, in] and bias [out]; `params()` gives the Hugging Face tensors. */
  readonly weight: Param;
  readonly bias: Param;
  private readonly parts: Param[];
  private readonly bufs: Buffers;
  private x: Float32Array = new Float32Array(0);
  /** The products' format (`setDtype`): fp32, bf16 (fp32 accumulation and master weights), or int8 (inference only). */
  private dtype: Dtype = "fp32";
  /** The weight packed for inference in this dtype, per (output range, bias, GELU); cleared when it may change. */
  private packed = new Map<string, PackedLinear>();
  /**
   * Set by the first backward: a layer that trains in this process runs its inference passes (evaluation
   * between epochs) unpacked in fp32 and bf16, since a packed copy would add the weight's size again to
   * the training state's memory; commands that only infer pack.
   */
  private trains = false;
  private wBf16 = new Uint16Array(0);
  private wStale = true;
  private xBf16 = new Uint16Array(0);
  private dyBf16 = new Uint16Array(0);
  private xOff = 0;
  private ldx = 0;
  private n = 0;

  constructor(
    name: string | string[],
    readonly inFeatures: number,
    readonly outFeatures: number,
    pool?: Buffers,
  ) {
    const names = typeof name === "string" ? [name] : name;
    if (outFeatures % names.length !== 0)
      throw new Error(`${outFeatures} outputs do not split ${names.length} ways`);
    this.bufs = new Buffers(roleOf(names[0]), pool);
    this.weight = makeParam(`${names[0]}.weight`, [outFeatures, inFeatures]);
    this.bias = makeParam(`${names[0]}.bias`, [outFeatures]);
    if (names.length === 1) {
      this.parts = [this.weight, this.bias];
      return;
    }
    const o = outFeatures / names.length,
      w = this.weight,
      b = this.bias;
    const view = (p: Param, n: string, shape: number[], at: number, len: number): Param => ({
      name: n,
      shape,
      data: p.data.subarray(at, at + len),
      grad: p.grad.subarray(at, at + len),
    });
    this.parts = names.flatMap((n, i) => [
      view(w, `${n}.weight`, [o, inFeatures], i * o * inFeatures, o * inFeatures),
      view(b, `${n}.bias`, [o], i * o, o),
    ]);
  }

  params(): Param[] {
    return this.parts;
  }

  /**
   * "bf16": products on bf16 copies of the weight and the input with fp32 accumulation, as autocast does
   * (the fp32 weight stays the master copy). "int8": dynamic quantisation for inference, as onnxruntime's
   * quantize_dynamic: the weight quantised per output channel (s8) when the first product runs, the
   * input per row (u8) at each, int32 accumulation, then dequantised with the bias in fp32; backward
   * refuses. "fp32" (the default) returns to fp32 products. Inference passes (`shared`) run on the
   * weight packed once in the dtype; backward, and this call, drop the packed copies: call it again
   * after writing new weights into a model that has run inference.
   */
  setDtype(dtype: Dtype): void {
    this.dtype = dtype;
    this.wStale = true;
    this.packed.clear();
  }

  /**
   * y [N, out] = x [N, in] · Wᵀ + b. Row i of x starts at xOff + i*ldx (the pooler reads the [CLS]
   * rows of [B, T, H] this way). x is kept by reference for backward. Returns y (owned by this layer, or
   * by the pool when `shared`).
   */
  forward(x: Float32Array, N: number, xOff = 0, ldx = this.inFeatures, shared = false): Float32Array {
    if (this.packs(shared)) return this.packedProduct(x, N, xOff, ldx, "y", shared, true);
    const y = this.bufs.get("y", N * this.outFeatures, shared);
    addon().fillRows(y, this.bias.data, N, this.outFeatures); // the bias, then the product added onto it
    this.multiply(x, N, xOff, ldx, y, 1);
    return y;
  }

  /**
   * y [N, out] = x [N, in] · Wᵀ without the bias, for a consumer that adds it in its own pass (bias and
   * GELU, or the residual LayerNorm); backward is the same as forward's.
   */
  forwardNoBias(x: Float32Array, N: number, shared = false): Float32Array {
    if (this.packs(shared)) return this.packedProduct(x, N, 0, this.inFeatures, "y", shared, false);
    const y = this.bufs.get("y", N * this.outFeatures, shared);
    this.multiply(x, N, 0, this.inFeatures, y, 0);
    return y;
  }

  /**
   * Inference only: y [N, out] = GELU(x [N, in] · Wᵀ + b) (erf GELU, Hugging Face's "gelu"), the bias and
   * GELU in the packed product's epilogue (or one pass after it, unpacked); y is the shared pool's buffer.
   */
  forwardGelu(x: Float32Array, N: number): Float32Array {
    if (this.packs(true)) return this.packedProduct(x, N, 0, this.inFeatures, "gelu", true, true, true);
    const pre = this.forwardNoBias(x, N, true),
      y = this.bufs.get("gelu", N * this.outFeatures, true);
    addon().biasGeluForward(pre, this.bias.data, null, y, N, this.outFeatures);
    return y;
  }

  /**
   * Inference only (backward does not apply): y [N, count] = x [N, in] · W[from : from+count]ᵀ + b[from : from+count],
   * the outputs from..from+count-1 alone (the last encoder layer's keys and values without its queries),
   * in this layer's own buffer for that range.
   */
  forwardOutputs(x: Float32Array, N: number, from: number, count: number): Float32Array {
    if (from < 0 || count < 1 || from + count > this.outFeatures)
      throw new Error(`outputs ${from}..${from + count - 1} are outside 0..${this.outFeatures - 1}`);
    const name = `y${from}+${count}`;
    if (this.packs(true))
      return this.packedProduct(x, N, 0, this.inFeatures, name, false, true, false, from, count);
    const y = this.bufs.get(name, N * count);
    addon().fillRows(y, this.bias.data.subarray(from, from + count), N, count);
    this.multiply(x, N, 0, this.inFeatures, y, 1, from, count);
    return y;
  }

  /** Whether a pass runs on the packed weight: int8 always, fp32 and bf16 in inference (`shared`) unless training. */
  private packs(shared: boolean): boolean {
    return this.dtype === "int8" || (shared && !this.trains);
  }

  /**
   * y [N, count] = x · W[from : from+count]ᵀ (+ the bias) (then GELU) on the weight packed once in this
   * layer's dtype (made on first use), into the buffer `name` (the shared pool's when `shared`). The
   * buffer is asked for with the rows the product runs on, so that it writes in place.
   */
  private packedProduct(
    x: Float32Array,
    N: number,
    xOff: number,
    ldx: number,
    name: string,
    shared: boolean,
    bias: boolean,
    gelu = false,
    from = 0,
    count = this.outFeatures,
  ): Float32Array {
    const k = addon(),
      I = this.inFeatures,
      key = `${from}+${count}${bias ? "b" : ""}${gelu ? "g" : ""}`;
    let w = this.packed.get(key);
    if (!w) {
      const b = bias ? this.bias.data.subarray(from, from + count) : null;
      const rows = this.weight.data.subarray(from * I, (from + count) * I);
      w = k.packLinear(PACKED_TYPE[this.dtype], rows, b, count, I, gelu);
      this.packed.set(key, w);
    }
    this.n = N;
    const y = this.bufs.get(name, Math.max(k.packedRows(N), 1) * count, shared);
    k.packedForward(w, N, x, xOff, ldx, y);
    return y.subarray(0, N * count);
  }

  /** y [N, count] (+)= x · W[from : from+count]ᵀ; the whole weight by default. */
  private multiply(
    x: Float32Array,
    N: number,
    xOff: number,
    ldx: number,
    y: Float32Array,
    beta: number,
    from = 0,
    count = this.outFeatures,
  ): void {
    const I = this.inFeatures,
      O = count;
    this.x = x;
    this.xOff = xOff;
    this.ldx = ldx;
    this.n = N;
    if (this.dtype === "bf16" && xOff === 0 && ldx === I) {
      const k = addon();
      if (this.wStale) {
        const all = this.outFeatures * I;
        if (this.wBf16.length !== all) this.wBf16 = new Uint16Array(all);
        k.toBf16(this.weight.data, this.wBf16, all);
        this.wStale = false;
      }
      if (this.xBf16.length < N * I) this.xBf16 = new Uint16Array(N * I);
      k.toBf16(x, this.xBf16, N * I);
      bmm(mat(y, N, O), mat(this.xBf16, N, I), t(mat(this.wBf16, O, I, from * I)), 1, beta); // [N, O] = [N, I] · [I, O]
      return;
    }
    bmm(mat(y, N, O), mat(x, N, I, xOff, ldx), t(mat(this.weight.data, O, I, from * I)), 1, beta); // [N, O] = [N, I] · [I, O]
  }

  /**
   * From dy [N, out]: dW [out, in] += dyᵀ · x, db [out] += column sums of dy, and, when dx is given,
   * dx [N, in] = dy · W (added to dx with accumulate), laid out like x (same offset and row stride).
   */
  backward(dy: Float32Array, dx: Float32Array | null, accumulate = false): void {
    if (this.dtype === "int8")
      throw new Error("int8 products are for inference: setDtype('fp32') or 'bf16' to train");
    this.packed.clear(); // the optimiser changes the weight next
    this.trains = true;
    const I = this.inFeatures,
      O = this.outFeatures,
      N = this.n,
      k = addon();
    k.biasGrad(dy, this.bias.grad, N, O);
    if (this.dtype === "bf16" && this.xOff === 0 && this.ldx === I) {
      // The input's bf16 copy from forward, dy's made here; the weight's copy is stale after this step.
      if (this.dyBf16.length < N * O) this.dyBf16 = new Uint16Array(N * O);
      k.toBf16(dy, this.dyBf16, N * O);
      bmm(mat(this.weight.grad, O, I), t(mat(this.dyBf16, N, O)), mat(this.xBf16, N, I), 1, 1); // [O, I] += [O, N] · [N, I]
      if (dx) bmm(mat(dx, N, I), mat(this.dyBf16, N, O), mat(this.wBf16, O, I), 1, accumulate ? 1 : 0); // [N, I] = [N, O] · [O, I]
      this.wStale = true;
      return;
    }
    bmm(mat(this.weight.grad, O, I), t(mat(dy, N, O)), mat(this.x, N, I, this.xOff, this.ldx), 1, 1); // [O, I] += [O, N] · [N, I]
    if (dx)
      bmm(
        mat(dx, N, I, this.xOff, this.ldx),
        mat(dy, N, O),
        mat(this.weight.data, O, I),
        1,
        accumulate ? 1 : 0,
      ); // [N, I] = [N, O] · [O, I]
  }
}
