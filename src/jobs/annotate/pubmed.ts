/**
 * PubMed/MEDLINE XML (a `PubmedArticleSet`, as in the baseline and update files) read as a stream with
 * saxes: each article's PMID, title, abstract sections, journal and year, one article at a time.
 */
import { SaxesParser, type SaxesTag } from "saxes";
import { UserError } from "../../util/errors.js";

/** One article: its text blocks are the title, then each abstract section (Label attribute or "abstract"). */
export interface PubmedArticle {
  pmid: string;
  title: string;
  sections: { label: string; text: string }[];
  journal?: string;
  year?: number;
  /** The 1-based line of its opening tag, for messages. */
  line: number;
}

/** Longest title or abstract section accepted (characters); PubMed's longest abstracts are ~10,000. */
export const MAX_FIELD = 1_000_000;

/** Characters given to saxes at a time, attributes a tag may have, and elements nested in one another. */
const SLICE = 1 << 16;
const MAX_ATTRIBUTES = 1000;
const MAX_DEPTH = 256;

const ARTICLE = new Set(["PubmedArticle", "PubmedBookArticle"]);
const ROOTS = new Set(["PubmedArticleSet", "PubmedBookArticleSet"]);

type Field = "pmid" | "title" | "section" | "journal" | "year" | "medlineDate";

/**
 * A push parser: `write` text chunks, then take the finished articles with `drain`; `close` at the end.
 * Only one chunk's articles are held at a time, so memory stays flat.
 */
export class PubmedStream {
  private readonly sax = new SaxesParser({ position: true });
  private readonly stack: string[] = [];
  private readonly done: PubmedArticle[] = [];
  private cur: (Omit<PubmedArticle, "pmid" | "title"> & { pmid?: string; title?: string }) | undefined;
  private field: { kind: Field; depth: number; text: string; label?: string } | undefined;
  private medlineDate: string | undefined;
  private sawRoot = false;

  constructor(readonly file: string) {
    this.sax.on("error", (e) => {
      throw new UserError(`is not well-formed XML (${e.message.replace(/^[^:]*:\d+:\d+: /, "")})`, {
        file,
        line: this.sax.line,
        hint: "give a PubMed XML file (PubmedArticleSet), gzipped or not",
      });
    });
    this.sax.on("opentag", (t) => this.open(t));
    this.sax.on("closetag", () => this.close());
    this.sax.on("text", (t) => this.text(t));
    this.sax.on("cdata", (t) => this.text(t));
  }

  /**
   * Parses the next chunk of the file's text, a slice at a time: saxes gathers a text node, comment,
   * CDATA section, attribute or name whole before any callback sees it, so what it holds is checked
   * after each slice (never more than MAX_FIELD plus one slice) rather than once it is complete.
   */
  write(chunk: string): void {
    for (let i = 0; i < chunk.length; i += SLICE) {
      this.sax.write(chunk.slice(i, i + SLICE));
      const held = this.sax as unknown as Partial<Record<"text" | "name" | "entity" | "piTarget", string>> & {
        attribList?: unknown[];
      };
      const chars =
        (held.text?.length ?? 0) +
        (held.name?.length ?? 0) +
        (held.entity?.length ?? 0) +
        (held.piTarget?.length ?? 0);
      if (chars > MAX_FIELD)
        this.fail(`a text, comment or attribute longer than ${MAX_FIELD.toLocaleString("en-US")} characters`);
      if ((held.attribList?.length ?? 0) > MAX_ATTRIBUTES)
        this.fail(`a tag with over ${MAX_ATTRIBUTES} attributes`);
    }
  }

  /** The articles finished since the last call. */
  drain(): PubmedArticle[] {
    return this.done.splice(0, this.done.length);
  }

  /** Ends the input; a truncated file is a UserError. */
  end(): void {
    this.sax.close();
    if (!this.sawRoot)
      throw new UserError("holds no XML element", {
        file: this.file,
        hint: "give a PubMed XML file (PubmedArticleSet), gzipped or not",
      });
  }

