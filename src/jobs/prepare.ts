/**
 * `gotune prepare` as a function: GO release -> labelled terms, a stratified split, statistics and the
 * study's figures in one folder. Everything is computed before anything is written, and each file is
 * written through a temporary file, so a failed run leaves the earlier outputs as they were.
 */
import { join, resolve } from "node:path";
import { SPLIT_FILES } from "../data/examples.js";
import { buildGoGraph, roots, topByDegree } from "../data/graph.js";
import { parseOboFile } from "../data/obo.js";
import { countByClass, stratifiedSplit } from "../data/split.js";
import {
  ASPECTS,
  type Aspect,
  extractTerms,
  type SkippedTerms,
  skippedCount,
  summarize,
  type TermRecord,
  wordCountSummaries,
} from "../data/terms.js";
import { classDistribution, wordCountBoxplot } from "../figures/charts.js";
import { termGraphFigure } from "../figures/graph.js";
import type { Figure } from "../figures/render.js";
import { wordCloud } from "../figures/wordcloud.js";
import { UserError } from "../util/errors.js";
import { assertReadable, ensureWritableDir, writeFileAtomic } from "../util/fsx.js";
import { progress } from "../util/progress.js";
import { safeCsvRows } from "./tables.js";

/** What the prepare job writes into OUT: the split (data/examples.ts reads it), the terms and the figures. */
export const PREPARE_OUTPUTS = {
  ...SPLIT_FILES,
  termsCsv: "terms.csv",
  termsJsonl: "terms.jsonl",
  figures: "figures",
} as const;

/** `gotune prepare`'s defaults (the main job's too). */
export const PREPARE_DEFAULTS = {
  seed: 42,
  testSize: 0.2,
  keepObsolete: false,
  top: 30,
  figures: true,
} as const;

/** What to prepare and how. */
export interface PrepareOptions {
  obo: string;
  out: string;
  seed: number;
  testSize: number;
  keepObsolete: boolean;
  /** How many highest-degree terms the graph figure shows. */
  top: number;
  figures: boolean;
  /** Where stage lines go (stderr by default). */
  log?: (line: string) => void;
}

/** One line of train.jsonl / test.jsonl: the contract later stages read. */
export interface ExampleLine {
  go_id: string;
  name: string;
  aspect: Aspect;
  label: number;
  text: string;
}

/** The columns of terms.csv and the keys of terms.jsonl, in order. */
export const TERM_COLUMNS = ["go_id", "name", "aspect", "definition", "def_word_count", "label"] as const;

/** The files one run writes, relative to the output folder. */
export interface PrepareResult {
  out: string;
  files: string[];
  stats: Record<string, unknown>;
}

const fmt = (n: number) => n.toLocaleString("en-US");

function toExample(t: TermRecord): ExampleLine {
  return { go_id: t.go_id, name: t.name, aspect: t.aspect, label: t.label, text: t.definition };
}

const jsonl = (rows: readonly object[]) =>
  rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");

function perAspect(counts: Record<string, number>): Record<Aspect, number> {
  return Object.fromEntries(ASPECTS.map((a, i) => [a, counts[String(i)] ?? 0])) as Record<Aspect, number>;
}

/** The one-line summary of skipped terms shown on stderr, or undefined when none was skipped. */
export function skippedSummary(s: SkippedTerms): string | undefined {
  const n = skippedCount(s);
  if (!n) return undefined;
  const parts = [
    s.noNamespace && `${fmt(s.noNamespace)} without a namespace`,
    s.noDefinition && `${fmt(s.noDefinition)} without a definition`,
    s.otherNamespace && `${fmt(s.otherNamespace)} outside the three GO aspects`,
  ].filter(Boolean);
  return `warning: skipped ${fmt(n)} term${n === 1 ? "" : "s"} (${parts.join(", ")}), e.g. ${s.samples[0]}; see stats.json for more`;
}

