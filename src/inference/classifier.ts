/**
 * A fine-tuned BERT as a text classifier: a model folder (or hub id) in, label probabilities out.
 * Shared by training's per-epoch evaluation, `gotune eval` and `gotune predict`.
 */
import { resolveModel } from "../hf/hub.js";
import { buildFromFolder, readModelConfig, saveModelFolder } from "../hf/model-folder.js";
import { BertTokenizer } from "../hf/tokenizer.js";
import { writeTokenizerFiles } from "../hf/tokenizer-files.js";
import { type Batch, BertForSequenceClassification } from "../model/bert.js";
import { isMultiLabel } from "../model/config.js";
import { sigmoid } from "../model/loss.js";
import { type Dtype, usableDtype } from "../native/index.js";
import { shown, UserError } from "../util/errors.js";
import { cutSets } from "./multilabel.js";

/**
 * Texts per forward pass when the caller does not say, and tokens per text for a model that does not say
 * (one trained here says: ownMaxLength).
 */
export const PREDICT_DEFAULTS = { batchSize: 32, maxLength: 100 } as const;

/**
 * The tokens a text a model reads when the caller does not say: the model_max_length its tokenizer was saved
 * with (what training truncated to), at most max_position_embeddings; PREDICT_DEFAULTS.maxLength without one.
 */
export function ownMaxLength(modelMaxLength: number | undefined, maxPositions: number): number {
  // A foreign tokenizer_config.json may hold anything (transformers writes 1e30 for "no limit").
  const own =
    modelMaxLength !== undefined && Number.isSafeInteger(modelMaxLength) && modelMaxLength >= 3
      ? modelMaxLength
      : PREDICT_DEFAULTS.maxLength;
  return Math.min(own, maxPositions);
}

/** Options of predictProba. */
export interface PredictOptions {
  /** Texts per forward pass (default 32). */
  batchSize?: number;
  /** Tokens per text, [CLS] and [SEP] included; longer texts are truncated (default: the model's own). */
  maxLength?: number;
  /** Called after each batch with the number of texts done so far and the total. */
  onBatch?(done: number, total: number): void;
}

/** Probabilities and logits, row-major [N, L], rows in the order of the input texts. */
export interface Prediction {
  probs: Float32Array;
  logits: Float32Array;
}

/** The label names of a config's id2label, in id order; a UserError unless the ids are 0..L-1. */
export function labelsOf(id2label: Record<string, string> | undefined, file: string): string[] {
  const hint =
    'a classifier\'s config.json needs "id2label": {"0": "name", ...}; fine-tune it with gotune train';
  if (!id2label || Object.keys(id2label).length === 0)
    throw new UserError("config.json has no labels (id2label)", { file, hint });
  const n = Object.keys(id2label).length;
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = id2label[String(i)];
    if (name === undefined) throw new UserError(`id2label has no label for id ${i}`, { file, hint });
    labels.push(name);
  }
  return labels;
}

/** A multi-label head's default decision threshold (a label is on when its sigmoid reaches it). */
export const DEFAULT_THRESHOLD = 0.5;

/** config.json's field holding a multi-label head's per-label thresholds (label name to probability). */
export const THRESHOLDS_KEY = "label_thresholds";

/** A config's per-label thresholds in label order (DEFAULT_THRESHOLD where absent); a UserError unless each is in (0, 1). */
export function thresholdsOf(raw: unknown, labels: string[], file: string): Float32Array {
  const out = new Float32Array(labels.length).fill(DEFAULT_THRESHOLD);
  if (raw === undefined || raw === null) return out;
  const hint = `write it as {"${labels[0]}": 0.5, ...}, or leave it out`;
  if (typeof raw !== "object" || Array.isArray(raw))
    throw new UserError(`${THRESHOLDS_KEY} must map label names to probabilities`, { file, hint });
  for (const [name, v] of Object.entries(raw)) {
    const i = labels.indexOf(name);
    if (i < 0)
      throw new UserError(`${THRESHOLDS_KEY} names ${shown(name)}, which is not a label`, { file, hint });
    if (typeof v !== "number" || !(v > 0 && v < 1))
      throw new UserError(
        `${THRESHOLDS_KEY}'s ${shown(name)} must be a probability above 0 and below 1, not ${shown(v)}`,
        {
          file,
          hint,
        },
      );
    out[i] = v;
  }
  return out;
}

