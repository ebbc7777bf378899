/**
 * BertForSequenceClassification as an ONNX graph (opset 17), in the form torch.onnx.export gives a
 * Hugging Face BERT: int64 input_ids, attention_mask and token_type_ids with dynamic batch and sequence
 * axes, float logits out. Built as onnx-proto messages and encoded by protobufjs.
 */
import onnxProto from "onnx-proto";
import type { BertConfig } from "../model/config.js";
import type { Param } from "../model/param.js";
import { UserError } from "../util/errors.js";

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

/** The opset the graph uses (LayerNormalization is a standard op from 17). */
export const ONNX_OPSET = 17;
const IR_VERSION = 8; // the IR of opset 17 (ONNX 1.12)

// As transformers' get_extended_attention_mask: masked keys get float32's lowest value.
const FLOAT32_MIN = -3.4028234663852886e38;

/** Attribute values the graph needs: ints, int lists, floats. */
type Attr = number | number[] | { float: number };

function attribute(name: string, v: Attr): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === "object") return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INT, i: v };
}

const bytesOf = (a: Float32Array | BigInt64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Nodes and initializers under unique names, in topological order. */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private count = 0;

  /** Adds a node; returns its output's name (`out` when given, else a fresh one). */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string): string {
    const output = out ?? `/${type}_${this.count}`;
    this.nodes.push({
      opType: type,
      name: `${type}_${this.count++}`,
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** A float initializer (little-endian raw data, as ONNX stores it). */
  float(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytesOf(data) });
    return name;
  }

  /** An int64 initializer (shapes, axes, indices); a scalar when `scalar` is set. */
  int64(name: string, values: number[], scalar = false): string {
    const data = BigInt64Array.from(values, BigInt);
    this.initializers.push({
      name,
      dims: scalar ? [] : [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: bytesOf(data),
    });
    return name;
  }
}

/** W [out, in] (torch's Linear layout) as [in, out], the right operand of MatMul. */
function transposed(w: Float32Array, out: number, inp: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = w[o * inp + i]!;
  return t;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encodes a BertForSequenceClassification as an ONNX model. `tensors` maps transformers' parameter
 * names (bert.embeddings.word_embeddings.weight, …, classifier.bias) to their values; a missing or
 * mis-sized one is a UserError naming it.
 */
export function bertClassifierOnnx(
  config: BertConfig,
  numLabels: number,
  tensors: Map<string, Float32Array>,
  meta: { producerVersion?: string; docString?: string } = {},
): Uint8Array {
  if (!littleEndian) throw new UserError("ONNX export needs a little-endian machine");
  const H = config.hidden_size;
  const I = config.intermediate_size;
  const nh = config.num_attention_heads;
  const d = H / nh;
  const eps = { float: config.layer_norm_eps };
  const g = new GraphBuilder();
  const take = (name: string, size: number): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw new UserError(`the model has no tensor ${name}`, { hint: "export a BERT classifier" });
    if (t.length !== size)
      throw new UserError(`tensor ${name} has ${t.length} values, expected ${size}`, {
        hint: "config.json and the weights disagree",
      });
    return t;
  };
  const param = (name: string, dims: number[]) =>
    g.float(
      name,
      dims,
      take(
        name,
        dims.reduce((a, b) => a * b, 1),
      ),
    );
  // Linear(in -> out) on the last axis: MatMul by the transposed weight, then Add the bias.
  const linear = (x: string, name: string, inp: number, out: number): string => {
    const w = g.float(
      `${name}.weight_T`,
      [inp, out],
      transposed(take(`${name}.weight`, out * inp), out, inp),
    );
    return g.op("Add", [g.op("MatMul", [x, w]), param(`${name}.bias`, [out])]);
  };
  const layerNorm = (x: string, name: string) =>
    g.op("LayerNormalization", [x, param(`${name}.weight`, [H]), param(`${name}.bias`, [H])], {
      axis: -1,
      epsilon: eps,
    });

  // Embeddings: word + token type + position (the first T rows), then LayerNorm.
  const e = "bert.embeddings";
  const words = g.op("Gather", [param(`${e}.word_embeddings.weight`, [config.vocab_size, H]), "input_ids"]);
  const types = g.op("Gather", [
    param(`${e}.token_type_embeddings.weight`, [config.type_vocab_size, H]),
    "token_type_ids",
  ]);
  const seqLen = g.op("Shape", ["input_ids"], { start: 1, end: 2 }); // [1]: T
  const zero = g.int64("const_zero_1d", [0]);
  const positions = g.op("Slice", [
    param(`${e}.position_embeddings.weight`, [config.max_position_embeddings, H]),
    zero,
    seqLen,
    zero,
  ]); // [T, H]
  let h = layerNorm(g.op("Add", [g.op("Add", [words, types]), positions]), `${e}.LayerNorm`);

  // The extended mask [B, 1, 1, T]: 0 where attended, float32's lowest value where padded.
  const unsq = g.op("Unsqueeze", ["attention_mask", g.int64("const_axes_1_2", [1, 2])]);
  const maskF = g.op("Cast", [unsq], { to: onnx.TensorProto.DataType.FLOAT });
  const one = g.float("const_one", [], new Float32Array([1]));
  const lowest = g.float("const_float32_min", [], new Float32Array([FLOAT32_MIN]));
  const maskBias = g.op("Mul", [g.op("Sub", [one, maskF]), lowest]);

  const headsShape = g.int64("const_heads_shape", [0, 0, nh, d]); // [B, T, heads, d]
  const hiddenShape = g.int64("const_hidden_shape", [0, 0, H]);
  const sqrtD = g.float("const_sqrt_head_dim", [], new Float32Array([Math.sqrt(d)]));
  const sqrt2 = g.float("const_sqrt2", [], new Float32Array([Math.SQRT2]));
  const half = g.float("const_half", [], new Float32Array([0.5]));
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    const heads = (x: string, perm: number[]) =>
      g.op("Transpose", [g.op("Reshape", [x, headsShape])], { perm });
    const q = heads(linear(h, `${p}.attention.self.query`, H, H), [0, 2, 1, 3]); // [B, nh, T, d]
    const kT = heads(linear(h, `${p}.attention.self.key`, H, H), [0, 2, 3, 1]); // [B, nh, d, T]
    const v = heads(linear(h, `${p}.attention.self.value`, H, H), [0, 2, 1, 3]);
    const scores = g.op("Add", [g.op("Div", [g.op("MatMul", [q, kT]), sqrtD]), maskBias]);
    const probs = g.op("Softmax", [scores], { axis: -1 });
    const ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], { perm: [0, 2, 1, 3] });
    const attn = linear(g.op("Reshape", [ctx, hiddenShape]), `${p}.attention.output.dense`, H, H);
    h = layerNorm(g.op("Add", [attn, h]), `${p}.attention.output.LayerNorm`);
    // GELU, erf form: x * 0.5 * (1 + erf(x / sqrt 2)).
    const inter = linear(h, `${p}.intermediate.dense`, H, I);
    const erf = g.op("Erf", [g.op("Div", [inter, sqrt2])]);
    const gelu = g.op("Mul", [g.op("Mul", [inter, g.op("Add", [erf, one])]), half]);
    const out = linear(gelu, `${p}.output.dense`, I, H);
    h = layerNorm(g.op("Add", [out, h]), `${p}.output.LayerNorm`);
  }
  // Pooler on [CLS], then the classifier.
  const first = g.op("Gather", [h, g.int64("const_zero", [0], true)], { axis: 1 }); // [B, H]
  const pooled = g.op("Tanh", [linear(first, "bert.pooler.dense", H, H)]);
  const w = g.float(
    "classifier.weight_T",
    [H, numLabels],
    transposed(take("classifier.weight", numLabels * H), numLabels, H),
  );
  g.op("Add", [g.op("MatMul", [pooled, w]), param("classifier.bias", [numLabels])], {}, "logits");

  const dims = (...names: string[]) => ({ dim: names.map((dimParam) => ({ dimParam })) });
  const int64Input = (name: string) => ({
    name,
    type: {
      tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: dims("batch_size", "sequence_length") },
    },
  });
  const graph: onnxProto.onnx.IGraphProto = {
    name: "BertForSequenceClassification",
    node: g.nodes,
    initializer: g.initializers,
    input: [int64Input("input_ids"), int64Input("attention_mask"), int64Input("token_type_ids")],
    output: [
      {
        name: "logits",
        type: {
          tensorType: {
            elemType: onnx.TensorProto.DataType.FLOAT,
            shape: { dim: [{ dimParam: "batch_size" }, { dimValue: numLabels }] },
          },
        },
      },
    ],
  };
  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "gotune",
    producerVersion: meta.producerVersion ?? "",
    docString: meta.docString ?? "",
    graph,
  };
  return onnx.ModelProto.encode(model).finish();
}

/** A classifier in memory (e.g. BertForSequenceClassification) as an ONNX model; see bertClassifierOnnx. */
export function classifierToOnnx(
  model: { config: BertConfig; numLabels: number; params(): Param[] },
  meta: { producerVersion?: string; docString?: string } = {},
): Uint8Array {
  const tensors = new Map(model.params().map((p) => [p.name, p.data]));
  return bertClassifierOnnx(model.config, model.numLabels, tensors, meta);
}
