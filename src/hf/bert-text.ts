/**
 * BERT's text normalisation and pre-tokenisation, character for character as the Rust `tokenizers`
 * crate behind BertTokenizerFast does it (BertNormalizer, BertPreTokenizer).
 *
 * Written by hand because @huggingface/tokenizers (0.2) differs on edge cases: it lowercases before
 * stripping accents, applies the Greek final-sigma rule of String.toLowerCase, misses CJK characters
 * outside the BMP and does not drop unassigned code points; the crate does none of these.
 */

/** BertNormalizer's switches as stored in tokenizer.json (`strip_accents: null` follows `lowercase`). */
export interface BertNormalizerOptions {
  cleanText: boolean;
  handleChineseChars: boolean;
  stripAccents: boolean | null;
  lowercase: boolean;
}

// The crate's "control" is Unicode's Other category (Cc, Cf, Cn, Co, Cs) except tab, CR and LF.
const CONTROL = /[\p{Cc}\p{Cf}\p{Cn}\p{Co}\p{Cs}]/u;
// Rust's char::is_whitespace is the White_Space property: JS \s minus U+FEFF plus U+0085.
const WHITESPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const NONSPACING_MARK = /\p{Mn}/gu;
// Text needing none of the per-character work: printable ASCII only.
const PLAIN_ASCII = /^[\x20-\x7e]*$/;

/** CJK ideographs as BERT defines them (the CJK Unified Ideographs blocks and extensions). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** BERT's punctuation: Unicode P* plus every ASCII symbol (so `$`, `+`, `^`, `|`... split too). */
export function isBertPunctuation(cp: number): boolean {
  if (cp < 128)
    return (
      (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)
    );
  return PUNCT.test(String.fromCodePoint(cp));
}
const PUNCT = /^\p{P}$/u;

function isWhitespace(ch: string): boolean {
  return WHITESPACE.test(ch);
}

// Per character, as the crate's NormalizedString::lowercase does: no final-sigma context rule.
function lowercasePerChar(text: string): string {
  if (!text.includes("\u03a3")) return text.toLowerCase();
  let out = "";
  for (const ch of text) out += ch.toLowerCase();
  return out;
}

/** Normalises `text` as BertNormalizer: clean, space out CJK, strip accents (NFD, drop Mn), lowercase. */
export function bertNormalize(text: string, o: BertNormalizerOptions): string {
  const strip = o.stripAccents ?? o.lowercase;
  if (PLAIN_ASCII.test(text)) return o.lowercase ? text.toLowerCase() : text;
  if (o.cleanText || o.handleChineseChars) {
    let out = "";
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (o.cleanText) {
        if (cp === 0 || cp === 0xfffd) continue;
        if (cp !== 9 && cp !== 10 && cp !== 13 && CONTROL.test(ch)) continue;
        if (isWhitespace(ch)) {
          out += " ";
          continue;
        }
      }
      out += o.handleChineseChars && isChineseChar(cp) ? ` ${ch} ` : ch;
    }
    text = out;
  }
  if (strip) text = text.normalize("NFD").replace(NONSPACING_MARK, "");
  if (o.lowercase) text = lowercasePerChar(text);
  return text;
}

/** Splits normalised text as BertPreTokenizer: on whitespace (dropped), then each punctuation mark alone. */
export function bertPreTokenize(text: string, out: string[] = []): string[] {
  let start = -1;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (cp < 128 ? cp === 32 || (cp >= 9 && cp <= 13) : isWhitespace(String.fromCodePoint(cp))) {
      if (start >= 0) out.push(text.slice(start, i));
      start = -1;
    } else if (isBertPunctuation(cp)) {
      if (start >= 0) out.push(text.slice(start, i));
      out.push(text.slice(i, i + width));
      start = -1;
    } else if (start < 0) start = i;
    i += width;
  }
  if (start >= 0) out.push(text.slice(start));
  return out;
}
