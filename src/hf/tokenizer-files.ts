/**
 * A tokenizer's files in a model folder, as transformers' BertTokenizerFast.save_pretrained writes them,
 * so that AutoTokenizer.from_pretrained (fast or slow) and gotune both read the folder.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../util/fsx.js";
import { BERT_SPECIALS, type BertTokenizer, TOKENIZER_FILES } from "./tokenizer.js";

/** The special tokens of a tokenizer under transformers' names (cls_token, sep_token...). */
export function specialTokensMap(tok: BertTokenizer): Record<string, string> {
  const s = tok.spec;
  const template = s.single.filter((p) => "special" in p).map((p) => (p as { special: string }).special);
  const has = (t: string) => tok.tokenToId(t) !== undefined;
  return {
    cls_token: template[0] ?? BERT_SPECIALS.cls,
    mask_token: has(BERT_SPECIALS.mask) ? BERT_SPECIALS.mask : s.unkToken,
    pad_token: s.padToken,
    sep_token: template[template.length - 1] ?? BERT_SPECIALS.sep,
    unk_token: s.unkToken,
  };
}

/** tokenizer_config.json's content: the BertTokenizer switches, special tokens and added_tokens_decoder. */
export function tokenizerConfigJson(tok: BertTokenizer): Record<string, unknown> {
  const s = tok.spec;
  const specials = specialTokensMap(tok);
  const decoder: Record<string, unknown> = {};
  const special = new Set(Object.values(specials));
  const ids = new Map<number, string>();
  for (const a of s.addedTokens) ids.set(a.id, a.content);
  for (const t of special) {
    const id = tok.tokenToId(t);
    if (id !== undefined) ids.set(id, t);
  }
  for (const id of [...ids.keys()].sort((a, b) => a - b)) {
    const added = s.addedTokens.find((a) => a.id === id);
    decoder[String(id)] = {
      content: ids.get(id),
      lstrip: added?.lstrip ?? false,
      normalized: added?.normalized ?? false,
      rstrip: added?.rstrip ?? false,
      single_word: added?.single_word ?? false,
      special: added?.special ?? true,
    };
  }
  const n = s.normalizer;
  return {
    added_tokens_decoder: decoder,
    clean_up_tokenization_spaces: true,
    ...specials,
    do_basic_tokenize: true,
    do_lower_case: n?.lowercase ?? false,
    model_max_length: s.modelMaxLength ?? 512,
    never_split: null,
    strip_accents: n ? n.stripAccents : null,
    tokenize_chinese_chars: n?.handleChineseChars ?? true,
    tokenizer_class: "BertTokenizer",
  };
}

/** vocab.txt's text: one token a line, line i holding id i (added tokens past the vocabulary appended). */
export function vocabText(tok: BertTokenizer): string {
  const lines: string[] = [];
  for (let id = 0; id < tok.vocabSize; id++) lines.push(tok.idToTokenOf(id) ?? `[unused${id}]`);
  return `${lines.join("\n")}\n`;
}

/** Writes tokenizer.json, vocab.txt, tokenizer_config.json and special_tokens_map.json into `dir`. */
export async function writeTokenizerFiles(dir: string, tok: BertTokenizer): Promise<void> {
  const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;
  await writeFileAtomic(join(dir, TOKENIZER_FILES.json), json(tok.toJson()));
  await writeFileAtomic(join(dir, TOKENIZER_FILES.vocab), vocabText(tok));
  await writeFileAtomic(join(dir, TOKENIZER_FILES.config), json(tokenizerConfigJson(tok)));
  await writeFileAtomic(join(dir, TOKENIZER_FILES.specialTokens), json(specialTokensMap(tok)));
}
