/**
 * BERT with Hugging Face's semantics and parameter names: BertModel, BertForSequenceClassification and
 * BertForMaskedLM, each with an explicit forward and backward. Activations live in buffers reused for
 * every batch of the same shape; outputs returned by forward stay valid until the next forward (for the
 * MLM model, until its backward, which turns its logits into their gradient in place).
 */
import { addon, type Dtype } from "../native/index.js";
import { UserError } from "../util/errors.js";
import { Rng } from "../util/rng.js";
import type { Batch } from "./batch.js";
import { Buffers } from "./buffers.js";
import { type BertConfig, isMultiLabel } from "./config.js";
import { type Ctx, SeedSource } from "./context.js";
import { Dropout } from "./dropout.js";
import { Embeddings } from "./embeddings.js";
import { initBertParams } from "./init.js";
import { Layer } from "./layer.js";
import { Linear } from "./linear.js";
import { BCEWithLogits, CrossEntropy, IGNORE_INDEX } from "./loss.js";
import { MlmHead } from "./mlm-head.js";
import { PackedInference } from "./packed-inference.js";
import type { Param } from "./param.js";
import { Pooler } from "./pooler.js";

export type { Batch } from "./batch.js";

/** Options of a forward pass. */
export interface ForwardOptions {
  /** Training: dropout active and activations kept for backward. */
  train: boolean;
  /** Also return each layer's attention probabilities [B, heads, T, T] (views of internal buffers). */
  outputAttentions?: boolean;
}

const FLOAT32_MIN = -3.4028234663852886e38;

function checkBatch(batch: Batch, config: BertConfig): void {
  const { batchSize: B, seqLen: T } = batch;
  const n = B * T;
  if (!(Number.isInteger(B) && Number.isInteger(T) && B > 0 && T > 0))
    throw new UserError(`a batch needs a positive batch size and sequence length, got ${B} x ${T}`);
  if (T > config.max_position_embeddings)
    throw new UserError(
      `sequence length ${T} exceeds the model's max_position_embeddings ${config.max_position_embeddings}`,
      {
        hint: "truncate the inputs",
      },
    );
  for (const [name, a] of [
    ["inputIds", batch.inputIds],
    ["tokenTypeIds", batch.tokenTypeIds],
    ["attentionMask", batch.attentionMask],
  ] as const)
    if (a.length !== n)
      throw new UserError(`batch.${name} has ${a.length} entries, expected ${B} x ${T} = ${n}`);
}

/** The encoder stack: embeddings, post-LayerNorm layers and (optionally) the pooler. */
export class BertModel {
  readonly config: BertConfig;
  readonly embeddings: Embeddings;
  readonly layers: Layer[];
  readonly pooler: Pooler | undefined;
  /** Scratch shared by all modules' backward passes (they run one at a time) and by the layers in inference. */
  readonly scratch = new Buffers();
  private readonly bufs = new Buffers();
  private seeds = new SeedSource(0);
  private ctx: Ctx | undefined;
  private touchedFlags: Uint8Array;
  private touchedList: Int32Array;
  private touchedCount = 0;
  private wordGradDense = false;

  /**
   * A BERT encoder. `prefix` is the name prefix of its parameters ("" as in BertModel's own state dict,
   * "bert" inside task models); `pooling` adds the pooler (default true); `init` draws Hugging Face's
   * initialisation from `seed` (default true).
   */
  constructor(
    config: BertConfig,
    opts: { seed?: number; prefix?: string; pooling?: boolean; init?: boolean } = {},
  ) {
    this.config = config;
    const pre = opts.prefix ? `${opts.prefix}.` : "";
    this.embeddings = new Embeddings(`${pre}embeddings`, config);
    this.layers = Array.from(
      { length: config.num_hidden_layers },
      (_, i) => new Layer(`${pre}encoder.layer.${i}`, config, this.scratch),
    );
    this.pooler =
      opts.pooling === false ? undefined : new Pooler(`${pre}pooler`, config.hidden_size, this.scratch);
    this.touchedFlags = new Uint8Array(config.vocab_size);
    this.touchedList = new Int32Array(config.vocab_size);
    this.embeddings.word.touchedRows = this.touchedList.subarray(0, 0);
    if (opts.init !== false) initBertParams(this.params(), config, new Rng(opts.seed ?? 0));
  }