/**
 * A sequence classifier with its tokenizer and label names. A multi-label one (problem_type
 * "multi_label_classification") gives a sigmoid a label and a set of labels a text, possibly empty.
 */
export class Classifier {
  /** The folder it was loaded from, when it was. */
  dir: string | undefined;
  /** A multi-label head's per-label decision thresholds, in label order. */
  thresholds: Float32Array;

  /** Wraps a model in memory (e.g. during training); `labels[i]` names output i. */
  constructor(
    readonly model: BertForSequenceClassification,
    readonly tokenizer: BertTokenizer,
    readonly labels: string[],
  ) {
    if (labels.length !== model.numLabels)
      throw new Error(`${labels.length} label names for a model with ${model.numLabels} outputs`);
    checkVocab(tokenizer, model.config.vocab_size);
    this.thresholds = new Float32Array(labels.length).fill(DEFAULT_THRESHOLD);
  }

  /** True when each label is a yes/no of its own (sigmoid), so a text may have none or several. */
  get multiLabel(): boolean {
    return isMultiLabel(this.model.config);
  }

  /**
   * Loads a fine-tuned classifier from a Hugging Face folder or hub id: config.json (id2label gives the
   * labels), the weights and the tokenizer files. A folder that is not such a classifier is a UserError.
   * `dtype` bf16 runs the encoder's products in bf16 where the CPU can (else fp32, said through `note`).
   */
  static async load(
    dirOrId: string,
    opts: { dtype?: Dtype; note?: (line: string) => void } = {},
  ): Promise<Classifier> {
    const dir = await resolveModel(dirOrId, "model");
    const { config, raw } = await readModelConfig(dir);
    const labels = labelsOf(config.id2label, `${dir}/config.json`);
    const thresholds = thresholdsOf(raw[THRESHOLDS_KEY], labels, `${dir}/config.json`);
    const tokenizer = await BertTokenizer.fromFolder(dir);
    checkVocab(tokenizer, config.vocab_size, dir);
    const { model, report } = await buildFromFolder(
      dir,
      config,
      () => new BertForSequenceClassification(config, { numLabels: labels.length }),
    );
    if (report.initialisedFresh.some((n) => n.startsWith("classifier.")))
      throw new UserError("the model has no classification head (classifier.weight)", {
        file: dir,
        hint: "this is a base or pre-trained model; fine-tune it first with gotune train",
      });
    const c = new Classifier(model, tokenizer, labels);
    c.dir = dir;
    c.thresholds = thresholds;
    if (opts.dtype)
      model.setDtype(usableDtype(opts.dtype, opts.note ?? ((l) => process.stderr.write(`${l}\n`))));
    return c;
  }

  /** The index of a label name, or undefined. */
  labelId(name: string): number | undefined {
    const i = this.labels.indexOf(name);
    return i < 0 ? undefined : i;
  }

