/**
 * Getting a Gene Ontology release: a path or URL the user gives, a copy already cached, the official
 * go-basic.obo, or — offline — the 2018 release that Debian's tnseq-transit package ships.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { UserError } from "../util/errors.js";
import { assertReadable, isFile, writeFileAtomic } from "../util/fsx.js";
import { gotuneHome } from "../util/paths.js";
import { progress } from "../util/progress.js";
import { parseOboFile, readOboHeader } from "./obo.js";

/** The official current GO release, basic edition (no cross-ontology links). */
export const OFFICIAL_GO_URL = "http://purl.obolibrary.org/obo/go/go-basic.obo";

/** The offline fallback: the full GO release of 2018-03-09 inside Debian's tnseq-transit package. */
export const DEBIAN_GO = {
  package: "tnseq-transit",
  version: "3.2.7-1",
  member: "usr/lib/python3/dist-packages/pytransit/data/gene_ontology.1_2.3-11-18.obo",
  file: "gene_ontology.1_2.3-11-18.obo",
  sha256: "9a329726eae14e6848d40de7dcdb43d5eb9b4f332b9569e0ec43c48004ee372a",
  bytes: 33810329,
  terms: 47122,
  termsNotObsolete: 44939,
  dataVersion: "releases/2018-03-09",
} as const;

/** Where fetchGo may look; "auto" tries them in the documented order. */
export type GoSource = "auto" | "cache" | "url" | "debian";
export const GO_SOURCES: readonly GoSource[] = ["auto", "cache", "url", "debian"];

/** Options for fetchGo. */
export interface FetchGoOptions {
  /** A path or http(s) URL given by the user; it wins over every other source. */
  obo?: string;
  source?: GoSource;
  /** The URL for the "url" source (default: the official go-basic.obo). */
  url?: string;
  /** The cache root (default gotuneHome()); releases go in its `go/` folder. */
  home?: string;
  /** How long to wait for a server to answer, and for each piece of a download (default 10 s). */
  timeoutMs?: number;
  /** Extra apt-get arguments for the Debian source (e.g. `-o Dir::State::Lists=DIR`). */
  aptOptions?: string[];
}

/** What fetchGo found: the file, where it came from and what it holds. */
export interface FetchGoResult {
  path: string;
  /** "file" (a path given), "url" (downloaded), "cache" (a copy fetched before) or "debian". */
  source: string;
  dataVersion?: string;
  sha256: string;
  /** [Term] stanzas in the file, obsolete ones included, when known. */
  terms?: number;
  /** Where the bytes came from originally (a URL, a Debian package, a path). */
  origin?: string;
  /** What was tried and skipped on the way (e.g. an unreachable URL), one line each. */
  notes: string[];
}

/** What the cache remembers about the release it holds (`go/cached.json`). */
interface CacheRecord {
  file: string;
  origin: string;
  dataVersion?: string;
  sha256: string;
  terms?: number;
  fetchedAt: string;
}

const RECORD = "cached.json";

/** Gets a GO release and returns its path; see FetchGoOptions for the order of sources. */
export async function fetchGo(opts: FetchGoOptions = {}): Promise<FetchGoResult> {
  const dir = join(opts.home ?? gotuneHome(), "go");
  const source = opts.source ?? "auto";
  const timeoutMs = opts.timeoutMs ?? 10_000;
  if (!GO_SOURCES.includes(source)) {
    throw new UserError(`unknown source \`${source}\``, { hint: `use one of ${GO_SOURCES.join(", ")}` });
  }
  const notes: string[] = [];
  if (opts.obo) {
    if (source !== "auto") {
      throw new UserError(`--obo and --source ${source} both given`, { hint: "give one of them" });
    }
    return /^https?:\/\//i.test(opts.obo)
      ? fromUrl(opts.obo, dir, timeoutMs, notes)
      : fromFile(opts.obo, notes);
  }
  if (source === "cache") {
    const hit = await fromCache(dir, notes);
    if (!hit) {
      throw new UserError(`no GO release in the cache (${dir})`, {
        hint: "run `gotune fetch-go` to get one, or give --obo PATH",
      });
    }
    return hit;
  }
  if (source === "url") return fromUrl(opts.url ?? OFFICIAL_GO_URL, dir, timeoutMs, notes);
  const apt = opts.aptOptions ?? [];
  if (source === "debian") return fromDebian(dir, apt, notes);
  const hit = await fromCache(dir, notes);
  if (hit) return hit;
  const url = opts.url ?? OFFICIAL_GO_URL;
  try {
    return await fromUrl(url, dir, timeoutMs, notes);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    notes.push(`${url} not used: ${err.message}; falling back to Debian's ${DEBIAN_GO.package}`);
  }
  return fromDebian(dir, apt, notes);
}

