/** `gotune search`: the GO terms a text names, as the linker ranks them; or the linker's dev-set accuracy. */

import { join } from "node:path";
import type { Command } from "commander";
import { buildLexicon, LEXICON_FILE, type LexiconSources, readLexicon } from "../../baseline/lexicon.js";
import { GoLinker, linkingScore, SEARCH_DEFAULTS } from "../../baseline/linker.js";
import { CRAFT_FILE, readCraft } from "../../data/craft.js";
import { fetchGo } from "../../data/fetch-go.js";
import { runCommand, UserError } from "../../util/errors.js";
import { wholeNumber } from "../options.js";

interface Options {
  top: number;
  json?: boolean;
  model?: string;
  obo?: string;
  aliases: boolean;
  evalDev?: boolean;
}

/** Adds the search command. */
export function register(program: Command): void {
  program
    .command("search")
    .summary("The GO terms a text names, ranked by the linker")
    .description(
      'The GO terms a short text names (a mention such as "nucleoli" or "DNA repair"), best first, with ' +
        "id, name, aspect, definition and score: character n-gram TF-IDF over every term's name and synonyms " +
        "(every scope) and the strings CRAFT's train articles link to it, and word TF-IDF over definitions. " +
        "With --eval-dev, links every gold mention of CRAFT's dev articles instead and prints the accuracy.",
    )
    .argument("[text...]", "the texts, one ranking each")
    .option("--top <n>", "how many terms a text", wholeNumber(1, 1000), SEARCH_DEFAULTS.top)
    .option("--json", "one JSON object a line: text and its candidates")
    .option(
      "--model <dir>",
      `a folder holding a ${LEXICON_FILE} (the lexicon a tagger folder will carry; no command writes one yet)`,
    )
    .option("--obo <path|url>", "without --model: the GO release (default: as gotune fetch-go finds it)")
    .option("--no-aliases", "without --model: leave out the CRAFT train articles' mention strings")
    .option("--eval-dev", "link the gold spans of CRAFT's dev articles and print the accuracy and top misses")
    .action((texts: string[], opts: Options) =>
      runCommand(async () => {
        if (!opts.evalDev && texts.length === 0)
          throw new UserError("no text to search for", { hint: 'give one, e.g. gotune search "DNA repair"' });
        if (opts.model !== undefined && (opts.obo !== undefined || !opts.aliases))
          throw new UserError("--model comes with its own release and aliases", {
            hint: "give --model, or --obo / --no-aliases, not both",
          });
        const lexicon =
          opts.model !== undefined
            ? await readLexicon(join(opts.model, LEXICON_FILE))
            : await buildLexicon(await sources(opts));
        const linker = new GoLinker(lexicon);
        if (opts.evalDev) {
          const dev = (await readCraft({ splits: ["dev"] })).flatMap((a) =>
            a.mentions.filter((m) => m.spans.length === 1),
          );
          const s = linkingScore(linker, dev);
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(s)}\n`);
            return;
          }
          const lines = [
            `linked ${s.correct} of ${s.mentions} dev mentions right: accuracy ${s.accuracy.toFixed(4)} ` +
              `(${s.not_in_release} gold ids are not in release ${lexicon.release ?? "(unnamed)"})`,
            "most common misses (count: text -> linked; gold):",
            ...s.misses.map(
              (m) => `  ${m.count}: ${JSON.stringify(m.text)} -> ${m.linked ?? "(nothing)"}; ${m.gold}`,
            ),
          ];
          process.stdout.write(`${lines.join("\n")}\n`);
          return;
        }
        const out = texts.map((text) => {
          const found = linker.search(text, opts.top);
          if (opts.json) return JSON.stringify({ text, candidates: found });
          if (found.length === 0)
            return `${JSON.stringify(text)}: no GO term shares a character n-gram with it`;
          return [
            `${JSON.stringify(text)}:`,
            ...found.map(
              (c, i) =>
                `  ${i + 1}. ${c.go_id} ${c.name} (${c.aspect}) ${c.score.toFixed(3)}, by ${c.via.replace("_", " ")}` +
                `${c.via === "definition" || c.matched === c.name.toLowerCase() ? "" : ` ${JSON.stringify(c.matched)}`}\n` +
                `     ${c.definition}`,
            ),
          ].join("\n");
        });
        process.stdout.write(`${out.join(opts.json ? "\n" : "\n\n")}\n`);
      }),
    );
}

/** The release and aliases of a search without a tagger folder. */
async function sources(opts: Options): Promise<LexiconSources> {
  const r = await fetchGo({ obo: opts.obo });
  for (const note of r.notes) process.stderr.write(`gotune: ${note}\n`);
  return { obo: r.path, craft: opts.aliases ? CRAFT_FILE : undefined };
}
