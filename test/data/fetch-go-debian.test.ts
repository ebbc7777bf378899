/**
 * The Debian source when apt knows nothing yet (empty package lists, as on a fresh container): root
 * runs `apt-get update` itself, anyone else is told the one command to run. Uses a private, empty
 * lists folder so the machine's own apt state is left alone.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DEBIAN_GO, fetchGo } from "../../src/data/fetch-go.js";

process.env.GOTUNE_NO_PROGRESS = "1";
const isRoot = process.getuid?.() === 0;
const FETCH_GO = new URL("../../src/data/fetch-go.js", import.meta.url).href;

/** A fresh, empty apt lists folder and a cache home, both usable by any user. */
async function emptyApt(): Promise<{ lists: string; home: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "gotune-apt-"));
  const lists = join(dir, "lists");
  const home = join(dir, "home");
  await mkdir(join(lists, "partial"), { recursive: true });
  await mkdir(home);
  for (const p of [dir, lists, join(lists, "partial"), home]) await chmod(p, 0o777);
  return { lists, home, dir };
}

test("as a user, empty apt lists give one line saying to run apt-get update", {
  skip: !isRoot && "needs root to switch to an unprivileged user",
}, async () => {
  const { lists, home, dir } = await emptyApt();
  const script =
    `const { fetchGo } = await import(${JSON.stringify(FETCH_GO)});` +
    `try { await fetchGo({ source: "debian", home: ${JSON.stringify(home)},` +
    ` aptOptions: ["-o", "Dir::State::Lists=${lists}"] }); console.log("no error"); }` +
    ` catch (e) { console.log(e.toLine ? e.toLine() : "not a UserError: " + e); }`;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script],
      { uid: 65534, gid: 65534, cwd: dir, env: { ...process.env, HOME: home } },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    ),
  );
  assert.equal(
    out.trim(),
    "gotune: apt's package lists do not hold tnseq-transit=3.2.7-1; run `sudo apt-get update` once, then run this again",
  );
  assert.deepEqual(await readdir(join(home, "go")), [], "nothing, not even a partial file, is left");
  await rm(dir, { recursive: true, force: true });
});

test("as root, empty apt lists are updated first, then the release is fetched", {
  skip: !isRoot && "needs root",
}, async () => {
  const { lists, home, dir } = await emptyApt();
  const r = await fetchGo({ source: "debian", home, aptOptions: ["-o", `Dir::State::Lists=${lists}`] });
  assert.equal(r.source, "debian");
  assert.equal(r.sha256, DEBIAN_GO.sha256);
  assert.equal(r.dataVersion, "releases/2018-03-09");
  assert.ok((await readdir(lists)).some((f) => f.endsWith("_Packages") || f.includes("Packages")));
  assert.deepEqual((await readdir(join(home, "go"))).sort(), ["cached.json", DEBIAN_GO.file]);
  await rm(dir, { recursive: true, force: true });
});
