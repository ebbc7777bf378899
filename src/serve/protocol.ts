/** The messages between `gotune serve`'s HTTP thread and its model thread (src/serve/model-worker.ts). */
import type { AttentionMap } from "../inference/attention-map.js";
import type { PredictOptions } from "../inference/classifier.js";
import type { Dtype } from "../native/index.js";

/** What the model thread is started with. */
export interface WorkerInit {
  model: string;
  /** The encoder's products (fp32 when not given; fp32, said in one line, where the CPU lacks the one asked). */
  dtype?: Dtype;
  /** Passed to every predictProba call (max length); no callbacks. */
  predict: Omit<PredictOptions, "onBatch">;
}

/** What the model thread tells about the model once it is loaded. */
export interface ModelInfo {
  model: string;
  labels: string[];
  maxLength: number;
  /** The dtype that runs (fp32 where the one asked for is unavailable). */
  dtype: Dtype;
  layers: number;
  heads: number;
  hiddenSize: number;
  vocabSize: number;
}

/** A UserError's parts, which survive postMessage (an Error's class does not). */
export interface ErrorParts {
  message: string;
  file?: string;
  line?: number;
  hint?: string;
  user: boolean;
}

export type ToWorker =
  | { id: number; kind: "predict"; texts: string[] }
  | { id: number; kind: "attention"; text: string };

export type FromWorker =
  | { kind: "ready"; info: ModelInfo }
  | { kind: "failed"; error: ErrorParts }
  | { kind: "predicted"; id: number; probs: Float32Array; logits: Float32Array }
  | { kind: "attention"; id: number; map: AttentionMap }
  | { kind: "error"; id: number; error: ErrorParts };
