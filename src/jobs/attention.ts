/** The attention job: one text's attention head view, written as a self-contained HTML page. */
import { resolve } from "node:path";
import { type AttentionMap, attentionOf } from "../inference/attention-map.js";
import { Classifier } from "../inference/classifier.js";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fsx.js";
import { attentionPage } from "../web/attention-page.js";

/** The page `gotune attention` writes unless told otherwise. */
export const ATTENTION_OUTPUTS = { page: "attention.html" } as const;

/** What to read, with which model, and where the page goes. */
export interface AttentionJobOptions {
  model: string;
  text: string;
  /** The page (default: attention.html in the working folder); must end in .html. */
  out?: string;
  maxLength?: number;
  /** Keep every float32 digit (for a caller that prints the numbers); the page alone rounds to four. */
  fullPrecision?: boolean;
}

/** Checks the text and the page's name, runs the model once and writes the page; returns the map and path. */
export async function attentionJob(o: AttentionJobOptions): Promise<{ map: AttentionMap; out: string }> {
  if (o.text.trim() === "")
    throw new UserError("the text is empty", { hint: 'give a sentence: gotune attention --model DIR "…"' });
  const page = o.out ?? ATTENTION_OUTPUTS.page;
  if (!page.endsWith(".html"))
    throw new UserError(`--out ${page} does not end in .html`, {
      hint: `e.g. --out ${ATTENTION_OUTPUTS.page}`,
    });
  const clf = await Classifier.load(o.model);
  // Four decimals are finer than the eye can see in the lines' opacity and keep the page small.
  const map = attentionOf(clf, o.text, {
    maxLength: o.maxLength,
    digits: o.fullPrecision ? undefined : 4,
  });
  const out = resolve(page);
  await writeFileAtomic(out, attentionPage(map, o.model));
  return { map, out };
}
