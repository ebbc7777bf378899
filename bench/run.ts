/**
 * `npm run bench`: gotune's BERT training and inference beside PyTorch's reference workload, each in
 * its own child process, at the study's shape (mbert, batch 8, sequence 100) and a compact one
 * (bert-mini); first the OBO parser and the tokenizer; last onnxruntime-node on GO batches (./ort.ts).
 * The last line is one JSON object.
 */
import { loadavg } from "node:os";
import { mainJobBatches } from "./batches.js";
import {
  type BenchResult,
  type BenchShape,
  forwardFlopsPerExample,
  runGotuneChild,
  runTorchChild,
  torchMissing,
} from "./bert.js";
import { cpuInfo, cpuLine } from "./cpu.js";
import { gemmPeaks } from "./gemm.js";
import { benchObo } from "./obo.js";
import { benchOrt } from "./ort.js";
import { benchTokenizer } from "./tokenizer.js";

const ALL_SHAPES: BenchShape[] = [
  { preset: "mbert", batch: 8, seq: 100, steps: 5 },
  { preset: "bert-mini", batch: 8, seq: 100, steps: 10 },
  // The main job's small shapes (gotune only): pre-training's packed batches, fine-tuning's real ones.
  { preset: "bert-mini", batch: 32, seq: 64, steps: 10, label: "pretrain" },
  { preset: "bert-mini", batch: 16, seq: 0, steps: 48, label: "finetune" },
];

/** The JSON key prefix of a shape's figures: none for the first, else its preset and label. */
const keyOf = (s: BenchShape, i: number) =>
  i === 0 ? "" : `${s.preset.replace(/-/g, "_")}_${s.label ? `${s.label}_` : ""}`;

/**
 * `--only PRESET` runs one shape, `--steps N` changes the timed step count, `--no-ort` skips
 * onnxruntime (for quick looks).
 */
function shapesFromArgs(argv: string[]): BenchShape[] {
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const only = at("--only");
  const steps = at("--steps") === undefined ? undefined : Number(at("--steps"));
  const shapes = ALL_SHAPES.filter((s) => !only || s.preset === only || s.label === only).map((s) => ({
    ...s,
    steps: steps ?? s.steps,
  }));
  if (!shapes.length) throw new Error(`--only ${only}: not one of mbert, bert-mini, pretrain, finetune`);
  return shapes;
}

const fmt = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d));

function line(label: string, r: BenchResult, shape: BenchShape, peak: number): string {
  const fwd = forwardFlopsPerExample(shape.preset, shape.seq) / 1e9;
  const tr = r.train_examples_per_s ?? Number.NaN;
  const inf = r.infer_examples_per_s ?? Number.NaN;
  const trG = r.train_gflops ?? 3 * fwd * tr,
    infG = r.infer_gflops ?? fwd * inf;
  const pct = (g: number) => `(${fmt((100 * g) / peak, 0).padStart(3)}%)`;
  return (
    `  ${label.padEnd(8)} train ${fmt(tr).padStart(7)} ex/s ${fmt(trG, 1).padStart(6)} GFLOP/s ${pct(trG)}` +
    `   infer ${fmt(inf).padStart(7)} ex/s ${fmt(infG, 1).padStart(6)} GFLOP/s ${pct(infG)}` +
    `   peak RSS ${fmt(r.peak_rss_mb, 0).padStart(5)} MB   threads ${r.threads ?? "-"}`
  );
}

