/** Dropout with a seeded, recomputable mask: backward replays the forward's seed, so no mask is stored. */
import { addon } from "../native/index.js";
import type { Ctx } from "./context.js";

/** Dropout with probability p, active only in training. */
export class Dropout {
  private seed = 0;
  private active = false;

  constructor(readonly p: number) {}

  /**
   * out[n] = dropout(x) (+ residual); returns out. When inactive and there is no residual, returns x
   * itself and writes nothing. out may alias x or residual.
   */
  forward(x: Float32Array, out: Float32Array, n: number, ctx: Ctx, residual?: Float32Array): Float32Array {
    this.active = ctx.train && this.p > 0;
    const k = addon();
    if (this.active) {
      this.seed = ctx.seeds.next();
      k.dropout(x, out, n, this.p, this.seed, residual ?? null);
      return out;
    }
    if (residual) {
      k.add(x, residual, out, n);
      return out;
    }
    return x;
  }

  /**
   * For a kernel that applies this dropout inside its own pass (the residual LayerNorm): starts the
   * forward as `forward` would and gives the probability in force (0 when inactive) and the seed.
   */
  arm(ctx: Ctx): { p: number; seed: number } {
    this.active = ctx.train && this.p > 0;
    if (this.active) this.seed = ctx.seeds.next();
    return { p: this.active ? this.p : 0, seed: this.active ? this.seed : 0 };
  }

  /** dx[n] = d(loss)/d(x) from dout; returns dx, or dout itself when the last forward was inactive. */
  backward(dout: Float32Array, dx: Float32Array, n: number): Float32Array {
    if (!this.active) return dout;
    addon().dropout(dout, dx, n, this.p, this.seed, null);
    return dx;
  }
}
