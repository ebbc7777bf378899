/**
 * Whether a downloaded (or already cached) blob is whole: its size when the hub said it, its sha256
 * when the ETag is one, and otherwise what its kind allows (the git blob id, JSON that parses, a
 * safetensors header whose tensors fill the file, a zip whose central directory reads, UTF-8 text).
 * A blob that passes none of the checks that apply is not whole.
 */

import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { createReadStream, promises as fsp } from "node:fs";
import yauzl from "yauzl";
import { SafetensorsFile } from "./safetensors.js";

/** What the hub said about a blob. */
export interface BlobFacts {
  etag: string;
  size?: number;
}

/** Why a blob is not whole; `resumable` when it is only short (a Range request may finish it). */
export interface BlobFault {
  why: string;
  resumable: boolean;
}

const SHA256 = /^[0-9a-f]{64}$/;
const SHA1 = /^[0-9a-f]{40}$/;
// Content checks read the whole file into memory: only for files this small.
const MAX_CONTENT_CHECK = 64 << 20;

async function digest(path: string, algo: "sha256" | "sha1", prefix?: string): Promise<string> {
  const h = createHash(algo);
  if (prefix) h.update(prefix);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Checks the blob at `path`, downloaded for repository file `filename`; undefined when it is whole. */
export async function blobFault(
  path: string,
  filename: string,
  facts: BlobFacts,
): Promise<BlobFault | undefined> {
  const size = (await fsp.stat(path)).size;
  if (facts.size !== undefined) {
    if (size < facts.size) return { why: `it stopped at ${size} of ${facts.size} bytes`, resumable: true };
    if (size > facts.size)
      return { why: `it holds ${size} bytes, not the ${facts.size} announced`, resumable: false };
  }
  if (SHA256.test(facts.etag)) {
    if ((await digest(path, "sha256")) !== facts.etag)
      return { why: "its sha256 is not the hub's", resumable: false };
    return undefined;
  }
  // The hub's ETag of a small file is its git blob id; a mirror's may be something else.
  if (SHA1.test(facts.etag) && (await digest(path, "sha1", `blob ${size}\0`)) === facts.etag)
    return undefined;
  const bad = await contentFault(path, filename, size);
  if (bad) return { why: bad, resumable: false };
  if (facts.size === undefined && !CHECKABLE.test(filename))
    return {
      why: "the hub gave neither its size nor a checksum, so it cannot be known whole",
      resumable: false,
    };
  return undefined;
}

const CHECKABLE = /\.(json|safetensors|bin|txt)$/;

async function contentFault(path: string, filename: string, size: number): Promise<string | undefined> {
  if (filename.endsWith(".safetensors")) {
    let f: SafetensorsFile;
    try {
      f = await SafetensorsFile.open(path);
    } catch {
      return "its safetensors header is not sound";
    }
    const end = Math.max(f.dataStart, ...[...f.tensors.values()].map((t) => t.end));
    await f.close();
    return end === size ? undefined : `its tensors end at byte ${end}, but it holds ${size}`;
  }
  if (filename.endsWith(".bin")) {
    try {
      const zip = await yauzl.openPromise(path, { lazyEntries: true });
      zip.close();
      return undefined;
    } catch {
      return "it is not a whole zip (a PyTorch checkpoint is one)";
    }
  }
  if (!/\.(json|txt)$/.test(filename)) return undefined;
  if (size > MAX_CONTENT_CHECK)
    return `it is ${size} bytes, too large for a ${filename.slice(filename.lastIndexOf("."))} file`;
  const bytes = await fsp.readFile(path);
  if (!isUtf8(bytes)) return "it is not UTF-8 text";
  if (filename.endsWith(".json")) {
    try {
      JSON.parse(bytes.toString("utf8"));
    } catch {
      return "its JSON does not parse";
    }
  }
  return undefined;
}
