import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { parseModelId, resolveModel } from "../../src/hf/hub.js";
import { encodeSafetensors } from "../../src/hf/safetensors.js";
import { UserError } from "../../src/util/errors.js";
import { gotuneAsync } from "../helpers/cli.js";
import { HostileHub, HUB_COMMIT } from "../helpers/hostile-hub.js";

const FIXTURE = join(import.meta.dirname, "..", "..", "..", "test", "fixtures", "hf", "tiny-bert");
const hub = new HostileHub();
let root = "";
let cache = "";
let n = 0;
const weights = Buffer.from(
  encodeSafetensors([
    { name: "w", shape: [300, 100], data: Float32Array.from({ length: 30000 }, (_, i) => i) },
  ]),
);

// Every file under `root` but the cache, with its bytes: what a hostile answer must never change.
async function outside(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (p === cache) continue;
      if (e.isDirectory()) await walk(p);
      else out.set(relative(root, p), (await readFile(p)).toString("base64"));
    }
  };
  await walk(root);
  return out;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), "gotune-hostile-"));
  hub.files.set("config.json", Buffer.from('{"model_type": "bert", "vocab_size": 41}'));
  hub.files.set("vocab.txt", await readFile(join(FIXTURE, "vocab.txt")));
  hub.files.set("tokenizer_config.json", await readFile(join(FIXTURE, "tokenizer_config.json")));
  hub.files.set("model.safetensors", weights);
  hub.lfs.add("model.safetensors");
  await hub.start();
});
after(async () => {
  await hub.stop();
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  hub.reset();
  // A fresh cache per case, two levels below root, with canaries where traversals would land.
  cache = join(root, `case${++n}`, "hub");
  await mkdir(cache, { recursive: true });
  await writeFile(join(root, "canary"), "canary: must stay as it is\n");
  await writeFile(join(root, `case${n}`, "canary"), "canary: must stay as it is\n");
});

const opts = () => ({ cacheDir: cache, endpoint: hub.endpoint, token: "", offline: false });

