/** `gotune export --onnx DIR`: a fine-tuned classifier as an ONNX folder for transformers.js and onnxruntime. */
import type { Command } from "commander";
import { exportOnnx } from "../../jobs/export-onnx.js";
import { runCommand, UserError } from "../../util/errors.js";

interface ExportOptions {
  onnx?: string;
  model?: string;
}

/** Adds `export` to the program. */
export function register(program: Command): void {
  program
    .command("export")
    .summary("Export a fine-tuned classifier to ONNX (transformers.js)")
    .description(
      "Export a fine-tuned classifier to ONNX (opset 17, fp32) laid out as transformers.js expects: " +
        "DIR/onnx/model.onnx beside DIR/config.json and the tokenizer files, so that " +
        "pipeline('text-classification', DIR) in transformers.js, and onnxruntime, load it. Inputs " +
        "input_ids, attention_mask, token_type_ids (int64, dynamic batch and sequence); output logits.",
    )
    .option("--onnx <dir>", "the folder to write (the model folder itself when --model is not given)")
    .option(
      "--model <dir|id>",
      "the classifier to export: a model folder or Hugging Face model id (default: --onnx)",
    )
    .action((opts: ExportOptions) =>
      runCommand(async () => {
        if (opts.onnx === undefined)
          throw new UserError("no export format given", {
            hint: "give --onnx DIR (e.g. gotune export --model runs/latest/model --onnx runs/onnx)",
          });
        const r = await exportOnnx(opts.model ?? opts.onnx, opts.onnx);
        process.stdout.write(
          `wrote ${r.onnx} (${(r.bytes / 2 ** 20).toFixed(1)} MB; labels ${r.labels.join(", ")}) ` +
            `with config.json and the tokenizer files in ${r.dir}\n`,
        );
      }),
    );
}
