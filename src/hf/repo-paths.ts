/**
 * Names that come from a hub answer, a command line or an index file, checked before they become
 * paths: commit ids, ETags, revisions, file names inside a repository. A hostile server or file must
 * never make gotune create, delete, empty or link anything outside a model's own cache folder.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import { shown, UserError } from "../util/errors.js";
import { readBoundedFile } from "../util/fsx.js";

/** A full commit id: 40 lower-case hex digits (what huggingface_hub's REGEX_COMMIT_HASH accepts). */
export const COMMIT = /^[0-9a-f]{40}$/;
// A blob id: a plain token (the hub's are 40-hex git oids or 64-hex sha256); never a path.
const ETAG = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
// One segment of a revision or a file name.
const SEGMENT = /^[A-Za-z0-9_.+=@,~ -]+$/;

const HOSTILE_HINT =
  "HF_ENDPOINT answered what no Hugging Face hub sends; nothing was written: check HF_ENDPOINT";

/** The X-Repo-Commit of an answer, or a UserError: it names snapshot and .no_exist folders. */
export function checkCommit(commit: string, what: string): string {
  if (!COMMIT.test(commit))
    throw new UserError(`the hub gave ${shown(commit)} as the commit of ${what}, not 40 hex digits`, {
      hint: HOSTILE_HINT,
    });
  return commit;
}

/** The ETag (blob id) of an answer, or a UserError: it names the file under blobs/. */
export function checkEtag(etag: string, what: string): string {
  if (!ETAG.test(etag))
    throw new UserError(`the hub gave ${shown(etag)} as the ETag of ${what}, not a plain token`, {
      hint: HOSTILE_HINT,
    });
  return etag;
}

/** Where a redirect points: an http(s) URL, else a UserError. */
export function checkLocation(location: string, base: URL, what: string): URL {
  let url: URL;
  try {
    url = new URL(location, base);
  } catch {
    throw new UserError(`the hub redirected ${what} to ${shown(location)}, which is not a URL`, {
      hint: HOSTILE_HINT,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UserError(`the hub redirected ${what} to a ${shown(url.protocol)} URL`, { hint: HOSTILE_HINT });
  return url;
}

function segmentsOk(name: string, maxLength: number): boolean {
  if (name.length === 0 || name.length > maxLength) return false;
  return name.split("/").every((s) => SEGMENT.test(s) && s !== "." && s !== ".." && !s.startsWith("."));
}

/**
 * A revision (`@REV` of a model id: a branch, tag, `refs/pr/N` or commit) as a git ref name that is
 * also safe as a relative path under refs/: no `..`, no empty or dot-led segment, no backslash or NUL.
 */
export function isRevision(rev: string): boolean {
  return segmentsOk(rev, 255) && !rev.endsWith(".lock");
}

/**
 * True when `name` is a file name relative to a repository's root: `/`-separated segments, none
 * empty, `.` or `..`, no absolute path, backslash, NUL or control character, no hidden segment.
 */
export function isRepoFile(name: unknown): name is string {
  return typeof name === "string" && segmentsOk(name, 1024);
}

/** Checks a repository file name from an index or a server; `where` says who named it. */
export function checkRepoFile(name: unknown, where: { file?: string; what: string }): string {
  if (!isRepoFile(name))
    throw new UserError(
      `${where.what} names ${shown(name)}, which is not a file inside the model (an absolute path, .., a backslash or a control character)`,
      { file: where.file, hint: "the index is corrupt or hostile; do not use this model" },
    );
  return name;
}

/** True when `path` is `root` or lies inside it, comparing absolute paths (symlinks not followed, as huggingface_hub does). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** Defence in depth: refuses to write `path` unless it lies inside the model's cache folder `root`. */
export function assertInside(root: string, path: string): string {
  if (!isInside(root, path) || resolve(path) === resolve(root))
    throw new UserError(`refusing to write ${shown(path)}, which is outside the model's cache folder`, {
      file: root,
      hint: HOSTILE_HINT,
    });
  return path;
}

/** Largest `*.index.json` read: BERT-large's lists about 400 tensors in 30 kB. */
const MAX_INDEX_BYTES = 16 << 20;

/**
 * The shard file names of a `*.index.json` (its `weight_map` values), each checked to be a file inside
 * the model; anything else is one UserError naming the index.
 */
export async function readWeightIndex(path: string): Promise<Map<string, string>> {
  let raw: unknown;
  try {
    raw = JSON.parse((await readBoundedFile(path, MAX_INDEX_BYTES, "weight index")).toString("utf8"));
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError("the index is not valid JSON", {
      file: path,
      hint: "the download is corrupt: delete it and fetch the model again",
    });
  }
  const map = (raw as { weight_map?: unknown } | null)?.weight_map;
  if (!map || typeof map !== "object" || Array.isArray(map))
    throw new UserError("the index has no weight_map object", {
      file: path,
      hint: "a sharded model's index maps each tensor name to its shard file",
    });
  const out = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map as Record<string, unknown>))
    out.set(tensor, checkRepoFile(shard, { file: path, what: `weight_map[${shown(tensor)}]` }));
  return out;
}
