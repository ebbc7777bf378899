import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { hubCacheDir, parseModelId, resolveModel } from "../../src/hf/hub.js";
import { BertTokenizer } from "../../src/hf/tokenizer.js";
import { UserError } from "../../src/util/errors.js";
import { gotuneAsync } from "../helpers/cli.js";

const FIXTURE = join(import.meta.dirname, "..", "..", "..", "test", "fixtures", "hf", "tiny-bert");
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const TOKEN = "hf_secret_test_token";

interface Seen {
  method: string;
  url: string;
  auth?: string;
  range?: string;
}

// A miniature hub: small files answered directly (git-blob ETag), LFS files by an absolute redirect
// to a "CDN" on another port (another host), a renamed repo by a relative redirect.
class FakeHub {
  hub!: Server;
  cdn!: Server;
  hubSeen: Seen[] = [];
  cdnSeen: Seen[] = [];
  /** When set, the CDN sends only this many bytes of a body and then drops the connection. */
  cutAt?: number;
  /** When set, the CDN flips a byte of what it sends. */
  corrupt = false;
  files = new Map<string, Buffer>();
  lfs = new Map<string, Buffer>();
  /** Repos other than org/tiny, by name under org/. */
  others = new Map<string, { files: Map<string, Buffer>; lfs: Map<string, Buffer> }>();

  async start(): Promise<void> {
    this.hub = createServer((q, s) => this.serveHub(q, s));
    this.cdn = createServer((q, s) => this.serveCdn(q, s));
    await Promise.all(
      [this.hub, this.cdn].map((sv) => new Promise<void>((r) => sv.listen(0, "127.0.0.1", r))),
    );
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
  }

  get cdnBase(): string {
    return `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const sv of [this.hub, this.cdn]) {
      sv.closeAllConnections();
      await new Promise((r) => sv.close(r));
    }
  }

  private serveHub(q: IncomingMessage, s: ServerResponse): void {
    this.hubSeen.push({ method: q.method!, url: q.url!, auth: q.headers.authorization });
    const renamed = /^\/old-org\/tiny\/resolve\/([^/]+)\/(.+)$/.exec(q.url!);
    if (renamed) {
      s.writeHead(307, { location: `/org/tiny/resolve/${renamed[1]}/${renamed[2]}` }).end();
      return;
    }
    const m = /^\/org\/([\w-]+)\/resolve\/([^/]+)\/(.+)$/.exec(q.url!);
    const repo = m?.[1] === "tiny" ? { files: this.files, lfs: this.lfs } : this.others.get(m?.[1] ?? "");
    if (!m || !repo) {
      s.writeHead(404, { "x-error-code": "RepositoryNotFound" }).end();
      return;
    }
    if (q.headers.authorization !== `Bearer ${TOKEN}`) {
      s.writeHead(401, { "x-error-code": "GatedRepo" }).end();
      return;
    }
    if (m[2] !== "main" && m[2] !== COMMIT) {
      s.writeHead(404, { "x-error-code": "RevisionNotFound" }).end();
      return;
    }
    const name = m[3]!;
    const small = repo.files.get(name);
    const big = repo.lfs.get(name);
    if (small) {
      const etag = createHash("sha1").update(small).digest("hex");
      s.writeHead(200, { "x-repo-commit": COMMIT, etag: `"${etag}"`, "content-length": small.length });
      s.end(q.method === "HEAD" ? undefined : small);
    } else if (big) {
      const sha = createHash("sha256").update(big).digest("hex");
      s.writeHead(302, {
        "x-repo-commit": COMMIT,
        "x-linked-etag": `"${sha}"`,
        "x-linked-size": big.length,
        etag: '"some-other-etag"',
        location: `${this.cdnBase}/repos/ab/cd/${sha}?signature=xyz`,
      }).end();
    } else {
      s.writeHead(404, { "x-error-code": "EntryNotFound", "x-repo-commit": COMMIT }).end();
    }
  }

  private serveCdn(q: IncomingMessage, s: ServerResponse): void {
    this.cdnSeen.push({
      method: q.method!,
      url: q.url!,
      auth: q.headers.authorization,
      range: q.headers.range,
    });
    const sha = /\/repos\/ab\/cd\/([0-9a-f]{64})/.exec(q.url!)?.[1];
    const all = [this.lfs, ...[...this.others.values()].map((r) => r.lfs)].flatMap((l) => [...l.values()]);
    let body = all.find((b) => createHash("sha256").update(b).digest("hex") === sha);
    if (body && this.corrupt) {
      body = Buffer.from(body);
      body[0] = body[0]! ^ 0xff;
    }
    if (!body) {
      s.writeHead(404).end();
      return;
    }
    const r = /^bytes=(\d+)-$/.exec(q.headers.range ?? "");
    const from = r ? Number(r[1]) : 0;
    const part = body.subarray(from);
    s.writeHead(r ? 206 : 200, {
      "content-length": part.length,
      ...(r ? { "content-range": `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    if (q.method === "HEAD") {
      s.end();
    } else if (this.cutAt !== undefined && this.cutAt < part.length) {
      s.write(part.subarray(0, this.cutAt), () => setTimeout(() => s.destroy(), 20));
    } else {
      s.end(part);
    }
  }
}

