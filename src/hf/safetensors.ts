/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
 * (name -> dtype, shape, data_offsets; optional __metadata__), then the raw little-endian tensor bytes.
 * Tensors are read straight into their destination arrays, so a 700 MB checkpoint is never held twice.
 */
import type { promises as fsp } from "node:fs";
import { shown, UserError } from "../util/errors.js";
import { openRegularFile, writeFileAtomic } from "../util/fsx.js";

/** The dtypes gotune reads; floats are converted to f32, integers to i32. */
export type Dtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const DTYPE_BYTES: Record<Dtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** One tensor's entry in the header; `begin`/`end` are absolute byte offsets in the file. */
export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/** A source of named f32 tensors (a safetensors file, a sharded folder, a PyTorch checkpoint...). */
export interface TensorSource {
  /** Where the tensors come from, for error messages. */
  readonly path: string;
  names(): string[];
  info(name: string): { dtype: string; shape: number[] } | undefined;
  /** Reads a tensor as f32 into `out` (allocated when absent) and returns it. */
  readF32(name: string, out?: Float32Array): Promise<Float32Array>;
  close(): Promise<void>;
}

/** A tensor to write: its name, shape and row-major f32 data. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

// A header larger than this is not a real checkpoint's (the Rust reference caps it at 100 MB).
const MAX_HEADER = 100_000_000;

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** An open safetensors file: the parsed header, with tensors read on demand. */
export class SafetensorsFile implements TensorSource {
  private constructor(
    readonly path: string,
    private readonly fh: fsp.FileHandle,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
    /** Where the data section starts (8 + the header's length). */
    readonly dataStart: number,
  ) {}