/** The sha256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

async function fromFile(path: string, notes: string[]): Promise<FetchGoResult> {
  await assertReadable(path, "OBO file");
  // A full parse, so a broken file is reported now with its line rather than later in prepare.
  const doc = await parseOboFile(path, { keepObsolete: true });
  return {
    path,
    source: "file",
    dataVersion: doc.header.dataVersion,
    sha256: await sha256File(path),
    terms: doc.terms.length,
    origin: path,
    notes,
  };
}

async function fromCache(dir: string, notes: string[]): Promise<FetchGoResult | undefined> {
  let rec: CacheRecord | undefined;
  try {
    rec = JSON.parse(await fsp.readFile(join(dir, RECORD), "utf8")) as CacheRecord;
  } catch {
    rec = undefined;
  }
  if (rec && typeof rec.file === "string" && typeof rec.sha256 === "string") {
    const path = join(dir, basename(rec.file));
    if (await isFile(path)) {
      const sha256 = await sha256File(path);
      if (sha256 === rec.sha256) {
        const { dataVersion, terms, origin } = rec;
        return { path, source: "cache", dataVersion, sha256, terms, origin, notes };
      }
      notes.push(`cached ${path} does not match its recorded sha256; ignored`);
    }
  }
  // The Debian copy on its own (e.g. the record was lost) is still good if its checksum holds.
  const deb = await cachedDebian(dir);
  if (deb) return { ...deb, source: "cache", notes };
  return undefined;
}

async function cachedDebian(dir: string): Promise<Omit<FetchGoResult, "source" | "notes"> | undefined> {
  const path = join(dir, DEBIAN_GO.file);
  if (!(await isFile(path)) || (await sha256File(path)) !== DEBIAN_GO.sha256) return undefined;
  return {
    path,
    dataVersion: DEBIAN_GO.dataVersion,
    sha256: DEBIAN_GO.sha256,
    terms: DEBIAN_GO.terms,
    origin: debianOrigin(),
  };
}

function debianOrigin(): string {
  return `Debian package ${DEBIAN_GO.package} ${DEBIAN_GO.version}: /${DEBIAN_GO.member}`;
}

async function remember(dir: string, r: FetchGoResult): Promise<void> {
  const rec: CacheRecord = {
    file: basename(r.path),
    origin: r.origin ?? r.source,
    dataVersion: r.dataVersion,
    sha256: r.sha256,
    terms: r.terms,
    fetchedAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(dir, RECORD), `${JSON.stringify(rec, null, 2)}\n`);
}

function tempName(dir: string, name: string): string {
  return join(dir, `.${name}.${process.pid}.${Date.now()}.part`);
}

/** A file name for a downloaded URL: go-basic.obo for the official one, else the URL's last segment. */
function fileNameFor(url: string): string {
  let name = "";
  try {
    name = basename(new URL(url).pathname);
  } catch {
    throw new UserError(`\`${url}\` is not a valid URL`, { hint: "give an http:// or https:// URL" });
  }
  name = name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "");
  if (name === "") name = "download";
  return name.endsWith(".obo") ? name : `${name}.obo`;
}

