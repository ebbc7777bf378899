/**
 * PyTorch checkpoints (`pytorch_model.bin`, torch.save since 1.6): a zip holding `PREFIX/data.pkl`,
 * a pickle of the state dict, and `PREFIX/data/KEY`, the raw little-endian storages it points to.
 *
 * The pickle is interpreted, never executed: only the opcodes a state dict needs are known, and only
 * an allow-list of globals (OrderedDict, torch's tensor rebuilders, storage types) is accepted. Any
 * other global (os.system, builtins.eval, ...) is refused as soon as it is named, before anything
 * could be called.
 */
import yauzl from "yauzl";
import { UserError } from "../util/errors.js";
import { openRegularFile } from "../util/fsx.js";
import { type Dtype, f16ToF32, type TensorSource } from "./safetensors.js";

/** One tensor of a checkpoint, made contiguous and converted to f32 (`dtype` is the stored one). */
export interface PtTensor {
  dtype: Dtype;
  shape: number[];
  data: Float32Array;
}

const STORAGES: Record<string, { dtype: Dtype; bytes: number }> = {
  FloatStorage: { dtype: "F32", bytes: 4 },
  DoubleStorage: { dtype: "F64", bytes: 8 },
  HalfStorage: { dtype: "F16", bytes: 2 },
  BFloat16Storage: { dtype: "BF16", bytes: 2 },
  LongStorage: { dtype: "I64", bytes: 8 },
  IntStorage: { dtype: "I32", bytes: 4 },
  ShortStorage: { dtype: "I16", bytes: 2 },
  CharStorage: { dtype: "I8", bytes: 1 },
  ByteStorage: { dtype: "U8", bytes: 1 },
  BoolStorage: { dtype: "BOOL", bytes: 1 },
};

// Globals a state dict may name, and nothing else.
const ALLOWED = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_parameter",
  ...Object.keys(STORAGES).map((s) => `torch.${s}`),
]);

// Limits far above any real state dict's, far below what would exhaust memory or the call stack.
/** Opcodes that create a value, at most (a state dict of 1,000 tensors needs about 20,000). */
const MAX_PICKLE_ITEMS = 250_000;
/** Nesting of containers and marks, at most (a state dict nests 4 deep). */
const MAX_DEPTH = 100;
/** The pickle itself, at most (a state dict's is a few hundred kB). */
const MAX_PICKLE_BYTES = 64 << 20;
/** Zip entries, at most (torch.save writes one per storage, plus a few). */
const MAX_ENTRIES = 200_000;
/** Elements a tensor may hold (a Float32Array's bound). */
const MAX_ELEMENTS = 2 ** 31 - 1;
/** Elements views may add beyond the storages' own (stride-0 expansions, overlapping views). */
const MAX_VIEW_EXCESS = 16 * 2 ** 20;
/** DEFLATE's best ratio is about 1,032:1; a declared size beyond that is a lie. */
const MAX_DEFLATE_RATIO = 1032;

