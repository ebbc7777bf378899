import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { parseModelId, resolveModel } from "../src/hf/hub.js";
import { encodeSafetensors } from "../src/hf/safetensors.js";
import { UserError } from "../src/util/errors.js";
import { gotuneAsync } from "./helpers/cli.js";
import { HostileHub, HUB_COMMIT } from "./helpers/hostile-hub.js";

const FIXTURE = join(import.meta.dirname, "..", "..", "test", "fixtures", "hf", "tiny-bert");
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