const hub = new FakeHub();
let root = "";
const weights = randomBytes(300_000);

before(async () => {
  root = await mkdtemp(join(tmpdir(), "gotune-hub-"));
  hub.files.set("config.json", Buffer.from('{"model_type": "bert", "vocab_size": 41}'));
  hub.files.set("vocab.txt", await readFile(join(FIXTURE, "vocab.txt")));
  hub.files.set("tokenizer_config.json", await readFile(join(FIXTURE, "tokenizer_config.json")));
  hub.lfs.set("model.safetensors", weights);
  await hub.start();
});
after(async () => {
  await hub.stop();
  await rm(root, { recursive: true, force: true });
});

test("model ids and the cache folder follow huggingface_hub's rules", () => {
  assert.deepEqual(parseModelId("org/name"), { repo: "org/name", revision: "main" });
  assert.deepEqual(parseModelId("bert-base-uncased@v1.0"), { repo: "bert-base-uncased", revision: "v1.0" });
  assert.equal(parseModelId("a/b/c"), undefined);
  assert.equal(parseModelId("../x"), undefined);
  assert.equal(hubCacheDir({ HF_HUB_CACHE: "/c" }), "/c");
  assert.equal(hubCacheDir({ HF_HOME: "/h" }), join("/h", "hub"));
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: "/x" }), join("/x", "huggingface", "hub"));
});

test("a model already in the cache (as Python left it) resolves offline", async () => {
  const cache = join(root, "py-cache");
  const repo = join(cache, "models--acme--bert-tiny");
  const snap = join(repo, "snapshots", COMMIT);
  await mkdir(join(repo, "blobs"), { recursive: true });
  await mkdir(join(repo, "refs"), { recursive: true });
  await mkdir(snap, { recursive: true });
  const vocab = await readFile(join(FIXTURE, "vocab.txt"));
  const etag = createHash("sha1").update(vocab).digest("hex");
  await writeFile(join(repo, "blobs", etag), vocab);
  await symlink(join("..", "..", "blobs", etag), join(snap, "vocab.txt"));
  await writeFile(join(repo, "refs", "main"), COMMIT);
  const dir = await resolveModel("acme/bert-tiny", "tokenizer", { cacheDir: cache, offline: true });
  assert.equal(dir, snap);
  assert.deepEqual((await BertTokenizer.fromFolder(dir)).encodeIds("the cell"), [5, 6]);
  assert.equal(
    await resolveModel(`acme/bert-tiny@${COMMIT}`, "tokenizer", { cacheDir: cache, offline: true }),
    snap,
  );
  await assert.rejects(
    resolveModel("acme/unknown", "tokenizer", { cacheDir: cache, offline: true }),
    (e: unknown) => e instanceof UserError && /not in the Hugging Face cache/.test(e.message),
  );
  // A model the cache lacks the weights of does not count as cached for a full model.
  await assert.rejects(
    resolveModel("acme/bert-tiny", "model", { cacheDir: cache, offline: true }),
    UserError,
  );
});

