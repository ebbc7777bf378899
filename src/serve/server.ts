/**
 * `gotune serve`'s HTTP side on fastify: the REST API (Hugging Face's conventions), its OpenAPI
 * description, and the page. Every request is validated against a JSON schema; every error is one JSON
 * line {"error": "..."} in plain words with a fitting status, never a stack; each request may be logged in
 * one line.
 */
import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { ASPECT_COLORS } from "../figures/theme.js";
import { splitSentences } from "../inference/sentences.js";
import { sentenceTable } from "../jobs/document.js";
import { csvText, xlsxBytes } from "../jobs/tables.js";
import { UserError } from "../util/errors.js";
import { type AssetName, asset } from "../web/assets.js";
import { type Engine, ModelFailed, Overloaded, type Scores, TimedOut } from "./engine.js";
import { type RequestLimits, schemas } from "./schemas.js";

/** `gotune serve`'s defaults: where it listens, how it batches and queues, and what one request may hold. */
export const SERVE_DEFAULTS = {
  port: 8080,
  host: "127.0.0.1",
  maxWait: 5,
  maxQueue: 4096,
  timeout: 30,
  maxTexts: 256,
  maxChars: 10_000,
  maxDocumentChars: 200_000,
  maxSentences: 2000,
  bodyLimit: 2 * 1024 * 1024,
} as const;

/** The server's limits: the engine's, the request schemas', and these. */
export interface ServerLimits extends RequestLimits {
  /** Bytes of one request body. */
  bodyLimit: number;
  /** Sentences of one document. */
  maxSentences: number;
}

const CONTENT_TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
};

// Labels that are not GO aspects get these colours, in label order.
const OTHER_COLORS = ["#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999", "#000000"];

/** How the server reports: `log` gets one line a request (method, route, status, texts, milliseconds). */
export interface ServerOptions {
  log?: (line: string) => void;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Texts the request had classified (sentences of a document), for the request log. */
    texts: number;
  }
}

