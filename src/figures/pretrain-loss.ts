/** The pre-training loss figure: training loss (mean over windows of steps) beside the held-out loss. */
import { type Figure, VL_CONFIG, vegaLiteFigure } from "./render.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** The run the subtitle describes. */
export interface PretrainRun {
  layers: number;
  hiddenSize: number;
  vocabSize: number;
  sequences: number;
  steps: number;
  passes: number;
  trainingSeconds: number;
  /** The share of tokens chosen for masking (0.15). */
  mlmProbability: number;
}

/** The figure from the log's training steps (step, loss) and the held-out curve. */
export async function pretrainLossFigure(
  train: readonly { step: number; loss: number }[],
  heldOut: readonly { step: number; loss: number }[],
  run: PretrainRun,
): Promise<Figure> {
  // About 100 points: a long run's per-step losses averaged over windows.
  const w = Math.max(1, Math.round(train.length / 100));
  const values: { step: number; loss: number; series: string }[] = [];
  for (let i = 0; i < train.length; i += w) {
    const part = train.slice(i, i + w);
    values.push({
      step: part[part.length - 1]!.step,
      loss: part.reduce((a, p) => a + p.loss, 0) / part.length,
      series: w > 1 ? `training batches (mean of ${w} steps)` : "training batches",
    });
  }
  for (const p of heldOut) values.push({ step: p.step, loss: p.loss, series: "held-out sequences" });
  const spec = {
    $schema: SCHEMA,
    config: VL_CONFIG,
    title: {
      text: "Masked-language-model pre-training",
      subtitle: [
        `${run.layers} layers × ${run.hiddenSize}, vocabulary ${run.vocabSize}; ` +
          `${run.sequences.toLocaleString("en-US")} sequences, ${run.steps} steps (${run.passes.toFixed(2)} passes) ` +
          `in ${run.trainingSeconds.toFixed(0)} s`,
        `Cross-entropy over the chosen tokens (${Math.round(run.mlmProbability * 100)}% chosen: 80% [MASK], 10% random, 10% kept).`,
      ],
    },
    width: 640,
    height: 340,
    data: { values },
    mark: { type: "line", point: { size: 30 } },
    encoding: {
      x: { field: "step", type: "quantitative", title: "optimiser step" },
      y: { field: "loss", type: "quantitative", title: "MLM loss (nats)", scale: { zero: false } },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        legend: { orient: "top-right", labelLimit: 400 },
      },
    },
  };
  return vegaLiteFigure("pretrain_loss", spec);
}
