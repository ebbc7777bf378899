/** A batch as the models read it, one module of its own so that every forward (plain or packed) imports it. */

/** A tokenised batch, row-major [batchSize, seqLen]; labels [B] (classification) or [B*T] (MLM, -100 ignored). */
export interface Batch {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  batchSize: number;
  seqLen: number;
  /** Class ids [B] (single-label heads) or token labels [B*T] with -100 for none (MLM). */
  labels?: Int32Array;
  /** Multi-hot targets [B, L] in [0, 1] for a multi-label head (problem_type "multi_label_classification"). */
  targets?: Float32Array;
}
