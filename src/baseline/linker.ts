/**
 * The GO linker: which GO terms a short text (a mention such as "nucleoli" or "DNA repair") names.
 * Candidates are every term's name, synonyms (every scope) and the mention strings curators linked to it
 * (aliases, e.g. CRAFT's train articles), matched by character n-gram TF-IDF (sklearn's char_wb), and its
 * definition, matched by word TF-IDF at a lower weight; a term scores its best match.
 */
import type { Aspect } from "../data/terms.js";
import { type Lexicon, normalise } from "./lexicon.js";
import type { CsrMatrix } from "./sparse.js";
import { TfidfVectorizer } from "./tfidf.js";

/** How a candidate matched: the kind of string its best score came from. */
export type MatchKind = "name" | "exact_synonym" | "other_synonym" | "alias" | "definition";

/** One ranked GO term for a text. */
export interface Candidate {
  go_id: string;
  name: string;
  aspect: Aspect;
  definition: string;
  score: number;
  /** The string of the term that matched best, and what kind of string it is. */
  matched: string;
  via: MatchKind;
}

/** The weights of the match kinds (a term scores max over its strings of weight × cosine). */
export interface LinkerWeights {
  name: number;
  exact_synonym: number;
  other_synonym: number;
  alias: number;
  definition: number;
}

/** Weights set by hand and checked on CRAFT's dev gold spans (README, "GO concepts in text"); no search over them yet. */
export const LINKER_WEIGHTS: LinkerWeights = {
  name: 0.99,
  exact_synonym: 0.99,
  other_synonym: 0.9,
  alias: 1,
  definition: 0.5,
};

/** `gotune search`'s defaults. */
export const SEARCH_DEFAULTS = { top: 10 } as const;

// Small enough to only break ties among strings that match equally well.
const ALIAS_SHARE_TIE = 0.005;

/** A TF-IDF matrix turned around: for each feature, the rows holding it and their weights. */
class InvertedIndex {
  readonly starts: Int32Array;
  readonly rows: Int32Array;
  readonly weights: Float32Array;
  private readonly scores: Float32Array;

  constructor(m: CsrMatrix) {
    const starts = new Int32Array(m.nCols + 1);
    for (let p = 0; p < m.indices.length; p++) starts[m.indices[p]! + 1]!++;
    for (let j = 0; j < m.nCols; j++) starts[j + 1]! += starts[j]!;
    const fill = starts.slice(0, m.nCols);
    this.rows = new Int32Array(m.indices.length);
    this.weights = new Float32Array(m.indices.length);
    for (let i = 0; i < m.nRows; i++)
      for (let p = m.indptr[i]!; p < m.indptr[i + 1]!; p++) {
        const q = fill[m.indices[p]!]!++;
        this.rows[q] = i;
        this.weights[q] = m.data[p]!;
      }
    this.starts = starts;
    this.scores = new Float32Array(m.nRows);
  }

  /** Calls `visit(row, cosine)` for every row sharing a feature with the query (row 0 of `q`). */
  cosines(q: CsrMatrix, visit: (row: number, cosine: number) => void): void {
    const touched: number[] = [];
    for (let p = q.indptr[0]!; p < q.indptr[1]!; p++) {
      const j = q.indices[p]!;
      const w = q.data[p]!;
      for (let r = this.starts[j]!; r < this.starts[j + 1]!; r++) {
        const row = this.rows[r]!;
        if (this.scores[row] === 0) touched.push(row);
        this.scores[row]! += w * this.weights[r]!;
      }
    }
    for (const row of touched) {
      visit(row, this.scores[row]!);
      this.scores[row] = 0;
    }
  }
}

/** Ranks GO terms for short texts; built once from a lexicon (a few seconds for all of GO). */
export class GoLinker {
  readonly lexicon: Lexicon;
  readonly weights: LinkerWeights;
  private readonly chars = new TfidfVectorizer({ analyzer: "char_wb", minN: 2, maxN: 4 });
  private readonly words = new TfidfVectorizer({ maxN: 1 });
  private readonly charIndex: InvertedIndex;
  private readonly wordIndex: InvertedIndex;
  /** Per string of the char index: its term, its kind and its text. */
  private readonly stringTerm: Int32Array;
  private readonly stringKind: MatchKind[];
  /** Per string: its kind's weight, raised a little for an alias by its share of its text's uses. */
  private readonly stringWeight: Float32Array;
  private readonly stringText: string[];
  private readonly cache = new Map<string, Candidate[]>();
  private readonly termOf: Map<string, number>;