  /** Parameters in Hugging Face's state-dict order. */
  /**
   * Matrix products of the encoder layers in bf16 with fp32 accumulation and fp32 master weights (as
   * torch's autocast under Trainer's bf16=True), in int8 for inference (dynamic quantisation, as
   * onnxruntime's quantize_dynamic), or back to fp32; embeddings, attention's per-head products, the
   * pooler and the heads stay fp32. The caller checks the CPU first (`usableDtype`).
   */
  setDtype(dtype: Dtype): void {
    for (const l of this.layers) for (const lin of l.linears()) lin.setDtype(dtype);
  }

  params(): Param[] {
    return [
      ...this.embeddings.params(),
      ...this.layers.flatMap((l) => l.params()),
      ...(this.pooler?.params() ?? []),
    ];
  }

  /** The stream dropout seeds come from (heads on top of the encoder draw from it too). */
  dropoutSeeds(): SeedSource {
    return this.seeds;
  }

  /** Restarts the dropout masks' stream from `seed`. */
  setDropoutSeed(seed: number): void {
    this.seeds = new SeedSource(seed);
  }

  /**
   * lastHidden [B*T, H], pooled [B, H] (with a pooler) and, if asked, each layer's attention
   * probabilities [B, heads, T, T].
   */
  forward(
    batch: Batch,
    opts: ForwardOptions,
  ): { lastHidden: Float32Array; pooled?: Float32Array; attentions?: Float32Array[] } {
    checkBatch(batch, this.config);
    const B = batch.batchSize,
      T = batch.seqLen;
    // Inference keeps nothing for backward, so all layers share one set of activation buffers.
    const ctx: Ctx = { B, T, train: opts.train, seeds: this.seeds, shared: !opts.train };
    this.ctx = ctx;
    const maskBias = this.bufs.get("maskBias", B * T); // [B, T]: 0 where attended, float32 min where masked
    for (let i = 0; i < B * T; i++) maskBias[i] = (1 - batch.attentionMask[i]) * FLOAT32_MIN;
    let h = this.embeddings.forward(batch.inputIds, batch.tokenTypeIds, ctx); // [B*T, H]
    const keep = opts.outputAttentions === true;
    for (const layer of this.layers) h = layer.forward(h, maskBias, ctx, keep);
    const pooled = this.pooler?.forward(h, B, T);
    const attentions = opts.outputAttentions
      ? this.layers.map((l) => l.attention.attentionProbs())
      : undefined;
    return { lastHidden: h, pooled, attentions };
  }

  /**
   * Accumulates parameter gradients from d(loss)/d(lastHidden) [B*T, H] (consumed as scratch) and/or
   * d(loss)/d(pooled) [B, H]; afterwards the word embeddings' touchedRows lists every row with a gradient.
   */
  backward(grads: { lastHidden?: Float32Array; pooled?: Float32Array }): void {
    const ctx = this.ctx;
    if (!ctx?.train) throw new Error("backward() needs a forward pass with train: true first");
    const N = ctx.B * ctx.T,
      H = this.config.hidden_size;
    let d = grads.lastHidden;
    if (!d) {
      d = this.scratch.get("dTop", N * H);
      d.fill(0);
    }
    if (grads.pooled) {
      if (!this.pooler) throw new Error("this BertModel has no pooler");
      this.pooler.backward(grads.pooled, d);
    }
    for (let i = this.layers.length - 1; i >= 0; i--) d = this.layers[i].backward(d);
    const touched = this.touchedBatch(N);
    const n = this.embeddings.backward(d, this.scratch.get("dEmb", N * H), touched);
    this.recordTouched(touched, n);
  }

  /** Throws unless the last forward was a training pass (whose activations backward needs). */
  assertTrained(): void {
    if (!this.ctx?.train) throw new Error("backward() needs a forward pass with train: true first");
  }

  private touchedBatchBuf: Int32Array = new Int32Array(0);

  private touchedBatch(N: number): Int32Array {
    if (this.touchedBatchBuf.length < N) this.touchedBatchBuf = new Int32Array(N);
    return this.touchedBatchBuf;
  }

