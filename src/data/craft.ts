/**
 * CRAFT's GO mentions (corpora/craft, format in its README): articles, their sentences with the set of GO
 * aspects mentioned inside, and the mentions. The file is read a line at a time through gunzip and every
 * offset, aspect and split is checked before it becomes an index.
 */
import { createReadStream } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { shown, UserError } from "../util/errors.js";
import { assertReadable } from "../util/fsx.js";
import { ASPECTS, type Aspect } from "./terms.js";

/** The vendored file: CRAFT's 60 train and 7 dev articles (its 30 test articles are never in the repository). */
export const CRAFT_FILE = resolve(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "corpora",
  "craft",
  "craft-go-train-dev.jsonl.gz",
);

/** CRAFT's own article splits that the vendored file may hold. */
export const CRAFT_SPLITS = ["train", "dev"] as const;

/** One of the splits the file holds. */
export type CraftSplit = (typeof CRAFT_SPLITS)[number];

/** A `[start, end)` range of code points (as Python indexes a str) into an article's text. */
export type Span = readonly [number, number];

/** A curator's GO mention: its spans (more than one when discontinuous), text and concept. */
export interface CraftMention {
  spans: Span[];
  /** The spanned text as the file gives it (discontinuous parts joined by " ... "). */
  text: string;
  aspect: Aspect;
  go_id: string;
  go_name: string;
  /** The index of the sentence its first span starts in, or -1 when it starts between sentences. */
  sentence: number;
}

/** A sentence of an article, by CRAFT's segmentation. */
export interface CraftSentence {
  /** Code-point offsets into the article's text. */
  start: number;
  end: number;
  text: string;
  /** The aspects of the mentions with a span inside it, in ASPECTS order; empty: it speaks of no GO aspect. */
  aspects: Aspect[];
  /** Indexes into the article's mentions of those with a span inside it. */
  mentions: number[];
}

/** One article: its text, sentences and mentions. */
export interface CraftArticle {
  pmid: string;
  split: CraftSplit;
  text: string;
  sentences: CraftSentence[];
  mentions: CraftMention[];
}

/** What to read. */
export interface CraftReadOptions {
  /** The .jsonl.gz file; CRAFT_FILE by default. */
  file?: string;
  /** Only these splits (all by default). */
  splits?: readonly CraftSplit[];
}

/**
 * The code-unit (UTF-16) index of every code-point index of `text`, with one more entry for its end:
 * `text.slice(u[s], u[e])` is the code points `[s, e)`.
 */
export function codeUnitIndex(text: string): Uint32Array {
  const out = new Uint32Array(text.length + 1);
  let cp = 0;
  for (let i = 0; i < text.length; i++) {
    out[cp++] = i;
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) i++;
    }
  }
  out[cp] = text.length;
  return out.subarray(0, cp + 1);
}

/** Reads the articles of a CRAFT file, in file order, checking each line. */
export async function readCraft(opts: CraftReadOptions = {}): Promise<CraftArticle[]> {
  const out: CraftArticle[] = [];
  for await (const a of craftArticles(opts)) out.push(a);
  return out;
}

