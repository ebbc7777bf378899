/**
 * The figure of the highest-degree GO terms: they rarely touch each other directly, so their is_a and
 * part_of ancestors are drawn too (in grey), which places each hub in the hierarchy under its root.
 * Layered layout by dagre (roots on the left, children to their right), boxes sized to their wrapped labels so none overlap.
 */
import { Graph as DagreGraph, layout } from "@dagrejs/dagre";
import type { AbstractGraph } from "graphology-types";
import { ASPECTS, type Aspect } from "../data/terms.js";
import { type Figure, FONT, figureFromSvg, textWidth, xmlEscape } from "./render.js";
import { ASPECT_COLORS, ASPECT_TINTS } from "./theme.js";

/** The graph shape this figure reads: nodes with { name, namespace }, edges child -> parent with { type }. */
export type GoGraphLike = Pick<
  AbstractGraph,
  "hasNode" | "getNodeAttributes" | "forEachOutEdge" | "degree" | "source" | "target" | "getEdgeAttributes"
>;

/** Options of the term-graph figure. */
export interface TermGraphOptions {
  /** Also draw the ancestors (through these relations) that link the terms to their roots. */
  contextRelations?: readonly string[];
  title?: string;
}

interface Box {
  id: string;
  lines: string[];
  sub?: string;
  aspect?: Aspect;
  top: boolean;
  width: number;
  height: number;
}

const PAD_X = 10;
const PAD_Y = 7;
const LINE = 16;
const NAME_FONT = (bold: boolean, size: number) => `${bold ? "bold " : ""}${size}px "${FONT}"`;

/** Wraps text into lines at most `max` pixels wide in `font`, at most `maxLines` (the last one ellipsed). */
export function wrapText(text: string, font: string, max: number, maxLines: number): string[] {
  // Long chemical words break after their hyphens; a piece ending in "-" glues to the next one.
  const pieces = text
    .split(/\s+/)
    .filter(Boolean)
    .flatMap((w) => (textWidth(w, font) > max ? (w.match(/[^-]+-*|-+/g) ?? [w]) : [w]));
  const lines: string[] = [];
  let cur = "";
  for (const piece of pieces) {
    const next = !cur ? piece : cur.endsWith("-") ? cur + piece : `${cur} ${piece}`;
    if (!cur || textWidth(next, font) <= max) cur = next;
    else {
      lines.push(cur);
      cur = piece;
    }
  }
  if (cur) lines.push(cur);
  if (lines.length <= maxLines) return lines.map((l) => ellipsize(l, font, max));
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = ellipsize(`${kept[maxLines - 1]}…`, font, max, true);
  return kept;
}

function ellipsize(s: string, font: string, max: number, force = false): string {
  if (!force && textWidth(s, font) <= max) return s;
  let t = s.replace(/…$/, "");
  while (t.length > 1 && textWidth(`${t}…`, font) > max) t = t.slice(0, -1);
  return `${t.trimEnd()}…`;
}

/** The ids to draw: the terms themselves plus, on request, their ancestors through the given relations. */
export function termsWithAncestors(
  graph: GoGraphLike,
  terms: readonly string[],
  relations: readonly string[],
): string[] {
  const keep = new Set(terms.filter((t) => graph.hasNode(t)));
  const rel = new Set(relations);
  const stack = [...keep];
  while (stack.length) {
    const id = stack.pop()!;
    graph.forEachOutEdge(id, (_e, attrs, _s, parent) => {
      if (rel.has((attrs as { type?: string }).type ?? "is_a") && !keep.has(parent)) {
        keep.add(parent);
        stack.push(parent);
      }
    });
  }
  return [...keep];
}

const EDGE_STYLE: Record<string, { color: string; dash: string }> = {
  is_a: { color: "#555555", dash: "" },
  part_of: { color: "#8E44AD", dash: "7 4" },
  regulates: { color: "#D35400", dash: "2 4" },
  positively_regulates: { color: "#1E8449", dash: "2 4" },
  negatively_regulates: { color: "#C0392B", dash: "2 4" },
};
const OTHER_EDGE = { color: "#7F8C8D", dash: "10 3 2 3" };
const edgeStyle = (type: string) => EDGE_STYLE[type] ?? OTHER_EDGE;

