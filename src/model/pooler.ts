/** BertPooler: tanh(dense(hidden state of the first token, [CLS])). */
import { addon } from "../native/index.js";
import type { Buffers } from "./buffers.js";
import { Linear } from "./linear.js";
import type { Param } from "./param.js";

/** The pooler under `prefix` (e.g. `bert.pooler`). */
export class Pooler {
  readonly dense: Linear;
  private pooled: Float32Array = new Float32Array(0);
  private B = 0;

  constructor(
    prefix: string,
    private readonly H: number,
    private readonly scratch: Buffers,
  ) {
    this.dense = new Linear(`${prefix}.dense`, H, H);
  }

  params(): Param[] {
    return this.dense.params();
  }

  /** pooled [B, H] = tanh(dense(hidden[:, 0])) from hidden [B, T, H], reading rows T*H apart. */
  forward(hidden: Float32Array, B: number, T: number): Float32Array {
    this.B = B;
    const y = this.dense.forward(hidden, B, 0, T * this.H);
    addon().tanhForward(y, y, B * this.H);
    this.pooled = y;
    return y;
  }

  /** From dpooled [B, H]: parameter gradients, and the [CLS] rows of dHidden [B, T, H] (other rows untouched). */
  backward(dpooled: Float32Array, dHidden: Float32Array): void {
    const n = this.B * this.H;
    const dy = this.scratch.get("dPooler", n);
    addon().tanhBackward(dpooled, this.pooled, dy, n);
    this.dense.backward(dy, dHidden);
  }
}
