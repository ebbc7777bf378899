/**
 * The pre-trained GO-BERT that ships with gotune (models/go-bert-mini): turning a `gotune pretrain` folder
 * into that folder (half-precision weights, a model card, the record of which terms its corpus came from),
 * and checking, before a run fine-tunes from it, that none of the run's test terms was in that corpus.
 */
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { SPLIT_FILES } from "../data/examples.js";
import { sha256File } from "../data/fetch-go.js";
import { MODEL_FILES } from "../hf/model-folder.js";
import { readSafetensors, type WriteDtype, writeSafetensors } from "../hf/safetensors.js";
import { TOKENIZER_FILES } from "../hf/tokenizer.js";
import { type RunRecord, readRunLog, trainRecords } from "../train/run-log.js";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fsx.js";
import { PRETRAIN_OUTPUTS } from "./pretrain.js";

/** `gotune ship`'s defaults: the repository's shipped folder (from the working folder), fp16, its name. */
export const SHIP_DEFAULTS = { out: "models/go-bert-mini", dtype: "f16", name: "go-bert-mini" } as const;

/** Where the shipped model lives in the repository (and in an installed package). */
export const SHIPPED_MODEL_DIR = resolve(import.meta.dirname, "..", "..", "..", "models", "go-bert-mini");

/** The record of the corpus (corpus.json): which release, split and train terms the text came from. */
export interface CorpusRecord {
  release: { data_version: string | null; file: string; sha256: string };
  split: { seed: number; test_size: number };
  train_terms: number;
  test_terms: number;
  /** Sorted GO ids of the train split, one a line, gzipped, and the sha256 of the uncompressed list. */
  terms_file: string;
  terms_sha256: string;
  corpus: Record<string, unknown>;
}

/** What the shipped folder holds besides the model's own files (config, weights, tokenizer). */
export const SHIP_OUTPUTS = {
  corpus: "corpus.json",
  corpusTerms: "corpus-terms.txt.gz",
  pretrainSummary: "pretrain.json",
  pretrainLog: "pretrain_log.jsonl.gz",
  pretrainLoss: "pretrain_loss.png",
  card: "README.md",
} as const;
const TERMS_FILE = SHIP_OUTPUTS.corpusTerms;
/** The limit on the shipped weights. */
export const MAX_SHIPPED_BYTES = 25 * 1024 * 1024;

interface PretrainJson {
  corpus: Record<string, unknown> & { train_terms?: number; texts?: number };
  vocab_size: number;
  config: Record<string, unknown>;
  parameters: number;
  steps: { done: number; planned: number; passes: number; per_pass: number };
  options: Record<string, unknown>;
  loss: { first_held_out: number | null; last_held_out: number | null; last_train_mean: number };
  seconds: { training: number; total: number };
}

interface DataStats {
  source?: { file?: string; data_version?: string | null };
  split?: { seed?: number; test_size?: number; train?: { total?: number }; test?: { total?: number } };
}

async function readJson<T>(path: string, what: string, hint: string): Promise<T> {
  let text: string;
  try {
    text = await fsp.readFile(path, "utf8");
  } catch {
    throw new UserError(`no readable ${what}`, { file: path, hint });
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new UserError(`${what} is not valid JSON (${(err as Error).message})`, { file: path, hint });
  }
}

/** GO ids of a split file (JSONL with `go_id`), validated. */
export async function splitIds(path: string): Promise<string[]> {
  const ids: string[] = [];
  const text = await fsp.readFile(path, "utf8").catch(() => {
    throw new UserError("cannot read the split", { file: path, hint: "run `gotune prepare` first" });
  });
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let id: unknown;
    try {
      id = (JSON.parse(line) as { go_id?: unknown }).go_id;
    } catch {
      throw new UserError("not a JSON line", { file: path, line: i + 1, hint: "rerun `gotune prepare`" });
    }
    if (typeof id !== "string" || !/^[A-Za-z]+:\d{1,10}$/.test(id))
      throw new UserError(`go_id ${JSON.stringify(id)} is not a GO id`, { file: path, line: i + 1 });
    ids.push(id);
  });
  return ids;
}

/** What `gotune ship` takes. */
export interface ShipOptions {
  /** A `gotune pretrain` output folder. */
  pretrained: string;
  /** The `gotune prepare` folder it was pre-trained on (train.jsonl, test.jsonl, stats.json). */
  data: string;
  out: string;
  dtype: Exclude<WriteDtype, "F32">;
  name: string;
  log: (line: string) => void;
}

