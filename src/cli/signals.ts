/** Ctrl-C and SIGTERM, handled one way by every long command: the first stops the work cleanly, a second quits. */

/** The shell's exit code for a process stopped by each signal (128 + its number). */
const EXIT_CODE = { SIGINT: 130, SIGTERM: 143 } as const;

/** A command's stop switch: `signal` aborts on the first Ctrl-C or SIGTERM; `dispose` removes the handlers. */
export interface StopSignals {
  signal: AbortSignal;
  /** 130 or 143 once a signal has stopped the work, else undefined. */
  exitCode(): number | undefined;
  dispose(): void;
}

/**
 * Aborts `signal` on the first SIGINT or SIGTERM, writing `say(sig)` to stderr; a second signal exits at once
 * (a stuck step must not hold the terminal).
 */
export function stopOnSignals(say: (sig: NodeJS.Signals) => string): StopSignals {
  const ctl = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    const code = EXIT_CODE[sig as keyof typeof EXIT_CODE] ?? 1;
    if (ctl.signal.aborted) process.exit(code);
    process.stderr.write(`${say(sig)}\n`);
    ctl.abort(sig);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: ctl.signal,
    exitCode: () =>
      ctl.signal.aborted ? (EXIT_CODE[ctl.signal.reason as keyof typeof EXIT_CODE] ?? 1) : undefined,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
