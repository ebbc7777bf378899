/** File helpers that never leave a half-written output under its final name. */
import { randomBytes } from "node:crypto";
import { constants, createReadStream, promises as fsp } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
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

/** Streams a UTF-8 text file's lines with their 1-based numbers (any line ending). */
export async function* textLines(path: string): AsyncGenerator<[number, string]> {
  const rl = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  for await (const line of rl) yield [++n, line];
}

/** Reads a JSON Lines file; a line that is not JSON is a UserError naming the file and line. */
export async function readJsonl<T = unknown>(path: string): Promise<T[]> {
  await assertReadable(path);
  const out: T[] = [];
  for await (const [n, line] of textLines(path)) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      throw new UserError("this line is not valid JSON", {
        file: path,
        line: n,
        hint: "each line of a .jsonl file must be one JSON object",
      });
    }
  }
  return out;
}

/** Throws a UserError unless `path` is a readable file. */
export async function assertReadable(path: string, what = "file"): Promise<void> {
  try {
    const st = await fsp.stat(path);
    if (!st.isFile())
      throw new UserError(`is not a ${what} (a folder?)`, { file: path, hint: `give the path of a ${what}` });
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

/** True when `p` is a folder. */
export async function isDir(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Reads a file holding one JSON object; anything else is a UserError naming the file (and line). */
export async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  const text = await fsp.readFile(path, "utf8");
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