test("downloads into the cache layout, follows the CDN redirect without the token, then works from the cache", async () => {
  const cache = join(root, "dl-cache");
  hub.hubSeen = [];
  hub.cdnSeen = [];
  const o = { cacheDir: cache, endpoint: hub.endpoint, token: TOKEN, offline: false };
  const dir = await resolveModel("org/tiny", "model", o);
  const repo = join(cache, "models--org--tiny");
  assert.equal(dir, join(repo, "snapshots", COMMIT));
  assert.equal((await readFile(join(repo, "refs", "main"), "utf8")).trim(), COMMIT);
  assert.deepEqual(await readFile(join(dir, "model.safetensors")), weights);
  const sha = createHash("sha256").update(weights).digest("hex");
  assert.equal(await readlink(join(dir, "model.safetensors")), join("..", "..", "blobs", sha));
  assert.deepEqual(
    await readFile(join(dir, "config.json"), "utf8"),
    hub.files.get("config.json")!.toString(),
  );
  assert.ok(existsSync(join(repo, ".no_exist", COMMIT, "tokenizer.json")));
  assert.deepEqual((await BertTokenizer.fromFolder(dir)).encodeIds("the cell"), [5, 6]);
  assert.ok(hub.hubSeen.length > 0 && hub.hubSeen.every((s) => s.auth === `Bearer ${TOKEN}`));
  assert.ok(
    hub.cdnSeen.length > 0 && hub.cdnSeen.every((s) => s.auth === undefined),
    "token leaked to the CDN",
  );
  const before = hub.hubSeen.length;
  assert.equal(await resolveModel("org/tiny", "model", o), dir);
  assert.equal(hub.hubSeen.length, before, "a cached model must not touch the network");
  assert.equal(await resolveModel("org/tiny", "model", { cacheDir: cache, offline: true }), dir);
});

test("a relative redirect (renamed repo) is followed; a missing token or model is one clear error", async () => {
  const cache = join(root, "renamed-cache");
  const dir = await resolveModel("old-org/tiny", "tokenizer", {
    cacheDir: cache,
    endpoint: hub.endpoint,
    token: TOKEN,
  });
  assert.ok(existsSync(join(dir, "vocab.txt")));
  await assert.rejects(
    resolveModel("org/tiny", "tokenizer", { cacheDir: join(root, "c2"), endpoint: hub.endpoint, token: "" }),
    (e: unknown) => e instanceof UserError && /HF_TOKEN/.test(e.toLine()),
  );
  await assert.rejects(
    resolveModel("nobody/nothing", "model", {
      cacheDir: join(root, "c3"),
      endpoint: hub.endpoint,
      token: TOKEN,
    }),
    (e: unknown) => e instanceof UserError && /no model/.test(e.message),
  );
  await assert.rejects(
    resolveModel("org/tiny@v9", "model", {
      cacheDir: join(root, "c4"),
      endpoint: hub.endpoint,
      token: TOKEN,
    }),
    (e: unknown) => e instanceof UserError && /revision/.test(e.message),
  );
});

test("a download cut midway leaves only .incomplete; the rerun resumes with a Range request", async () => {
  const cache = join(root, "cut-cache");
  const o = { cacheDir: cache, endpoint: hub.endpoint, token: TOKEN, offline: false };
  const blobs = join(cache, "models--org--tiny", "blobs");
  const sha = createHash("sha256").update(weights).digest("hex");
  hub.cutAt = 100_000;
  await assert.rejects(
    resolveModel("org/tiny", "model", o),
    (e: unknown) => e instanceof UserError && /cut|stopped/.test(e.message) && /resume/.test(e.toLine()),
  );
  assert.equal(existsSync(join(blobs, sha)), false, "a partial file under its final name");
  const partial = (await stat(join(blobs, `${sha}.incomplete`))).size;
  assert.ok(partial > 0 && partial < weights.length, `partial ${partial}`);
  assert.equal(existsSync(join(cache, "models--org--tiny", "snapshots", COMMIT, "model.safetensors")), false);
  hub.cutAt = undefined;
  hub.cdnSeen = [];
  const dir = await resolveModel("org/tiny", "model", o);
  assert.deepEqual(await readFile(join(dir, "model.safetensors")), weights);
  assert.deepEqual(
    hub.cdnSeen.filter((s) => s.method === "GET").map((s) => s.range),
    [`bytes=${partial}-`],
  );
  assert.deepEqual(
    (await readdir(blobs)).filter((f) => f.endsWith(".incomplete")),
    [],
  );
});

