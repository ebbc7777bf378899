/** Option parsers shared by the commands that run a classifier (eval, predict). */
import { InvalidArgumentError } from "commander";

/** Commander parser for a whole number of at least 1. */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError("give a whole number of at least 1.");
  return n;
}
