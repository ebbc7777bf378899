/**
 * Seeded mutation of small valid inputs for the readers' fuzz tests, and the check every case must pass:
 * the reader succeeds or throws a UserError whose line names the file. Each case draws from its own
 * generator (seed and index), so one failing case replays alone.
 */
import assert from "node:assert/strict";
import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";

/** The seed of every fuzz run: fixed so CI is repeatable; GOTUNE_FUZZ_SEED explores others. */
export const FUZZ_SEED = Number(process.env.GOTUNE_FUZZ_SEED ?? 20261202) >>> 0;
/** With GOTUNE_FUZZ_CASE=N only case N of each target runs (to replay a failure). */
const ONLY = process.env.GOTUNE_FUZZ_CASE === undefined ? undefined : Number(process.env.GOTUNE_FUZZ_CASE);

/** The generator of case `index` of `target`. */
export function caseRng(target: string, index: number): Rng {
  let h = FUZZ_SEED ^ 0x811c9dc5;
  for (let i = 0; i < target.length; i++) h = Math.imul(h ^ target.charCodeAt(i), 0x01000193);
  return new Rng((h ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0);
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;

/** Integers at the edges: signs, 32- and 64-bit limits, a double's exact range. */
export const EDGE_INTS = [
  0,
  1,
  -1,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 63,
] as const;

// Bytes that mean something to one of the formats: separators, quotes, escapes, opcodes, high bits.
const EDGE_BYTES = [
  0, 0xff, 0x7f, 0x80, 10, 13, 9, 0x20, 0x22, 0x5c, 0x5b, 0x5d, 0x7b, 0x7d, 0x3a, 0x21, 0x2e, 0x28,
];
// Text spliced into text formats as is.
const EDGE_TOKENS = [
  "NaN",
  "-1",
  "1e999",
  "-0",
  "9007199254740993",
  "2147483648",
  "18446744073709551616",
  "\u0000",
  "\\",
  '"',
  "\n",
  "\r\n",
  "[",
  "{",
  "!",
  "\ud800",
  "\u00e9",
  "\ufeff",
  "[Term]\n",
  "[Typedef]\n",
  "is_a: ",
  "id: GO:0000001\n",
  "../../../x",
];

/** One to four byte-level mutations of `src` (bit flips, edge bytes and integers, inserts, deletes, splices, truncation). */
export function mutateBytes(rng: Rng, src: Uint8Array): Buffer {
  let b = Buffer.from(src);
  const ops = 1 + rng.int(4);
  for (let k = 0; k < ops; k++) {
    const at = b.length ? rng.int(b.length) : 0;
    switch (rng.int(9)) {
      case 0: // bit flip
        if (b.length) b[at]! ^= 1 << rng.int(8);
        break;
      case 1:
        if (b.length) b[at] = pick(rng, EDGE_BYTES);
        break;
      case 2: {
        // An edge integer over 4 or 8 bytes, little- or big-endian (lengths, offsets, counts).
        const v = BigInt.asUintN(64, BigInt(pick(rng, EDGE_INTS)));
        const w = Buffer.alloc(8);
        if (rng.int(2)) w.writeBigUInt64LE(v);
        else w.writeBigUInt64BE(v);
        const n = rng.int(2) ? 4 : 8;
        w.copy(b, at, 0, Math.min(n, b.length - at));
        break;
      }
      case 3: {
        const ins = rng.int(2)
          ? Buffer.from(pick(rng, EDGE_TOKENS))
          : Buffer.from(Array.from({ length: 1 + rng.int(8) }, () => rng.int(256)));
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 4: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(16)))]);
        break;
      case 5: {
        // Copy a chunk elsewhere (duplicated keys, stanzas, opcodes).
        const from = b.length ? rng.int(b.length) : 0;
        const chunk = Buffer.from(b.subarray(from, from + 1 + rng.int(64)));
        b = Buffer.concat([b.subarray(0, at), chunk, b.subarray(at)]);
        break;
      }
      case 6: {
        // Repeat a small chunk many times (deep nesting, long lines, many items).
        const chunk = Buffer.from(b.subarray(at, at + 1 + rng.int(4)));
        const times = 100 + rng.int(5000);
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(chunk.length * times, chunk), b.subarray(at)]);
        break;
      }
      case 7: // truncate
        b = b.subarray(0, at);
        break;
      default: // swap two bytes
        if (b.length) {
          const j = rng.int(b.length);
          const t = b[at]!;
          b[at] = b[j]!;
          b[j] = t;
        }
    }
  }
  return b;
}

/** A JSON document as a tree that can hold what JSON.parse would merge or refuse: duplicate keys, raw tokens. */
type JNode = { raw: string } | { arr: JNode[] } | { obj: [string, JNode][] };

function toNode(x: unknown): JNode {
  if (Array.isArray(x)) return { arr: x.map(toNode) };
  if (x && typeof x === "object") return { obj: Object.entries(x).map(([k, v]) => [k, toNode(v)]) };
  return { raw: JSON.stringify(x) ?? "null" };
}

function toText(n: JNode): string {
  if ("raw" in n) return n.raw;
  if ("arr" in n) return `[${n.arr.map(toText).join(",")}]`;
  return `{${n.obj.map(([k, v]) => `${JSON.stringify(k)}:${toText(v)}`).join(",")}}`;
}

const deep = (n: number, open: string, close: string, inner = "0") =>
  open.repeat(n) + inner + close.repeat(n);
