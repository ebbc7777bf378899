/** `gotune ship`: a `gotune pretrain` folder made into the shipped model folder (see src/jobs/shipped-model.ts). */
import type { Command } from "commander";
import { SHIP_DEFAULTS as D, shipModel } from "../../jobs/shipped-model.js";
import { runCommand } from "../../util/errors.js";
import { oneOf } from "../options.js";

interface ShipOptions {
  pretrained: string;
  data: string;
  out: string;
  dtype: "f16" | "bf16";
  name: string;
}

/** Adds `ship` to the program. */
export function register(program: Command): void {
  program
    .command("ship")
    .summary("Turn a pretrain output into a shippable Hugging Face folder")
    .description(
      "Turn a `gotune pretrain` output folder into a shippable Hugging Face folder: weights in fp16 (or bf16; " +
        "at most 25 MB), config and tokenizer files, pretrain.json, the gzipped log and loss figure, corpus.json " +
        "and corpus-terms.txt.gz (the release, split and train GO ids the corpus came from, which `gotune run` " +
        "checks its test split against), and README.md, a model card filled from pretrain.json",
    )
    .requiredOption("--pretrained <dir>", "the folder `gotune pretrain --out` wrote")
    .requiredOption("--data <dir>", "the folder given to `gotune pretrain --data` (train.jsonl, stats.json)")
    .option("--out <dir>", "the shipped folder to write (replaced whole)", D.out)
    .option("--dtype <t>", "f16 or bf16", oneOf(["f16", "bf16"] as const), D.dtype)
    .option("--name <name>", "the model's name in its card", D.name)
    .action((o: ShipOptions) =>
      runCommand(async () => {
        const r = await shipModel({
          ...o,
          dtype: o.dtype === "f16" ? "F16" : "BF16",
          log: (l) => process.stderr.write(`${l}\n`),
        });
        process.stdout.write(`${r.out}\n`);
      }),
    );
}
