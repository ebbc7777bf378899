import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  readSafetensors,
  SafetensorsFile,
  writeSafetensors,
} from "../../src/hf/safetensors.js";
import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { PYTHON } from "../helpers/torch.js";

const tmp = () => mkdtemp(join(tmpdir(), "gotune-st-"));

/** A safetensors file from a literal header and data bytes, to build odd and broken files by hand. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = Buffer.from(headerText ?? JSON.stringify(header), "utf8");
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  out.set(data, 8 + json.length);
  return out;
}

test("F32 tensors and metadata survive a write and a read, data 8-byte aligned", async () => {
  const dir = await tmp();
  const rng = new Rng(3);
  const a = { name: "a.weight", shape: [3, 5], data: Float32Array.from({ length: 15 }, () => rng.normal()) };
  const b = { name: "b", shape: [7], data: Float32Array.from({ length: 7 }, (_, i) => i - 3.5) };
  const s = { name: "scalar", shape: [], data: Float32Array.of(42) };
  const p = join(dir, "m.safetensors");
  await writeSafetensors(p, [a, b, s], { format: "pt", note: "x" });
  assert.deepEqual(await readdir(dir), ["m.safetensors"]);
  const bytes = await readFile(p);
  const hlen = Number(bytes.readBigUInt64LE(0));
  assert.equal(hlen % 8, 0);
  const header = JSON.parse(bytes.subarray(8, 8 + hlen).toString());
  assert.deepEqual(header["a.weight"], { dtype: "F32", shape: [3, 5], data_offsets: [0, 60] });
  assert.deepEqual(header.__metadata__, { format: "pt", note: "x" });
  assert.equal(bytes.length, 8 + hlen + 4 * 23);
  const back = await readSafetensors(p);
  assert.deepEqual(back.metadata, { format: "pt", note: "x" });
  assert.deepEqual([...back.tensors.keys()], ["a.weight", "b", "scalar"]);
  assert.deepEqual(back.tensors.get("a.weight")!.data, a.data);
  assert.deepEqual(back.tensors.get("b")!.shape, [7]);
  assert.deepEqual(back.tensors.get("b")!.data, b.data);
  assert.deepEqual(back.tensors.get("scalar")!.data, s.data);
});

test("F16, BF16 and F64 are read as f32; integer tensors as i32", async () => {
  const dir = await tmp();
  const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555];
  const bf16 = [0x3f80, 0x4049, 0xbf00];
  const data = Buffer.alloc(12 + 6 + 16 + 16);
  for (const [i, h] of f16.entries()) data.writeUInt16LE(h, 2 * i);
  for (const [i, h] of bf16.entries()) data.writeUInt16LE(h, 12 + 2 * i);
  data.writeDoubleLE(0.1, 18);
  data.writeDoubleLE(-1e30, 26);
  data.writeBigInt64LE(7n, 34);
  data.writeBigInt64LE(-3n, 42);
  const header = {
    h: { dtype: "F16", shape: [6], data_offsets: [0, 12] },
    bf: { dtype: "BF16", shape: [3], data_offsets: [12, 18] },
    d: { dtype: "F64", shape: [2], data_offsets: [18, 34] },
    ids: { dtype: "I64", shape: [1, 2], data_offsets: [34, 50] },
  };
  const p = join(dir, "mixed.safetensors");
  await writeFile(p, rawFile(header, data));
  const f = await SafetensorsFile.open(p);
  try {
    assert.deepEqual(
      [...(await f.readF32("h"))],
      [1, -2, 65504, 2 ** -24, Number.POSITIVE_INFINITY, 0.333251953125],
    );
    assert.deepEqual([...(await f.readF32("bf"))], [1, 3.140625, -0.5]);
    assert.deepEqual([...(await f.readF32("d"))], [Math.fround(0.1), Math.fround(-1e30)]);
    assert.deepEqual([...(await f.readI32("ids"))], [7, -3]);
    assert.deepEqual(f.info("ids")!.shape, [1, 2]);
    await assert.rejects(
      f.readF32("ids"),
      (e: unknown) => e instanceof UserError && /not a floating/.test(e.message),
    );
  } finally {
    await f.close();
  }
  assert.ok(Number.isNaN(f16ToF32(0x7e00)));
  assert.equal(f16ToF32(0x8000), -0);
});

/** Values that probe every rounding path: ties, carries into the exponent, subnormals, overflow, NaN. */
function probeValues(): Float32Array {
  const rng = new Rng(11);
  const v = [0, -0, 1, -2, 65504, 65519.99, 65520, 1e6, -1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -26];
  v.push(1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -14 - 2 ** -25, 6e-8, 5.96e-8, 1e-10, 0.1, 1 / 3, Math.PI);
  v.push(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 3.4e38, 1.00390625, 1.01171875);
  for (let i = 0; i < 2000; i++) v.push(rng.normal() * 10 ** Math.floor(rng.next() * 12 - 8));
  return Float32Array.from(v);
}