// Values put in place of any: edge numbers, wrong types, huge strings, nesting deeper than a stack.
const EDGE_VALUES = (rng: Rng): string => {
  switch (rng.int(12)) {
    case 0:
      return String(pick(rng, EDGE_INTS));
    case 1:
      return pick(rng, ["1e999", "-1e999", "0.5", "-0", "1e-320", "9007199254740993", "NaN", "Infinity"]);
    case 2:
      return pick(rng, ["null", "true", "false", '""', "[]", "{}"]);
    case 3:
      return JSON.stringify("x".repeat(1 + rng.int(20_000)));
    case 4:
      return pick(rng, ['"\\u0000"', '"\\ud800"', '"a\\nb"', '"../../../etc/passwd"', '"__proto__"']);
    case 5:
      return deep(pick(rng, [2, 50, 20_000]), "[", "]");
    case 6:
      return deep(pick(rng, [2, 50, 20_000]), '{"a":', "}");
    case 7:
      return `[${Array.from({ length: 1 + rng.int(5) }, () => pick(rng, EDGE_INTS)).join(",")}]`;
    case 8:
      return `[${"0,".repeat(rng.int(20_000))}0]`;
    case 9:
      return '{"__proto__":{"x":1},"constructor":1}';
    default:
      return String(rng.int(2) ? -rng.int(1000) : rng.int(100_000));
  }
};

/** One to three structural mutations of a JSON value, as text; sometimes byte-level ones on top. */
export function mutateJson(rng: Rng, value: unknown): Buffer {
  const root: { arr: JNode[] } = { arr: [toNode(value)] };
  const ops = 1 + rng.int(3);
  for (let k = 0; k < ops; k++) {
    // Every slot (a parent and an index in it), chosen uniformly.
    const slots: [JNode, number][] = [];
    const walk = (n: JNode) => {
      if ("arr" in n)
        n.arr.forEach((c, i) => {
          slots.push([n, i]);
          walk(c);
        });
      else if ("obj" in n)
        n.obj.forEach(([, c], i) => {
          slots.push([n, i]);
          walk(c);
        });
    };
    walk(root);
    const [parent, i] = pick(rng, slots);
    const get = () => ("arr" in parent ? parent.arr[i]! : (parent as { obj: [string, JNode][] }).obj[i]![1]);
    const set = (v: JNode) => {
      if ("arr" in parent) parent.arr[i] = v;
      else (parent as { obj: [string, JNode][] }).obj[i]![1] = v;
    };
    const cur = get();
    switch (rng.int(7)) {
      case 0:
      case 1:
        set({ raw: EDGE_VALUES(rng) });
        break;
      case 2: // delete
        if (parent !== root)
          "arr" in parent ? parent.arr.splice(i, 1) : (parent as { obj: unknown[] }).obj.splice(i, 1);
        break;
      case 3: // the same key again, with another value (JSON.parse keeps the last)
        if ("obj" in parent) {
          const [key] = parent.obj[i]!;
          parent.obj.splice(rng.int(parent.obj.length + 1), 0, [key, { raw: EDGE_VALUES(rng) }]);
        }
        break;
      case 4: // nest
        set(rng.int(2) ? { arr: [cur] } : { obj: [["0", cur]] });
        break;
      case 5: // a number nudged: off by one, negated, scaled by a power of two
        if ("raw" in cur && /^-?\d/.test(cur.raw)) {
          const x = Number(cur.raw);
          set({ raw: String(pick(rng, [x + 1, x - 1, -x, x * 2 ** (1 + rng.int(20)), x / 3])) });
        } else set({ raw: EDGE_VALUES(rng) });
        break;
      default: // rename a key
        if ("obj" in parent)
          parent.obj[i]![0] = pick(rng, ["", "__proto__", "constructor", `${parent.obj[i]![0]}x`, "\u0000"]);
    }
  }
  const text = Buffer.from(toText(root.arr[0] ?? { raw: "" }));
  return rng.int(5) === 0 ? mutateBytes(rng, text) : text;
}

/** What a case did wrong: its index and the error's first lines (the stack's top says where). */
export interface FuzzFailure {
  index: number;
  error: string;
}

/**
 * Runs one case: `run` must resolve, or reject with a UserError whose one line names `file`.
 * Anything else is returned as a failure to report with the seed.
 */
export async function fuzzCase(
  index: number,
  file: string,
  run: () => Promise<unknown>,
): Promise<FuzzFailure | undefined> {
  try {
    await run();
    return undefined;
  } catch (e) {
    if (e instanceof UserError) {
      const line = e.toLine();
      if (!line.includes("\n") && line.startsWith("gotune: ") && line.includes(file)) return undefined;
      return {
        index,
        error: `a UserError that is not one line naming ${file}: ${JSON.stringify(line.slice(0, 300))}`,
      };
    }
    // The message and the first frames in gotune's own code: where the reader let it through.
    const lines = (e instanceof Error ? (e.stack ?? e.message) : String(e)).split("\n");
    const ours = lines.filter((l) => /\/(src|test)\//.test(l)).slice(0, 3);
    return { index, error: [lines[0], ...ours].join(" |").slice(0, 600) };
  }
}

/** The indexes of the cases a target runs: all of them, or the one GOTUNE_FUZZ_CASE names. */
export function caseIndexes(count: number): number[] {
  return ONLY === undefined ? Array.from({ length: count }, (_, i) => i) : [ONLY];
}

/** Fails with every failing case of `target`, and how to replay one. */
export function assertNoFailures(target: string, testFile: string, failures: FuzzFailure[]): void {
  assert.deepEqual(
    failures,
    [],
    `${failures.length} ${target} case(s) failed (seed ${FUZZ_SEED}); replay one with ` +
      `GOTUNE_FUZZ_SEED=${FUZZ_SEED} GOTUNE_FUZZ_CASE=${failures[0]?.index} node --test ${testFile}`,
  );
}

/** The bytes the process holds at its peak so far (resident set), to bound what the cases took. */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}
