/** File helpers that never leave a half-written output under its final name. */
import { randomBytes } from "node:crypto";
import { constants, createReadStream, promises as fsp } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UserError } from "./errors.js";

function tempPathFor(path: string): string {
  // Unique per call: two writers of one file in the same process and millisecond must not share it.
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

/** Writes a whole file through a temporary file and a rename, so readers see the old or the new file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** Longest line the line readers hold by default (GO's, and any real data file's, are a few kB). */
export const MAX_LINE_BYTES = 16 << 20;

/** Limits of a streamed text file: the longest line, and the most bytes read in all. */
export interface LineLimits {
  maxLine?: number;
  maxBytes?: number;
}

const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;

/**
 * Streams a UTF-8 text file's lines with their 1-based numbers (`\n` or `\r\n` endings). Only one
 * line is held at a time: a line longer than `maxLine` bytes, or a file past `maxBytes`, is a UserError
 * naming the file and line as soon as the limit is passed, never after buffering the whole of it.
 */
export async function* textLines(
  path: string,
  { maxLine = MAX_LINE_BYTES, maxBytes = Number.POSITIVE_INFINITY }: LineLimits = {},
): AsyncGenerator<[number, string]> {
  await assertReadable(path);
  const stream = createReadStream(path, { highWaterMark: 1 << 16 });
  let carry: Buffer[] = [];
  let carryLen = 0;
  let total = 0;
  let n = 0;
  const line = (b: Buffer) => {
    const end = b.length > 0 && b[b.length - 1] === 13 ? b.length - 1 : b.length;
    return b.toString("utf8", 0, end);
  };
  const tooLong = () =>
    new UserError(`this line is longer than ${mib(maxLine)}`, {
      file: path,
      line: n + 1,
      hint: "give one record a line (is this the right file?)",
    });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes)
        throw new UserError(`is larger than ${mib(maxBytes)}, the most gotune reads of such a file`, {
          file: path,
          hint: "split it into smaller files",
        });
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        if (carryLen + nl - start > maxLine) throw tooLong();
        const piece = chunk.subarray(start, nl);
        yield [++n, line(carryLen ? Buffer.concat([...carry, piece]) : piece)];
        carry = [];
        carryLen = 0;
        start = nl + 1;
      }
      if (start < chunk.length) {
        carry.push(chunk.subarray(start));
        carryLen += chunk.length - start;
        if (carryLen > maxLine) throw tooLong();
      }
    }
    if (carryLen) yield [++n, line(Buffer.concat(carry))];
  } finally {
    stream.destroy();
  }
}

/**
 * Streams a JSON Lines file's values with their 1-based line numbers, one line at a time (blank lines
 * skipped); a line that is not JSON, or past the limits, is a UserError naming the file and line.
 */
export async function* jsonlRecords<T = unknown>(
  path: string,
  limits: LineLimits = {},
): AsyncGenerator<[number, T]> {
  for await (const [n, line] of textLines(path, limits)) {
    if (line.trim() === "") continue;
    let value: T;
    try {
      value = JSON.parse(line) as T;
    } catch {
      throw new UserError("this line is not valid JSON", {
        file: path,
        line: n,
        hint: "each line of a .jsonl file must be one JSON object",
      });
    }
    yield [n, value];
  }
}

/** Reads a JSON Lines file's values (streamed a line at a time, see jsonlRecords). */
export async function readJsonl<T = unknown>(path: string, limits: LineLimits = {}): Promise<T[]> {
  const out: T[] = [];
  for await (const [, v] of jsonlRecords<T>(path, limits)) out.push(v);
  return out;
}

/**
 * Opens a file for reading only if it is a regular file: a FIFO, device or socket (which may never end,
 * or never answer) is refused before any byte is read. Opening does not block (O_NONBLOCK) and the check
 * is made on the opened file, so a file swapped in after a stat cannot slip past.
 */
export async function openRegularFile(path: string, what = "file"): Promise<fsp.FileHandle> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(code === "ENOENT" ? `no such ${what}` : `cannot open this ${what} (${code})`, {
      file: path,
      hint: "check the path and try again",
    });
  }
  const st = await fh.stat().catch(async (err) => {
    await fh.close();
    throw err;
  });
  if (!st.isFile()) {
    await fh.close();
    throw new UserError(
      `is not a regular file (${st.isDirectory() ? "a folder" : "a FIFO, device or socket"})`,
      { file: path, hint: `give the path of a ${what}` },
    );
  }
  return fh;
}

