/**
 * gotune against onnxruntime-node (the engine inside transformers.js) on inference: the same random
 * BertForSequenceClassification (seed 0), exported by gotune's own ONNX export, run on the same
 * length-sorted batches of GO definitions, at batch 8 and 32; gotune in fp32, bf16 and int8 (each against
 * the same ort fp32 figure), each engine's fastest of two alternating runs. Each engine runs in its own child process
 * (`node dist/bench/ort.js --engine gotune|ort ...`) so neither's threads or memory touch the other's.
 * Alone: `node dist/bench/ort.js [--only PRESET] [--batch N] [--examples N]`; with `--sweep`, it times onnxruntime's session settings
 * (and gotune with one thread a core and with one).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { classifierToOnnx } from "../src/hf/onnx.js";
import { BertForSequenceClassification } from "../src/model/bert.js";
import { makeConfig } from "../src/model/config.js";
import { type Dtype, getThreads, setThreads, usableDtype } from "../src/native/index.js";
import { Rng } from "../src/util/rng.js";
import { goDefinitions } from "./batches.js";
import { peakRssMb } from "./rss.js";

/** Token ids of one padded batch, row-major [batch, seq]. */
interface TokenBatch {
  batch: number;
  seq: number;
  ids: number[];
  mask: number[];
}

/** onnxruntime's session settings under test. */
export interface OrtSettings {
  opt: "disabled" | "basic" | "extended" | "all";
  threads: number;
  mode: "sequential" | "parallel";
  spin: boolean;
}

/** What a careful user sets: every graph optimisation, one intra-op thread a core, sequential execution. */
export const ORT_TUNED: OrtSettings = { opt: "all", threads: cpus().length, mode: "sequential", spin: true };

/** One engine's figures on one batch size. */
interface EngineResult {
  engine: string;
  examples: number;
  batches: number;
  mean_seq: number;
  ms: number;
  examples_per_s: number;
  peak_rss_mb: number;
  threads: number;
  /** The first batch's logits, to check both engines ran the same model. */
  first_logits: number[];
}

const BENCH_EXAMPLES: Record<string, number> = { mbert: 256, "bert-mini": 2048 };
/**
 * Each engine runs this many times, alternating (ort, then gotune in each dtype), and its fastest run
 * counts: a slow spell of this shared machine (±10-20 % between runs) then hits neither side alone.
 */
const ROUNDS = 2;
const MAX_LENGTH = 100; // the study's max_length
/** The inference dtypes timed beside fp32, each against the same ort fp32 run. */
const LOW_DTYPES = ["bf16", "int8"] as const;

let sample: Promise<{ encs: number[][]; padId: number }> | undefined;

/**
 * GO definitions in a fixed random order, tokenised (a WordPiece vocabulary of 8,000 learnt from them, so
 * ids fit every preset's embeddings; max_length 100). Computed once a process.
 */
function goSample(): Promise<{ encs: number[][]; padId: number }> {
  sample ??= (async () => {
    const { texts, tok } = await goDefinitions();
    const rng = new Rng(0);
    const encs = texts
      .map((t) => [rng.next(), t] as const)
      .sort((a, b) => a[0] - b[0])
      .slice(0, 4096)
      .map(([, t]) => tok.encode(t, undefined, { maxLength: MAX_LENGTH }).input_ids);
    return { encs, padId: tok.padId };
  })();
  return sample;
}

/** The first `examples` of the sample, sorted by length (longest first), cut into padded batches. */
export async function goBatches(examples: number, batchSizes: number[]): Promise<Map<number, TokenBatch[]>> {
  const { encs: all, padId } = await goSample();
  const encs = all.slice(0, examples).sort((a, b) => b.length - a.length);
  const out = new Map<number, TokenBatch[]>();
  for (const bs of batchSizes) {
    const batches: TokenBatch[] = [];
    for (let s = 0; s < encs.length; s += bs) {
      const rows = encs.slice(s, s + bs);
      const seq = rows[0]!.length;
      const ids = new Array<number>(rows.length * seq).fill(padId);
      const mask = new Array<number>(rows.length * seq).fill(0);
      rows.forEach((r, b) => {
        for (let i = 0; i < r.length; i++) {
          ids[b * seq + i] = r[i]!;
          mask[b * seq + i] = 1;
        }
      });
      batches.push({ batch: rows.length, seq, ids, mask });
    }
    out.set(bs, batches);
  }
  return out;
}

