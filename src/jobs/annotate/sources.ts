/**
 * Input documents for annotate, read as streams: plain text (one document a file), JSON Lines (one
 * document a line: an id and a text) and PubMed XML, each gzipped or not. A document is a sequence of
 * text blocks, each with its offset in the document's text; only one block of a plain-text file is held
 * at a time, so memory stays flat whatever the input size.
 */
import { createReadStream, promises as fsp } from "node:fs";
import { basename } from "node:path";
import { createGunzip } from "node:zlib";
import { splitWithSpans } from "../../inference/sentences.js";
import { UserError } from "../../util/errors.js";
import { PubmedStream } from "./pubmed.js";

/** The input formats. */
export const FORMATS = ["auto", "text", "jsonl", "pubmed"] as const;
export type Format = (typeof FORMATS)[number];

/** What the report can group by, when the input has it (PubMed does). */
export interface DocMeta {
  title?: string;
  journal?: string;
  year?: number;
}

/** A run of a document's text: `offset` is where `text` starts in the document (code points). */
export interface Block {
  text: string;
  offset: number;
  section: string | null;
}

/** One input document; `index` is its 0-based position in the file. */
export interface Doc {
  id: string;
  index: number;
  meta: DocMeta;
  blocks: AsyncIterable<Block> | Iterable<Block>;
}

/** Options of the JSON Lines reader. */
export interface JsonlFields {
  idField: string;
  textField: string;
}

/** Longest JSON line, and longest document id, accepted. */
export const MAX_LINE = 16 * 2 ** 20;
export const MAX_ID = 512;
/** A plain-text block past this many characters without a blank line is cut after its last whole sentence. */
const TEXT_BLOCK = 1 << 20;

const HINT_FORMAT = "name it .txt, .jsonl or .xml (optionally .gz), or give --format text|jsonl|pubmed";

/** The file name without .gz and the format extension: the stem output files are named after. */
export function stemOf(path: string): string {
  return basename(path)
    .replace(/\.gz$/i, "")
    .replace(/\.(txt|text|jsonl|ndjson|json|xml)$/i, "");
}

/** The format of `path`: as given, else from its name (a trailing .gz ignored). */
export function formatOf(path: string, given: Format): Exclude<Format, "auto"> {
  if (given !== "auto") return given;
  const name = basename(path).toLowerCase().replace(/\.gz$/, "");
  if (/\.(txt|text)$/.test(name)) return "text";
  if (/\.(jsonl|ndjson)$/.test(name)) return "jsonl";
  if (name.endsWith(".xml")) return "pubmed";
  throw new UserError("cannot tell the input's format from its name", { file: path, hint: HINT_FORMAT });
}

/** An opened input: its UTF-8 text in chunks, and the compressed bytes read so far (for progress). */
export interface InputStream {
  chunks: AsyncIterable<string>;
  bytesRead(): number;
}

/**
 * What a gzipped input may inflate to: past its first 16 MiB, at most 100 times the compressed bytes
 * read (text and PubMed XML gzip 3 to 8 to 1; a bomb inflates 1,000 to 1), and 64 GiB in all.
 */
export const GZIP_LIMITS = { ratio: 100, free: 16 << 20, total: 64 * 2 ** 30 } as const;

/** Opens `path` as text, gunzipping it when it starts with gzip's magic bytes (within GZIP_LIMITS). */
export async function openText(path: string): Promise<InputStream> {
  const fh = await fsp.open(path, "r");
  const head = Buffer.alloc(2);
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const raw = createReadStream(path, { highWaterMark: 1 << 16 });
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const bytes = gz ? raw.pipe(createGunzip()) : raw;
  if (gz) raw.on("error", (e) => bytes.emit("error", e));
  async function* decode(): AsyncGenerator<string> {
    const dec = new TextDecoder("utf-8", { fatal: true });
    try {
      let out = 0;
      for await (const b of bytes as AsyncIterable<Buffer>) {
        out += b.length;
        if (gz && (out > GZIP_LIMITS.free + GZIP_LIMITS.ratio * raw.bytesRead || out > GZIP_LIMITS.total))
          throw new UserError(
            `inflates past ${out > GZIP_LIMITS.total ? "64 GiB" : `${GZIP_LIMITS.ratio} times its compressed size`}: a zip bomb?`,
            { file: path, hint: "give the real input (gunzip it and check it if you trust it)" },
          );
        yield dec.decode(b, { stream: true });
      }
      yield dec.decode();
    } catch (err) {
      if (err instanceof TypeError)
        throw new UserError("is not UTF-8 text", { file: path, hint: "give UTF-8 text, gzipped or not" });
      if ((err as NodeJS.ErrnoException).code?.startsWith("Z_"))
        throw new UserError(`is a damaged gzip file (${(err as Error).message})`, {
          file: path,
          hint: "download it again",
        });
      throw err;
    } finally {
      raw.destroy();
    }
  }
  return { chunks: decode(), bytesRead: () => raw.bytesRead };
}

/** The documents of one input, those whose id `want` accepts, in file order. */
export function readDocs(
  path: string,
  format: Exclude<Format, "auto">,
  input: InputStream,
  want: (id: string) => boolean,
  fields: JsonlFields = { idField: "id", textField: "text" },
): AsyncIterable<Doc> {
  if (format === "text") return textDocs(path, input, want);
  if (format === "jsonl") return jsonlDocs(path, input, want, fields);
  return pubmedDocs(path, input, want);
}