  /** Merges a batch's touched rows into the rows touched since the last zeroGrad. */
  private recordTouched(rows: Int32Array, n: number): void {
    const word = this.embeddings.word;
    if (this.wordGradDense) return;
    const before = this.touchedCount;
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (!this.touchedFlags[r]) {
        this.touchedFlags[r] = 1;
        this.touchedList[this.touchedCount++] = r;
      }
    }
    if (before > 0 && this.touchedCount > before) this.touchedList.subarray(0, this.touchedCount).sort();
    if (this.touchedCount !== before || word.touchedRows?.length !== this.touchedCount)
      word.touchedRows = this.touchedList.subarray(0, this.touchedCount);
  }

  /** Marks the word-embedding gradient as dense (the tied MLM decoder writes every row). */
  markWordGradDense(): void {
    this.wordGradDense = true;
    this.embeddings.word.touchedRows = undefined;
  }

  /** Zeroes every gradient; the word table's only in its touched rows when its gradient is sparse. */
  zeroGrad(): void {
    const word = this.embeddings.word;
    for (const p of this.params()) if (p !== word) p.grad.fill(0);
    if (this.wordGradDense) {
      word.grad.fill(0);
      this.wordGradDense = false;
    } else if (this.touchedCount > 0) {
      addon().zeroRows(word.grad, this.touchedList, this.touchedCount, this.config.hidden_size);
    }
    for (let i = 0; i < this.touchedCount; i++) this.touchedFlags[this.touchedList[i]] = 0;
    this.touchedCount = 0;
    word.touchedRows = this.touchedList.subarray(0, 0);
  }
}

/** The number of labels: explicit, else the size of config.id2label, else 2 (as Hugging Face). */
function labelCount(config: BertConfig, numLabels?: number): number {
  if (numLabels !== undefined) return numLabels;
  const n = config.id2label ? Object.keys(config.id2label).length : 0;
  return n > 0 ? n : 2;
}

/**
 * BertModel + dropout + Linear(H, numLabels) on the pooled [CLS] state; cross-entropy loss against
 * batch.labels, or, when config.problem_type is "multi_label_classification", BCEWithLogitsLoss against
 * batch.targets (as Hugging Face).
 */
export class BertForSequenceClassification {
  readonly config: BertConfig;
  readonly numLabels: number;
  readonly bert: BertModel;
  readonly classifier: Linear;
  private readonly dropout: Dropout;
  private readonly bufs = new Buffers();
  private readonly loss: CrossEntropy;
  private readonly bce: BCEWithLogits | undefined;
  private logits: Float32Array = new Float32Array(0);
  private B = 0;
  private fast: PackedInference | undefined;

