/**
 * The main job's report: one self-contained HTML file (figures embedded as data URIs, no scripts, no
 * network), readable offline and printable, and its prose: what each section says about a run's summary.
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import type { BaselineResult } from "../baseline/run.js";
import type { CurvePoint } from "../figures/evaluation.js";
import type { Metrics } from "../inference/metrics.js";
import type { Misclassified } from "../inference/misclassified.js";
import { writeFileAtomic } from "../util/fsx.js";
import type { PretrainSummary } from "./pretrain.js";

/** One titled part of the report; `html` is already escaped markup. */
export interface ReportSection {
  title: string;
  html: string;
}

/** Escapes text for HTML element content and attribute values. */
export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A paragraph of plain text. */
export function para(text: string): string {
  return `<p>${esc(text)}</p>`;
}

/** A table; numbers are right-aligned, non-integers shown to `digits` places. */
export function table(headers: string[], rows: (string | number | null)[][], digits = 4): string {
  const cell = (v: string | number | null) =>
    typeof v === "number"
      ? `<td class="n">${esc(Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(digits))}</td>`
      : `<td>${esc(v ?? "–")}</td>`;
  return (
    `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map(cell).join("")}</tr>`).join("") +
    "</tbody></table>"
  );
}

/** A PNG figure embedded as a data URI, with its caption; a missing file becomes a visible note. */
export async function figure(pngPath: string, caption: string): Promise<string> {
  let data: Buffer;
  try {
    data = await fsp.readFile(pngPath);
  } catch {
    return `<p class="missing">Figure not available: ${esc(caption)}</p>`;
  }
  return `<figure><img alt="${esc(caption)}" src="data:image/png;base64,${data.toString("base64")}"><figcaption>${esc(caption)}</figcaption></figure>`;
}

/** Per-class scores, the confusion matrix and ROC-AUC of one evaluation. */
export function metricsHtml(m: Metrics): string {
  const names = Object.keys(m.per_class);
  const perClass = table(
    ["class", "precision", "recall", "F1", "support", "ROC-AUC"],
    names.map((c) => {
      const s = m.per_class[c]!;
      return [c, s.precision, s.recall, s.f1, s.support, m.roc_auc?.[c] ?? null];
    }),
  );
  const cm = table(
    ["true \\ predicted", ...names],
    m.confusion_matrix.map((row, i) => [names[i]!, ...row]),
  );
  return (
    `<p><b>accuracy ${m.accuracy.toFixed(4)}</b>, <b>macro-F1 ${m.macro_f1.toFixed(4)}</b>` +
    (m.roc_auc?.macro != null ? `, macro ROC-AUC ${m.roc_auc.macro.toFixed(4)}` : "") +
    `</p>${perClass}${cm}`
  );
}

const STYLE = `
body{font:15px/1.5 "DejaVu Sans",system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0}th,td{border:1px solid #ddd;padding:.25em .6em}th{background:#f3f3f3}
td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}.missing{color:#a33}.meta{color:#666}nav a{margin-right:1em}`;

