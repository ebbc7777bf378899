/** Token ids and sequences for the MLM tests: a vocabulary of `vocabSize` ids whose first five are the specials. */
import type { MlmTokens } from "../../src/train/mlm-collator.js";
import { Rng } from "../../src/util/rng.js";

/** [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4; ordinary tokens from 5. */
export function testTokens(vocabSize: number): MlmTokens {
  return { vocabSize, maskId: 4, padId: 0, clsId: 2, sepId: 3, specialIds: [0, 1, 2, 3, 4] };
}

/** `n` sequences `[CLS] … [SEP]` of random lengths 3..40 with ordinary ids (and a few [UNK]). */
export function randomSequences(n: number, seed: number, tokens: MlmTokens): Int32Array[] {
  const rng = new Rng(seed);
  const V = tokens.vocabSize;
  return Array.from({ length: n }, () => {
    const len = 3 + rng.int(38);
    return Int32Array.from({ length: len }, (_, i) =>
      i === 0 ? tokens.clsId : i === len - 1 ? tokens.sepId : rng.int(20) === 0 ? 1 : 5 + rng.int(V - 5),
    );
  });
}
