/**
 * The BERT workload of `npm run bench`, mirroring ../shared/bench/torch_bert.py: training steps
 * (forward, backward, clipping, AdamW) and inference of BertForSequenceClassification on a random batch.
 * Run as a child process (`node dist/bench/bert.js --preset P ...`) so its peak RSS is its own.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BertForSequenceClassification } from "../src/model/bert.js";
import { makeConfig } from "../src/model/config.js";
import { getThreads } from "../src/native/index.js";
import { AdamW } from "../src/train/adamw.js";
import { clipCoefficient, globalGradNorm } from "../src/train/clip.js";
import { Rng } from "../src/util/rng.js";

/** One framework's figures for one shape, in torch_bert.py's JSON field names. */
export interface BenchResult {
  framework: string;
  preset: string;
  batch: number;
  seq: number;
  threads?: number;
  params?: number;
  train_ms_per_step?: number;
  train_examples_per_s?: number;
  infer_ms_per_batch?: number;
  infer_examples_per_s?: number;
  /** Matrix-product GFLOP/s, given when the batches vary in shape (`rows`). */
  train_gflops?: number;
  infer_gflops?: number;
  peak_rss_mb: number;
}

/** What to run: a preset of src/model/config.ts, the batch shape and the timed step count. */
export interface BenchShape {
  preset: string;
  batch: number;
  seq: number;
  steps: number;
  /** Instead of one batch × seq: these batches, each a list of row lengths, padded to its longest. */
  rows?: number[][];
  /** What the shape stands for, printed beside it. */
  label?: string;
}

/**
 * Matrix-product FLOPs of one forward pass per example (2 per multiply-add): per layer the four
 * H x H projections, the two FFN products and the two attention products (Q K^T, P V), then the
 * pooler and classifier. A training step counts three times that (the backward pass computes two
 * products, for the input and the weight gradients, for each forward one).
 */
export function forwardFlopsPerExample(preset: string, seq: number, numLabels = 3): number {
  const c = makeConfig({}, preset);
  const h = c.hidden_size;
  const perLayer = 2 * seq * (4 * h * h + 2 * h * c.intermediate_size) + 2 * 2 * seq * seq * h;
  return c.num_hidden_layers * perLayer + 2 * h * h + 2 * h * numLabels;
}

/** Runs gotune's workload in this process and returns its figures. */
export function benchGotune(shape: BenchShape): BenchResult {
  const { preset, steps } = shape;
  const config = makeConfig({}, preset);
  const model = new BertForSequenceClassification(config, { seed: 0, numLabels: 3 });
  const rng = new Rng(0);
  const makeBatch = (lens: number[]) => {
    const b = lens.length,
      t = Math.max(...lens);
    const attentionMask = new Int32Array(b * t);
    for (const [i, len] of lens.entries()) attentionMask.fill(1, i * t, i * t + len);
    return {
      inputIds: new Int32Array(b * t).map((_, i) =>
        attentionMask[i] ? 1 + rng.int(config.vocab_size - 1) : 0,
      ),
      tokenTypeIds: new Int32Array(b * t),
      attentionMask,
      batchSize: b,
      seqLen: t,
      labels: new Int32Array(b).map(() => rng.int(3)),
    };
  };
  // A fixed shape is one batch run `steps` times; real shapes are their batches, each run once.
  const batches = shape.rows
    ? shape.rows.map(makeBatch)
    : [makeBatch(new Array<number>(shape.batch).fill(shape.seq))];
  const rounds = shape.rows ? 1 : steps;
  const examples = rounds * batches.reduce((s, b) => s + b.batchSize, 0);
  const fwdFlops =
    rounds * batches.reduce((s, b) => s + b.batchSize * forwardFlopsPerExample(preset, b.seqLen), 0);
  const params = model.params();
  // torch_bert.py's optimiser: AdamW(lr=5e-5) with torch's default weight decay 0.01, clipping at 1.0.
  const opt = new AdamW(params, { lr: 5e-5, weightDecay: 0.01 });
  const trainStep = (batch: (typeof batches)[number]) => {
    model.zeroGrad();
    model.forward(batch, { train: true });
    model.backward();
    opt.step({ gradScale: clipCoefficient(globalGradNorm(params), 1.0) });
  };
  for (const b of batches) trainStep(b); // warm-up: buffers at their largest, code compiled
  let t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (const b of batches) trainStep(b);
  const trainMs = performance.now() - t0;
  for (const b of batches) model.forward(b, { train: false });
  t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (const b of batches) model.forward(b, { train: false });
  const inferMs = performance.now() - t0;
  const timedSteps = rounds * batches.length;
  return {
    framework: "gotune",
    preset,
    batch: shape.batch,
    seq: shape.seq,
    threads: getThreads(),
    params: params.reduce((s, p) => s + p.data.length, 0),
    train_ms_per_step: trainMs / timedSteps,
    train_examples_per_s: (1000 * examples) / trainMs,
    infer_ms_per_batch: inferMs / timedSteps,
    infer_examples_per_s: (1000 * examples) / inferMs,
    train_gflops: (3 * fwdFlops) / trainMs / 1e6,
    infer_gflops: fwdFlops / inferMs / 1e6,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
}

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root (this file runs from dist/bench). */
export const REPO = resolve(HERE, "..", "..");
/** The PyTorch reference workload, kept beside the repository. */
export const TORCH_SCRIPT = resolve(REPO, "..", "shared", "bench", "torch_bert.py");
/** Debian's Python, the one with torch (the pyenv python3 first on PATH has none). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

function lastJsonLine(text: string): unknown {
  const lines = text.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

/** Runs gotune's workload in a child process (so its peak RSS is measured alone). */
export function runGotuneChild(shape: BenchShape): BenchResult {
  const args = [join(HERE, "bert.js"), "--preset", shape.preset, "--batch", String(shape.batch)];
  args.push("--seq", String(shape.seq), "--steps", String(shape.steps));
  if (shape.rows) args.push("--rows", JSON.stringify(shape.rows));
  const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`gotune bench child failed (${r.status}): ${r.stderr.trim()}`);
  return lastJsonLine(r.stdout) as BenchResult;
}

