/**
 * Fuzzing the model readers: small valid safetensors files, pytorch_model.bin checkpoints, config.json
 * files and shard indexes, mutated with a fixed seed (see test/helpers/fuzz.ts). Every case must load
 * or fail with one UserError line naming the file; a sample runs through `gotune predict` as well.
 */
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildFromFolder, openWeights, readModelConfig, saveModelFolder } from "../../src/hf/model-folder.js";
import { readPytorchCheckpoint } from "../../src/hf/pickle.js";
import { SafetensorsFile } from "../../src/hf/safetensors.js";
import { BertForSequenceClassification } from "../../src/model/bert.js";
import { makeConfig } from "../../src/model/config.js";
import { UserError } from "../../src/util/errors.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import {
  assertNoFailures,
  caseIndexes,
  caseRng,
  type FuzzFailure,
  fuzzCase,
  mutateBytes,
  mutateJson,
  peakRss,
} from "../helpers/fuzz.js";
import { assertCliCase, cliCase, inPairs } from "../helpers/fuzz-cli.js";
import { checkpoint, zip } from "../helpers/torch-zip.js";

const THIS = "dist/test/hf/fuzz.test.js";
let dir = "";
let rss0 = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-fuzz-hf-"));
  rss0 = process.memoryUsage().rss;
});
after(() => rm(dir, { recursive: true, force: true }));

/** Runs `count` cases of `target`: `make` builds case i's input and returns the path errors must name and the run. */
async function fuzz(
  target: string,
  count: number,
  make: (i: number) => Promise<{ file: string; run: () => Promise<unknown> }>,
): Promise<void> {
  const failures: FuzzFailure[] = [];
  for (const i of caseIndexes(count)) {
    const { file, run } = await make(i);
    const f = await fuzzCase(i, file, run);
    if (f) failures.push(f);
  }
  assertNoFailures(target, THIS, failures);
}

// A safetensors file with one tensor of every dtype the reader knows, and metadata.
const DTYPES: [string, number][] = [
  ["F32", 4],
  ["F16", 2],
  ["BF16", 2],
  ["F64", 8],
  ["I64", 8],
  ["I32", 4],
  ["I16", 2],
  ["I8", 1],
  ["U8", 1],
  ["BOOL", 1],
];
function safetensorsParts(): { header: Record<string, unknown>; data: Buffer } {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let at = 0;
  for (const [dtype, width] of DTYPES) {
    header[`t.${dtype}`] = { dtype, shape: [2, 3], data_offsets: [at, at + 6 * width] };
    at += 6 * width;
  }
  const data = Buffer.alloc(at);
  for (let i = 0; i < at; i++) data[i] = (i * 37) & 0x3f;
  return { header, data };
}
function safetensorsBytes(headerText: Buffer, data: Buffer, declared = headerText.length): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(declared));
  return Buffer.concat([len, headerText, data]);
}

test("safetensors: mutated headers and bytes load or fail with one line naming the file", async () => {
  const { header, data } = safetensorsParts();
  const valid = safetensorsBytes(Buffer.from(JSON.stringify(header)), data);
  const p = join(dir, "model.safetensors");
  await fuzz("safetensors", 600, async (i) => {
    const rng = caseRng("safetensors", i);
    let bytes: Buffer;
    if (rng.int(2)) {
      const text = mutateJson(rng, header);
      bytes = safetensorsBytes(text, data, rng.int(5) ? text.length : text.length + rng.int(16) - 8);
    } else bytes = mutateBytes(rng, valid);
    await writeFile(p, bytes);
    return {
      file: p,
      run: async () => {
        const f = await SafetensorsFile.open(p);
        try {
          for (const name of f.names()) {
            const t = f.info(name)!;
            if (/^[IUB]/.test(t.dtype)) await f.readI32(name);
            else await f.readF32(name);
          }
        } finally {
          await f.close();
        }
      },
    };
  });
});