/**
 * Reads a whole regular file (see openRegularFile) of at most `maxBytes` bytes; a larger one is refused
 * unread, with `hint` saying what to do.
 */
export async function readBoundedFile(
  path: string,
  maxBytes: number,
  what = "file",
  hint = "is this the right file? it may be corrupt or hostile",
): Promise<Buffer> {
  const fh = await openRegularFile(path, what);
  try {
    const { size } = await fh.stat();
    if (size > maxBytes)
      throw new UserError(`is larger than ${mib(maxBytes)}, the most gotune reads of a ${what}`, {
        file: path,
        hint,
      });
    // What stat said is read (a file growing meanwhile is read up to it, never past the cap).
    const buf = Buffer.alloc(size);
    let at = 0;
    while (at < buf.length) {
      const { bytesRead } = await fh.read(buf, at, buf.length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === buf.length ? buf : buf.subarray(0, at);
  } finally {
    await fh.close();
  }
}

/** Throws a UserError unless `path` is a readable file. */
export async function assertReadable(path: string, what = "file"): Promise<void> {
  try {
    const st = await fsp.stat(path);
    if (!st.isFile())
      throw new UserError(
        `is not a ${what} (${st.isDirectory() ? "a folder?" : "a FIFO, device or socket"})`,
        { file: path, hint: `give the path of a ${what}` },
      );
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`no such ${what}`, { file: path, hint: "check the path and try again" });
  }
}

/** Makes sure `dir` exists (or can be made) and can be written, before any slow work. */
export async function ensureWritableDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error("not a folder"), { code: "ENOTDIR" });
    await fsp.access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    const why =
      code === "ENOTDIR" || code === "EEXIST"
        ? "is not a folder (a file is in the way)"
        : code === "EACCES" || code === "EPERM" || code === "EROFS"
          ? "cannot be written (no permission or read-only)"
          : `cannot be created or written (${code})`;
    throw new UserError(`the output folder ${why}`, {
      file: dir,
      hint: "choose a folder you can write to with --out",
    });
  }
}

/** True when `p` is a file (false when it is missing or something else). */
export async function isFile(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * True when something is at `p` (a file, or a FIFO, device or socket that openRegularFile then refuses):
 * a model folder's optional file is looked for with this, so a special file is refused, not skipped.
 */
export async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}

/** True when `p` is a folder. */
export async function isDir(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Largest JSON object file read by default (a real tokenizer.json is a few MB; XLM-R's is 17 MB). */
export const MAX_JSON_BYTES = 64 << 20;

/**
 * Reads a regular file of at most `maxBytes` holding one JSON object; anything else is a UserError
 * naming the file (and line).
 */
export async function readJsonObject(
  path: string,
  maxBytes = MAX_JSON_BYTES,
): Promise<Record<string, unknown>> {
  const text = (await readBoundedFile(path, maxBytes, "JSON file")).toString("utf8");
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
    return v;
  } catch (err) {
    const m = /position (\d+)/.exec(String((err as Error).message));
    const line = m ? text.slice(0, Number(m[1])).split("\n").length : undefined;
    throw new UserError("is not a valid JSON object", {
      file: path,
      line,
      hint: "the file is corrupt; restore or re-download it",
    });
  }
}

/** Writes a folder through `write` into a hidden temporary sibling, then swaps it in for `dir`. */
export async function writeDirAtomic(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const parent = dirname(dir);
  const base = basename(dir);
  // Left-overs of a run killed while saving were never complete.
  for (const n of await fsp.readdir(parent))
    if (n.startsWith(`.${base}.tmp-`) || n.startsWith(`.${base}.old-`))
      await fsp.rm(join(parent, n), { recursive: true, force: true });
  const tmp = join(parent, `.${base}.tmp-${process.pid}`);
  const old = join(parent, `.${base}.old-${process.pid}`);
  await fsp.mkdir(tmp, { recursive: true });
  await write(tmp);
  const had = await isDir(dir);
  if (had) await fsp.rename(dir, old);
  await fsp.rename(tmp, dir);
  if (had) await fsp.rm(old, { recursive: true, force: true });
}
