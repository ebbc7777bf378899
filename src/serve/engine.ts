/**
 * The model behind `gotune serve`, loaded once in its own thread, with dynamic batching as
 * text-embeddings-inference does it: texts that arrive together wait at most `maxWaitMs` and go through
 * one forward pass of up to `maxBatch` texts; while a pass runs, the next batch gathers. The queue is
 * bounded (past it: Overloaded, a 429) and every request has a deadline (past it: TimedOut, a 503).
 */
import { Worker } from "node:worker_threads";
import type { AttentionMap } from "../inference/attention-map.js";
import { UserError } from "../util/errors.js";
import type { ErrorParts, FromWorker, ModelInfo, ToWorker, WorkerInit } from "./protocol.js";

/** Batching and queueing limits. */
export interface EngineLimits {
  /** Texts per forward pass. */
  maxBatch: number;
  /** How long the first text of a batch waits for others, in milliseconds. */
  maxWaitMs: number;
  /** Texts waiting (not yet in a forward pass) past which requests are refused. */
  maxQueue: number;
  /** How long a request may wait for the model, in milliseconds. */
  timeoutMs: number;
}

/** The queue is full: try again later (HTTP 429 with Retry-After). */
export class Overloaded extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super("the server is busy: too many texts are waiting for the model");
  }
}

/** A request waited longer than the timeout (HTTP 503 with Retry-After). */
export class TimedOut extends Error {
  constructor(
    readonly retryAfterSeconds: number,
    seconds: number,
  ) {
    super(`the model did not answer within ${seconds} s`);
  }
}

/** The model thread failed on a request (e.g. it stopped); not the client's fault (HTTP 500). */
export class ModelFailed extends Error {}

/** Probabilities and logits, row-major [texts, labels]. */
export interface Scores {
  probs: Float32Array;
  logits: Float32Array;
}

interface Job {
  settled: boolean;
}

type Item =
  | { kind: "predict"; job: Job; texts: string[]; at: number; done(s: Scores): void; fail(e: Error): void }
  | {
      kind: "attention";
      job: Job;
      text: string;
      at: number;
      done(m: AttentionMap): void;
      fail(e: Error): void;
    };

const errorOf = (p: ErrorParts): Error =>
  p.user
    ? new UserError(p.message, { file: p.file, line: p.line, hint: p.hint })
    : new ModelFailed(p.message);

/** The model in its thread, and the queue in front of it. */
export class Engine {
  private worker!: Worker;
  private queue: Item[] = [];
  private queuedTexts = 0;
  private inFlight: { id: number; items: Item[] } | undefined;
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  /** Forward passes run and texts classified, for /health and the benchmark. */
  readonly counts = { batches: 0, texts: 0, refused: 0, timedOut: 0 };

  private constructor(
    private readonly init: WorkerInit,
    readonly limits: EngineLimits,
    readonly info: ModelInfo,
  ) {}

  /** Loads the model in a new thread; a model that cannot serve is a UserError (one line at start). */
  static async start(init: WorkerInit, limits: EngineLimits): Promise<Engine> {
    const { worker, info } = await spawn(init);
    const e = new Engine(init, limits, info);
    e.attach(worker);
    return e;
  }

  /** Texts waiting and texts in the forward pass now. */
  load(): { queued: number; running: number } {
    const running = this.inFlight?.items.reduce((n, i) => n + (i.kind === "predict" ? i.texts.length : 1), 0);
    return { queued: this.queuedTexts, running: running ?? 0 };
  }

  /** The label probabilities of `texts`, batched with whatever else is waiting. */
  predict(texts: string[]): Promise<Scores> {
    if (texts.length === 0)
      return Promise.resolve({ probs: new Float32Array(0), logits: new Float32Array(0) });
    this.admit(texts.length);
    const L = this.info.labels.length;
    const job: Job = { settled: false };
    // A long request is cut into batch-sized parts so that others' texts interleave with it.
    const parts: Promise<Scores>[] = [];
    for (let s = 0; s < texts.length; s += this.limits.maxBatch) {
      const chunk = texts.slice(s, s + this.limits.maxBatch);
      parts.push(
        new Promise<Scores>((done, fail) =>
          this.enqueue({ kind: "predict", job, texts: chunk, at: 0, done, fail }),
        ),
      );
    }
    return this.withDeadline(job, async () => {
      const got = await Promise.all(parts);
      if (got.length === 1) return got[0]!;
      const probs = new Float32Array(texts.length * L);
      const logits = new Float32Array(texts.length * L);
      let off = 0;
      for (const g of got) {
        probs.set(g.probs, off);
        logits.set(g.logits, off);
        off += g.probs.length;
      }
      return { probs, logits };
    });
  }

  /** Every layer's attention for `text` (one forward pass of its own, in queue order). */
  attention(text: string): Promise<AttentionMap> {
    this.admit(1);
    const job: Job = { settled: false };
    const p = new Promise<AttentionMap>((done, fail) =>
      this.enqueue({ kind: "attention", job, text, at: 0, done, fail }),
    );
    return this.withDeadline(job, () => p);
  }