test("pytorch_model.bin: mutated pickles, storages and zips load or fail with one line naming the file", async () => {
  const values = Float32Array.from({ length: 12 }, (_, i) => i / 4);
  const tensors = [
    { name: "w", key: "0", offset: 0, shape: [3, 4], stride: [4, 1] },
    { name: "t", key: "0", offset: 1, shape: [2, 3], stride: [1, 4] },
    { name: "b", key: "1", offset: 0, shape: [4], stride: [1] },
  ];
  const storages = { "0": values, "1": values.subarray(0, 4) };
  const valid = checkpoint(tensors, storages);
  const entries = (pickle: Buffer, deflate: boolean) => [
    { name: "archive/data.pkl", data: pickle, deflate },
    { name: "archive/byteorder", data: Buffer.from("little") },
    ...Object.entries(storages).map(([k, v]) => ({
      name: `archive/data/${k}`,
      data: Buffer.from(v.buffer, v.byteOffset, v.byteLength),
      deflate,
    })),
  ];
  const pickle = (() => {
    // The pickle checkpoint() wrote, read back from its zip: the first entry's data.
    const nameLen = valid.readUInt16LE(26);
    return valid.subarray(30 + nameLen, 30 + nameLen + valid.readUInt32LE(18));
  })();
  const p = join(dir, "pytorch_model.bin");
  await fuzz("pytorch_model.bin", 600, async (i) => {
    const rng = caseRng("pytorch_model.bin", i);
    let bytes: Buffer;
    const kind = rng.int(5);
    if (kind < 2) bytes = zip(entries(mutateBytes(rng, pickle), rng.int(3) === 0));
    else if (kind === 2) {
      // A storage cut short or grown, or a declared size that lies.
      const es = entries(pickle, rng.int(2) === 0);
      const e = es[2 + rng.int(2)]!;
      e.data = mutateBytes(rng, e.data);
      if (rng.int(3) === 0) (e as { declared?: number }).declared = rng.int(1 << 20);
      bytes = zip(es);
    } else bytes = mutateBytes(rng, valid);
    await writeFile(p, bytes);
    return { file: p, run: () => readPytorchCheckpoint(p) };
  });
});

// A classifier folder small enough to load thousands of times: config.json and model.safetensors.
const SMALL = makeConfig({
  vocab_size: 20,
  hidden_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 16,
  max_position_embeddings: 16,
  id2label: { "0": "a", "1": "b", "2": "c" },
  label2id: { a: 0, b: 1, c: 2 },
});

/** Loads a folder as Classifier.load does, without the tokenizer: config, a model of its shape, the weights. */
async function loadFolder(folder: string): Promise<void> {
  const { config } = await readModelConfig(folder);
  await buildFromFolder(folder, config, () => new BertForSequenceClassification(config, { init: false }));
}

test("config.json: mutated configs load or fail with one line naming the folder", async () => {
  const folder = join(dir, "config-folder");
  await saveModelFolder(folder, new BertForSequenceClassification(SMALL, { seed: 1 }));
  const config = JSON.parse(await readFile(join(folder, "config.json"), "utf8"));
  await fuzz("config.json", 600, async (i) => {
    await writeFile(join(folder, "config.json"), mutateJson(caseRng("config.json", i), config));
    return { file: folder, run: () => loadFolder(folder) };
  });
});

test("model.safetensors.index.json: mutated shard indexes load or fail with one line naming the folder", async () => {
  const folder = join(dir, "sharded");
  await saveModelFolder(folder, new BertForSequenceClassification(SMALL, { seed: 2 }));
  // Two shards: the classifier head apart from the rest.
  const all = await SafetensorsFile.open(join(folder, "model.safetensors"));
  const names = all.names();
  await all.close();
  const { readSafetensors, writeSafetensors } = await import("../../src/hf/safetensors.js");
  const { tensors } = await readSafetensors(join(folder, "model.safetensors"));
  const shardOf = (n: string) =>
    n.startsWith("classifier.") ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
  for (const shard of new Set(names.map(shardOf)))
    await writeSafetensors(
      join(folder, shard),
      names.filter((n) => shardOf(n) === shard).map((n) => tensors.get(n)!),
    );
  await rm(join(folder, "model.safetensors"));
  const index = {
    metadata: { total_size: 0 },
    weight_map: Object.fromEntries(names.map((n) => [n, shardOf(n)])),
  };
  await fuzz("model.safetensors.index.json", 200, async (i) => {
    await writeFile(join(folder, "model.safetensors.index.json"), mutateJson(caseRng("index", i), index));
    return {
      file: folder,
      run: async () => {
        const src = await openWeights(folder);
        await src.close();
        await loadFolder(folder);
      },
    };
  });
});

