/**
 * Sentence splitting for scientific English (papers' text, often hard-wrapped from PDFs). Written by hand:
 * sbd, sentence-splitter, sentencex, compromise and @stdlib/nlp-sentencize each missed 5 to 11 of the 15
 * sentences of test/fixtures/app/tricky.txt (abbreviations such as "sp." or "approx.", initials, a
 * citation or bracket after the period); see test/inference/sentences.test.ts.
 *
 * Paragraphs are separated by blank lines; a single newline is a space (a line ending in "-" joins the
 * next without one). Inside a paragraph a sentence ends at ".", "!", "?" or "…" followed by closing
 * quotes, brackets or a numbered citation ("[4]"), then whitespace, when the word before and the word
 * after say so.
 */

/** One sentence and the (0-based) paragraph it belongs to. */
export interface Sentence {
  text: string;
  paragraph: number;
}

// Abbreviations after which a sentence never ends ("e.g. PKA", "Fig. 2", "Dr. Smith").
const NEVER_END = new Set(
  (
    "dr prof mr mrs ms mx st e.g i.e cf vs v viz approx ca c fig figs eq eqs ref refs no nos vol vols " +
    "p pp sect sec ch chap suppl tab tabl resp incl nr ext dept univ inst e.v ed eds " +
    "jan feb mar apr jun jul aug sep sept oct nov dec"
  ).split(" "),
);

// Abbreviations that may also end a sentence: they do when a capitalised word follows ("… sp. The").
const MAY_END = new Set(
  (
    "al etc sp spp ssp subsp var cv min h hr hrs mo yr yrs wk wks inc ltd co corp jr sr aa nt bp kb kda " +
    "ng mg ml µl μl mm cm nm"
  ).split(" "),
);

// Words that begin sentences far more often than they follow an initial ("vitamin A. The …").
const STARTERS = new Set(
  (
    "The This These That Those There Then Thus Therefore However Here Hence In It Its We Our Both Each All " +
    "Although As At By For From If On One To When Where While With A An Most Many Some Such Finally Moreover " +
    "Furthermore Notably Interestingly Importantly Together Taken Similarly Nonetheless Nevertheless"
  ).split(" "),
);

const OPENERS = /^["'“‘«([{]+/;
const CLOSERS = /[)\]}"'”’»]+$/;
// A token ending a sentence: body, terminator run, then closers and numbered citations ("yes.[4]").
const END = /^(.*?)([.!?…]+)((?:[)\]}"'”’»]|\[[\d,\s–-]+\])*)$/s;
const CITATION = /^\[[\d,–-]+\]?[.,;]?$|^[\d,–-]+\][.,;]?$/;
const GENE_LIKE = /^[a-z]{1,4}(?:[A-Z0-9]|-[A-Z0-9])/;

/** Splits a document's text into paragraphs (blank lines) with their whitespace normalised. */
export function paragraphsOf(text: string): string[] {
  return text
    .replace(/\r\n?/g, "\n")
    .split(/\n[ \t\f\v\u00a0]*\n/)
    .map((p) =>
      p
        .replace(/(\S)-\n[ \t]*(?=\S)/g, "$1-") // a word broken at a hyphen across lines
        .replace(/\s+/g, " ")
        .trim(),
    )
    .filter((p) => p !== "");
}

/** A sentence with its place in the raw text: [start, end) in Unicode code points, as Python indexes str. */
export interface SpannedSentence extends Sentence {
  start: number;
  end: number;
}

/**
 * The sentences of `raw` with their character spans in it. Splitting only joins, collapses or drops
 * whitespace, so each sentence's other characters appear in `raw` in order: matching them gives the span.
 */
export function splitWithSpans(raw: string): SpannedSentence[] {
  const out: SpannedSentence[] = [];
  let p = 0; // UTF-16 position in raw
  let cp = 0; // the same position in code points
  const step = () => {
    const c = raw.charCodeAt(p);
    p += c >= 0xd800 && c <= 0xdbff && p + 1 < raw.length ? 2 : 1;
    cp++;
  };
  for (const s of splitSentences(raw)) {
    let start = -1;
    let end = 0;
    for (let i = 0; i < s.text.length; i++) {
      const ch = s.text.charCodeAt(i);
      if (ch === 32) continue;
      while (p < raw.length && isSpace(raw.charCodeAt(p))) step();
      if (raw.charCodeAt(p) !== ch) throw new Error(`sentence text not found in its source at ${p}`);
      if (start < 0) start = cp;
      // A surrogate pair is one code point: match its second half without counting again.
      if (ch >= 0xd800 && ch <= 0xdbff && i + 1 < s.text.length) {
        if (raw.charCodeAt(p + 1) !== s.text.charCodeAt(i + 1))
          throw new Error(`sentence text not found in its source at ${p}`);
        i++;
      }
      step();
      end = cp;
    }
    out.push({ ...s, start: Math.max(start, 0), end });
  }
  return out;
}

