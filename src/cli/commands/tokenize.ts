/** `gotune tokenize`: show how a model's BERT tokenizer splits texts, as Python's transformers would. */
import type { Command } from "commander";
import { resolveModel } from "../../hf/hub.js";
import { BertTokenizer } from "../../hf/tokenizer.js";
import { runCommand, UserError } from "../../util/errors.js";
import { maxLengthOption } from "../options.js";

interface Options {
  model: string;
  json?: boolean;
  maxLength?: number;
  pair?: string;
  padding?: boolean;
}

/** Adds the tokenize command. */
export function register(program: Command): void {
  program
    .command("tokenize")
    .summary("Show how a model's BERT tokenizer splits texts")
    .description(
      "Tokenise texts with a model's BERT WordPiece tokenizer (tokenizer.json, or vocab.txt + " +
        "tokenizer_config.json), exactly as Hugging Face's BertTokenizerFast: tokens, input_ids, " +
        "token_type_ids and attention_mask, with [CLS] and [SEP]. --model is a folder or a hub model id " +
        "(ORG/NAME[@REVISION]) taken from the Hugging Face cache or downloaded into it.",
    )
    .argument("<text...>", "the texts, one encoding each")
    .requiredOption("--model <dir|id>", "model folder or Hugging Face model id")
    .option("--json", "one JSON object a line: tokens, input_ids, token_type_ids, attention_mask")
    .addOption(maxLengthOption("per encoding, longest_first for pairs", "no truncation"))
    .option("--pair <text>", "a second text paired with each text ([CLS] A [SEP] B [SEP])")
    .option("--padding", "pad every encoding to --max-length")
    .action((texts: string[], opts: Options) =>
      runCommand(async () => {
        const maxLength = opts.maxLength;
        if (opts.padding && maxLength === undefined)
          throw new UserError("--padding needs --max-length", { hint: "e.g. --max-length 128 --padding" });
        const tok = await BertTokenizer.fromFolder(await resolveModel(opts.model, "tokenizer"));
        const encodings = tok.encodeBatch(
          texts,
          opts.pair === undefined ? undefined : texts.map(() => opts.pair!),
          {
            maxLength,
            padding: opts.padding ? "max_length" : false,
          },
        );
        const lines = encodings.map((e, i) => {
          if (opts.json) return JSON.stringify(e);
          const width = (k: number) => Math.max(e.tokens[k]!.length, String(e.input_ids[k]).length, 1);
          const row = (vals: (string | number)[]) => vals.map((v, k) => String(v).padEnd(width(k))).join(" ");
          return [
            `text ${i + 1}: ${JSON.stringify(texts[i])}${opts.pair === undefined ? "" : ` + ${JSON.stringify(opts.pair)}`}`,
            `  tokens          ${row(e.tokens)}`,
            `  input_ids       ${row(e.input_ids)}`,
            `  token_type_ids  ${row(e.token_type_ids)}`,
            `  attention_mask  ${row(e.attention_mask)}`,
          ].join("\n");
        });
        process.stdout.write(`${lines.join(opts.json ? "\n" : "\n\n")}\n`);
      }),
    );
}