  /** Stops the model thread; waiting requests fail. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    const stopped = new ModelFailed("the server is shutting down");
    for (const i of [...this.queue, ...(this.inFlight?.items ?? [])]) i.fail(stopped);
    this.queue = [];
    this.queuedTexts = 0;
    await this.worker.terminate();
  }

  private admit(n: number): void {
    if (this.closing) throw new ModelFailed("the server is shutting down");
    if (this.queuedTexts + n > this.limits.maxQueue) {
      this.counts.refused++;
      throw new Overloaded(1);
    }
  }

  private withDeadline<T>(job: Job, body: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (job.settled) return;
        job.settled = true;
        this.counts.timedOut++;
        this.drop(job);
        reject(new TimedOut(5, this.limits.timeoutMs / 1000));
      }, this.limits.timeoutMs);
      body().then(
        (v) => {
          clearTimeout(timer);
          if (job.settled) return;
          job.settled = true;
          resolve(v);
        },
        (e) => {
          clearTimeout(timer);
          if (job.settled) return;
          job.settled = true;
          reject(e);
        },
      );
    });
  }

  /** Removes a timed-out request's parts that have not reached the model yet. */
  private drop(job: Job): void {
    this.queue = this.queue.filter((i) => {
      if (i.job !== job) return true;
      this.queuedTexts -= i.kind === "predict" ? i.texts.length : 1;
      return false;
    });
  }

  private enqueue(item: Item): void {
    item.at = Date.now();
    this.queue.push(item);
    this.queuedTexts += item.kind === "predict" ? item.texts.length : 1;
    this.pump();
  }

  /** Sends the next batch when the model is free and the batch is full or its first text waited enough. */
  private pump(): void {
    if (this.inFlight || this.queue.length === 0 || this.closing) return;
    const head = this.queue[0]!;
    const wait = head.at + this.limits.maxWaitMs - Date.now();
    if (head.kind === "predict" && this.queuedTexts < this.limits.maxBatch && wait > 0) {
      if (!this.timer)
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    const id = this.nextId++;
    const items: Item[] = [];
    let msg: ToWorker;
    if (head.kind === "attention") {
      items.push(this.queue.shift()!);
      this.queuedTexts--;
      msg = { id, kind: "attention", text: head.text };
    } else {
      const texts: string[] = [];
      while (
        this.queue[0]?.kind === "predict" &&
        texts.length + this.queue[0].texts.length <= this.limits.maxBatch
      ) {
        const i = this.queue.shift()! as Extract<Item, { kind: "predict" }>;
        this.queuedTexts -= i.texts.length;
        items.push(i);
        texts.push(...i.texts);
      }
      msg = { id, kind: "predict", texts };
    }
    this.inFlight = { id, items };
    this.worker.postMessage(msg);
  }

  private onMessage(m: FromWorker): void {
    const flight = this.inFlight;
    if (!flight || !("id" in m) || m.id !== flight.id) return;
    this.inFlight = undefined;
    if (m.kind === "predicted") {
      const L = this.info.labels.length;
      this.counts.batches++;
      let row = 0;
      for (const i of flight.items) {
        if (i.kind !== "predict") continue;
        const n = i.texts.length;
        this.counts.texts += n;
        i.done({
          probs: m.probs.slice(row * L, (row + n) * L),
          logits: m.logits.slice(row * L, (row + n) * L),
        });
        row += n;
      }
    } else if (m.kind === "attention") {
      const i = flight.items[0]!;
      if (i.kind === "attention") i.done(m.map);
    } else if (m.kind === "error") {
      for (const i of flight.items) i.fail(errorOf(m.error));
    }
    this.pump();
  }

  private attach(worker: Worker): void {
    this.worker = worker;
    worker.on("message", (m: FromWorker) => this.onMessage(m));
    worker.on("error", (err) => this.restart(err));
    worker.on("exit", (code) => this.restart(new Error(`exit code ${code}`)));
  }

  /** The model thread stopped: fail the pass it was running and start a new thread for the rest. */
  private restart(err: Error): void {
    if (this.closing) return;
    const flight = this.inFlight;
    this.inFlight = undefined;
    for (const i of flight?.items ?? [])
      i.fail(new ModelFailed(`the model's thread stopped (${err.message})`));
    process.stderr.write(`gotune serve: the model's thread stopped (${err.message}); restarting it\n`);
    this.worker.removeAllListeners();
    spawn(this.init).then(
      ({ worker }) => {
        this.attach(worker);
        this.pump();
      },
      (e: Error) => {
        process.stderr.write(`gotune serve: cannot restart the model (${e.message}); stopping\n`);
        process.exitCode = 1;
        void this.close();
      },
    );
  }
}

/** Starts a model thread and waits for it to load the model (or say why it cannot). */
function spawn(init: WorkerInit): Promise<{ worker: Worker; info: ModelInfo }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./model-worker.js", import.meta.url), { workerData: init });
    const onExit = (code: number) =>
      reject(new Error(`the model's thread exited with code ${code} while loading`));
    worker.once("error", reject);
    worker.once("exit", onExit);
    worker.once("message", (m: FromWorker) => {
      worker.off("error", reject);
      worker.off("exit", onExit);
      if (m.kind === "ready") resolve({ worker, info: m.info });
      else {
        void worker.terminate();
        reject(m.kind === "failed" ? errorOf(m.error) : new Error(`unexpected message ${m.kind}`));
      }
    });
  });
}
