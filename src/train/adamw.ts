/**
 * AdamW exactly as torch.optim.AdamW computes it (decoupled weight decay, bias correction), on the
 * native `adamwUpdate` kernel, with lazy rows for large embedding tables.
 *
 * Lazy rows: a row no batch has touched yet has zero gradient history, so its m and v are zero and
 * dense AdamW only multiplies it by (1 - lr_t * wd) each step. Such rows are skipped; the product of
 * those factors is kept once for all of them and applied when a row is first touched (or on flush).
 * From then on the row is updated densely every step, as its m and v are no longer zero. The result
 * equals dense AdamW up to float rounding of the decay product; untouched pages of m and v are never
 * written, so the operating system never backs them with memory.
 */

import { SafetensorsFile, writeSafetensors } from "../hf/safetensors.js";
import type { Param } from "../model/param.js";
import { adamwUpdate } from "../native/index.js";
import { UserError } from "../util/errors.js";

/** AdamW's hyper-parameters; defaults are torch's except weight decay, which is HF Trainer's 0. */
export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Parameters exempt from weight decay (see hfNoDecay); none by default, as in torch. */
  noDecay?: (name: string) => boolean;
  /** Update untouched embedding rows lazily (default true); false gives the plain dense update. */
  lazyRows?: boolean;
}

/** HF Trainer's rule: no weight decay for biases and LayerNorm weights. */
export function hfNoDecay(name: string): boolean {
  return name.endsWith(".bias") || name.includes("LayerNorm.");
}

interface LazyState {
  rowLen: number;
  /** 1 for rows touched at least once (updated densely every step since). */
  active: Uint8Array;
  /** The active rows, sorted. */
  rows: Int32Array;
  /** Product of the decay factors the inactive rows have not yet received. */
  pending: number;
}

interface Slot {
  p: Param;
  m: Float32Array;
  v: Float32Array;
  decay: number;
  lazy?: LazyState;
}

/** torch.optim.AdamW over a list of parameters; call step() after each backward. */
export class AdamW {
  /** Steps taken so far (torch's `step` state; the next update uses step + 1 for bias correction). */
  stepCount = 0;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private readonly slots: Slot[];

  constructor(params: Param[], opts: AdamWOptions) {
    this.lr = opts.lr;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    const wd = opts.weightDecay ?? 0;
    const lazy = opts.lazyRows ?? true;
    this.slots = params.map((p) => ({
      p,
      m: new Float32Array(p.data.length),
      v: new Float32Array(p.data.length),
      decay: opts.noDecay?.(p.name) ? 0 : wd,
    }));
    // Only the word embeddings get touchedRows from the model; any 2-D parameter that has them qualifies.
    if (lazy)
      for (const s of this.slots)
        if (s.p.shape.length === 2 && s.p.name.endsWith("word_embeddings.weight"))
          s.lazy = {
            rowLen: s.p.shape[1],
            active: new Uint8Array(s.p.shape[0]),
            rows: new Int32Array(0),
            pending: 1,
          };
  }

  /**
   * One update from the parameters' gradients. `lr` overrides the current learning rate (from a
   * schedule); `gradScale` multiplies every gradient first (the clipping coefficient).
   */
  step(opts: { lr?: number; gradScale?: number } = {}): void {
    if (opts.lr !== undefined) this.lr = opts.lr;
    this.stepCount++;
    const base = {
      lr: this.lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      step: this.stepCount,
      gradScale: opts.gradScale ?? 1,
    };
    for (const s of this.slots) {
      const h = { ...base, weightDecay: s.decay };
      const lz = s.lazy;
      if (!lz || !s.p.touchedRows) {
        if (lz) this.activateAll(s, lz);
        adamwUpdate(s.p.data, s.p.grad, s.m, s.v, h);
        continue;
      }
      this.activate(s, lz, s.p.touchedRows);
      if (lz.rows.length) adamwUpdate(s.p.data, s.p.grad, s.m, s.v, h, lz.rows, lz.rowLen);
      lz.pending *= 1 - this.lr * s.decay;
    }
  }

