/**
 * Model ids (`ORG/NAME[@REVISION]`) to local folders, through the Hugging Face cache that Python's
 * huggingface_hub keeps (`models--ORG--NAME/{refs,blobs,snapshots}`), so a model transformers
 * already downloaded works offline, and a model gotune downloads is shared with Python.
 */
import { promises as fsp } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative } from "node:path";
import { shown, UserError } from "../util/errors.js";
import { isDir, isFile, writeFileAtomic } from "../util/fsx.js";
import { ensureBlob, fileMetadata, type HttpOptions, NOT_FOUND } from "./download.js";
import { MODEL_FILES } from "./model-folder.js";
import { assertInside, COMMIT, isRevision, readWeightIndex } from "./repo-paths.js";
import { TOKENIZER_FILES } from "./tokenizer.js";

/** What a caller needs from a model: its tokenizer only, or everything to run it. */
export type Want = "tokenizer" | "model";

/** Where and how to look; every field defaults from the environment as huggingface_hub reads it. */
export interface HubOptions {
  cacheDir?: string;
  endpoint?: string;
  token?: string;
  offline?: boolean;
}

/** A parsed model id. */
export interface ModelId {
  repo: string;
  revision: string;
}

/** The hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface");
  return join(home, "hub");
}

/** True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/on/yes/true. */
export function isOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return [env.HF_HUB_OFFLINE, env.TRANSFORMERS_OFFLINE].some((v) => /^(1|on|yes|true)$/i.test(v ?? ""));
}

/**
 * Parses `ORG/NAME[@REVISION]` or `NAME[@REVISION]`; undefined when it is not a model id (the repo
 * part follows huggingface_hub's validate_repo_id: no `--` or `..`, at most 96 characters). A model id
 * whose revision could not be a git ref (`..`, a backslash, a NUL...) is a UserError.
 */
export function parseModelId(s: string): ModelId | undefined {
  const m = /^((?:[\w.-]+\/)?[\w.-]+)(?:@(.*))?$/s.exec(s);
  const repo = m?.[1];
  if (!m || !repo || repo.length > 96 || /\.\.|--|^[.-]|[.-]$|[.-]\/|\/[.-]/.test(repo)) return undefined;
  const revision = m[2] ?? "main";
  if (!isRevision(revision))
    throw new UserError(`${shown(revision)} is not a revision (a branch, tag or commit id)`, {
      file: s,
      hint: "write the model id as ORG/NAME or ORG/NAME@REVISION, e.g. @main or a 40-digit commit",
    });
  return { repo, revision };
}

/** The cache folder of one repo: `models--ORG--NAME`. */
export function repoCacheDir(repo: string, cacheDir = hubCacheDir()): string {
  return join(cacheDir, `models--${repo.replace(/\//g, "--")}`);
}

// A sharded model counts as present only with a sound index and every shard it names.
async function shardsPresent(index: string): Promise<boolean> {
  if (!(await isFile(index))) return false;
  const shards = await readWeightIndex(index).catch(() => undefined);
  if (!shards) return false;
  for (const shard of new Set(shards.values()))
    if (!(await isFile(join(dirname(index), shard)))) return false;
  return true;
}

/** True when `dir` has what `want` needs (a tokenizer; for a model also config.json and weights). */
export async function hasWanted(dir: string, want: Want): Promise<boolean> {
  const tok =
    (await isFile(join(dir, TOKENIZER_FILES.json))) || (await isFile(join(dir, TOKENIZER_FILES.vocab)));
  if (want === "tokenizer") return tok;
  const weights =
    (await isFile(join(dir, MODEL_FILES.weights))) ||
    (await shardsPresent(join(dir, MODEL_FILES.weightsIndex))) ||
    (await isFile(join(dir, MODEL_FILES.pytorchWeights)));
  return tok && weights && (await isFile(join(dir, MODEL_FILES.config)));
}

/** The cached snapshot folder of `id`, when the cache has one with what `want` needs. */
export async function cachedSnapshot(
  id: ModelId,
  want: Want,
  cacheDir = hubCacheDir(),
): Promise<string | undefined> {
  const root = repoCacheDir(id.repo, cacheDir);
  let commit = id.revision;
  if (!COMMIT.test(commit)) {
    const ref = await fsp.readFile(join(root, "refs", id.revision), "utf8").catch(() => undefined);
    // A ref that is not a commit id (damaged, or planted) is as good as none: fetch anew.
    if (!ref || !COMMIT.test(ref.trim())) return undefined;
    commit = ref.trim();
  }
  const snap = join(root, "snapshots", commit);
  return (await hasWanted(snap, want)) ? snap : undefined;
}

/**
 * A local folder for a folder path or a model id: the folder itself, the cached snapshot, or a
 * snapshot downloaded now from HF_ENDPOINT into the same cache (never when offline).
 */
