/**
 * The house plan (docs/ARCHITECTURE.md) as a test: every import in src/ stays within its folder or reaches
 * a folder its layer may use, so no library module reaches up into the jobs, figures or the command line.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { test } from "node:test";

// Where each folder of src/ may import from (besides itself). A layer lists only lower ones.
const MAY_USE: Record<string, readonly string[]> = {
  util: [],
  native: ["util"],
  model: ["util", "native"],
  data: ["util"],
  hf: ["util", "native", "model"],
  train: ["util", "native", "model", "data", "hf"],
  inference: ["util", "native", "model", "data", "hf"],
  baseline: ["util", "data", "inference"],
  figures: ["util", "data"],
  web: ["util", "data", "inference"],
  jobs: ["util", "native", "model", "data", "hf", "train", "inference", "baseline", "figures", "web"],
  serve: [
    "util",
    "native",
    "model",
    "data",
    "hf",
    "train",
    "inference",
    "baseline",
    "figures",
    "web",
    "jobs",
  ],
  cli: [
    "util",
    "native",
    "model",
    "data",
    "hf",
    "train",
    "inference",
    "baseline",
    "figures",
    "web",
    "jobs",
    "serve",
  ],
};

const SRC = resolve(import.meta.dirname, "..", "..", "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The relative module specifiers of a source file: static imports, re-exports and dynamic import(). */
function relativeImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm))
    out.push(m[1]!);
  return out;
}

const folderOf = (file: string) => relative(SRC, file).split(sep)[0]!;

/** Every import that reaches a folder its layer may not use, as "file -> target". */
export function upwardImports(files: readonly string[], read: (f: string) => string): string[] {
  const bad: string[] = [];
  for (const file of files) {
    const from = folderOf(file);
    for (const spec of relativeImports(read(file))) {
      const to = folderOf(resolve(dirname(file), spec));
      if (to === from) continue;
      if (!(MAY_USE[from] ?? []).includes(to)) bad.push(`${relative(SRC, file)} -> ${spec}`);
    }
  }
  return bad;
}

test("every folder of src/ has a place in the layers", () => {
  const folders = readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  const unplaced = folders.filter((f) => !(f in MAY_USE));
  assert.deepEqual(unplaced, [], "add the new folder to MAY_USE here and to docs/ARCHITECTURE.md");
});

test("the layers form no cycle: a folder never uses one that uses it", () => {
  for (const [a, uses] of Object.entries(MAY_USE))
    for (const b of uses) assert.ok(!(MAY_USE[b] ?? []).includes(a), `${a} and ${b} use each other`);
});

test("no import in src/ reaches up a layer", () => {
  const files = sources(SRC);
  assert.ok(files.length > 50, `found only ${files.length} sources under ${SRC}`);
  assert.deepEqual(
    upwardImports(files, (f) => readFileSync(f, "utf8")),
    [],
    "a lower layer imports a higher one: move the shared piece down (see docs/ARCHITECTURE.md)",
  );
});

test("the check catches an import that reaches up", () => {
  const lib = join(SRC, "train", "example.ts");
  const texts: Record<string, string> = {
    [lib]: 'import { x } from "../jobs/finetune.js";\nconst y = await import("../cli/main.js");\n',
    [join(SRC, "jobs", "example.ts")]: 'import { trainLoop } from "../train/trainer.js";\n',
  };
  assert.deepEqual(
    upwardImports(Object.keys(texts), (f) => texts[f]!),
    ["train/example.ts -> ../jobs/finetune.js", "train/example.ts -> ../cli/main.js"],
  );
});
