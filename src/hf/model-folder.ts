/**
 * Hugging Face model folders for BERT: `config.json` plus `model.safetensors` (or a sharded
 * `model.safetensors.index.json`), with transformers' parameter names, read into and written from
 * a model's `params()`.
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import {
  type BertConfig,
  configProblem,
  makeConfig,
  PROBLEM_TYPES,
  type ProblemType,
  parameterCount,
} from "../model/config.js";
import type { Param } from "../model/param.js";
import { shown, UserError } from "../util/errors.js";
import { exists, readBoundedFile, writeFileAtomic } from "../util/fsx.js";
import { PytorchCheckpoint } from "./pickle.js";
import { readWeightIndex } from "./repo-paths.js";
import { SafetensorsFile, type TensorSource, writeSafetensors } from "./safetensors.js";

/** What a model must offer to be saved or loaded: its config and its parameters. */
export interface WeightsModel {
  readonly config: BertConfig;
  params(): Param[];
  readonly numLabels?: number;
}

/** What loading did besides copying tensors, in transformers' terms. */
export interface LoadReport {
  /** Parameters absent from the checkpoint and left as initialised (a head a base checkpoint lacks). */
  initialisedFresh: string[];
  /** Checkpoint tensors the model has no use for (e.g. cls.seq_relationship.* of a pre-training head). */
  unused: string[];
  /** One line for the user when something was initialised fresh or left unused. */
  notes: string[];
}

const CONFIG_KEYS: (keyof BertConfig)[] = [
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "hidden_act",
  "hidden_dropout_prob",
  "attention_probs_dropout_prob",
  "max_position_embeddings",
  "type_vocab_size",
  "layer_norm_eps",
  "initializer_range",
  "pad_token_id",
];

/** The transformers release whose save_pretrained format gotune writes (config.json's transformers_version). */
export const TRANSFORMERS_VERSION = "4.46.3";

/** The transformers class a parameter list belongs to, from its names. */
export function architectureOf(params: Param[]): string {
  if (params.some((p) => p.name.startsWith("classifier."))) return "BertForSequenceClassification";
  if (params.some((p) => p.name.startsWith("cls.predictions."))) return "BertForMaskedLM";
  return "BertModel";
}

/** config.json's content for a model, with the fields transformers writes for BERT. */
export function configJson(
  config: BertConfig,
  architecture: string,
  numLabels?: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = { architectures: [architecture], model_type: "bert" };
  for (const k of CONFIG_KEYS) out[k] = config[k];
  out.position_embedding_type = "absolute";
  out.classifier_dropout = null;
  out.use_cache = true;
  out.torch_dtype = "float32";
  out.transformers_version = TRANSFORMERS_VERSION;
  if (config.problem_type) out.problem_type = config.problem_type;
  let id2label = config.id2label;
  if (!id2label && numLabels) {
    id2label = {};
    for (let i = 0; i < numLabels; i++) id2label[String(i)] = `LABEL_${i}`;
  }
  if (id2label) {
    out.id2label = id2label;
    out.label2id =
      config.label2id ?? Object.fromEntries(Object.entries(id2label).map(([i, l]) => [l, Number(i)]));
  }
  return out;
}

/** A Hugging Face model folder's own files (besides the tokenizer's: hf/tokenizer.ts TOKENIZER_FILES). */
export const MODEL_FILES = {
  config: "config.json",
  weights: "model.safetensors",
  weightsIndex: "model.safetensors.index.json",
  pytorchWeights: "pytorch_model.bin",
} as const;

/** Largest config.json read (BERT's is under 1 kB; a big id2label a few MB). */
const MAX_CONFIG_BYTES = 16 << 20;

