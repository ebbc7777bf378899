/** `gotune attention`: the attention head view of one text as a self-contained HTML page. */
import type { Command } from "commander";
import { ATTENTION_OUTPUTS, attentionJob } from "../../jobs/attention.js";
import { runCommand } from "../../util/errors.js";
import { maxLengthOption } from "../options.js";

interface Options {
  model: string;
  out: string;
  maxLength?: number;
  json?: boolean;
}

/** Adds the attention command. */
export function register(program: Command): void {
  program
    .command("attention")
    .summary("Show where a model looks when it reads a text (HTML page)")
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
    .option("--out <file.html>", "the page to write", ATTENTION_OUTPUTS.page)
    .addOption(maxLengthOption("per text"))
    .option("--json", "print the tokens, probabilities and attention [layer][head][from][to] as JSON too")
    .action((words: string[], opts: Options) =>
      runCommand(async () => {
        const { map, out } = await attentionJob({
          model: opts.model,
          text: words.join(" "),
          out: opts.out,
          maxLength: opts.maxLength,
          fullPrecision: opts.json,
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(map)}\n`);
        else
          process.stdout.write(
            `${map.tokens.length} tokens, ${map.layers} layers × ${map.heads} heads; predicted ${map.label}\nwrote ${out}\n`,
          );
      }),
    );
}
