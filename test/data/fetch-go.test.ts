import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { appendFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fetchGo } from "../../src/data/fetch-go.js";
import { UserError } from "../../src/util/errors.js";
import { closedPortUrl, FEATURES_OBO, startServer, type TestServer } from "../fixtures/obo/server.js";

let server: TestServer;
before(async () => {
  process.env.GOTUNE_NO_PROGRESS = "1";
  server = await startServer();
});
const homes: string[] = [];
after(async () => {
  await server.close();
  for (const h of homes) await rm(h, { recursive: true, force: true });
});

async function home(): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), "gotune-home-"));
  homes.push(h);
  return h;
}
const sha = async (p: string) =>
  createHash("sha256")
    .update(await readFile(p))
    .digest("hex");

/** Asserts a UserError whose message matches `re`. */
const userError = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof UserError, `not a UserError: ${e}`);
  assert.match(e.message, re);
  return true;
};

/** The go/ folder holds exactly `names` (no temporary or partial files). */
async function goFolderHolds(h: string, names: string[]) {
  const files = await readdir(join(h, "go")).catch(() => []);
  assert.deepEqual(files.sort(), [...names].sort());
}

test("--obo URL downloads into the cache, checks it parses, and records it", async () => {
  const h = await home();
  const r = await fetchGo({ obo: `${server.base}/go.obo`, home: h });
  assert.equal(r.source, "url");
  assert.equal(r.path, join(h, "go", "go.obo"));
  assert.equal(r.dataVersion, "releases/2024-01-17");
  assert.equal(r.terms, 5);
  assert.equal(r.sha256, await sha(FEATURES_OBO));
  assert.deepEqual(await readFile(r.path), await readFile(FEATURES_OBO));
  await goFolderHolds(h, ["go.obo", "cached.json"]);
  const rec = JSON.parse(await readFile(join(h, "go", "cached.json"), "utf8"));
  assert.equal(rec.sha256, r.sha256);
  assert.equal(rec.origin, `${server.base}/go.obo`);
});

test("a cached copy is found by --source cache and first by auto, without the network", async () => {
  const h = await home();
  const first = await fetchGo({ source: "url", url: `${server.base}/go.obo`, home: h });
  const hits = server.hits.get("/go.obo");
  const cached = await fetchGo({ source: "cache", home: h });
  assert.equal(cached.source, "cache");
  assert.equal(cached.path, first.path);
  assert.equal(cached.sha256, first.sha256);
  assert.equal(cached.dataVersion, "releases/2024-01-17");
  assert.equal(cached.origin, `${server.base}/go.obo`);
  const auto = await fetchGo({ home: h, url: `${server.base}/go.obo` });
  assert.equal(auto.source, "cache");
  assert.equal(server.hits.get("/go.obo"), hits, "no new request");
});

test("a cached copy that no longer matches its checksum is not used", async () => {
  const h = await home();
  const r = await fetchGo({ obo: `${server.base}/go.obo`, home: h });
  await appendFile(r.path, "\n! edited\n");
  await assert.rejects(fetchGo({ source: "cache", home: h }), userError(/no GO release in the cache/));
});

test("--source cache with an empty cache says what to run", async () => {
  await assert.rejects(
    fetchGo({ source: "cache", home: await home() }),
    (e: unknown) => e instanceof UserError && /run `gotune fetch-go`/.test(e.toLine()),
  );
});

test("a download without Content-Length (chunked) works", async () => {
  const h = await home();
  const r = await fetchGo({ source: "url", url: `${server.base}/chunked.obo`, home: h });
  assert.equal(r.sha256, await sha(FEATURES_OBO));
  await goFolderHolds(h, ["chunked.obo", "cached.json"]);
});

test("a truncated download never lands under its final name, and the earlier copy stays", async () => {
  const h = await home();
  await fetchGo({ obo: `${server.base}/go.obo`, home: h });
  await assert.rejects(
    fetchGo({ obo: `${server.base}/truncated.obo`, home: h }),
    userError(/download of .*truncated\.obo (is truncated: |failed after )\d+ of \d+ bytes/),
  );
  await goFolderHolds(h, ["go.obo", "cached.json"]);
  assert.equal((await fetchGo({ source: "cache", home: h })).path, join(h, "go", "go.obo"));
});

test("a download that stalls mid-way times out and leaves nothing", async () => {
  const h = await home();
  await assert.rejects(
    fetchGo({ obo: `${server.base}/stall.obo`, home: h, timeoutMs: 300 }),
    userError(/failed after 200 of \d+ bytes: no answer within 0\.3 s/),
  );
  await goFolderHolds(h, []);
});

test("HTTP errors and pages that are not OBO are reported and not cached", async () => {
  const h = await home();
  await assert.rejects(fetchGo({ obo: `${server.base}/missing.obo`, home: h }), userError(/HTTP 404/));
  await assert.rejects(
    fetchGo({ obo: `${server.base}/page.obo`, home: h }),
    (e: unknown) =>
      e instanceof UserError &&
      e.toLine().startsWith(`gotune: ${server.base}/page.obo:1: does not look like`),
  );
  await goFolderHolds(h, []);
});

test("an unreachable URL fails at once, a silent server after the timeout: no long hang", async () => {
  const h = await home();
  let t0 = Date.now();
  await assert.rejects(fetchGo({ source: "url", url: await closedPortUrl(), home: h }), userError(/refused/));
  assert.ok(Date.now() - t0 < 5000, "refused connections fail without waiting");
  t0 = Date.now();
  await assert.rejects(
    fetchGo({ source: "url", url: `${server.base}/hang.obo`, home: h, timeoutMs: 300 }),
    userError(/no answer within 0\.3 s/),
  );
  assert.ok(Date.now() - t0 < 5000, "the timeout is honoured");
  await goFolderHolds(h, []);
});

test("--obo PATH is used in place, parsed and described", async () => {
  const h = await home();
  const r = await fetchGo({ obo: FEATURES_OBO, home: h });
  assert.equal(r.source, "file");
  assert.equal(r.path, FEATURES_OBO);
  assert.equal(r.terms, 5);
  assert.equal(r.dataVersion, "releases/2024-01-17");
  await goFolderHolds(h, []);
  await assert.rejects(fetchGo({ obo: join(h, "nope.obo"), home: h }), userError(/no such OBO file/));
});

test("conflicting or unknown options are one clear error", async () => {
  const h = await home();
  await assert.rejects(fetchGo({ obo: FEATURES_OBO, source: "debian", home: h }), userError(/both given/));
  await assert.rejects(fetchGo({ source: "ftp" as "url", home: h }), userError(/unknown source `ftp`/));
  await assert.rejects(fetchGo({ obo: "http://", home: h }), userError(/not a valid URL/));
});