/** Streams the articles of a CRAFT file one line at a time (an article is one line). */
export async function* craftArticles(opts: CraftReadOptions = {}): AsyncGenerator<CraftArticle> {
  const file = opts.file ?? CRAFT_FILE;
  await assertReadable(file, "CRAFT file");
  const gunzip = createGunzip();
  const input = createReadStream(file).pipe(gunzip);
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const seen = new Set<string>();
  let n = 0;
  try {
    for await (const line of rl) {
      n++;
      if (line.trim() === "") continue;
      const a = parseArticle(line, file, n);
      if (seen.has(a.pmid))
        throw new UserError(`article ${a.pmid} appears twice`, { file, line: n, hint: HINT });
      seen.add(a.pmid);
      if (!opts.splits || opts.splits.includes(a.split)) yield a;
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (code.startsWith("Z_"))
      throw new UserError(`is not a readable gzip file (${(err as Error).message})`, {
        file,
        hint: "restore corpora/craft/craft-go-train-dev.jsonl.gz from the repository",
      });
    throw err;
  } finally {
    rl.close();
    input.destroy();
  }
}

const HINT = "the format is in corpora/craft/README.md; restore the file from the repository";

/** One line of the file, checked, as an article. */
function parseArticle(line: string, file: string, n: number): CraftArticle {
  const fail = (what: string): never => {
    throw new UserError(what, { file, line: n, hint: HINT });
  };
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return fail("this line is not valid JSON");
  }
  if (!rec || typeof rec !== "object" || Array.isArray(rec)) return fail("this line is not a JSON object");
  const r = rec as Record<string, unknown>;
  if (typeof r.pmid !== "string" || !/^\d{1,12}$/.test(r.pmid))
    return fail(`pmid ${shown(r.pmid)} is not a PubMed id`);
  const pmid = r.pmid;
  if (!CRAFT_SPLITS.includes(r.split as CraftSplit))
    return fail(`article ${pmid}: split ${shown(r.split)} is not one of ${CRAFT_SPLITS.join(", ")}`);
  if (typeof r.text !== "string") return fail(`article ${pmid} has no string text`);
  const text = r.text;
  const units = codeUnitIndex(text);
  const length = units.length - 1;
  const span = (v: unknown, what: string): Span => {
    if (
      !Array.isArray(v) ||
      v.length !== 2 ||
      !Number.isSafeInteger(v[0]) ||
      !Number.isSafeInteger(v[1]) ||
      v[0] < 0 ||
      v[0] > v[1] ||
      v[1] > length
    )
      return fail(
        `article ${pmid}: ${what} ${shown(v)} is not a [start, end] range within its ${length} code points`,
      );
    return [v[0], v[1]];
  };
  if (!Array.isArray(r.sentences)) return fail(`article ${pmid} has no sentences list`);
  const sentences: CraftSentence[] = [];
  let prevEnd = 0;
  for (const [i, v] of r.sentences.entries()) {
    const [start, end] = span(v, `sentence ${i + 1}`);
    if (start < prevEnd)
      return fail(`article ${pmid}: sentence ${i + 1} starts before the previous one ends`);
    prevEnd = end;
    sentences.push({ start, end, text: text.slice(units[start], units[end]), aspects: [], mentions: [] });
  }
  if (!Array.isArray(r.mentions)) return fail(`article ${pmid} has no mentions list`);
  const mentions: CraftMention[] = [];
  for (const [i, v] of r.mentions.entries()) {
    const what = `mention ${i + 1}`;
    if (!v || typeof v !== "object") return fail(`article ${pmid}: ${what} is not an object`);
    const m = v as Record<string, unknown>;
    if (!Array.isArray(m.spans) || m.spans.length === 0 || m.spans.length > 64)
      return fail(`article ${pmid}: ${what} has no list of spans`);
    const spans = m.spans.map((s) => span(s, `${what}'s span`));
    if (spans.some(([s, e]) => s === e)) return fail(`article ${pmid}: ${what} has an empty span`);
    if (!ASPECTS.includes(m.aspect as Aspect))
      return fail(`article ${pmid}: ${what}'s aspect ${shown(m.aspect)} is not one of ${ASPECTS.join(", ")}`);
    if (typeof m.go_id !== "string" || !/^GO:\d{7}$/.test(m.go_id))
      return fail(`article ${pmid}: ${what}'s go_id ${shown(m.go_id)} is not a GO id (GO:0000000)`);
    if (typeof m.text !== "string" || typeof m.go_name !== "string")
      return fail(`article ${pmid}: ${what} lacks a string text or go_name`);
    mentions.push({
      spans,
      text: m.text,
      aspect: m.aspect as Aspect,
      go_id: m.go_id,
      go_name: m.go_name,
      sentence: -1,
    });
  }
  assignMentions(sentences, mentions);
  return { pmid, split: r.split as CraftSplit, text, sentences, mentions };
}

/** Links mentions and sentences (sentences are in order and disjoint: a binary search each span). */
function assignMentions(sentences: CraftSentence[], mentions: CraftMention[]): void {
  // The last sentence starting at or before `pos`, or -1.
  const at = (pos: number): number => {
    let lo = 0;
    let hi = sentences.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sentences[mid].start <= pos) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  };
  for (const [mi, m] of mentions.entries()) {
    const first = at(m.spans[0][0]);
    if (first >= 0 && m.spans[0][0] < sentences[first].end) m.sentence = first;
    const hit = new Set<number>();
    for (const [s, e] of m.spans) {
      // Every sentence overlapping [s, e): from the one holding s (or the next) while it starts before e.
      for (let k = Math.max(0, at(s)); k < sentences.length && sentences[k].start < e; k++)
        if (sentences[k].end > s) hit.add(k);
    }
    for (const k of hit) sentences[k].mentions.push(mi);
  }
  for (const s of sentences) {
    const have = new Set(s.mentions.map((i) => mentions[i].aspect));
    s.aspects = ASPECTS.filter((a) => have.has(a));
  }
}
