/** The list of sub-commands; each module exports `register(program)`. */
import type { Command } from "commander";

/** Adds every sub-command to the program. */
export function registerAll(program: Command): void {
  void program;
}
