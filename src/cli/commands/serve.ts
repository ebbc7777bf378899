/** `gotune serve`: the classifier as a web service and a page, with the attention view. */
import type { Command } from "commander";
import { PREDICT_DEFAULTS } from "../../inference/classifier.js";
import type { Dtype } from "../../native/index.js";
import { Engine } from "../../serve/engine.js";
import { buildServer, SERVE_DEFAULTS as D } from "../../serve/server.js";
import { runCommand, UserError } from "../../util/errors.js";
import { dtypeOption, maxLengthOption, positiveInt, wholeNumber } from "../options.js";
import { stopOnSignals } from "../signals.js";

interface Options {
  model: string;
  port: number;
  host: string;
  maxLength?: number;
  dtype: Dtype;
  maxBatch: number;
  maxWait: number;
  maxQueue: number;
  timeout: number;
  maxTexts: number;
  maxChars: number;
  maxDocumentChars: number;
  maxSentences: number;
  bodyLimit: number;
  quiet?: boolean;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Adds the serve command. */
export function register(program: Command): void {
  program
    .command("serve")
    .summary("Serve a fine-tuned model over HTTP (an API and a page)")
    .description(
      "Serve a fine-tuned model over HTTP: POST /predict (also the Hugging Face Inference API's " +
        '{"inputs": ...}), POST /document (sentences, probabilities, the mean per label; ?format=csv|xlsx), ' +
        "POST or GET /attention, GET /health, GET /info, GET /openapi.json, and a page at / to paste or drop " +
        "a text. Requests that arrive together share one forward pass. Listens on 127.0.0.1 unless --host " +
        "says otherwise. Each request is logged to stderr in one line (method, route, status, texts, " +
        "milliseconds) unless --quiet.",
    )
    .requiredOption(
      "--model <dir|id>",
      "model folder (e.g. written by gotune train) or Hugging Face model id",
    )
    .option("--port <n>", "TCP port (0: any free port)", wholeNumber(0, 65535), D.port)
    .option("--host <address>", "address to listen on (0.0.0.0: every interface)", D.host)
    .addOption(maxLengthOption("per text"))
    .option(dtypeOption.flags, dtypeOption.description, dtypeOption.parse, dtypeOption.default)
    .option("--max-batch <n>", "texts per forward pass", positiveInt, PREDICT_DEFAULTS.batchSize)
    .option(
      "--max-wait <ms>",
      "how long a text waits for others to share its forward pass",
      wholeNumber(0, 10_000),
      D.maxWait,
    )
    .option(
      "--max-queue <n>",
      "texts waiting for the model past which requests get 429",
      positiveInt,
      D.maxQueue,
    )
    .option(
      "--timeout <s>",
      "seconds a request may wait for the model (then 503)",
      wholeNumber(1, 3600),
      D.timeout,
    )
    .option("--max-texts <n>", "texts per /predict request", positiveInt, D.maxTexts)
    .option("--max-chars <n>", "characters per text", positiveInt, D.maxChars)
    .option("--max-document-chars <n>", "characters per /document text", positiveInt, D.maxDocumentChars)
    .option("--max-sentences <n>", "sentences per /document text", positiveInt, D.maxSentences)
    .option("--body-limit <bytes>", "bytes per request body", positiveInt, D.bodyLimit)
    .option("--quiet", "no request log")
    .action((opts: Options) => runCommand(() => serve(opts)));
}

async function serve(o: Options): Promise<void> {
  if (o.maxQueue < o.maxBatch)
    throw new UserError(`--max-queue ${o.maxQueue} is smaller than --max-batch ${o.maxBatch}`, {
      hint: "give a queue of at least one batch",
    });
  process.stderr.write(`gotune serve: loading ${o.model}...\n`);
  const engine = await Engine.start(
    { model: o.model, dtype: o.dtype, predict: { maxLength: o.maxLength } },
    { maxBatch: o.maxBatch, maxWaitMs: o.maxWait, maxQueue: o.maxQueue, timeoutMs: o.timeout * 1000 },
  );
  const app = await buildServer(
    engine,
    {
      bodyLimit: o.bodyLimit,
      maxTexts: o.maxTexts,
      maxChars: o.maxChars,
      maxDocumentChars: o.maxDocumentChars,
      maxSentences: o.maxSentences,
    },
    { log: o.quiet ? undefined : (line) => process.stderr.write(`gotune serve: ${line}\n`) },
  );
  try {
    await app.listen({ port: o.port, host: o.host });
  } catch (err) {
    await engine.close();
    const code = (err as NodeJS.ErrnoException).code;
    const at = `${o.host}:${o.port}`;
    if (code === "EADDRINUSE")
      throw new UserError(`port ${o.port} on ${o.host} is already in use`, {
        hint: "stop what listens there or give another --port",
      });
    if (code === "EACCES")
      throw new UserError(`not allowed to listen on ${at}`, { hint: "give a --port above 1023" });
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND")
      throw new UserError(`${o.host} is not an address of this machine`, {
        hint: "give --host 127.0.0.1, or 0.0.0.0 for every interface",
      });
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : o.port;
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;
  const reach = LOOPBACK.has(o.host)
    ? "only this machine can reach it (--host 0.0.0.0 serves the network)"
    : "any machine that can reach this address can use it";
  const { labels, maxLength, dtype } = engine.info;
  process.stdout.write(
    `gotune serve: ${engine.info.model} (${labels.join(", ")}; ${maxLength} tokens; ${dtype}) at http://${host}:${port}/ — ${reach}\n`,
  );
  const stop = stopOnSignals(() => "gotune serve: stopping");
  await new Promise((resolve) => stop.signal.addEventListener("abort", resolve, { once: true }));
  try {
    await app.close();
  } finally {
    await engine.close();
    stop.dispose();
  }
}
