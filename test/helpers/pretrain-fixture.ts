/**
 * A small GO-like release for pre-training tests, written on the fly: every term carries its own marker
 * (`mkNq` in its name, `dkNq` in its definition, `skNqJ` in its synonyms, `ckNq` in the comment every fourth
 * term has), so a test can tell exactly
 * which terms a corpus drew from. Texts use a few aspect-flavoured words, so there is something to learn.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { prepare } from "../../src/jobs/prepare.js";
import { Rng } from "../../src/util/rng.js";

const ASPECTS = ["biological_process", "cellular_component", "molecular_function"] as const;
const WORDS = [
  ["process", "regulation", "pathway", "signaling", "development", "response", "cell", "growth"],
  ["membrane", "complex", "nucleus", "organelle", "vesicle", "region", "cell", "lumen"],
  ["activity", "binding", "catalysis", "reaction", "transporter", "kinase", "enzyme", "ligand"],
];

/** Writes DIR/fixture.obo with `n` terms (cycling through the aspects); returns its path. */
export async function writeMarkedObo(dir: string, n: number, seed = 1): Promise<string> {
  const rng = new Rng(seed);
  const pick = (a: number, k: number) => Array.from({ length: k }, () => WORDS[a]![rng.int(8)]).join(" ");
  const lines = ["format-version: 1.2", "data-version: releases/2099-02-02", "ontology: go", ""];
  for (let i = 0; i < n; i++) {
    const a = i % 3;
    lines.push(
      "[Term]",
      `id: GO:${String(1000 + i).padStart(7, "0")}`,
      `name: ${pick(a, 2)} mk${i}q`,
      `namespace: ${ASPECTS[a]}`,
      `def: "The ${pick(a, 6)} of the ${pick(a, 3)} dk${i}q, with ${pick(a, 4)}." [GOC:test]`,
    );
    for (let j = 0; j < i % 3; j++) lines.push(`synonym: "${pick(a, 3)} sk${i}q${j}" EXACT []`);
    if (i % 4 === 0) lines.push(`comment: Note that ${pick(a, 3)} ck${i}q.`);
    lines.push("");
  }
  const path = join(dir, "fixture.obo");
  await writeFile(path, lines.join("\n"));
  return path;
}

/** The marker number of every term whose marker occurs in `text`. */
export function markersIn(text: string): number[] {
  return [...text.matchAll(/[mdsc]k(\d+)q/g)].map((m) => Number(m[1]));
}

/** A marked OBO of `n` terms in DIR, prepared (no figures) into DIR/split; returns that folder. */
export async function markedSplit(dir: string, n: number): Promise<string> {
  const obo = await writeMarkedObo(dir, n);
  const out = join(dir, "split");
  await prepare({
    obo,
    out,
    seed: 42,
    testSize: 0.2,
    keepObsolete: false,
    top: 5,
    figures: false,
    log: () => {},
  });
  return out;
}