class Global {
  constructor(readonly name: string) {}
}
class Storage {
  constructor(
    readonly key: string,
    readonly dtype: Dtype,
    readonly bytes: number,
  ) {}
}
class TensorRef {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** Reads every tensor of a pytorch_model.bin; forbidden pickle content or a corrupt file is a UserError. */
export async function readPytorchCheckpoint(path: string): Promise<Map<string, PtTensor>> {
  const head = Buffer.alloc(4);
  const fh = await openRegularFile(path, "PyTorch checkpoint");
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head.readUInt32LE(0) !== 0x04034b50) {
    const legacy = head[0] === 0x80;
    throw new UserError(
      legacy
        ? "is a legacy (before PyTorch 1.6) checkpoint, which gotune does not read"
        : "is not a PyTorch checkpoint (not a zip)",
      { file: path, hint: "re-save it with a recent torch.save, or convert it to model.safetensors" },
    );
  }
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new UserError(`is a corrupt zip (${(err as Error).message})`, {
      file: path,
      hint: "re-download the checkpoint",
    });
  }
  try {
    const entries = await listEntries(zip, path);
    const pkl = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (!pkl) throw new UserError("has no data.pkl: not a torch.save checkpoint", { file: path });
    const prefix = pkl.slice(0, -"data.pkl".length);
    const order = entries.get(`${prefix}byteorder`);
    if (order && (await readEntry(zip, order, path, 64)).toString("latin1").trim() !== "little")
      throw new UserError("stores big-endian tensors, which gotune does not read", { file: path });
    const root = unpickle(await readEntry(zip, entries.get(pkl)!, path, MAX_PICKLE_BYTES), path);
    const dict = stateDictOf(root, path);
    const storages = new Map<string, Buffer>();
    // Each storage is dropped after its last tensor, so the raw bytes are never all held at once.
    const uses = new Map<string, number>();
    for (const ref of dict.values()) uses.set(ref.storage.key, (uses.get(ref.storage.key) ?? 0) + 1);
    const out = new Map<string, PtTensor>();
    let storageElements = 0;
    let tensorElements = 0;
    for (const [name, ref] of dict) {
      let buf = storages.get(ref.storage.key);
      if (!buf) {
        const entry = entries.get(`${prefix}data/${ref.storage.key}`);
        if (!entry)
          throw new UserError(`lacks the storage ${ref.storage.key} of ${name}`, {
            file: path,
            hint: "re-download the checkpoint",
          });
        buf = await readEntry(zip, entry, path);
        storages.set(ref.storage.key, buf);
        storageElements += Math.floor(buf.length / ref.storage.bytes);
      }
      tensorElements += numel(ref.shape);
      // Views may repeat storage bytes (expand, overlapping strides), but not without bound.
      if (tensorElements > storageElements + MAX_VIEW_EXCESS)
        throw new UserError(
          `its views (${name} and those before it) expand to ${tensorElements} elements from storages of ${storageElements}, past the limit of ${MAX_VIEW_EXCESS} more`,
          { file: path, hint: "a real checkpoint does not repeat its storages like this; do not use it" },
        );
      out.set(name, { dtype: ref.storage.dtype, shape: ref.shape, data: gather(ref, buf, name, path) });
      const left = uses.get(ref.storage.key)! - 1;
      uses.set(ref.storage.key, left);
      if (left === 0) storages.delete(ref.storage.key);
    }
    return out;
  } finally {
    zip.close();
  }
}

/** A pytorch_model.bin as a TensorSource, so model-folder loading can take it like safetensors. */
export class PytorchCheckpoint implements TensorSource {
  private constructor(
    readonly path: string,
    private readonly tensors: Map<string, PtTensor>,
  ) {}

  /** Reads the whole checkpoint (see readPytorchCheckpoint). */
  static async open(path: string): Promise<PytorchCheckpoint> {
    return new PytorchCheckpoint(path, await readPytorchCheckpoint(path));
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): { dtype: string; shape: number[] } | undefined {
    const t = this.tensors.get(name);
    return t && { dtype: t.dtype, shape: t.shape };
  }

  async readF32(name: string, out?: Float32Array): Promise<Float32Array> {
    const t = this.tensors.get(name);
    if (!t) throw new UserError(`has no tensor ${name}`, { file: this.path });
    if (!out) return t.data;
    out.set(t.data);
    return out;
  }

  async close(): Promise<void> {
    this.tensors.clear();
  }
}

async function listEntries(zip: yauzl.ZipFile, path: string): Promise<Map<string, yauzl.Entry>> {
  const entries = new Map<string, yauzl.Entry>();
  if (zip.entryCount > MAX_ENTRIES)
    throw new UserError(`its zip declares ${zip.entryCount} entries, more than a checkpoint has`, {
      file: path,
      hint: "the file is corrupt or hostile; do not use it",
    });
  await new Promise<void>((resolve, reject) => {
    zip.on("entry", (e: yauzl.Entry) => {
      entries.set(e.fileName, e);
      zip.readEntry();
    });
    zip.on("end", resolve);
    zip.on("error", reject);
    zip.readEntry();
  }).catch((err) => {
    throw new UserError(`is a corrupt zip (${(err as Error).message})`, {
      file: path,
      hint: "re-download the checkpoint",
    });
  });
  return entries;
}

/**
 * Reads one zip entry whole. Its declared size is checked before the buffer is allocated (stored:
 * equal to its compressed size; deflated: within DEFLATE's best ratio; at most `cap`), and against the
 * bytes really inflated while reading.
 */
