/**
 * `npm run bench`: gotune's BERT training and inference beside PyTorch's reference workload, each in
 * its own child process, at the study's shape (mbert, batch 8, sequence 100) and a compact one
 * (bert-mini); first the OBO parser and the tokenizer. The last line is one JSON object.
 */
import { cpus, loadavg, totalmem } from "node:os";
import {
  type BenchResult,
  type BenchShape,
  forwardFlopsPerExample,
  runGotuneChild,
  runTorchChild,
  torchMissing,
} from "./bert.js";
import { benchObo } from "./obo.js";
import { benchTokenizer } from "./tokenizer.js";

const ALL_SHAPES: BenchShape[] = [
  { preset: "mbert", batch: 8, seq: 100, steps: 5 },
  { preset: "bert-mini", batch: 8, seq: 100, steps: 10 },
];

/** `--only PRESET` runs one shape, `--steps N` changes the timed step count (for quick looks). */
function shapesFromArgs(argv: string[]): BenchShape[] {
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const only = at("--only");
  const steps = at("--steps") === undefined ? undefined : Number(at("--steps"));
  const shapes = ALL_SHAPES.filter((s) => !only || s.preset === only).map((s) => ({
    ...s,
    steps: steps ?? s.steps,
  }));
  if (!shapes.length)
    throw new Error(`--only ${only}: not one of ${ALL_SHAPES.map((s) => s.preset).join(", ")}`);
  return shapes;
}

const fmt = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d));

function line(label: string, r: BenchResult, shape: BenchShape): string {
  const fwd = forwardFlopsPerExample(shape.preset, shape.seq) / 1e9;
  const tr = r.train_examples_per_s ?? Number.NaN;
  const inf = r.infer_examples_per_s ?? Number.NaN;
  return (
    `  ${label.padEnd(8)} train ${fmt(tr).padStart(7)} ex/s ${fmt(3 * fwd * tr, 1).padStart(6)} GFLOP/s` +
    `   infer ${fmt(inf).padStart(7)} ex/s ${fmt(fwd * inf, 1).padStart(6)} GFLOP/s` +
    `   peak RSS ${fmt(r.peak_rss_mb, 0).padStart(5)} MB   threads ${r.threads ?? "-"}`
  );
}

async function main(): Promise<void> {
  const cpu = cpus();
  process.stdout.write(
    `machine: ${cpu.length} x ${cpu[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; ` +
      `OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS ?? "(unset)"}; ` +
      // PyTorch's OpenMP threads spin and collapse when other work shares the cores: a busy machine's
      // figures (load well above the core count) say little.
      `load average ${loadavg()[0].toFixed(1)}\n`,
  );
  const summary: Record<string, unknown> = {};
  summary.obo = await benchObo();
  summary.tokenizer = await benchTokenizer();
  const noTorch = torchMissing();
  if (noTorch) process.stdout.write(`PyTorch is not run: ${noTorch}\n`);
  process.stdout.write(
    "GFLOP/s counts the matrix products only (2 per multiply-add; a training step = 3 forward passes)\n",
  );
  for (const [i, shape] of shapesFromArgs(process.argv.slice(2)).entries()) {
    const fwd = forwardFlopsPerExample(shape.preset, shape.seq);
    process.stdout.write(
      `\n${shape.preset}: batch ${shape.batch}, sequence ${shape.seq}, ${shape.steps} timed steps ` +
        `(${(fwd / 1e9).toFixed(2)} GFLOP per example forward)\n`,
    );
    const ours = runGotuneChild(shape);
    process.stdout.write(`${line("gotune", ours, shape)}\n`);
    let torch: BenchResult | undefined;
    if (!noTorch) {
      try {
        torch = runTorchChild(shape);
      } catch (err) {
        process.stdout.write(`  pytorch  did not run: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    if (torch) {
      process.stdout.write(`${line("pytorch", torch, shape)}\n`);
      const ratio = (a?: number, b?: number) => (a && b ? a / b : Number.NaN);
      process.stdout.write(
        `  gotune / pytorch: train ${fmt(ratio(ours.train_examples_per_s, torch.train_examples_per_s))}x, ` +
          `infer ${fmt(ratio(ours.infer_examples_per_s, torch.infer_examples_per_s))}x, ` +
          `peak RSS ${fmt(ratio(ours.peak_rss_mb, torch.peak_rss_mb))}x\n`,
      );
    }
    const key = i === 0 ? "" : `${shape.preset.replace(/-/g, "_")}_`;
    Object.assign(summary, {
      [`${key}train_examples_per_s`]: ours.train_examples_per_s,
      [`${key}infer_examples_per_s`]: ours.infer_examples_per_s,
      [`${key}peak_rss_mb`]: ours.peak_rss_mb,
      [`${key}train_gflops`]: (3 * fwd * (ours.train_examples_per_s ?? 0)) / 1e9,
      [`${key}infer_gflops`]: (fwd * (ours.infer_examples_per_s ?? 0)) / 1e9,
      [`${key}torch_train_examples_per_s`]: torch?.train_examples_per_s ?? null,
      [`${key}torch_infer_examples_per_s`]: torch?.infer_examples_per_s ?? null,
      [`${key}torch_peak_rss_mb`]: torch?.peak_rss_mb ?? null,
    });
    if (i === 0) summary.preset = shape.preset;
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