function netReason(err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no answer within ${(timeoutMs / 1000).toFixed(1)} s`;
  const e = err as { cause?: { code?: string; message?: string }; code?: string; message?: string };
  const code = e?.cause?.code ?? e?.code;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "cannot resolve the host name (offline?)";
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return "the connection was closed";
  return e?.cause?.message ?? e?.message ?? String(err);
}

/** Downloads a release into the cache: a temporary file, checked, then renamed; a failed download leaves nothing. */
async function fromUrl(url: string, dir: string, timeoutMs: number, notes: string[]): Promise<FetchGoResult> {
  const name = fileNameFor(url);
  await fsp.mkdir(dir, { recursive: true });
  const ctrl = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, timeoutMs);
  };
  const hint = "check the network, or use --source debian (offline) or --obo FILE";
  arm();
  let res: Response;
  try {
    // identity encoding, so Content-Length counts the bytes we receive and a cut download shows.
    res = await fetch(url, { signal: ctrl.signal, headers: { "accept-encoding": "identity" } });
  } catch (err) {
    clearTimeout(timer);
    throw new UserError(`cannot download ${url}: ${netReason(err, timedOut, timeoutMs)}`, { hint });
  }
  if (!res.ok || !res.body) {
    clearTimeout(timer);
    await res.body?.cancel().catch(() => {});
    throw new UserError(`cannot download ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd(), {
      hint: "check the URL, or use --source debian (offline) or --obo FILE",
    });
  }
  const total = Number(res.headers.get("content-length") ?? "") || 0;
  const tmp = tempName(dir, name);
  const hash = createHash("sha256");
  const bar = total > 0 ? progress(`download ${name}`, total) : { tick() {}, done() {} };
  let received = 0;
  try {
    try {
      await pipeline(
        Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>),
        async function* (src: AsyncIterable<Buffer>) {
          for await (const chunk of src) {
            arm();
            received += chunk.length;
            hash.update(chunk);
            bar.tick(chunk.length);
            yield chunk;
          }
        },
        createWriteStream(tmp),
      );
    } catch (err) {
      throw new UserError(
        `download of ${url} failed after ${received}${total ? ` of ${total}` : ""} bytes: ${netReason(err, timedOut, timeoutMs)}`,
        { hint },
      );
    } finally {
      clearTimeout(timer);
      bar.done();
    }
    if (total > 0 && received !== total) {
      throw new UserError(`download of ${url} is truncated: ${received} of ${total} bytes`, {
        hint: "try again, or use --source debian",
      });
    }
    // Parse before the rename: an HTML error page or a cut file never becomes the cached release.
    const doc = await parseOboFile(tmp, { keepObsolete: true, source: url });
    const path = join(dir, name);
    await fsp.rename(tmp, path);
    const r: FetchGoResult = {
      path,
      source: "url",
      dataVersion: doc.header.dataVersion,
      sha256: hash.digest("hex"),
      terms: doc.terms.length,
      origin: url,
      notes,
    };
    await remember(dir, r);
    return r;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/** Runs a command, returning its exit code and stderr; a missing program is a UserError. */
function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "ENOENT"
          ? new UserError(`\`${cmd}\` not found: the offline fallback needs Debian's apt and dpkg`, {
              hint: "on another system give a GO release with --obo PATH",
            })
          : err,
      ),
    );
    child.on("close", (code) => resolve({ code: code ?? 1, stderr }));
  });
}

const NOT_IN_LISTS = /Unable to locate package|Can't find a source|has no installation candidate|not found/i;