async function readEntry(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  path: string,
  cap = MAX_ELEMENTS * 8,
): Promise<Buffer> {
  const bad = (why: string) =>
    new UserError(`its zip entry ${entry.fileName} ${why}`, {
      file: path,
      hint: "the file is corrupt or hostile; re-download the checkpoint",
    });
  const declared = entry.uncompressedSize;
  const packed = entry.compressedSize;
  if (entry.compressionMethod === 0 && declared !== packed)
    throw bad(`is stored, yet declares ${declared} bytes in ${packed}`);
  if (declared > cap || declared > Math.max(packed, 1) * MAX_DEFLATE_RATIO)
    throw bad(`declares ${declared} bytes from ${packed}, more than it can hold`);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await zip.openReadStreamPromise(entry);
  } catch (err) {
    throw bad(`cannot be read (${(err as Error).message})`);
  }
  const buf = Buffer.allocUnsafe(declared);
  let at = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (at + chunk.length > declared) throw bad(`inflates past the ${declared} bytes it declares`);
      chunk.copy(buf, at);
      at += chunk.length;
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw bad(`is corrupt (${(err as Error).message})`);
  }
  if (at !== declared) throw bad(`holds ${at} bytes, not the ${declared} it declares`);
  return buf;
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function stateDictOf(root: unknown, path: string): Map<string, TensorRef> {
  let dict = root;
  // Training scripts often wrap the weights: {"state_dict": {...}} or {"model": {...}}.
  if (dict instanceof Map && ![...dict.values()].some((v) => v instanceof TensorRef)) {
    dict = dict.get("state_dict") ?? dict.get("model") ?? dict;
  }
  if (!(dict instanceof Map))
    throw new UserError("does not hold a state dict (name -> tensor)", { file: path });
  const out = new Map<string, TensorRef>();
  for (const [k, v] of dict) if (typeof k === "string" && v instanceof TensorRef) out.set(k, v);
  if (out.size === 0) throw new UserError("holds no tensors", { file: path });
  return out;
}

