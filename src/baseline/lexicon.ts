/**
 * What the GO linker knows: the terms of a release (names, synonyms, definitions, merged ids) and the
 * strings curators linked to them (aliases), built from an OBO release and CRAFT's train articles, and
 * kept as one gzipped JSON file (`lexicon.json.gz`) in a tagger folder, read back with every field checked.
 */
import { readFile } from "node:fs/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import { type CraftSplit, readCraft } from "../data/craft.js";
import { parseOboFile } from "../data/obo.js";
import type { OboDocument } from "../data/obo-types.js";
import { type Aspect, labelOf } from "../data/terms.js";
import { shown, UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fsx.js";

/** One GO term as the linker knows it. */
export interface LexiconTerm {
  go_id: string;
  name: string;
  aspect: Aspect;
  definition: string;
  synonyms: { text: string; scope: SynonymScope }[];
  /** Ids merged into this term (a corpus annotated before the merge names the term by one of them). */
  alt_ids: string[];
}

/** An OBO synonym's scope. */
export type SynonymScope = "EXACT" | "BROAD" | "NARROW" | "RELATED";
const SCOPES: readonly string[] = ["EXACT", "BROAD", "NARROW", "RELATED"];

/** A string a curator linked to a term, and how often (the train articles' mentions). */
export interface Alias {
  text: string;
  go_id: string;
  count: number;
}

/** What a linker is built from. */
export interface Lexicon {
  /** The release's data-version, when its header gives one. */
  release: string | null;
  terms: LexiconTerm[];
  aliases: Alias[];
}

/** The file name of a lexicon in a tagger folder. */
export const LEXICON_FILE = "lexicon.json.gz";

// GO holds some 50,000 terms and a lexicon file some 15 MB of JSON: far below these, a hostile file above.
const MAX_LEXICON_BYTES = 512 << 20;
const MAX_ENTRIES = 5_000_000;

/** Lowercase with runs of whitespace as one space: the form strings are compared in. */
export function normalise(text: string): string {
  return text.toLowerCase().replace(/\s+/gu, " ").trim();
}

/** The GO terms of a parsed release in the three aspects (terms without a name are left out). */
export function lexiconTerms(doc: Pick<OboDocument, "terms">): LexiconTerm[] {
  const out: LexiconTerm[] = [];
  for (const t of doc.terms) {
    const aspect = t.namespace?.trim() ?? "";
    const name = t.name?.trim() ?? "";
    if (labelOf(aspect) < 0 || name === "") continue;
    out.push({
      go_id: t.id,
      name,
      aspect: aspect as Aspect,
      definition: t.def?.text.trim() ?? "",
      synonyms: t.synonyms.map((s) => ({ text: s.text, scope: s.scope })),
      alt_ids: t.altIds,
    });
  }
  return out;
}

/** Counts mention strings per (normalised text, GO id): the aliases a corpus teaches. */
export function countAliases(mentions: Iterable<{ text: string; go_id: string }>): Alias[] {
  const counts = new Map<string, Alias>();
  for (const m of mentions) {
    const text = normalise(m.text);
    if (text === "") continue;
    const key = `${m.go_id}\t${text}`;
    const a = counts.get(key);
    if (a) a.count++;
    else counts.set(key, { text, go_id: m.go_id, count: 1 });
  }
  return [...counts.values()];
}

/** Where a lexicon comes from. */
export interface LexiconSources {
  /** The OBO release. */
  obo: string;
  /** A CRAFT file whose mentions become aliases (undefined: none). */
  craft?: string;
  /** The CRAFT splits whose mentions count (train by default: dev is for measuring). */
  splits?: readonly CraftSplit[];
}

/**
 * A lexicon from a release and, optionally, a CRAFT file's continuous mentions (a discontinuous one's
 * text joins its parts with " ... " and names no string a text holds).
 */
export async function buildLexicon(src: LexiconSources): Promise<Lexicon> {
  const doc = await parseOboFile(src.obo);
  let aliases: Alias[] = [];
  if (src.craft !== undefined) {
    const articles = await readCraft({ file: src.craft, splits: src.splits ?? ["train"] });
    aliases = countAliases(articles.flatMap((a) => a.mentions.filter((m) => m.spans.length === 1)));
  }
  return { release: doc.header.dataVersion ?? null, terms: lexiconTerms(doc), aliases };
}

/** Writes a lexicon as gzipped JSON (atomically: an old file stays whole until the new one is). */
export async function writeLexicon(file: string, lexicon: Lexicon): Promise<void> {
  await writeFileAtomic(file, gzipSync(JSON.stringify(lexicon)));
}

/** Reads a lexicon file, checking every field before the linker indexes by it. */
export async function readLexicon(file: string): Promise<Lexicon> {
  const fail = (what: string): never => {
    throw new UserError(what, { file, hint: "write the tagger again with gotune run" });
  };
  let json: unknown;
  try {
    json = JSON.parse(
      gunzipSync(await readFile(file), { maxOutputLength: MAX_LEXICON_BYTES }).toString("utf8"),
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw err;
    fail(`is not a gzipped JSON lexicon (${(err as Error).message})`);
  }
  const o = json as Record<string, unknown>;
  if (!o || typeof o !== "object" || Array.isArray(o)) fail("is not a JSON object");
  const { release, terms, aliases } = o;
  if (release !== null && typeof release !== "string")
    fail(`release ${shown(release)} is not a string or null`);
  if (!Array.isArray(terms) || terms.length > MAX_ENTRIES) fail("terms is not a list of at most 5,000,000");
  if (!Array.isArray(aliases) || aliases.length > MAX_ENTRIES)
    fail("aliases is not a list of at most 5,000,000");
  const str = (v: unknown, what: string): string =>
    typeof v === "string" ? v : fail(`${what} ${shown(v)} is not a string`);
  const strs = (v: unknown, what: string): string[] =>
    Array.isArray(v) ? v.map((x) => str(x, what)) : fail(`${what} is not a list`);
  const ids = new Set<string>();
  const outTerms = (terms as unknown[]).map((t, i): LexiconTerm => {
    const r = (t && typeof t === "object" ? t : fail(`term ${i} is not an object`)) as Record<
      string,
      unknown
    >;
    const go_id = str(r.go_id, `term ${i}'s go_id`);
    if (ids.has(go_id)) fail(`term ${shown(go_id)} appears twice`);
    ids.add(go_id);
    const aspect = str(r.aspect, `term ${go_id}'s aspect`);
    if (labelOf(aspect) < 0) fail(`term ${go_id}'s aspect ${shown(aspect)} is not a GO aspect`);
    const synonyms = Array.isArray(r.synonyms) ? r.synonyms : fail(`term ${go_id}'s synonyms is not a list`);
    return {
      go_id,
      name: str(r.name, `term ${go_id}'s name`),
      aspect: aspect as Aspect,
      definition: str(r.definition, `term ${go_id}'s definition`),
      synonyms: synonyms.map((s: unknown) => {
        const x = (s && typeof s === "object" ? s : fail(`a synonym of ${go_id} is not an object`)) as Record<
          string,
          unknown
        >;
        const scope = str(x.scope, `a synonym scope of ${go_id}`);
        if (!SCOPES.includes(scope))
          fail(`a synonym of ${go_id} has scope ${shown(scope)}, not one of ${SCOPES.join(", ")}`);
        return { text: str(x.text, `a synonym of ${go_id}`), scope: scope as SynonymScope };
      }),
      alt_ids: strs(r.alt_ids, `term ${go_id}'s alt_ids`),
    };
  });
  const outAliases = (aliases as unknown[]).map((a, i): Alias => {
    const r = (a && typeof a === "object" ? a : fail(`alias ${i} is not an object`)) as Record<
      string,
      unknown
    >;
    const count = r.count;
    if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 1)
      fail(`alias ${i}'s count ${shown(count)} is not a whole number of at least 1`);
    return {
      text: str(r.text, `alias ${i}'s text`),
      go_id: str(r.go_id, `alias ${i}'s go_id`),
      count: count as number,
    };
  });
  return { release: release as string | null, terms: outTerms, aliases: outAliases };
}
