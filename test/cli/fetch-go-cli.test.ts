import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { closedPortUrl, FEATURES_OBO, startServer, type TestServer } from "../fixtures/obo/server.js";
import { assertOneLineError, type CliRun, gotuneAsync } from "../helpers/cli.js";

let server: TestServer;
before(async () => {
  server = await startServer();
});
const homes: string[] = [];
after(async () => {
  await server.close();
  for (const h of homes) await rm(h, { recursive: true, force: true });
});

async function newHome(): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), "gotune-cli-"));
  homes.push(h);
  return h;
}

/** Runs `gotune ARGS` with its own cache folder (asynchronously, so the test server keeps answering). */
const gotune = (args: string[], home: string) => gotuneAsync(args, { GOTUNE_HOME: home });

/** A failed run prints nothing on stdout and one line on stderr. */
function oneLineError(r: CliRun, re: RegExp): void {
  assert.equal(r.stdout, "");
  assertOneLineError(r, re);
}

test("fetch-go --obo URL prints the path, source and data-version; then the cache is used", async () => {
  const home = await newHome();
  const r = await gotune(["fetch-go", "--obo", `${server.base}/go.obo`], home);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^path: ${join(home, "go", "go.obo")}$`, "m"));
  assert.match(r.stdout, /^source: url \(http:\/\/127\.0\.0\.1:\d+\/go\.obo\)$/m);
  assert.match(r.stdout, /^data-version: releases\/2024-01-17$/m);
  assert.match(r.stdout, /^sha256: [0-9a-f]{64}$/m);
  const j = await gotune(["fetch-go", "--source", "cache", "--json"], home);
  assert.equal(j.code, 0, j.stderr);
  const obj = JSON.parse(j.stdout);
  assert.equal(obj.source, "cache");
  assert.equal(obj.path, join(home, "go", "go.obo"));
  assert.equal(obj.dataVersion, "releases/2024-01-17");
  assert.equal(obj.terms, 5);
  assert.equal(j.stdout.trimEnd().split("\n").length, 1, "--json prints one object");
});

test("fetch-go --help says what it does", async () => {
  const r = await gotune(["fetch-go", "--help"], tmpdir());
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Gene Ontology release/);
  assert.match(r.stdout, /--source <source>/);
});

test("bad input is one line on stderr and a non-zero exit", async () => {
  const home = await newHome();
  oneLineError(await gotune(["fetch-go", "--obo", join(home, "missing.obo")], home), /missing\.obo: no such/);
  const png = join(home, "x.png");
  await writeFile(
    png,
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48]),
  );
  oneLineError(await gotune(["fetch-go", "--obo", png], home), /x\.png:1: is binary data/);
  const dup = join(FEATURES_OBO, "..", "duplicate-id.obo");
  oneLineError(await gotune(["fetch-go", "--obo", dup], home), /duplicate-id\.obo:9: duplicate Term id/);
  oneLineError(await gotune(["fetch-go", "--source", "bogus"], home), /--source bogus is not a source/);
  oneLineError(await gotune(["fetch-go", "--source", "cache"], home), /no GO release in the cache/);
  oneLineError(
    await gotune(["fetch-go", "--obo", `${server.base}/truncated.obo`], home),
    /truncated\.obo .*\d+ of \d+ bytes/,
  );
  oneLineError(
    await gotune(["fetch-go", "--source", "url", "--url", await closedPortUrl()], home),
    /refused/,
  );
});
