/**
 * A streaming parser for the OBO 1.2/1.4 flat-file format (Gene Ontology releases and the like).
 * Written for speed on 30+ MB releases: one pass over each line with charCodeAt and indexOf, no regex per line.
 */
import { isUtf8 } from "node:buffer";
import { createReadStream } from "node:fs";
import { UserError } from "../util/errors.js";
import { assertReadable } from "../util/fsx.js";
import type {
  Dbxref,
  Intersection,
  OboDocument,
  OboHeader,
  OboInstance,
  OboTerm,
  OboTypedef,
  ParseOptions,
  Synonym,
} from "./obo-types.js";

const BACKSLASH = 92;
const QUOTE = 34;
const BANG = 33;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const COMMA = 44;
const SPACE = 32;
const TAB = 9;

const SCOPES = new Set(["EXACT", "BROAD", "NARROW", "RELATED"]);
/** OBO 1.0-style synonym tags, whose scope is in the tag name. */
const OLD_SYNONYM_TAGS: Record<string, Synonym["scope"]> = {
  exact_synonym: "EXACT",
  narrow_synonym: "NARROW",
  broad_synonym: "BROAD",
  related_synonym: "RELATED",
};
/** Characters that stand for themselves after a backslash. */
const LITERAL_ESCAPES = new Set(['"', "\\", ":", ",", "(", ")", "[", "]", "{", "}", "!"]);
/** A stanza or tag name: letters, digits, `_`, `-`, `.` (anything else means the file is not OBO). */
const NAME = /^[A-Za-z0-9_.-]+$/;
/** How much of the start of a file is checked for binary content. */
const SNIFF_CHARS = 65536;

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** Appends a value to a multi-valued tag map. */
function pushTo(map: Record<string, string[]>, tag: string, value: string): void {
  const list = map[tag];
  if (list) list.push(value);
  else map[tag] = [value];
}

type Section = "header" | "term" | "typedef" | "instance" | "skip";

/**
 * An incremental parser: feed it the document's lines in order with `line`, then call `finish`.
 * Used by both parseOboText and parseOboFile, so the two agree exactly.
 */
export class OboParser {
  private readonly source: string;
  private readonly keepObsolete: boolean;
  private readonly header: OboHeader = { tags: {} };
  private readonly terms: OboTerm[] = [];
  private readonly typedefs: OboTypedef[] = [];
  private readonly instances: OboInstance[] = [];
  private readonly warnings: string[] = [];
  private obsoleteSkipped = 0;
  private lineNo = 0;
  private section: Section = "header";
  private stanzaLine = 0;
  private term: OboTerm | undefined;
  private typedef: OboTypedef | undefined;
  private instance: OboInstance | undefined;
  /** Every [Term] id seen (kept or obsolete) -> the line it was declared on, to report duplicates. */
  private readonly termIds = new Map<string, number>();
  private readonly otherIds = new Map<string, number>();
  private stanzas = 0;

  constructor(opts: ParseOptions = {}) {
    this.source = opts.source ?? "<obo text>";
    this.keepObsolete = opts.keepObsolete ?? false;
  }

  /** Checks the start of the input for content that is plainly not OBO text (binary, JSON). */
  checkStart(text: string): void {
    const head = text.length > SNIFF_CHARS ? text.slice(0, SNIFF_CHARS) : text;
    const binary = head.includes("\u0000");
    if (binary || head.includes("\uFFFD")) {
      this.fail(
        binary
          ? "is binary data, not an OBO text file"
          : "is not UTF-8 text (binary data or another encoding)",
        "give a plain-text UTF-8 .obo file (uncompress it first if it is .gz or .zip)",
        1,
      );
    }
    let i = 0;
    while (i < head.length && head.charCodeAt(i) <= SPACE) i++;
    if (head.charCodeAt(i) === LBRACE) {
      this.fail(
        "looks like JSON (OBO Graphs?), not the OBO flat-file format",
        "give the .obo file of the release (e.g. go-basic.obo)",
        1,
      );
    }
  }

