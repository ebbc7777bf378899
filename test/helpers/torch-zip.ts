/**
 * Builds torch.save-format checkpoints byte by byte at test time, so crafted ones (lying offsets,
 * shapes, strides, zip sizes; huge or deep pickles) need no Python: a stored zip holding
 * `archive/data.pkl` and `archive/data/KEY`.
 */
import { crc32, deflateRawSync } from "node:zlib";

/** One zip entry; `declared` overrides the uncompressed size written in the headers. */
export interface ZipEntry {
  name: string;
  data: Buffer;
  deflate?: boolean;
  declared?: number;
}

/** A zip archive of `entries` (stored, or deflated when asked), as yauzl and torch read it. */
export function zip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const usize = e.declared ?? e.data.length;
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4);
    head.writeUInt16LE(e.deflate ? 8 : 0, 8);
    head.writeUInt32LE(crc32(e.data), 14);
    head.writeUInt32LE(body.length, 18);
    head.writeUInt32LE(usize, 22);
    head.writeUInt16LE(name.length, 26);
    locals.push(head, name, body);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(e.deflate ? 8 : 0, 10);
    c.writeUInt32LE(crc32(e.data), 16);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(usize, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offset, 42);
    centrals.push(c, name);
    offset += 30 + name.length + body.length;
  }
  const central = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, central, end]);
}

/** Pickle opcodes, written out (protocol 2, as torch.save writes). */
export const op = {
  proto: Buffer.from([0x80, 2]),
  emptyDict: Buffer.from("}"),
  emptyList: Buffer.from("]"),
  mark: Buffer.from("("),
  tuple: Buffer.from("t"),
  setitems: Buffer.from("u"),
  append: Buffer.from("a"),
  appends: Buffer.from("e"),
  reduce: Buffer.from("R"),
  binpersid: Buffer.from("Q"),
  stop: Buffer.from("."),
  newFalse: Buffer.from([0x89]),
  global: (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`),
  str: (s: string) => {
    const b = Buffer.from(s);
    const h = Buffer.alloc(5);
    h[0] = 0x58;
    h.writeUInt32LE(b.length, 1);
    return Buffer.concat([h, b]);
  },
  int: (n: number) => {
    if (n >= 0 && n < 2 ** 31) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a;
      b.writeInt32LE(n, 1);
      return b;
    }
    // LONG1, 8 bytes little-endian two's complement: offsets and sizes beyond 32 bits.
    const b = Buffer.alloc(10);
    b[0] = 0x8a;
    b[1] = 8;
    b.writeBigInt64LE(BigInt(n), 2);
    return b;
  },
};

const tupleOf = (xs: Buffer[]) => Buffer.concat([op.mark, ...xs, op.tuple]);

/** A tensor of a crafted state dict: which storage, and the view (offset, shape, stride) onto it. */
export interface CraftedTensor {
  name: string;
  key: string;
  offset: number;
  shape: number[];
  stride: number[];
}

/** The pickle of a state dict of f32 tensors, as torch.save writes it (rebuild_tensor_v2 calls). */
export function statePickle(tensors: CraftedTensor[], numel: Record<string, number>): Buffer {
  const parts: Buffer[] = [op.proto, op.emptyDict, op.mark];
  for (const t of tensors) {
    const storage = Buffer.concat([
      tupleOf([
        op.str("storage"),
        op.global("torch", "FloatStorage"),
        op.str(t.key),
        op.str("cpu"),
        op.int(numel[t.key] ?? 0),
      ]),
      op.binpersid,
    ]);
    parts.push(
      op.str(t.name),
      op.global("torch._utils", "_rebuild_tensor_v2"),
      tupleOf([
        storage,
        op.int(t.offset),
        tupleOf(t.shape.map(op.int)),
        tupleOf(t.stride.map(op.int)),
        op.newFalse,
        op.emptyDict,
      ]),
      op.reduce,
    );
  }
  parts.push(op.setitems, op.stop);
  return Buffer.concat(parts);
}

/** A whole checkpoint: the pickle plus one storage entry of f32 values per key. */
export function checkpoint(
  tensors: CraftedTensor[],
  storages: Record<string, Float32Array>,
  pickle = statePickle(tensors, Object.fromEntries(Object.entries(storages).map(([k, v]) => [k, v.length]))),
): Buffer {
  return zip([
    { name: "archive/data.pkl", data: pickle },
    { name: "archive/byteorder", data: Buffer.from("little") },
    ...Object.entries(storages).map(([k, v]) => ({
      name: `archive/data/${k}`,
      data: Buffer.from(v.buffer, v.byteOffset, v.byteLength),
    })),
  ]);
}
