/** `gotune annotate-merge`: an annotate run's shards made one, with a summary and a report. */
import type { Command } from "commander";
import { mergeShards } from "../../jobs/annotate/merge.js";
import { runCommand } from "../../util/errors.js";

interface MergeCliOptions {
  out: string;
  json?: boolean;
}

/** Adds `annotate-merge` to the program. */
export function register(program: Command): void {
  program
    .command("annotate-merge")
    .summary("Merge the shards of an annotate run, with its report")
    .description(
      "Merge the shards of a gotune annotate run (their annotate.shard-I-of-N.json manifests, all N of " +
        "them; or one unsharded annotate.json) into OUT: sentences.jsonl and sentences.parquet, " +
        "documents.jsonl, in the order one process would have written them, and summary.json and " +
        "report.html with the aspect mix (share of sentences predicted as each label) per year and per " +
        "journal where the input has them, as figures in OUT/figures.",
    )
    .argument("<manifest...>", "the manifests annotate wrote, one per shard")
    .requiredOption("--out <dir>", "the output folder")
    .option("--json", "print the summary as one JSON object")
    .action((manifests: string[], opts: MergeCliOptions) =>
      runCommand(async () => {
        const s = await mergeShards(manifests, opts.out);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(s)}\n`);
          return;
        }
        const pct = (l: string) =>
          s.sentences ? `${((100 * s.predicted_counts[l]!) / s.sentences).toFixed(1)}%` : "-";
        process.stdout.write(
          `merged ${s.shards} shard(s): ${s.documents.toLocaleString("en-US")} documents, ` +
            `${s.sentences.toLocaleString("en-US")} sentences (${s.labels.map((l) => `${l} ${pct(l)}`).join(", ")})\n` +
            `report: ${s.files.report}\n`,
        );
      }),
    );
}
