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
  /** Dropout before the classifier; Hugging Face falls back to hidden_dropout_prob when null or absent. */
  classifier_dropout?: number | null;
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