/** The fastify app over a started engine (not listening yet). */
export async function buildServer(
  engine: Engine,
  limits: ServerLimits,
  opts: ServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: limits.bodyLimit,
    // Time to receive a whole request; the model's own wait is bounded by the engine's deadline.
    requestTimeout: engine.limits.timeoutMs,
    connectionTimeout: engine.limits.timeoutMs + 5000,
    // Extra fields are refused rather than silently dropped; types are never coerced.
    ajv: {
      // verbose: an error carries its schema, so its message can say "a list of strings".
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        allErrors: false,
        allowUnionTypes: true,
        verbose: true,
      },
    },
    logger: false,
  });
  // Only JSON bodies: a text/plain one gets 415 saying so, not a schema error about its type.
  app.removeContentTypeParser("text/plain");
  app.decorateRequest("texts", 0);
  const log = opts.log;
  if (log)
    app.addHook("onResponse", async (req, reply) => {
      const route = req.routeOptions.url ?? pathOf(req).slice(0, 200);
      log(
        `${req.method} ${route} ${reply.statusCode} ${req.texts} texts ${Math.round(reply.elapsedTime)} ms`,
      );
    });
  // Which methods each route takes, so a known path asked with another method gets 405 and Allow.
  const routes: { path: RegExp; methods: string[] }[] = [];
  app.addHook("onRoute", (r) => {
    const path = new RegExp(`^${r.url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:\w+/g, "[^/]+")}$`);
    routes.push({ path, methods: [r.method].flat() });
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: "gotune",
        description:
          "Which Gene Ontology aspect a molecular-biology text speaks of, and where the model looks.",
        version: "0.1.0",
      },
    },
  });
  const s = schemas(limits);
  const info = engine.info;
  const L = info.labels.length;
  let other = 0;
  const colors = Object.fromEntries(
    info.labels.map((l) => [
      l,
      (ASPECT_COLORS as Record<string, string>)[l] ?? OTHER_COLORS[other++ % OTHER_COLORS.length]!,
    ]),
  );
  const byLabel = (row: Float32Array) => Object.fromEntries(info.labels.map((l, j) => [l, row[j]!]));
  const rows = (a: Float32Array) =>
    Array.from({ length: a.length / L }, (_, i) => a.subarray(i * L, (i + 1) * L));

  app.setErrorHandler((err: FastifyError, _req, reply) => sendError(reply, err));
  app.setNotFoundHandler((req, reply) => {
    const path = pathOf(req);
    const allow = [...new Set(routes.filter((r) => r.path.test(path)).flatMap((r) => r.methods))].sort();
    if (allow.length)
      return reply
        .code(405)
        .header("allow", allow.join(", "))
        .send({ error: `${path} takes ${allow.join(" or ")}, not ${req.method}; see GET /openapi.json` });
    return reply.code(404).send({ error: `no route ${req.method} ${path}; see GET /openapi.json` });
  });

  app.get("/", { schema: { hide: true } }, (_req, reply) =>
    reply.type(CONTENT_TYPES.html!).send(asset("index.html")),
  );
  app.get<{ Params: { name: AssetName } }>("/assets/:name", { schema: s.asset }, (req, reply) =>
    reply
      .type(CONTENT_TYPES[req.params.name.split(".").pop()!]!)
      .header("cache-control", "no-cache")
      .send(asset(req.params.name)),
  );
  app.get("/favicon.ico", { schema: { hide: true } }, (_req, reply) => reply.code(204).send());
  app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());

  app.get("/health", { schema: s.health }, () => ({ status: "ok", ...engine.load(), ...engine.counts }));
  app.get("/info", { schema: s.info }, () => ({
    model: info.model,
    labels: info.labels,
    max_length: info.maxLength,
    dtype: info.dtype,
    layers: info.layers,
    heads: info.heads,
    hidden_size: info.hiddenSize,
    vocab_size: info.vocabSize,
    colors,
    limits: {
      body_bytes: limits.bodyLimit,
      texts_per_request: limits.maxTexts,
      characters_per_text: limits.maxChars,
      characters_per_document: limits.maxDocumentChars,
      sentences_per_document: limits.maxSentences,
      batch: engine.limits.maxBatch,
      batch_wait_ms: engine.limits.maxWaitMs,
      queue: engine.limits.maxQueue,
      timeout_ms: engine.limits.timeoutMs,
    },
  }));

  interface PredictBody {
    texts?: string[];
    inputs?: string | string[];
    parameters?: { top_k?: number | null; function_to_apply?: "softmax" | "sigmoid" | "none" };
  }
  app.post<{ Body: PredictBody }>("/predict", { schema: s.predict }, async (req) => {
    const b = req.body;
    if ((b.texts === undefined) === (b.inputs === undefined))
      throw new UserError('give "texts": [...] or "inputs": "..." | [...], one of the two');
    if (b.texts !== undefined) {
      if (b.parameters !== undefined) throw new UserError('"parameters" goes with "inputs"');
      req.texts = b.texts.length;
      const { probs } = await engine.predict(b.texts);
      return {
        labels: info.labels,
        predictions: rows(probs).map((p, i) => {
          let best = 0;
          for (let j = 1; j < L; j++) if (p[j]! > p[best]!) best = j;
          return { text: b.texts![i]!, label: info.labels[best]!, probabilities: byLabel(p) };
        }),
      };
    }
    const one = typeof b.inputs === "string";
    const texts = one ? [b.inputs as string] : (b.inputs as string[]);
    req.texts = texts.length;
    const scores = await engine.predict(texts);
    const answers = hfScores(scores, info.labels, b.parameters ?? {});
    return one ? answers[0] : answers;
  });

  app.post<{ Body: { text: string; name?: string }; Querystring: { format: "json" | "csv" | "xlsx" } }>(
    "/document",
    { schema: s.document },
    async (req, reply) => {
      const sentences = splitSentences(req.body.text);
      if (sentences.length === 0) throw new UserError("the text holds no sentences (it is blank)");
      if (sentences.length > limits.maxSentences)
        throw new UserError(
          `the text has ${sentences.length} sentences; this server takes at most ${limits.maxSentences} a request`,
        );
      req.texts = sentences.length;
      const { probs } = await engine.predict(sentences.map((x) => x.text));
      const t = sentenceTable(info.labels, sentences, probs);
      const stem =
        (req.body.name ?? "document").replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "_") || "document";
      if (req.query.format === "csv")
        return reply
          .type("text/csv; charset=utf-8")
          .header("content-disposition", `attachment; filename="${stem}.predictions.csv"`)
          .send(csvText(t));
      if (req.query.format === "xlsx")
        return reply
          .type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
          .header("content-disposition", `attachment; filename="${stem}.predictions.xlsx"`)
          .send(Buffer.from(await xlsxBytes(t, req.body.name ?? "pasted text")));
      const counts = Object.fromEntries(info.labels.map((l) => [l, 0]));
      for (const p of t.predicted) counts[info.labels[p]!]!++;
      return {
        labels: info.labels,
        sentences: sentences.map((x, i) => ({
          text: x.text,
          // 1-based, as the CSV and XLSX tables number paragraphs.
          paragraph: x.paragraph + 1,
          label: info.labels[t.predicted[i]!]!,
          probabilities: byLabel(probs.subarray(i * L, (i + 1) * L)),
        })),
        mean: t.mean,
        counts,
      };
    },
  );

  app.post<{ Body: { text: string } }>("/attention", { schema: s.attentionPost }, (req) => {
    req.texts = 1;
    return engine.attention(req.body.text);
  });
  app.get<{ Querystring: { text: string } }>("/attention", { schema: s.attentionGet }, (req) => {
    req.texts = 1;
    return engine.attention(req.query.text);
  });
  return app;
}

