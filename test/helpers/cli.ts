/** Running the built `gotune` command from tests, as a user would, and checking its one-line errors. */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { bf16Available, type Dtype, int8Available } from "../../src/native/index.js";

/** The repository root (tests run from dist/test/...). */
export const ROOT = join(import.meta.dirname, "..", "..", "..");
/** The compiled command. */
export const CLI = join(ROOT, "dist", "src", "cli", "main.js");

/** What one run of the command did; `lines` are stderr's non-empty lines. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  lines: string[];
}

const baseEnv = (env: Record<string, string>) => ({
  ...process.env,
  GOTUNE_NO_PROGRESS: "1",
  GOTUNE_DEBUG: "",
  ...env,
});
const done = (code: number | null, stdout: string, stderr: string): CliRun => ({
  code: code ?? 1,
  stdout,
  stderr,
  lines: stderr.split("\n").filter(Boolean),
});

/** Runs `gotune ARGS` and waits for it (blocks this process: not for tests that serve HTTP themselves). */
export function gotune(args: string[], env: Record<string, string> = {}): CliRun {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: baseEnv(env) });
  return done(r.status, r.stdout, r.stderr);
}

/** Runs `gotune ARGS` without blocking, so a server in the test process keeps answering the child. */
export function gotuneAsync(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: baseEnv(env), cwd });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => resolve(done(code, stdout, stderr)));
  });
}

/**
 * Starts `gotune ARGS` and sends it `signal` once the run log at `log` has `atStep` training lines (the
 * trainer's `{"type":"train"` records), as a user stopping a long run would.
 */
export function runAndSignal(args: string[], log: string, atStep: number, signal: NodeJS.Signals) {
  return new Promise<{ code: number | null; sig: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: baseEnv({}) });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    let sent = false;
    const poll = setInterval(async () => {
      const text = await readFile(log, "utf8").catch(() => "");
      const steps = text.split("\n").filter((l) => l.startsWith('{"type":"train"')).length;
      if (!sent && steps >= atStep) {
        sent = true;
        child.kill(signal);
      }
    }, 5);
    child.on("close", (code, sig) => {
      clearInterval(poll);
      resolve({ code, sig, stderr });
    });
  });
}

/** A failed run as users must see it: non-zero exit, one `gotune:` line on stderr matching `re`, no stack. */
export function assertOneLineError(r: CliRun, re: RegExp): void {
  assert.notEqual(r.code, 0, `expected a failure, got exit 0: ${r.stdout}`);
  assert.equal(r.lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(r.lines[0]!, /^gotune: /);
  assert.match(r.lines[0]!, re);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

/**
 * Whether a run of `dtype` uses it, rather than falling back to fp32, on this CPU with oneDNN held to `isa`
 * (a `DNNL_MAX_CPU_ISA` value; none: as this process's oneDNN reports the CPU). int8 needs AVX2 (VNNI and
 * AMX only make it faster), bf16 AVX512-BF16 or AMX.
 */
export function dtypeRuns(dtype: Exclude<Dtype, "fp32">, isa?: "AVX2" | "AVX"): boolean {
  if (dtype === "bf16") return isa === undefined && bf16Available();
  return isa !== "AVX" && int8Available();
}
