/** The study's two charts, as vega-lite specs: definition length per aspect, and the class distribution. */
import { ASPECTS, type Aspect } from "../data/terms.js";
import { type Figure, VL_CONFIG, vegaLiteFigure } from "./render.js";
import { ASPECT_RANGE } from "./theme.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const fmt = (n: number) => n.toLocaleString("en-US");
/** Axis labels `aspect (label code)`, so the chart shows the codes the dataset uses. */
const LABEL_EXPR = `datum.value + " (" + indexof(${JSON.stringify(ASPECTS)}, datum.value) + ")"`;

/** A boxplot of definition word counts per aspect (whiskers at 1.5 IQR, outliers as faint dots). */
export async function wordCountBoxplot(
  terms: readonly { aspect: Aspect; def_word_count: number }[],
): Promise<Figure> {
  const counts = Object.fromEntries(ASPECTS.map((a) => [a, 0])) as Record<Aspect, number>;
  for (const t of terms) counts[t.aspect]++;
  const values = terms.map((t) => ({ aspect: t.aspect, words: t.def_word_count }));
  const spec = {
    $schema: SCHEMA,
    config: VL_CONFIG,
    title: {
      text: "Definition length per GO aspect",
      subtitle: [
        `Words per definition (runs of \\w): quartile boxes, median (value beside), whiskers at 1.5 × IQR, outlier dots.`,
        ASPECTS.map((a) => `${a}: n = ${fmt(counts[a])}`).join("  ·  "),
      ],
    },
    width: 660,
    height: 420,
    data: { values },
    encoding: {
      x: {
        field: "aspect",
        type: "nominal",
        sort: ASPECTS,
        title: "GO aspect",
        axis: { labelAngle: 0, grid: false },
      },
    },
    layer: [
      {
        mark: {
          type: "boxplot",
          extent: 1.5,
          size: 90,
          median: { color: "white", strokeWidth: 3 },
          outliers: { size: 10, opacity: 0.25 },
          rule: { color: "#444" },
        },
        encoding: {
          y: { field: "words", type: "quantitative", title: "words in the definition" },
          color: {
            field: "aspect",
            type: "nominal",
            scale: { domain: ASPECTS, range: ASPECT_RANGE },
            legend: null,
          },
        },
      },
      {
        // The median written beside each box, so the figure reads without stats.json.
        transform: [{ aggregate: [{ op: "median", field: "words", as: "median" }], groupby: ["aspect"] }],
        mark: { type: "text", align: "left", dx: 52, fontSize: 13, fontWeight: "bold", color: "#222" },
        encoding: {
          y: { field: "median", type: "quantitative" },
          text: { field: "median", type: "quantitative", format: ".0f" },
        },
      },
    ],
  };
  return vegaLiteFigure("definition_word_counts", spec);
}

/** Grouped bars of train and test counts per aspect, each bar labelled with its count. */
export async function classDistribution(
  sizes: Record<"train" | "test", Record<Aspect, number>>,
  caption: string,
): Promise<Figure> {
  const values = ASPECTS.flatMap((aspect) =>
    (["train", "test"] as const).map((split) => ({ aspect, split, count: sizes[split][aspect] })),
  );
  const total = values.reduce((s, v) => s + v.count, 0);
  const spec = {
    $schema: SCHEMA,
    config: VL_CONFIG,
    title: { text: "Class distribution", subtitle: `${fmt(total)} terms. ${caption}` },
    width: 660,
    height: 420,
    data: { values },
    encoding: {
      x: {
        field: "aspect",
        type: "nominal",
        sort: ASPECTS,
        title: "GO aspect (label)",
        axis: { labelAngle: 0, grid: false, labelExpr: LABEL_EXPR },
      },
      xOffset: { field: "split", type: "nominal", sort: ["train", "test"] },
      y: { field: "count", type: "quantitative", title: "terms", axis: { format: ",d" } },
    },
    layer: [
      {
        mark: { type: "bar", cornerRadiusTopLeft: 2, cornerRadiusTopRight: 2 },
        encoding: {
          color: {
            field: "aspect",
            type: "nominal",
            scale: { domain: ASPECTS, range: ASPECT_RANGE },
            legend: null,
          },
          opacity: {
            field: "split",
            type: "ordinal",
            sort: ["train", "test"],
            scale: { domain: ["train", "test"], range: [1, 0.45] },
            title: "split",
            legend: { orient: "top-right", symbolType: "square", symbolSize: 200, symbolFillColor: "#555" },
          },
        },
      },
      {
        mark: { type: "text", dy: -8, fontSize: 13, color: "#222" },
        encoding: { text: { field: "count", type: "quantitative", format: ",d" } },
      },
    ],
  };
  return vegaLiteFigure("class_distribution", spec);
}
