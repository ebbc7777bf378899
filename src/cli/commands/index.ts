/** The sub-commands: one module each under this folder, exporting `register(program)`, loaded on demand. */
import type { Command } from "commander";

/** Every sub-command's name, which is also its module's file name. */
export const COMMANDS = [
  "annotate",
  "annotate-merge",
  "articles",
  "attention",
  "baseline",
  "eval",
  "export",
  "fetch-go",
  "predict",
  "prepare",
  "pretrain",
  "run",
  "search",
  "serve",
  "ship",
  "tokenize",
  "train",
  "train-vocab",
] as const;

/**
 * Adds sub-commands to the program: only the one `args` names, when it names one, so a command loads its own
 * dependencies and not every other's (start-up is most of a short run, e.g. a Snakemake shard's); every
 * command for `gotune --help`, `gotune help X` and anything unknown (so commander can suggest a name).
 */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const first = args.find((a) => !a.startsWith("-"));
  const names = COMMANDS.find((c) => c === first) ? [first as string] : COMMANDS;
  const modules = await Promise.all(
    names.map((name) => import(`./${name}.js`) as Promise<{ register: (program: Command) => void }>),
  );
  for (const m of modules) m.register(program);
}
