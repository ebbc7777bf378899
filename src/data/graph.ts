/** The ontology as a graphology directed graph: one node a term, edges child -> parent carrying the relation. */
import { type DirectedGraph, MultiDirectedGraph } from "graphology";
import { UserError } from "../util/errors.js";
import type { OboDocument } from "./obo-types.js";

/** A node's attributes: the term's name and namespace (its GO aspect). */
export interface GoNodeAttributes {
  name: string;
  namespace: string;
}

/** An edge's attributes: "is_a" or the relationship type (part_of, regulates, ...). */
export interface GoEdgeAttributes {
  type: string;
}

/** Graph-level counts kept for reporting. */
export interface GoGraphAttributes {
  /** Edges whose parent is not a term of the graph (obsolete, or from another ontology), left out. */
  skippedEdges: number;
}

/** The GO graph type returned by buildGoGraph. */
export type GoGraph = DirectedGraph<GoNodeAttributes, GoEdgeAttributes, GoGraphAttributes>;

/**
 * Builds the graph of a parsed document: node key = term id, edges child -> parent for is_a and every
 * relationship. A multi graph, since a term may be both is_a and part_of the same parent; a repeated
 * (child, type, parent) edge is kept once.
 */
export function buildGoGraph(doc: OboDocument): GoGraph {
  const g: GoGraph = new MultiDirectedGraph<GoNodeAttributes, GoEdgeAttributes, GoGraphAttributes>();
  for (const t of doc.terms) g.addNode(t.id, { name: t.name ?? "", namespace: t.namespace ?? "" });
  let skipped = 0;
  const link = (child: string, parent: string, type: string) => {
    if (!g.hasNode(parent)) {
      skipped++;
      return;
    }
    const key = `${child}|${type}|${parent}`;
    if (!g.hasEdge(key)) g.addDirectedEdgeWithKey(key, child, parent, { type });
  };
  for (const t of doc.terms) {
    for (const p of t.isA) link(t.id, p, "is_a");
    for (const r of t.relationships) link(t.id, r.target, r.type);
  }
  g.setAttribute("skippedEdges", skipped);
  return g;
}

/** The `n` terms with the most edges (in + out), ties broken by id so the result is stable. */
export function topByDegree(graph: GoGraph | DirectedGraph, n: number): string[] {
  const nodes = graph.nodes().map((id) => [id, graph.degree(id)] as const);
  nodes.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return nodes.slice(0, Math.max(0, n)).map(([id]) => id);
}

function walk(graph: GoGraph | DirectedGraph, id: string, up: boolean, types?: string[]): Set<string> {
  if (!graph.hasNode(id)) {
    throw new UserError(`${id} is not a term of the ontology`, { hint: "check the GO id (e.g. GO:0008150)" });
  }
  const allowed = types ? new Set(types) : undefined;
  const seen = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const visit = (_edge: string, attrs: Record<string, unknown>, source: string, target: string) => {
      if (allowed && !allowed.has(attrs.type as string)) return;
      const next = up ? target : source;
      if (next !== id && !seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    };
    if (up) graph.forEachOutEdge(node, visit);
    else graph.forEachInEdge(node, visit);
  }
  return seen;
}

/** Every term reachable from `id` towards the roots (its parents, their parents, ...); `types` limits the relations followed. */
export function ancestors(graph: GoGraph | DirectedGraph, id: string, types?: string[]): Set<string> {
  return walk(graph, id, true, types);
}

/** Every term that reaches `id` (its children, their children, ...); `types` limits the relations followed. */
export function descendants(graph: GoGraph | DirectedGraph, id: string, types?: string[]): Set<string> {
  return walk(graph, id, false, types);
}

/** The terms with no parent (for GO: the three aspect roots), sorted by id. */
export function roots(graph: GoGraph | DirectedGraph): string[] {
  return graph.filterNodes((id) => graph.outDegree(id) === 0).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