async function main(): Promise<void> {
  const cpu = cpuInfo();
  process.stdout.write(
    `machine: ${cpuLine(cpu)}; ${new Date().toISOString().slice(0, 16)}Z; ` +
      `OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS ?? "(unset)"}; ` +
      // PyTorch's OpenMP threads spin and collapse when other work shares the cores: a busy machine's
      // figures (load well above the core count) say little.
      `load average ${loadavg()[0].toFixed(1)}\n`,
  );
  const summary: Record<string, unknown> = { cpu, loadavg_start: loadavg()[0] };
  summary.obo = await benchObo();
  summary.tokenizer = await benchTokenizer();
  const peaks = gemmPeaks();
  const peak = Math.max(peaks.fp32_openblas, peaks.fp32_onednn, peaks.fp32_packed);
  process.stdout.write(
    `GEMM peak (1024^3, all cores): fp32 OpenBLAS ${fmt(peaks.fp32_openblas, 0)} GFLOP/s, fp32 oneDNN ` +
      `${fmt(peaks.fp32_onednn, 0)}, fp32 oneDNN on a packed weight ${fmt(peaks.fp32_packed, 0)}, bf16 oneDNN ` +
      `${peaks.bf16 === null ? "unavailable" : fmt(peaks.bf16, 0)}; percentages below are of the best fp32 peak\n`,
  );
  summary.gemm_peak = peaks;
  const noTorch = torchMissing();
  if (noTorch) process.stdout.write(`PyTorch is not run: ${noTorch}\n`);
  process.stdout.write(
    "GFLOP/s counts the matrix products only (2 per multiply-add; a training step = 3 forward passes)\n",
  );
  const shapes = shapesFromArgs(process.argv.slice(2));
  for (const [i, s] of shapes.entries()) {
    const shape = s.label === "finetune" ? { ...s, rows: await mainJobBatches(s.steps, s.batch) } : s;
    const fwd = forwardFlopsPerExample(shape.preset, shape.seq);
    process.stdout.write(
      shape.rows
        ? `\n${shape.preset}, the main job's fine-tuning: ${shape.rows.length} real length-grouped batches of ` +
            `${shape.batch} GO definitions (sequence ${Math.min(...shape.rows.map((r) => Math.max(...r)))} to ` +
            `${Math.max(...shape.rows.flat())}), each run once\n`
        : `\n${shape.preset}${shape.label ? `, the main job's ${shape.label} shape` : ""}: batch ${shape.batch}, ` +
            `sequence ${shape.seq}, ${shape.steps} timed steps (${(fwd / 1e9).toFixed(2)} GFLOP per example forward)\n`,
    );
    const ours = runGotuneChild(shape);
    process.stdout.write(`${line("gotune", ours, shape, peak)}\n`);
    let torch: BenchResult | undefined;
    if (!noTorch && !shape.label) {
      try {
        torch = runTorchChild(shape);
      } catch (err) {
        process.stdout.write(`  pytorch  did not run: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    if (torch) {
      process.stdout.write(`${line("pytorch", torch, shape, peak)}\n`);
      const ratio = (a?: number, b?: number) => (a && b ? a / b : Number.NaN);
      process.stdout.write(
        `  gotune / pytorch: train ${fmt(ratio(ours.train_examples_per_s, torch.train_examples_per_s))}x, ` +
          `infer ${fmt(ratio(ours.infer_examples_per_s, torch.infer_examples_per_s))}x, ` +
          `peak RSS ${fmt(ratio(ours.peak_rss_mb, torch.peak_rss_mb))}x\n`,
      );
    }
    const key = keyOf(shape, i);
    Object.assign(summary, {
      [`${key}train_examples_per_s`]: ours.train_examples_per_s,
      [`${key}infer_examples_per_s`]: ours.infer_examples_per_s,
      [`${key}peak_rss_mb`]: ours.peak_rss_mb,
      [`${key}train_gflops`]: ours.train_gflops,
      [`${key}infer_gflops`]: ours.infer_gflops,
      [`${key}torch_train_examples_per_s`]: torch?.train_examples_per_s ?? null,
      [`${key}torch_infer_examples_per_s`]: torch?.infer_examples_per_s ?? null,
      [`${key}torch_peak_rss_mb`]: torch?.peak_rss_mb ?? null,
    });
    if (i === 0) summary.preset = shape.preset;
  }
  const mini = summary.bert_mini_train_gflops as number | undefined;
  for (const label of ["pretrain", "finetune"]) {
    const g = summary[`bert_mini_${label}_train_gflops`] as number | undefined;
    if (mini && g)
      process.stdout.write(
        `bert-mini ${label} shapes: training at ${fmt((100 * g) / mini, 0)}% of the bench's bert-mini GFLOP/s ` +
          `(target 70%)\n`,
      );
  }
  // onnxruntime on GO batches at the presets' own shapes (not the main job's labelled ones).
  const presets = [...new Set(shapes.filter((s) => !s.label).map((s) => s.preset))];
  if (!process.argv.includes("--no-ort") && presets.length) Object.assign(summary, await benchOrt(presets));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
