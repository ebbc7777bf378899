/**
 * HTTP for the Hugging Face hub: file metadata by HEAD (commit, etag, size, CDN location) and
 * resumable downloads to `DEST.incomplete`, renamed to DEST only once complete and verified.
 * Redirects are followed by hand so that the bearer token never goes to another host.
 */
import { createWriteStream, promises as fsp } from "node:fs";
import { dirname } from "node:path";
import { shown, UserError } from "../util/errors.js";
import { withLock } from "../util/lock.js";
import { progress } from "../util/progress.js";
import { blobFault } from "./blob-check.js";
import { checkCommit, checkEtag, checkLocation } from "./repo-paths.js";

/** What the hub says about one file of one revision. */
export interface FileMetadata {
  /** The commit the revision resolved to (X-Repo-Commit). */
  commit: string;
  /** The blob id: X-Linked-Etag (LFS sha256) or ETag (git blob sha1), without quotes. */
  etag: string;
  /** Byte size, when the server said. */
  size?: number;
  /** Where the bytes are (the CDN after an absolute redirect, else the resolve URL itself). */
  location: string;
}

/** Request settings shared by metadata and downloads. */
export interface HttpOptions {
  token?: string;
  /** The host the token belongs to (the hub's); it is sent to no other. */
  tokenHost?: string;
  userAgent?: string;
}

const MAX_REDIRECTS = 10;

function headersFor(
  url: URL,
  origin: URL,
  o: HttpOptions,
  extra: Record<string, string> = {},
): Record<string, string> {
  const h: Record<string, string> = {
    "user-agent": o.userAgent ?? "gotune/0.1",
    "accept-encoding": "identity",
    ...extra,
  };
  // The token is the hub's: never hand it to a CDN or any other host a redirect names.
  if (o.token && url.host === (o.tokenHost ?? origin.host)) h.authorization = `Bearer ${o.token}`;
  return h;
}

async function request(url: URL, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: "manual" });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    // llhttp refused the answer itself (a bad Content-Length, a broken chunk): the server's fault.
    if (cause?.code?.startsWith("HPE_"))
      throw new UserError(`${url.origin} sent a malformed HTTP answer for ${what} (${cause.code})`, {
        hint: "HF_ENDPOINT answered what no Hugging Face hub sends: check HF_ENDPOINT",
      });
    throw new UserError(
      `cannot reach ${url.origin} for ${what} (${cause?.code ?? cause?.message ?? (err as Error).message})`,
      {
        hint: "check the network and HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only the local cache",
      },
    );
  }
}

function cleanEtag(e: string | null): string | undefined {
  if (!e) return undefined;
  return e.replace(/^W\//, "").replace(/^"|"$/g, "");
}

/** A size header: absent, or a plain decimal byte count; anything else (`NaN`, `-1`, `1e9`) is an error. */
export function parseSize(text: string | null, header: string, what: string): number | undefined {
  if (text === null) return undefined;
  const n = /^\d{1,16}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new UserError(`the hub sent ${header}: ${shown(text)} for ${what}, not a byte count`, {
      hint: "HF_ENDPOINT answered what no Hugging Face hub sends: check HF_ENDPOINT",
    });
  return n;
}

/** Thrown-as-value answer for a file the revision does not have (404 EntryNotFound). */
export const NOT_FOUND = Symbol("not found");

/**
 * HEADs a resolve URL as huggingface_hub does: relative redirects (a renamed repo) are followed,
 * an absolute one (the CDN) is not but becomes `location`. 404 of a file gives NOT_FOUND.
 */
export async function fileMetadata(
  resolveUrl: string,
  o: HttpOptions,
  what: string,
): Promise<FileMetadata | typeof NOT_FOUND> {
  const origin = new URL(resolveUrl);
  let url = origin;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await request(url, { method: "HEAD", headers: headersFor(url, origin, o) }, what);
    const commit = res.headers.get("x-repo-commit") ?? undefined;
    const etag = cleanEtag(res.headers.get("x-linked-etag")) ?? cleanEtag(res.headers.get("etag"));
    const linked = res.headers.get("x-linked-size");
    const sizeOf = () =>
      linked !== null
        ? parseSize(linked, "X-Linked-Size", what)
        : parseSize(res.headers.get("content-length"), "Content-Length", what);
    // Both name files in the cache (snapshots/COMMIT, blobs/ETAG): checked before anything else.
    const checked = (c: string, e: string, location: string): FileMetadata => ({
      commit: checkCommit(c, what),
      etag: checkEtag(e, what),
      size: sizeOf(),
      location,
    });
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.get("location");
      if (!loc) throw new UserError(`${url} redirected without a Location`, { hint: "check HF_ENDPOINT" });
      const next = checkLocation(loc, url, what);
      const relative = !/^[a-z][a-z0-9+.-]*:/i.test(loc);
      if (relative || !commit || !etag) {
        url = next;
        continue;
      }
      return checked(commit, etag, next.href);
    }
    return checkStatus(res, what, () => {
      if (!commit || !etag)
        throw new UserError(`${url.origin} sent no X-Repo-Commit/ETag for ${what}`, {
          hint: "is HF_ENDPOINT a Hugging Face hub?",
        });
      return checked(commit, etag, url.href);
    });
  }
  throw new UserError(`too many redirects for ${what}`, { hint: "check HF_ENDPOINT" });
}

