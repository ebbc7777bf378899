/** The training-curve figure: loss per step (raw and smoothed) beside eval accuracy and macro-F1 per epoch. */
import { type Figure, VL_CONFIG, vegaLiteFigure } from "./render.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
/** Points drawn per line at most; longer runs are thinned evenly (the smoothing sees every step). */
const MAX_POINTS = 1500;

/**
 * Exponential moving average with bias correction (as TensorBoard smooths), over a window of about
 * 1/20 of the run (at most 100 steps), so a short run is not flattened and a long one is readable.
 */
export function smoothLoss(losses: readonly number[]): number[] {
  const window = Math.max(1, Math.min(100, losses.length / 20));
  const w = 1 - 1 / window;
  const out: number[] = [];
  let ema = 0;
  let norm = 0;
  for (const x of losses) {
    ema = w * ema + (1 - w) * x;
    norm = w * norm + (1 - w);
    out.push(ema / norm);
  }
  return out;
}

/**
 * The figure from the log's train records (step, loss) and eval records (epoch, accuracy, macro_f1 and
 * the step it came at, drawn as a dashed rule on the loss panel).
 */
export async function trainingCurve(
  steps: readonly { step: number; loss: number }[],
  evals: readonly { epoch: number; step?: number; accuracy: number; macro_f1: number }[],
): Promise<Figure> {
  const smooth = smoothLoss(steps.map((s) => s.loss));
  const every = Math.max(1, Math.ceil(steps.length / MAX_POINTS));
  const lossValues: { step: number; loss: number; series: string }[] = [];
  for (let i = 0; i < steps.length; i++) {
    if (i % every !== 0 && i !== steps.length - 1) continue;
    lossValues.push({ step: steps[i]!.step, loss: steps[i]!.loss, series: "per step" });
    lossValues.push({ step: steps[i]!.step, loss: smooth[i]!, series: "smoothed" });
  }
  const evalValues = evals.flatMap((e) => [
    { epoch: e.epoch, metric: "accuracy", value: e.accuracy },
    { epoch: e.epoch, metric: "macro-F1", value: e.macro_f1 },
  ]);
  const last = evals[evals.length - 1];
  const spec = {
    $schema: SCHEMA,
    config: VL_CONFIG,
    title: {
      text: "Fine-tuning",
      subtitle: last
        ? `${steps.length.toLocaleString("en-US")} steps; after epoch ${last.epoch}: accuracy ${last.accuracy.toFixed(4)}, macro-F1 ${last.macro_f1.toFixed(4)}`
        : `${steps.length.toLocaleString("en-US")} steps; no evaluation yet`,
    },
    // Each panel its own colours and legend (vega-lite would otherwise merge them).
    resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
    hconcat: [
      {
        width: 480,
        height: 320,
        title: "training loss",
        layer: [
          {
            data: { values: lossValues },
            mark: { type: "line", clip: true },
            encoding: {
              x: { field: "step", type: "quantitative", title: "optimiser step", scale: { nice: false } },
              y: { field: "loss", type: "quantitative", title: "cross-entropy loss", scale: { zero: true } },
              color: {
                field: "series",
                type: "nominal",
                scale: { domain: ["per step", "smoothed"], range: ["#c6dbef", "#08519c"] },
                legend: { title: null, orient: "top-right" },
              },
              strokeWidth: { condition: { test: "datum.series === 'smoothed'", value: 2.5 }, value: 1 },
            },
          },
          {
            // Where each epoch ended and was evaluated.
            data: { values: evals.filter((e) => e.step !== undefined).map((e) => ({ step: e.step })) },
            mark: { type: "rule", strokeDash: [4, 4], color: "#888" },
            encoding: { x: { field: "step", type: "quantitative" } },
          },
        ],
      },
      {
        width: 320,
        height: 320,
        title: "evaluation after each epoch",
        data: { values: evalValues },
        mark: { type: "line", point: { size: 60 } },
        encoding: {
          x: {
            field: "epoch",
            type: "quantitative",
            title: "epoch",
            axis: { tickMinStep: 1, format: "d" },
          },
          y: { field: "value", type: "quantitative", title: "score", scale: { zero: false } },
          color: {
            field: "metric",
            type: "nominal",
            scale: { domain: ["accuracy", "macro-F1"], range: ["#d95f02", "#1b9e77"] },
            legend: { title: null, orient: "bottom-right" },
          },
        },
      },
    ],
  };
  return vegaLiteFigure("training-curve", spec);
}
