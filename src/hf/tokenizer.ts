/**
 * BERT tokenisation exactly as Hugging Face's BertTokenizerFast: from a folder's `tokenizer.json`
 * (with `tokenizer_config.json` overrides, as transformers applies them) or from `vocab.txt` alone
 * (converted the way transformers turns a slow BertTokenizer into a fast one).
 * Pipeline: added tokens split out -> BertNormalizer -> BertPreTokenizer -> WordPiece ->
 * truncation -> template ([CLS] A [SEP] B [SEP]) -> padding.
 */
import { join } from "node:path";
import { shown, UserError } from "../util/errors.js";
import { exists, readBoundedFile, readJsonObject } from "../util/fsx.js";
import { type BertNormalizerOptions, bertNormalize, bertPreTokenize } from "./bert-text.js";
import { WordPiece } from "./wordpiece.js";

/** One encoded text (or pair), as transformers returns it with `return_tensors=None`. */
export interface Encoding {
  tokens: string[];
  input_ids: number[];
  token_type_ids: number[];
  attention_mask: number[];
}

/** Options of one encode call, named as transformers' `__call__` arguments. */
export interface EncodeOptions {
  /** Truncate to this many tokens, special tokens included (`truncation=True, max_length=N`). */
  maxLength?: number;
  /** `"max_length"` pads to maxLength; `"longest"` to the longest of a batch. */
  padding?: "max_length" | "longest" | false;
  /** Add [CLS]/[SEP] (default true). */
  addSpecialTokens?: boolean;
}

/** A token the text is split on before normalisation (special tokens such as [MASK]). */
export interface AddedToken {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON from disk, checked field by field where used
type Loose = any;

type TemplatePiece = { special: string; typeId: number } | { seq: "A" | "B"; typeId: number };

/** What a BERT tokenizer is made of; enough to rebuild its tokenizer.json. */
export interface BertTokenizerSpec {
  vocab: Map<string, number>;
  normalizer: BertNormalizerOptions | null;
  addedTokens: AddedToken[];
  unkToken: string;
  prefix: string;
  maxInputCharsPerWord: number;
  single: TemplatePiece[];
  pair: TemplatePiece[];
  specialIds: Map<string, number[]>;
  padToken: string;
  padTypeId: number;
  modelMaxLength?: number;
}

/** A Hugging Face tokenizer's files: read by `BertTokenizer.fromFolder`, written by tokenizer-files.ts. */
export const TOKENIZER_FILES = {
  config: "tokenizer_config.json",
  json: "tokenizer.json",
  vocab: "vocab.txt",
  specialTokens: "special_tokens_map.json",
} as const;

/**
 * Largest tokenizer files read: a multilingual BERT's tokenizer.json is 3 MB and its vocab.txt under
 * 1 MB (250,000 tokens of a real vocabulary fit many times over); the config files are a few hundred bytes.
 */
export const MAX_TOKENIZER_FILE = { json: 64 << 20, vocab: 32 << 20, config: 1 << 20 } as const;

/** Token ids are what an embedding row index may be: integers in 0..2^31-1 (the native kernels' int32). */
const isTokenId = (id: unknown): id is number =>
  Number.isInteger(id) && (id as number) >= 0 && (id as number) < 2 ** 31;

/** The special tokens of a BERT vocabulary, in the order transformers adds them. */
export const BERT_SPECIALS = { unk: "[UNK]", sep: "[SEP]", pad: "[PAD]", cls: "[CLS]", mask: "[MASK]" };

/** A BERT WordPiece tokenizer. */
export class BertTokenizer {
  readonly wordPiece: WordPiece;
  private readonly idToToken: string[];
  private readonly rawSplit: AddedSplitter;
  private readonly normSplit: AddedSplitter;
  readonly padId: number;

  constructor(readonly spec: BertTokenizerSpec) {
    this.wordPiece = new WordPiece(spec.vocab, spec.unkToken, spec.prefix, spec.maxInputCharsPerWord);
    this.idToToken = [];
    for (const [t, id] of spec.vocab) this.idToToken[id] = t;
    for (const a of spec.addedTokens) this.idToToken[a.id] = a.content;
    const norm = (s: string) => (spec.normalizer ? bertNormalize(s, spec.normalizer) : s);
    this.rawSplit = new AddedSplitter(spec.addedTokens.filter((a) => !a.normalized));
    this.normSplit = new AddedSplitter(
      spec.addedTokens.filter((a) => a.normalized).map((a) => ({ ...a, content: norm(a.content) })),
    );
    this.padId = this.tokenToId(spec.padToken) ?? 0;
  }

