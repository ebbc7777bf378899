import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { attentionOf } from "../../src/inference/attention-map.js";
import type { Classifier } from "../../src/inference/classifier.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { assertOneLineError, gotune } from "../helpers/cli.js";

let dir = "";
let model = "";
let clf: Classifier;
const TEXT = "The mitochondrial membrane binds a protein.";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-attention-"));
  model = join(dir, "model");
  clf = await writeTinyModel(model);
});
after(() => rm(dir, { recursive: true, force: true }));

test("attentionOf: one [from][to] matrix a layer and head, rows summing to 1, the model's own tokens", () => {
  const map = attentionOf(clf, TEXT);
  const { num_hidden_layers: layers, num_attention_heads: heads } = clf.model.config;
  assert.deepEqual(map.tokens, clf.tokenizer.encode(TEXT).tokens);
  assert.equal(map.tokens[0], "[CLS]");
  assert.equal(map.layers, layers);
  assert.equal(map.heads, heads);
  const T = map.tokens.length;
  assert.equal(map.attention.length, layers);
  for (const layer of map.attention) {
    assert.equal(layer.length, heads);
    for (const head of layer) {
      assert.equal(head.length, T);
      for (const row of head) {
        assert.equal(row.length, T);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      }
    }
  }
  // Heads differ (a copy of one buffer for every head or layer would not).
  assert.notDeepEqual(map.attention[0]![0], map.attention[0]![1]);
  assert.notDeepEqual(map.attention[0], map.attention[1]);
  // The same forward pass gives the prediction predictProba gives.
  const { probs } = clf.predictProba([TEXT]);
  clf.labels.forEach((l, j) => {
    assert.ok(Math.abs(map.probabilities[l]! - probs[j]!) < 1e-6);
  });
  assert.equal(map.label, clf.labels[clf.argmax(probs)[0]!]);
});

test("attentionOf: unaffected by an earlier forward of another shape; truncates to maxLength; rounds", () => {
  const first = attentionOf(clf, TEXT);
  clf.predictProba(["a much longer text about the nucleus and its envelope and the cell membrane", "x"]);
  assert.deepEqual(attentionOf(clf, TEXT), first);
  const short = attentionOf(clf, TEXT, { maxLength: 5 });
  assert.equal(short.tokens.length, 5);
  assert.equal(short.tokens[4], "[SEP]");
  const rounded = attentionOf(clf, TEXT, { digits: 2 });
  for (const v of rounded.attention[1]![0]![2]!) assert.equal(Math.round(v * 100) / 100, v);
  assert.throws(() => attentionOf(clf, TEXT, { maxLength: 2 }), /max length 2 is outside 3\.\.128/);
});

test("gotune attention writes one self-contained page holding the tokens and the attention", async () => {
  const out = join(dir, "view.html");
  const r = gotune(["attention", "--model", model, "--out", out, TEXT]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /tokens, 2 layers × 2 heads; predicted \w+\nwrote /);
  const html = await readFile(out, "utf8");
  assert.match(html, /^<!doctype html>/);
  // Self-contained: no external script, style or image.
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|<img[^>]+src=/);
  assert.match(html, /function gotuneHeadView/);
  const data = JSON.parse(
    html.match(/gotuneHeadView\(document\.getElementById\("view"\), (.*)\);<\/script>/)![1]!,
  );
  const map = attentionOf(clf, TEXT, { digits: 4 });
  assert.deepEqual(data.tokens, map.tokens);
  assert.deepEqual(data.attention, map.attention);

  const json = gotune(["attention", "--model", model, "--out", out, "--json", TEXT]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).attention, attentionOf(clf, TEXT).attention);
});

test("gotune attention: one line for an empty text, a bad --out, a folder that is no model", async () => {
  assertOneLineError(gotune(["attention", "--model", model, "  "]), /the text is empty/);
  assertOneLineError(
    gotune(["attention", "--model", model, "--out", "x.png", TEXT]),
    /does not end in \.html/,
  );
  const bad = join(dir, "bad");
  await mkdir(bad);
  await writeFile(join(bad, "config.json"), "{");
  assertOneLineError(
    gotune(["attention", "--model", bad, "--out", join(dir, "b.html"), TEXT]),
    /config\.json/,
  );
});
