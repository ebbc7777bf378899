/**
 * gotune against PyTorch, with no network: test/python/torch_parity.py builds a small BERT from the
 * reference module ../shared/bench/torch_bert.py, writes it as a Hugging Face folder, and records the
 * logits, each layer's attention probabilities and two clipped AdamW training steps. gotune loads the
 * folder and must agree.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadModelFolder, readModelConfig } from "../../src/hf/model-folder.js";
import { SafetensorsFile } from "../../src/hf/safetensors.js";
import { BertForSequenceClassification } from "../../src/model/bert.js";
import { AdamW } from "../../src/train/adamw.js";
import { clipCoefficient, globalGradNorm } from "../../src/train/clip.js";
import { PYTHON, whyNoTorch } from "../helpers/torch.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const SCRIPT = join(REPO, "test", "python", "torch_parity.py");

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; at: number } {
  assert.equal(a.length, b.length);
  let diff = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > diff || Number.isNaN(d)) [diff, at] = [d, i];
  }
  return { diff, at };
}

const reason = whyNoTorch();

test("logits, attention probabilities, loss, gradients and AdamW steps agree with PyTorch", {
  skip: reason,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "gotune-torch-"));
  try {
    const r = spawnSync(PYTHON, [SCRIPT, "--out", dir], { encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, `torch_parity.py failed: ${r.stderr}`);
    const info = JSON.parse(r.stdout.trim().split("\n").pop()!);
    const lr = info.hparams.lr as number;
    const maxNorm = info.hparams.max_norm as number;

    const { config } = await readModelConfig(join(dir, "model"));
    assert.equal(config.hidden_dropout_prob, 0);
    const model = new BertForSequenceClassification(config, { seed: 1 });
    assert.equal(model.numLabels, 3);
    const report = await loadModelFolder(join(dir, "model"), model);
    assert.deepEqual(report.initialisedFresh, []);
    assert.deepEqual(report.unused, []);
    // The same weights from torch.save's pytorch_model.bin load identically.
    const fromBin = new BertForSequenceClassification(config, { seed: 2 });
    await loadModelFolder(join(dir, "model-bin"), fromBin);
    const binParams = fromBin.params();
    for (const [i, p] of model.params().entries()) assert.deepEqual(binParams[i].data, p.data, p.name);

    const exp = await SafetensorsFile.open(join(dir, "expected.safetensors"));
    try {
      const batchOf = async (k: number) => {
        const ids = exp.info(`step${k}.input_ids`)!.shape;
        return {
          inputIds: await exp.readI32(`step${k}.input_ids`),
          attentionMask: await exp.readI32(`step${k}.attention_mask`),
          tokenTypeIds: await exp.readI32(`step${k}.token_type_ids`),
          labels: await exp.readI32(`step${k}.labels`),
          batchSize: ids[0],
          seqLen: ids[1],
        };
      };
      const b1 = await batchOf(1);
      const { logits } = model.forward({ ...b1, labels: undefined }, { train: false });
      const lg = maxAbsDiff(logits, await exp.readF32("logits"));
      assert.ok(lg.diff < 1e-4, `logits differ by ${lg.diff}`);
      // The inference fast path (packed tokens, last layer for [CLS] alone) gives torch's logits too.
      const fast = maxAbsDiff(model.predictLogits(b1), await exp.readF32("logits"));
      assert.ok(fast.diff < 1e-4, `predictLogits differ by ${fast.diff}`);
      // output_attentions=True: every layer's probabilities, padded rows included, as `gotune attention` shows.
      const { attentions } = model.forward(
        { ...b1, labels: undefined },
        { train: false, outputAttentions: true },
      );
      assert.equal(attentions!.length, config.num_hidden_layers);
      let attDiff = 0;
      for (const [i, p] of attentions!.entries()) {
        const a = maxAbsDiff(p, await exp.readF32(`attentions.${i}`));
        assert.ok(a.diff < 1e-5, `layer ${i}: attention probabilities differ by ${a.diff} at ${a.at}`);
        attDiff = Math.max(attDiff, a.diff);
      }
      const worst = { logits: lg.diff, attention: attDiff, loss: 0, grad: 0, norm: 0, weights: 0, noisy: 0 };
      const noisy = new Map<string, Uint8Array>();

      // torch.optim.AdamW's default weight decay (0.01) on every parameter, as the script uses it.
      const params = model.params();
      const opt = new AdamW(params, { lr, weightDecay: info.hparams.weight_decay });
      for (const k of [1, 2]) {
        const batch = await batchOf(k);
        model.zeroGrad();
        const { loss } = model.forward(batch, { train: true });
        const torchLoss = (await exp.readF32(`step${k}.loss`))[0];
        assert.ok(Math.abs(loss! - torchLoss) < 1e-4, `step ${k}: loss ${loss} vs torch ${torchLoss}`);
        worst.loss = Math.max(worst.loss, Math.abs(loss! - torchLoss));
        model.backward();
        const torchGrads = new Map<string, Float32Array>();
        for (const p of params) {
          const tg = await exp.readF32(`step${k}.grad.${p.name}`);
          torchGrads.set(p.name, tg);
          const g = maxAbsDiff(p.grad, tg);
          assert.ok(g.diff < 1e-4, `step ${k}: gradient of ${p.name} differs by ${g.diff} at ${g.at}`);
          worst.grad = Math.max(worst.grad, g.diff);
        }
        const norm = globalGradNorm(params);
        const torchNorm = (await exp.readF32(`step${k}.grad_norm`))[0];
        assert.ok(Math.abs(norm - torchNorm) < 1e-4 * torchNorm, `step ${k}: norm ${norm} vs ${torchNorm}`);
        assert.ok(norm > maxNorm, "the check exercises clipping");
        worst.norm = Math.max(worst.norm, Math.abs(norm - torchNorm) / torchNorm);
        const coef = clipCoefficient(norm, maxNorm);
        opt.step({ gradScale: coef });
        opt.flush();
        for (const p of params) {
          // Adam's first steps move each weight by about lr * g / (|g| + eps): where the clipped gradient
          // is at float-noise level (|g| < 1e-6 here, ~100 eps), its direction is noise in any two
          // float32 implementations, so those weights are held only to the size of the steps taken.
          const tg = torchGrads.get(p.name)!;
          const flags = noisy.get(p.name) ?? new Uint8Array(p.data.length);
          noisy.set(p.name, flags);
          for (let i = 0; i < tg.length; i++) if (Math.abs(tg[i] * coef) < 1e-6) flags[i] = 1;
          const after = await exp.readF32(`step${k}.after.${p.name}`);
          for (let i = 0; i < after.length; i++) {
            const d = Math.abs(p.data[i] - after[i]);
            if (flags[i]) {
              worst.noisy = Math.max(worst.noisy, d);
              assert.ok(d <= 2 * lr * k, `step ${k}: ${p.name}[${i}] moved ${d} from torch's`);
            } else {
              worst.weights = Math.max(worst.weights, d);
              assert.ok(d < 1e-5, `step ${k}: ${p.name}[${i}] after the update differs by ${d}`);
            }
          }
        }
      }
      t.diagnostic(
        `max |gotune - torch|: logits ${worst.logits.toExponential(1)}, ` +
          `attention probabilities ${worst.attention.toExponential(1)}, loss ${worst.loss.toExponential(1)}, ` +
          `gradients ${worst.grad.toExponential(1)}, weights after a step ${worst.weights.toExponential(1)} ` +
          `(${worst.noisy.toExponential(1)} where the gradient is at noise level); ` +
          `gradient norm relative ${worst.norm.toExponential(1)}`,
      );
    } finally {
      await exp.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
