/** A pie chart of a document's mean probability per label (the study's figure for a paper's text). */

import { type Figure, VL_CONFIG, vegaLiteFigure } from "./render.js";
import { ASPECT_COLORS } from "./theme.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
// Labels that are not GO aspects (a model with other classes) get the Okabe–Ito hues that remain.
const SPARE = ["#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999", "#000000"];

/** The pie of `mean` (label -> mean probability), titled with the document's name and sentence count. */
export async function meanProbabilityPie(
  mean: Record<string, number>,
  caption: string,
  name = "mean_probability_pie",
): Promise<Figure> {
  const labels = Object.keys(mean);
  let spare = 0;
  const colors = labels.map(
    (l) => (ASPECT_COLORS as Record<string, string>)[l] ?? SPARE[spare++ % SPARE.length]!,
  );
  const total = labels.reduce((s, l) => s + mean[l]!, 0) || 1;
  const pct = (l: string) => `${((100 * mean[l]!) / total).toFixed(1)}%`;
  // The legend names every slice with its share; slices too thin for a readable label get none inside.
  const keys = labels.map((l) => `${l}  ${pct(l)}`);
  const values = labels.map((label, i) => ({
    key: keys[i],
    order: i,
    p: mean[label]!,
    text: mean[label]! / total >= 0.04 ? pct(label) : "",
  }));
  const spec = {
    $schema: SCHEMA,
    config: { ...VL_CONFIG, legend: { ...VL_CONFIG.legend, labelFontSize: 14, symbolSize: 220 } },
    title: {
      text: labels.every((l) => l in ASPECT_COLORS)
        ? "Mean probability per GO aspect"
        : "Mean probability per label",
      subtitle: caption,
    },
    width: 380,
    height: 380,
    data: { values },
    encoding: {
      theta: { field: "p", type: "quantitative", stack: true },
      order: { field: "order", type: "ordinal" },
      color: {
        field: "key",
        type: "nominal",
        sort: keys,
        scale: { domain: keys, range: colors },
        legend: { title: null, orient: "right", direction: "vertical", labelLimit: 400, offset: 24 },
      },
    },
    layer: [
      { mark: { type: "arc", outerRadius: 170, innerRadius: 0, stroke: "white", strokeWidth: 2 } },
      {
        mark: { type: "text", radius: 120, fontSize: 17, fontWeight: "bold", fill: "white" },
        encoding: { text: { field: "text", type: "nominal" } },
      },
    ],
  };
  return vegaLiteFigure(name, spec);
}