  /** Parses one line (without its newline). */
  line(raw: string): void {
    const n = ++this.lineNo;
    let text = raw;
    if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
    if (n === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.length === 0) return;
    let s = 0;
    let c = text.charCodeAt(0);
    if (isSpace(c)) {
      while (s < text.length && isSpace(text.charCodeAt(s))) s++;
      if (s === text.length) return;
      c = text.charCodeAt(s);
    }
    if (c === BANG) return;
    if (c === LBRACKET) {
      this.startStanza(text.slice(s).trimEnd());
      return;
    }
    if (this.section === "skip") return;
    const colon = text.indexOf(":", s);
    if (colon < 0) {
      this.fail(
        this.stanzas === 0 && this.lineNo === 1
          ? "does not look like an OBO file (the first line is not `tag: value`)"
          : "this line is not `tag: value` (the file may be truncated or not OBO)",
        "give a complete OBO 1.2/1.4 file, such as a GO release (go-basic.obo)",
      );
    }
    let tag = text.slice(s, colon);
    if (isSpace(tag.charCodeAt(tag.length - 1))) tag = tag.trimEnd();
    const value = text.slice(colon + 1);
    switch (this.section) {
      case "term":
        this.termTag(this.term!, tag, value);
        break;
      case "header":
        this.headerTag(tag, value);
        break;
      case "typedef":
        this.typedefTag(this.typedef!, tag, value);
        break;
      case "instance":
        this.instanceTag(this.instance!, tag, value);
        break;
    }
  }

  /** The header frame read so far (complete once the first stanza starts). */
  headerSoFar(): OboHeader {
    return this.header;
  }

  /** Ends the input; `endedWithNewline` tells whether the last line was complete. */
  finish(endedWithNewline: boolean): OboDocument {
    this.closeStanza();
    if (this.stanzas === 0 && this.header.formatVersion === undefined) {
      this.fail(
        this.lineNo === 0 ? "is empty" : "holds no stanza and no format-version header: not an OBO file",
        "give an OBO 1.2/1.4 file, such as a GO release (go-basic.obo)",
        this.lineNo || undefined,
      );
    }
    if (!endedWithNewline && this.lineNo > 0) {
      this.warn(this.lineNo, "the file does not end with a newline; it may be truncated");
    }
    return {
      header: this.header,
      terms: this.terms,
      typedefs: this.typedefs,
      instances: this.instances,
      obsoleteSkipped: this.obsoleteSkipped,
      warnings: this.warnings,
    };
  }

  // ---- stanzas -------------------------------------------------------------------------------------

  private startStanza(line: string): void {
    const bang = line.indexOf("!");
    const text = bang < 0 ? line : line.slice(0, bang).trimEnd();
    if (text.charCodeAt(text.length - 1) !== RBRACKET) {
      this.fail("stanza header is not closed with `]` (the file may be truncated)", "write it as `[Term]`");
    }
    const kind = text.slice(1, -1).trim();
    if (kind !== "Term" && !NAME.test(kind)) {
      this.fail(`\`${text}\` is not a stanza header: not an OBO file`, "give an OBO 1.2/1.4 file");
    }
    this.closeStanza();
    this.stanzas++;
    this.stanzaLine = this.lineNo;
    switch (kind) {
      case "Term":
        this.section = "term";
        this.term = {
          id: "",
          synonyms: [],
          isA: [],
          relationships: [],
          intersectionOf: [],
          altIds: [],
          isObsolete: false,
          replacedBy: [],
          consider: [],
          subsets: [],
          xrefs: [],
          other: {},
          line: this.lineNo,
        };
        break;
      case "Typedef":
        this.section = "typedef";
        this.typedef = { id: "", isTransitive: false, tags: {}, line: this.lineNo };
        break;
      case "Instance":
        this.section = "instance";
        this.instance = { id: "", tags: {}, line: this.lineNo };
        break;
      default:
        this.section = "skip";
        this.warn(this.lineNo, `unknown stanza type [${kind}] skipped`);
    }
  }

  private closeStanza(): void {
    switch (this.section) {
      case "term": {
        const t = this.term!;
        this.requireId(t.id, "Term");
        if (t.isObsolete && !this.keepObsolete) this.obsoleteSkipped++;
        else this.terms.push(t);
        this.term = undefined;
        break;
      }
      case "typedef":
        this.requireId(this.typedef!.id, "Typedef");
        this.typedefs.push(this.typedef!);
        this.typedef = undefined;
        break;
      case "instance":
        this.requireId(this.instance!.id, "Instance");
        this.instances.push(this.instance!);
        this.instance = undefined;
        break;
    }
  }

