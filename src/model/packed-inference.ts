/**
 * The inference-only fast path of BertForSequenceClassification (its `predictLogits`): the logits of
 * `forward(batch, { train: false })` to fp32 rounding, with less work, by two exact savings.
 * - Padding skipped ("remove padding", as FasterTransformer and onnxruntime's attention do): the real
 *   tokens of a right-padded batch are packed into [Ntok, H] rows, every linear layer runs on those rows,
 *   and attention runs per sequence at its own length. In the plain forward a
 *   padded key's softmax weight is exactly 0, so no real token's state depends on the padding.
 * - The last layer for [CLS] alone: the classifier reads only the pooled [CLS] state, so the last layer
 *   needs queries, attention output and feed-forward for one row a sequence, and no keys or values
 *   (`lastLayerCls` says why).
 * A layer's attention is one native loop over (sequence, head) pairs (`attentionPacked`).
 * The modules' own parameters and kernels do the work (bf16 products included); a batch whose mask is
 * not 1…1 0…0 in every row falls back to the plain forward.
 */
import { addon } from "../native/index.js";
import { bmm, heads, type MatView, mat, t } from "../native/views.js";
import type { Batch } from "./batch.js";
import { Buffers } from "./buffers.js";
import type { BertConfig } from "./config.js";
import type { Ctx, SeedSource } from "./context.js";
import type { Embeddings } from "./embeddings.js";
import type { Layer } from "./layer.js";
import type { Linear } from "./linear.js";
import type { Pooler } from "./pooler.js";

/**
 * The encoder modules the fast path runs (BertModel's, named by what it reads rather than by importing
 * bert.ts, which imports this module).
 */
export interface PackedEncoder {
  readonly config: BertConfig;
  readonly embeddings: Embeddings;
  readonly layers: readonly Layer[];
  readonly pooler: Pooler | undefined;
  dropoutSeeds(): SeedSource;
}

/** Sequences b0..b0+n-1 of the batch, each with T real tokens, packed from row r0 on. */
interface Run {
  b0: number;
  n: number;
  T: number;
  r0: number;
}

/**
 * The batch's rows cut into runs of equal real length, or undefined unless every row of the mask is
 * ones then zeros with at least one one (right padding, as the tokenizer pads).
 */
export function packedRuns(mask: Int32Array, B: number, T: number): Run[] | undefined {
  const runs: Run[] = [];
  let r0 = 0;
  for (let b = 0; b < B; b++) {
    const row = mask.subarray(b * T, (b + 1) * T);
    let len = 0;
    while (len < T && row[len] === 1) len++;
    if (len === 0) return undefined;
    for (let i = len; i < T; i++) if (row[i] !== 0) return undefined;
    const last = runs[runs.length - 1];
    if (last && last.T === len) last.n++;
    else runs.push({ b0: b, n: 1, T: len, r0 });
    r0 += len;
  }
  return runs;
}

/** The fast path's own buffers (packed ids, sequences, [CLS] rows), reused from batch to batch. */
export class PackedInference {
  private readonly bufs = new Buffers();
  private ids = new Int32Array(0);
  private types = new Int32Array(0);
  private seqs = new Int32Array(0);

  /** The encoder, and the classifier on its pooled [CLS] state. */
  constructor(
    private readonly encoder: PackedEncoder,
    private readonly classifier: Linear,
  ) {}

  /** logits [B, L] of a right-padded batch (a view valid until the next call), or undefined for another mask. */
  logits(batch: Batch): Float32Array | undefined {
    const { batchSize: B, seqLen: T } = batch;
    const runs = packedRuns(batch.attentionMask, B, T);
    if (!runs) return undefined;
    const bert = this.encoder,
      N = runs.reduce((s, r) => s + r.n * r.T, 0);
    const ctx: Ctx = { B: 1, T: N, train: false, seeds: bert.dropoutSeeds(), shared: true };
    // Packed ids and types [N]: sequence b's first length(b) entries, in order.
    if (this.ids.length < N) {
      this.ids = new Int32Array(N);
      this.types = new Int32Array(N);
    }
    const ids = this.ids.subarray(0, N),
      types = this.types.subarray(0, N);
    for (const { b0, n, T: len, r0 } of runs)
      for (let j = 0; j < n; j++) {
        const from = (b0 + j) * T;
        ids.set(batch.inputIds.subarray(from, from + len), r0 + j * len);
        types.set(batch.tokenTypeIds.subarray(from, from + len), r0 + j * len);
      }
    let h = bert.embeddings.forwardRuns(ids, types, runs); // [N, H]
    const last = bert.layers.length - 1;
    const seqs = this.sequences(runs); // the same for every full layer (a view of the buffer the last layer reuses)
    for (let i = 0; i < last; i++) h = this.layer(bert.layers[i]!, h, seqs, N, ctx); // [N, H]
    const cls = this.lastLayerCls(bert.layers[last]!, h, runs, B, ctx); // [B, H]
    const pooled = bert.pooler!.forward(cls, B, 1); // [B, H]
    return this.classifier.forward(pooled, B); // [B, L]
  }

