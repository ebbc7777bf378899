/**
 * The OBO benchmark: parse the 34 MB GO release of 2018-03-09 (goal: at most 1.5 s on a 2-core machine)
 * and build its graph. Part of `npm run bench`; also runs alone: `node dist/bench/obo.js`.
 */
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fetchGo } from "../src/data/fetch-go.js";
import { buildGoGraph } from "../src/data/graph.js";
import { parseOboFile } from "../src/data/obo.js";
import type { OboDocument } from "../src/data/obo-types.js";

const RUNS = 3;
const GOAL_MS = 1500;

/** Times parsing (best and median of a few runs) and graph building; prints one line, returns the figures. */
export async function benchObo(): Promise<Record<string, number>> {
  const { path } = await fetchGo({ source: "debian" });
  const mb = statSync(path).size / 1e6;
  const times: number[] = [];
  let doc: OboDocument | undefined = await parseOboFile(path); // warm-up: JIT and page cache
  for (let i = 0; i < RUNS; i++) {
    doc = undefined; // let the previous document go, so runs do not pay for each other's garbage
    const t0 = performance.now();
    doc = await parseOboFile(path);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const t0 = performance.now();
  const graph = buildGoGraph(doc!);
  const graphMs = performance.now() - t0;
  const best = times[0]!;
  const median = times[Math.floor(times.length / 2)]!;
  const r = {
    parse_ms_best: Math.round(best),
    parse_ms_median: Math.round(median),
    parse_mb_per_s: Math.round((mb / median) * 1000 * 10) / 10,
    parse_goal_ms: GOAL_MS,
    terms: doc!.terms.length,
    obsolete_skipped: doc!.obsoleteSkipped,
    graph_ms: Math.round(graphMs),
    graph_edges: graph.size,
  };
  const verdict = median <= GOAL_MS ? "within" : "OVER";
  console.log(
    `obo: parse ${mb.toFixed(1)} MB in ${r.parse_ms_median} ms median (best ${r.parse_ms_best}, ${r.parse_mb_per_s} MB/s; ` +
      `${verdict} the ${GOAL_MS} ms goal), ${r.terms} terms; graph ${r.graph_edges} edges in ${r.graph_ms} ms`,
  );
  return r;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(JSON.stringify(await benchObo()));
}