  /** Brings every lazy row up to date (call before saving or reading the weights). */
  flush(): void {
    for (const s of this.slots) {
      const lz = s.lazy;
      if (!lz || lz.pending === 1) continue;
      const f = lz.pending;
      const d = s.p.data;
      const w = lz.rowLen;
      for (let r = 0; r < lz.active.length; r++) {
        if (lz.active[r]) continue;
        for (let i = r * w, end = i + w; i < end; i++) d[i] *= f;
      }
      lz.pending = 1;
    }
  }

  /** How many rows of each lazily updated parameter are being updated (for logs and benchmarks). */
  activeRows(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.slots) if (s.lazy) out[s.p.name] = s.lazy.rows.length;
    return out;
  }

  /**
   * Saves the optimiser's state (m, v, step, the lazy rows) as a safetensors file, so that training
   * resumes exactly: `NAME.exp_avg`, `NAME.exp_avg_sq`, and `NAME.active_rows` for lazy tables.
   */
  async saveState(path: string): Promise<void> {
    const tensors = [];
    const pending: Record<string, number> = {};
    for (const s of this.slots) {
      tensors.push({ name: `${s.p.name}.exp_avg`, shape: s.p.shape, data: s.m });
      tensors.push({ name: `${s.p.name}.exp_avg_sq`, shape: s.p.shape, data: s.v });
      if (s.lazy) {
        // Row ids below 2^24 are exact in f32.
        tensors.push({
          name: `${s.p.name}.active_rows`,
          shape: [s.lazy.rows.length],
          data: Float32Array.from(s.lazy.rows),
        });
        pending[s.p.name] = s.lazy.pending;
      }
    }
    await writeSafetensors(path, tensors, {
      format: "gotune-adamw",
      step: String(this.stepCount),
      lr: String(this.lr),
      pending: JSON.stringify(pending),
    });
  }

  /** Restores a state written by saveState for the same parameters; a mismatch is a UserError. */
  async loadState(path: string): Promise<void> {
    const f = await SafetensorsFile.open(path);
    try {
      if (f.metadata.format !== "gotune-adamw")
        throw new UserError("not a gotune optimiser state", { file: path });
      const pending = JSON.parse(f.metadata.pending ?? "{}") as Record<string, number>;
      for (const s of this.slots) {
        for (const [key, dst] of [
          ["exp_avg", s.m],
          ["exp_avg_sq", s.v],
        ] as const) {
          const name = `${s.p.name}.${key}`;
          const info = f.info(name);
          if (!info || info.shape.join() !== s.p.shape.join())
            throw new UserError(`the optimiser state has no ${name} of shape [${s.p.shape}]`, {
              file: path,
              hint: "it belongs to another model; start without it",
            });
          await f.readF32(name, dst);
        }
        const lz = s.lazy;
        if (!lz) continue;
        lz.active.fill(0);
        lz.rows = new Int32Array(0);
        lz.pending = pending[s.p.name] ?? 1;
        if (f.info(`${s.p.name}.active_rows`)) {
          const rows = Int32Array.from(await f.readF32(`${s.p.name}.active_rows`));
          for (const r of rows) lz.active[r] = 1;
          lz.rows = rows;
        } else this.activateAll(s, lz);
      }
      this.stepCount = Number(f.metadata.step ?? 0);
      if (f.metadata.lr) this.lr = Number(f.metadata.lr);
    } finally {
      await f.close();
    }
  }

  /** Marks newly touched rows active, first giving them the decay they missed. */
  private activate(s: Slot, lz: LazyState, touched: Int32Array): void {
    const fresh: number[] = [];
    for (const r of touched) if (!lz.active[r]) fresh.push(r);
    if (!fresh.length) return;
    const d = s.p.data;
    const w = lz.rowLen;
    for (const r of fresh) {
      lz.active[r] = 1;
      if (lz.pending !== 1) for (let i = r * w, end = i + w; i < end; i++) d[i] *= lz.pending;
    }
    const merged = new Int32Array(lz.rows.length + fresh.length);
    merged.set(lz.rows);
    merged.set(fresh, lz.rows.length);
    merged.sort();
    lz.rows = merged;
  }

  /** A step without touchedRows is dense: every row becomes active. */
  private activateAll(s: Slot, lz: LazyState): void {
    if (lz.rows.length === lz.active.length) return;
    const all = new Int32Array(lz.active.length);
    for (let r = 0; r < all.length; r++) all[r] = r;
    this.activate(s, lz, all);
  }
}
