import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadModelFolder, readModelConfig } from "../../src/hf/model-folder.js";
import { PRETRAIN_DEFAULTS, type PretrainOptions, pretrain } from "../../src/jobs/pretrain.js";
import { BertForMaskedLM } from "../../src/model/bert.js";
import { readRunLog } from "../../src/train/run-log.js";
import { UserError } from "../../src/util/errors.js";
import { markedSplit } from "../helpers/pretrain-fixture.js";

let dir = "";
let data = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-pretrain-resume-"));
  data = await markedSplit(dir, 60);
});
after(() => rm(dir, { recursive: true, force: true }));

function options(out: string, extra: Partial<PretrainOptions> = {}): PretrainOptions {
  return {
    ...PRETRAIN_DEFAULTS,
    corpus: { dataDir: data },
    out,
    shape: { num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64 },
    vocabSize: 150,
    batchSize: 8,
    maxLength: 32,
    maxPositions: 64,
    epochs: 2,
    weightDecay: 0, // the trainer resumes bit for bit without weight decay
    log: () => {},
    ...extra,
  };
}

async function weights(out: string): Promise<Float32Array[]> {
  const { config } = await readModelConfig(out);
  const model = new BertForMaskedLM(config, { seed: 123 });
  await loadModelFolder(out, model);
  return model.params().map((p) => p.data);
}

test("a pre-training run stopped by a signal resumes from its checkpoint and ends as an unbroken run", async () => {
  const whole = await pretrain(options(join(dir, "whole")));
  assert.ok(!existsSync(join(dir, "whole", "checkpoints")), "a finished run keeps no checkpoint");

  const out = join(dir, "broken");
  const stop = new AbortController();
  stop.abort(); // stop after the first step
  const first = await pretrain(options(out, { signal: stop.signal }));
  assert.equal(first.steps.done, 1);
  assert.ok(existsSync(join(out, "checkpoints", "checkpoint-1", "optimizer.safetensors")));
  assert.ok(existsSync(join(out, "model.safetensors")), "the interrupted run still saved its model");

  const second = await pretrain(options(out));
  assert.equal(second.steps.done, whole.steps.done);
  assert.ok(!existsSync(join(out, "checkpoints")));
  const a = await weights(join(dir, "whole"));
  const b = await weights(out);
  for (let i = 0; i < a.length; i++) assert.deepEqual(b[i], a[i], `parameter ${i}`);

  const log = await readRunLog(join(out, "pretrain_log.jsonl"));
  const trainSteps = log.filter((r) => r.type === "train").map((r) => r.step);
  assert.deepEqual(
    trainSteps,
    Array.from({ length: whole.steps.done }, (_, i) => i + 1),
  );
  const evalSteps = log.filter((r) => r.type === "eval").map((r) => r.step);
  assert.equal(new Set(evalSteps).size, evalSteps.length, `held-out records once each: ${evalSteps}`);
});

test("a checkpoint of a run with other options is not resumed", async () => {
  const out = join(dir, "other");
  const stop = new AbortController();
  stop.abort();
  await pretrain(options(out, { signal: stop.signal }));
  await assert.rejects(
    pretrain(options(out, { lr: 1e-3 })),
    (e: unknown) => e instanceof UserError && /interrupted pre-training run with other/.test(e.message),
  );
});
