/**
 * Masked-language-model batches as Hugging Face's DataCollatorForLanguageModeling makes them: of the
 * tokens that are neither special nor padding, each is chosen with probability p (0.15); a chosen token
 * becomes [MASK] 80% of the time, a random token 10%, and stays itself 10%; labels hold the original id
 * at chosen positions and -100 elsewhere. Also the sequences themselves: one text each, or several short
 * texts packed into one so that little compute goes to padding.
 */
import type { Batch } from "../model/bert.js";
import { IGNORE_INDEX } from "../model/loss.js";
import type { Rng } from "../util/rng.js";

/** The label value cross-entropy ignores (PyTorch's ignore_index). */
export const IGNORE = IGNORE_INDEX;

/** The token ids masking needs. */
export interface MlmTokens {
  vocabSize: number;
  maskId: number;
  padId: number;
  clsId: number;
  sepId: number;
  /** Every id never chosen for masking (specials: [CLS], [SEP], [PAD], [MASK], [UNK] as HF's special-tokens mask). */
  specialIds: number[];
}

/** Masks padded batches; the random draws come from the caller's seeded Rng, so masks are reproducible. */
export class MlmCollator {
  private readonly special: Uint8Array;

  constructor(
    readonly tokens: MlmTokens,
    readonly probability = 0.15,
  ) {
    if (!(probability > 0 && probability < 1))
      throw new RangeError(`the masking probability must be between 0 and 1, not ${probability}`);
    this.special = new Uint8Array(tokens.vocabSize);
    for (const id of [...tokens.specialIds, tokens.padId])
      if (id >= 0 && id < tokens.vocabSize) this.special[id] = 1;
  }

  /**
   * Masks a padded batch in place (its inputIds) and sets its labels [B*T]. Padding is recognised by the
   * attention mask as well as by id. When the draw chooses nothing, one eligible token is chosen at
   * random: a batch with nothing to predict has no loss (Hugging Face lets it through as NaN).
   */
  mask(batch: Batch, rng: Rng): Batch {
    const ids = batch.inputIds;
    const attention = batch.attentionMask;
    const labels = new Int32Array(ids.length).fill(IGNORE);
    const eligible = (i: number) => !this.special[ids[i]!] && attention[i] !== 0;
    let chosen = 0;
    for (let i = 0; i < ids.length; i++) {
      if (!eligible(i) || rng.next() >= this.probability) continue;
      this.choose(ids, labels, i, rng);
      chosen++;
    }
    if (chosen === 0) {
      const candidates: number[] = [];
      for (let i = 0; i < ids.length; i++) if (eligible(i)) candidates.push(i);
      if (candidates.length) this.choose(ids, labels, candidates[rng.int(candidates.length)]!, rng);
    }
    batch.labels = labels;
    return batch;
  }

  /** Position i becomes a prediction target: [MASK] 80% of the time, a random id 10%, itself 10%. */
  private choose(ids: Int32Array, labels: Int32Array, i: number, rng: Rng): void {
    labels[i] = ids[i]!;
    const r = rng.next();
    if (r < 0.8) ids[i] = this.tokens.maskId;
    else if (r < 0.9) ids[i] = rng.int(this.tokens.vocabSize); // as HF: any id of the vocabulary
  }
}

/** How texts become sequences: one text a sequence, or short texts packed together up to maxLength. */
export type Packing = "none" | "pack";

/**
 * Sequences from token-id lists (no specials): `[CLS] text [SEP]` each, truncated to maxLength; with
 * "pack", consecutive texts share a sequence as `[CLS] a [SEP] b [SEP] …` while they fit (as
 * run_mlm's group_texts joins texts, but never splitting one across sequences).
 */
export function buildSequences(
  texts: readonly Int32Array[],
  tokens: Pick<MlmTokens, "clsId" | "sepId">,
  maxLength: number,
  packing: Packing,
): Int32Array[] {
  if (maxLength < 3) throw new RangeError(`maxLength ${maxLength} leaves no room for a token`);
  const room = maxLength - 2;
  const out: Int32Array[] = [];
  let cur: number[] = [];
  const flush = () => {
    if (cur.length > 1) out.push(Int32Array.from(cur));
    cur = [tokens.clsId];
  };
  flush();
  for (const ids of texts) {
    if (ids.length === 0) continue;
    const n = Math.min(ids.length, room);
    if (packing === "none" || cur.length + n + 1 > maxLength) flush();
    for (let i = 0; i < n; i++) cur.push(ids[i]!);
    cur.push(tokens.sepId);
  }
  flush();
  return out;
}

/** The share of B×T token slots that are padding when `order` is cut into batches of `batchSize`. */
export function paddingShare(
  lengths: ArrayLike<number>,
  order: readonly number[],
  batchSize: number,
): number {
  let slots = 0;
  let real = 0;
  for (let i = 0; i < order.length; i += batchSize) {
    const b = order.slice(i, i + batchSize);
    let T = 0;
    for (const k of b) {
      T = Math.max(T, lengths[k]!);
      real += lengths[k]!;
    }
    slots += T * b.length;
  }
  return slots ? 1 - real / slots : 0;
}
