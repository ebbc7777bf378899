/** A small GO release for the linker's tests: a few terms with names, synonyms, definitions and an alt_id. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Nucleolus and nucleus (one merged id), DNA repair and its regulation, and a kinase activity. */
export const LINKER_OBO = `format-version: 1.2
data-version: releases/test-linker

[Term]
id: GO:0005730
name: nucleolus
namespace: cellular_component
def: "A small, dense body present in the nucleus of eukaryotic cells." [GOC:test]
synonym: "nucleolar body" RELATED []

[Term]
id: GO:0005634
name: nucleus
namespace: cellular_component
alt_id: GO:0044424
def: "A membrane-bounded organelle of eukaryotic cells in which chromosomes are housed and replicated." [GOC:test]
synonym: "cell nucleus" EXACT []

[Term]
id: GO:0006281
name: DNA repair
namespace: biological_process
def: "The process of restoring DNA after damage." [GOC:test]

[Term]
id: GO:0006282
name: regulation of DNA repair
namespace: biological_process
def: "Any process that modulates the frequency, rate or extent of DNA repair." [GOC:test]

[Term]
id: GO:0016301
name: kinase activity
namespace: molecular_function
def: "Catalysis of the transfer of a phosphate group, usually from ATP, to a substrate molecule." [GOC:test]
synonym: "phosphokinase activity" EXACT []
`;

/** Writes LINKER_OBO into `dir` and returns its path. */
export async function writeLinkerObo(dir: string): Promise<string> {
  const file = join(dir, "linker.obo");
  await writeFile(file, LINKER_OBO);
  return file;
}
