import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { assertOneLineError, gotune, ROOT } from "./helpers/cli.js";

const MINI = join(ROOT, "test", "fixtures", "prepare", "mini.obo");
let dir = "";
after(() => rm(dir, { recursive: true, force: true }));

test("gotune run prepares the data and runs both baseline protocols on a given OBO", async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-run-"));
  const out = join(dir, "out");
  const r = gotune(["run", "--obo", MINI, "--out", out, "--no-figures"], { GOTUNE_HOME: join(dir, "home") });
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
  assert.equal(summary.go.source, "file");
  assert.equal(summary.go.path, MINI);
  for (const f of ["train.jsonl", "test.jsonl", "terms.csv", "stats.json", "baseline.json"])
    assert.ok(existsSync(join(out, "data", f)), f);
  const { full, study } = summary.baseline;
  const train = (await readFile(join(out, "data", "train.jsonl"), "utf8")).trim().split("\n").length;
  const test_ = (await readFile(join(out, "data", "test.jsonl"), "utf8")).trim().split("\n").length;
  // The fixture is smaller than the study's 2,000/1,000, so both protocols use every example.
  assert.deepEqual([full.train_examples, full.eval_examples], [train, test_]);
  assert.deepEqual([study.train_examples, study.eval_examples], [train, test_]);
  for (const m of [full, study]) {
    assert.ok(m.accuracy >= 0 && m.accuracy <= 1);
    assert.ok(m.macro_f1 >= 0 && m.macro_f1 <= 1);
  }
  assert.match(r.stdout, /baseline, full split/);
});

test("gotune run with a missing OBO file says so in one line", async () => {
  const r = gotune(["run", "--obo", join(ROOT, "no-such.obo"), "--out", join(dir || tmpdir(), "x")]);
  // Stage lines ("run: ...") may come first; the error itself is one line, with no stack trace.
  assert.notEqual(r.code, 0);
  assertOneLineError({ ...r, lines: r.lines.filter((l) => !l.startsWith("run: ")) }, /no-such\.obo/);
});