/** Draws `terms` (ids, e.g. the top by degree) and the edges among them as a layered graph figure. */
export function termGraphFigure(
  graph: GoGraphLike,
  terms: readonly string[],
  opts: TermGraphOptions = {},
): Figure {
  const topSet = new Set(terms.filter((t) => graph.hasNode(t)));
  const ids = opts.contextRelations?.length
    ? termsWithAncestors(graph, [...topSet], opts.contextRelations)
    : [...topSet];
  const idSet = new Set(ids);
  ids.sort();
  const g = new DagreGraph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 46, edgesep: 8, marginx: 24, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const boxes = new Map<string, Box>();
  for (const id of ids) {
    const a = graph.getNodeAttributes(id) as { name?: string; namespace?: string };
    const top = topSet.has(id);
    const font = NAME_FONT(top, top ? 13 : 12);
    const lines = wrapText(a.name ?? id, font, top ? 190 : 160, 3);
    const sub = top ? `${id} · degree ${graph.degree(id).toLocaleString("en-US")}` : undefined;
    const subW = sub ? textWidth(sub, NAME_FONT(false, 11)) : 0;
    const width = Math.ceil(Math.max(subW, ...lines.map((l) => textWidth(l, font)))) + 2 * PAD_X;
    const height = lines.length * LINE + (sub ? 15 : 0) + 2 * PAD_Y;
    const aspect = (ASPECTS as readonly string[]).includes(a.namespace ?? "")
      ? (a.namespace as Aspect)
      : undefined;
    boxes.set(id, { id, lines, sub, aspect, top, width, height });
    g.setNode(id, { width, height });
  }
  const edgeTypes = new Set<string>();
  const edges: { v: string; w: string; type: string }[] = [];
  for (const id of ids)
    graph.forEachOutEdge(id, (_e, attrs, _s, parent) => {
      if (!idSet.has(parent) || parent === id) return;
      const type = (attrs as { type?: string }).type ?? "is_a";
      edgeTypes.add(type);
      edges.push({ v: id, w: parent, type });
      // Laid out parent -> child so the roots share the first rank (left); drawn as child -> parent.
      g.setEdge(parent, id, {}, `${id}>${parent}>${type}`);
    });
  layout(g);
  const gw = g.graph().width ?? 800;
  const gh = g.graph().height ?? 600;

  const W = Math.max(gw, 1100);
  const context = Boolean(opts.contextRelations?.length) && ids.length > topSet.size;
  const nTop = topSet.size;
  const subtitle = wrapText(
    context
      ? `Coloured boxes: the ${nTop} terms with the most edges (degree = edges in and out). Grey boxes: their ${opts.contextRelations!.join(" / ")} ancestors, up to the aspect roots. Arrows go from child to parent.`
      : `Boxes: the ${nTop} terms with the most edges (degree = edges in and out), with the edges among them. Arrows go from child to parent.`,
    `14px "${FONT}"`,
    W - 48,
    4,
  );
  const leg = legend(24, 76 + subtitle.length * 20, W - 48, [...edgeTypes].sort(), context);
  const headH = leg.bottom + 16;
  const H = headH + gh;
  const ox = (W - gw) / 2;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    "<defs>",
  ];
  const markerId = (t: string) => `arrow-${t.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  for (const t of edgeTypes)
    out.push(
      `<marker id="${markerId(t)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="${edgeStyle(t).color}"/></marker>`,
    );
  out.push("</defs>");
  out.push(
    `<text x="24" y="36" font-size="24" font-weight="bold" fill="#111">${xmlEscape(opts.title ?? `The ${nTop} highest-degree GO terms`)}</text>`,
  );
  subtitle.forEach((line, i) => {
    out.push(`<text x="24" y="${62 + i * 20}" font-size="14" fill="#555">${xmlEscape(line)}</text>`);
  });
  out.push(`<g transform="translate(${ox},${headH})">`);
  for (const e of edges) {
    const pts =
      (g.edge(e.w, e.v, `${e.v}>${e.w}>${e.type}`) as { points?: { x: number; y: number }[] }).points ?? [];
    if (pts.length < 2) continue;
    pts.reverse(); // laid out parent -> child, drawn child -> parent so the arrowhead marks the parent
    const s = edgeStyle(e.type);
    out.push(
      `<path d="${smoothPath(pts)}" fill="none" stroke="${s.color}" stroke-width="1.4" stroke-opacity="0.85"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""} marker-end="url(#${markerId(e.type)})"/>`,
    );
  }
  for (const b of boxes.values()) {
    const n = g.node(b.id) as { x: number; y: number };
    const x = n.x - b.width / 2;
    const y = n.y - b.height / 2;
    const stroke = b.aspect ? ASPECT_COLORS[b.aspect] : "#999";
    const fill = b.top ? (b.aspect ? ASPECT_TINTS[b.aspect] : "#eee") : "#f7f7f7";
    out.push(
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${b.width}" height="${b.height}" rx="6" fill="${fill}" stroke="${b.top ? stroke : "#b5b5b5"}" stroke-width="${b.top ? 2 : 1}"/>`,
    );
    if (!b.top && b.aspect)
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="4" height="${b.height}" rx="2" fill="${stroke}"/>`,
      );
    const size = b.top ? 13 : 12;
    b.lines.forEach((line, i) => {
      out.push(
        `<text x="${n.x.toFixed(1)}" y="${(y + PAD_Y + 12 + i * LINE).toFixed(1)}" text-anchor="middle" font-size="${size}"${b.top ? ' font-weight="bold"' : ""} fill="${b.top ? "#111" : "#444"}">${xmlEscape(line)}</text>`,
      );
    });
    if (b.sub)
      out.push(
        `<text x="${n.x.toFixed(1)}" y="${(y + PAD_Y + 10 + b.lines.length * LINE + 2).toFixed(1)}" text-anchor="middle" font-size="11" fill="#555">${xmlEscape(b.sub)}</text>`,
      );
  }
  out.push("</g>");
  out.push(leg.svg);
  out.push("</svg>");
  return figureFromSvg("term_graph", out.join("\n"), Math.min(Math.max(W, 1400), 2400));
}