/** Runs the whole preparation and writes every output into `opts.out`. */
export async function prepare(opts: PrepareOptions): Promise<PrepareResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`gotune: ${l}\n`));
  if (!(opts.testSize > 0 && opts.testSize < 1))
    throw new UserError(`--test-size ${opts.testSize} is not a share`, {
      hint: "give a number between 0 and 1, e.g. 0.2",
    });
  const out = resolve(opts.out);
  await assertReadable(opts.obo, "OBO file");
  await ensureWritableDir(out);

  let t0 = performance.now();
  log(`parsing ${opts.obo}`);
  const doc = await parseOboFile(opts.obo, { keepObsolete: opts.keepObsolete });
  log(
    `parsed ${fmt(doc.terms.length)} terms${opts.keepObsolete ? "" : ` (${fmt(doc.obsoleteSkipped)} obsolete skipped)`} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const { terms, skipped } = extractTerms(doc, opts.obo);
  const skipLine = skippedSummary(skipped);
  if (skipLine) log(skipLine);
  if (doc.warnings.length)
    log(`warning: ${fmt(doc.warnings.length)} parser warning(s), e.g. ${doc.warnings[0]}; see stats.json`);
  if (terms.length < 2)
    throw new UserError(`only ${terms.length} usable term(s); nothing to split`, {
      file: opts.obo,
      hint: "give a GO release with terms that have a namespace and a definition",
    });

  const graph = buildGoGraph(doc);
  const split = stratifiedSplit(terms, {
    testSize: opts.testSize,
    seed: opts.seed,
    classOf: (t) => t.label,
    keyOf: (t) => t.go_id,
  });
  if (!split.test.length || !split.train.length)
    log(
      `warning: the ${split.test.length ? "train" : "test"} set is empty: too few terms for --test-size ${opts.testSize}`,
    );
  const sizes = {
    train: perAspect(countByClass(split.train, (t) => t.label)),
    test: perAspect(countByClass(split.test, (t) => t.label)),
  };
  const edgesByType: Record<string, number> = {};
  graph.forEachEdge((_e, a) => {
    edgesByType[a.type] = (edgesByType[a.type] ?? 0) + 1;
  });
  const top = topByDegree(graph, opts.top);
  const obsolete = new Set(doc.terms.filter((t) => t.isObsolete).map((t) => t.id));
  const allRoots = roots(graph);
  const stats = {
    source: {
      file: resolve(opts.obo),
      format_version: doc.header.formatVersion ?? null,
      data_version: doc.header.dataVersion ?? null,
      ontology: doc.header.ontology ?? null,
      date: doc.header.date ?? null,
    },
    options: { seed: opts.seed, test_size: opts.testSize, keep_obsolete: opts.keepObsolete, top: opts.top },
    terms: {
      parsed: doc.terms.length,
      obsolete_skipped: doc.obsoleteSkipped,
      kept: terms.length,
      per_aspect: perAspect(countByClass(terms, (t) => t.label)),
    },
    skipped: {
      total: skippedCount(skipped),
      no_namespace: skipped.noNamespace,
      no_definition: skipped.noDefinition,
      other_namespace: skipped.otherNamespace,
      samples: skipped.samples,
    },
    parser_warnings: { count: doc.warnings.length, samples: doc.warnings.slice(0, 5) },
    labels: Object.fromEntries(ASPECTS.map((a, i) => [String(i), a])),
    def_word_count: { ...wordCountSummaries(terms), all: summarize(terms.map((t) => t.def_word_count)) },
    split: {
      seed: opts.seed,
      test_size: opts.testSize,
      train: { total: split.train.length, ...sizes.train },
      test: { total: split.test.length, ...sizes.test },
    },
    graph: {
      nodes: graph.order,
      edges: graph.size,
      edges_by_type: Object.fromEntries(Object.entries(edgesByType).sort((a, b) => b[1] - a[1])),
      // Kept obsolete terms have no parents; they are counted apart so the roots stay the aspect roots.
      roots: allRoots
        .filter((id) => !obsolete.has(id))
        .map((id) => ({ id, name: graph.getNodeAttribute(id, "name") })),
      obsolete_without_parent: allRoots.filter((id) => obsolete.has(id)).length,
      skipped_edges: graph.getAttribute("skippedEdges") ?? 0,
    },
    top_terms: top.map((id) => ({
      id,
      name: graph.getNodeAttribute(id, "name"),
      aspect: graph.getNodeAttribute(id, "namespace"),
      degree: graph.degree(id),
    })),
  };

  const figures: Figure[] = [];
  if (opts.figures) {
    t0 = performance.now();
    log("drawing figures");
    const bar = progress("figures", 4, ["figure"]);
    const steps: [string, () => Promise<Figure> | Figure][] = [
      ["term graph", () => termGraphFigure(graph, top, { contextRelations: ["is_a"] })],
      ["word cloud", () => wordCloud(terms, { seed: opts.seed })],
      ["word counts", () => wordCountBoxplot(terms)],
      [
        "class distribution",
        () =>
          classDistribution(
            sizes,
            `Stratified split: ${Math.round((1 - opts.testSize) * 100)}% train, ${Math.round(opts.testSize * 100)}% test, seed ${opts.seed}.`,
          ),
      ],
    ];
    for (const [what, draw] of steps) {
      figures.push(await draw());
      bar.tick(1, { figure: what });
    }
    bar.done();
    log(`drew ${figures.length} figures in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  log(`writing ${out}`);
  const files: [string, string | Uint8Array][] = [
    [
      PREPARE_OUTPUTS.termsCsv,
      safeCsvRows([[...TERM_COLUMNS], ...terms.map((t) => TERM_COLUMNS.map((c) => t[c]))]),
    ],
    [
      PREPARE_OUTPUTS.termsJsonl,
      jsonl(terms.map((t) => Object.fromEntries(TERM_COLUMNS.map((c) => [c, t[c]])))),
    ],
    [PREPARE_OUTPUTS.train, jsonl(split.train.map(toExample))],
    [PREPARE_OUTPUTS.test, jsonl(split.test.map(toExample))],
  ];
  const fig = (name: string, ext: string) => `${PREPARE_OUTPUTS.figures}/${name}.${ext}`;
  for (const f of figures) files.push([fig(f.name, "svg"), f.svg], [fig(f.name, "png"), f.png]);
  const statsWithFigures = { ...stats, figures: figures.map((f) => fig(f.name, "png")) };
  files.push([PREPARE_OUTPUTS.stats, `${JSON.stringify(statsWithFigures, null, 2)}\n`]);
  const bar = progress("writing", files.length);
  for (const [name, data] of files) {
    await writeFileAtomic(join(out, name), data);
    bar.tick();
  }
  bar.done();
  return { out, files: files.map(([n]) => n), stats: statsWithFigures };
}
