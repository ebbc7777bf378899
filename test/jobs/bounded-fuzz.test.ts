/**
 * Bounded on every input (issue 23): inflating archives, endless lines and words, huge JSONL, a
 * real-sized vocabulary, oversized and special files, each through the real command. Each case ends
 * with exit 0 or one `gotune:` line (no stack, no internal error), touches nothing outside its output
 * folder, and stays under CLI_RSS_LIMIT with a 512 MiB heap (test/helpers/fuzz-cli.ts). Sizes and
 * contents are drawn from the fuzz seed (GOTUNE_FUZZ_SEED); big inputs are streamed through gzip or
 * made sparse, never written out whole.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { cp, mkdir, mkdtemp, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createGzip } from "node:zlib";
import type { Rng } from "../../src/util/rng.js";
import { writeTinyModel } from "../fixtures/app/tiny-model.js";
import { caseRng, FUZZ_SEED } from "../helpers/fuzz.js";
import { assertCliCase, type CliCase, cliCase } from "../helpers/fuzz-cli.js";

let dir: string;
let model: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-bounded-"));
  model = join(dir, "model");
  await writeTinyModel(model);
});
after(() => rm(dir, { recursive: true, force: true }));

/** Writes `parts` (strings, or [string, times] repeated) to `path` as a stream, gzipped when it ends in .gz. */
async function writeStream(path: string, parts: (string | [string, number])[]): Promise<void> {
  const file = createWriteStream(path);
  const gz = path.endsWith(".gz") ? createGzip({ level: 6 }) : undefined;
  gz?.pipe(file);
  const sink = gz ?? file;
  for (const p of parts)
    for (let k = 0; k < (typeof p === "string" ? 1 : p[1]); k++)
      if (!sink.write(typeof p === "string" ? p : p[0])) await once(sink, "drain");
  sink.end();
  await once(file, "close");
}

/** A word of `mib` MiB of letters: a random 512-letter pattern repeated, which gzip shrinks about 1,000 times. */
function word(rng: Rng, mib: number): [string, number] {
  const pattern = Array.from({ length: 512 }, () => String.fromCharCode(97 + rng.int(26))).join("");
  return [pattern.repeat(128), mib * 16];
}

/** A sparse file of `mib` MiB starting with `head`, outside every case's folder (whose files are hashed). */
async function sparse(name: string, head: string, mib: number): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, head);
  await truncate(path, mib * 2 ** 20);
  return path;
}

/** A fresh folder for a case, holding a copy of the tiny model. */
async function caseDir(name: string): Promise<{ root: string; model: string }> {
  const root = join(dir, name);
  await mkdir(root, { recursive: true });
  await cp(model, join(root, "model"), { recursive: true });
  return { root, model: join(root, "model") };
}

/** The case's one-line error, checked to name `file` and match `re`. */
function refused(r: CliCase, what: string, re: RegExp, file?: string): void {
  assertCliCase(r, what);
  assert.notEqual(r.code, 0, `${what}: exit 0, expected a refusal`);
  assert.match(r.lines[0]!, re, what);
  if (file) assert.ok(r.lines[0]!.includes(file), `${what}: the line does not name ${file}: ${r.lines[0]}`);
}

test(`annotate: a gzip bomb (one word inflating 1,000:1) stops at the ratio, in one line (seed ${FUZZ_SEED})`, async () => {
  const rng = caseRng("bounded-gzip-text", 0);
  const c = await caseDir("gzip-text");
  const input = join(c.root, "bomb.txt.gz");
  await writeStream(input, ["A sentence first. ", word(rng, 48 + rng.int(32))]);
  const r = await cliCase(c.root, ["annotate", "--model", c.model, "--input", input, "--out", "out"]);
  refused(r, "gzip bomb", /inflates past 100 times its compressed size/, input);
});

test("annotate: PubMed XML whose text, comment or attribute inflates to many MiB is refused inside the parser", async () => {
  const kinds = ["text", "comment", "attribute"] as const;
  for (const [i, kind] of kinds.entries()) {
    const rng = caseRng("bounded-pubmed", i);
    const c = await caseDir(`pubmed-${kind}`);
    const input = join(c.root, "bomb.xml.gz");
    const huge = word(rng, 8 + rng.int(8));
    const open =
      '<?xml version="1.0"?>\n<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>';
    const body =
      kind === "text"
        ? ["<ArticleTitle>", huge, "</ArticleTitle>"]
        : kind === "comment"
          ? ["<!-- ", huge, " -->"]
          : ['<Abstract><AbstractText Label="', huge, '">x</AbstractText></Abstract>'];
    await writeStream(input, [
      open,
      ...body,
      "</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>\n",
    ]);
    const r = await cliCase(c.root, ["annotate", "--model", c.model, "--input", input, "--out", "out"]);
    refused(r, `pubmed ${kind}`, /longer than 1,000,000 characters/, input);
  }
});

test("annotate: a plain-text file of one endless word is cut into bounded sentences (exit 0, bounded memory)", async () => {
  const rng = caseRng("bounded-text-word", 0);
  const c = await caseDir("text-word");
  const input = join(c.root, "word.txt");
  await writeStream(input, [word(rng, 4 + rng.int(4))]);
  const r = await cliCase(c.root, [
    "annotate",
    "--model",
    c.model,
    "--input",
    input,
    "--out",
    "out",
    "--json",
  ]);
  assertCliCase(r, "endless word");
  assert.equal(r.code, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).sentences >= 400, r.stdout);
});

