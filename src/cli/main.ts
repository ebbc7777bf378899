#!/usr/bin/env node
/** The `gotune` command: one sub-command a module under src/cli/commands. */
import { Command } from "commander";
import { reportError } from "../util/errors.js";
import { registerCommands } from "./commands/index.js";

const program = new Command();
program
  .name("gotune")
  .description("Turn the Gene Ontology into a text classifier: data, figures, baseline and BERT fine-tuning.")
  .version("0.1.0")
  .configureOutput({
    outputError: (str, write) => write(`gotune: ${str.replace(/^error: /, "").trimEnd()}\n`),
  });
await registerCommands(program, process.argv.slice(2));

program.parseAsync(process.argv).catch((err) => {
  process.exitCode = reportError(err);
});
