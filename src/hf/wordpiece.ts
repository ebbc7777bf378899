/** The WordPiece model: greedy longest-match-first splitting of one word into vocabulary pieces. */

/** A WordPiece vocabulary and its splitting rules, as tokenizer.json's `model` holds them. */
export class WordPiece {
  readonly vocab: Map<string, number>;
  readonly unkId: number;
  // Longest vocabulary entry in UTF-16 units: no longer candidate can match, so none is built.
  private readonly maxPieceLen: number;
  private readonly cache = new Map<string, number[]>();

  constructor(
    vocab: Map<string, number>,
    readonly unkToken: string,
    readonly prefix = "##",
    readonly maxInputCharsPerWord = 100,
  ) {
    this.vocab = vocab;
    const unk = vocab.get(unkToken);
    if (unk === undefined) throw new Error(`the unknown token ${unkToken} is not in the vocabulary`);
    this.unkId = unk;
    let max = 0;
    for (const k of vocab.keys()) if (k.length > max) max = k.length;
    this.maxPieceLen = max;
  }

  /** The ids of `word`'s pieces; the unknown token alone for a word too long or with no full split. */
  encodeWord(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const ids = this.split(word);
    if (this.cache.size > 500_000) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  private split(word: string): number[] {
    // The limit counts characters (code points), as the crate does, not UTF-16 units.
    if (word.length > this.maxInputCharsPerWord && [...word].length > this.maxInputCharsPerWord)
      return [this.unkId];
    const out: number[] = [];
    let start = 0;
    while (start < word.length) {
      const head = start > 0 ? this.prefix : "";
      let end = Math.min(word.length, start + this.maxPieceLen - head.length);
      let found = -1;
      while (end > start) {
        // Never cut a surrogate pair: a piece ends on a character boundary.
        const c = word.charCodeAt(end - 1);
        if (c >= 0xd800 && c <= 0xdbff && end < word.length) {
          end--;
          continue;
        }
        const id = this.vocab.get(head + word.slice(start, end));
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      if (found < 0) return [this.unkId];
      out.push(found);
      start = end;
    }
    return out;
  }
}