// Reads a (possibly strided) tensor out of its storage into a contiguous f32 array.
function gather(ref: TensorRef, buf: Buffer, name: string, path: string): Float32Array {
  const { shape, stride, offset } = ref;
  const n = numel(shape);
  const size = ref.storage.bytes;
  const last = Math.floor(buf.length / size) - 1; // the storage's last element
  let maxIndex = offset;
  // Checked term by term, so no sum ever leaves the exact range of a double.
  for (let d = 0; d < shape.length && n > 0; d++) {
    if (maxIndex > last) break;
    maxIndex += (shape[d]! - 1) * Math.min(stride[d]!, last + 1);
  }
  if (n > 0 && maxIndex > last)
    throw new UserError(`tensor ${name} reaches past the end of its storage`, {
      file: path,
      hint: "the checkpoint is corrupt",
    });
  const out = new Float32Array(n);
  let contiguous = true;
  for (let d = shape.length - 1, step = 1; d >= 0; step *= shape[d]!, d--)
    if (shape[d] !== 1 && stride[d] !== step) contiguous = false;
  const at = buf.byteOffset + offset * 4;
  if (contiguous && ref.storage.dtype === "F32" && at % 4 === 0) {
    // The common case (a row-major f32 tensor): one bulk copy instead of per-element reads.
    out.set(new Float32Array(buf.buffer, at, n));
    return out;
  }
  const read = reader(ref.storage.dtype, buf);
  const idx = new Array<number>(shape.length).fill(0);
  let src = offset;
  for (let i = 0; i < n; i++) {
    out[i] = read(src);
    // Odometer over the shape: advance the last axis, carrying into earlier ones.
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]!++;
      src += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      src -= idx[d]! * stride[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

function reader(dtype: Dtype, b: Buffer): (i: number) => number {
  switch (dtype) {
    case "F32":
      return (i) => b.readFloatLE(i * 4);
    case "F64":
      return (i) => b.readDoubleLE(i * 8);
    case "F16":
      return (i) => f16ToF32(b.readUInt16LE(i * 2));
    case "BF16":
      return (i) => {
        // bfloat16 is the top half of an f32.
        bf16.setUint32(0, b.readUInt16LE(i * 2) << 16);
        return bf16.getFloat32(0);
      };
    case "I64":
      return (i) => Number(b.readBigInt64LE(i * 8));
    case "I32":
      return (i) => b.readInt32LE(i * 4);
    case "I16":
      return (i) => b.readInt16LE(i * 2);
    case "I8":
      return (i) => b.readInt8(i);
    default:
      return (i) => b[i]!;
  }
}
const bf16 = new DataView(new ArrayBuffer(4));

/** Interprets a pickle holding a torch state dict; dicts become Maps, tensors TensorRefs. */
function unpickle(data: Buffer, path: string): unknown {
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  // Nesting depth of each container built, so a deeply nested pickle is refused as it is read.
  const depths = new WeakMap<object, number>();
  let items = 0;
  let p = 0;
  const corrupt = (why: string) =>
    new UserError(`has a corrupt pickle (${why})`, {
      file: path,
      hint: "re-download or re-save the checkpoint",
    });
  const need = (n: number) => {
    if (p + n > data.length) throw corrupt("it ends too early");
  };
  const line = () => {
    const end = data.indexOf(10, p);
    if (end < 0) throw corrupt("unterminated line");
    const s = data.toString("utf8", p, end);
    p = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) throw corrupt("stack underflow");
    return stack.pop();
  };
  const huge = (why: string) =>
    new UserError(`has a pickle ${why}, far beyond a state dict's; refused`, {
      file: path,
      hint: "the checkpoint is corrupt or hostile; do not use it",
    });
  const depthOf = (v: unknown) => (typeof v === "object" && v !== null ? (depths.get(v) ?? 1) : 0);
  // Records that `container` now holds `children`, refusing nesting past MAX_DEPTH.
  const holds = (container: object, children: unknown[]) => {
    let d = depths.get(container) ?? 1;
    for (const c of children) d = Math.max(d, depthOf(c) + 1);
    if (d > MAX_DEPTH) throw huge(`nested more than ${MAX_DEPTH} deep`);
    depths.set(container, d);
    return container;
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) throw corrupt("no mark");
    return stack.splice(m);
  };
  const top = () => stack[stack.length - 1];
  const global = (module: string, name: string) => {
    const full = `${module}.${name}`;
    if (!ALLOWED.has(full))
      throw new UserError(
        `its pickle names ${full}, which is not part of a tensor state dict; refused, nothing was run`,
        {
          file: path,
          hint: "only plain state dicts of tensors are read; load untrusted checkpoints nowhere",
        },
      );
    return new Global(full);
  };
  const str = (n: number) => {
    need(n);
    const s = data.toString("utf8", p, p + n);
    p += n;
    return s;
  };
  while (p < data.length) {
    const op = data[p++]!;
    if (++items > MAX_PICKLE_ITEMS) throw huge(`of more than ${MAX_PICKLE_ITEMS} operations`);
    switch (op) {
      case 0x80: // PROTO
        need(1);
        p += 1;
        break;
      case 0x95: // FRAME
        need(8);
        p += 8;
        break;
      case 0x63: // GLOBAL
        stack.push(global(line(), line()));
        break;
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof name !== "string" || typeof module !== "string")
          throw corrupt("a global named by non-strings");
        stack.push(global(module, name));
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memo.set(data[p++]!, top());
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(data.readUInt32LE(p), top());
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const n = op === 0x68 ? 1 : 4;
        need(n);
        const k = n === 1 ? data[p]! : data.readUInt32LE(p);
        p += n;
        if (!memo.has(k)) throw corrupt(`memo ${k} unset`);
        stack.push(memo.get(k));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x29: // EMPTY_TUPLE
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x28: // MARK
        if (marks.length >= MAX_DEPTH) throw huge(`nested more than ${MAX_DEPTH} marks deep`);
        marks.push(stack.length);
        break;
      case 0x74: // TUPLE
      case 0x6c: {
        // LIST
        const xs = popMark();
        stack.push(holds(xs, xs));
        break;
      }
      case 0x64: {
        // DICT
        const xs = popMark();
        const m = new Map();
        for (let i = 0; i + 1 < xs.length; i += 2) m.set(xs[i], xs[i + 1]);
        stack.push(holds(m, xs));
        break;
      }
      case 0x85: {
        // TUPLE1
        const xs = [pop()];
        stack.push(holds(xs, xs));
        break;
      }
      case 0x86: {
        // TUPLE2
        const b = pop();
        const xs = [pop(), b];
        stack.push(holds(xs, xs));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const xs = [pop(), b, c];
        stack.push(holds(xs, xs));
        break;
      }
      case 0x4a: // BININT
        need(4);
        stack.push(data.readInt32LE(p));
        p += 4;
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(data[p++]);
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(data.readUInt16LE(p));
        p += 2;
        break;
      case 0x8a: {
        // LONG1
        need(1);
        const n = data[p++]!;
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]!);
        if (n > 0 && data[p + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: // BINFLOAT
        need(8);
        stack.push(data.readDoubleBE(p));
        p += 8;
        break;
      case 0x58: // BINUNICODE
      case 0x54: // BINSTRING
      case 0x42: // BINBYTES
        need(4);
        p += 4;
        stack.push(str(data.readUInt32LE(p - 4)));
        break;
      case 0x8c: // SHORT_BINUNICODE
      case 0x55: // SHORT_BINSTRING
      case 0x43: // SHORT_BINBYTES
        need(1);
        p += 1;
        stack.push(str(data[p - 1]!));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x51: {
        // BINPERSID: ('storage', StorageType, key, location, numel)
        const pid = pop();
        if (!Array.isArray(pid) || pid[0] !== "storage" || !(pid[1] instanceof Global))
          throw corrupt("a persistent id that is not a storage");
        const kind = STORAGES[pid[1].name.slice("torch.".length)];
        if (!kind) throw corrupt(`unknown storage ${pid[1].name}`);
        if (typeof pid[2] !== "string" && typeof pid[2] !== "number")
          throw corrupt("a storage key that is not a name");
        stack.push(new Storage(String(pid[2]), kind.dtype, kind.bytes));
        break;
      }
      case 0x52: {
        // REDUCE: only the allowed globals, interpreted as data constructors.
        const args = pop();
        const fn = pop();
        if (!(fn instanceof Global) || !Array.isArray(args)) throw corrupt("REDUCE on a non-callable");
        stack.push(construct(fn.name, args, corrupt));
        break;
      }
      case 0x62: {
        // BUILD: state for an OrderedDict (its _metadata attribute) carries nothing gotune needs.
        pop();
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        const d = top();
        if (!(d instanceof Map)) throw corrupt("SETITEM on a non-dict");
        holds(d, [k, v]);
        d.set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const xs = popMark();
        const d = top();
        if (!(d instanceof Map)) throw corrupt("SETITEMS on a non-dict");
        holds(d, xs);
        for (let i = 0; i + 1 < xs.length; i += 2) d.set(xs[i], xs[i + 1]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) throw corrupt("APPEND on a non-list");
        holds(l, [v]);
        l.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const xs = popMark();
        const l = top();
        if (!Array.isArray(l)) throw corrupt("APPENDS on a non-list");
        holds(l, xs);
        // One by one: spreading a huge list into push() would overflow the call stack.
        for (const x of xs) l.push(x);
        break;
      }
      case 0x2e: // STOP
        return pop();
      default:
        throw new UserError(
          `its pickle uses opcode 0x${op.toString(16)} (${JSON.stringify(String.fromCharCode(op))}), which a state dict never needs; refused`,
          {
            file: path,
            hint: "only plain state dicts of tensors are read",
          },
        );
    }
  }
  throw corrupt("no STOP");
}

