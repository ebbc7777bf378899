/**
 * Loaded into a command under test (node --import): writes the process's peak resident set, in bytes,
 * to $GOTUNE_RSS_FILE as it exits, so a test can bound the memory a run took.
 */
import { writeFileSync } from "node:fs";

const out = process.env.GOTUNE_RSS_FILE;
if (out) process.on("exit", () => writeFileSync(out, String(process.resourceUsage().maxRSS * 1024)));
