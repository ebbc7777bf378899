/** Starting `gotune serve` as a user would (the built command, a free port) and talking to it. */
import { type ChildProcess, spawn } from "node:child_process";
import { CLI } from "./cli.js";

/** A running server: its base URL, what it printed, and how to stop it. */
export interface Served {
  url: string;
  child: ChildProcess;
  stdout: string;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Starts `gotune serve ARGS --port 0` and resolves once it prints its address. */
export function startServe(args: string[]): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "serve", "--port", "0", ...args], {
      env: { ...process.env, GOTUNE_NO_PROGRESS: "1", GOTUNE_DEBUG: "" },
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`gotune serve did not start within 120 s: ${stderr}`));
    }, 120_000);
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = stdout.match(/at (http:\/\/\S+\/) /);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1]!.replace(/\/$/, ""),
        child,
        stdout,
        stderr: () => stderr,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`gotune serve exited (${code}) before listening: ${stderr}`));
    });
  });
}

/** A parsed JSON answer, checked field by field by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: answers are untyped JSON that the assertions inspect.
export type Json = any;

/** POSTs JSON and returns the status, headers and parsed body (text when not JSON). */
export async function postJson(
  url: string,
  body: unknown,
  raw = false,
): Promise<{ status: number; headers: Headers; body: Json }> {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, body: parsed };
}