function makeModel(preset: string): BertForSequenceClassification {
  return new BertForSequenceClassification(makeConfig({}, preset), { seed: 0, numLabels: 3 });
}

function summarise(
  engine: string,
  batches: TokenBatch[],
  ms: number,
  threads: number,
  first: ArrayLike<number>,
): EngineResult {
  const examples = batches.reduce((s, b) => s + b.batch, 0);
  return {
    engine,
    examples,
    batches: batches.length,
    mean_seq: batches.reduce((s, b) => s + b.batch * b.seq, 0) / examples,
    ms,
    examples_per_s: (1000 * examples) / ms,
    peak_rss_mb: peakRssMb(),
    threads,
    first_logits: Array.from(first),
  };
}

/**
 * gotune's inference (the classifier's fast path, predictLogits) over the batches (after one warm-up pass
 * on the longest), its encoder products in `dtype`.
 */
function runGotune(preset: string, batches: TokenBatch[], dtype: Dtype = "fp32"): EngineResult {
  const model = makeModel(preset);
  model.setDtype(dtype);
  const feeds = batches.map((b) => ({
    inputIds: Int32Array.from(b.ids),
    tokenTypeIds: new Int32Array(b.ids.length),
    attentionMask: Int32Array.from(b.mask),
    batchSize: b.batch,
    seqLen: b.seq,
  }));
  const first = Float32Array.from(model.predictLogits(feeds[0]!));
  const t0 = performance.now();
  for (const f of feeds) model.predictLogits(f);
  return summarise(`gotune ${dtype}`, batches, performance.now() - t0, getThreads(), first);
}

/** Writes gotune's export of the preset's model (the same weights runGotune builds) to `file`. */
function exportModel(preset: string, file: string): void {
  writeFileSync(file, classifierToOnnx(makeModel(preset)));
}

/** onnxruntime-node's inference of gotune's export over the same batches (after one warm-up pass). */
async function runOrt(onnxFile: string, batches: TokenBatch[], s: OrtSettings): Promise<EngineResult> {
  const session = await ort.InferenceSession.create(onnxFile, {
    graphOptimizationLevel: s.opt,
    intraOpNumThreads: s.threads,
    interOpNumThreads: 1,
    executionMode: s.mode,
    extra: { session: { intra_op: { allow_spinning: s.spin ? "1" : "0" } } },
  });
  const t = (a: number[], b: TokenBatch) =>
    new ort.Tensor("int64", BigInt64Array.from(a, BigInt), [b.batch, b.seq]);
  const feeds = batches.map((b) => ({
    input_ids: t(b.ids, b),
    attention_mask: t(b.mask, b),
    token_type_ids: t(new Array<number>(b.ids.length).fill(0), b),
  }));
  const first = (await session.run(feeds[0]!)).logits!.data as Float32Array;
  const t0 = performance.now();
  for (const f of feeds) await session.run(f);
  const ms = performance.now() - t0;
  await session.release();
  return summarise("ort", batches, ms, s.threads, first);
}

const HERE = fileURLToPath(import.meta.url);