/** What shipping wrote, for the command's last lines. */
export interface ShipResult {
  out: string;
  bytes: number;
  sha256: string;
  maxAbsError: number;
  record: CorpusRecord;
}

/**
 * Writes the shipped folder into `o.out` (a hidden temporary sibling renamed into place): the weights in
 * half precision, config and tokenizer files, pretrain.json, the gzipped log and loss figure, corpus.json
 * with the gzipped list of train terms, and README.md, the model card filled from pretrain.json.
 */
export async function shipModel(o: ShipOptions): Promise<ShipResult> {
  const hintPt = "give the folder `gotune pretrain --out` wrote";
  const pt = await readJson<PretrainJson>(
    join(o.pretrained, PRETRAIN_OUTPUTS.summary),
    PRETRAIN_OUTPUTS.summary,
    hintPt,
  );
  const stats = await readJson<DataStats>(
    join(o.data, SPLIT_FILES.stats),
    SPLIT_FILES.stats,
    "give the folder `gotune prepare` wrote (the one given to `gotune pretrain --data`)",
  );
  const trainIds = await splitIds(join(o.data, SPLIT_FILES.train));
  const testIds = await splitIds(join(o.data, SPLIT_FILES.test));
  if (pt.corpus.train_terms !== trainIds.length)
    throw new UserError(
      `pretrain.json's corpus came from ${pt.corpus.train_terms} train terms, ${join(o.data, SPLIT_FILES.train)} holds ${trainIds.length}`,
      {
        file: join(o.pretrained, PRETRAIN_OUTPUTS.summary),
        hint: "give the --data folder the pre-training read",
      },
    );
  const obo = stats.source?.file;
  const seed = stats.split?.seed;
  const testSize = stats.split?.test_size;
  if (typeof obo !== "string" || typeof seed !== "number" || typeof testSize !== "number")
    throw new UserError("stats.json lacks the release file, the split's seed or its test size", {
      file: join(o.data, SPLIT_FILES.stats),
      hint: "rerun `gotune prepare`",
    });
  const releaseSha = await sha256File(obo).catch(() => {
    throw new UserError("cannot read the GO release the split came from, to record its sha256", {
      file: obo,
      hint: "run `gotune fetch-go` to restore the cached release",
    });
  });

  const tmp = `${o.out.replace(/\/+$/, "")}.tmp-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp, { recursive: true });
  try {
    // Weights: every tensor, in the dtype chosen, with the rounding error measured.
    const { tensors, metadata } = await readSafetensors(join(o.pretrained, MODEL_FILES.weights));
    const list = [...tensors.values()];
    await writeSafetensors(join(tmp, MODEL_FILES.weights), list, metadata, o.dtype);
    const back = (await readSafetensors(join(tmp, MODEL_FILES.weights))).tensors;
    let maxAbsError = 0;
    for (const t of list) {
      const b = back.get(t.name)!.data;
      for (let i = 0; i < t.data.length; i++) {
        const e = Math.abs(b[i]! - t.data[i]!);
        if (!(e <= maxAbsError)) maxAbsError = e; // a NaN or an infinity shows as such
      }
    }
    if (!Number.isFinite(maxAbsError))
      throw new UserError(`a weight does not fit in ${o.dtype} (it became infinite or NaN)`, {
        file: join(o.pretrained, MODEL_FILES.weights),
        hint: "ship as --dtype bf16",
      });
    const bytes = (await fsp.stat(join(tmp, MODEL_FILES.weights))).size;
    if (bytes > MAX_SHIPPED_BYTES)
      throw new UserError(`the weights take ${(bytes / 2 ** 20).toFixed(1)} MB, above the 25 MB limit`, {
        file: join(o.pretrained, MODEL_FILES.weights),
        hint: "pre-train a smaller preset",
      });
    const config = await readJson<Record<string, unknown>>(
      join(o.pretrained, MODEL_FILES.config),
      MODEL_FILES.config,
      hintPt,
    );
    config.torch_dtype = o.dtype === "F16" ? "float16" : "bfloat16";
    await writeFileAtomic(join(tmp, MODEL_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
    for (const f of Object.values(TOKENIZER_FILES))
      await fsp.copyFile(join(o.pretrained, f), join(tmp, f)).catch((err: NodeJS.ErrnoException) => {
        if (f === TOKENIZER_FILES.vocab || err.code !== "ENOENT")
          throw new UserError(`cannot copy ${f}`, { file: o.pretrained });
      });
    await fsp.copyFile(join(o.pretrained, PRETRAIN_OUTPUTS.summary), join(tmp, SHIP_OUTPUTS.pretrainSummary));
    const logText = await fsp.readFile(join(o.pretrained, PRETRAIN_OUTPUTS.log)).catch(() => undefined);
    if (logText) await writeFileAtomic(join(tmp, SHIP_OUTPUTS.pretrainLog), gzipSync(logText, { level: 9 }));
    await fsp
      .copyFile(join(o.pretrained, PRETRAIN_OUTPUTS.lossFigurePng), join(tmp, SHIP_OUTPUTS.pretrainLoss))
      .catch(() => undefined);

    // The corpus record: sorted train ids (gzipped) and what identifies the split.
    const list_ = `${[...trainIds].sort().join("\n")}\n`;
    await writeFileAtomic(join(tmp, TERMS_FILE), gzipSync(list_, { level: 9 }));
    const record: CorpusRecord = {
      release: {
        data_version: stats.source?.data_version ?? null,
        file: obo.split("/").pop()!,
        sha256: releaseSha,
      },
      split: { seed, test_size: testSize },
      train_terms: trainIds.length,
      test_terms: testIds.length,
      terms_file: TERMS_FILE,
      terms_sha256: sha256Of(list_),
      corpus: { ...pt.corpus, obo: obo.split("/").pop() },
    };
    await writeFileAtomic(join(tmp, SHIP_OUTPUTS.corpus), `${JSON.stringify(record, null, 2)}\n`);
    const weightsSha = await sha256File(join(tmp, MODEL_FILES.weights));
    const hours =
      trainingHours(
        await readRunLog(join(o.pretrained, PRETRAIN_OUTPUTS.log)),
        Number(pt.options.batch_size) || 32,
      ) ?? pt.seconds.training / 3600;
    await writeFileAtomic(
      join(tmp, SHIP_OUTPUTS.card),
      modelCard({ name: o.name, pt, record, weightsSha, bytes, hours, dtype: o.dtype, maxAbsError, config }),
    );
    const old = `${o.out.replace(/\/+$/, "")}.old-${process.pid}`;
    const had = await fsp.stat(o.out).then(
      () => true,
      () => false,
    );
    if (had) await fsp.rename(o.out, old);
    await fsp.rename(tmp, o.out);
    if (had) await fsp.rm(old, { recursive: true, force: true });
    o.log(
      `ship: ${o.out}: ${(bytes / 2 ** 20).toFixed(1)} MB of ${o.dtype} weights (largest rounding error ${maxAbsError.toExponential(2)}), ` +
        `${trainIds.length} train terms recorded, sha256 ${weightsSha}`,
    );
    return { out: o.out, bytes, sha256: weightsSha, maxAbsError, record };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

function sha256Of(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Training time over every session of a resumable run: the sum of the logged steps' durations. */
function trainingHours(log: readonly RunRecord[], batch: number): number | undefined {
  let s = 0;
  let n = 0;
  for (const r of trainRecords(log)) {
    if (r.examples_per_s > 0) {
      s += batch / r.examples_per_s;
      n++;
    }
  }
  return n ? s / 3600 : undefined;
}

interface CardInput {
  name: string;
  pt: PretrainJson;
  record: CorpusRecord;
  weightsSha: string;
  bytes: number;
  hours: number;
  dtype: string;
  maxAbsError: number;
  config: Record<string, unknown>;
}

/** The model card: Hugging Face's format (YAML front matter, then Markdown), filled from pretrain.json. */
export function modelCard(c: CardInput): string {
  const { pt, record: r } = c;
  const o = pt.options;
  const f = (x: number | null | undefined, d = 3) => (x == null ? "?" : x.toFixed(d));
  const flags = [
    `--preset ${o.preset}`,
    `--vocab-size ${pt.vocab_size}`,
    `--epochs ${o.epochs}`,
    o.max_steps != null ? `--max-steps ${o.max_steps}` : "",
    o.time_budget_minutes != null ? `--time-budget ${o.time_budget_minutes}` : "",
    `--batch-size ${o.batch_size}`,
    `--lr ${o.lr}`,
    `--warmup-ratio ${o.warmup_ratio}`,
    `--weight-decay ${o.weight_decay}`,
    `--max-length ${o.max_length}`,
    `--mlm-probability ${o.mlm_probability}`,
    `--packing ${o.packing}`,
    `--seed ${o.seed}`,
  ]
    .filter(Boolean)
    .join(" ");
  const layers = c.config.num_hidden_layers;
  const hidden = c.config.hidden_size;
  return `---
language: en
license: cc-by-4.0
library_name: transformers
pipeline_tag: fill-mask
tags:
  - bert
  - gene-ontology
  - biology
  - masked-lm
  - gotune
datasets:
  - gene-ontology
model-index:
  - name: ${c.name}
    results: []
---

# ${c.name}

A compact BERT (${layers} layers × ${hidden}, ${pt.parameters.toLocaleString("en-US")} parameters, a ${pt.vocab_size}-token
WordPiece vocabulary of its own) pre-trained by [gotune](../../README.md) as a masked language model on the
text of the Gene Ontology's **train** terms, offline, on a 2-core CPU. It is the model \`gotune run\` fine-tunes
by default. A \`BertForMaskedLM\` checkpoint: \`AutoModelForMaskedLM.from_pretrained\` and
\`AutoTokenizer.from_pretrained\` read this folder; \`gotune train --model\` fine-tunes it.

## Data

- **Release:** GO \`${r.release.data_version ?? "(no data-version)"}\` (\`${r.release.file}\`, sha256 \`${r.release.sha256}\`).
- **Split:** \`gotune prepare --seed ${r.split.seed} --test-size ${r.split.test_size}\`: ${r.train_terms.toLocaleString("en-US")} train terms,
  ${r.test_terms.toLocaleString("en-US")} test terms (stratified by aspect). Only train terms gave text.
- **Corpus:** their names, definitions, synonyms and comments: ${Number(pt.corpus.texts ?? 0).toLocaleString("en-US")} texts
  (${Number(pt.corpus.characters ?? 0).toLocaleString("en-US")} characters; exact duplicates dropped).
- **Which terms:** \`${r.terms_file}\` lists the train GO ids (sorted, one a line; sha256 of the list
  \`${r.terms_sha256}\`); \`corpus.json\` holds release, split and counts. \`gotune run\` checks that none of
  its test terms is in this list before fine-tuning from the model, and pre-trains its own otherwise.

## Training

- **Objective:** masked language modelling as Hugging Face's \`DataCollatorForLanguageModeling\` (${Math.round(Number(o.mlm_probability) * 100)}% of
  tokens chosen: 80% [MASK], 10% random, 10% kept); short texts packed into sequences of up to ${o.max_length} tokens.
- **Optimisation:** AdamW, peak learning rate ${o.lr}, ${Number(o.warmup_ratio) * 100}% warm-up then linear decay to 0,
  weight decay ${o.weight_decay}, batch ${o.batch_size} sequences, gradient clipping at 1.0, seed ${o.seed}.
- **Steps:** ${pt.steps.done.toLocaleString("en-US")} of ${pt.steps.planned.toLocaleString("en-US")} planned (${f(pt.steps.passes, 2)} passes over the corpus).
- **Time:** ${c.hours.toFixed(2)} hours of training on 2 CPU cores (sum of the logged steps' times over every session).
- **Final loss:** held-out MLM loss ${f(pt.loss.first_held_out)} → **${f(pt.loss.last_held_out)}** (nats; training loss at
  the end ${f(pt.loss.last_train_mean)}). The curve: \`pretrain_loss.png\`; every step: \`pretrain_log.jsonl.gz\`.
- **Weights:** \`model.safetensors\` in ${c.dtype} (${(c.bytes / 2 ** 20).toFixed(1)} MB; trained in fp32, rounded to nearest
  even, largest rounding error ${c.maxAbsError.toExponential(2)}), sha256 \`${c.weightsSha}\`.

## Reproduce

\`\`\`sh
gotune prepare --obo ${r.release.file} --out data --seed ${r.split.seed} --test-size ${r.split.test_size} --no-figures && gotune pretrain --data data --out mlm ${flags} && gotune ship --pretrained mlm --data data --out models/${c.name}
\`\`\`

(\`gotune fetch-go\` finds the release: the 2018-03-09 one is the offline default.) A run stopped by Ctrl-C
resumes with the same \`gotune pretrain\` command.

## Attribution

The training text is from the Gene Ontology, © Gene Ontology Consortium, licensed under
[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/): Ashburner et al., *Gene Ontology: tool for the
unification of biology*, Nat Genet 2000; The Gene Ontology Consortium, *The Gene Ontology knowledgebase in 2023*,
Genetics 2023. See <http://geneontology.org/docs/go-citation-policy/>. The model is shared under the same licence.
`;
}

