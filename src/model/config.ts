/** BERT configuration with Hugging Face's `config.json` field names and defaults. */

/** The fields of a Hugging Face BertConfig that gotune's model uses. */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: "gelu";
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  initializer_range: number;
  pad_token_id: number;
  /** Classification labels, as in config.json (keys are stringified ids there). */
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  /**
   * Hugging Face's problem_type: "multi_label_classification" makes a sequence classifier's head a sigmoid a
   * label trained with BCEWithLogitsLoss (a text may have any set of labels, also none); absent: softmax.
   */
  problem_type?: ProblemType;
  /** Dropout before the classifier; Hugging Face falls back to hidden_dropout_prob when null or absent. */
  classifier_dropout?: number | null;
}

/** The problem types of Hugging Face's sequence classifiers that gotune trains. */
export const PROBLEM_TYPES = ["single_label_classification", "multi_label_classification"] as const;

/** One of PROBLEM_TYPES. */
export type ProblemType = (typeof PROBLEM_TYPES)[number];

/** True when a config's classifier head is multi-label (sigmoid per label). */
export function isMultiLabel(config: Pick<BertConfig, "problem_type">): boolean {
  return config.problem_type === "multi_label_classification";
}

/** Hugging Face's BertConfig defaults (bert-base-uncased). */
export const BERT_DEFAULTS: BertConfig = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  pad_token_id: 0,
};

/** Size presets: the study's model and compact shapes for CPU training. */
export const BERT_PRESETS: Record<string, Partial<BertConfig>> = {
  // bert-base-multilingual-uncased, the model of the original study
  mbert: {
    vocab_size: 105879,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
  },
  "bert-base": {},
  "bert-mini": { hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024 },
  "bert-tiny": { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 },
};

/** A full config from defaults, a preset and overrides. */
export function makeConfig(overrides: Partial<BertConfig> = {}, preset?: string): BertConfig {
  return { ...BERT_DEFAULTS, ...(preset ? BERT_PRESETS[preset] : {}), ...overrides };
}

// Integer sizes and their sane ranges: far above any BERT's, far below what would exhaust memory.
const SIZE_RANGES: [keyof BertConfig, number, number][] = [
  ["vocab_size", 1, 1_000_000],
  ["hidden_size", 1, 16_384],
  ["num_hidden_layers", 1, 128],
  ["num_attention_heads", 1, 1_024],
  ["intermediate_size", 1, 65_536],
  ["max_position_embeddings", 1, 65_536],
  ["type_vocab_size", 1, 1_024],
];
/** Parameters a model may have (f32: 16 GB), at most. */
const MAX_PARAMETERS = 4e9;

/** The embedding and encoder weights a config makes (biases, LayerNorms and heads left out: a lower bound). */
export function parameterCount(c: BertConfig): number {
  const h = c.hidden_size;
  return (
    (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * h +
    c.num_hidden_layers * (4 * h * h + 2 * h * c.intermediate_size)
  );
}

/** What is wrong with a config (one phrase naming the field), or undefined when it is sane. */
export function configProblem(c: BertConfig): string | undefined {
  for (const [k, lo, hi] of SIZE_RANGES) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < lo || v > hi)
      return `${k} must be an integer from ${lo} to ${hi}, not ${JSON.stringify(v)}`;
  }
  if (c.hidden_size % c.num_attention_heads !== 0)
    return `hidden_size (${c.hidden_size}) must be a multiple of num_attention_heads (${c.num_attention_heads})`;
  if (!Number.isInteger(c.pad_token_id) || c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size)
    return `pad_token_id must be an integer below vocab_size (${c.vocab_size}), not ${JSON.stringify(c.pad_token_id)}`;
  for (const k of ["hidden_dropout_prob", "attention_probs_dropout_prob"] as const)
    if (!(c[k] >= 0 && c[k] < 1)) return `${k} must be a probability in [0, 1), not ${JSON.stringify(c[k])}`;
  if (c.classifier_dropout != null && !(c.classifier_dropout >= 0 && c.classifier_dropout < 1))
    return `classifier_dropout must be null or a probability in [0, 1), not ${JSON.stringify(c.classifier_dropout)}`;
  if (!(c.layer_norm_eps > 0 && c.layer_norm_eps < 1))
    return `layer_norm_eps must be above 0 and below 1, not ${JSON.stringify(c.layer_norm_eps)}`;
  if (!(c.initializer_range >= 0 && c.initializer_range < 10))
    return `initializer_range must be from 0 to 10, not ${JSON.stringify(c.initializer_range)}`;
  const params = parameterCount(c);
  if (params > MAX_PARAMETERS)
    return `these sizes make ${params.toExponential(2)} parameters, more than the ${MAX_PARAMETERS.toExponential(0)} gotune can hold`;
  return undefined;
}
