import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import {
  MAX_SENTENCE_CHARS,
  paragraphsOf,
  splitSentences,
  splitWithSpans,
} from "../../src/inference/sentences.js";

const FIXTURE = join(import.meta.dirname, "..", "..", "..", "test", "fixtures", "app", "tricky.txt");

// Written by hand, sentence by sentence, from the fixture.
const EXPECTED = [
  "Mitochondrial fission is driven by Drp1, a dynamin-related GTPase (Smirnova et al., 2001).",
  "Several kinases, e.g. PKA and CaMKIα, phosphorylate Drp1 at Ser637 and Ser616, i.e. within its GTPase effector domain.",
  "In Saccharomyces cerevisiae and other Saccharomyces sp. the orthologue Dnm1 binds Fis1 approx. 3.5 times more tightly than Mdv1 does [12,13].",
  "Dr. J. Smith and Prof. A. B. Jones showed that p53 and NF-κB compete for the co-activator p300 (Fig. 2A).",
  "Hsp90.2 is induced by heat vs. cold stress in Arabidopsis spp. roots!",
  "Does the ER–mitochondria contact site tether (ERMES) act as a lipid conduit?",
  "Most data say yes.[4]",
  '"The complex is essential," the authors noted.',
  "(A reduction of 40% in cristae density was also seen.)",
  "The Kd was 0.25 μM at pH 7.4 and 37 °C.",
  "Results",
  "Sequence analysis revealed a conserved motif (aa. 120–135) in the N-terminus, cf. Table 1.",
  "Membrane potential was lost within 5 min. (see Supplementary Fig. S3).",
  "Nonetheless, respiration continued in wild-type cells (n = 3; P < 0.05).",
  "The U.S. strain collection confirmed this.",
];

test("a tricky biology document splits into the sentences a reader sees", async () => {
  const text = await readFile(FIXTURE, "utf8");
  const got = splitSentences(text);
  assert.deepEqual(
    got.map((s) => s.text),
    EXPECTED,
  );
  // Paragraphs: the first two lines are one paragraph, then "Results", then the last one.
  assert.deepEqual(
    got.map((s) => s.paragraph),
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2],
  );
});

const CASES: [string, string[]][] = [
  [
    "As shown by Smith et al. The pathway is conserved.",
    ["As shown by Smith et al.", "The pathway is conserved."],
  ],
  [
    "Smith et al. (2001) found it. Growth stopped in cells. p53 levels rose.",
    ["Smith et al. (2001) found it.", "Growth stopped in cells.", "p53 levels rose."],
  ],
  ["1. Introduction\n\nCells divide. They grow.", ["1. Introduction", "Cells divide.", "They grow."]],
  ["It binds DNA. [4] Next it moves.", ["It binds DNA. [4]", "Next it moves."]],
  ["It lacks vitamin A. The cells die.", ["It lacks vitamin A.", "The cells die."]],
  ["He said “stop.” Then it ended… Really? Yes!", ["He said “stop.”", "Then it ended…", "Really?", "Yes!"]],
  [
    "Samples (e.g., liver) were cut at 4 °C. mTOR was active. Approx. 30% of c-Myc was lost.",
    ["Samples (e.g., liver) were cut at 4 °C.", "mTOR was active.", "Approx. 30% of c-Myc was lost."],
  ],
  ["The co-\nactivator binds.\r\nIt works.", ["The co-activator binds.", "It works."]],
  [
    "Fig. 3. Expression of CDK1 in HeLa cells. Cells were fixed for 2 h. The nuclei were stained.",
    ["Fig. 3.", "Expression of CDK1 in HeLa cells.", "Cells were fixed for 2 h.", "The nuclei were stained."],
  ],
  ["Genes (n=4) were tested.In one case it failed.", ["Genes (n=4) were tested.In one case it failed."]],
  ["A heading without a period", ["A heading without a period"]],
];

test("abbreviations, initials, gene names, citations, quotes, numbering and line breaks", () => {
  for (const [text, expected] of CASES)
    assert.deepEqual(
      splitSentences(text).map((s) => s.text),
      expected,
      JSON.stringify(text),
    );
});

test("an empty or blank document has no sentences and no paragraphs", () => {
  assert.deepEqual(splitSentences(""), []);
  assert.deepEqual(splitSentences(" \n\n\t \n"), []);
  assert.deepEqual(paragraphsOf("a\n \nb\n\n\nc"), ["a", "b", "c"]);
});

test("a run without a sentence end is cut at MAX_SENTENCE_CHARS (at spaces, or inside a huge word), spans intact", () => {
  const words = Array.from({ length: 6000 }, (_, i) => `w${i}`).join(" "); // ~34,000 characters, no period
  const huge = "x".repeat(2 * MAX_SENTENCE_CHARS + 5) + "😀".repeat(3);
  const raw = `${words}\n\n${huge}. Then a short one.`;
  const got = splitWithSpans(raw);
  assert.ok(
    got.every((s) => s.text.length <= MAX_SENTENCE_CHARS),
    "every sentence within the limit",
  );
  for (const s of got) assert.equal([...raw].slice(s.start, s.end).join("").replace(/\s+/g, " "), s.text);
  const firstParagraph = got.filter((s) => s.paragraph === 0);
  assert.ok(firstParagraph.length >= 4);
  assert.equal(firstParagraph.map((s) => s.text).join(" "), words, "cut between words only");
  const second = got.filter((s) => s.paragraph === 1).map((s) => s.text);
  assert.equal(second.slice(0, -1).join(""), `${huge}.`, "the huge word's pieces, in order, whole");
  assert.equal(got.at(-1)!.text, "Then a short one.");
  // A letterless run (digits) is never merged past the limit either.
  assert.ok(splitSentences("1. ".repeat(20_000)).every((s) => s.text.length <= MAX_SENTENCE_CHARS));
});