  /**
   * Probabilities (softmax; a multi-label head's: a sigmoid a label) and logits for `texts`, in eval mode (no dropout). Texts are run in order of
   * length so each batch pads only to its own longest; rows come back in input order.
   */
  predictProba(texts: string[], opts: PredictOptions = {}): Prediction {
    const batchSize = opts.batchSize ?? PREDICT_DEFAULTS.batchSize;
    const maxLength = opts.maxLength ?? this.maxLength;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new UserError(`batch size ${batchSize} is not a whole number of at least 1`);
    const maxPos = this.model.config.max_position_embeddings;
    if (!Number.isInteger(maxLength) || maxLength < 3 || maxLength > maxPos)
      throw new UserError(`max length ${maxLength} is outside 3..${maxPos}`, {
        hint: `this model reads at most ${maxPos} tokens (max_position_embeddings)`,
      });
    const N = texts.length;
    const L = this.labels.length;
    const probs = new Float32Array(N * L);
    const logits = new Float32Array(N * L);
    const multi = this.multiLabel;
    const enc = texts.map((t) => this.tokenizer.encode(t, undefined, { maxLength }));
    // Longest first: the largest buffers are allocated once, at the start.
    const order = Array.from(enc.keys()).sort(
      (a, b) => enc[b]!.input_ids.length - enc[a]!.input_ids.length || a - b,
    );
    for (let start = 0; start < N; start += batchSize) {
      const rows = order.slice(start, start + batchSize);
      const B = rows.length;
      const T = enc[rows[0]!]!.input_ids.length;
      const batch: Batch = {
        inputIds: new Int32Array(B * T).fill(this.tokenizer.padId),
        tokenTypeIds: new Int32Array(B * T),
        attentionMask: new Int32Array(B * T),
        batchSize: B,
        seqLen: T,
      };
      rows.forEach((r, b) => {
        const e = enc[r]!;
        batch.inputIds.set(e.input_ids, b * T);
        batch.tokenTypeIds.set(e.token_type_ids, b * T);
        batch.attentionMask.set(e.attention_mask, b * T);
      });
      const out = this.model.predictLogits(batch);
      rows.forEach((r, b) => {
        const row = out.subarray(b * L, (b + 1) * L);
        logits.set(row, r * L);
        const p = probs.subarray(r * L, (r + 1) * L);
        if (multi) for (let j = 0; j < L; j++) p[j] = sigmoid(row[j]!);
        else softmaxInto(row, p);
      });
      opts.onBatch?.(Math.min(start + B, N), N);
    }
    return { probs, logits };
  }

  /** Tokens a text when the caller does not say: the model's own length (ownMaxLength). */
  get maxLength(): number {
    return ownMaxLength(this.tokenizer.spec.modelMaxLength, this.model.config.max_position_embeddings);
  }

  /** The index of the most probable label of each row of `probs` [N, L]. */
  argmax(probs: Float32Array): Int32Array {
    return argmaxRows(probs, this.labels.length);
  }

  /**
   * The labels each row of `probs` [N, L] speaks of: a multi-label head's labels at or above their
   * thresholds (possibly none), a single-label head's most probable one.
   */
  labelSets(probs: Float32Array): number[][] {
    if (!this.multiLabel) return Array.from(this.argmax(probs), (i) => [i]);
    return cutSets(probs, this.thresholds);
  }

  /**
   * Writes a Hugging Face folder that gotune and Python's transformers both load: config.json with
   * id2label/label2id (a multi-label head: problem_type and label_thresholds too), model.safetensors, and
   * the tokenizer files (model_max_length: the tokenizer's, which training sets to its max_length).
   */
  async save(dir: string): Promise<void> {
    const id2label = Object.fromEntries(this.labels.map((l, i) => [String(i), l]));
    const label2id = Object.fromEntries(this.labels.map((l, i) => [l, i]));
    await writeTokenizerFiles(dir, this.tokenizer);
    const extra: Record<string, unknown> = { id2label, label2id };
    if (this.multiLabel)
      extra[THRESHOLDS_KEY] = Object.fromEntries(
        this.labels.map((l, i) => [l, Number(this.thresholds[i]!.toFixed(4))]),
      );
    await saveModelFolder(dir, this.model, extra);
  }
}

/** The index of the largest entry of each row of `x` [N, L]. */
export function argmaxRows(x: Float32Array, L: number): Int32Array {
  const out = new Int32Array(x.length / L);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let j = 1; j < L; j++) if (x[i * L + j]! > x[i * L + best]!) best = j;
    out[i] = best;
  }
  return out;
}

/** A tokenizer whose ids reach past the embedding table would index rows the model lacks. */
function checkVocab(tokenizer: BertTokenizer, vocabSize: number, dir?: string): void {
  if (tokenizer.vocabSize > vocabSize)
    throw new UserError(
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's embeddings only ${vocabSize} rows (vocab_size)`,
      { file: dir, hint: "the tokenizer files belong to another model; use the model's own tokenizer" },
    );
}

/** Numerically stable softmax of one row, computed in double precision. */
function softmaxInto(x: Float32Array, out: Float32Array): void {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of x) if (v > max) max = v;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i]! - max);
  for (let i = 0; i < x.length; i++) out[i] = Math.exp(x[i]! - max) / sum;
}