  /** One encoder layer on packed rows: x [N, H] -> [N, H], attention within each sequence. */
  private layer(layer: Layer, x: Float32Array, seqs: Int32Array, N: number, ctx: Ctx): Float32Array {
    const att = layer.attention,
      H = att.qkv.inFeatures,
      nh = this.encoder.config.num_attention_heads,
      d = H / nh;
    const qkv = att.qkv.forward(x, N, 0, H, true); // [N, 3H]: q | k | v in each row
    const context = this.bufs.get("context", N * H); // [N, H]
    addon().attentionPacked(
      context,
      H,
      qkv,
      0,
      3 * H,
      qkv,
      H,
      2 * H,
      3 * H,
      seqs,
      seqs.length / 4,
      nh,
      d,
      1 / Math.sqrt(d),
    );
    const a = att.outputBlock(context, x, N, ctx); // [N, H]
    return layer.feedForward(a, N, ctx); // [N, H]
  }

  /**
   * The last encoder layer for the [CLS] rows only: the query, attention output and feed-forward of each
   * sequence's first row, over all packed rows x [N, H]; returns [B, H]. With one query a head, keys and
   * values need not be made: [CLS]'s score on token j is q_h · (W_k,h x_j + b_k,h) = (W_k,hᵀ q_h) · x_j plus
   * a term the same for every j (which softmax drops), and Σ_j p_j (W_v,h x_j + b_v,h) = W_v,h (Σ_j p_j x_j)
   * + b_v,h. So a head attends over the rows x themselves with the query u_h = W_k,hᵀ q_h [H], and its
   * context is W_v,h applied to the weighted sum: ~B·nh·H·(2d + 2T) products for N·H·2H.
   */
  private lastLayerCls(layer: Layer, x: Float32Array, runs: Run[], B: number, ctx: Ctx) {
    const att = layer.attention,
      H = att.qkv.inFeatures,
      nh = this.encoder.config.num_attention_heads,
      d = H / nh,
      W = att.qkv.weight.data; // [3H, H]: query, key and value rows, fp32 whatever the dtype
    const xc = this.bufs.get("clsRows", B * H); // [B, H]: each sequence's row 0
    for (const { b0, n, T, r0 } of runs)
      for (let j = 0; j < n; j++) xc.set(x.subarray((r0 + j * T) * H, (r0 + j * T + 1) * H), (b0 + j) * H);
    const q = att.qkv.forwardOutputs(xc, B, 0, H); // [B, H]
    // Head h of W_k (or W_v) as nh matrices [d, H]: rows at + h*d.. of W.
    const wHeads = (at: number): MatView => ({ ...mat(W, d, H, at * H), s2: d * H, n2: nh });
    // [B, nh, H] as nh matrices [B, H]: head h's rows b*nh + h.
    const perHeadRows = (data: Float32Array): MatView => ({ ...mat(data, B, H, 0, nh * H), s2: H, n2: nh });
    const u = this.bufs.get("clsQueries", B * nh * H); // [B, nh, H]
    bmm(perHeadRows(u), heads(q, 1, B, nh, d), wHeads(H)); // u_h [B, H] = q_h [B, d] · W_k,h [d, H]
    const sums = this.bufs.get("clsSums", B * nh * H); // [B, nh, H]: Σ_j p_hj x_j
    const seqs = this.sequences(runs, nh); // sequence b: queries u rows b*nh.., keys and values its rows of x
    addon().attentionPacked(sums, H, u, 0, H, x, 0, 0, H, seqs, seqs.length / 4, 1, H, 1 / Math.sqrt(d));
    const context = this.bufs.get("clsContext", B * H); // [B, H]
    addon().fillRows(context, att.qkv.bias.data.subarray(2 * H, 3 * H), B, H); // b_v
    bmm(heads(context, 1, B, nh, d), perHeadRows(sums), t(wHeads(2 * H)), 1, 1); // += sums_h [B, H] · W_v,hᵀ [H, d]
    const a = att.outputBlock(context, xc, B, ctx); // [B, H]
    return layer.feedForward(a, B, ctx); // [B, H]
  }

  /**
   * attentionPacked's (query row, query count, key row, key count) for every sequence b of the batch, whose
   * packed rows are r..r+T-1: [r, T, r, T], or, given `queries`, that many query rows from b·queries on:
   * [b·queries, queries, r, T].
   */
  private sequences(runs: Run[], queries?: number): Int32Array {
    const n = runs.reduce((s, r) => s + r.n, 0);
    if (this.seqs.length < 4 * n) this.seqs = new Int32Array(4 * n);
    for (const { b0, n: count, T, r0 } of runs)
      for (let j = 0; j < count; j++) {
        const b = b0 + j,
          r = r0 + j * T;
        this.seqs.set(queries ? [b * queries, queries, r, T] : [r, T, r, T], 4 * b);
      }
    return this.seqs.subarray(0, 4 * n);
  }
}