/** Reads and checks a folder's config.json; unknown model types and activations are UserErrors. */
export async function readModelConfig(
  dir: string,
): Promise<{ config: BertConfig; raw: Record<string, unknown> }> {
  const file = join(dir, MODEL_FILES.config);
  if (!(await exists(file)))
    throw new UserError("no config.json in the model folder", {
      file: dir,
      hint: "give a Hugging Face model folder (config.json and model.safetensors)",
    });
  const text = (await readBoundedFile(file, MAX_CONFIG_BYTES, "config.json")).toString("utf8");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UserError("config.json is not valid JSON", { file });
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw))
    throw new UserError("config.json is not a JSON object", { file });
  if (raw.model_type !== undefined && raw.model_type !== "bert")
    throw new UserError(`model_type ${shown(raw.model_type)} is not supported`, {
      file,
      hint: 'gotune runs BERT models (model_type "bert")',
    });
  const overrides: Partial<BertConfig> = {};
  for (const k of CONFIG_KEYS) {
    const v = raw[k];
    // transformers writes a null pad_token_id for models without one: the default stands.
    if (v === undefined || (v === null && k === "pad_token_id")) continue;
    if (k === "hidden_act") {
      if (v !== "gelu")
        throw new UserError(`hidden_act ${shown(v)} is not supported`, {
          file,
          hint: 'gotune implements "gelu" (erf) only',
        });
      continue;
    }
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new UserError(`${k} must be a number, not ${shown(v)}`, { file });
    (overrides as Record<string, number>)[k] = v;
  }
  if (raw.position_embedding_type !== undefined && raw.position_embedding_type !== "absolute")
    throw new UserError(`position_embedding_type ${shown(raw.position_embedding_type)} is not supported`, {
      file,
      hint: 'gotune implements "absolute" position embeddings',
    });
  if (raw.id2label && typeof raw.id2label === "object") {
    const labels = Object.entries(raw.id2label);
    const badLabel = labels.find(
      ([i, l]) => !/^\d{1,4}$/.test(i) || Number(i) >= labels.length || typeof l !== "string",
    );
    if (Array.isArray(raw.id2label) || badLabel)
      throw new UserError(
        `id2label must map each id 0..N-1 to a name${badLabel ? `, not ${shown(badLabel[0])} to ${shown(badLabel[1])}` : ""}`,
        { file, hint: 'write it as {"0": "name", "1": "other", ...}' },
      );
    overrides.id2label = Object.fromEntries(labels.map(([i, l]) => [String(i), String(l)]));
    const label2id = raw.label2id && typeof raw.label2id === "object" ? Object.entries(raw.label2id) : [];
    const badId = label2id.find(([, i]) => !Number.isInteger(i) || i < 0 || i >= labels.length);
    if (Array.isArray(raw.label2id) || badId)
      throw new UserError(
        `label2id must map each name to an id 0..${labels.length - 1}${badId ? `, not ${shown(badId[0])} to ${shown(badId[1])}` : ""}`,
        { file, hint: 'write it as {"name": 0, "other": 1, ...}, or leave it out' },
      );
    overrides.label2id = Object.fromEntries(
      label2id.length
        ? (label2id as [string, number][])
        : Object.entries(overrides.id2label).map(([i, l]) => [l, Number(i)]),
    );
  }
  if (raw.problem_type !== undefined && raw.problem_type !== null) {
    if (!PROBLEM_TYPES.includes(raw.problem_type as ProblemType))
      throw new UserError(`problem_type ${shown(raw.problem_type)} is not supported`, {
        file,
        hint: `gotune's classifiers are ${PROBLEM_TYPES.join(" or ")}`,
      });
    overrides.problem_type = raw.problem_type as ProblemType;
  }
  const config = makeConfig(overrides);
  const problem = configProblem(config);
  if (problem)
    throw new UserError(problem, {
      file,
      hint: "the config is corrupt or not a BERT's; use the model's original config.json",
    });
  return { config, raw };
}