/** Writes the report atomically: a title, a contents line and the sections. */
export async function writeReport(
  path: string,
  title: string,
  meta: string,
  sections: ReportSection[],
): Promise<void> {
  const id = (i: number) => `s${i + 1}`;
  const nav = sections.map((s, i) => `<a href="#${id(i)}">${esc(s.title)}</a>`).join("");
  const body = sections
    .map((s, i) => `<section id="${id(i)}"><h2>${esc(s.title)}</h2>${s.html}</section>`)
    .join("\n");
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>` +
    `<style>${STYLE}</style></head><body><h1>${esc(title)}</h1><p class="meta">${esc(meta)}</p>` +
    `<nav>${nav}</nav>\n${body}\n</body></html>\n`;
  await writeFileAtomic(path, html);
}

/** What the main job found, as written to OUT/summary.json. */
export interface MainJobSummary {
  go: { path: string; source: string; data_version?: string; sha256: string };
  baseline: { full: Brief & { C: number; tuning: string | null }; study: Brief };
  /** Where the fine-tuned model started: the shipped model, one given, or one this run pre-trained. */
  pretrained: { source: "shipped" | "given" | "pre-trained here"; path: string; why: string };
  pretrain: {
    steps: number;
    seconds: number;
    held_out_loss: number | null;
    vocab_size: number;
    parameters: number;
  } | null;
  finetune: Brief & { seconds: number };
  /** The study's protocol on seed's sample (pretrained, scratch, baseline) and over every seed's sample. */
  study: {
    pretrained: Brief;
    scratch: Brief;
    seeds: number[];
    per_seed: { seed: number; pretrained: Brief; baseline: Brief }[];
    mean: { pretrained: Spread; baseline: Spread };
  };
  learning_curve: CurvePoint[];
  misclassified: number;
  beats_baseline: boolean;
  document?: { path: string; sentences: number; mean_probability: Record<string, number> };
  seconds: Record<string, number>;
}

/** Mean and standard deviation (n - 1) of scores over samples. */
export interface Spread {
  accuracy: { mean: number; sd: number };
  macro_f1: { mean: number; sd: number };
}

/** One model's result on one protocol. */
export interface Brief {
  train_examples: number;
  eval_examples: number;
  accuracy: number;
  macro_f1: number;
}

/** A document's sentences with their probabilities per aspect, the means, and its pie figure. */
export async function documentHtml(
  sentences: { text: string }[],
  probs: Float32Array,
  labels: string[],
  mean: Record<string, number>,
  piePng: string,
): Promise<string> {
  const L = labels.length;
  const rows = sentences.map((s, i) => [i + 1, s.text, ...Array.from(probs.subarray(i * L, (i + 1) * L))]);
  return (
    table(["#", "sentence", ...labels], rows, 3) +
    `<p>Mean per aspect: ${labels.map((l) => `${esc(l)} <b>${(mean[l] ?? 0).toFixed(3)}</b>`).join(", ")}</p>` +
    (await figure(piePng, "Mean probability per aspect"))
  );
}

/** What the main job's report is written from: its summary, the full evaluations and its figures' paths. */
export interface MainReportInput {
  summary: MainJobSummary;
  /** The run's choices that the prose names. */
  run: { preset: string; seed: number; studyTrain: number; studyEval: number };
  /** The prepared split's stats.json. */
  stats: Record<string, unknown>;
  base: BaselineResult;
  ft: Metrics;
  /** The pre-training this run did, if it did. */
  pt: PretrainSummary | undefined;
  /** The document section's markup (documentHtml, or a note that there was none). */
  docHtml: string;
  wrong: Misclassified[];
  /** PNGs: the prepared data's folder of figures, and each figure the sections embed. */
  figures: {
    data: string;
    learningCurve: string;
    confusionMatrix: string;
    pretrainLoss: string;
    finetuneCurve: string;
  };
}

/** The main job's report, section by section. */
export async function mainReportSections(r: MainReportInput): Promise<ReportSection[]> {
  const { summary: s, run: o, stats, base, ft, pt, docHtml, wrong } = r;
  const dataFigures = r.figures.data;
  const fig = (name: string, caption: string) => figure(join(dataFigures, `${name}.png`), caption);
  const figs = await pngsIn(dataFigures);
  const figHtml = (
    await Promise.all(
      figs.map((f) => fig(f.replace(/\.png$/, ""), f.replace(/\.png$/, "").replace(/[-_]/g, " "))),
    )
  ).join("");
  const row = (name: string, b: Brief) => [name, b.train_examples, b.eval_examples, b.accuracy, b.macro_f1];
  const pre = `${o.preset}, ${s.pretrained.source === "shipped" ? "shipped pre-trained model" : "pre-trained"}`;
  const results = table(
    ["model", "train", "test", "accuracy", "macro-F1"],
    [
      row(`TF-IDF + logistic regression (C = ${s.baseline.full.C}, chosen on train)`, s.baseline.full),
      row(`${pre}, fine-tuned`, s.finetune),
      row(`TF-IDF + logistic regression (study protocol, seed ${o.seed})`, s.baseline.study),
      row(`${pre} (study protocol, seed ${o.seed})`, s.study.pretrained),
      row(`${o.preset}, from scratch (study protocol, seed ${o.seed})`, s.study.scratch),
    ],
  );
  const ms = (x: { mean: number; sd: number }) => `${x.mean.toFixed(4)} ± ${x.sd.toFixed(4)}`;
  const seedsTable = table(
    ["sample seed", "model", "accuracy", "macro-F1"],
    [
      ...s.study.per_seed.flatMap((p) => [
        [p.seed, pre, p.pretrained.accuracy, p.pretrained.macro_f1],
        [p.seed, "TF-IDF + logistic regression (C tuned)", p.baseline.accuracy, p.baseline.macro_f1],
      ]),
      ["mean ± sd", pre, ms(s.study.mean.pretrained.accuracy), ms(s.study.mean.pretrained.macro_f1)],
      [
        "mean ± sd",
        "TF-IDF + logistic regression (C tuned)",
        ms(s.study.mean.baseline.accuracy),
        ms(s.study.mean.baseline.macro_f1),
      ],
    ],
  );
  const SHOWN = 100;
  const counts = (stats as { terms?: Record<string, unknown> }).terms ?? {};
  return [
    {
      title: "Results",
      html:
        para(
          `On the same split, the fine-tuned model ${s.beats_baseline ? "beats" : "does not beat"} the TF-IDF baseline ` +
            "(its C chosen on the training examples) in both accuracy and macro-F1. The study's protocol trains on 2,000 examples and evaluates on 1,000, " +
            "both taken after a seeded shuffle; it is run from the pre-trained model and from scratch, which shows " +
            "what pre-training bought.",
        ) + results,
    },
    {
      title: "Data",
      html:
        para(
          `GO release ${s.go.data_version ?? "?"} from ${s.go.source}: ${s.go.path} (sha256 ${s.go.sha256}).`,
        ) +
        table(
          ["what", "value"],
          Object.entries(counts).map(([k, v]) => [k, typeof v === "number" ? v : JSON.stringify(v)]),
        ) +
        figHtml,
    },
    {
      title: "The study protocol over samples",
      html:
        para(
          `${o.studyTrain.toLocaleString("en-US")} training and ${o.studyEval.toLocaleString("en-US")} test examples drawn with ` +
            `each seed; the baseline's C is chosen on each sample's training examples. 1,000 test examples are noisy: ` +
            "the spread over samples says how much.",
        ) + seedsTable,
    },
    {
      title: "Learning curve",
      html:
        (await figure(r.figures.learningCurve, "Accuracy and macro-F1 against training examples")) +
        table(
          ["model", "training examples", "test examples", "accuracy", "macro-F1"],
          s.learning_curve.map((p) => [
            p.model,
            p.examples,
            p.examples > o.studyTrain ? s.finetune.eval_examples : o.studyEval,
            p.accuracy,
            p.macro_f1,
          ]),
        ),
    },
    {
      title: `TF-IDF baseline (full split, C = ${base.C})`,
      html:
        para(
          base.tuning
            ? `C = ${base.C}, chosen by ${base.tuning.method} over ${base.tuning.grid.map((g) => g.C).join(", ")} ` +
                `(${base.tuning.fits} fits, ${base.tuning.seconds.toFixed(0)} s); validation accuracy ` +
                base.tuning.grid.map((g) => `${g.C}: ${g.accuracy.toFixed(4)}`).join(", ") +
                "."
            : `C = ${base.C}, given.`,
        ) + metricsHtml(base),
    },
    {
      title: "Error analysis",
      html:
        (await figure(r.figures.confusionMatrix, "Confusion matrix of the fine-tuned model")) +
        para(
          `The ${wrong.length} misclassified test terms, the most confidently wrong first` +
            (wrong.length > SHOWN ? ` (the first ${SHOWN}; all in misclassified.jsonl)` : "") +
            ".",
        ) +
        table(
          ["GO id", "name", "definition", "true aspect", "predicted", "probability"],
          wrong
            .slice(0, SHOWN)
            .map((w) => [w.go_id, w.name, w.definition, w.truth, w.predicted, w.probability]),
          3,
        ),
    },
    {
      title: "Pre-training (masked language model)",
      html: !pt
        ? para(
            `${s.pretrained.path} (${s.pretrained.source}): ${s.pretrained.why}.` +
              (s.pretrained.source === "shipped"
                ? " Its model card (README.md in that folder) tells how it was pre-trained."
                : ""),
          )
        : para(
            `${o.preset}: ${pt.parameters.toLocaleString("en-US")} parameters, a ${pt.vocab_size}-token WordPiece vocabulary ` +
              `trained on the train split's names, definitions and synonyms; ${pt.steps.done} steps in ` +
              `${pt.seconds.total.toFixed(0)} s; held-out MLM loss ${pt.loss.first_held_out?.toFixed(3) ?? "?"} → ` +
              `${pt.loss.last_held_out?.toFixed(3) ?? "?"}.`,
          ) + (await figure(r.figures.pretrainLoss, "Pre-training loss")),
    },
    {
      title: "Fine-tuned model (full split)",
      html: metricsHtml(ft) + (await figure(r.figures.finetuneCurve, "Fine-tuning: loss and evaluation")),
    },
    { title: "A document, sentence by sentence", html: docHtml },
    {
      title: "Time",
      html: table(
        ["stage", "seconds"],
        Object.entries(s.seconds).map(([k, v]) => [k, Math.round(v)]),
      ),
    },
  ];
}

async function pngsIn(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter((f) => f.endsWith(".png")).sort();
  } catch {
    return [];
  }
}
