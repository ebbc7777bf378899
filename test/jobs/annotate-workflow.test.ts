/**
 * The annotate workflow on the engines themselves: Debian's snakemake runs workflows/annotate on a
 * generated PubMed corpus (plain and gzipped XML) locally, then through a one-node Slurm cluster started
 * here; both merged outputs must equal one unsharded `gotune annotate` of the same input.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ParquetReader } from "@dsnp/parquetjs";
import { pubmedXml, writePubmed } from "../fixtures/annotate/pubmed-corpus.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { CLI, gotune, ROOT } from "../helpers/cli.js";
import { startSlurm, whyNoSlurm } from "../helpers/slurm.js";

const SNAKEFILE = join(ROOT, "workflows", "annotate", "Snakefile");
const SNAKEMAKE = "/usr/bin/snakemake";
let dir = "";
let inputs: string[] = [];
let single = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-workflow-"));
  await writeTinyModel(join(dir, "model"));
  inputs = [join(dir, "pubmed-a.xml"), join(dir, "pubmed-b.xml.gz")];
  await writeFile(inputs[0]!, pubmedXml(24, 3, 30_000_000));
  await writePubmed(inputs[1]!, 24, { seed: 4, first: 31_000_000, gzip: true });
  single = join(dir, "single");
  const r = gotune(["annotate", "--model", join(dir, "model"), "--input", ...inputs, "--out", single]);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rm(dir, { recursive: true, force: true }));

/** Runs a command to its end without blocking the event loop; resolves with its exit code and output. */
function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd = dir) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    const c = spawn(cmd, args, { cwd, env: { ...process.env, GOTUNE_NO_PROGRESS: "1", ...env } });
    let out = "";
    c.stdout.on("data", (d) => {
      out += d;
    });
    c.stderr.on("data", (d) => {
      out += d;
    });
    c.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

async function writeConfig(name: string, out: string): Promise<string> {
  const path = join(dir, `${name}.yaml`);
  const config = {
    gotune: `${process.execPath} ${CLI}`,
    model: join(dir, "model"),
    inputs,
    out,
    shards: 3,
    threads: 1,
    mem_mb: 400,
    runtime: 10,
    batch_size: 16,
  };
  await writeFile(path, JSON.stringify(config)); // YAML is a superset of JSON
  return path;
}

const jsonl = async (p: string) =>
  (await readFile(p, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Sentence rows equal field by field; probabilities to float rounding (shards batch differently). */
function assertSameSentences(actual: Record<string, unknown>[], expected: Record<string, unknown>[]): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    assert.deepEqual(Object.keys(a), Object.keys(e));
    for (const k of Object.keys(e)) {
      if (k.startsWith("p_"))
        assert.ok(Math.abs((a[k] as number) - (e[k] as number)) < 1e-5, `row ${i} ${k}`);
      else if (k !== "predicted") assert.equal(a[k], e[k], `row ${i} ${k}`);
    }
    const ps = Object.keys(e)
      .filter((k) => k.startsWith("p_"))
      .map((k) => e[k] as number)
      .sort((x, y) => y - x);
    if (ps[0]! - ps[1]! > 1e-5) assert.equal(a.predicted, e.predicted, `row ${i} predicted`);
  });
}

/** The merged outputs of a workflow run equal the unsharded run's files, input by input. */
async function assertMergedEqualsSingle(merged: string): Promise<void> {
  const names = ["pubmed-a", "pubmed-b"];
  const expSent = (await Promise.all(names.map((n) => jsonl(join(single, `${n}.sentences.jsonl`))))).flat();
  const expDocs = (await Promise.all(names.map((n) => jsonl(join(single, `${n}.documents.jsonl`))))).flat();
  const sent = await jsonl(join(merged, "sentences.jsonl"));
  assert.ok(expSent.length > 100, `only ${expSent.length} sentences`);
  assertSameSentences(sent, expSent);
  const docs = await jsonl(join(merged, "documents.jsonl"));
  assert.deepEqual(
    docs.map((d) => [d.doc_id, d.index, d.source, d.sentences, d.journal, d.year]),
    expDocs.map((d) => [d.doc_id, d.index, d.source, d.sentences, d.journal, d.year]),
  );
  // The Parquet table holds the same rows as the JSON Lines one.
  const reader = await ParquetReader.openFile(join(merged, "sentences.parquet"));
  const cursor = reader.getCursor();
  let i = 0;
  for (
    let row = (await cursor.next()) as Record<string, unknown> | null;
    row;
    row = (await cursor.next()) as never
  ) {
    const j = sent[i++]!;
    assert.equal(row.doc_id, j.doc_id);
    assert.equal(Number(row.start), j.start);
    assert.equal(Number(row.end), j.end);
    assert.equal(row.text, j.text);
    assert.equal(row.p_cellular_component, j.p_cellular_component);
  }
  await reader.close();
  assert.equal(i, sent.length);
  const summary = JSON.parse(await readFile(join(merged, "summary.json"), "utf8"));
  assert.equal(summary.shards, 3);
  assert.equal(summary.sentences, expSent.length);
  assert.ok(summary.by_year.length > 10 && summary.by_journal.length === 5);
  for (const f of ["report.html", "figures/aspect_mix_by_year.png", "figures/aspect_mix_by_journal.svg"])
    assert.ok(existsSync(join(merged, f)), f);
}

test("snakemake --cores 2 runs the workflow: 3 shards merged equal one unsharded annotate", async (t) => {
  if (!existsSync(SNAKEMAKE)) return t.skip(`${SNAKEMAKE} is missing (bash scripts/setup.sh installs it)`);
  const config = await writeConfig("local", "local");
  const r = await run(SNAKEMAKE, [
    "-s",
    SNAKEFILE,
    "--cores",
    "2",
    "--configfile",
    config,
    "--directory",
    dir,
  ]);
  assert.equal(r.code, 0, r.out);
  await assertMergedEqualsSingle(join(dir, "local", "merged"));
  // A finished workflow is a no-op.
  const again = await run(SNAKEMAKE, [
    "-s",
    SNAKEFILE,
    "--cores",
    "2",
    "--configfile",
    config,
    "--directory",
    dir,
  ]);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /Nothing to be done/);
});

test("snakemake --slurm runs the same workflow unchanged on a one-node Slurm cluster", async (t) => {
  const why = whyNoSlurm();
  if (why) return t.skip(`Slurm not started: ${why}`);
  const slurmDir = await mkdtemp(join(tmpdir(), "gotune-slurm-"));
  let cluster: Awaited<ReturnType<typeof startSlurm>>;
  try {
    cluster = await startSlurm(slurmDir);
  } catch (err) {
    await rm(slurmDir, { recursive: true, force: true });
    return t.skip(`Slurm could not start here: ${(err as Error).message.split("\n")[0]}`);
  }
  try {
    const config = await writeConfig("slurm", "slurm");
    const r = await run(
      SNAKEMAKE,
      [
        "-s",
        SNAKEFILE,
        "--slurm",
        "--jobs",
        "3",
        "--configfile",
        config,
        "--directory",
        dir,
        "--latency-wait",
        "10",
      ],
      cluster.env,
    );
    assert.equal(r.code, 0, `${r.out}\n${cluster.logs()}`);
    assert.match(r.out, /submitted with SLURM jobid/);
    await assertMergedEqualsSingle(join(dir, "slurm", "merged"));
  } finally {
    await cluster.stop();
    await rm(slurmDir, { recursive: true, force: true });
  }
});