/** The characters JavaScript's `\s` matches (the splitter's notion of whitespace). */
function isSpace(c: number): boolean {
  return (
    (c >= 9 && c <= 13) ||
    c === 32 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** The sentences of a document, in order; an empty or blank text gives none. */
export function splitSentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  paragraphsOf(text).forEach((p, paragraph) => {
    for (const s of splitParagraph(p)) out.push({ text: s, paragraph });
  });
  return out;
}

/**
 * Longest sentence, in UTF-16 characters: a longer run without a sentence end (a table pasted as text,
 * a "word" of a megabyte) is cut into sentences of at most this many, at a space where there is one.
 * No real sentence comes near it (the classifier reads its first 128 tokens, a few hundred characters).
 */
export const MAX_SENTENCE_CHARS = 10_000;

/** The paragraph's words; a word longer than MAX_SENTENCE_CHARS is cut into pieces of that length. */
function wordsOf(paragraph: string): string[] {
  const out: string[] = [];
  for (const w of paragraph.split(" ")) {
    if (w.length <= MAX_SENTENCE_CHARS) {
      if (w) out.push(w);
      continue;
    }
    for (let i = 0; i < w.length; ) {
      let j = Math.min(i + MAX_SENTENCE_CHARS, w.length);
      const c = w.charCodeAt(j - 1);
      if (j < w.length && c >= 0xd800 && c <= 0xdbff) j--; // never between a surrogate pair's halves
      out.push(w.slice(i, j));
      i = j;
    }
  }
  return out;
}

/** The sentences of one paragraph (whitespace already normalised to single spaces). */
export function splitParagraph(paragraph: string): string[] {
  const tokens = wordsOf(paragraph);
  const sentences: string[] = [];
  let current: string[] = [];
  let length = -1; // of current joined by spaces
  for (let i = 0; i < tokens.length; i++) {
    current.push(tokens[i]!);
    length += tokens[i]!.length + 1;
    // A citation written after a space ("yes. [4]") belongs to the sentence it closes.
    while (i + 1 < tokens.length && endsHere(tokens[i]!) && CITATION.test(tokens[i + 1]!)) {
      current.push(tokens[++i]!);
      length += tokens[i]!.length + 1;
      if (tokens[i]!.endsWith("]")) break;
    }
    const end =
      i + 1 >= tokens.length ||
      length + 1 + tokens[i + 1]!.length > MAX_SENTENCE_CHARS ||
      isBoundary(current, tokens[i + 1]!);
    if (end) {
      sentences.push(current.join(" "));
      current = [];
      length = -1;
    }
  }
  return mergeLetterless(sentences);
}

function endsHere(token: string): boolean {
  return /[.!?…]["'”’)\]]*$/.test(token);
}

/** True when the sentence being built (its tokens) ends before `next`. */
function isBoundary(current: string[], next: string): boolean {
  // The terminator may sit in the last token or, after an absorbed citation, in an earlier one.
  let k = current.length - 1;
  while (k > 0 && CITATION.test(current[k]!) && !END.test(current[k]!)) k--;
  const m = END.exec(current[k]!);
  if (!m) return false;
  const [, rawBody, term] = m;
  const body = rawBody!.replace(OPENERS, "").replace(CLOSERS, "");
  const nextWord = next.replace(OPENERS, "");
  const opened = nextWord.length !== next.length;
  const first = nextWord[0] ?? "";
  const upper = /\p{Lu}/u.test(first);
  const lower = /\p{Ll}/u.test(first);
  const geneLike = GENE_LIKE.test(nextWord);
  if (term !== ".") return !lower || geneLike; // "?", "!", "…", "?!"
  const lc = body.toLowerCase();
  if (NEVER_END.has(lc)) return false;
  if (MAY_END.has(lc) || /^(?:\p{L}\.)+\p{L}$/u.test(body))
    return upper && !opened && !/^\p{Lu}\.$/u.test(nextWord);
  if (/^\p{Lu}$/u.test(body)) {
    // An initial ("J. Smith", "A. B. Jones") unless a typical sentence start follows.
    if (/^\p{Lu}\.$/u.test(next)) return false;
    return STARTERS.has(nextWord.replace(/[^\p{L}]+$/u, ""));
  }
  if (body === "") return !lower; // "…" or a lone period
  return !lower || geneLike;
}

/**
 * A "sentence" without a letter (a list number "1.", a stray bracket) joins the next, or the last one,
 * as long as the two stay within MAX_SENTENCE_CHARS.
 */
function mergeLetterless(sentences: string[]): string[] {
  const out: string[] = [];
  let carry = "";
  for (const s of sentences) {
    if (carry && carry.length + 1 + s.length > MAX_SENTENCE_CHARS) {
      out.push(carry);
      carry = "";
    }
    const t = carry ? `${carry} ${s}` : s;
    if (/\p{L}/u.test(t)) {
      out.push(t);
      carry = "";
    } else carry = t;
  }
  if (carry) {
    const last = out[out.length - 1];
    if (last !== undefined && last.length + 1 + carry.length <= MAX_SENTENCE_CHARS)
      out[out.length - 1] = `${last} ${carry}`;
    else out.push(carry);
  }
  return out;
}