  /** The same tokenizer saved with another model_max_length (training's max_length, which inference reads). */
  withModelMaxLength(modelMaxLength: number): BertTokenizer {
    return new BertTokenizer({ ...this.spec, modelMaxLength });
  }

  /** The id of a token (vocabulary or added), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.spec.addedTokens.find((a) => a.content === token)?.id ?? this.spec.vocab.get(token);
  }

  /** The token of an id, or undefined. */
  idToTokenOf(id: number): string | undefined {
    return this.idToToken[id];
  }

  /** Size of the vocabulary including added tokens (what the embedding matrix must hold). */
  get vocabSize(): number {
    return this.idToToken.length;
  }

  /** The ids of a text's pieces, without special tokens or truncation. */
  encodeIds(text: string): number[] {
    const out: number[] = [];
    const words: string[] = [];
    for (const raw of this.rawSplit.split(text)) {
      if (typeof raw !== "string") {
        out.push(raw.id);
        continue;
      }
      const normalized = this.spec.normalizer ? bertNormalize(raw, this.spec.normalizer) : raw;
      for (const part of this.normSplit.split(normalized)) {
        if (typeof part !== "string") {
          out.push(part.id);
          continue;
        }
        words.length = 0;
        for (const w of bertPreTokenize(part, words))
          for (const id of this.wordPiece.encodeWord(w)) out.push(id);
      }
    }
    return out;
  }

  /** The tokens of a text (no special tokens), as `tokenizer.tokenize(text)`. */
  tokenize(text: string): string[] {
    return this.encodeIds(text).map((id) => this.idToToken[id]!);
  }

  /** Encodes a text or a pair as `tokenizer(text, pair, truncation=..., max_length=..., padding=...)`. */
  encode(text: string, pair?: string, opts: EncodeOptions = {}): Encoding {
    return this.encodeBatch([text], pair === undefined ? undefined : [pair], opts)[0]!;
  }

  /** Encodes a batch; `padding: "longest"` pads every row to the batch's longest. */
  encodeBatch(texts: string[], pairs?: string[], opts: EncodeOptions = {}): Encoding[] {
    if (pairs && pairs.length !== texts.length) throw new Error("texts and pairs differ in length");
    const special = opts.addSpecialTokens ?? true;
    const out = texts.map((t, i) => this.encodeOne(t, pairs?.[i], special, opts.maxLength));
    const target =
      opts.padding === "max_length"
        ? opts.maxLength
        : opts.padding === "longest"
          ? Math.max(0, ...out.map((e) => e.input_ids.length))
          : undefined;
    if (target !== undefined) for (const e of out) this.pad(e, target);
    return out;
  }

  private encodeOne(text: string, pair: string | undefined, special: boolean, maxLength?: number): Encoding {
    let a = this.encodeIds(text);
    let b = pair === undefined ? undefined : this.encodeIds(pair);
    const template = b === undefined ? this.spec.single : this.spec.pair;
    if (maxLength !== undefined) {
      const added = special ? this.addedCount(template) : 0;
      if (maxLength < added)
        throw new UserError(`--max-length ${maxLength} leaves no room for the ${added} special tokens`, {
          hint: `give at least ${added + 1}`,
        });
      [a, b] = truncateLongestFirst(a, b, maxLength - added);
    }
    const ids: number[] = [];
    const types: number[] = [];
    for (const piece of template) {
      if ("seq" in piece) {
        const seq = piece.seq === "A" ? a : b;
        for (const id of seq ?? []) {
          ids.push(id);
          types.push(piece.typeId);
        }
      } else if (special) {
        for (const id of this.spec.specialIds.get(piece.special) ?? []) {
          ids.push(id);
          types.push(piece.typeId);
        }
      }
    }
    return {
      tokens: ids.map((id) => this.idToToken[id] ?? this.spec.unkToken),
      input_ids: ids,
      token_type_ids: types,
      attention_mask: ids.map(() => 1),
    };
  }

  private addedCount(template: TemplatePiece[]): number {
    let n = 0;
    for (const p of template) if (!("seq" in p)) n += this.spec.specialIds.get(p.special)?.length ?? 0;
    return n;
  }