/** Several safetensors shards behind one `model.safetensors.index.json`. */
class ShardedSource implements TensorSource {
  constructor(
    readonly path: string,
    private readonly where: Map<string, SafetensorsFile>,
    private readonly files: SafetensorsFile[],
  ) {}
  names(): string[] {
    return [...this.where.keys()];
  }
  info(name: string) {
    return this.where.get(name)?.info(name);
  }
  readF32(name: string, out?: Float32Array): Promise<Float32Array> {
    const f = this.where.get(name);
    if (!f) throw new UserError(`no tensor named ${name}`, { file: this.path });
    return f.readF32(name, out);
  }
  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

/**
 * Opens a folder's weights: `model.safetensors`, the shards listed in `model.safetensors.index.json`,
 * or else a PyTorch `pytorch_model.bin` (read without executing any pickle code).
 */
export async function openWeights(dir: string): Promise<TensorSource> {
  const single = join(dir, MODEL_FILES.weights);
  if (await exists(single)) return SafetensorsFile.open(single);
  const index = join(dir, MODEL_FILES.weightsIndex);
  if (await exists(index)) {
    // Shard names are checked to be files inside the folder before any is opened.
    const map = await readWeightIndex(index);
    const files = new Map<string, SafetensorsFile>();
    const where = new Map<string, SafetensorsFile>();
    try {
      for (const [name, shard] of map) {
        let f = files.get(shard);
        if (!f) {
          f = await SafetensorsFile.open(join(dir, shard));
          files.set(shard, f);
        }
        if (!f.info(name))
          throw new UserError(`the index puts ${name} in ${shard}, which does not hold it`, { file: index });
        where.set(name, f);
      }
    } catch (err) {
      await Promise.all([...files.values()].map((f) => f.close()));
      throw err;
    }
    return new ShardedSource(index, where, [...files.values()]);
  }
  const bin = join(dir, MODEL_FILES.pytorchWeights);
  if (await exists(bin)) return PytorchCheckpoint.open(bin);
  throw new UserError("no weights in the model folder (model.safetensors or pytorch_model.bin)", {
    file: dir,
    hint: "give a Hugging Face model folder with its weights",
  });
}

// Heads a checkpoint may lack; transformers then initialises them fresh and says so.
const FRESH_GROUPS = ["classifier.", "cls.predictions.", "bert.pooler.", "pooler."];

function isBuffer(name: string): boolean {
  return name.endsWith(".position_ids") || name.endsWith(".token_type_ids");
}

/** Old TensorFlow-era names (LayerNorm.gamma/beta) in today's spelling. */
function modernName(name: string): string {
  return name.replace(/LayerNorm\.gamma$/, "LayerNorm.weight").replace(/LayerNorm\.beta$/, "LayerNorm.bias");
}

/**
 * Copies a checkpoint's tensors into `params`, matching transformers' loading rules: old names and
 * a missing or extra `bert.` prefix are mapped, buffers and the tied MLM decoder are skipped, a head
 * the checkpoint lacks keeps its initialisation. A missing or mis-shaped tensor is a UserError naming it.
 */
export async function loadParams(params: Param[], source: TensorSource): Promise<LoadReport> {
  const byName = new Map<string, string>(); // the model's spelling -> the checkpoint's
  const srcNames = source.names();
  const modelHasPrefix = params.some((p) => p.name.startsWith("bert."));
  const srcHasPrefix = srcNames.some((n) => n.startsWith("bert."));
  const isHead = (n: string) => n.startsWith("classifier.") || n.startsWith("cls.");
  const skipped: string[] = [];
  for (const orig of srcNames) {
    if (isBuffer(orig)) continue;
    let n = modernName(orig);
    if (modelHasPrefix && !srcHasPrefix && !isHead(n)) n = `bert.${n}`;
    else if (!modelHasPrefix && srcHasPrefix && n.startsWith("bert.")) n = n.slice(5);
    if (n === "cls.predictions.decoder.weight") {
      skipped.push(orig); // tied to the word embeddings
      continue;
    }
    if (n === "cls.predictions.decoder.bias") {
      // The same tensor as cls.predictions.bias in transformers; used only when that name is absent.
      if (!srcNames.includes("cls.predictions.bias")) byName.set("cls.predictions.bias", orig);
      else skipped.push(orig);
      continue;
    }
    if (byName.has(n))
      throw new UserError(`the checkpoint holds ${orig} and ${byName.get(n)}, both for ${n}`, {
        file: source.path,
      });
    byName.set(n, orig);
  }
  const report: LoadReport = { initialisedFresh: [], unused: [], notes: [] };
  const present = (prefix: string) => params.some((p) => p.name.startsWith(prefix) && byName.has(p.name));
  for (const p of params) {
    const src = byName.get(p.name);
    if (src === undefined) {
      const group = FRESH_GROUPS.find((g) => p.name.startsWith(g));
      if (group && !present(group)) {
        report.initialisedFresh.push(p.name);
        continue;
      }
      throw new UserError(`the checkpoint has no tensor ${p.name}`, {
        file: source.path,
        hint: "it does not match this model; check that it is a BERT checkpoint of the right kind",
      });
    }
    const info = source.info(src)!;
    const same = info.shape.length === p.shape.length && info.shape.every((d, i) => d === p.shape[i]);
    if (!same)
      throw new UserError(
        `tensor ${src} has shape [${info.shape.join(", ")}] but the model expects [${p.shape.join(", ")}]`,
        { file: source.path, hint: "the checkpoint and config.json disagree, or the label count differs" },
      );
    await source.readF32(src, p.data);
  }
  const used = new Set(params.map((p) => byName.get(p.name)).filter((x) => x !== undefined));
  report.unused = srcNames.filter((n) => !isBuffer(n) && !used.has(n) && !skipped.includes(n));
  if (report.initialisedFresh.length)
    report.notes.push(
      `initialised fresh (not in the checkpoint): ${summarise(report.initialisedFresh)}; train before use`,
    );
  if (report.unused.length) report.notes.push(`not used from the checkpoint: ${summarise(report.unused)}`);
  return report;
}

function summarise(names: string[]): string {
  return names.length <= 4
    ? names.join(", ")
    : `${names.slice(0, 3).join(", ")} and ${names.length - 3} more`;
}

/**
 * Refuses a config whose model would be larger than the weights it is loaded from. Every embedding and
 * encoder weight must come from the checkpoint, so sizes inflated past what the weights hold are caught
 * before the model is allocated: a few kB of weights never make gotune allocate gigabytes.
 */
export function checkWeightsCover(config: BertConfig, source: TensorSource, configFile: string): void {
  let held = 0;
  for (const n of source.names()) held += (source.info(n)?.shape ?? []).reduce((a, b) => a * b, 1);
  const needed = parameterCount(config);
  if (needed > held)
    throw new UserError(
      `its sizes make a model of at least ${needed} weights, but ${source.path} holds only ${held} values`,
      {
        file: configFile,
        hint: "the config and the weights do not belong together; use the model's own config.json",
      },
    );
}

/**
 * Builds a model for `config` with `build` once the folder's weights are known to cover it
 * (checkWeightsCover), then loads them into it.
 */
export async function buildFromFolder<M extends WeightsModel>(
  dir: string,
  config: BertConfig,
  build: () => M,
): Promise<{ model: M; report: LoadReport }> {
  const source = await openWeights(dir);
  try {
    checkWeightsCover(config, source, join(dir, "config.json"));
    const model = build();
    return { model, report: await loadParams(model.params(), source) };
  } finally {
    await source.close();
  }
}

/** Loads a folder's weights into a model built from its config (see readModelConfig). */
export async function loadModelFolder(dir: string, model: WeightsModel): Promise<LoadReport> {
  const source = await openWeights(dir);
  try {
    return await loadParams(model.params(), source);
  } finally {
    await source.close();
  }
}

/**
 * Writes `config.json` and `model.safetensors` for `model` into `dir`, each atomically, in the form
 * transformers' save_pretrained gives (the tied MLM decoder is not stored). An optimiser with lazy
 * rows must be flushed first (AdamW.flush) so every row holds its current value.
 */
export async function saveModelFolder(
  dir: string,
  model: WeightsModel,
  extraConfig: Record<string, unknown> = {},
): Promise<void> {
  const params = model.params();
  await fsp.mkdir(dir, { recursive: true });
  await writeSafetensors(
    join(dir, MODEL_FILES.weights),
    params.map((p) => ({ name: p.name, shape: p.shape, data: p.data })),
    { format: "pt" },
  );
  const cfg = { ...configJson(model.config, architectureOf(params), model.numLabels), ...extraConfig };
  await writeFileAtomic(join(dir, MODEL_FILES.config), `${JSON.stringify(cfg, null, 2)}\n`);
}
