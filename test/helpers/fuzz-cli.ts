/**
 * One fuzz case through the real command: run in a folder of its own (its working directory, HOME and
 * cache), with a canary file beside the input, a capped heap and its peak memory recorded, so a case
 * can be checked for one clean line, no stack, no file touched outside the output folder, and bounded memory.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { type CliRun, gotuneAsync } from "./cli.js";

/** The heap cap each run gets (V8's old space), and the peak resident set it may reach. */
export const CLI_HEAP_MIB = 512;
export const CLI_RSS_LIMIT = 1024 * 2 ** 20;

const PROBE = pathToFileURL(join(import.meta.dirname, "rss-probe.js")).href;

/** What one command run did, and the files of its folder before and after (path -> size, mtime, hash). */
export interface CliCase extends CliRun {
  args: string[];
  before: Map<string, string>;
  after: Map<string, string>;
  maxRss: number | undefined;
}

async function snapshot(root: string, skip: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(root, { recursive: true })) {
    const path = join(root, name);
    if (skip.some((s) => name === s || name.startsWith(`${s}${sep}`))) continue;
    const st = await stat(path);
    const hash = st.isFile()
      ? createHash("sha256")
          .update(await readFile(path))
          .digest("hex")
      : "dir";
    out.set(name, `${st.size} ${st.mtimeMs} ${hash}`);
  }
  return out;
}

/**
 * Runs `gotune ARGS` with `root` as its working directory and home; `out` (relative to root) is the one
 * folder it may write into, besides `tmp` (its TMPDIR).
 */
export async function cliCase(root: string, args: string[], out = "out"): Promise<CliCase> {
  await mkdir(join(root, "home"), { recursive: true });
  await mkdir(join(root, "tmp"), { recursive: true });
  await writeFile(join(root, "canary.txt"), "nothing may change this file\n");
  const rssFile = `${root}.rss`;
  const skip = [out, "tmp"];
  const before = await snapshot(root, skip);
  const r = await gotuneAsync(
    args,
    {
      HOME: join(root, "home"),
      XDG_CACHE_HOME: join(root, "home", ".cache"),
      GOTUNE_HOME: join(root, "home", "gotune"),
      TMPDIR: join(root, "tmp"),
      NODE_OPTIONS: `--max-old-space-size=${CLI_HEAP_MIB} --import=${PROBE}`,
      GOTUNE_RSS_FILE: rssFile,
    },
    root,
  );
  const after = await snapshot(root, skip);
  let maxRss: number | undefined;
  try {
    maxRss = Number(await readFile(rssFile, "utf8"));
    await rm(rssFile);
  } catch {
    maxRss = undefined;
  }
  return { ...r, args, before, after, maxRss };
}

/**
 * A clean result (exit 0), or a non-zero exit with one `gotune:` line that is not an internal error
 * (lines matching `log` are progress the command prints first); no stack trace; nothing outside the
 * output folder changed or added; the peak memory under CLI_RSS_LIMIT.
 */
export function assertCliCase(r: CliCase, what: string, log?: RegExp): void {
  const say = `${what}: gotune ${r.args.join(" ")}\n${r.stderr.slice(0, 2000)}`;
  assert.doesNotMatch(r.stderr, /\n\s+at /, `a stack trace; ${say}`);
  assert.doesNotMatch(r.stderr, /internal error/, `an internal error; ${say}`);
  if (r.code !== 0) {
    const lines = log ? r.lines.filter((l) => !log.test(l)) : r.lines;
    assert.equal(lines.length, 1, `not one line on stderr; ${say}`);
    assert.match(lines[0]!, /^gotune: /, say);
  }
  assert.deepEqual(r.after, r.before, `files outside the output folder changed; ${say}`);
  assert.ok(r.maxRss !== undefined, `no peak memory recorded (killed?); ${say}`);
  assert.ok(r.maxRss < CLI_RSS_LIMIT, `peak resident set ${(r.maxRss / 2 ** 20).toFixed(0)} MiB; ${say}`);
}

/** Runs `each` over `items` two at a time: a command spends much of its run starting up. */
export async function inPairs<T>(items: T[], each: (item: T) => Promise<void>): Promise<void> {
  for (let k = 0; k < items.length; k += 2) await Promise.all(items.slice(k, k + 2).map(each));
}
