/** A trainable tensor: the unit that weights files, optimisers and gradient checks share. */

/** One parameter under its Hugging Face name, row-major, with its gradient buffer. */
export interface Param {
  /** Hugging Face's name, e.g. `bert.encoder.layer.0.attention.self.query.weight`. */
  name: string;
  /** Shape as PyTorch gives it: Linear weights are [out, in]. */
  shape: number[];
  data: Float32Array;
  grad: Float32Array;
  /**
   * For large embedding tables: the rows the last backward touched (sorted, unique), so that an
   * optimiser may update only those rows lazily. Undefined means the whole gradient is dense.
   */
  touchedRows?: Int32Array;
}

/** A new parameter of the given shape, zero-filled, with a zero gradient. */
export function makeParam(name: string, shape: number[]): Param {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, shape, data: new Float32Array(n), grad: new Float32Array(n) };
}
