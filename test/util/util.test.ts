import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/util/errors.js";
import {
  jsonlRecords,
  readBoundedFile,
  readJsonl,
  readJsonObject,
  textLines,
  writeFileAtomic,
} from "../../src/util/fsx.js";
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

test("textLines streams lines across read chunks, CRLF or LF, and refuses a line past its limit at once", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-"));
  const p = join(dir, "lines.txt");
  // Lines longer than a read chunk (64 KiB) and lines cut across chunks come out whole.
  const long = "x".repeat(100_000);
  await writeFile(p, `a\r\n${long}\nb\n\nc`);
  const got: [number, string][] = [];
  for await (const l of textLines(p)) got.push(l);
  assert.deepEqual(got, [
    [1, "a"],
    [2, long],
    [3, "b"],
    [4, ""],
    [5, "c"],
  ]);
  await assert.rejects(
    (async () => {
      for await (const _ of textLines(p, { maxLine: 50_000 }));
    })(),
    (e: unknown) => e instanceof UserError && e.toLine().includes(`${p}:2: this line is longer than`),
  );
  await assert.rejects(
    readJsonl(p, { maxBytes: 1000 }),
    (e: unknown) => e instanceof UserError && /is larger than/.test(e.message),
  );
});

test("jsonlRecords gives each value with its real line number, blank lines counted", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-"));
  const p = join(dir, "a.jsonl");
  await writeFile(p, '{"a":1}\n\n{"a":2}\n');
  const got: [number, unknown][] = [];
  for await (const r of jsonlRecords(p)) got.push(r);
  assert.deepEqual(got, [
    [1, { a: 1 }],
    [3, { a: 2 }],
  ]);
});

test("readBoundedFile refuses a FIFO without blocking, a device, a folder and a file past its cap", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-"));
  const fifo = join(dir, "config.json");
  execFileSync("mkfifo", [fifo]);
  const special = (e: unknown) => e instanceof UserError && /not a regular file \(a FIFO/.test(e.message);
  await assert.rejects(readBoundedFile(fifo, 1 << 20), special);
  await assert.rejects(readJsonObject(fifo), special);
  await assert.rejects(readBoundedFile("/dev/zero", 1 << 20), special);
  await assert.rejects(
    readBoundedFile(dir, 1 << 20),
    (e: unknown) => e instanceof UserError && /a folder/.test(e.message),
  );
  const big = join(dir, "big.json");
  await writeFile(big, "{}");
  await truncate(big, 2 << 20); // sparse: 2 MiB on paper, nothing on disk
  await assert.rejects(
    readBoundedFile(big, 1 << 20, "config.json"),
    (e: unknown) =>
      e instanceof UserError && /larger than 1 MiB, the most gotune reads of a config.json/.test(e.message),
  );
  assert.equal((await readBoundedFile(big, 4 << 20)).length, 2 << 20);
});
