/**
 * Batches for training as Hugging Face's Trainer makes them: texts tokenised once (truncated, with
 * [CLS] and [SEP]), a seeded shuffle per epoch or length-grouped order (LengthGroupedSampler), and
 * dynamic padding to the longest text of each batch (DataCollatorWithPadding).
 */
import type { BertTokenizer } from "../hf/tokenizer.js";
import type { Batch } from "../model/bert.js";
import { Rng } from "../util/rng.js";
import type { TrainData } from "./trainer.js";

/** Token ids of each text with [CLS] and [SEP], truncated to `maxLength` tokens. */
export function encodeTexts(tok: BertTokenizer, texts: readonly string[], maxLength: number): Int32Array[] {
  return texts.map((t) => Int32Array.from(tok.encode(t, undefined, { maxLength }).input_ids));
}

/** Multi-hot targets of N examples, row-major [N, width] (a multi-label head's batch.targets). */
export interface MultiHot {
  targets: Float32Array;
  width: number;
}

/**
 * The batch of examples `idx`, padded to its longest sequence: ids [B, T], token types 0, attention
 * mask 1 on tokens and 0 on padding; `labels` [B] when given (class ids), or targets [B, width] (multi-hot).
 */
export function collate(
  seqs: readonly Int32Array[],
  idx: ArrayLike<number>,
  padId: number,
  labels?: ArrayLike<number> | MultiHot,
): Batch {
  const B = idx.length;
  let T = 1;
  for (let b = 0; b < B; b++) T = Math.max(T, seqs[idx[b]!]!.length);
  const inputIds = new Int32Array(B * T).fill(padId);
  const attentionMask = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const s = seqs[idx[b]!]!;
    inputIds.set(s, b * T);
    attentionMask.fill(1, b * T, b * T + s.length);
  }
  const batch: Batch = {
    inputIds,
    tokenTypeIds: new Int32Array(B * T),
    attentionMask,
    batchSize: B,
    seqLen: T,
  };
  if (labels && "targets" in labels) {
    const { targets, width } = labels;
    batch.targets = new Float32Array(B * width);
    for (let b = 0; b < B; b++)
      batch.targets.set(targets.subarray(idx[b]! * width, (idx[b]! + 1) * width), b * width);
  } else if (labels) batch.labels = Int32Array.from({ length: B }, (_, b) => labels[idx[b]!]!);
  return batch;
}

/** A seed for epoch `epoch` of a run seeded `seed` (each epoch its own shuffle, reproducible alone). */
export function epochSeed(seed: number, epoch: number): number {
  return new Rng((seed + Math.imul(epoch + 1, 0x85ebca6b)) >>> 0).nextUint32();
}

/** A seeded random permutation of 0..n-1 (RandomSampler). */
export function shuffledIndices(n: number, rng: Rng): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}

/**
 * transformers' get_length_grouped_indices: a random permutation cut into megabatches of
 * min(n / (4 * batchSize), 50) batches, each sorted by length (longest first), and the longest example
 * of all moved to the very first place, so an out-of-memory batch shows at once.
 */
export function lengthGroupedIndices(lengths: ArrayLike<number>, batchSize: number, rng: Rng): number[] {
  const n = lengths.length;
  const perm = shuffledIndices(n, rng);
  const mult = Math.max(1, Math.min(Math.floor(n / (batchSize * 4)), 50));
  const size = mult * batchSize;
  const megabatches: number[][] = [];
  for (let i = 0; i < n; i += size)
    // Array.prototype.sort is stable, as Python's sorted is: equal lengths keep their shuffled order.
    megabatches.push(perm.slice(i, i + size).sort((a, b) => lengths[b]! - lengths[a]!));
  if (megabatches.length > 1) {
    let best = 0;
    for (let m = 1; m < megabatches.length; m++)
      if (lengths[megabatches[m]![0]!]! > lengths[megabatches[best]![0]!]!) best = m;
    const first = megabatches[0]!;
    const top = megabatches[best]!;
    [first[0], top[0]] = [top[0]!, first[0]!];
  }
  return megabatches.flat();
}

/** Options of ClassificationData. */
export interface BatchingOptions {
  batchSize: number;
  padId: number;
  seed: number;
  /** Length-grouped order (--group-by-length) instead of a plain shuffle. */
  groupByLength?: boolean;
}

/**
 * Labelled token sequences as the trainer's data: one seeded order per epoch, padded batches. Labels are
 * class ids [N] or multi-hot targets [N, width].
 */
export class ClassificationData implements TrainData<Batch> {
  readonly stepsPerEpoch: number;
  private readonly lengths: Int32Array;

  constructor(
    readonly seqs: readonly Int32Array[],
    readonly labels: ArrayLike<number> | MultiHot,
    readonly opts: BatchingOptions,
  ) {
    const n = "targets" in labels ? labels.targets.length / labels.width : labels.length;
    if (seqs.length !== n) throw new Error(`${seqs.length} sequences but ${n} labels`);
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0))
      throw new Error(`batch size ${opts.batchSize} is not a whole number above 0`);
    this.stepsPerEpoch = Math.ceil(seqs.length / opts.batchSize);
    this.lengths = Int32Array.from(seqs, (s) => s.length);
  }

  /** The order of the examples in epoch `epoch` (the same for the same seed and epoch). */
  order(epoch: number): number[] {
    const rng = new Rng(epochSeed(this.opts.seed, epoch));
    return this.opts.groupByLength
      ? lengthGroupedIndices(this.lengths, this.opts.batchSize, rng)
      : shuffledIndices(this.seqs.length, rng);
  }

  *batches(epoch: number, from = 0): Iterable<Batch> {
    const order = this.order(epoch);
    const B = this.opts.batchSize;
    for (let s = from; s < this.stepsPerEpoch; s++)
      yield collate(this.seqs, order.slice(s * B, (s + 1) * B), this.opts.padId, this.labels);
  }

  size(batch: Batch): number {
    return batch.batchSize;
  }
}
