/**
 * Integration: the real GO release of 2018-03-09 from Debian's tnseq-transit, as set-up caches it
 * (fetched through fetchGo when absent).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DEBIAN_GO, fetchGo, sha256File } from "../../src/data/fetch-go.js";
import { ancestors, buildGoGraph, descendants, roots } from "../../src/data/graph.js";
import { parseOboFile, parseOboText } from "../../src/data/obo.js";
import { closedPortUrl } from "../fixtures/obo/server.js";

process.env.GOTUNE_NO_PROGRESS = "1";

test("the 2018 release: checksum, data-version, 47,122 terms of which 44,939 not obsolete", async () => {
  const r = await fetchGo({ source: "debian" });
  assert.equal(r.sha256, DEBIAN_GO.sha256);
  assert.equal(await sha256File(r.path), "9a329726eae14e6848d40de7dcdb43d5eb9b4f332b9569e0ec43c48004ee372a");
  assert.equal(r.dataVersion, "releases/2018-03-09");

  const doc = await parseOboFile(r.path);
  assert.equal(doc.header.formatVersion, "1.2");
  assert.equal(doc.header.dataVersion, "releases/2018-03-09");
  assert.equal(doc.header.ontology, "go");
  assert.equal(doc.terms.length, 44939);
  assert.equal(doc.obsoleteSkipped, 2183);
  assert.equal(doc.typedefs.length, 5);
  assert.deepEqual(doc.warnings, []);
  const aspects = new Map<string, number>();
  for (const t of doc.terms) aspects.set(t.namespace ?? "", (aspects.get(t.namespace ?? "") ?? 0) + 1);
  assert.deepEqual([...aspects.keys()].sort(), [
    "biological_process",
    "cellular_component",
    "molecular_function",
  ]);
  assert.ok(doc.terms.every((t) => t.def && t.def.text.length > 0 && t.name));

  const all = await parseOboFile(r.path, { keepObsolete: true });
  assert.equal(all.terms.length, 47122);
  assert.equal(all.terms.filter((t) => !t.isObsolete).length, 44939);

  // Streaming (1 MB chunks) and in-memory parsing agree on the whole release.
  const whole = parseOboText(await readFile(r.path, "utf8"), { source: r.path });
  assert.equal(JSON.stringify(whole), JSON.stringify(doc));

  // A few known facts of this release.
  const t1 = doc.terms.find((t) => t.id === "GO:0000001")!;
  assert.equal(t1.name, "mitochondrion inheritance");
  assert.deepEqual(t1.isA, ["GO:0048308", "GO:0048311"]);
  const quoted = doc.terms.find((t) => t.def?.text.includes('as "mossy" appearance'));
  assert.ok(quoted, 'escaped quotes \\" inside a def are resolved');

  const g = buildGoGraph(doc);
  assert.equal(g.order, 44939);
  assert.deepEqual(roots(g), ["GO:0003674", "GO:0005575", "GO:0008150"]);
  assert.equal(g.getAttribute("skippedEdges"), 0);
  const up = ancestors(g, "GO:0000001", ["is_a"]);
  assert.ok(up.has("GO:0008150"), "mitochondrion inheritance is a biological_process");
  assert.ok(!up.has("GO:0005575"));
  const bp = descendants(g, "GO:0008150", ["is_a"]);
  const bpTerms = doc.terms.filter((t) => t.namespace === "biological_process").length;
  assert.equal(bp.size, bpTerms - 1, "every other biological_process term is_a the root");
});

test("auto falls back to Debian's package when the URL is unreachable and the cache is empty", async () => {
  const home = await mkdtemp(join(tmpdir(), "gotune-auto-"));
  const url = await closedPortUrl();
  const r = await fetchGo({ home, url });
  assert.equal(r.source, "debian");
  assert.equal(r.sha256, DEBIAN_GO.sha256);
  assert.equal(r.dataVersion, "releases/2018-03-09");
  assert.equal(r.path, join(home, "go", DEBIAN_GO.file));
  assert.match(r.notes.join("\n"), /go-basic\.obo not used: .*refused.*falling back to Debian/);
  const again = await fetchGo({ home });
  assert.equal(again.source, "cache");
  assert.equal(again.path, r.path);
  await rm(home, { recursive: true, force: true });
});