async function aptDownload(work: string, aptOptions: string[]): Promise<void> {
  const spec = `${DEBIAN_GO.package}=${DEBIAN_GO.version}`;
  const isRoot = process.getuid?.() === 0;
  // As root apt would try to drop to its sandbox user, who cannot write into our private temp folder.
  const common = [...(isRoot ? ["-o", "APT::Sandbox::User=root"] : []), ...aptOptions];
  const args = [...common, "download", spec];
  let r = await run("apt-get", args, work);
  if (r.code !== 0 && NOT_IN_LISTS.test(r.stderr)) {
    if (!isRoot) {
      throw new UserError(`apt's package lists do not hold ${spec}`, {
        hint: "run `sudo apt-get update` once, then run this again",
      });
    }
    const u = await run("apt-get", [...common, "-qq", "update"], work);
    if (u.code !== 0) {
      throw new UserError(`apt-get update failed: ${lastLine(u.stderr)}`, {
        hint: "check the network to Debian's mirrors, or give --obo PATH",
      });
    }
    r = await run("apt-get", args, work);
  }
  if (r.code !== 0) {
    throw new UserError(`apt-get download ${spec} failed: ${lastLine(r.stderr)}`, {
      hint: "check the network to Debian's mirrors, or give --obo PATH",
    });
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

/** Streams one member of a .deb into `dest` (dpkg-deb for the data archive, tar to pick the file). */
async function extractMember(deb: string, member: string, dest: string): Promise<string> {
  const dpkg = spawn("dpkg-deb", ["--fsys-tarfile", deb], { stdio: ["ignore", "pipe", "pipe"] });
  const tar = spawn("tar", ["-xO", `./${member}`], { stdio: ["pipe", "pipe", "pipe"] });
  let errors = "";
  dpkg.stderr.on("data", (d: Buffer) => {
    errors += d.toString();
  });
  tar.stderr.on("data", (d: Buffer) => {
    errors += d.toString();
  });
  const exited = (p: ReturnType<typeof spawn>) =>
    new Promise<number>((resolve, reject) => {
      p.on("error", reject);
      p.on("close", (code) => resolve(code ?? 1));
    });
  const codes = Promise.all([exited(dpkg), exited(tar)]);
  dpkg.stdout.pipe(tar.stdin);
  const hash = createHash("sha256");
  const bar = progress("extract GO release", DEBIAN_GO.bytes);
  try {
    await pipeline(
      tar.stdout,
      async function* (src: AsyncIterable<Buffer>) {
        for await (const chunk of src) {
          hash.update(chunk);
          bar.tick(chunk.length);
          yield chunk;
        }
      },
      createWriteStream(dest),
    );
  } finally {
    bar.done();
  }
  const [a, b] = await codes;
  if (a !== 0 || b !== 0) {
    throw new UserError(`cannot extract ${member} from ${basename(deb)}: ${lastLine(errors)}`, {
      hint: "the package may have changed; give a GO release with --obo PATH",
    });
  }
  return hash.digest("hex");
}

/** The 2018 release from Debian's tnseq-transit: apt-get download, extract one file, check its sha256. */
async function fromDebian(dir: string, aptOptions: string[], notes: string[]): Promise<FetchGoResult> {
  const have = await cachedDebian(dir);
  if (have) {
    notes.push(`${DEBIAN_GO.file} already in the cache; not downloaded again`);
    return { ...have, source: "debian", notes };
  }
  await fsp.mkdir(dir, { recursive: true });
  const work = await fsp.mkdtemp(join(tmpdir(), "gotune-deb-"));
  const tmp = tempName(dir, DEBIAN_GO.file);
  try {
    await aptDownload(work, aptOptions);
    const deb = (await fsp.readdir(work)).find(
      (f) => f.startsWith(`${DEBIAN_GO.package}_`) && f.endsWith(".deb"),
    );
    if (!deb)
      throw new UserError(`apt-get download left no ${DEBIAN_GO.package} .deb`, { hint: "try again" });
    const sha256 = await extractMember(join(work, deb), DEBIAN_GO.member, tmp);
    if (sha256 !== DEBIAN_GO.sha256) {
      throw new UserError(`the GO file in ${deb} has sha256 ${sha256}, expected ${DEBIAN_GO.sha256}`, {
        hint: "the package is not the expected one; give a GO release with --obo PATH",
      });
    }
    const path = join(dir, DEBIAN_GO.file);
    await fsp.rename(tmp, path);
    const header = await readOboHeader(path);
    const r: FetchGoResult = {
      path,
      source: "debian",
      dataVersion: header.dataVersion,
      sha256,
      terms: DEBIAN_GO.terms,
      origin: debianOrigin(),
      notes,
    };
    await remember(dir, r);
    return r;
  } finally {
    await fsp.rm(tmp, { force: true });
    await fsp.rm(work, { recursive: true, force: true });
  }
}