  private requireId(id: string, kind: string): void {
    if (id === "") {
      this.fail(
        `this [${kind}] stanza has no id (the file may be truncated)`,
        "every stanza needs an `id:` line",
        this.stanzaLine,
      );
    }
  }

  /** Registers a stanza id, failing on a duplicate. */
  private setId(current: string, raw: string, ids: Map<string, number>, kind: string): string {
    if (current !== "") this.fail(`a second id in one [${kind}] stanza`, "give each stanza exactly one id");
    const id = this.ident(raw, "id");
    const first = ids.get(id);
    if (first !== undefined) {
      this.fail(
        `duplicate ${kind} id ${id} (first declared at line ${first})`,
        "ids must be unique: remove or merge the repeated stanza",
      );
    }
    ids.set(id, this.lineNo);
    return id;
  }

  // ---- tags ----------------------------------------------------------------------------------------

  private headerTag(tag: string, raw: string): void {
    this.checkTagName(tag);
    const value = this.text(raw);
    pushTo(this.header.tags, tag, value);
    if (tag === "format-version") this.header.formatVersion ??= value;
    else if (tag === "data-version") this.header.dataVersion ??= value;
    else if (tag === "ontology") this.header.ontology ??= value;
    else if (tag === "date") this.header.date ??= value;
  }

  private termTag(t: OboTerm, tag: string, raw: string): void {
    switch (tag) {
      case "id":
        t.id = this.setId(t.id, raw, this.termIds, "Term");
        break;
      case "name":
        t.name = this.single(t.name, tag, this.text(raw));
        break;
      case "namespace":
        t.namespace = this.single(t.namespace, tag, this.text(raw));
        break;
      case "def":
        if (t.def) this.warn(this.lineNo, "a second def in one stanza ignored");
        else t.def = this.def(raw);
        break;
      case "comment":
        t.comment = this.single(t.comment, tag, this.text(raw));
        break;
      case "synonym":
        t.synonyms.push(this.synonym(raw, undefined));
        break;
      case "is_a":
        t.isA.push(this.ident(raw, tag));
        break;
      case "relationship": {
        const [type, target] = this.words(raw, tag, 2);
        t.relationships.push({ type, target });
        break;
      }
      case "intersection_of": {
        const w = this.words(raw, tag, 1);
        const clause: Intersection = w.length === 1 ? { target: w[0] } : { relation: w[0], target: w[1] };
        t.intersectionOf.push(clause);
        break;
      }
      case "alt_id":
        t.altIds.push(this.ident(raw, tag));
        break;
      case "is_obsolete":
        t.isObsolete = this.bool(raw, tag);
        break;
      case "replaced_by":
        t.replacedBy.push(this.ident(raw, tag));
        break;
      case "consider":
        t.consider.push(this.ident(raw, tag));
        break;
      case "subset":
        t.subsets.push(this.ident(raw, tag));
        break;
      case "xref":
      case "xref_analog":
      case "xref_unknown":
        t.xrefs.push(this.xref(this.body(raw), tag));
        break;
      default: {
        const scope = OLD_SYNONYM_TAGS[tag];
        if (scope) t.synonyms.push(this.synonym(raw, scope));
        else {
          this.checkTagName(tag);
          pushTo(t.other, tag, this.text(raw));
        }
      }
    }
  }

  private typedefTag(t: OboTypedef, tag: string, raw: string): void {
    if (tag === "id") {
      t.id = this.setId(t.id, raw, this.otherIds, "Typedef");
      return;
    }
    this.checkTagName(tag);
    const value = this.text(raw);
    pushTo(t.tags, tag, value);
    if (tag === "name") t.name ??= value;
    else if (tag === "is_transitive") t.isTransitive = this.bool(raw, tag);
  }

