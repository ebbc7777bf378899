/** Where gotune keeps what it downloads or builds for itself. */
import { homedir } from "node:os";
import { join } from "node:path";

/** The folder for cached downloads (GO releases and the like): $GOTUNE_HOME, else ~/.cache/gotune. */
export function gotuneHome(): string {
  return process.env.GOTUNE_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "gotune");
}
