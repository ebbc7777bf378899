/** `gotune attention`: the attention head view of one text as a self-contained HTML page. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { attentionOf } from "../../inference/attention-map.js";
import { Classifier } from "../../inference/classifier.js";
import { runCommand, UserError } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fsx.js";
import { attentionPage } from "../../web/attention-page.js";
import { positiveInt } from "../options.js";

interface Options {
  model: string;
  out: string;
  maxLength: number;
  json?: boolean;
}

/** Adds the attention command. */
export function register(program: Command): void {
  program
    .command("attention")
    .description(
      "Where a fine-tuned model looks when it reads TEXT: one self-contained HTML page in the manner of " +
        "bertviz's head view (the tokens on two sides joined by lines weighted by attention, a layer " +
        "selector, one colour per head, all heads or one, hover a token to see only its lines). The " +
        "attention probabilities come from the model's own forward pass.",
    )
    .argument("<text...>", "the text (several words are joined by spaces)")
    .requiredOption(
      "--model <dir|id>",
      "model folder (e.g. written by gotune train) or Hugging Face model id",
    )
    .option("--out <file.html>", "the page to write", "attention.html")
    .option("--max-length <n>", "tokens, [CLS] and [SEP] included (as in training)", positiveInt, 100)
    .option("--json", "print the tokens, probabilities and attention [layer][head][from][to] as JSON too")
    .action((words: string[], opts: Options) =>
      runCommand(async () => {
        const text = words.join(" ");
        if (text.trim() === "")
          throw new UserError("the text is empty", {
            hint: 'give a sentence: gotune attention --model DIR "…"',
          });
        if (!opts.out.endsWith(".html"))
          throw new UserError(`--out ${opts.out} does not end in .html`, {
            hint: "e.g. --out attention.html",
          });
        const clf = await Classifier.load(opts.model);
        // Four decimals are finer than the eye can see in the lines' opacity and keep the page small;
        // --json asks for the numbers themselves.
        const map = attentionOf(clf, text, { maxLength: opts.maxLength, digits: opts.json ? undefined : 4 });
        const out = resolve(opts.out);
        await writeFileAtomic(out, attentionPage(map, opts.model));
        if (opts.json) process.stdout.write(`${JSON.stringify(map)}\n`);
        else
          process.stdout.write(
            `${map.tokens.length} tokens, ${map.layers} layers × ${map.heads} heads; predicted ${map.label}\nwrote ${out}\n`,
          );
      }),
    );
}
