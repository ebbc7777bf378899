/**
 * WordPiece vocabulary training as Hugging Face's WordPieceTrainer: BPE merges over the normalised,
 * pre-tokenised words, where every non-initial character carries the `##` prefix; the merged strings
 * (and the alphabet) become the vocabulary. Deterministic: words are taken by frequency then text,
 * and ties between pairs go to the lower ids, as the crate's heap orders them.
 */
import { type BertNormalizerOptions, bertNormalize, bertPreTokenize } from "./bert-text.js";
import { BERT_SPECIALS } from "./tokenizer.js";

/** Options of a training run. */
export interface TrainOptions {
  vocabSize: number;
  /** A pair seen fewer times than this is never merged. */
  minFrequency: number;
  /** Called after each merge with (merges done, merges at most). */
  onMerge?: (done: number, total: number) => void;
}

/** The special tokens a trained vocabulary starts with, ids 0..4. */
export const TRAIN_SPECIALS = [
  BERT_SPECIALS.pad,
  BERT_SPECIALS.unk,
  BERT_SPECIALS.cls,
  BERT_SPECIALS.sep,
  BERT_SPECIALS.mask,
];

/** Counts the words of texts as the BERT normaliser and pre-tokenizer make them. */
export class WordCounter {
  readonly counts = new Map<string, number>();
  constructor(readonly normalizer: BertNormalizerOptions) {}

  add(text: string): void {
    for (const w of bertPreTokenize(bertNormalize(text, this.normalizer)))
      this.counts.set(w, (this.counts.get(w) ?? 0) + 1);
  }
}

// A max-heap of (count, pair) where larger counts win and, on ties, the smaller pair key.
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private before(i: number, j: number): boolean {
    return (
      this.counts[i]! > this.counts[j]! ||
      (this.counts[i] === this.counts[j] && this.keys[i]! < this.keys[j]!)
    );
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const last = this.keys.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < this.keys.length && this.before(l, best)) best = l;
      if (r < this.keys.length && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }
}

const SHIFT = 2 ** 21; // pair key = a * SHIFT + b, so ids stay below 2^21 (2 M tokens)

/** Trains a vocabulary from word counts; returns the tokens in id order (specials first). */
export function trainWordPiece(counts: Map<string, number>, opts: TrainOptions, prefix = "##"): string[] {
  const vocab: string[] = [];
  const ids = new Map<string, number>();
  const add = (t: string): number => {
    let id = ids.get(t);
    if (id === undefined) {
      id = vocab.length;
      vocab.push(t);
      ids.set(t, id);
    }
    return id;
  };
  for (const s of TRAIN_SPECIALS) add(s);
  // The alphabet, in code point order as the crate adds it.
  const alphabet = new Set<number>();
  for (const w of counts.keys()) for (const ch of w) alphabet.add(ch.codePointAt(0)!);
  for (const cp of [...alphabet].sort((a, b) => a - b)) add(String.fromCodePoint(cp));

  const entries = [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [w, c] of entries) {
    const syms: number[] = [];
    let first = true;
    for (const ch of w) {
      syms.push(add(first ? ch : prefix + ch));
      first = false;
    }
    words.push(syms);
    freq.push(c);
  }

  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const bump = (key: number, by: number, wi: number) => {
    pairCount.set(key, (pairCount.get(key) ?? 0) + by);
    if (by > 0) {
      let s = where.get(key);
      if (!s) {
        s = new Set();
        where.set(key, s);
      }
      s.add(wi);
    }
  };
  words.forEach((syms, wi) => {
    for (let i = 0; i + 1 < syms.length; i++) bump(syms[i]! * SHIFT + syms[i + 1]!, freq[wi]!, wi);
  });
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);

  const total = Math.max(0, opts.vocabSize - vocab.length);
  let done = 0;
  while (vocab.length < opts.vocabSize && heap.size > 0) {
    const [count, key] = heap.pop();
    const now = pairCount.get(key) ?? 0;
    if (count !== now) {
      if (now > 0) heap.push(now, key);
      continue;
    }
    if (count < opts.minFrequency || count === 0) break;
    const a = Math.floor(key / SHIFT);
    const b = key % SHIFT;
    const right = vocab[b]!;
    const merged = add(vocab[a]! + (right.startsWith(prefix) ? right.slice(prefix.length) : right));
    const touched = new Set<number>();
    for (const wi of where.get(key) ?? []) {
      const old = words[wi]!;
      const f = freq[wi]!;
      const next: number[] = [];
      for (let i = 0; i < old.length; i++) {
        if (i + 1 < old.length && old[i] === a && old[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(old[i]!);
      }
      if (next.length === old.length) continue;
      for (let i = 0; i + 1 < old.length; i++) bump(old[i]! * SHIFT + old[i + 1]!, -f, wi);
      for (let i = 0; i + 1 < next.length; i++) {
        const k = next[i]! * SHIFT + next[i + 1]!;
        bump(k, f, wi);
        if (next[i] === merged || next[i + 1] === merged) touched.add(k);
      }
      words[wi] = next;
    }
    pairCount.delete(key);
    where.delete(key);
    for (const k of touched) if ((pairCount.get(k) ?? 0) > 0) heap.push(pairCount.get(k)!, k);
    opts.onMerge?.(++done, total);
  }
  return vocab;
}
