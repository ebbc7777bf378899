/**
 * The pre-training data: a corpus's texts as tokenised sequences (packed or one text each), a held-out
 * share, and the training sequences as the trainer's data, each batch masked from its own position.
 */
import { BERT_SPECIALS, type BertTokenizer } from "../hf/tokenizer.js";
import { TRAIN_SPECIALS } from "../hf/wordpiece-trainer.js";
import type { Batch } from "../model/bert.js";
import { UserError } from "../util/errors.js";
import { progress } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { collate, epochSeed, lengthGroupedIndices, shuffledIndices } from "./batching.js";
import {
  buildSequences,
  type MlmCollator,
  type MlmTokens,
  type Packing,
  paddingShare,
} from "./mlm-collator.js";
import type { TrainData } from "./trainer.js";

/** Sequences held out at most; a corpus of fewer than HELD_OUT_FROM sequences holds none out. */
const HELD_OUT_MAX = 512;
const HELD_OUT_FROM = 800;

/** The ids masking needs, from a tokenizer with BERT's special tokens (as gotune's vocabulary recipe makes). */
export function mlmTokens(tok: BertTokenizer): MlmTokens {
  const id = (t: string) => tok.tokenToId(t)!;
  return {
    vocabSize: tok.vocabSize,
    maskId: id(BERT_SPECIALS.mask),
    padId: tok.padId,
    clsId: id(BERT_SPECIALS.cls),
    sepId: id(BERT_SPECIALS.sep),
    specialIds: TRAIN_SPECIALS.map(id),
  };
}

/** How texts become sequences. */
export interface SequenceOptions {
  /** Seeds the texts' order, so packing puts unrelated texts side by side. */
  seed: number;
  /** Tokens a sequence, [CLS] and [SEP] included. */
  maxLength: number;
  packing: Packing;
}

/**
 * The texts in a seeded order, tokenised and made into sequences; the first 1% (at most 512, none from
 * a corpus under 800 sequences) are held out for evaluation.
 */
export function corpusSequences(
  texts: readonly string[],
  tok: BertTokenizer,
  tokens: MlmTokens,
  o: SequenceOptions,
): { train: Int32Array[]; heldOut: Int32Array[] } {
  const order = new Rng(o.seed).shuffle([...texts]);
  const bar = progress("pretrain: tokenising", order.length);
  const ids = order.map((t) => {
    bar.tick();
    return Int32Array.from(tok.encodeIds(t));
  });
  bar.done();
  const all = buildSequences(ids, tokens, o.maxLength, o.packing);
  const nHeld = all.length >= HELD_OUT_FROM ? Math.min(HELD_OUT_MAX, Math.floor(all.length / 100)) : 0;
  return { train: all.slice(nHeld), heldOut: all.slice(0, nHeld) };
}

/** Held-out sequences in batches masked once from `seed`, so every evaluation sees the same masks. */
export function heldOutBatches(
  seqs: readonly Int32Array[],
  collator: MlmCollator,
  batchSize: number,
  seed: number,
): Batch[] {
  const batches: Batch[] = [];
  const rng = new Rng(seed);
  for (let i = 0; i < seqs.length; i += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, seqs.length - i) }, (_, k) => i + k);
    batches.push(collator.mask(collate(seqs, idx, collator.tokens.padId), rng));
  }
  return batches;
}

/** Options of MlmData. */
export interface MlmDataOptions {
  batchSize: number;
  seed: number;
  /** Length-grouped order (LengthGroupedSampler) instead of a plain shuffle. */
  groupByLength: boolean;
}

/**
 * Sequences as the trainer's data: each pass over the corpus its own seeded order, each batch padded to
 * its longest sequence and masked from a seed of its global position, so any batch can be rebuilt alone
 * (a resumed run draws the same masks). `stepsPerEpoch` may differ from a pass's batches (a time budget
 * plans fewer steps, or several passes as one); batch k of the run is batch k mod passSteps of pass k div passSteps.
 */
export class MlmData implements TrainData<Batch> {
  readonly stepsPerPass: number;
  readonly stepsPerEpoch: number;
  private readonly lengths: Int32Array;
  private cached: { pass: number; order: number[] } | undefined;

  constructor(
    readonly seqs: readonly Int32Array[],
    readonly collator: MlmCollator,
    readonly opts: MlmDataOptions,
    stepsPerEpoch?: number,
  ) {
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0))
      throw new UserError(`batch size ${opts.batchSize} is not a whole number above 0`);
    this.lengths = Int32Array.from(seqs, (s) => s.length);
    this.stepsPerPass = Math.ceil(seqs.length / opts.batchSize);
    this.stepsPerEpoch = stepsPerEpoch ?? this.stepsPerPass;
  }

  /** The order of the sequences in pass `pass` (0-based). */
  order(pass: number): number[] {
    if (this.cached?.pass !== pass) {
      const rng = new Rng(epochSeed(this.opts.seed, pass));
      const order = this.opts.groupByLength
        ? lengthGroupedIndices(this.lengths, this.opts.batchSize, rng)
        : shuffledIndices(this.seqs.length, rng);
      this.cached = { pass, order };
    }
    return this.cached.order;
  }

  /** Batch `k` of the run (0-based over all epochs), masked. */
  batchAt(k: number): Batch {
    const pass = Math.floor(k / this.stepsPerPass);
    const j = k % this.stepsPerPass;
    const B = this.opts.batchSize;
    const idx = this.order(pass).slice(j * B, (j + 1) * B);
    const batch = collate(this.seqs, idx, this.collator.tokens.padId);
    return this.collator.mask(batch, new Rng(epochSeed(this.opts.seed ^ 0x2545f491, k)));
  }

  *batches(epoch: number, from: number): Iterable<Batch> {
    for (let i = from; i < this.stepsPerEpoch; i++) yield this.batchAt(epoch * this.stepsPerEpoch + i);
  }

  size(batch: Batch): number {
    return batch.batchSize;
  }

  /** The share of token slots that are padding over one pass. */
  paddingShare(pass = 0): number {
    return paddingShare(this.lengths, this.order(pass), this.opts.batchSize);
  }

  /** The mean tokens a sequence. */
  meanTokens(): number {
    return this.lengths.reduce((s, n) => s + n, 0) / Math.max(1, this.lengths.length);
  }
}
