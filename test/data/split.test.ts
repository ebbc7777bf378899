import assert from "node:assert/strict";
import { test } from "node:test";
import { countByClass, stratifiedSplit } from "../../src/data/split.js";
import { Rng } from "../../src/util/rng.js";

interface Item {
  id: string;
  label: number;
}

function items(sizes: number[]): Item[] {
  const out: Item[] = [];
  sizes.forEach((n, label) => {
    for (let i = 0; i < n; i++) out.push({ id: `GO:${label}${String(i).padStart(7, "0")}`, label });
  });
  return out;
}

const opts = (seed: number, testSize = 0.2) => ({
  seed,
  testSize,
  classOf: (t: Item) => t.label,
  keyOf: (t: Item) => t.id,
});
const ids = (xs: Item[]) => xs.map((x) => x.id);

test("each class keeps its share of the test set within one item", () => {
  const rng = new Rng(3);
  for (let trial = 0; trial < 40; trial++) {
    const sizes = [1 + rng.int(300), rng.int(50), 1 + rng.int(1000)];
    const testSize = 0.05 + 0.9 * rng.next();
    const all = items(sizes);
    const { train, test } = stratifiedSplit(all, opts(trial, testSize));
    const tc = countByClass(test, (t) => t.label);
    const rc = countByClass(train, (t) => t.label);
    sizes.forEach((n, c) => {
      const got = tc[String(c)] ?? 0;
      assert.ok(Math.abs(got - n * testSize) <= 1, `class ${c}: ${got} of ${n} at ${testSize}`);
      assert.equal(got + (rc[String(c)] ?? 0), n);
    });
  }
});

test("the split is disjoint and complete", () => {
  const all = items([120, 30, 77]);
  const { train, test } = stratifiedSplit(all, opts(42));
  const a = new Set(ids(train));
  assert.equal(a.size, train.length);
  for (const id of ids(test)) assert.ok(!a.has(id), `${id} is on both sides`);
  assert.deepEqual([...ids(train), ...ids(test)].sort(), ids(all).sort());
});

test("the same seed gives the same split and order, whatever the input order; another seed differs", () => {
  const all = items([200, 40, 90]);
  const a = stratifiedSplit(all, opts(42));
  const b = stratifiedSplit(new Rng(9).shuffle([...all]), opts(42));
  assert.deepEqual(ids(a.train), ids(b.train));
  assert.deepEqual(ids(a.test), ids(b.test));
  const c = stratifiedSplit(all, opts(43));
  assert.notDeepEqual(new Set(ids(a.test)), new Set(ids(c.test)));
});

test("each side is shuffled across classes, not grouped by class", () => {
  const { train } = stratifiedSplit(items([100, 100, 100]), opts(1));
  const firstHalf = countByClass(train.slice(0, 120), (t) => t.label);
  for (const c of ["0", "1", "2"]) assert.ok((firstHalf[c] ?? 0) > 15, JSON.stringify(firstHalf));
});

test("a test share outside (0, 1) is refused", () => {
  for (const bad of [0, 1, -0.1, 1.5, Number.NaN])
    assert.throws(() => stratifiedSplit(items([5]), opts(1, bad)), RangeError);
});