function checkStatus<T>(res: Response, what: string, ok: () => T): T | typeof NOT_FOUND {
  if (res.ok) return ok();
  const code = res.headers.get("x-error-code");
  if (res.status === 401 || res.status === 403 || code === "GatedRepo")
    throw new UserError(`access to ${what} was refused (HTTP ${res.status})`, {
      hint: "set HF_TOKEN to a token that may read this model",
    });
  if (code === "RepositoryNotFound")
    throw new UserError(`there is no model for ${what}`, { hint: "check the model id" });
  if (code === "RevisionNotFound")
    throw new UserError(`there is no such revision for ${what}`, { hint: "check the @revision" });
  if (res.status === 404) return NOT_FOUND;
  throw new UserError(`the hub answered HTTP ${res.status} for ${what}`, { hint: "try again later" });
}

/**
 * Makes `blob` hold the repository file `filename` as `meta` describes it, under a lock file beside
 * it (`BLOB.lock`) so that two processes fetching it at once both end with the whole file: a blob
 * already there is kept when it passes the checks of blob-check.ts, else fetched again.
 */
export async function ensureBlob(
  blob: string,
  filename: string,
  meta: FileMetadata,
  o: HttpOptions,
  label: string,
): Promise<void> {
  await fsp.mkdir(dirname(blob), { recursive: true });
  const note = () => {
    if (process.stderr.isTTY && !process.env.GOTUNE_NO_PROGRESS)
      process.stderr.write(`waiting for another gotune downloading ${label}\n`);
  };
  await withLock(
    `${blob}.lock`,
    async () => {
      if (await isFile(blob)) {
        if (!(await blobFault(blob, filename, meta))) return;
        await fsp.rm(blob, { force: true }); // damaged in the cache: not trusted for ever
      }
      await downloadTo(meta.location, blob, meta, o, label, filename);
    },
    note,
  );
}

async function isFile(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Downloads `url` to `dest`, through `dest.incomplete` (resumed with a Range request when present),
 * renamed to `dest` only once blob-check.ts finds it whole (its size, its sha256 ETag, or what its kind
 * allows when the hub gave no size). A cut download keeps the partial file for the next run and is a
 * UserError; a wrong one is removed. `dest` itself only ever appears whole.
 */
export async function downloadTo(
  url: string,
  dest: string,
  meta: { size?: number; etag: string },
  o: HttpOptions,
  label: string,
  filename = dest,
): Promise<void> {
  const partial = `${dest}.incomplete`;
  await fsp.mkdir(dirname(dest), { recursive: true });
  let have = await fsp.stat(partial).then(
    (s) => s.size,
    () => 0,
  );
  // Without a known size a partial file cannot be known to be a prefix of this one: start over.
  if (meta.size === undefined || have > meta.size) have = 0;
  const origin = new URL(url);
  let at = origin;
  let res: Response | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const range: Record<string, string> = have > 0 && have < meta.size! ? { range: `bytes=${have}-` } : {};
    res = await request(at, { headers: headersFor(at, origin, o, range) }, label);
    if (res.status >= 300 && res.status < 400 && res.headers.get("location")) {
      at = checkLocation(res.headers.get("location")!, at, label);
      continue;
    }
    break;
  }
  if (!res || (res.status >= 300 && res.status < 400)) throw new UserError(`too many redirects for ${label}`);
  if (res.status === 416 && meta.size !== undefined && have === meta.size) {
    // Already whole: the previous run was cut between the last byte and the rename.
  } else {
    const r = checkStatus(res, label, () => res);
    if (r === NOT_FOUND)
      throw new UserError(`${label} vanished from the hub during the download`, { hint: "try again" });
    if (res.status !== 206) have = 0;
    await receive(res, partial, have, meta.size, label);
  }
  const fault = await blobFault(partial, filename, meta);
  if (fault?.resumable)
    throw new UserError(`the download of ${label} is not whole: ${fault.why}`, {
      hint: "run the command again to resume it",
    });
  if (fault) {
    await fsp.rm(partial, { force: true });
    throw new UserError(`the download of ${label} is corrupt: ${fault.why}`, {
      hint: "it was not kept; run the command again to fetch it anew",
    });
  }
  await fsp.rename(partial, dest);
}

async function receive(
  res: Response,
  partial: string,
  have: number,
  size: number | undefined,
  label: string,
): Promise<void> {
  const out = createWriteStream(partial, { flags: have > 0 ? "a" : "w" });
  const total = size ?? (Number(res.headers.get("content-length")) || 0) + have;
  const bar = progress(`download ${label}`, total || 1);
  bar.tick(have);
  let got = have;
  let failure: unknown;
  let tooLong = false;
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        // Never more than announced: a server that keeps sending is cut off, not written to disk.
        if (size !== undefined && got + chunk.length > size) {
          tooLong = true;
          break;
        }
        if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
        got += chunk.length;
        bar.tick(chunk.length);
      }
    }
  } catch (err) {
    failure = err;
  } finally {
    bar.done();
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
  if (tooLong) {
    await fsp.rm(partial, { force: true });
    throw new UserError(`the hub sent more than the ${size} bytes it announced for ${label}`, {
      hint: "nothing was kept; HF_ENDPOINT answered what no Hugging Face hub sends: check HF_ENDPOINT",
    });
  }
  if (failure !== undefined)
    throw new UserError(`the download of ${label} was cut at ${got}${size ? ` of ${size}` : ""} bytes`, {
      hint: "run the command again to resume it",
    });
}