test("an unreachable endpoint is one clear error", async () => {
  await assert.rejects(
    resolveModel("org/tiny", "model", {
      cacheDir: join(root, "c5"),
      endpoint: "http://127.0.0.1:9",
      token: TOKEN,
    }),
    (e: unknown) => e instanceof UserError && /cannot reach/.test(e.message),
  );
});

// Asynchronous, so that the hub in this process can answer the child.
const gotune = gotuneAsync;

test("gotune tokenize --model ORG/NAME reads HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE and HF_HUB_OFFLINE", async () => {
  const cache = join(root, "cli-cache");
  const env = { HF_ENDPOINT: hub.endpoint, HF_TOKEN: TOKEN, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "" };
  hub.hubSeen = [];
  const offline = await gotune(["tokenize", "--model", "org/tiny", "--json", "the cell"], {
    ...env,
    HF_HUB_OFFLINE: "1",
  });
  assert.equal(offline.code, 1);
  assert.match(offline.stderr, /^gotune: .*not in the Hugging Face cache/);
  assert.equal(hub.hubSeen.length, 0, "HF_HUB_OFFLINE=1 must not touch the network");
  const r = await gotune(["tokenize", "--model", "org/tiny", "--json", "the cell"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).input_ids, [2, 5, 6, 3]);
  assert.ok(hub.hubSeen.length > 0);
  assert.ok(existsSync(join(cache, "models--org--tiny", "snapshots", COMMIT, "vocab.txt")));
  const again = await gotune(["tokenize", "--model", "org/tiny", "--json", "the cell"], {
    ...env,
    HF_HUB_OFFLINE: "1",
  });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, r.stdout);
});

test("pytorch_model.bin when there is no model.safetensors; shards listed by the index", async () => {
  const torchBin = randomBytes(5000);
  const shard1 = randomBytes(4000);
  const shard2 = randomBytes(3000);
  const small = new Map(hub.files);
  hub.others.set("torch-only", { files: small, lfs: new Map([["pytorch_model.bin", torchBin]]) });
  const index = {
    metadata: {},
    weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
  };
  hub.others.set("sharded", {
    files: new Map([...small, ["model.safetensors.index.json", Buffer.from(JSON.stringify(index))]]),
    lfs: new Map([
      ["model-00001-of-00002.safetensors", shard1],
      ["model-00002-of-00002.safetensors", shard2],
    ]),
  });
  const o = { cacheDir: join(root, "other-cache"), endpoint: hub.endpoint, token: TOKEN };
  const t = await resolveModel("org/torch-only", "model", o);
  assert.deepEqual(await readFile(join(t, "pytorch_model.bin")), torchBin);
  assert.ok(
    existsSync(join(o.cacheDir, "models--org--torch-only", ".no_exist", COMMIT, "model.safetensors")),
  );
  const sh = await resolveModel("org/sharded", "model", o);
  assert.deepEqual(await readFile(join(sh, "model-00001-of-00002.safetensors")), shard1);
  assert.deepEqual(await readFile(join(sh, "model-00002-of-00002.safetensors")), shard2);
});

test("a download whose bytes do not match the hub's sha256 is refused and not kept", async () => {
  const cache = join(root, "corrupt-cache");
  hub.corrupt = true;
  try {
    await assert.rejects(
      resolveModel("org/tiny", "model", { cacheDir: cache, endpoint: hub.endpoint, token: TOKEN }),
      (e: unknown) => e instanceof UserError && /corrupt/.test(e.message),
    );
  } finally {
    hub.corrupt = false;
  }
  const blobs = await readdir(join(cache, "models--org--tiny", "blobs"));
  const sha = createHash("sha256").update(weights).digest("hex");
  assert.ok(!blobs.includes(sha) && !blobs.includes(`${sha}.incomplete`), blobs.join(", "));
});
