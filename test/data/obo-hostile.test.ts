import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MAX_LINE_BYTES, parseOboFile, parseOboText, readOboHeader } from "../../src/data/obo.js";
import { UserError } from "../../src/util/errors.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-obo-hostile-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HEAD = "format-version: 1.2\ndata-version: test\n\n";
const stanza = (i: number) =>
  `[Term]\nid: GO:${String(i).padStart(7, "0")}\nname: term ${i} \u00e9t\u00e9\nnamespace: biological_process\ndef: "A definition." [GOC:x]\n\n`;
// A valid file of many stanzas (about 1.2 MB: several read chunks), with `bad` put on line `at`.
function body(count: number): string {
  let s = HEAD;
  for (let i = 1; i <= count; i++) s += stanza(i);
  return s;
}

async function rejectsAt(p: Promise<unknown>, file: string, line: number, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${(e as Error)?.stack}`);
    assert.equal(e.where.file, file);
    assert.equal(e.where.line, line, e.toLine());
    assert.match(e.message, re);
    return true;
  });
}

test("a single line of tens of MB is refused at once, in linear time, naming its line", async () => {
  const p = join(dir, "long.obo");
  const line = Buffer.alloc(40 << 20, "a");
  await writeFile(p, Buffer.concat([Buffer.from(HEAD), Buffer.from("comment: "), line, Buffer.from("\n")]));
  const t = Date.now();
  await rejectsAt(parseOboFile(p), p, 4, /this line is longer than 16 MiB: not an OBO file/);
  await rejectsAt(readOboHeader(p), p, 4, /longer than 16 MiB/);
  assert.ok(Date.now() - t < 20_000, "reading a long line must not be quadratic");
  // Just under the limit, across many read chunks: parsed.
  const q = join(dir, "long-ok.obo");
  await writeFile(q, `${HEAD}remark: ${"b".repeat(MAX_LINE_BYTES - 100)}\n${stanza(1)}`);
  const doc = await parseOboFile(q);
  assert.equal(doc.terms.length, 1);
  assert.equal(doc.header.tags.remark![0]!.length, MAX_LINE_BYTES - 100);
});

test("a NUL or invalid UTF-8 anywhere (not only the first 64 KiB) is one FILE:LINE error", async () => {
  const text = body(8000);
  const lines = text.split("\n");
  const target = lines.length - 50; // far past the first MB
  for (const [bad, re] of [
    [Buffer.from([0x6e, 0x61, 0x00, 0x6d]), /holds a NUL byte/],
    [Buffer.from([0x63, 0x61, 0x66, 0xe9]), /is not UTF-8 text/],
    [Buffer.from([0xf0, 0x9f, 0x98]), /is not UTF-8 text/],
    [Buffer.from([0xed, 0xa0, 0x80]), /is not UTF-8 text/],
  ] as [Buffer, RegExp][]) {
    const before = Buffer.from(`${lines.slice(0, target - 1).join("\n")}\nname: `);
    const rest = Buffer.from(`\n${lines.slice(target).join("\n")}`);
    const p = join(dir, "bad.obo");
    await writeFile(p, Buffer.concat([before, bad, rest]));
    await rejectsAt(parseOboFile(p), p, target, re);
  }
  throwsAt(() => parseOboText(`${text}name: a\u0000b\n`), text.split("\n").length, /holds a NUL character/);
});

function throwsAt(f: () => unknown, line: number, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof UserError && e.where.line === line && re.test(e.message));
}

test("multi-byte characters cut across read chunks stay whole; every line is counted once", async () => {
  // 1 MiB chunks: put a 4-byte character exactly across the first boundary.
  const pad = (1 << 20) - HEAD.length - "remark: ".length - 2;
  const p = join(dir, "cut.obo");
  await writeFile(p, `${HEAD}remark: ${"x".repeat(pad)}\u{1F600}\n${body(3000).slice(HEAD.length)}`);
  const doc = await parseOboFile(p);
  assert.ok(doc.header.tags.remark![0]!.endsWith("x\u{1F600}"));
  assert.equal(doc.terms.length, 3000);
  assert.equal(doc.terms[2999]!.line, 4 + 2999 * 6 + 1);
});