  private instanceTag(t: OboInstance, tag: string, raw: string): void {
    if (tag === "id") {
      t.id = this.setId(t.id, raw, this.otherIds, "Instance");
      return;
    }
    this.checkTagName(tag);
    const value = this.text(raw);
    pushTo(t.tags, tag, value);
    if (tag === "name") t.name ??= value;
    else if (tag === "instance_of") t.instanceOf ??= this.ident(raw, tag);
  }

  private checkTagName(tag: string): void {
    if (!NAME.test(tag)) {
      this.fail(
        `\`${tag.length > 40 ? `${tag.slice(0, 40)}…` : tag}\` is not an OBO tag: not an OBO file?`,
        "tags are names such as `id`, `name`, `is_a`; give an OBO 1.2/1.4 file",
      );
    }
  }

  private single(prev: string | undefined, tag: string, value: string): string {
    if (prev === undefined) return value;
    this.warn(this.lineNo, `a second ${tag} in one stanza ignored`);
    return prev;
  }

  // ---- values --------------------------------------------------------------------------------------

  /**
   * The value with its `! comment` and trailing `{modifiers}` removed and its ends trimmed, escapes kept
   * (structure such as quotes and commas is read before escapes are resolved). In free text (`quotes`
   * false) an unmatched `"` is an ordinary character rather than an error.
   */
  private body(raw: string, quotes = true): string {
    const n = raw.length;
    let end = n;
    let inQuote = false;
    let brace = -1;
    for (let i = 0; i < n; i++) {
      const c = raw.charCodeAt(i);
      if (c === BACKSLASH) {
        if (i + 1 === n) {
          this.fail("the line ends in a lone backslash (a bad escape)", "write a backslash as `\\\\`");
        }
        i++;
      } else if (c === QUOTE) inQuote = !inQuote;
      else if (!inQuote) {
        if (c === BANG) {
          end = i;
          break;
        }
        if (c === LBRACE) brace = i;
      }
    }
    if (inQuote && !quotes) return this.bodyIgnoringQuotes(raw);
    if (inQuote) {
      this.fail(
        "unterminated quoted string (the file may be truncated)",
        'close the string with `"`, or write a quote inside it as `\\"`',
      );
    }
    return this.trimmed(raw, end, brace);
  }

