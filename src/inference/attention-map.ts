/**
 * Where a classifier looks: the attention probabilities of every layer and head for one text, from the
 * model's own forward pass (what PyTorch's `output_attentions=True` gives), with the tokens they join.
 */
import type { Batch } from "../model/bert.js";
import { UserError } from "../util/errors.js";
import type { Classifier } from "./classifier.js";

/** One text's attention: `attention[layer][head][from][to]`, each `from` row summing to 1. */
export interface AttentionMap {
  text: string;
  /** The word pieces, [CLS] and [SEP] included, as the tokenizer writes them. */
  tokens: string[];
  layers: number;
  heads: number;
  attention: number[][][][];
  /** The predicted label and each label's probability, from the same forward pass. */
  label: string;
  probabilities: Record<string, number>;
}

/** Options of attentionOf. */
export interface AttentionOptions {
  /** Tokens, [CLS] and [SEP] included; longer texts are truncated (default: the model's own). */
  maxLength?: number;
  /** Decimals kept (default: all of float32), to make pages and answers smaller. */
  digits?: number;
}

/** Runs `text` through the classifier in eval mode and copies out every layer's attention. */
export function attentionOf(clf: Classifier, text: string, opts: AttentionOptions = {}): AttentionMap {
  const maxLength = opts.maxLength ?? clf.maxLength;
  const maxPos = clf.model.config.max_position_embeddings;
  if (!Number.isInteger(maxLength) || maxLength < 3 || maxLength > maxPos)
    throw new UserError(`max length ${maxLength} is outside 3..${maxPos}`, {
      hint: `this model reads at most ${maxPos} tokens (max_position_embeddings)`,
    });
  const e = clf.tokenizer.encode(text, undefined, { maxLength });
  const T = e.input_ids.length;
  const batch: Batch = {
    inputIds: Int32Array.from(e.input_ids),
    tokenTypeIds: Int32Array.from(e.token_type_ids),
    attentionMask: Int32Array.from(e.attention_mask),
    batchSize: 1,
    seqLen: T,
  };
  const out = clf.model.forward(batch, { train: false, outputAttentions: true });
  const heads = clf.model.config.num_attention_heads;
  const scale = opts.digits === undefined ? 0 : 10 ** opts.digits;
  const round = scale ? (x: number) => Math.round(x * scale) / scale : (x: number) => x;
  // The model's buffers are reused by the next forward: copy into plain arrays now.
  const attention = out.attentions!.map((p) =>
    Array.from({ length: heads }, (_, h) =>
      Array.from({ length: T }, (_, i) =>
        Array.from(p.subarray((h * T + i) * T, (h * T + i + 1) * T), round),
      ),
    ),
  );
  const logits = out.logits;
  const L = clf.labels.length;
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < L; j++) max = Math.max(max, logits[j]!);
  let z = 0;
  for (let j = 0; j < L; j++) z += Math.exp(logits[j]! - max);
  const probabilities: Record<string, number> = {};
  let best = 0;
  for (let j = 0; j < L; j++) {
    probabilities[clf.labels[j]!] = Math.exp(logits[j]! - max) / z;
    if (logits[j]! > logits[best]!) best = j;
  }
  return {
    text,
    tokens: e.tokens,
    layers: attention.length,
    heads,
    attention,
    label: clf.labels[best]!,
    probabilities,
  };
}