async function refused(want: "model" | "tokenizer", re: RegExp, id = "org/tiny"): Promise<void> {
  const before = await outside();
  await assert.rejects(resolveModel(id, want, opts()), (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${(e as Error).stack}`);
    assert.match(e.toLine(), re);
    assert.doesNotMatch(e.toLine(), /\n/);
    return true;
  });
  assert.deepEqual(await outside(), before, "a file outside the cache was created, changed or removed");
}

test("an honest answer still downloads (the baseline the hostile cases depart from)", async () => {
  const dir = await resolveModel("org/tiny", "model", opts());
  assert.equal(dir, join(cache, "models--org--tiny", "snapshots", HUB_COMMIT));
  assert.deepEqual(await readFile(join(dir, "model.safetensors")), weights);
});

test("an ETag that is a path (traversal, absolute, dotted) is refused before it names a blob", async () => {
  for (const etag of ["../../../canary", "../../canary", "/tmp/x", "..", "a/b", "a\\b"]) {
    hub.reset();
    hub.head.set("config.json", { headers: { etag: `"${etag}"` } });
    await refused("model", /as the ETag of org\/tiny@main\/config\.json, not a plain token/);
  }
  hub.reset();
  hub.head.set("model.safetensors", { headers: { "x-linked-etag": '"../../../../canary"' } });
  await refused("model", /ETag of org\/tiny@.*model\.safetensors, not a plain token/);
  assert.equal(await readFile(join(root, "canary"), "utf8"), "canary: must stay as it is\n");
});

test("an X-Repo-Commit that is not 40 hex digits is refused before it names refs or snapshots", async () => {
  for (const commit of [
    "../../..",
    "../../../canary",
    HUB_COMMIT.toUpperCase(),
    `${HUB_COMMIT}/..`,
    "main",
  ]) {
    hub.reset();
    hub.head.set("config.json", { headers: { "x-repo-commit": commit } });
    await refused("model", /as the commit of org\/tiny@main\/config\.json, not 40 hex digits/);
  }
  assert.equal(existsSync(join(cache, "models--org--tiny", "refs")), false);
});

test("a redirect to another scheme is refused; a size header that is not a number is an error, not NaN", async () => {
  hub.head.set("model.safetensors", { headers: { location: "file:///etc/passwd" } });
  await refused("model", /redirected org\/tiny@.*model\.safetensors to a "file:" URL/);
  for (const size of ["abc", "-1", "1e9", "12 34", ""]) {
    hub.reset();
    hub.head.set("model.safetensors", { headers: { "x-linked-size": size } });
    await refused("model", /X-Linked-Size: .* for org\/tiny@.*model\.safetensors, not a byte count/);
  }
  hub.reset();
  hub.head.set("config.json", { headers: { "content-length": "NaN" } });
  // Node's HTTP parser refuses this one itself.
  await refused("model", /sent a malformed HTTP answer for org\/tiny@main\/config\.json \(HPE_/);
});

test("index shard names that leave the model (.., absolute, backslash, NUL) are refused; no shard is fetched", async () => {
  const bad = [
    "../../../canary",
    "/etc/passwd",
    "..\\..\\canary",
    "shard\u0000.safetensors",
    "a/../../b",
    "",
  ];
  for (const shard of bad) {
    hub.reset();
    hub.files.delete("model.safetensors");
    const index = { metadata: {}, weight_map: { w: "model-1.safetensors", v: shard } };
    hub.files.set("model.safetensors.index.json", Buffer.from(JSON.stringify(index)));
    hub.files.set("model-1.safetensors", weights);
    try {
      await refused(
        "model",
        /model\.safetensors\.index\.json: weight_map\["v"\] names .* not a file inside the model/,
      );
    } finally {
      hub.files.set("model.safetensors", weights);
      hub.files.delete("model.safetensors.index.json");
      hub.files.delete("model-1.safetensors");
    }
    assert.ok(
      !hub.seen.some((s) => s.url.includes("model-1")),
      "a shard was fetched before every name was checked",
    );
  }
});

test("a revision that could leave refs/ is refused as it is parsed, before any request", async () => {
  for (const rev of ["../../canary", "a/../../b", "x\\y", "main\u0000", ".hidden", "a//b", "v1.lock"]) {
    assert.throws(
      () => parseModelId(`org/tiny@${rev}`),
      (e: unknown) => e instanceof UserError && /is not a revision/.test(e.message),
    );
  }
  assert.deepEqual(parseModelId("org/tiny@refs/pr/1"), { repo: "org/tiny", revision: "refs/pr/1" });
  assert.equal(parseModelId("org--x/tiny"), undefined);
  assert.equal(parseModelId(`${"a".repeat(97)}`), undefined);
  const r = await gotuneAsync(["tokenize", "--model", "org/tiny@../../../canary", "x"], {
    HF_ENDPOINT: hub.endpoint,
    HF_HUB_CACHE: cache,
  });
  assert.equal(r.code, 1);
  assert.equal(r.lines.length, 1, r.stderr);
  assert.match(
    r.lines[0]!,
    /^gotune: org\/tiny@\.\.\/\.\.\/\.\.\/canary: "\.\.\/\.\.\/\.\.\/canary" is not a revision/,
  );
  assert.equal(hub.seen.length, 0);
});

test("a planted ref that is not a commit id is not trusted: the model is fetched anew", async () => {
  const repo = join(cache, "models--org--tiny");
  await mkdir(join(repo, "refs"), { recursive: true });
  await writeFile(join(repo, "refs", "main"), "../../..");
  const dir = await resolveModel("org/tiny", "tokenizer", opts());
  assert.equal(dir, join(repo, "snapshots", HUB_COMMIT));
  assert.equal(await readFile(join(repo, "refs", "main"), "utf8"), HUB_COMMIT);
});

const blobs = () => join(cache, "models--org--tiny", "blobs");
const leftovers = async () =>
  existsSync(blobs()) ? (await readdir(blobs())).filter((f) => /\.(incomplete|lock)$/.test(f)) : [];

test("a chunked body with no size is checked before its final name: cut JSON, cut safetensors, cut stream", async () => {
  hub.head.set("config.json", { chunked: true });
  hub.get.set("config.json", { chunked: true, body: hub.files.get("config.json")!.subarray(0, 20) });
  await refused(
    "model",
    /download of org\/tiny\/config\.json is corrupt: its JSON does not parse; it was not kept/,
  );
  assert.deepEqual(await readdir(blobs()), []);

  hub.reset();
  hub.lfs.delete("model.safetensors");
  try {
    hub.head.set("model.safetensors", { chunked: true });
    hub.get.set("model.safetensors", { chunked: true, body: weights.subarray(0, weights.length - 100) });
    await refused(
      "model",
      /download of org\/tiny\/model\.safetensors is corrupt: its safetensors header is not sound/,
    );
    hub.reset();
    hub.head.set("model.safetensors", { chunked: true });
    hub.get.set("model.safetensors", { chunked: true, body: Buffer.concat([weights, Buffer.alloc(8)]) });
    await refused("model", /model\.safetensors is corrupt: its tensors end at byte \d+, but it holds \d+/);
  } finally {
    hub.lfs.add("model.safetensors");
  }
  hub.reset();
  hub.head.set("model.safetensors", { headers: { "x-linked-size": undefined } });
  hub.get.set("model.safetensors", { chunked: true, cutAt: 5000 });
  await refused("model", /the download of org\/tiny\/model\.safetensors was cut at 5000 bytes/);
  assert.deepEqual(
    (await readdir(blobs())).filter((f) => !f.endsWith(".incomplete")).length,
    3,
    "only the whole small files are blobs",
  );
  hub.reset();
  const dir = await resolveModel("org/tiny", "model", opts());
  assert.deepEqual(await readFile(join(dir, "model.safetensors")), weights);
  assert.deepEqual(await leftovers(), []);
});

test("a body longer than announced is cut off and not kept", async () => {
  hub.get.set("config.json", {
    body: Buffer.concat([hub.files.get("config.json")!, Buffer.alloc(4096, 32)]),
  });
  await refused(
    "model",
    /the hub sent more than the \d+ bytes it announced for org\/tiny\/config\.json; nothing was kept/,
  );
  assert.deepEqual(await readdir(blobs()), []);
});

test("a damaged blob in the cache is fetched again, not trusted for ever", async () => {
  const dir = await resolveModel("org/tiny", "model", opts());
  const blob = await realpath(join(dir, "model.safetensors"));
  await writeFile(blob, Buffer.alloc(weights.length, 7));
  await rm(join(dir, "config.json")); // an incomplete snapshot: the next run goes to the hub
  hub.reset();
  assert.equal(await resolveModel("org/tiny", "model", opts()), dir);
  assert.deepEqual(await readFile(join(dir, "model.safetensors")), weights);
  assert.equal(hub.seen.filter((s) => s.url.startsWith("/cdn/") && s.method === "GET").length, 1);
});

test("two clients downloading the same model at once both end with the right files", async () => {
  hub.get.set("model.safetensors", { slowMs: 400 });
  const [a, b] = await Promise.all([
    resolveModel("org/tiny", "model", opts()),
    resolveModel("org/tiny", "model", opts()),
  ]);
  assert.equal(a, b);
  assert.deepEqual(await readFile(join(a, "model.safetensors")), weights);
  assert.equal(
    hub.seen.filter((s) => s.url.startsWith("/cdn/") && s.method === "GET").length,
    1,
    "fetched twice",
  );
  assert.deepEqual(await leftovers(), []);

  // Two processes: one waits on the other's lock file, then finds the blob whole.
  const env = { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: join(cache, "cli") };
  hub.reset();
  hub.get.set("vocab.txt", { slowMs: 400 });
  const runs = await Promise.all(
    [1, 2].map(() => gotuneAsync(["tokenize", "--model", "org/tiny", "--json", "the cell"], env)),
  );
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.equal(runs[0]!.stdout, runs[1]!.stdout);
  assert.deepEqual(JSON.parse(runs[0]!.stdout).input_ids, [2, 5, 6, 3]);
});

test("a lock left by a killed process does not block the next run", async () => {
  const dead = spawnSync(process.execPath, ["-e", ""]).pid;
  const sha = createHash("sha256").update(weights).digest("hex");
  await mkdir(blobs(), { recursive: true });
  await writeFile(join(blobs(), `${sha}.lock`), `${dead} ${hostname()}\n`);
  const dir = await resolveModel("org/tiny", "model", opts());
  assert.deepEqual(await readFile(join(dir, "model.safetensors")), weights);
  assert.deepEqual(await leftovers(), []);
});
