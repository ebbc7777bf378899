#!/usr/bin/env node
/** The `gotune` command: one sub-command a module under src/cli/commands. */
import { Command } from "commander";
import { reportError } from "../util/errors.js";
import { COMMANDS, registerCommands } from "./commands/index.js";
import { checkHelpTopic, HELP } from "./help.js";

const program = new Command();
program
  .name("gotune")
  .description("Turn the Gene Ontology into a text classifier: data, figures, baseline and BERT fine-tuning.")
  .version("0.1.0")
  .configureHelp(HELP)
  .configureOutput({
    outputError: (str, write) => write(`gotune: ${str.replace(/^error: /, "").trimEnd()}\n`),
  });
try {
  checkHelpTopic(process.argv.slice(2), COMMANDS);
  await registerCommands(program, process.argv.slice(2));
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
}