  private fail(msg: string): never {
    throw new UserError(msg, {
      file: this.file,
      line: this.sax.line,
      hint: "give a PubMed XML file (PubmedArticleSet), gzipped or not",
    });
  }

  private open(t: SaxesTag): void {
    const s = this.stack;
    const name = t.name;
    if (s.length === 0 && !ROOTS.has(name))
      this.fail(`is not PubMed XML (its root is <${name}>, not <PubmedArticleSet>)`);
    if (s.length >= MAX_DEPTH) this.fail(`elements nested over ${MAX_DEPTH} deep`);
    s.push(name);
    this.sawRoot = true;
    if (this.field) return; // markup inside a field (<i>, <sup>…) only adds its text
    if (ARTICLE.has(name) && s.length === 2) {
      this.cur = { sections: [], line: this.sax.line };
      this.medlineDate = undefined;
      return;
    }
    if (!this.cur) return;
    const parent = s[s.length - 2];
    const grand = s[s.length - 3];
    let kind: Field | undefined;
    if (name === "PMID" && (parent === "MedlineCitation" || parent === "BookDocument") && !this.cur.pmid)
      kind = "pmid";
    else if (name === "ArticleTitle" && (parent === "Article" || parent === "BookDocument")) kind = "title";
    else if (name === "BookTitle" && parent === "Book" && this.cur.title === undefined) kind = "title";
    else if (
      name === "AbstractText" &&
      parent === "Abstract" &&
      (grand === "Article" || grand === "BookDocument")
    )
      kind = "section";
    else if (name === "Title" && parent === "Journal") kind = "journal";
    else if (name === "Year" && parent === "PubDate") kind = "year";
    else if (name === "MedlineDate" && parent === "PubDate") kind = "medlineDate";
    if (kind) {
      const raw = t.attributes.Label;
      const label = typeof raw === "string" ? raw.trim().slice(0, 100) : undefined;
      this.field = { kind, depth: s.length, text: "", label };
    }
  }

  private text(t: string): void {
    const f = this.field;
    if (!f) return;
    if (f.text.length + t.length > MAX_FIELD)
      this.fail(`a ${f.kind} longer than ${MAX_FIELD.toLocaleString("en-US")} characters`);
    f.text += t;
  }

  private close(): void {
    const s = this.stack;
    const f = this.field;
    const c = this.cur;
    if (f && s.length === f.depth) {
      this.field = undefined;
      if (c) this.store(c, f);
    }
    const name = s.pop();
    if (c && name !== undefined && ARTICLE.has(name) && s.length === 1) {
      this.cur = undefined;
      if (!c.pmid) this.fail(`a <${name}> (from line ${c.line}) has no PMID`);
      if (c.year === undefined && this.medlineDate) {
        // "1998 Dec-1999 Jan", "Spring 2001": the first plausible year.
        const m = /\b(1[5-9]\d\d|2\d\d\d)\b/.exec(this.medlineDate);
        if (m) c.year = Number(m[1]);
      }
      this.done.push({ ...c, pmid: c.pmid, title: c.title ?? "" });
    }
  }

  private store(c: NonNullable<PubmedStream["cur"]>, f: NonNullable<PubmedStream["field"]>): void {
    const text = f.text.trim();
    switch (f.kind) {
      case "pmid":
        if (!/^\d{1,12}$/.test(text)) this.fail(`a PMID "${text.slice(0, 40)}" that is not a number`);
        c.pmid = text;
        break;
      case "title":
        c.title = text;
        break;
      case "section":
        if (text) c.sections.push({ label: f.label || "abstract", text });
        break;
      case "journal":
        if (c.journal === undefined && text) c.journal = text.slice(0, 500);
        break;
      case "year":
        if (/^\d{4}$/.test(text) && c.year === undefined) c.year = Number(text);
        break;
      case "medlineDate":
        this.medlineDate = text.slice(0, 100);
        break;
    }
  }
}