  constructor(lexicon: Lexicon, weights: LinkerWeights = LINKER_WEIGHTS) {
    this.lexicon = lexicon;
    this.weights = weights;
    const termOf = new Map<string, number>();
    lexicon.terms.forEach((t, i) => {
      for (const alt of t.alt_ids) termOf.set(alt, i);
    });
    lexicon.terms.forEach((t, i) => {
      termOf.set(t.go_id, i);
    });
    this.termOf = termOf;
    const texts: string[] = [];
    const terms: number[] = [];
    const factors: number[] = [];
    this.stringKind = [];
    // A string repeated for a term (a synonym equal to its name, an alias equal to a synonym) is kept
    // once, with the highest weight of its kinds.
    const seen = new Map<string, number>();
    const add = (term: number, text: string, kind: MatchKind, factor = 1) => {
      const norm = normalise(text);
      if (norm === "") return;
      const key = `${term}\t${norm}`;
      const weight = weights[kind] * factor;
      const k = seen.get(key);
      if (k !== undefined) {
        if (weight > factors[k]!) {
          factors[k] = weight;
          this.stringKind[k] = kind;
        }
        return;
      }
      seen.set(key, texts.length);
      texts.push(norm);
      terms.push(term);
      this.stringKind.push(kind);
      factors.push(weight);
    };
    lexicon.terms.forEach((t, i) => {
      add(i, t.name, "name");
      for (const s of t.synonyms) if (s.scope === "EXACT") add(i, s.text, "exact_synonym");
      for (const s of t.synonyms) if (s.scope !== "EXACT") add(i, s.text, "other_synonym");
    });
    // Where curators linked one string to several terms, the term they chose most often wins the tie.
    const uses = new Map<string, number>();
    for (const a of lexicon.aliases) uses.set(a.text, (uses.get(a.text) ?? 0) + a.count);
    for (const a of lexicon.aliases) {
      const i = termOf.get(a.go_id);
      if (i !== undefined) add(i, a.text, "alias", 1 - ALIAS_SHARE_TIE * (1 - a.count / uses.get(a.text)!));
    }
    this.stringTerm = Int32Array.from(terms);
    this.stringWeight = Float32Array.from(factors);
    this.stringText = texts;
    this.charIndex = new InvertedIndex(this.chars.fitTransform(texts));
    this.wordIndex = new InvertedIndex(this.words.fitTransform(lexicon.terms.map((t) => t.definition)));
  }

  /** The `top` best GO terms for a text, best first (none when no string shares a feature with it). */
  search(text: string, top = 10): Candidate[] {
    const key = `${top}\t${normalise(text)}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const n = this.lexicon.terms.length;
    const best = new Float32Array(n);
    const bestString = new Int32Array(n).fill(-1);
    const norm = normalise(text);
    this.charIndex.cosines(this.chars.transform([norm]), (row, cos) => {
      const term = this.stringTerm[row]!;
      const s = cos * this.stringWeight[row]!;
      if (s > best[term]!) {
        best[term] = s;
        bestString[term] = row;
      }
    });
    this.wordIndex.cosines(this.words.transform([norm]), (term, cos) => {
      const s = cos * this.weights.definition;
      if (s > best[term]!) {
        best[term] = s;
        bestString[term] = -1;
      }
    });
    const order: number[] = [];
    for (let i = 0; i < n; i++) if (best[i]! > 0) order.push(i);
    order.sort((a, b) => best[b]! - best[a]! || a - b);
    const out = order.slice(0, top).map((i): Candidate => {
      const t = this.lexicon.terms[i]!;
      const row = bestString[i]!;
      return {
        go_id: t.go_id,
        name: t.name,
        aspect: t.aspect,
        definition: t.definition,
        score: best[i]!,
        matched: row < 0 ? t.definition : this.stringText[row]!,
        via: row < 0 ? "definition" : this.stringKind[row]!,
      };
    });
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(key, out);
    return out;
  }

  /** The id a GO id has in this release (an alt_id becomes its term's id), or undefined when not in it. */
  currentId(goId: string): string | undefined {
    const i = this.termOf.get(goId);
    return i === undefined ? undefined : this.lexicon.terms[i]!.go_id;
  }

  /** The best GO term for a mention, or undefined when nothing matches. */
  link(text: string): Candidate | undefined {
    return this.search(text, 1)[0];
  }
}

/** Linking measured on gold spans: how often the best term is the curators' (by its id in the release). */
export interface LinkingScore {
  mentions: number;
  correct: number;
  accuracy: number;
  /** Gold ids the release does not hold (obsolete since): no linker can get these right. */
  not_in_release: number;
  /** The most frequent wrong links: mention text, linked term, gold term, count. */
  misses: { text: string; linked: string | null; gold: string; count: number }[];
}

/** Links every mention's text and compares with its gold GO id (an alt_id counts as its term). */
export function linkingScore(
  linker: GoLinker,
  mentions: readonly { text: string; go_id: string; go_name: string }[],
  topMisses = 20,
): LinkingScore {
  let correct = 0;
  let missing = 0;
  const misses = new Map<string, LinkingScore["misses"][number]>();
  for (const m of mentions) {
    const gold = linker.currentId(m.go_id);
    if (gold === undefined) missing++;
    const c = linker.link(m.text);
    if (c && gold !== undefined && c.go_id === gold) {
      correct++;
      continue;
    }
    const linked = c ? `${c.go_id} ${c.name}` : null;
    const key = `${m.text}\t${linked}\t${m.go_id}`;
    const miss = misses.get(key);
    if (miss) miss.count++;
    else misses.set(key, { text: m.text, linked, gold: `${m.go_id} ${m.go_name}`, count: 1 });
  }
  return {
    mentions: mentions.length,
    correct,
    accuracy: mentions.length ? correct / mentions.length : 0,
    not_in_release: missing,
    misses: [...misses.values()].sort((a, b) => b.count - a.count).slice(0, topMisses),
  };
}
