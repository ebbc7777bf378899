/** A seeded, stratified train/test split that is the same on every run and machine. */
import { Rng } from "../util/rng.js";

/** The two sides of a split. */
export interface Split<T> {
  train: T[];
  test: T[];
}

/** How to split: the test share (0 < testSize < 1), the seed, and each item's class and stable key. */
export interface SplitOptions<T> {
  testSize: number;
  seed: number;
  classOf: (item: T) => number | string;
  /** A unique key per item (e.g. the GO id); items are sorted by it first so input order does not matter. */
  keyOf: (item: T) => string;
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Splits items so each class keeps its share: round(n_c × testSize) of class c go to test. Classes are
 * visited in sorted order and drawn with one seeded generator, so the result depends only on the items,
 * the share and the seed. Each side is then shuffled with the same generator, so any prefix of a side
 * is a random sample of it (the order is still fixed by the seed).
 */
export function stratifiedSplit<T>(items: readonly T[], opts: SplitOptions<T>): Split<T> {
  const { testSize, seed, classOf, keyOf } = opts;
  if (!(testSize > 0 && testSize < 1)) throw new RangeError(`testSize must be in (0, 1), got ${testSize}`);
  const groups = new Map<string, T[]>();
  for (const it of items) {
    const c = String(classOf(it));
    let g = groups.get(c);
    if (!g) {
      g = [];
      groups.set(c, g);
    }
    g.push(it);
  }
  const rng = new Rng(seed);
  const train: T[] = [];
  const test: T[] = [];
  const classes = [...groups.keys()].sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : byKey(a, b);
  });
  for (const c of classes) {
    const g = groups.get(c)!;
    g.sort((a, b) => byKey(keyOf(a), keyOf(b)));
    rng.shuffle(g);
    const nTest = Math.round(g.length * testSize);
    for (let i = 0; i < g.length; i++) (i < nTest ? test : train).push(g[i]!);
  }
  rng.shuffle(train);
  rng.shuffle(test);
  return { train, test };
}

/** Counts items per class, keyed by class. */
export function countByClass<T>(
  items: readonly T[],
  classOf: (item: T) => number | string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) {
    const c = String(classOf(it));
    out[c] = (out[c] ?? 0) + 1;
  }
  return out;
}
