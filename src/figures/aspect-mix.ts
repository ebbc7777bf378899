/** The aspect mix of an annotated literature per group (year, journal): stacked shares of sentences. */
import { type Figure, VL_CONFIG, vegaLiteFigure } from "./render.js";
import { ASPECT_COLORS } from "./theme.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const SPARE = ["#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999", "#000000"];

/** One group's sentences predicted as each label. */
export interface GroupMix {
  group: string;
  counts: Record<string, number>;
}

/**
 * Bars of 100% per group (in the order given), split by the share of its sentences predicted as each
 * label; `by` names the groups ("year", "journal"). Horizontal bars when names are long (journals).
 */
export async function aspectMixFigure(
  name: string,
  by: string,
  groups: GroupMix[],
  labels: string[],
  caption: string,
): Promise<Figure> {
  let spare = 0;
  const colors = labels.map(
    (l) => (ASPECT_COLORS as Record<string, string>)[l] ?? SPARE[spare++ % SPARE.length]!,
  );
  const values = groups.flatMap((g) => {
    const n = labels.reduce((s, l) => s + (g.counts[l] ?? 0), 0) || 1;
    return labels.map((label, order) => ({
      group: g.group,
      label,
      order,
      share: (g.counts[label] ?? 0) / n,
    }));
  });
  const horizontal = groups.some((g) => g.group.length > 6);
  const groupAxis = {
    field: "group",
    type: "nominal",
    sort: groups.map((g) => g.group),
    title: by,
    axis: {
      labelLimit: 260,
      grid: false,
      ...(horizontal ? {} : { labelAngle: groups.length > 12 ? -90 : 0 }),
    },
  };
  const shareAxis = {
    field: "share",
    type: "quantitative",
    stack: "normalize",
    title: "share of sentences (predicted aspect)",
    axis: { format: "%" },
  };
  const spec = {
    $schema: SCHEMA,
    config: VL_CONFIG,
    title: { text: `Aspect mix per ${by}`, subtitle: caption },
    width: horizontal ? 560 : Math.max(300, Math.min(900, groups.length * 28)),
    height: horizontal ? Math.max(120, groups.length * 24) : 360,
    data: { values },
    mark: { type: "bar" },
    encoding: {
      ...(horizontal ? { y: groupAxis, x: shareAxis } : { x: groupAxis, y: shareAxis }),
      order: { field: "order", type: "ordinal" },
      color: {
        field: "label",
        type: "nominal",
        sort: labels,
        scale: { domain: labels, range: colors },
        legend: { title: null, orient: "bottom", direction: "horizontal", labelLimit: 300 },
      },
    },
  };
  return vegaLiteFigure(name, spec);
}