  /** Opens and validates `path`; a corrupt header or out-of-range offsets is a UserError naming it. */
  static async open(path: string): Promise<SafetensorsFile> {
    const fh = await openRegularFile(path, "safetensors file");
    try {
      const { tensors, metadata, dataStart } = await readHeader(path, fh);
      return new SafetensorsFile(path, fh, tensors, metadata, dataStart);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo | undefined {
    return this.tensors.get(name);
  }

  /** The raw bytes of one tensor. */
  async readBytes(name: string): Promise<Uint8Array> {
    const t = this.need(name);
    const buf = new Uint8Array(t.end - t.begin);
    await this.readInto(t, buf);
    return buf;
  }

  async readF32(name: string, out?: Float32Array): Promise<Float32Array> {
    const t = this.need(name);
    const n = numel(t.shape);
    const dst = out ?? new Float32Array(n);
    if (dst.length !== n)
      throw new Error(`readF32(${name}): destination holds ${dst.length} values, tensor ${n}`);
    if (t.dtype === "F32") {
      await this.readInto(t, new Uint8Array(dst.buffer, dst.byteOffset, n * 4));
      if (!LITTLE_ENDIAN) swapInPlace(new Uint8Array(dst.buffer, dst.byteOffset, n * 4), 4);
      return dst;
    }
    const raw = await this.readBytes(name);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    switch (t.dtype) {
      case "F16":
        for (let i = 0; i < n; i++) dst[i] = f16ToF32(dv.getUint16(2 * i, true));
        break;
      case "BF16": {
        const u32 = new Uint32Array(1);
        const f32 = new Float32Array(u32.buffer);
        for (let i = 0; i < n; i++) {
          u32[0] = dv.getUint16(2 * i, true) << 16;
          dst[i] = f32[0];
        }
        break;
      }
      case "F64":
        for (let i = 0; i < n; i++) dst[i] = dv.getFloat64(8 * i, true);
        break;
      default:
        throw new UserError(`tensor ${name} has dtype ${t.dtype}, not a floating-point type`, {
          file: this.path,
          hint: "this tensor cannot be loaded as weights",
        });
    }
    return dst;
  }

  /** Reads an integer tensor (I64 values must fit in 32 bits) as i32. */
  async readI32(name: string): Promise<Int32Array> {
    const t = this.need(name);
    const n = numel(t.shape);
    const raw = await this.readBytes(name);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let v: number;
      if (t.dtype === "I64") v = Number(dv.getBigInt64(8 * i, true));
      else if (t.dtype === "I32") v = dv.getInt32(4 * i, true);
      else if (t.dtype === "I16") v = dv.getInt16(2 * i, true);
      else if (t.dtype === "I8") v = dv.getInt8(i);
      else if (t.dtype === "U8" || t.dtype === "BOOL") v = dv.getUint8(i);
      else
        throw new UserError(`tensor ${name} has dtype ${t.dtype}, not an integer type`, { file: this.path });
      if (v > 0x7fffffff || v < -0x80000000)
        throw new UserError(`tensor ${name} holds ${v}, beyond 32 bits`, { file: this.path });
      out[i] = v;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  private need(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new UserError(`no tensor named ${name}`, { file: this.path });
    return t;
  }

  private async readInto(t: TensorInfo, buf: Uint8Array): Promise<void> {
    let done = 0;
    // A single read is capped at 2 GiB by the OS, and may return less than asked.
    while (done < buf.length) {
      const len = Math.min(buf.length - done, 1 << 30);
      const { bytesRead } = await this.fh.read(buf, done, len, t.begin + done);
      if (bytesRead === 0)
        throw new UserError(`the file ends inside tensor ${t.name} (truncated)`, {
          file: this.path,
          hint: "the file is incomplete; copy or download it again",
        });
      done += bytesRead;
    }
  }
}

async function readHeader(
  path: string,
  fh: fsp.FileHandle,
): Promise<{ tensors: Map<string, TensorInfo>; metadata: Record<string, string>; dataStart: number }> {
  const bad = (what: string) =>
    new UserError(`not a valid safetensors file: ${what}`, {
      file: path,
      hint: "the file is corrupt or not safetensors; copy or download it again",
    });
  const size = (await fh.stat()).size;
  if (size < 8) throw bad(`only ${size} bytes long`);
  const lenBuf = Buffer.alloc(8);
  await fh.read(lenBuf, 0, 8, 0);
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen < 2 || headerLen > MAX_HEADER) throw bad(`header length ${headerLen} is out of range`);
  if (8 + headerLen > size) throw bad(`header of ${headerLen} bytes runs past the end of the file`);
  const hb = Buffer.alloc(headerLen);
  await fh.read(hb, 0, headerLen, 8);
  let header: unknown;
  try {
    header = JSON.parse(hb.toString("utf8"));
  } catch {
    throw bad("the header is not JSON");
  }
  if (!header || typeof header !== "object" || Array.isArray(header))
    throw bad("the header is not an object");
  const dataStart = 8 + headerLen;
  const dataLen = size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (v && typeof v === "object" && !Array.isArray(v)) metadata = v as Record<string, string>;
      else throw bad("__metadata__ is not an object");
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== "object") throw bad(`entry ${name} is not an object`);
    if (typeof e.dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, e.dtype))
      throw bad(`tensor ${name} has unknown dtype ${shown(e.dtype)}`);
    const dtype = e.dtype as Dtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw bad(`tensor ${name} has an invalid shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0))
      throw bad(`tensor ${name} has invalid data_offsets`);
    const [b, end] = off as [number, number];
    if (b > end) throw bad(`tensor ${name} has data_offsets [${b}, ${end}] in the wrong order`);
    if (end > dataLen)
      throw bad(
        `tensor ${name} ends at byte ${end} of the data, past its end (${dataLen} bytes; the file may be truncated)`,
      );
    const shape = e.shape as number[];
    if (end - b !== numel(shape) * DTYPE_BYTES[dtype])
      throw bad(`tensor ${name}: ${end - b} bytes do not hold shape [${shape}] of ${dtype}`);
    tensors.set(name, { name, dtype, shape, begin: dataStart + b, end: dataStart + end });
  }
  const spans = [...tensors.values()].filter((t) => t.end > t.begin).sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < spans.length; i++)
    if (spans[i].begin < spans[i - 1].end)
      throw bad(`tensors ${spans[i - 1].name} and ${spans[i].name} overlap`);
  return { tensors, metadata, dataStart };
}

/** Reads a whole safetensors file as f32 tensors (for small files and tests). */
export async function readSafetensors(
  path: string,
): Promise<{ tensors: Map<string, NamedTensor>; metadata: Record<string, string> }> {
  const f = await SafetensorsFile.open(path);
  try {
    const tensors = new Map<string, NamedTensor>();
    for (const t of f.tensors.values())
      tensors.set(t.name, { name: t.name, shape: t.shape, data: await f.readF32(t.name) });
    return { tensors, metadata: f.metadata };
  } finally {
    await f.close();
  }
}

/** The float dtypes gotune writes: F32 as trained, F16 or BF16 to halve a shipped model (rounded to nearest even). */
export type WriteDtype = "F32" | "F16" | "BF16";

/** Builds the bytes of a safetensors file holding `tensors` as `dtype` (F32 by default), in the given order. */
export function encodeSafetensors(
  tensors: NamedTensor[],
  metadata?: Record<string, string>,
  dtype: WriteDtype = "F32",
): Uint8Array {
  const width = DTYPE_BYTES[dtype];
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new Error(`encodeSafetensors: tensor ${t.name} given twice`);
    seen.add(t.name);
    if (t.data.length !== numel(t.shape))
      throw new Error(`encodeSafetensors: ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length * width] };
    offset += t.data.length * width;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors) {
    if (dtype === "F32") {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * 4);
      out.set(bytes, at);
      if (!LITTLE_ENDIAN) swapInPlace(out.subarray(at, at + bytes.length), 4);
    } else {
      const half = dtype === "F16" ? f32ToF16 : f32ToBf16;
      for (let i = 0; i < t.data.length; i++) view.setUint16(at + 2 * i, half(t.data[i]!), true);
    }
    at += t.data.length * width;
  }
  return out;
}

/** Writes `tensors` to a safetensors file atomically (temporary file, then rename). */
export async function writeSafetensors(
  path: string,
  tensors: NamedTensor[],
  metadata: Record<string, string> = { format: "pt" },
  dtype: WriteDtype = "F32",
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata, dtype));
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapInPlace(b: Uint8Array, width: number): void {
  for (let i = 0; i < b.length; i += width) b.subarray(i, i + width).reverse();
}

/** IEEE half -> single precision, subnormals, infinities and NaN included. */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Single -> IEEE half precision, rounded to nearest even as numpy and PyTorch do (overflow gives infinity). */
export function f32ToF16(x: number): number {
  F32[0] = x;
  const b = U32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // the half exponent field: 127 - 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // A half subnormal (or zero): the 24-bit significand shifted down, rounding to nearest even.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the significand bumps the exponent, up to infinity: what IEEE rounding gives.
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

/** Single -> bfloat16 (the top 16 bits), rounded to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16(x: number): number {
  F32[0] = x;
  const b = U32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}