/** A path through dagre's control points, smoothed with quadratic curves between midpoints. */
function smoothPath(pts: { x: number; y: number }[]): string {
  const f = (p: { x: number; y: number }) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`;
  if (pts.length === 2) return `M${f(pts[0]!)} L${f(pts[1]!)}`;
  let d = `M${f(pts[0]!)}`;
  for (let i = 1; i < pts.length - 1; i++) {
    const p = pts[i]!;
    const q = pts[i + 1]!;
    const mid = i === pts.length - 2 ? q : { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 };
    d += ` Q${f(p)} ${f(mid)}`;
  }
  return d;
}

/** The legend rows (aspects, box kinds, edge types), wrapped to `maxW`; returns its SVG and lowest y. */
function legend(x0: number, y0: number, maxW: number, edgeTypes: string[], context: boolean) {
  const parts: string[] = [];
  const font = `13px "${FONT}"`;
  let x = x0;
  let y = y0;
  const place = (w: number) => {
    if (x > x0 && x + w > x0 + maxW) {
      x = x0;
      y += 26;
    }
  };
  const item = (symbol: (x: number, y: number) => string, label: string) => {
    const w = 36 + textWidth(label, font);
    place(w);
    parts.push(
      symbol(x, y),
      `<text x="${x + 36}" y="${y}" font-size="13" fill="#333">${xmlEscape(label)}</text>`,
    );
    x += w + 26;
  };
  for (const a of ASPECTS)
    item(
      (x, y) =>
        `<rect x="${x}" y="${y - 13}" width="28" height="17" rx="4" fill="${ASPECT_TINTS[a]}" stroke="${ASPECT_COLORS[a]}" stroke-width="2"/>`,
      a,
    );
  if (context)
    item(
      (x, y) =>
        `<rect x="${x}" y="${y - 13}" width="28" height="17" rx="4" fill="#f7f7f7" stroke="#b5b5b5"/><rect x="${x}" y="${y - 13}" width="4" height="17" rx="2" fill="#888"/>`,
      "ancestor (left stripe: its aspect)",
    );
  for (const t of edgeTypes) {
    const s = edgeStyle(t);
    item(
      (x, y) =>
        `<line x1="${x}" y1="${y - 5}" x2="${x + 28}" y2="${y - 5}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
      t,
    );
  }
  return { svg: parts.join("\n"), bottom: y + 8 };
}
