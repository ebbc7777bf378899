/**
 * User-facing errors: one clear line (what was wrong, where, what to do) and a non-zero exit,
 * never a stack trace. Anything that is not a UserError is a bug and is reported as such.
 */

/** Where a problem was found: a file and, when known, a 1-based line. */
export interface Where {
  file?: string;
  line?: number;
}

/** An error caused by the user's input or environment; printed as a single line. */
export class UserError extends Error {
  readonly where: Where;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, opts: Where & { hint?: string; exitCode?: number } = {}) {
    super(message);
    this.name = "UserError";
    this.where = { file: opts.file, line: opts.line };
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
  }

  /** The one line shown to the user: `FILE:LINE: what was wrong; what to do`. */
  toLine(): string {
    const at = this.where.file ? `${this.where.file}${this.where.line ? `:${this.where.line}` : ""}: ` : "";
    const line = `gotune: ${at}${this.message}${this.hint ? `; ${this.hint}` : ""}`;
    // Messages may quote what a hostile file holds: control characters never break the one line.
    return line.replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  }
}

/**
 * Shows an untrusted value (a string, or anything JSON.parse gave) inside a one-line message: quoted,
 * cut short, and only a few levels of it, since a hostile file's value may nest past any call stack.
 */
export function shown(value: unknown): string {
  const s = brief(value, 2);
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}

function brief(v: unknown, depth: number): string {
  if (typeof v === "string") return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (Array.isArray(v)) {
    if (!depth) return v.length ? "[…]" : "[]";
    return `[${v
      .slice(0, 4)
      .map((x) => brief(x, depth - 1))
      .join(", ")}${v.length > 4 ? ", …" : ""}]`;
  }
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (!depth) return keys.length ? "{…}" : "{}";
    const items = keys
      .slice(0, 4)
      .map((k) => `${brief(k, 0)}: ${brief((v as Record<string, unknown>)[k], depth - 1)}`);
    return `{${items.join(", ")}${keys.length > 4 ? ", …" : ""}}`;
  }
  return String(v);
}

/** Runs a command body, turning errors into one line on stderr and a non-zero exit code. */
export async function runCommand(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (err) {
    process.exitCode = reportError(err);
  }
}

/** Prints an error as one line (a stack only with GOTUNE_DEBUG=1) and returns the exit code to use. */
export function reportError(err: unknown): number {
  if (err instanceof UserError) {
    process.stderr.write(`${err.toLine()}\n`);
    if (process.env.GOTUNE_DEBUG) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === "object" && e.code && e.path) {
    // Errors from the file system are the user's to fix (a missing file, a folder without rights).
    const what =
      e.code === "ENOENT" ? "no such file or folder" : e.code === "EACCES" ? "permission denied" : e.code;
    process.stderr.write(`gotune: ${e.path}: ${what}; check the path and try again\n`);
    return 1;
  }
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(
    `gotune: internal error: ${msg} (this is a bug; rerun with GOTUNE_DEBUG=1 for details)\n`,
  );
  if (process.env.GOTUNE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return 2;
}