/** A plain-text file is one document named after the file; its blocks end at blank lines. */
async function* textDocs(
  path: string,
  input: InputStream,
  want: (id: string) => boolean,
): AsyncGenerator<Doc> {
  const id = stemOf(path);
  if (!want(id)) return;
  yield { id, index: 0, meta: {}, blocks: textBlocks(input.chunks) };
}

/** Number of code points in `s` (a UTF-16 string). */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const h = s.charCodeAt(i - 1);
      if (h >= 0xd800 && h <= 0xdbff) n--;
    }
  }
  return n;
}

async function* textBlocks(chunks: AsyncIterable<string>): AsyncGenerator<Block> {
  let buf = "";
  let offset = 0;
  const take = (n: number): Block => {
    const text = buf.slice(0, n);
    buf = buf.slice(n);
    const b = { text, offset, section: null };
    offset += codePoints(text);
    return b;
  };
  for await (const chunk of chunks) {
    buf += chunk;
    // Cut after the last blank line: a paragraph never spans two blocks.
    const re = /\n[ \t\f\v\u00a0\r]*\n/g;
    let cut = -1;
    for (let m = re.exec(buf); m; m = re.exec(buf)) cut = m.index + m[0].length;
    if (cut > 0) yield take(cut);
    else if (buf.length > TEXT_BLOCK) {
      // A huge paragraph: keep its last (maybe unfinished) sentence for the next block.
      const s = splitWithSpans(buf);
      const last = s.length > 1 ? s[s.length - 1]!.start : codePoints(buf);
      yield take(codeUnitsOf(buf, last));
    }
  }
  if (buf) yield take(buf.length);
}

/** The UTF-16 index of code point `cp` of `s`. */
function codeUnitsOf(s: string, cp: number): number {
  let i = 0;
  for (let n = 0; n < cp && i < s.length; n++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
  }
  return i;
}

/** The lines of a text stream (without their ends), each with its 1-based number; a huge line is an error. */
export async function* lines(path: string, chunks: AsyncIterable<string>): AsyncGenerator<[string, number]> {
  let buf = "";
  let n = 0;
  for await (const chunk of chunks) {
    buf += chunk;
    let start = 0;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n", start)) {
      yield [buf.slice(start, nl).replace(/\r$/, ""), ++n];
      start = nl + 1;
    }
    buf = buf.slice(start);
    if (buf.length > MAX_LINE)
      throw new UserError(`a line longer than ${MAX_LINE / 2 ** 20} MiB`, {
        file: path,
        line: n + 1,
        hint: "give one JSON object a line",
      });
  }
  if (buf) yield [buf.replace(/\r$/, ""), ++n];
}

/** Checks a document id read from the input: a string or a whole number, short, without control characters. */
export function checkId(v: unknown, file: string, line?: number): string {
  const id = typeof v === "number" && Number.isSafeInteger(v) ? String(v) : v;
  if (typeof id !== "string" || id === "" || id.length > MAX_ID || /\p{Cc}/u.test(id))
    throw new UserError(
      `the document id ${JSON.stringify(v)?.slice(0, 60) ?? "(missing)"} is not a non-empty string or whole number of at most ${MAX_ID} characters`,
      { file, line, hint: "give each document a short id" },
    );
  return id;
}

async function* jsonlDocs(
  path: string,
  input: InputStream,
  want: (id: string) => boolean,
  { idField, textField }: JsonlFields,
): AsyncGenerator<Doc> {
  let index = 0;
  const hint = `each line must be one JSON object with "${idField}" and "${textField}"`;
  for await (const [line, n] of lines(path, input.chunks)) {
    if (line.trim() === "") continue;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      throw new UserError("this line is not valid JSON", { file: path, line: n, hint });
    }
    if (typeof o !== "object" || o === null || Array.isArray(o))
      throw new UserError("this line is not a JSON object", { file: path, line: n, hint });
    const rec = o as Record<string, unknown>;
    if (!(idField in rec))
      throw new UserError(`this object has no "${idField}"`, { file: path, line: n, hint });
    const id = checkId(rec[idField], path, n);
    const text = rec[textField];
    if (typeof text !== "string")
      throw new UserError(`"${textField}" is missing or not a string`, { file: path, line: n, hint });
    const i = index++;
    if (!want(id)) continue;
    yield { id, index: i, meta: {}, blocks: [{ text, offset: 0, section: null }] };
  }
}

/** The separator between a PubMed document's title and its sections in the document text. */
const SEP = "\n\n";

async function* pubmedDocs(
  path: string,
  input: InputStream,
  want: (id: string) => boolean,
): AsyncGenerator<Doc> {
  const xml = new PubmedStream(path);
  let index = 0;
  const docs = function* () {
    for (const a of xml.drain()) {
      const i = index++;
      if (!want(a.pmid)) continue;
      // The document text is the title and the sections joined by blank lines; spans point into it.
      const blocks: Block[] = [];
      let offset = 0;
      for (const [section, text] of [
        ["title", a.title] as const,
        ...a.sections.map((s) => [s.label, s.text] as const),
      ]) {
        if (!text) continue;
        if (blocks.length) offset += SEP.length;
        blocks.push({ text, offset, section });
        offset += codePoints(text);
      }
      const meta: DocMeta = { title: a.title };
      if (a.journal !== undefined) meta.journal = a.journal;
      if (a.year !== undefined) meta.year = a.year;
      yield { id: a.pmid, index: i, meta, blocks };
    }
  };
  for await (const chunk of input.chunks) {
    xml.write(chunk);
    yield* docs();
  }
  xml.end();
  yield* docs();
}
