/** GO terms as labelled text: one record a term (definition, aspect, label), word counts and their summaries. */
import type { OboDocument, OboTerm } from "./obo-types.js";

/** The three GO aspects; a term's label is its aspect's index (alphabetical codes, as the study used). */
export const ASPECTS = ["biological_process", "cellular_component", "molecular_function"] as const;

/** One of the three GO namespaces. */
export type Aspect = (typeof ASPECTS)[number];

/** One labelled term, as written to terms.csv / terms.jsonl. */
export interface TermRecord {
  go_id: string;
  name: string;
  aspect: Aspect;
  definition: string;
  def_word_count: number;
  label: number;
}

/** Terms left out of the dataset, counted by reason, with a few `file:line` samples for the user. */
export interface SkippedTerms {
  noNamespace: number;
  noDefinition: number;
  /** A namespace that is not one of the three GO aspects. */
  otherNamespace: number;
  samples: string[];
}

/** What extractTerms returns. */
export interface ExtractedTerms {
  terms: TermRecord[];
  skipped: SkippedTerms;
}

const WORD = /[\p{L}\p{N}_]+/gu;
const MAX_SAMPLES = 5;

/** Counts words as runs of `\w` the way Python's `re` does on str (Unicode letters, digits, underscore). */
export function countWords(text: string): number {
  let n = 0;
  for (const _ of text.matchAll(WORD)) n++;
  return n;
}

/** The words of a text as runs of `\w` (see countWords). */
export function words(text: string): string[] {
  return text.match(WORD) ?? [];
}

/** The label code of an aspect (0, 1 or 2), or -1 when the name is not a GO aspect. */
export function labelOf(aspect: string): number {
  return (ASPECTS as readonly string[]).indexOf(aspect);
}

/**
 * Turns a parsed document's terms into labelled records, in document order. Terms without a namespace,
 * without a definition or outside the three aspects are skipped and counted rather than failing the run,
 * since a release can hold a few such stanzas and the rest of it is still good data.
 */
export function extractTerms(doc: Pick<OboDocument, "terms">, source: string): ExtractedTerms {
  const skipped: SkippedTerms = { noNamespace: 0, noDefinition: 0, otherNamespace: 0, samples: [] };
  const terms: TermRecord[] = [];
  const skip = (t: OboTerm, why: string) => {
    if (skipped.samples.length < MAX_SAMPLES) skipped.samples.push(`${source}:${t.line}: ${t.id} ${why}`);
  };
  for (const t of doc.terms) {
    const ns = t.namespace?.trim();
    if (!ns) {
      skipped.noNamespace++;
      skip(t, "has no namespace");
      continue;
    }
    const label = labelOf(ns);
    if (label < 0) {
      skipped.otherNamespace++;
      skip(t, `has namespace "${ns}", not a GO aspect`);
      continue;
    }
    const definition = t.def?.text.trim() ?? "";
    if (!definition) {
      skipped.noDefinition++;
      skip(t, "has no definition");
      continue;
    }
    terms.push({
      go_id: t.id,
      name: t.name ?? "",
      aspect: ns as Aspect,
      definition,
      def_word_count: countWords(definition),
      label,
    });
  }
  return { terms, skipped };
}

/** The total number of skipped terms. */
export function skippedCount(s: SkippedTerms): number {
  return s.noNamespace + s.noDefinition + s.otherNamespace;
}

/** Five-number summary plus mean and count; quartiles interpolate linearly, as numpy and pandas do. */
export interface Summary {
  count: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  mean: number;
  max: number;
}

/** The q-quantile (0..1) of ascending-sorted values, with numpy's default linear interpolation. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Summarises a list of numbers (NaN fields when it is empty). */
export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN;
  return {
    count: s.length,
    min: s.length ? s[0]! : Number.NaN,
    q1: quantile(s, 0.25),
    median: quantile(s, 0.5),
    q3: quantile(s, 0.75),
    mean,
    max: s.length ? s[s.length - 1]! : Number.NaN,
  };
}

/** Definition word-count summaries per aspect (every aspect present, even when empty). */
export function wordCountSummaries(terms: readonly TermRecord[]): Record<Aspect, Summary> {
  const by = Object.fromEntries(ASPECTS.map((a) => [a, [] as number[]])) as Record<Aspect, number[]>;
  for (const t of terms) by[t.aspect].push(t.def_word_count);
  return Object.fromEntries(ASPECTS.map((a) => [a, summarize(by[a])])) as Record<Aspect, Summary>;
}