function construct(name: string, args: unknown[], corrupt: (w: string) => UserError): unknown {
  switch (name) {
    case "collections.OrderedDict": {
      const pairs = Array.isArray(args[0]) ? (args[0] as unknown[]) : [];
      if (!pairs.every((kv) => Array.isArray(kv) && kv.length === 2))
        throw corrupt("an OrderedDict of non-pairs");
      return new Map(pairs as [unknown, unknown][]);
    }
    case "torch._utils._rebuild_tensor_v2":
    case "torch._utils._rebuild_tensor": {
      const [storage, offset, shape, stride] = args;
      const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
      const counts = (x: unknown) => Array.isArray(x) && x.length <= 64 && x.every(count);
      if (!(storage instanceof Storage) || !count(offset) || !counts(shape) || !counts(stride))
        throw corrupt("a tensor with a negative, fractional or huge offset, size or stride");
      if ((shape as number[]).length !== (stride as number[]).length)
        throw corrupt("size and stride differ in rank");
      if (numel(shape as number[]) > MAX_ELEMENTS)
        throw corrupt(`a tensor of ${numel(shape as number[])} elements`);
      return new TensorRef(storage, offset as number, shape as number[], stride as number[]);
    }
    case "torch._utils._rebuild_parameter":
      if (!(args[0] instanceof TensorRef)) throw corrupt("a parameter without a tensor");
      return args[0];
    default:
      // Storage types are values, never called.
      throw corrupt(`${name} is called`);
  }
}