/** The 16-bit patterns Python gives for `x` (numpy's float16, or PyTorch's bfloat16). */
function pythonHalves(x: Float32Array, code: string): number[] {
  const r = spawnSync(PYTHON, ["-c", code], { input: Buffer.from(x.buffer), maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, r.stderr?.toString());
  return JSON.parse(r.stdout.toString()) as number[];
}

const READ_F32 = "import sys, numpy as np; x = np.frombuffer(sys.stdin.buffer.read(), dtype='<f4'); ";

test("F16 and BF16 are written rounded to nearest even, bit for bit as numpy and PyTorch round", async (t) => {
  const x = probeValues();
  const ours16 = Array.from(x, f32ToF16);
  const np16 = pythonHalves(x, `${READ_F32}print(x.astype('<f2').view('<u2').tolist())`);
  for (let i = 0; i < x.length; i++)
    if (!Number.isNaN(x[i]!)) assert.equal(ours16[i], np16[i], `f16 of ${x[i]}`);
  assert.ok(Number.isNaN(f16ToF32(f32ToF16(Number.NaN))));
  // A write and a read give the rounded values back.
  const dir = await tmp();
  const p = join(dir, "half.safetensors");
  const data = x.filter((v) => Number.isFinite(v));
  await writeSafetensors(p, [{ name: "w", shape: [data.length], data }], { format: "pt" }, "F16");
  const back = (await readSafetensors(p)).tensors.get("w")!.data;
  for (let i = 0; i < data.length; i++) assert.equal(back[i], f16ToF32(f32ToF16(data[i]!)));
  const bytes = await readFile(p);
  assert.equal(JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString()).w.dtype, "F16");

  if (spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status !== 0)
    return t.skip(`${PYTHON} cannot import torch (Debian's python3-torch) for the BF16 reference`);
  const oursBf = Array.from(x, f32ToBf16);
  const torchBf = pythonHalves(
    x,
    `${READ_F32}import torch; print(torch.from_numpy(x.copy()).to(torch.bfloat16).view(torch.int16).numpy().view('<u2').tolist())`,
  );
  for (let i = 0; i < x.length; i++)
    if (!Number.isNaN(x[i]!)) assert.equal(oursBf[i], torchBf[i], `bf16 of ${x[i]}`);
  await writeSafetensors(p, [{ name: "w", shape: [data.length], data }], { format: "pt" }, "BF16");
  const backBf = (await readSafetensors(p)).tensors.get("w")!.data;
  const widen = (h: number) => new Float32Array(new Uint32Array([h << 16]).buffer)[0];
  for (let i = 0; i < data.length; i++) assert.equal(backBf[i], widen(f32ToBf16(data[i]!)));
});

/** Asserts that opening `bytes` as a file fails with one UserError line naming the file and `pattern`. */
async function assertBad(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const dir = await tmp();
  const p = join(dir, "bad.safetensors");
  await writeFile(p, bytes);
  await assert.rejects(SafetensorsFile.open(p), (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`);
    const line = e.toLine();
    assert.ok(line.includes(p), line);
    assert.match(line, pattern);
    assert.ok(!line.includes("\n"));
    return true;
  });
}

test("corrupt headers, truncated data and bad offsets are clear errors naming the file", async () => {
  const good = encodeSafetensors([{ name: "w", shape: [4, 4], data: new Float32Array(16).fill(1) }]);
  await assertBad(good.subarray(0, good.length - 5), /past its end.*truncated/);
  await assertBad(good.subarray(0, 5), /only 5 bytes/);
  await assertBad(good.subarray(0, 20), /header .* runs past the end/);
  await assertBad(rawFile(null, new Uint8Array(8), "{not json!"), /not JSON/);
  await assertBad(rawFile(null, new Uint8Array(0), "[1,2]"), /not an object/);
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(1n << 60n, 0);
  await assertBad(huge, /header length .* out of range/);
  const data = new Uint8Array(16);
  await assertBad(rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [0, 24] } }, data), /past its end/);
  await assertBad(
    rawFile({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, data),
    /do not hold shape/,
  );
  await assertBad(rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, data), /wrong order/);
  await assertBad(rawFile({ w: { dtype: "Q4", shape: [2], data_offsets: [0, 8] } }, data), /unknown dtype/);
  await assertBad(rawFile({ w: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, data), /invalid shape/);
  await assertBad(
    rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [0] } }, data),
    /invalid data_offsets/,
  );
  await assertBad(
    rawFile(
      {
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      },
      data,
    ),
    /overlap/,
  );
});

test("a file truncated after opening fails on read with a clear error", async () => {
  const dir = await tmp();
  const p = join(dir, "t.safetensors");
  await writeSafetensors(p, [{ name: "w", shape: [1000], data: new Float32Array(1000).fill(2) }]);
  const f = await SafetensorsFile.open(p);
  try {
    await truncate(p, 1000);
    await assert.rejects(
      f.readF32("w"),
      (e: unknown) => e instanceof UserError && /truncated/.test(e.message),
    );
    await assert.rejects(
      f.readF32("nope"),
      (e: unknown) => e instanceof UserError && /no tensor named nope/.test(e.message),
    );
  } finally {
    await f.close();
  }
});

test("a missing file is a UserError", async () => {
  await assert.rejects(SafetensorsFile.open("/nonexistent/x.safetensors"), UserError);
});
