/**
 * TF-IDF features as scikit-learn's TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True) computes them,
 * with its other defaults: lowercase, token pattern (?u)\b\w\w+\b, smooth idf, l2-normalised rows; or,
 * with analyzer "char_wb", its character n-grams inside space-padded words (the GO linker's features).
 */
import { type CsrMatrix, csrFromRows } from "./sparse.js";

// Python's Unicode \w is letters, numbers and the underscore; a token is a run of two or more of them.
const TOKEN = /[\p{L}\p{N}_]{2,}/gu;
const SURROGATE = /[\uD800-\uDFFF]/;

/** The words of a text as sklearn's default analyzer sees them: lowercased runs of 2+ word characters. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

/** The terms of a text: its tokens, then its bigrams (two consecutive tokens joined by a space). */
export function ngrams(text: string, maxN = 2): string[] {
  const tokens = tokenize(text);
  const out = tokens.slice();
  for (let n = 2; n <= maxN; n++)
    for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(" "));
  return out;
}

/**
 * The character n-grams of a text as sklearn's analyzer "char_wb" makes them: lowercased, each
 * whitespace-separated word padded with a space on both sides, n-grams of `minN`..`maxN` code points that
 * stay inside one padded word (a padded word no longer than n gives itself once, for that n and every longer one).
 */
export function charNgrams(text: string, minN: number, maxN: number): string[] {
  const out: string[] = [];
  for (const word of text.toLowerCase().split(/\s+/u)) {
    if (word === "") continue;
    const padded = ` ${word} `;
    // Most text is free of surrogate pairs, where code units are code points and substrings are cheap.
    const w = SURROGATE.test(padded) ? Array.from(padded) : padded;
    const gram =
      typeof w === "string"
        ? (i: number, n: number) => w.substring(i, i + n)
        : (i: number, n: number) => w.slice(i, i + n).join("");
    for (let n = minN; n <= maxN; n++) {
      if (w.length <= n) {
        out.push(padded);
        break;
      }
      for (let i = 0; i + n <= w.length; i++) out.push(gram(i, n));
    }
  }
  return out;
}

/** Options of the vectorizer (the baseline uses the defaults). */
export interface TfidfOptions {
  /** "word" (the default: tokens and their n-grams up to `maxN`) or "char_wb" (charNgrams). */
  analyzer?: "word" | "char_wb";
  /** The longest n-gram: 2 words, or 4 characters for char_wb. */
  maxN?: number;
  /** The shortest character n-gram of char_wb (words always start at 1). */
  minN?: number;
  sublinearTf?: boolean;
}

/** A fitted TF-IDF vectorizer: a vocabulary in sorted term order and its idf weights. */
export class TfidfVectorizer {
  readonly analyzer: "word" | "char_wb";
  readonly minN: number;
  readonly maxN: number;
  readonly sublinearTf: boolean;
  vocabulary = new Map<string, number>();
  terms: string[] = [];
  idf = new Float64Array(0);

  constructor(opts: TfidfOptions = {}) {
    this.analyzer = opts.analyzer ?? "word";
    this.minN = opts.minN ?? (this.analyzer === "word" ? 1 : 2);
    this.maxN = opts.maxN ?? (this.analyzer === "word" ? 2 : 4);
    this.sublinearTf = opts.sublinearTf ?? true;
  }

  /** Learns the vocabulary and idf from `texts` and returns their TF-IDF matrix. */
  fitTransform(texts: readonly string[]): CsrMatrix {
    const seen = new Map<string, number>();
    const counted = texts.map((t) => this.count(t, seen, true));
    // sklearn numbers features in sorted term order; keep that so feature j means the same term.
    const terms = Array.from(seen.keys()).sort();
    const remap = new Int32Array(terms.length);
    terms.forEach((t, j) => {
      remap[seen.get(t)!] = j;
    });
    this.terms = terms;
    this.vocabulary = new Map(terms.map((t, j) => [t, j]));
    const df = new Float64Array(terms.length);
    for (const row of counted) {
      for (let p = 0; p < row.cols.length; p++) {
        row.cols[p] = remap[row.cols[p]!]!;
        df[row.cols[p]!]!++;
      }
    }
    const n = texts.length;
    this.idf = df.map((d) => Math.log((1 + n) / (1 + d)) + 1);
    return this.weigh(counted);
  }

  /** The TF-IDF matrix of `texts` under the fitted vocabulary; unknown terms are ignored. */
  transform(texts: readonly string[]): CsrMatrix {
    return this.weigh(texts.map((t) => this.count(t, this.vocabulary, false)));
  }

  private count(text: string, vocab: Map<string, number>, grow: boolean): { cols: number[]; vals: number[] } {
    const counts = new Map<number, number>();
    const terms = this.analyzer === "word" ? ngrams(text, this.maxN) : charNgrams(text, this.minN, this.maxN);
    for (const term of terms) {
      let j = vocab.get(term);
      if (j === undefined) {
        if (!grow) continue;
        j = vocab.size;
        vocab.set(term, j);
      }
      counts.set(j, (counts.get(j) ?? 0) + 1);
    }
    return { cols: Array.from(counts.keys()), vals: Array.from(counts.values()) };
  }

  private weigh(rows: { cols: number[]; vals: number[] }[]): CsrMatrix {
    for (const row of rows) {
      let norm = 0;
      for (let p = 0; p < row.vals.length; p++) {
        const tf = row.vals[p]!;
        const v = (this.sublinearTf ? 1 + Math.log(tf) : tf) * this.idf[row.cols[p]!]!;
        row.vals[p] = v;
        norm += v * v;
      }
      norm = Math.sqrt(norm);
      if (norm > 0) for (let p = 0; p < row.vals.length; p++) row.vals[p]! /= norm;
    }
    return csrFromRows(rows, this.terms.length);
  }
}
