import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ancestors, buildGoGraph, descendants, roots, topByDegree } from "../../src/data/graph.js";
import { parseOboFile } from "../../src/data/obo.js";
import { UserError } from "../../src/util/errors.js";

const GRAPH_OBO = join(fileURLToPath(new URL("../../../test/fixtures/obo/", import.meta.url)), "graph.obo");

test("nodes carry name and namespace; edges run child -> parent with their relation type", async () => {
  const g = buildGoGraph(await parseOboFile(GRAPH_OBO));
  assert.equal(g.order, 6);
  assert.deepEqual(g.getNodeAttributes("GO:0000101"), { name: "child a", namespace: "biological_process" });
  const edges = g.mapEdges((_e, a, s, t) => `${s} -${a.type}-> ${t}`).sort((x, y) => (x < y ? -1 : 1));
  assert.deepEqual(edges, [
    "GO:0000101 -is_a-> GO:0000100",
    "GO:0000102 -is_a-> GO:0000100",
    "GO:0000103 -is_a-> GO:0000101",
    "GO:0000103 -is_a-> GO:0000102",
    "GO:0000103 -part_of-> GO:0000102",
    "GO:0000201 -is_a-> GO:0000200",
  ]);
});

test("edges to ids outside the document (missing, obsolete) are skipped and counted", async () => {
  const g = buildGoGraph(await parseOboFile(GRAPH_OBO));
  assert.equal(g.getAttribute("skippedEdges"), 2);
  assert.ok(!g.hasNode("GO:0000300"));
  const all = buildGoGraph(await parseOboFile(GRAPH_OBO, { keepObsolete: true }));
  assert.equal(all.order, 7);
  assert.equal(all.getAttribute("skippedEdges"), 1);
  assert.ok(all.someOutEdge("GO:0000201", (_e, a, _s, t) => a.type === "part_of" && t === "GO:0000300"));
});

test("roots, ancestors and descendants, optionally by relation type", async () => {
  const g = buildGoGraph(await parseOboFile(GRAPH_OBO));
  assert.deepEqual(roots(g), ["GO:0000100", "GO:0000200"]);
  assert.deepEqual([...ancestors(g, "GO:0000103")].sort(), ["GO:0000100", "GO:0000101", "GO:0000102"]);
  assert.deepEqual([...ancestors(g, "GO:0000103", ["part_of"])], ["GO:0000102"]);
  assert.deepEqual([...ancestors(g, "GO:0000100")], []);
  assert.deepEqual([...descendants(g, "GO:0000100")].sort(), ["GO:0000101", "GO:0000102", "GO:0000103"]);
  assert.deepEqual([...descendants(g, "GO:0000102", ["is_a"])], ["GO:0000103"]);
  assert.deepEqual([...descendants(g, "GO:0000200")], ["GO:0000201"]);
  assert.throws(
    () => ancestors(g, "GO:9999999"),
    (e: unknown) => e instanceof UserError && /GO:9999999 is not a term/.test(e.message),
  );
});

test("topByDegree counts in and out edges, ties broken by id", async () => {
  const g = buildGoGraph(await parseOboFile(GRAPH_OBO));
  // Degrees: 102 -> 3 (1 out, 2 in), 103 -> 3 (out), 100 -> 2, 101 -> 2, 200 -> 1, 201 -> 1.
  assert.deepEqual(topByDegree(g, 2), ["GO:0000102", "GO:0000103"]);
  assert.deepEqual(topByDegree(g, 4), ["GO:0000102", "GO:0000103", "GO:0000100", "GO:0000101"]);
  assert.equal(topByDegree(g, 100).length, 6);
  assert.deepEqual(topByDegree(g, 0), []);
});