  /** body() for free text whose quotes do not pair up: `!` and `{` count wherever they are unescaped. */
  private bodyIgnoringQuotes(raw: string): string {
    let end = raw.length;
    let brace = -1;
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c === BACKSLASH) i++;
      else if (c === BANG) {
        end = i;
        break;
      } else if (c === LBRACE) brace = i;
    }
    return this.trimmed(raw, end, brace);
  }

  /** `raw` up to `end`, without a trailing modifier opened at `brace` and without surrounding blanks. */
  private trimmed(raw: string, end: number, brace: number): string {
    const n = raw.length;
    while (end > 0 && isSpace(raw.charCodeAt(end - 1))) end--;
    if (
      brace > 0 &&
      brace < end &&
      raw.charCodeAt(end - 1) === RBRACE &&
      raw.charCodeAt(end - 2) !== BACKSLASH &&
      isSpace(raw.charCodeAt(brace - 1))
    ) {
      end = brace;
      while (end > 0 && isSpace(raw.charCodeAt(end - 1))) end--;
    }
    let start = 0;
    while (start < end && isSpace(raw.charCodeAt(start))) start++;
    return start === 0 && end === n ? raw : raw.slice(start, end);
  }

  /** Resolves OBO escapes; an unknown escape is an error. */
  private unescape(s: string): string {
    let i = s.indexOf("\\");
    if (i < 0) return s;
    let out = "";
    let from = 0;
    while (i >= 0) {
      out += s.slice(from, i);
      const e = s[i + 1];
      if (e === "n") out += "\n";
      else if (e === "t") out += "\t";
      else if (e === "W") out += " ";
      else if (e !== undefined && LITERAL_ESCAPES.has(e)) out += e;
      else {
        this.fail(
          e === undefined ? "a lone backslash (a bad escape)" : `unknown escape \`\\${e}\``,
          'OBO escapes are \\" \\\\ \\n \\t \\W \\: \\, \\( \\) \\[ \\] \\{ \\} \\!; write a backslash as `\\\\`',
        );
      }
      from = i + 2;
      i = s.indexOf("\\", from);
    }
    return out + s.slice(from);
  }

  /** A free-text value. */
  private text(raw: string): string {
    return this.unescape(this.body(raw, false));
  }

  /** A single identifier (the first word of the value). */
  private ident(raw: string, tag: string): string {
    return this.words(raw, tag, 1)[0];
  }

  /** The value's whitespace-separated words (escapes resolved); at least `min` of them. */
  private words(raw: string, tag: string, min: number): string[] {
    const b = this.body(raw);
    const out: string[] = [];
    let i = 0;
    const n = b.length;
    while (i < n) {
      while (i < n && isSpace(b.charCodeAt(i))) i++;
      if (i === n) break;
      const start = i;
      while (i < n && !isSpace(b.charCodeAt(i))) i += b.charCodeAt(i) === BACKSLASH ? 2 : 1;
      out.push(this.unescape(b.slice(start, i)));
    }
    if (out.length < min) {
      this.fail(
        min === 1 ? `empty value for ${tag}` : `${tag} needs ${min} parts, found ${out.length}`,
        tag === "relationship"
          ? "write it as `relationship: TYPE TARGET_ID`"
          : `give a value after \`${tag}:\``,
      );
    }
    return out;
  }

  private bool(raw: string, tag: string): boolean {
    const v = this.body(raw);
    if (v === "true") return true;
    if (v === "false") return false;
    return this.fail(`${tag} must be true or false, not \`${v}\``, `write \`${tag}: true\``);
  }

  /** Reads the quoted string starting at `b[pos]`; returns its unescaped text and the index after it. */
  private quoted(b: string, pos: number, tag: string): [string, number] {
    if (b.charCodeAt(pos) !== QUOTE) {
      this.fail(`${tag} must start with a quoted string`, `write it as \`${tag}: "text" [xrefs]\``);
    }
    let i = pos + 1;
    const n = b.length;
    while (i < n) {
      const c = b.charCodeAt(i);
      if (c === BACKSLASH) i += 2;
      else if (c === QUOTE) break;
      else i++;
    }
    return [this.unescape(b.slice(pos + 1, i)), i + 1];
  }

  private skipSpace(b: string, i: number): number {
    while (i < b.length && isSpace(b.charCodeAt(i))) i++;
    return i;
  }

  /** Reads a dbxref list `[a, b "desc"]` starting at `b[pos]`; returns the refs and the index after it. */
  private dbxrefList(b: string, pos: number, tag: string): [Dbxref[], number] {
    const out: Dbxref[] = [];
    const n = b.length;
    let i = pos + 1;
    let start = i;
    let inQuote = false;
    for (; i < n; i++) {
      const c = b.charCodeAt(i);
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inQuote = !inQuote;
      else if (!inQuote && (c === COMMA || c === RBRACKET)) {
        const item = b.slice(start, i).trim();
        if (item !== "") out.push(this.xref(item, tag));
        start = i + 1;
        if (c === RBRACKET) return [out, i + 1];
      }
    }
    return this.fail(`the dbxref list of ${tag} is not closed with \`]\``, "end the list with `]`");
  }

  /** One dbxref: an id, optionally followed by a quoted description (and modifiers, ignored). */
  private xref(item: string, tag: string): Dbxref {
    let i = 0;
    const n = item.length;
    while (i < n) {
      const c = item.charCodeAt(i);
      if (isSpace(c) || c === QUOTE) break;
      i += c === BACKSLASH ? 2 : 1;
    }
    const id = this.unescape(item.slice(0, i));
    if (id === "") this.fail(`empty dbxref in ${tag}`, "write a dbxref as `PREFIX:ID`");
    i = this.skipSpace(item, i);
    if (i < n && item.charCodeAt(i) === QUOTE) {
      const [description] = this.quoted(item, i, tag);
      return { id, description };
    }
    return { id };
  }

  private def(raw: string): { text: string; xrefs: Dbxref[] } {
    const b = this.body(raw);
    const [text, after] = this.quoted(b, 0, "def");
    const i = this.skipSpace(b, after);
    if (i === b.length) return { text, xrefs: [] };
    if (b.charCodeAt(i) !== LBRACKET) {
      this.fail("unexpected text after the quoted def", 'write it as `def: "text" [XREF:1, XREF:2]`');
    }
    const [xrefs, end] = this.dbxrefList(b, i, "def");
    if (this.skipSpace(b, end) !== b.length) {
      this.fail("unexpected text after the def's dbxref list", 'write it as `def: "text" [XREF:1]`');
    }
    return { text, xrefs };
  }

  /** `"text" SCOPE [TYPE] [xrefs]` (OBO 1.2/1.4) or `"text" [xrefs]` with the scope from an old tag. */
  private synonym(raw: string, oldScope: Synonym["scope"] | undefined): Synonym {
    const b = this.body(raw);
    const [text, after] = this.quoted(b, 0, "synonym");
    const syn: Synonym = { text, scope: oldScope ?? "RELATED", xrefs: [] };
    let i = this.skipSpace(b, after);
    let word = 0;
    while (i < b.length) {
      if (b.charCodeAt(i) === LBRACKET) {
        const [xrefs, end] = this.dbxrefList(b, i, "synonym");
        syn.xrefs = xrefs;
        i = this.skipSpace(b, end);
        if (i !== b.length) this.fail("unexpected text after the synonym's dbxref list", SYNONYM_HINT);
        break;
      }
      const start = i;
      while (i < b.length && !isSpace(b.charCodeAt(i))) i++;
      const w = b.slice(start, i);
      if (oldScope !== undefined || word > 1) this.fail(`unexpected \`${w}\` in a synonym`, SYNONYM_HINT);
      if (word === 0) {
        if (!SCOPES.has(w)) {
          this.fail(`unknown synonym scope \`${w}\``, "the scope is EXACT, BROAD, NARROW or RELATED");
        }
        syn.scope = w as Synonym["scope"];
      } else syn.type = this.unescape(w);
      word++;
      i = this.skipSpace(b, i);
    }
    return syn;
  }

  // ---- reporting -----------------------------------------------------------------------------------

  private warn(line: number, msg: string): void {
    this.warnings.push(`${this.source}:${line}: ${msg}`);
  }

  /** Throws the one-line error for a problem at `line` found outside the parser (bytes, lengths). */
  refuse(msg: string, hint: string, line: number): never {
    return this.fail(msg, hint, line);
  }

  private fail(msg: string, hint: string, line: number | undefined = this.lineNo): never {
    throw new UserError(msg, { file: this.source, line, hint });
  }
}

