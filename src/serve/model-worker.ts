/**
 * The model thread of `gotune serve`: loads the classifier once, then runs the batches the HTTP thread
 * sends, one at a time, so the HTTP thread keeps answering (health, 429s, timeouts) during a forward pass.
 */
import { parentPort, workerData } from "node:worker_threads";
import { attentionOf } from "../inference/attention-map.js";
import { Classifier } from "../inference/classifier.js";
import { usableDtype } from "../native/index.js";
import { UserError } from "../util/errors.js";
import type { ErrorParts, FromWorker, ToWorker, WorkerInit } from "./protocol.js";

const port = parentPort!;
const init = workerData as WorkerInit;
const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

function partsOf(err: unknown): ErrorParts {
  if (err instanceof UserError) return { message: err.message, ...err.where, hint: err.hint, user: true };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === "object" && e.code && e.path)
    return {
      message: e.code === "ENOENT" ? "no such file or folder" : String(e.code),
      file: e.path,
      user: true,
    };
  return { message: err instanceof Error ? err.message : String(err), user: false };
}

try {
  const dtype = usableDtype(init.dtype ?? "fp32", (line) => process.stderr.write(`gotune serve: ${line}\n`));
  const clf = await Classifier.load(init.model, { dtype });
  const c = clf.model.config;
  const maxLength = Math.min(init.predict.maxLength ?? clf.maxLength, c.max_position_embeddings);
  // A forward pass to check the weights run, before the server says it is ready.
  clf.predictProba(["a"], { ...init.predict, maxLength });
  send({
    kind: "ready",
    info: {
      model: clf.dir ?? init.model,
      labels: clf.labels,
      maxLength,
      dtype,
      layers: c.num_hidden_layers,
      heads: c.num_attention_heads,
      hiddenSize: c.hidden_size,
      vocabSize: c.vocab_size,
    },
  });
  port.on("message", (m: ToWorker) => {
    try {
      if (m.kind === "predict") {
        const { probs, logits } = clf.predictProba(m.texts, {
          ...init.predict,
          maxLength,
          batchSize: m.texts.length,
        });
        send({ kind: "predicted", id: m.id, probs, logits }, [
          probs.buffer as ArrayBuffer,
          logits.buffer as ArrayBuffer,
        ]);
      } else {
        // Four decimals: finer than a line's opacity shows, and a quarter of the JSON.
        send({ kind: "attention", id: m.id, map: attentionOf(clf, m.text, { maxLength, digits: 4 }) });
      }
    } catch (err) {
      send({ kind: "error", id: m.id, error: partsOf(err) });
    }
  });
} catch (err) {
  send({ kind: "failed", error: partsOf(err) });
}