/** Reads a model folder's corpus record, or undefined when it has none (a model from elsewhere). */
export async function readCorpusRecord(dir: string): Promise<CorpusRecord | undefined> {
  const path = join(dir, SHIP_OUTPUTS.corpus);
  const text = await fsp.readFile(path, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  let r: CorpusRecord;
  try {
    r = JSON.parse(text) as CorpusRecord;
  } catch {
    throw new UserError("corpus.json is not valid JSON", { file: path, hint: "ship the model again" });
  }
  if (
    r.terms_file !== TERMS_FILE ||
    typeof r.split?.seed !== "number" ||
    typeof r.release?.sha256 !== "string"
  )
    throw new UserError("corpus.json lacks the terms file, the split or the release", { file: path });
  return r;
}

/** The train GO ids a model's corpus came from (checked against the record's sha256). */
export async function corpusTerms(dir: string, r: CorpusRecord): Promise<Set<string>> {
  const path = join(dir, r.terms_file);
  let text: string;
  try {
    text = gunzipSync(await fsp.readFile(path), { maxOutputLength: 64 * 2 ** 20 }).toString("utf8");
  } catch {
    throw new UserError("cannot read the list of corpus terms", { file: path, hint: "ship the model again" });
  }
  if (sha256Of(text) !== r.terms_sha256)
    throw new UserError("the list of corpus terms does not match its sha256 in corpus.json", { file: path });
  return new Set(text.split("\n").filter(Boolean));
}

/** The verdict on fine-tuning a run's split from a model with a corpus record. */
export interface CorpusCheck {
  /** Test terms of the run that were in the model's corpus. */
  leaked: number;
  /** The run's split is the one the model was pre-trained on (release, seed, test size). */
  sameSplit: boolean;
  /** One line saying what differs, or that the split is the same. */
  line: string;
}

/** Compares a run's split (its data folder) with the record; counts its test terms in the model's corpus. */
export async function checkCorpus(modelDir: string, r: CorpusRecord, dataDir: string): Promise<CorpusCheck> {
  const stats = await readJson<DataStats>(
    join(dataDir, SPLIT_FILES.stats),
    SPLIT_FILES.stats,
    "rerun `gotune prepare`",
  );
  const terms = await corpusTerms(modelDir, r);
  const test = await splitIds(join(dataDir, SPLIT_FILES.test));
  const leaked = test.filter((id) => terms.has(id)).length;
  const obo = stats.source?.file;
  const sha = obo ? await sha256File(obo).catch(() => undefined) : undefined;
  const diffs: string[] = [];
  if (sha !== r.release.sha256)
    diffs.push(
      `release ${stats.source?.data_version ?? "?"} (the model's: ${r.release.data_version ?? "?"})`,
    );
  if (stats.split?.seed !== r.split.seed)
    diffs.push(`seed ${stats.split?.seed} (the model's: ${r.split.seed})`);
  if (stats.split?.test_size !== r.split.test_size)
    diffs.push(`test size ${stats.split?.test_size} (the model's: ${r.split.test_size})`);
  const sameSplit = diffs.length === 0;
  const line = !sameSplit
    ? `this split differs from the shipped model's: ${diffs.join(", ")}; ${leaked} of its ${test.length} test terms were in that model's corpus`
    : leaked
      ? `this split is the shipped model's (GO ${r.release.data_version}, seed ${r.split.seed}, test size ${r.split.test_size}), yet ${leaked} of its ${test.length} test terms were in its corpus`
      : `the shipped model was pre-trained on this split's train terms only (GO ${r.release.data_version}, seed ${r.split.seed}, test size ${r.split.test_size}): none of the ${test.length} test terms was in its corpus`;
  return { leaked, sameSplit, line };
}