/** Asserts that `run` fails with one UserError line naming `file` and matching `re`. */
async function refused(run: () => Promise<unknown>, file: string, re: RegExp): Promise<void> {
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${(e as Error)?.stack}`);
    const line = e.toLine();
    assert.ok(!line.includes("\n") && line.includes(file), line);
    assert.match(line, re);
    return true;
  });
}

const DEEP = `${"[".repeat(20_000)}0${"]".repeat(20_000)}`;

test("regressions the fuzzer found: values nested past the call stack are shown short, never stringified", async () => {
  // safetensors: a dtype nested 20,000 deep made JSON.stringify overflow the stack in the error message.
  const p = join(dir, "deep-dtype.safetensors");
  const header = Buffer.from(`{"t":{"dtype":${DEEP},"shape":[1],"data_offsets":[0,4]}}`);
  await writeFile(p, safetensorsBytes(header, Buffer.alloc(4)));
  await refused(() => SafetensorsFile.open(p), p, /tensor t has unknown dtype \[+…\]+/);
  // config.json: the same in model_type, hidden_act, a size, id2label; label2id's ids went through Number().
  const folder = join(dir, "deep-config");
  await saveModelFolder(folder, new BertForSequenceClassification(SMALL, { seed: 3 }));
  const good = JSON.parse(await readFile(join(folder, "config.json"), "utf8"));
  const cfgFile = join(folder, "config.json");
  for (const [key, value, re] of [
    ["model_type", DEEP, /model_type \[+…\]+ is not supported/],
    ["hidden_act", DEEP, /hidden_act \[+…\]+ is not supported/],
    ["vocab_size", DEEP, /vocab_size must be a number, not \[+…\]+/],
    [
      "id2label",
      `{"0":${DEEP},"1":"b","2":"c"}`,
      /id2label must map each id 0\.\.N-1 to a name, not "0" to \[+…\]+/,
    ],
    [
      "label2id",
      `{"a":${DEEP},"b":1,"c":2}`,
      /label2id must map each name to an id 0\.\.2, not "a" to \[+…\]+/,
    ],
    ["label2id", `{"a":0.5,"b":1,"c":2}`, /label2id must map each name to an id 0\.\.2, not "a" to 0\.5/],
  ] as [string, string, RegExp][]) {
    const text = JSON.stringify({ ...good, [key]: "@" }).replace('"@"', value);
    await writeFile(cfgFile, text);
    await refused(() => loadFolder(folder), cfgFile, re);
  }
});

test("regression the fuzzer found: a config larger than its weights is refused before the model is allocated", async () => {
  const folder = join(dir, "inflated");
  await saveModelFolder(folder, new BertForSequenceClassification(SMALL, { seed: 4 }));
  const cfgFile = join(folder, "config.json");
  const good = JSON.parse(await readFile(cfgFile, "utf8"));
  // Without hidden_size the default (768) stands: 110 MB of model from 10 kB of weights.
  const { hidden_size: _, ...noWidth } = good;
  for (const cfg of [noWidth, { ...good, vocab_size: 1_000_000 }, { ...good, num_hidden_layers: 128 }]) {
    await writeFile(cfgFile, JSON.stringify(cfg));
    const rss = peakRss();
    await refused(
      () => loadFolder(folder),
      cfgFile,
      /its sizes make a model of at least \d+ weights, but .*model\.safetensors holds only \d{4} values/,
    );
    assert.ok(peakRss() - rss < 64 * 2 ** 20, "refused before allocating");
  }
  // The folder as written still loads.
  await writeFile(cfgFile, JSON.stringify(good));
  await loadFolder(folder);
});

test("the in-process cases stayed within 256 MiB more than the process started with", (t) => {
  const grown = peakRss() - rss0;
  t.diagnostic(`peak resident set grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(grown < 256 * 2 ** 20, `the peak resident set grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
});

test("gotune predict on mutated model folders: exit 0, or one line and a non-zero exit; nothing outside touched", async () => {
  const base = join(dir, "cli-base");
  await writeTinyModel(base);
  const files = ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"];
  await inPairs(caseIndexes(6), async (i) => {
    const rng = caseRng("predict", i);
    const root = join(dir, `cli-${i}`);
    const model = join(root, "model");
    await mkdir(root, { recursive: true });
    await cp(base, model, { recursive: true });
    const name = files[i % files.length]!;
    const bytes = await readFile(join(model, name));
    await writeFile(
      join(model, name),
      name.endsWith(".json") && rng.int(2)
        ? mutateJson(rng, JSON.parse(bytes.toString("utf8")))
        : mutateBytes(rng, bytes),
    );
    const r = await cliCase(root, ["predict", "--model", model, "--json", "the membrane of a cell"]);
    assertCliCase(r, `predict case ${i} (${name})`);
    await rm(root, { recursive: true, force: true });
  });
});
