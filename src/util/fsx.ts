/** File helpers that never leave a half-written output under its final name. */
import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { UserError } from "./errors.js";

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
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

/** A line-oriented writer to a temporary file that becomes `path` only on commit(). */
export interface AtomicLineWriter {
  write(line: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Opens an AtomicLineWriter on `path`; nothing appears under that name until commit(). */
export async function openAtomicLineWriter(path: string): Promise<AtomicLineWriter> {
  await fsp.mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const stream = createWriteStream(tmp);
  const write = (line: string) =>
    new Promise<void>((resolve, reject) => {
      if (stream.write(`${line}\n`)) resolve();
      else stream.once("drain", resolve).once("error", reject);
    });
  const close = () =>
    new Promise<void>((resolve, reject) =>
      stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  return {
    write,
    async commit() {
      await close();
      await fsp.rename(tmp, path);
    },
    async abort() {
      await close().catch(() => {});
      await fsp.rm(tmp, { force: true });
    },
  };
}

/** Reads a JSON Lines file; a line that is not JSON is a UserError naming the file and line. */
export async function readJsonl<T = unknown>(path: string): Promise<T[]> {
  await assertReadable(path);
  const out: T[] = [];
  const rl = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  for await (const line of rl) {
    n++;
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