  private pad(e: Encoding, length: number): void {
    while (e.input_ids.length < length) {
      e.input_ids.push(this.padId);
      e.tokens.push(this.spec.padToken);
      e.token_type_ids.push(this.spec.padTypeId);
      e.attention_mask.push(0);
    }
  }

  /** Reads the tokenizer of a model folder: tokenizer.json, else vocab.txt (+ tokenizer_config.json). */
  static async fromFolder(dir: string): Promise<BertTokenizer> {
    const tj = join(dir, TOKENIZER_FILES.json);
    const tc = join(dir, TOKENIZER_FILES.config);
    const vt = join(dir, TOKENIZER_FILES.vocab);
    const [hasTj, hasTc, hasVt] = await Promise.all([tj, tc, vt].map(exists));
    if (!hasTj && !hasVt)
      throw new UserError("no tokenizer files (tokenizer.json or vocab.txt) in this folder", {
        file: dir,
        hint: "give a Hugging Face model folder or a folder written by `gotune train-vocab`",
      });
    // With no tokenizer_config.json, transformers still applies BertTokenizerFast's defaults (so does this).
    const config = hasTc ? await readJsonObject(tc, MAX_TOKENIZER_FILE.config) : {};
    if (hasTj)
      return BertTokenizer.fromTokenizerJson(await readJsonObject(tj, MAX_TOKENIZER_FILE.json), config, tj);
    const stm = join(dir, TOKENIZER_FILES.specialTokens);
    const specials = (await exists(stm)) ? await readJsonObject(stm, MAX_TOKENIZER_FILE.config) : undefined;
    const vocabText = (await readBoundedFile(vt, MAX_TOKENIZER_FILE.vocab, "vocab.txt")).toString("utf8");
    return BertTokenizer.fromVocab(vocabText, { ...specials, ...config }, vt);
  }

  /**
   * Builds the tokenizer from a parsed tokenizer.json. With `config` (tokenizer_config.json) its
   * switches override the normaliser as BertTokenizerFast does; without, tokenizer.json is taken as is.
   */
  static fromTokenizerJson(
    json: unknown,
    config?: Record<string, unknown>,
    file = "tokenizer.json",
  ): BertTokenizer {
    const bad = (what: string) =>
      new UserError(what, { file, hint: "give a BERT WordPiece tokenizer.json (as transformers writes)" });
    const j = json as Record<string, Loose>;
    if (!j || typeof j !== "object" || !j.model || typeof j.model !== "object")
      throw bad("no `model` object");
    const m = j.model;
    if (m.type !== undefined && m.type !== "WordPiece")
      throw bad(`the model is ${m.type}, not WordPiece; only BERT WordPiece tokenizers are supported`);
    if (!m.vocab || typeof m.vocab !== "object") throw bad("the WordPiece model has no vocab");
    const vocab = new Map<string, number>();
    const tokenOf = new Map<number, string>();
    for (const [t, id] of Object.entries(m.vocab)) {
      if (!isTokenId(id))
        throw bad(`the vocab id of ${shown(t)} is ${shown(id)}, not an integer in 0..2^31-1`);
      const other = tokenOf.get(id);
      if (other !== undefined) throw bad(`the tokens ${shown(other)} and ${shown(t)} have the same id ${id}`);
      tokenOf.set(id, t);
      vocab.set(t, id);
    }
    if (vocab.size === 0) throw bad("the vocabulary is empty");
    let normalizer = parseNormalizer(j.normalizer, bad);
    if (j.pre_tokenizer && j.pre_tokenizer.type !== "BertPreTokenizer")
      throw bad(`pre_tokenizer ${j.pre_tokenizer.type} is not supported (only BertPreTokenizer)`);
    if (config) {
      // transformers' BertTokenizerFast rebuilds the normaliser from tokenizer_config.json's switches
      // (do_lower_case and tokenize_chinese_chars default to true, strip_accents to null).
      normalizer = {
        cleanText: normalizer?.cleanText ?? true,
        handleChineseChars: asBool(config.tokenize_chinese_chars, true),
        stripAccents: config.strip_accents === undefined ? null : (config.strip_accents as boolean | null),
        lowercase: asBool(config.do_lower_case, true),
      };
    }
    const addedTokens: AddedToken[] = [];
    for (const a of Array.isArray(j.added_tokens) ? j.added_tokens : []) {
      if (typeof a?.content !== "string" || typeof a?.id !== "number")
        throw bad("an added token lacks id or content");
      if (!isTokenId(a.id))
        throw bad(`the added token ${shown(a.content)} has id ${shown(a.id)}, not an integer in 0..2^31-1`);
      addedTokens.push({ normalized: false, ...a });
    }
    const unkToken = typeof m.unk_token === "string" ? m.unk_token : BERT_SPECIALS.unk;
    if (!vocab.has(unkToken)) throw bad(`the unknown token ${unkToken} is not in the vocabulary`);
    const post = parsePostProcessor(
      j.post_processor,
      bad,
      (t) => addedTokens.find((a) => a.content === t)?.id ?? vocab.get(t),
    );
    const padToken = tokenString(config?.pad_token) ?? j.padding?.pad_token ?? BERT_SPECIALS.pad;
    return new BertTokenizer({
      vocab,
      normalizer,
      addedTokens,
      unkToken,
      prefix: typeof m.continuing_subword_prefix === "string" ? m.continuing_subword_prefix : "##",
      maxInputCharsPerWord: typeof m.max_input_chars_per_word === "number" ? m.max_input_chars_per_word : 100,
      ...post,
      padToken,
      padTypeId: 0,
      modelMaxLength: typeof config?.model_max_length === "number" ? config.model_max_length : undefined,
    });
  }