/** The Inference API's text-classification answer: per text, [{label, score}] by score, top_k of them. */
function hfScores(
  s: Scores,
  labels: string[],
  p: { top_k?: number | null; function_to_apply?: "softmax" | "sigmoid" | "none" },
): { label: string; score: number }[][] {
  const L = labels.length;
  const out: { label: string; score: number }[][] = [];
  for (let i = 0; i < s.probs.length / L; i++) {
    const score = (j: number) => {
      const z = s.logits[i * L + j]!;
      if (p.function_to_apply === "none") return z;
      if (p.function_to_apply === "sigmoid") return 1 / (1 + Math.exp(-z));
      return s.probs[i * L + j]!;
    };
    const row = labels.map((label, j) => ({ label, score: score(j) })).sort((a, b) => b.score - a.score);
    out.push(row.slice(0, p.top_k ?? L));
  }
  return out;
}

/** One JSON error line with the status that says what happened (and Retry-After when it helps). */
function sendError(reply: FastifyReply, err: FastifyError): FastifyReply {
  if (err instanceof Overloaded)
    return reply.code(429).header("retry-after", String(err.retryAfterSeconds)).send({ error: err.message });
  if (err instanceof TimedOut)
    return reply.code(503).header("retry-after", String(err.retryAfterSeconds)).send({ error: err.message });
  if (err instanceof UserError) return reply.code(400).send({ error: err.message });
  if (err.validation) return reply.code(400).send({ error: validationMessage(err) });
  if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE")
    return reply
      .code(413)
      .send({ error: "the body is larger than this server takes (see GET /info, limits)" });
  if (err.code === "FST_ERR_CTP_INVALID_JSON_BODY" || err instanceof SyntaxError)
    return reply
      .code(400)
      .send({ error: 'the body is not valid JSON; send an object such as {"texts": ["..."]}' });
  if (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
    return reply.code(400).send({ error: "the body is empty; send a JSON object" });
  if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    const type = String(reply.request.headers["content-type"] ?? "")
      .split(";")[0]!
      .trim()
      .slice(0, 100);
    return reply.code(415).send({
      error: `${type ? `a body of type ${type}` : "a body without a Content-Type"}: send JSON (Content-Type: application/json)`,
    });
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
    return reply.code(err.statusCode).send({ error: err.message });
  if (!(err instanceof ModelFailed))
    process.stderr.write(`gotune serve: internal error: ${err.stack ?? err}\n`);
  return reply.code(500).send({ error: `internal error: ${err.message}` });
}

/** The path of a request's URL, without its query. */
function pathOf(req: FastifyRequest): string {
  return req.url.split("?")[0]!;
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  object: "an object",
  integer: "a whole number",
  number: "a number",
  boolean: "true or false",
  null: "null",
};
const PLURALS: Record<string, string> = { string: "strings", object: "objects", integer: "whole numbers" };

/** "inputs must be a string or a list of strings", "texts must hold at least one text": where, then what. */
function validationMessage(err: FastifyError): string {
  const v = err.validation![0]!;
  const path = v.instancePath
    .replace(/\/(\d+)/g, "[$1]")
    .replace(/\/([^/[]+)/g, ".$1")
    .replace(/^\./, "");
  const query = err.validationContext === "querystring";
  const where = path ? (query ? `the query's ${path}` : path) : query ? "the query" : "the body";
  const params = v.params as Record<string, unknown>;
  const schema = (v as { parentSchema?: { items?: { type?: string } } }).parentSchema;
  const itemType = schema?.items?.type;
  const limit = Number(params.limit);
  // A list of strings here is always a list of texts.
  const items = (n: number) =>
    itemType === "string" ? (n === 1 ? "one text" : `${n} texts`) : n === 1 ? "one item" : `${n} items`;
  switch (v.keyword) {
    case "additionalProperties":
      return `${where} has an unknown field "${String(params.additionalProperty)}"`;
    case "required":
      return `${where} needs the field "${String(params.missingProperty)}"`;
    case "enum":
      return `${where} must be one of ${(params.allowedValues as unknown[]).join(", ")}`;
    case "type":
      return `${where} must be ${String(params.type)
        .split(",")
        .map((t) =>
          t === "array" ? `a list of ${PLURALS[itemType ?? ""] ?? "values"}` : (TYPE_WORDS[t] ?? t),
        )
        .join(" or ")}`;
    case "minItems":
      return `${where} must hold at least ${items(limit)}`;
    case "maxItems":
      return `${where} may hold at most ${items(limit)} (see GET /info, limits)`;
    case "minLength":
      return limit === 1 ? `${where} must not be empty` : `${where} must have at least ${limit} characters`;
    case "maxLength":
      return `${where} has more than ${limit} characters, the most this server takes (see GET /info, limits)`;
    case "minimum":
      return `${where} must be at least ${limit}`;
    default:
      return `${where} ${v.message}`;
  }
}