  /** `init: false` skips the random initialisation (all zeros) when weights will be loaded next. */
  constructor(config: BertConfig, opts: { seed?: number; numLabels?: number; init?: boolean } = {}) {
    this.config = config;
    this.numLabels = labelCount(config, opts.numLabels);
    this.bert = new BertModel(config, { prefix: "bert", init: false });
    this.dropout = new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob);
    this.classifier = new Linear("classifier", config.hidden_size, this.numLabels);
    this.loss = new CrossEntropy(`labels are 0..${this.numLabels - 1}`);
    this.bce = isMultiLabel(config) ? new BCEWithLogits() : undefined;
    if (opts.init !== false) initBertParams(this.params(), config, new Rng(opts.seed ?? 0));
  }

  /** Parameters in Hugging Face's order: bert.embeddings… bert.pooler.dense.*, classifier.weight [L, H], classifier.bias [L]. */
  /** Encoder products in fp32, bf16 or int8 (BertModel.setDtype). */
  setDtype(dtype: Dtype): void {
    this.bert.setDtype(dtype);
  }

  params(): Param[] {
    return [...this.bert.params(), ...this.classifier.params()];
  }

  setDropoutSeed(seed: number): void {
    this.bert.setDropoutSeed(seed);
  }

  /** logits [B, L]; loss = mean cross-entropy when batch.labels [B] is given (multi-label: BCE on batch.targets [B, L]). */
  forward(
    batch: Batch,
    opts: ForwardOptions,
  ): { logits: Float32Array; loss?: number; attentions?: Float32Array[] } {
    const B = batch.batchSize,
      H = this.config.hidden_size,
      L = this.numLabels;
    if (batch.labels && batch.labels.length !== B)
      throw new UserError(`batch.labels has ${batch.labels.length} entries, expected one per example (${B})`);
    if (this.bce && batch.labels)
      throw new UserError("a multi-label classifier trains on batch.targets [B, L], not class ids");
    if (!this.bce && batch.targets)
      throw new UserError(
        "batch.targets are for a multi-label classifier (problem_type multi_label_classification)",
      );
    const out = this.bert.forward(batch, opts);
    const pooled = out.pooled!; // [B, H]
    const ctx = { B, T: batch.seqLen, train: opts.train, seeds: this.bert.dropoutSeeds() };
    const x = ctx.train && this.dropout.p > 0 ? this.bufs.get("dropped", B * H) : pooled;
    const dropped = this.dropout.forward(pooled, x, B * H, ctx);
    this.logits = this.classifier.forward(dropped, B); // [B, L]
    this.B = B;
    const loss = this.bce
      ? this.bce.forward(this.logits, batch.targets, B, L)
      : this.loss.forward(this.logits, batch.labels, B, L)?.loss;
    return { logits: this.logits, loss, attentions: out.attentions };
  }

  /**
   * Inference-only logits [B, L]: forward's with train false, to fp32 rounding, by the fast path of
   * packed-inference.ts (padding skipped, the last layer for [CLS] alone); a view valid until the next call.
   */
  predictLogits(batch: Batch): Float32Array {
    checkBatch(batch, this.config);
    this.fast ??= new PackedInference(this.bert, this.classifier);
    return this.fast.logits(batch) ?? this.forward(batch, { train: false }).logits;
  }

  /** Accumulates d(mean loss)/d(param) into every Param.grad (after a forward with labels). */
  backward(): void {
    const loss = this.bce ?? this.loss;
    loss.assertLabels();
    this.bert.assertTrained();
    const B = this.B,
      H = this.config.hidden_size,
      L = this.numLabels;
    const dLogits = this.bert.scratch.get("dLogits", B * L);
    loss.backward(this.logits, dLogits);
    const dDropped = this.bert.scratch.get("dClassifierIn", B * H);
    this.classifier.backward(dLogits, dDropped);
    const dPooled = this.dropout.backward(dDropped, dDropped, B * H);
    this.bert.backward({ pooled: dPooled });
  }

  zeroGrad(): void {
    this.bert.zeroGrad();
    this.classifier.weight.grad.fill(0);
    this.classifier.bias.grad.fill(0);
  }
}

// Rows the masked-only head decodes are rounded up to a multiple of this, so its buffers keep their size.
const ROW_BUCKET = 64;

/**
 * BertModel (no pooler) + the MLM head tied to the word embeddings; loss over labels != -100. The head
 * runs on every token (`forward`) or on the labelled tokens alone (`forwardMasked`); `backward` follows
 * whichever ran last.
 */
export class BertForMaskedLM {
  readonly config: BertConfig;
  readonly bert: BertModel;
  readonly head: MlmHead;
  private readonly loss = new CrossEntropy("MLM labels are token ids or -100");
  private readonly bufs = new Buffers();
  private logits: Float32Array = new Float32Array(0);
  private N = 0;
  /** The labelled token rows the last forwardMasked decoded, in order; undefined after a full forward. */
  private rows: Int32Array | undefined;
  private compact = new Int32Array(0); // [m]: their labels, then IGNORE_INDEX
  private m = 0;

  /** `init: false` skips the random initialisation (all zeros) when weights will be loaded next. */
  constructor(config: BertConfig, opts: { seed?: number; init?: boolean } = {}) {
    this.config = config;
    this.bert = new BertModel(config, { prefix: "bert", pooling: false, init: false });
    this.head = new MlmHead("cls.predictions", config, this.bert.embeddings.word, this.bert.scratch);
    if (opts.init !== false) initBertParams(this.params(), config, new Rng(opts.seed ?? 0));
  }

  /** bert.* then cls.predictions.transform.dense.*, cls.predictions.transform.LayerNorm.*, cls.predictions.bias. */
  /** Encoder products in fp32, bf16 or int8 (BertModel.setDtype). */
  setDtype(dtype: Dtype): void {
    this.bert.setDtype(dtype);
  }

  params(): Param[] {
    return [...this.bert.params(), ...this.head.params()];
  }

  setDropoutSeed(seed: number): void {
    this.bert.setDropoutSeed(seed);
  }

