/** Progress bars with ETA on stderr; silent when stderr is not a terminal (logs, CI, tests). */
import cliProgress from "cli-progress";

/** A running progress bar; `tick` advances it, `done` closes it. */
export interface Progress {
  tick(n?: number, payload?: Record<string, string | number>): void;
  done(): void;
}

/** Starts a progress bar for `total` steps labelled `label`; extra payload keys are shown after the bar. */
export function progress(label: string, total: number, payloadKeys: string[] = []): Progress {
  if (!process.stderr.isTTY || process.env.GOTUNE_NO_PROGRESS) return { tick() {}, done() {} };
  const extra = payloadKeys.map((k) => ` ${k} {${k}}`).join("");
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% {value}/{total} ETA {eta_formatted}${extra}`,
      stream: process.stderr,
      etaBuffer: 50,
      hideCursor: true,
      // Fractional totals (megabytes read) show one decimal; counts show as they are.
      formatValue: (v, o, type) =>
        (type === "value" || type === "total") && !Number.isInteger(v)
          ? v.toFixed(1)
          : cliProgress.Format.ValueFormat(v, o, type),
    },
    cliProgress.Presets.shades_classic,
  );
  const init: Record<string, string> = {};
  for (const k of payloadKeys) init[k] = "";
  bar.start(total, 0, init);
  return {
    tick(n = 1, payload) {
      bar.increment(n, payload);
    },
    done() {
      bar.stop();
    },
  };
}

/** A bar for batched work whose total is known only at the first batch: pass `onBatch` on, then `done()`. */
export function batchProgress(label: string): {
  onBatch: (done: number, total: number) => void;
  done: () => void;
} {
  let bar: Progress | undefined;
  let seen = 0;
  return {
    onBatch: (done, total) => {
      bar ??= progress(label, total);
      bar.tick(done - seen);
      seen = done;
    },
    done: () => bar?.done(),
  };
}