const SYNONYM_HINT = 'write it as `synonym: "text" EXACT [TYPE] [XREF:1]`';

/** Parses a whole OBO document held in memory (tests, small files). */
export function parseOboText(text: string, opts: ParseOptions = {}): OboDocument {
  const p = new OboParser(opts);
  p.checkStart(text);
  const nul = text.indexOf("\u0000");
  if (nul >= 0) {
    let line = 1;
    for (let i = text.indexOf("\n"); i >= 0 && i < nul; i = text.indexOf("\n", i + 1)) line++;
    p.refuse("holds a NUL character: binary data, not OBO text", "give plain OBO text", line);
  }
  const n = text.length;
  let start = 0;
  while (start < n) {
    let nl = text.indexOf("\n", start);
    if (nl < 0) nl = n;
    p.line(text.slice(start, nl));
    start = nl + 1;
  }
  return p.finish(n === 0 || text.charCodeAt(n - 1) === 10);
}

/** A line longer than this is refused (GO's longest is a few kB): no line is ever held whole beyond it. */
export const MAX_LINE_BYTES = 16 << 20;

/**
 * Streams the lines of `path` into `onLine` (without their newline; it returns false to stop). Every
 * byte is read once: a line cut across chunks is carried as buffers, never re-scanned. Invalid UTF-8,
 * a NUL byte or a line over MAX_LINE_BYTES anywhere is one `FILE:LINE` error. Returns whether the file
 * ended with a newline.
 */
