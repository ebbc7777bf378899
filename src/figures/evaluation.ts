/** Figures of what a model got right and wrong: the learning curve of several models, and a confusion matrix. */
import { type Figure, VL_CONFIG, vegaLiteFigure } from "./render.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** One point of a learning curve: a model's scores after training on `examples` examples. */
export interface CurvePoint {
  model: string;
  examples: number;
  accuracy: number;
  macro_f1: number;
}

/** Accuracy and macro-F1 against training examples (log scale), one line per model, side by side. */
export async function learningCurveFigure(points: readonly CurvePoint[], subtitle: string): Promise<Figure> {
  const values = points.flatMap((p) => [
    { model: p.model, examples: p.examples, metric: "accuracy", value: p.accuracy },
    { model: p.model, examples: p.examples, metric: "macro-F1", value: p.macro_f1 },
  ]);
  const spec = {
    $schema: SCHEMA,
    config: VL_CONFIG,
    title: { text: "Learning curve: what pre-training bought", subtitle },
    data: { values },
    facet: { column: { field: "metric", type: "nominal", title: null, sort: ["accuracy", "macro-F1"] } },
    spec: {
      width: 330,
      height: 300,
      mark: { type: "line", point: { size: 40 } },
      encoding: {
        x: {
          field: "examples",
          type: "quantitative",
          scale: { type: "log" },
          title: "training examples (log scale)",
        },
        y: {
          field: "value",
          type: "quantitative",
          scale: { zero: false },
          title: "score on the test examples",
        },
        color: {
          field: "model",
          type: "nominal",
          title: null,
          legend: { orient: "bottom", labelLimit: 400 },
        },
      },
    },
    resolve: { scale: { y: "shared" } },
  };
  return vegaLiteFigure("learning_curve", spec);
}

/** A confusion matrix as a heat map with the counts written in (rows: true aspect, columns: predicted). */
export async function confusionFigure(
  labels: readonly string[],
  matrix: readonly number[][],
  subtitle: string,
): Promise<Figure> {
  const values = matrix.flatMap((row, i) =>
    row.map((n, j) => {
      const total = row.reduce((a, b) => a + b, 0);
      return { truth: labels[i], predicted: labels[j], n, share: total ? n / total : 0 };
    }),
  );
  const spec = {
    $schema: SCHEMA,
    config: VL_CONFIG,
    title: { text: "Confusion matrix (test split)", subtitle },
    width: 360,
    height: 300,
    data: { values },
    encoding: {
      x: {
        field: "predicted",
        type: "nominal",
        sort: labels,
        title: "predicted aspect",
        axis: { labelAngle: 0 },
      },
      y: { field: "truth", type: "nominal", sort: labels, title: "true aspect" },
    },
    layer: [
      {
        mark: "rect",
        encoding: {
          color: {
            field: "share",
            type: "quantitative",
            scale: { type: "sqrt", scheme: "blues", domain: [0, 1] },
            title: "share of the row",
          },
        },
      },
      {
        mark: { type: "text", fontSize: 15 },
        encoding: {
          text: { field: "n", type: "quantitative", format: "," },
          color: { condition: { test: "datum.share > 0.5", value: "white" }, value: "#222" },
        },
      },
    ],
  };
  return vegaLiteFigure("confusion_matrix", spec);
}