  /** Builds the tokenizer from vocab.txt's text and tokenizer_config.json, as transformers' BertConverter. */
  static fromVocab(
    vocabText: string,
    config: Record<string, unknown> = {},
    file = "vocab.txt",
  ): BertTokenizer {
    const lines = vocabText.split(/\r\n|\r|\n/);
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    if (lines.length === 0)
      throw new UserError("the vocabulary file is empty", {
        file,
        hint: "give a vocab.txt with one token a line",
      });
    return BertTokenizer.fromTokens(lines, config, file);
  }

  /** Builds the tokenizer from a token list (id = index) and tokenizer_config.json's settings. */
  static fromTokens(
    tokens: string[],
    config: Record<string, unknown> = {},
    file = "vocab.txt",
  ): BertTokenizer {
    const vocab = new Map<string, number>();
    for (const [i, t] of tokens.entries()) vocab.set(t, i);
    return BertTokenizer.fromTokenizerJson(
      bertTokenizerJson(vocab, specialsOf(config), normalizerOf(config)),
      config,
      file,
    );
  }

  /** This tokenizer as a tokenizer.json object (the format BertTokenizerFast reads and writes). */
  toJson(): Record<string, unknown> {
    return tokenizerJson(this.spec);
  }
}

/** The one writer of tokenizer.json's content: a tokenizer's parts as the format BertTokenizerFast reads. */
function tokenizerJson(s: BertTokenizerSpec): Record<string, unknown> {
  const pieceJson = (p: TemplatePiece) =>
    "seq" in p
      ? { Sequence: { id: p.seq, type_id: p.typeId } }
      : { SpecialToken: { id: p.special, type_id: p.typeId } };
  const specialTokens: Record<string, unknown> = {};
  for (const [k, ids] of s.specialIds) specialTokens[k] = { id: k, ids, tokens: [k] };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: s.addedTokens.map((a) => ({
      id: a.id,
      content: a.content,
      single_word: a.single_word ?? false,
      lstrip: a.lstrip ?? false,
      rstrip: a.rstrip ?? false,
      normalized: a.normalized ?? false,
      special: a.special ?? false,
    })),
    normalizer: s.normalizer && {
      type: "BertNormalizer",
      clean_text: s.normalizer.cleanText,
      handle_chinese_chars: s.normalizer.handleChineseChars,
      strip_accents: s.normalizer.stripAccents,
      lowercase: s.normalizer.lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: s.single.map(pieceJson),
      pair: s.pair.map(pieceJson),
      special_tokens: specialTokens,
    },
    decoder: { type: "WordPiece", prefix: s.prefix, cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: s.unkToken,
      continuing_subword_prefix: s.prefix,
      max_input_chars_per_word: s.maxInputCharsPerWord,
      vocab: Object.fromEntries(s.vocab),
    },
  };
}