  /** logits [B*T, V]; loss = mean cross-entropy over batch.labels [B*T] that are not -100. */
  forward(
    batch: Batch,
    opts: ForwardOptions,
  ): { logits: Float32Array; loss?: number; attentions?: Float32Array[] } {
    const N = batch.batchSize * batch.seqLen,
      V = this.config.vocab_size;
    if (batch.labels && batch.labels.length !== N)
      throw new UserError(`batch.labels has ${batch.labels.length} entries, expected one per token (${N})`);
    const out = this.bert.forward(batch, opts);
    this.logits = this.head.forward(out.lastHidden, N);
    this.N = N;
    this.rows = undefined;
    const loss = this.loss.forward(this.logits, batch.labels, N, V)?.loss;
    return { logits: this.logits, loss, attentions: out.attentions };
  }

  /**
   * The encoder on the whole batch, the head only on the tokens whose label [B*T] is not -100: the loss
   * ignores every other row, so it equals forward's at a fraction of the head's cost. logits [m, V], row r
   * for token rows[r] (m is the labelled count rounded up to 64; rows past it are zero and ignored);
   * loss = their mean cross-entropy over `count` tokens. Labels are required.
   */
  forwardMasked(
    batch: Batch,
    opts: ForwardOptions,
  ): { logits: Float32Array; rows: Int32Array; loss: number; count: number } {
    const labels = batch.labels;
    const N = batch.batchSize * batch.seqLen;
    if (!labels || labels.length !== N)
      throw new UserError(`an MLM batch needs one label per token (${N}), got ${labels?.length ?? 0}`);
    const { hidden_size: H, vocab_size: V } = this.config;
    let chosen = 0;
    for (let i = 0; i < N; i++) if (labels[i] !== IGNORE_INDEX) chosen++;
    const m = Math.max(ROW_BUCKET, Math.ceil(chosen / ROW_BUCKET) * ROW_BUCKET);
    const rows = this.rows?.length === chosen ? this.rows : new Int32Array(chosen);
    if (this.compact.length !== m) this.compact = new Int32Array(m);
    this.compact.fill(IGNORE_INDEX);
    for (let i = 0, r = 0; i < N; i++)
      if (labels[i] !== IGNORE_INDEX) {
        rows[r] = i;
        this.compact[r++] = labels[i]!;
      }
    const { lastHidden } = this.bert.forward(batch, opts); // [N, H]
    const picked = this.bufs.get("picked", m * H); // [m, H]: the labelled rows, then zeros
    picked.fill(0, chosen * H);
    for (let r = 0; r < chosen; r++) {
      const i = rows[r]!;
      picked.set(lastHidden.subarray(i * H, (i + 1) * H), r * H);
    }
    this.logits = this.head.forward(picked, m);
    this.N = N;
    this.m = m;
    this.rows = rows;
    const { loss, count } = this.loss.forward(this.logits, this.compact, m, V)!;
    return { logits: this.logits, rows, loss, count };
  }

  /** Accumulates gradients; the logits buffer becomes d(loss)/d(logits) (no second [N, V] buffer). */
  backward(): void {
    this.loss.assertLabels();
    this.bert.assertTrained();
    const N = this.N,
      H = this.config.hidden_size;
    this.loss.backward(this.logits, this.logits);
    const rows = this.rows;
    if (!rows) {
      const dHidden = this.bert.scratch.get("dTop", N * H);
      this.head.backward(this.logits, dHidden);
      this.bert.markWordGradDense();
      this.bert.backward({ lastHidden: dHidden });
      return;
    }
    // The head's input gradient [m, H], scattered back to the labelled rows of dHidden [N, H].
    const dPicked = this.bufs.get("dPicked", this.m * H);
    this.head.backward(this.logits, dPicked);
    const dHidden = this.bufs.get("dHidden", N * H);
    dHidden.fill(0);
    for (let r = 0; r < rows.length; r++) dHidden.set(dPicked.subarray(r * H, (r + 1) * H), rows[r]! * H);
    this.bert.markWordGradDense(); // the tied decoder's gradient reaches every row
    this.bert.backward({ lastHidden: dHidden });
  }

  zeroGrad(): void {
    this.bert.zeroGrad();
    for (const p of this.head.params()) p.grad.fill(0);
  }
}