function runChild(args: string[]): EngineResult {
  const r = spawnSync(process.execPath, [HERE, ...args], { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`ort bench child failed (${r.status}): ${r.stderr.trim()}`);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as EngineResult;
}

const settingsArgs = (s: OrtSettings) => [
  "--opt",
  s.opt,
  "--threads",
  String(s.threads),
  "--mode",
  s.mode,
  "--spin",
  s.spin ? "1" : "0",
];

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");
const maxDiff = (a: number[], b: number[]) =>
  Math.max(...a.map((v, i) => Math.abs(v - (b[i] ?? Number.NaN))));

/**
 * For each preset, gotune and onnxruntime (tuned settings) on the same GO batches at batch 8 and 32:
 * prints examples/s and gotune / ort, returns the figures for the bench's JSON line (the first preset
 * unprefixed, the others prefixed `preset_`).
 */
export async function benchOrt(
  presets: string[],
  opts: { batchSizes?: number[]; examples?: number } = {},
): Promise<Record<string, number | null>> {
  const summary: Record<string, number | null> = {};
  const work = mkdtempSync(join(tmpdir(), "gotune-bench-ort-"));
  try {
    process.stdout.write(
      `\nonnxruntime-node ${ort.env.versions.common}, gotune's ONNX export, same length-sorted batches of GO ` +
        `definitions (max_length ${MAX_LENGTH}); ort: graph optimisation ${ORT_TUNED.opt}, ` +
        `${ORT_TUNED.threads} intra-op threads, ${ORT_TUNED.mode}; each engine's fastest of ${ROUNDS} alternating ` +
        `runs; load average ${loadavg()[0].toFixed(1)}\n`,
    );
    for (const [i, preset] of presets.entries()) {
      const examples = opts.examples ?? BENCH_EXAMPLES[preset] ?? 512;
      const sets = await goBatches(examples, opts.batchSizes ?? [8, 32]);
      const onnxFile = join(work, `${preset}.onnx`);
      exportModel(preset, onnxFile);
      const key = i === 0 ? "" : `${preset.replace(/-/g, "_")}_`;
      for (const [bs, batches] of sets) {
        const file = join(work, `${preset}-${bs}.json`);
        writeFileSync(file, JSON.stringify(batches));
        const gotune = (d: Dtype) =>
          runChild(["--engine", "gotune", "--preset", preset, "--batches", file, "--dtype", d]);
        const ortRun = () =>
          runChild(["--engine", "ort", "--onnx", onnxFile, "--batches", file, ...settingsArgs(ORT_TUNED)]);
        // bf16 and int8 products against the same ort fp32 runs, where this CPU has them.
        const dtypes: Dtype[] = ["fp32", ...LOW_DTYPES.filter((d) => usableDtype(d, () => {}) === d)];
        const best = new Map<string, EngineResult>();
        const keep = (name: string, r: EngineResult) => {
          const b = best.get(name);
          if (!b || r.examples_per_s > b.examples_per_s) best.set(name, r);
        };
        for (let round = 0; round < ROUNDS; round++) {
          keep("ort", ortRun());
          for (const d of dtypes) keep(d, gotune(d));
        }
        const ours = best.get("fp32")!,
          theirs = best.get("ort")!;
        const ratio = ours.examples_per_s / theirs.examples_per_s;
        const low = LOW_DTYPES.filter((d) => best.has(d)).map((d) => ({ d, r: best.get(d)! }));
        process.stdout.write(
          `${preset.padEnd(9)} batch ${String(bs).padStart(2)}: ${ours.examples} examples, mean length ` +
            `${fmt(ours.mean_seq)}: gotune ${fmt(ours.examples_per_s).padStart(6)} ex/s ` +
            `(${fmt(ours.peak_rss_mb, 0)} MB), ort ${fmt(theirs.examples_per_s).padStart(6)} ex/s ` +
            `(${fmt(theirs.peak_rss_mb, 0)} MB); gotune / ort ${fmt(ratio, 2)}x ` +
            `(logits agree to ${maxDiff(ours.first_logits, theirs.first_logits).toExponential(1)}); ` +
            `load ${loadavg()[0].toFixed(1)}\n`,
        );
        for (const { d, r } of low)
          process.stdout.write(
            `${"".padEnd(9)} batch ${String(bs).padStart(2)}: gotune ${d} ${fmt(r.examples_per_s).padStart(6)} ex/s ` +
              `(${fmt(r.peak_rss_mb, 0)} MB); gotune ${d} / ort fp32 ${fmt(r.examples_per_s / theirs.examples_per_s, 2)}x ` +
              `(logits agree to ${maxDiff(r.first_logits, theirs.first_logits).toExponential(1)}); ` +
              `load ${loadavg()[0].toFixed(1)}\n`,
          );
        const b = bs === 8 ? "" : `b${bs}_`;
        Object.assign(summary, {
          [`${key}ort_${b}infer_examples_per_s`]: theirs.examples_per_s,
          [`${key}go_batches_${b}infer_examples_per_s`]: ours.examples_per_s,
          [`${key}gotune_over_ort_${b}infer`]: ratio,
        });
        for (const d of LOW_DTYPES) {
          const r = low.find((l) => l.d === d)?.r;
          Object.assign(summary, {
            [`${key}go_batches_${d}_${b}infer_examples_per_s`]: r ? r.examples_per_s : null,
            [`${key}gotune_${d}_over_ort_${b}infer`]: r ? r.examples_per_s / theirs.examples_per_s : null,
          });
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return summary;
}

/** Times every onnxruntime setting worth trying on one preset at batch 8 and 32; prints a table. */
async function sweep(preset: string): Promise<void> {
  const sets = await goBatches(BENCH_EXAMPLES[preset] ?? 512, [8, 32]);
  const work = mkdtempSync(join(tmpdir(), "gotune-bench-ort-"));
  const onnxFile = join(work, `${preset}.onnx`);
  exportModel(preset, onnxFile);
  const n = cpus().length;
  const tries: OrtSettings[] = [
    ORT_TUNED,
    { ...ORT_TUNED, opt: "extended" },
    { ...ORT_TUNED, opt: "basic" },
    { ...ORT_TUNED, threads: 1 },
    { ...ORT_TUNED, mode: "parallel" },
    { ...ORT_TUNED, spin: false },
  ];
  try {
    for (const [bs, batches] of sets) {
      const file = join(work, `${bs}.json`);
      writeFileSync(file, JSON.stringify(batches));
      for (const threads of [n, 1]) {
        const ours = runChild([
          "--engine",
          "gotune",
          "--preset",
          preset,
          "--batches",
          file,
          "--threads",
          String(threads),
        ]);
        process.stdout.write(
          `${preset} batch ${bs}: gotune, ${threads} threads: ${fmt(ours.examples_per_s).padStart(6)} ex/s; ` +
            `load ${loadavg()[0].toFixed(1)}\n`,
        );
      }
      for (const s of tries) {
        const r = runChild(["--engine", "ort", "--onnx", onnxFile, "--batches", file, ...settingsArgs(s)]);
        process.stdout.write(
          `  ort opt ${s.opt.padEnd(8)} threads ${s.threads} ${s.mode.padEnd(10)} spin ${s.spin ? "on " : "off"}: ` +
            `${fmt(r.examples_per_s).padStart(6)} ex/s; load ${loadavg()[0].toFixed(1)}\n`,
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function child(): Promise<void> {
  const preset = arg("--preset") ?? "bert-mini";
  const batches = JSON.parse(readFileSync(arg("--batches")!, "utf8")) as TokenBatch[];
  const engine = arg("--engine");
  if (engine === "gotune" && arg("--threads")) setThreads(Number(arg("--threads")));
  const r =
    engine === "gotune"
      ? runGotune(preset, batches, (arg("--dtype") ?? "fp32") as Dtype)
      : await runOrt(arg("--onnx")!, batches, {
          opt: (arg("--opt") ?? ORT_TUNED.opt) as OrtSettings["opt"],
          threads: Number(arg("--threads") ?? ORT_TUNED.threads),
          mode: (arg("--mode") ?? ORT_TUNED.mode) as OrtSettings["mode"],
          spin: arg("--spin") !== "0",
        });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === HERE) {
  const main = arg("--engine")
    ? child()
    : process.argv.includes("--sweep")
      ? (async () => {
          for (const p of arg("--only") ? [arg("--only")!] : ["bert-mini", "mbert"]) await sweep(p);
        })()
      : benchOrt(arg("--only") ? [arg("--only")!] : ["mbert", "bert-mini"], {
          batchSizes: arg("--batch") ? [Number(arg("--batch"))] : undefined,
          examples: arg("--examples") ? Number(arg("--examples")) : undefined,
        }).then((s) => process.stdout.write(`${JSON.stringify(s)}\n`));
  main.catch((err) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