/** The special-token names of a tokenizer_config.json / special_tokens_map.json, BERT's by default. */
export function specialsOf(config: Record<string, unknown>): typeof BERT_SPECIALS {
  return {
    unk: tokenString(config.unk_token) ?? BERT_SPECIALS.unk,
    sep: tokenString(config.sep_token) ?? BERT_SPECIALS.sep,
    pad: tokenString(config.pad_token) ?? BERT_SPECIALS.pad,
    cls: tokenString(config.cls_token) ?? BERT_SPECIALS.cls,
    mask: tokenString(config.mask_token) ?? BERT_SPECIALS.mask,
  };
}

function normalizerOf(config: Record<string, unknown>): BertNormalizerOptions {
  return {
    cleanText: true,
    handleChineseChars: asBool(config.tokenize_chinese_chars, true),
    stripAccents: config.strip_accents === undefined ? null : (config.strip_accents as boolean | null),
    lowercase: asBool(config.do_lower_case, true),
  };
}

/**
 * A BERT tokenizer.json for a vocabulary: BertNormalizer, BertPreTokenizer, WordPiece and the
 * [CLS] A [SEP] (B [SEP]) template. Special tokens missing from the vocabulary get the next ids,
 * as transformers does when it adds them.
 */
export function bertTokenizerJson(
  vocab: Map<string, number>,
  specials: typeof BERT_SPECIALS,
  normalizer: BertNormalizerOptions,
): Record<string, unknown> {
  // A loop, not Math.max(...ids): spreading a 250,000-token vocabulary into a call overflows the stack.
  let next = 0;
  for (const id of vocab.values()) if (id >= next) next = id + 1;
  const order = [specials.unk, specials.sep, specials.pad, specials.cls, specials.mask];
  const ids = new Map<string, number>();
  for (const t of order) if (!ids.has(t)) ids.set(t, vocab.get(t) ?? next++);
  const addedTokens = [...ids]
    .sort((x, y) => x[1] - y[1])
    .map(([content, id]) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
  const sp = (t: string, typeId: number): TemplatePiece => ({ special: t, typeId });
  const seq = (q: "A" | "B", typeId: number): TemplatePiece => ({ seq: q, typeId });
  return tokenizerJson({
    vocab,
    normalizer,
    addedTokens,
    unkToken: specials.unk,
    prefix: "##",
    maxInputCharsPerWord: 100,
    single: [sp(specials.cls, 0), seq("A", 0), sp(specials.sep, 0)],
    pair: [sp(specials.cls, 0), seq("A", 0), sp(specials.sep, 0), seq("B", 1), sp(specials.sep, 1)],
    specialIds: new Map([
      [specials.cls, [ids.get(specials.cls)!]],
      [specials.sep, [ids.get(specials.sep)!]],
    ]),
    padToken: specials.pad,
    padTypeId: 0,
  });
}

/**
 * Truncation with the crate's `longest_first` rule for a budget of `max` tokens: a lone sequence is
 * cut to `max`; of a pair, only the longer is cut when the shorter fits in half, else both get half
 * (the longer one the odd token).
 */
export function truncateLongestFirst(
  a: number[],
  b: number[] | undefined,
  max: number,
): [number[], number[] | undefined] {
  if (b === undefined) return [a.length > max ? a.slice(0, max) : a, undefined];
  if (a.length + b.length <= max) return [a, b];
  const swap = a.length > b.length;
  let n1 = Math.min(a.length, b.length);
  let n2 = n1 > max ? n1 : Math.max(n1, max - n1);
  if (n1 + n2 > max) {
    n1 = Math.floor(max / 2);
    n2 = n1 + (max % 2);
  }
  const [na, nb] = swap ? [n2, n1] : [n1, n2];
  return [a.slice(0, na), b.slice(0, nb)];
}

/** Splits text around added tokens, longest match at the leftmost position (as Aho-Corasick leftmost-longest). */
class AddedSplitter {
  private readonly byFirst = new Map<string, AddedToken[]>();

  constructor(tokens: AddedToken[]) {
    for (const t of tokens) {
      if (t.content === "") continue;
      const k = t.content[0]!;
      const list = this.byFirst.get(k) ?? [];
      list.push(t);
      list.sort((x, y) => y.content.length - x.content.length);
      this.byFirst.set(k, list);
    }
  }

  split(text: string): (string | AddedToken)[] {
    // Most texts hold no added token at all: a few indexOf calls avoid the per-character scan.
    let any = false;
    for (const k of this.byFirst.keys()) if (text.includes(k)) any = true;
    if (!any) return [text];
    const out: (string | AddedToken)[] = [];
    let start = 0;
    for (let i = 0; i < text.length; ) {
      const hit = this.byFirst
        .get(text[i]!)
        ?.find((t) => text.startsWith(t.content, i) && this.wordOk(t, text, i));
      if (!hit) {
        i++;
        continue;
      }
      let before = text.slice(start, i);
      let end = i + hit.content.length;
      if (hit.lstrip) before = before.trimEnd();
      if (hit.rstrip) while (end < text.length && /\s/.test(text[end]!)) end++;
      if (before) out.push(before);
      out.push(hit);
      start = i = end;
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
  }

  private wordOk(t: AddedToken, text: string, i: number): boolean {
    if (!t.single_word) return true;
    const w = /[\p{L}\p{N}_]/u;
    const end = i + t.content.length;
    return !(i > 0 && w.test(text[i - 1]!)) && !(end < text.length && w.test(text[end]!));
  }
}

function parseNormalizer(n: Loose, bad: (w: string) => UserError): BertNormalizerOptions | null {
  if (n === null || n === undefined) return null;
  if (n.type !== "BertNormalizer") throw bad(`normalizer ${n.type} is not supported (only BertNormalizer)`);
  return {
    cleanText: n.clean_text ?? true,
    handleChineseChars: n.handle_chinese_chars ?? true,
    stripAccents: n.strip_accents ?? null,
    lowercase: n.lowercase ?? true,
  };
}

function parsePostProcessor(
  p: Loose,
  bad: (w: string) => UserError,
  idOf: (t: string) => number | undefined,
): Pick<BertTokenizerSpec, "single" | "pair" | "specialIds"> {
  const specialIds = new Map<string, number[]>();
  if (p === null || p === undefined)
    return {
      single: [{ seq: "A", typeId: 0 }],
      pair: [
        { seq: "A", typeId: 0 },
        { seq: "B", typeId: 1 },
      ],
      specialIds,
    };
  if (p.type === "BertProcessing") {
    const [sepT, sepId] = p.sep ?? [];
    const [clsT, clsId] = p.cls ?? [];
    if (typeof sepT !== "string" || typeof clsT !== "string") throw bad("BertProcessing lacks cls or sep");
    for (const [t, id] of [
      [clsT, clsId ?? idOf(clsT)],
      [sepT, sepId ?? idOf(sepT)],
    ] as const) {
      if (!isTokenId(id)) throw bad(`BertProcessing's ${shown(t)} has no id in 0..2^31-1`);
      specialIds.set(t, [id]);
    }
    return {
      single: [
        { special: clsT, typeId: 0 },
        { seq: "A", typeId: 0 },
        { special: sepT, typeId: 0 },
      ],
      pair: [
        { special: clsT, typeId: 0 },
        { seq: "A", typeId: 0 },
        { special: sepT, typeId: 0 },
        { seq: "B", typeId: 1 },
        { special: sepT, typeId: 1 },
      ],
      specialIds,
    };
  }
  if (p.type !== "TemplateProcessing") throw bad(`post_processor ${p.type} is not supported`);
  const piece = (x: Loose): TemplatePiece => {
    if (x?.SpecialToken) return { special: String(x.SpecialToken.id), typeId: x.SpecialToken.type_id ?? 0 };
    if (x?.Sequence && (x.Sequence.id === "A" || x.Sequence.id === "B"))
      return { seq: x.Sequence.id, typeId: x.Sequence.type_id ?? 0 };
    throw bad("a template piece is neither SpecialToken nor Sequence A/B");
  };
  if (!Array.isArray(p.single) || !Array.isArray(p.pair))
    throw bad("TemplateProcessing lacks single or pair");
  const single = p.single.map(piece);
  const pair = p.pair.map(piece);
  for (const pc of [...single, ...pair]) {
    if ("seq" in pc || specialIds.has(pc.special)) continue;
    const declared = p.special_tokens?.[pc.special]?.ids;
    const ids = Array.isArray(declared) ? declared : [idOf(pc.special)];
    if (ids.some((x: unknown) => !isTokenId(x)))
      throw bad(`the template's token ${shown(pc.special)} has no id in 0..2^31-1`);
    specialIds.set(pc.special, ids);
  }
  return { single, pair, specialIds };
}

function tokenString(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string")
    return (v as { content: string }).content;
  return undefined;
}

function asBool(v: unknown, dflt: boolean): boolean {
  return typeof v === "boolean" ? v : dflt;
}
