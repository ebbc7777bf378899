/**
 * The browser files (plain JS and CSS, no build step) of the attention view and the serve page. They stay
 * in the source tree, beside this module's source, and are read once.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

// dist/src/web/assets.js → src/web/public (tsc does not copy non-TypeScript files).
const PUBLIC = join(import.meta.dirname, "..", "..", "..", "src", "web", "public");

/** The browser files by name. */
export const ASSET_NAMES = ["head-view.js", "head-view.css", "app.js", "app.css", "index.html"] as const;
export type AssetName = (typeof ASSET_NAMES)[number];

const cache = new Map<AssetName, string>();

/** The text of a browser file. */
export function asset(name: AssetName): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(PUBLIC, name), "utf8");
    cache.set(name, text);
  }
  return text;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** JSON that is safe inside a <script> element (no "</script>", no HTML comment openers). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}