async function readLines(
  path: string,
  p: OboParser,
  onLine: (line: string) => boolean | undefined,
  highWaterMark: number,
): Promise<boolean> {
  const stream = createReadStream(path, { highWaterMark });
  let carry: Buffer[] = [];
  let carryLen = 0;
  let lineNo = 0;
  let first = true;
  // One complete line's bytes, checked on their own (a line cut across chunks, or to find a bad one).
  const one = (bytes: Buffer): boolean => {
    lineNo++;
    checkBytes(bytes, lineNo);
    return onLine(bytes.toString("utf8")) !== false;
  };
  const checkBytes = (bytes: Buffer, line: number) => {
    if (bytes.indexOf(0) >= 0)
      p.refuse("holds a NUL byte: binary data, not OBO text", "give a plain-text UTF-8 .obo file", line);
    if (!isUtf8(bytes))
      p.refuse(
        "is not UTF-8 text (binary data or another encoding)",
        "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        line,
      );
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (first) {
        // latin1 maps bytes to characters one to one: enough to see binary data or JSON.
        p.checkStart(chunk.toString("latin1", 0, Math.min(chunk.length, SNIFF_CHARS)));
        first = false;
      }
      const firstNl = chunk.indexOf(10);
      if (firstNl < 0) {
        carry.push(chunk);
        carryLen += chunk.length;
        if (carryLen > MAX_LINE_BYTES) p.refuse(LONG_LINE, LONG_LINE_HINT, lineNo + 1);
        continue;
      }
      if (carryLen + firstNl > MAX_LINE_BYTES) p.refuse(LONG_LINE, LONG_LINE_HINT, lineNo + 1);
      if (
        !one(
          carry.length ? Buffer.concat([...carry, chunk.subarray(0, firstNl)]) : chunk.subarray(0, firstNl),
        )
      )
        return true;
      carry = [];
      carryLen = 0;
      const lastNl = chunk.lastIndexOf(10);
      if (lastNl > firstNl) {
        // The complete lines between: checked and decoded at once, line by line only to find a bad one.
        const block = chunk.subarray(firstNl + 1, lastNl);
        if (block.indexOf(0) >= 0 || !isUtf8(block)) {
          let at = 0;
          let k = lineNo;
          for (let nl = block.indexOf(10); ; nl = block.indexOf(10, at)) {
            checkBytes(block.subarray(at, nl < 0 ? block.length : nl), ++k);
            if (nl < 0) break;
            at = nl + 1;
          }
        }
        const text = block.toString("utf8");
        let start = 0;
        for (;;) {
          const nl = text.indexOf("\n", start);
          lineNo++;
          if (onLine(nl < 0 ? text.slice(start) : text.slice(start, nl)) === false) return true;
          if (nl < 0) break;
          start = nl + 1;
        }
      }
      if (lastNl + 1 < chunk.length) {
        carry.push(chunk.subarray(lastNl + 1));
        carryLen = chunk.length - lastNl - 1;
      }
    }
    if (carryLen > 0) one(Buffer.concat(carry));
    return carryLen === 0;
  } finally {
    stream.destroy();
  }
}

const LONG_LINE = `this line is longer than ${MAX_LINE_BYTES >> 20} MiB: not an OBO file`;
const LONG_LINE_HINT = "give a GO release or another OBO 1.2/1.4 file";

/** Parses an OBO file, streaming it line by line; errors name the file and line. */
export async function parseOboFile(path: string, opts: ParseOptions = {}): Promise<OboDocument> {
  await assertReadable(path, "OBO file");
  const p = new OboParser({ ...opts, source: opts.source ?? path });
  const endedWithNewline = await readLines(
    path,
    p,
    (line) => {
      p.line(line);
      return true;
    },
    1 << 20,
  );
  return p.finish(endedWithNewline);
}

/** Reads only the header frame of an OBO file (up to its first stanza): quick, for data-version and a sanity check. */
export async function readOboHeader(path: string, opts: ParseOptions = {}): Promise<OboHeader> {
  await assertReadable(path, "OBO file");
  const p = new OboParser({ ...opts, source: opts.source ?? path });
  let stanza = false;
  await readLines(
    path,
    p,
    (line) => {
      if (line.trimStart().startsWith("[")) {
        stanza = true;
        return false;
      }
      p.line(line);
      return true;
    },
    1 << 16,
  );
  return stanza ? p.headerSoFar() : p.finish(true).header;
}