/** Why torch cannot run here, or undefined when it can. */
export function torchMissing(): string | undefined {
  if (!existsSync(TORCH_SCRIPT)) return `${TORCH_SCRIPT} is missing`;
  const r = spawnSync(SYSTEM_PYTHON, ["-c", "import torch"], { encoding: "utf8" });
  if (r.error) return `${SYSTEM_PYTHON} cannot be run (${r.error.message})`;
  if (r.status !== 0) return `${SYSTEM_PYTHON} cannot import torch (apt-get install -y python3-torch)`;
  return undefined;
}

/**
 * The reference's environment, as a careful user sets it here: OMP_WAIT_POLICY=passive, because torch's
 * OpenMP threads and OpenBLAS's own pthreads share the two cores (libgomp's default spinning halved its
 * training speed at bert-mini: 9.5 against 17.7 ex/s). Set explicitly, not inherited from gotune's
 * settings in this process (GOMP_SPINCOUNT is gotune's).
 */
const TORCH_ENV: NodeJS.ProcessEnv = (() => {
  const { GOMP_SPINCOUNT: _, ...env } = process.env;
  return { ...env, OMP_WAIT_POLICY: "passive" };
})();

/** Runs ../shared/bench/torch_bert.py with Debian's Python and returns its JSON figures. */
export function runTorchChild(shape: BenchShape): BenchResult {
  const args = [
    TORCH_SCRIPT,
    "--preset",
    shape.preset,
    "--batch",
    String(shape.batch),
    "--seq",
    String(shape.seq),
  ];
  args.push("--steps", String(shape.steps), "--json");
  const r = spawnSync(SYSTEM_PYTHON, args, { encoding: "utf8", maxBuffer: 1 << 24, env: TORCH_ENV });
  if (r.status !== 0) throw new Error(`torch_bert.py failed (${r.status}): ${r.stderr.trim()}`);
  return lastJsonLine(r.stdout) as BenchResult;
}

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = benchGotune({
    preset: argValue("--preset", "mbert"),
    batch: Number(argValue("--batch", "8")),
    seq: Number(argValue("--seq", "100")),
    steps: Number(argValue("--steps", "3")),
    rows: process.argv.includes("--rows") ? (JSON.parse(argValue("--rows", "[]")) as number[][]) : undefined,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
