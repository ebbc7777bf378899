/** The list of sub-commands; each module exports `register(program)`. */
import type { Command } from "commander";
import { register as registerAnnotate } from "./annotate.js";
import { register as registerAnnotateMerge } from "./annotate-merge.js";
import { register as registerAttention } from "./attention.js";
import { register as registerBaseline } from "./baseline.js";
import { register as registerEval } from "./eval.js";
import { register as registerExport } from "./export.js";
import { register as registerFetchGo } from "./fetch-go.js";
import { register as registerPredict } from "./predict.js";
import { register as registerPrepare } from "./prepare.js";
import { register as registerPretrain } from "./pretrain.js";
import { register as registerRun } from "./run.js";
import { register as registerServe } from "./serve.js";
import { register as registerShip } from "./ship.js";
import { register as registerTokenize } from "./tokenize.js";
import { register as registerTrain } from "./train.js";
import { register as registerTrainVocab } from "./train-vocab.js";

/** Adds every sub-command to the program. */
export function registerAll(program: Command): void {
  registerAnnotate(program);
  registerAnnotateMerge(program);
  registerAttention(program);
  registerBaseline(program);
  registerEval(program);
  registerExport(program);
  registerFetchGo(program);
  registerPredict(program);
  registerPrepare(program);
  registerPretrain(program);
  registerRun(program);
  registerServe(program);
  registerShip(program);
  registerTokenize(program);
  registerTrain(program);
  registerTrainVocab(program);
}
