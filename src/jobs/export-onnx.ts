/**
 * `gotune export --onnx`: a fine-tuned classifier as a folder transformers.js and onnxruntime load:
 * config.json, the tokenizer files and onnx/model.onnx (fp32, transformers.js' default file name).
 */
import { promises as fsp } from "node:fs";
import { join, resolve } from "node:path";
import { MODEL_FILES } from "../hf/model-folder.js";
import { classifierToOnnx } from "../hf/onnx.js";
import { TOKENIZER_FILES } from "../hf/tokenizer.js";
import { Classifier } from "../inference/classifier.js";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fsx.js";

/** Where the ONNX graph goes inside the folder (transformers.js' default file name). */
export const ONNX_OUTPUTS = { dir: "onnx", model: "model.onnx" } as const;

/** What an export wrote. */
export interface OnnxExport {
  /** The folder transformers.js is given. */
  dir: string;
  /** The ONNX file, DIR/onnx/model.onnx. */
  onnx: string;
  bytes: number;
  labels: string[];
}

async function makeDir(dir: string, out: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
    await fsp.access(dir, fsp.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new UserError(`cannot write the export folder (${code})`, {
      file: out,
      hint: "give --onnx a folder you can write",
    });
  }
}

const isFile = (p: string) =>
  fsp.stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

/**
 * Exports the classifier `model` (a folder or hub id) to `out`: onnx/model.onnx, config.json (with
 * transformers.js_config.dtype "fp32", so browsers too pick model.onnx) and the tokenizer files, copied
 * as they are (tokenizer.json generated when the model has only vocab.txt). `out` may be the model folder.
 */
export async function exportOnnx(model: string, out: string): Promise<OnnxExport> {
  const clf = await Classifier.load(model);
  const src = clf.dir!;
  await makeDir(join(out, ONNX_OUTPUTS.dir), out);
  const same = (await fsp.realpath(src)) === (await fsp.realpath(out));
  const bytes = classifierToOnnx(clf.model, { docString: `exported by gotune from ${resolve(src)}` });
  const onnxFile = join(out, ONNX_OUTPUTS.dir, ONNX_OUTPUTS.model);
  await writeFileAtomic(onnxFile, bytes);
  if (!same)
    // tokenizer.json is required by transformers.js: written from the tokenizer below when the source lacks it.
    for (const f of Object.values(TOKENIZER_FILES))
      if (await isFile(join(src, f))) await writeFileAtomic(join(out, f), await fsp.readFile(join(src, f)));
  if (!(await isFile(join(out, TOKENIZER_FILES.json))))
    await writeFileAtomic(
      join(out, TOKENIZER_FILES.json),
      `${JSON.stringify(clf.tokenizer.toJson(), null, 2)}\n`,
    );
  const config = JSON.parse(await fsp.readFile(join(src, MODEL_FILES.config), "utf8")) as Record<
    string,
    unknown
  >;
  const tjs = (config["transformers.js_config"] ?? {}) as Record<string, unknown>;
  config["transformers.js_config"] = { ...tjs, dtype: "fp32" };
  await writeFileAtomic(join(out, MODEL_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
  return { dir: out, onnx: onnxFile, bytes: bytes.length, labels: clf.labels };
}