test("predict --file: an endless line is refused past 8 MiB unread; a 4-8 MiB document on one line runs in bounded memory", async () => {
  const rng = caseRng("bounded-predict", 0);
  const c = await caseDir("predict");
  const huge = await sparse("huge.txt", "x", 200);
  const r1 = await cliCase(c.root, ["predict", "--model", c.model, "--file", huge, "--out", "out"]);
  refused(r1, "200 MiB document", /larger than 8 MiB.*annotate/, huge);
  const doc = join(c.root, "one-line.txt");
  const words = Array.from({ length: 2000 }, (_, k) => `w${k}${rng.int(10)}`).join(" ");
  await writeStream(doc, [[`${words} `, Math.floor(((4 + rng.int(4)) * 2 ** 20) / (words.length + 1))]]);
  const r2 = await cliCase(c.root, ["predict", "--model", c.model, "--file", doc, "--out", "out"]);
  assertCliCase(r2, "one-line document");
  assert.equal(r2.code, 0, r2.stderr);
});

test("eval --input and train --data: a JSONL line past 1 MiB, or a CSV past 256 MiB, is one FILE:LINE line", async () => {
  const rng = caseRng("bounded-jsonl", 0);
  const c = await caseDir("jsonl");
  const long = join(c.root, "long.jsonl");
  const n = 1 + rng.int(5);
  await writeStream(long, [
    ['{"text": "a cell membrane", "label": 1}\n', n],
    '{"text": "',
    ["a".repeat(1 << 16), 17 + rng.int(16)],
    '", "label": 0}\n',
  ]);
  const big = await sparse("big.csv", "text,label\n", 300);
  const data = join(c.root, "data"); // a split folder whose train.jsonl has the long line
  await mkdir(data);
  await cp(long, join(data, "train.jsonl"));
  await cp(long, join(data, "test.jsonl"));
  const cases: [string[], RegExp, string][] = [
    [
      ["eval", "--model", c.model, "--input", long],
      new RegExp(`:${n + 1}: this line is longer than 1 MiB`),
      long,
    ],
    [
      ["train", "--data", data, "--model", "bert-tiny", "--out", "out"],
      /this line is longer than 1 MiB/,
      join(data, "train.jsonl"),
    ],
    [["eval", "--model", c.model, "--input", big], /larger than 256 MiB/, big],
  ];
  for (const [args, re, file] of cases) refused(await cliCase(c.root, args), args[0]!, re, file);
});

test("a real-sized vocabulary (250,000 lines of vocab.txt) loads; ids of 2^40 and oversized tokenizer.json are refused", async () => {
  const rng = caseRng("bounded-vocab", 0);
  const c = await caseDir("vocab");
  const big = join(c.root, "big-vocab");
  await mkdir(big);
  const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  const count = 250_000 + rng.int(50_000);
  await writeStream(join(big, "vocab.txt"), [
    `${specials.join("\n")}\n`,
    ...Array.from({ length: count - specials.length }, (_, k) => `w${k}\n`),
  ]);
  const ok = await cliCase(c.root, ["tokenize", "--model", big, "w7 w8"]);
  assertCliCase(ok, "250,000-token vocab.txt");
  assert.equal(ok.code, 0, ok.stderr);
  const wide = join(dir, "wide"); // outside the case folder: its 600 MiB file is not hashed
  await mkdir(wide);
  await writeFile(
    join(wide, "tokenizer.json"),
    JSON.stringify({ model: { type: "WordPiece", vocab: { "[UNK]": 0, cell: 2 ** 40 } } }),
  );
  refused(
    await cliCase(c.root, ["tokenize", "--model", wide, "cell"]),
    "id 2^40",
    /not an integer in 0\.\.2\^31-1/,
  );
  await rm(join(wide, "tokenizer.json"));
  await symlink(await sparse("tokenizer.json", "{}", 600), join(wide, "tokenizer.json"));
  refused(
    await cliCase(c.root, ["tokenize", "--model", wide, "cell"]),
    "600 MiB tokenizer.json",
    /larger than 64 MiB/,
  );
});

test("special files in a model folder and as inputs are refused before they are read (no hang, no /dev/zero read)", async () => {
  const c = await caseDir("special");
  const fifo = (p: string): void => {
    execFileSync("mkfifo", [p]);
  };
  const variants: [string, (m: string) => Promise<void>][] = [
    ["config.json FIFO", async (m) => fifo(join(m, "config.json"))],
    ["config.json -> /dev/zero", async (m) => symlink("/dev/zero", join(m, "config.json"))],
    ["tokenizer.json FIFO", async (m) => fifo(join(m, "tokenizer.json"))],
    ["model.safetensors FIFO", async (m) => fifo(join(m, "model.safetensors"))],
  ];
  for (const [k, [what, make]] of variants.entries()) {
    const m = join(c.root, `m${k}`);
    await cp(c.model, m, { recursive: true });
    await rm(join(m, what.split(" ")[0]!), { force: true });
    await make(m);
    const r = await cliCase(c.root, ["predict", "--model", m, "--json", "the membrane of a cell"]);
    refused(r, what, /is not a regular file \(a FIFO, device or socket\)/, what.split(" ")[0]);
  }
  const input = join(c.root, "doc.txt");
  fifo(input);
  for (const args of [
    ["predict", "--model", c.model, "--file", input, "--out", "out"],
    ["eval", "--model", c.model, "--input", input],
    ["annotate", "--model", c.model, "--input", input, "--out", "out"],
  ])
    refused(await cliCase(c.root, args), `${args[0]} on a FIFO`, /FIFO, device or socket/, input);
});
