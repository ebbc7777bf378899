import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readModelConfig } from "../../src/hf/model-folder.js";
import { readPytorchCheckpoint } from "../../src/hf/pickle.js";
import { UserError } from "../../src/util/errors.js";
import { type CraftedTensor, checkpoint, op, statePickle, zip } from "../helpers/torch-zip.js";

let dir = "";
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-crafted-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const values = Float32Array.from({ length: 12 }, (_, i) => i + 0.5);
const view = (over: Partial<CraftedTensor>): CraftedTensor => ({
  name: "w",
  key: "0",
  offset: 0,
  shape: [3, 4],
  stride: [4, 1],
  ...over,
});

async function file(bytes: Buffer): Promise<string> {
  const p = join(dir, `crafted-${++n}.bin`);
  await writeFile(p, bytes);
  return p;
}

async function refused(bytes: Buffer, re: RegExp): Promise<void> {
  const p = await file(bytes);
  await assert.rejects(readPytorchCheckpoint(p), (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${(e as Error)?.stack}`);
    assert.ok(e.toLine().startsWith(`gotune: ${p}: `), e.toLine());
    assert.match(e.message, re);
    return true;
  });
}

test("a crafted checkpoint built here reads as torch would (the baseline for the hostile ones)", async () => {
  const got = await readPytorchCheckpoint(
    await file(checkpoint([view({}), view({ name: "t", shape: [4, 3], stride: [1, 4] })], { "0": values })),
  );
  assert.deepEqual(Array.from(got.get("w")!.data), Array.from(values));
  assert.deepEqual(Array.from(got.get("t")!.data.subarray(0, 3)), [0.5, 4.5, 8.5]);
});

test("negative, fractional-free but huge, and out-of-storage offsets, shapes and strides are refused", async () => {
  const bad = /negative, fractional or huge offset, size or stride/;
  await refused(checkpoint([view({ offset: -4 })], { "0": values }), bad);
  await refused(checkpoint([view({ shape: [-3, 4] })], { "0": values }), bad);
  await refused(checkpoint([view({ stride: [4, -1] })], { "0": values }), bad);
  await refused(checkpoint([view({ offset: 2 ** 60 })], { "0": values }), bad);
  await refused(
    checkpoint([view({ shape: [2 ** 40, 2 ** 40] })], { "0": values }),
    /a tensor of \d.* elements/,
  );
  await refused(
    checkpoint([view({ offset: 1 })], { "0": values }),
    /tensor w reaches past the end of its storage/,
  );
  await refused(checkpoint([view({ stride: [5, 1] })], { "0": values }), /reaches past the end/);
  await refused(checkpoint([view({ stride: [2 ** 52, 1] })], { "0": values }), /reaches past the end/);
  await refused(checkpoint([view({ shape: [3, 4, 5], stride: [4, 1] })], { "0": values }), /differ in rank/);
});

test("stride-0 and overlapping views may not expand past the stated limit", async () => {
  // A broadcast as torch saves small ones (expand of a column): allowed.
  const ok = await readPytorchCheckpoint(
    await file(checkpoint([view({ shape: [1000, 4], stride: [0, 1] })], { "0": values })),
  );
  assert.equal(ok.get("w")!.data.length, 4000);
  await refused(
    checkpoint([view({ shape: [5000, 4000], stride: [0, 0] })], { "0": values }),
    /views .* expand to 20000000 elements from storages of 12, past the limit/,
  );
  const many = Array.from({ length: 20 }, (_, i) => view({ name: `v${i}`, shape: [1 << 20], stride: [0] }));
  await refused(checkpoint(many, { "0": values }), /expand to \d+ elements/);
});

test("a zip entry's declared size is checked before any allocation, and against what inflates", async () => {
  const pkl = statePickle([view({})], { "0": 12 });
  const storage = Buffer.from(values.buffer);
  const entries = (over: object) =>
    zip([
      { name: "archive/data.pkl", data: pkl },
      { name: "archive/data/0", data: storage, ...over },
    ]);
  await refused(
    entries({ declared: 4_000_000_000 }),
    /corrupt zip \(.*stored file: 48 != 4000000000\)/, // yauzl refuses it as it lists the entries
  );
  await refused(
    entries({ deflate: true, declared: 4_000_000_000 }),
    /declares 4000000000 bytes from \d+, more than it can hold/,
  );
  await refused(
    entries({ deflate: true, declared: 40 }),
    /archive\/data\/0 (inflates past the 40 bytes|is corrupt)/,
  );
  await refused(
    entries({ deflate: true, declared: 60 }),
    /archive\/data\/0 (holds 48 bytes, not the 60|is corrupt)/,
  );
  const big = Buffer.alloc(80 << 20);
  await refused(
    zip([{ name: "archive/data.pkl", data: big, deflate: true }]),
    /data\.pkl declares 83886080 bytes from \d+, more than it can hold/,
  );
});

test("huge and deep pickles are refused without a stack overflow", async () => {
  const wrap = (pickle: Buffer) => zip([{ name: "archive/data.pkl", data: pickle }]);
  const million = Buffer.alloc(2_000_000, Buffer.from([0x4b, 1])); // a million BININT1 1
  await refused(
    wrap(Buffer.concat([op.proto, op.emptyList, op.mark, million, op.appends, op.stop])),
    /pickle of more than 250000 operations, far beyond a state dict's; refused/,
  );
  const lists = Buffer.alloc(5000, "]");
  const appends = Buffer.alloc(4999, "a");
  await refused(wrap(Buffer.concat([op.proto, lists, appends, op.stop])), /nested more than 100 deep/);
  await refused(
    wrap(Buffer.concat([op.proto, Buffer.alloc(100_000, "("), op.stop])),
    /more than 100 marks deep/,
  );
  const tuples = Buffer.alloc(100_000, 0x85); // TUPLE1 of TUPLE1 of ...
  await refused(wrap(Buffer.concat([op.proto, op.newFalse, tuples, op.stop])), /nested more than 100 deep/);
  // Within the limits a long APPENDS still works (one by one, not spread into a call).
  const fine = Buffer.alloc(200_000, Buffer.from([0x4b, 1]));
  await refused(
    wrap(Buffer.concat([op.proto, op.emptyList, op.mark, fine, op.appends, op.stop])),
    /does not hold a state dict/,
  );
});

async function config(body: object): Promise<string> {
  const d = join(dir, `cfg-${++n}`);
  await rm(d, { recursive: true, force: true });
  await import("node:fs/promises").then((f) => f.mkdir(d));
  await writeFile(join(d, "config.json"), JSON.stringify({ model_type: "bert", ...body }));
  return d;
}

test("config.json sizes must be sane integers; one line names the field", async () => {
  const cases: [object, RegExp][] = [
    [
      { hidden_size: 768, num_attention_heads: 7 },
      /hidden_size \(768\) must be a multiple of num_attention_heads \(7\)/,
    ],
    [{ vocab_size: -1 }, /vocab_size must be an integer from 1 to 1000000, not -1/],
    [{ num_hidden_layers: 2.5 }, /num_hidden_layers must be an integer from 1 to 128, not 2\.5/],
    [{ num_hidden_layers: 0 }, /num_hidden_layers must be an integer from 1 to 128, not 0/],
    [{ vocab_size: 1e12 }, /vocab_size must be an integer from 1 to 1000000/],
    [{ max_position_embeddings: 1e9 }, /max_position_embeddings must be an integer/],
    [{ hidden_size: "768" }, /hidden_size must be a number, not "768"/],
    [
      { hidden_size: 16384, num_hidden_layers: 128, num_attention_heads: 16 },
      /parameters, more than the 4e\+9 gotune can hold/,
    ],
    [{ hidden_dropout_prob: 1.5 }, /hidden_dropout_prob must be a probability/],
    [{ layer_norm_eps: 0 }, /layer_norm_eps must be above 0/],
    [{ pad_token_id: 40000 }, /pad_token_id must be an integer below vocab_size \(30522\)/],
    [{ id2label: { "0": "a", "7": "b" } }, /id2label must map each id 0\.\.N-1 to a name/],
    [{ id2label: { "0": { x: 1 } } }, /id2label must map each id/],
  ];
  for (const [body, re] of cases) {
    const d = await config(body);
    await assert.rejects(readModelConfig(d), (e: unknown) => {
      assert.ok(e instanceof UserError, String(e));
      assert.ok(e.toLine().startsWith(`gotune: ${join(d, "config.json")}: `), e.toLine());
      assert.match(e.message, re);
      return true;
    });
  }
  const ok = await readModelConfig(
    await config({ pad_token_id: null, hidden_size: 256, num_attention_heads: 4 }),
  );
  assert.equal(ok.config.pad_token_id, 0);
});