export async function resolveModel(idOrDir: string, want: Want, o: HubOptions = {}): Promise<string> {
  if (await isDir(idOrDir)) return idOrDir;
  const id = /^\.{0,2}\//.test(idOrDir) ? undefined : parseModelId(idOrDir);
  if (!id)
    throw new UserError("no such folder, and not a model id (ORG/NAME[@REVISION])", {
      file: idOrDir,
      hint: "give a model folder or a Hugging Face model id",
    });
  const cacheDir = o.cacheDir ?? hubCacheDir();
  const cached = await cachedSnapshot(id, want, cacheDir);
  if (cached) return cached;
  if (o.offline ?? isOffline())
    throw new UserError(
      `model ${idOrDir} is not in the Hugging Face cache (${cacheDir}) with its ${want === "model" ? "config, weights and tokenizer" : "tokenizer"}, and HF_HUB_OFFLINE is set`,
      {
        hint: "unset HF_HUB_OFFLINE to download it, or give a local folder",
      },
    );
  return downloadSnapshot(id, want, { ...o, cacheDir });
}

/** Downloads what `want` needs of `id` into the cache and returns the snapshot folder. */
export async function downloadSnapshot(id: ModelId, want: Want, o: HubOptions = {}): Promise<string> {
  const cacheDir = o.cacheDir ?? hubCacheDir();
  const endpoint = (o.endpoint ?? process.env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
  if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol))
    throw new UserError(`HF_ENDPOINT ${endpoint} is not an http(s) URL`, {
      hint: "e.g. https://huggingface.co",
    });
  const http: HttpOptions = {
    token: o.token ?? process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN,
    tokenHost: new URL(endpoint).host,
  };
  const root = repoCacheDir(id.repo, cacheDir);
  let commit: string | undefined;
  const fetchFile = async (filename: string): Promise<boolean> => {
    // Once the first answer pins the commit, every later file comes from that same commit.
    const rev = commit ?? id.revision;
    const path = filename.split("/").map(encodeURIComponent).join("/");
    const url = `${endpoint}/${id.repo}/resolve/${encodeURIComponent(rev)}/${path}`;
    const what = `${id.repo}@${rev}/${filename}`;
    const meta = await fileMetadata(url, http, what);
    if (meta === NOT_FOUND) {
      if (commit) await writeInside(root, join(root, ".no_exist", commit, filename), "");
      return false;
    }
    if (!commit) {
      commit = meta.commit;
      if (commit !== id.revision) await writeInside(root, join(root, "refs", id.revision), commit);
    } else if (meta.commit !== commit)
      throw new UserError(`the hub answered ${what} from commit ${meta.commit}, not ${commit}`, {
        hint: "the repository changed during the download (or HF_ENDPOINT is not a hub): run the command again",
      });
    const blob = assertInside(root, join(root, "blobs", meta.etag));
    try {
      await ensureBlob(blob, filename, meta, http, `${id.repo}/${filename}`);
      await linkInto(root, join(root, "snapshots", commit, filename), blob);
    } catch (err) {
      throw cacheError(err, root, filename);
    }
    return true;
  };

  const first = want === "model" ? MODEL_FILES.config : TOKENIZER_FILES.config;
  if (!(await fetchFile(first)) && want === "model")
    throw new UserError(`model ${id.repo} has no config.json at ${endpoint}`, { hint: "check the model id" });
  for (const f of Object.values(TOKENIZER_FILES)) if (f !== first) await fetchFile(f);
  if (want === "model") {
    if (!(await fetchFile(MODEL_FILES.weights))) {
      if (await fetchFile(MODEL_FILES.weightsIndex)) {
        const index = join(root, "snapshots", commit!, MODEL_FILES.weightsIndex);
        // Every shard name is checked before any is fetched: a bad one leaves nothing half-done.
        for (const shard of new Set((await readWeightIndex(index)).values())) await fetchFile(shard);
      } else if (!(await fetchFile(MODEL_FILES.pytorchWeights)))
        throw new UserError(`model ${id.repo} has neither model.safetensors nor pytorch_model.bin`, {
          hint: "gotune reads safetensors or PyTorch weights",
        });
    }
  }
  if (!commit)
    throw new UserError(`model ${id.repo} has no tokenizer files at ${endpoint}`, {
      hint: "check the model id",
    });
  const snap = join(root, "snapshots", commit);
  if (!(await hasWanted(snap, want)))
    throw new UserError(`model ${id.repo} has no tokenizer.json or vocab.txt`, {
      hint: "gotune needs a BERT WordPiece tokenizer",
    });
  return snap;
}

// A file-system error inside the cache is the cache's (or another process's), never the user's path.
function cacheError(err: unknown, root: string, filename: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof UserError || !e?.code) return err;
  return new UserError(`cannot store ${filename} in the Hugging Face cache (${e.code})`, {
    file: root,
    hint: "check that the cache folder is writable and that nothing else is deleting it, then run again",
  });
}

// Every write below is checked to land inside the model's cache folder (defence in depth).
async function writeInside(root: string, path: string, data: string): Promise<void> {
  await writeFileAtomic(assertInside(root, path), data).catch((err) => {
    throw cacheError(err, root, relative(root, path));
  });
}

// Snapshot entries are relative symlinks to blobs, as huggingface_hub makes them.
async function linkInto(root: string, pointer: string, blob: string): Promise<void> {
  assertInside(join(root, "snapshots"), pointer);
  assertInside(join(root, "blobs"), blob);
  await fsp.mkdir(dirname(pointer), { recursive: true });
  await fsp.rm(pointer, { force: true });
  try {
    await fsp.symlink(relative(dirname(pointer), blob), pointer);
  } catch {
    await fsp.copyFile(blob, pointer);
  }
}
