/** JSON schemas of `gotune serve`'s requests and answers (fastify validates every request against them). */

/** Request limits that shape the schemas. */
export interface RequestLimits {
  /** Texts in one /predict request. */
  maxTexts: number;
  /** Characters in one text of /predict or /attention. */
  maxChars: number;
  /** Characters in one /document text. */
  maxDocumentChars: number;
}

const error = {
  type: "object",
  properties: { error: { type: "string" } },
  required: ["error"],
} as const;

/** The error answers every route may give. */
const errors = {
  400: { description: "a bad request: the body or query is not what the route takes", ...error },
  413: { description: "the body is larger than the server takes", ...error },
  415: { description: "the body is not JSON (send Content-Type: application/json)", ...error },
  429: { description: "too many texts are waiting: retry after Retry-After seconds", ...error },
  503: { description: "the model did not answer in time: retry after Retry-After seconds", ...error },
};

const scores = { type: "object", additionalProperties: { type: "number" } } as const;

/** The route schemas for the limits. */
export function schemas(l: RequestLimits) {
  const text = { type: "string", minLength: 1, maxLength: l.maxChars } as const;
  const texts = { type: "array", minItems: 1, maxItems: l.maxTexts, items: text } as const;
  return {
    predict: {
      summary: "Label probabilities per text",
      description:
        "Either {\"texts\": [...]} (gotune's answer: each text's label and probabilities), or the Hugging Face " +
        'Inference API\'s {"inputs": "text" | ["text", ...], "parameters": {"top_k": n, "function_to_apply": ' +
        '"softmax" | "none"}}, answered as text-classification is: [{label, score}, ...] by score for one ' +
        "text, a list of those for a list.",
      body: {
        type: "object",
        additionalProperties: false,
        properties: {
          texts,
          inputs: { type: ["string", "array"], minLength: 1, maxLength: l.maxChars, ...pick(texts) },
          parameters: {
            type: "object",
            additionalProperties: false,
            properties: {
              top_k: { type: ["integer", "null"], minimum: 1 },
              function_to_apply: { type: "string", enum: ["softmax", "sigmoid", "none"] },
            },
          },
          // The Inference API's options (wait_for_model, use_cache) mean nothing to a local model.
          options: { type: "object" },
        },
      },
      // The 200 answer has three shapes (see the description), so it is written without a schema.
      response: {
        ...errors,
      },
    },
    document: {
      summary: "A document sentence by sentence",
      description:
        "Splits the text into sentences and classifies each: the sentences with their paragraph, label and " +
        "probabilities, and the mean probability per label. format=csv or xlsx gives the table as a file.",
      querystring: {
        type: "object",
        additionalProperties: false,
        properties: { format: { type: "string", enum: ["json", "csv", "xlsx"], default: "json" } },
      },
      body: {
        type: "object",
        additionalProperties: false,
        required: ["text"],
        properties: {
          text: { type: "string", minLength: 1, maxLength: l.maxDocumentChars },
          name: { type: "string", maxLength: 200, description: "the document's name, for the XLSX summary" },
        },
      },
      response: {
        200: {
          type: "object",
          properties: {
            labels: { type: "array", items: { type: "string" } },
            sentences: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  text: { type: "string" },
                  paragraph: { type: "integer", description: "1-based, as in the CSV and XLSX tables" },
                  label: { type: "string" },
                  probabilities: scores,
                },
              },
            },
            mean: scores,
            counts: { type: "object", additionalProperties: { type: "integer" } },
          },
        },
        ...errors,
      },
    },
    attentionPost: {
      summary: "Every layer's attention for a sentence",
      description: "attention[layer][head][from][to] over the sentence's tokens, and its prediction.",
      body: {
        type: "object",
        additionalProperties: false,
        required: ["text"],
        properties: { text },
      },
      response: { ...errors },
    },
    attentionGet: {
      summary: "Every layer's attention for a sentence (GET)",
      querystring: {
        type: "object",
        additionalProperties: false,
        required: ["text"],
        properties: { text },
      },
      response: { ...errors },
    },
    health: {
      summary: "Whether the model answers",
      response: {
        200: {
          type: "object",
          properties: {
            status: { type: "string" },
            queued: { type: "integer" },
            running: { type: "integer" },
            batches: { type: "integer" },
            texts: { type: "integer" },
          },
        },
      },
    },
    info: {
      summary: "The model: labels, maximum length, size, and the server's limits",
      response: {
        200: {
          type: "object",
          properties: {
            model: { type: "string" },
            labels: { type: "array", items: { type: "string" } },
            max_length: { type: "integer" },
            dtype: { type: "string", description: "the encoder's products: fp32, bf16 or int8" },
            layers: { type: "integer" },
            heads: { type: "integer" },
            hidden_size: { type: "integer" },
            vocab_size: { type: "integer" },
            colors: scoresOfStrings(),
            limits: { type: "object", additionalProperties: { type: "number" } },
          },
        },
      },
    },
    asset: {
      hide: true,
      params: {
        type: "object",
        required: ["name"],
        properties: {
          name: { type: "string", enum: ["head-view.js", "head-view.css", "app.js", "app.css"] },
        },
      },
    },
  };
}

/** The array constraints of `texts`, applied to `inputs` when it is a list. */
function pick(t: { minItems: number; maxItems: number; items: unknown }) {
  return { minItems: t.minItems, maxItems: t.maxItems, items: t.items };
}

function scoresOfStrings() {
  return { type: "object", additionalProperties: { type: "string" } } as const;
}
