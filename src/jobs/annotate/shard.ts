/** `--shard I/N`: a deterministic 1/N of the documents, chosen by a hash of each document's id. */
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "commander";

/** Shard `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** Largest shard count accepted. */
export const MAX_SHARDS = 100_000;

/** Parses "I/N" (1 ≤ I ≤ N); for commander, so a bad value is one line naming the option. */
export function parseShard(v: string): Shard {
  const m = /^\s*(\d{1,6})\s*\/\s*(\d{1,6})\s*$/.exec(v);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || count > MAX_SHARDS || index < 1 || index > count)
    throw new InvalidArgumentError(`give I/N with 1 <= I <= N <= ${MAX_SHARDS}, e.g. 3/8.`);
  return { index, count };
}

/**
 * The shard (1..count) a document id falls in: the first four bytes of the SHA-256 of its UTF-8 bytes,
 * big-endian, modulo count, plus one. The same on every machine and in every language.
 */
export function shardOf(id: string, count: number): number {
  if (count === 1) return 1;
  return (createHash("sha256").update(id, "utf8").digest().readUInt32BE(0) % count) + 1;
}

/** "3-of-8", for file names; "" for no sharding. */
export function shardTag(s: Shard | undefined): string {
  return s ? `${s.index}-of-${s.count}` : "";
}
