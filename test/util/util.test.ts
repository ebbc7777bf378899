import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/util/errors.js";
import { readJsonl, writeFileAtomic } from "../../src/util/fsx.js";
import { Rng } from "../../src/util/rng.js";

test("Rng is deterministic for a seed and differs across seeds", () => {
  const a = Array.from(
    { length: 5 },
    (
      (r) => () =>
        r.nextUint32()
    )(new Rng(42)),
  );
  const b = Array.from(
    { length: 5 },
    (
      (r) => () =>
        r.nextUint32()
    )(new Rng(42)),
  );
  const c = Array.from(
    { length: 5 },
    (
      (r) => () =>
        r.nextUint32()
    )(new Rng(43)),
  );
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const xs = Array.from(
    { length: 10000 },
    (
      (r) => () =>
        r.next()
    )(new Rng(1)),
  );
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test("shuffle is a permutation", () => {
  const arr = Array.from({ length: 100 }, (_, i) => i);
  const s = new Rng(7).shuffle([...arr]);
  assert.notDeepEqual(s, arr);
  assert.deepEqual(
    [...s].sort((x, y) => x - y),
    arr,
  );
});

test("writeFileAtomic replaces whole files and leaves no temporary file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-"));
  const p = join(dir, "a.txt");
  await writeFileAtomic(p, "one");
  await writeFileAtomic(p, "two");
  assert.equal(await readFile(p, "utf8"), "two");
  assert.deepEqual(await readdir(dir), ["a.txt"]);
});

test("readJsonl names the file and line of bad JSON", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-"));
  const p = join(dir, "bad.jsonl");
  await writeFile(p, '{"a":1}\n{oops\n');
  await assert.rejects(
    readJsonl(p),
    (e: unknown) => e instanceof UserError && e.toLine().includes(`${p}:2:`),
  );
});
