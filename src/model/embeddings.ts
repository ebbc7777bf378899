/** BertEmbeddings: word + position + token-type embeddings, then LayerNorm and dropout. */
import { addon } from "../native/index.js";
import { UserError } from "../util/errors.js";
import { Buffers } from "./buffers.js";
import type { BertConfig } from "./config.js";
import type { Ctx } from "./context.js";
import { Dropout } from "./dropout.js";
import { LayerNorm } from "./layernorm.js";
import { makeParam, type Param } from "./param.js";

/** The embedding block under `prefix` (e.g. `bert.embeddings`). */
export class Embeddings {
  readonly word: Param; // [V, H]
  readonly position: Param; // [P, H]
  readonly tokenType: Param; // [TV, H]
  readonly norm: LayerNorm;
  private readonly dropout: Dropout;
  private readonly bufs = new Buffers();
  private ids: Int32Array = new Int32Array(0);
  private types: Int32Array = new Int32Array(0);
  private B = 0;
  private T = 0;

  constructor(
    prefix: string,
    private readonly config: BertConfig,
  ) {
    const H = config.hidden_size;
    this.word = makeParam(`${prefix}.word_embeddings.weight`, [config.vocab_size, H]);
    this.position = makeParam(`${prefix}.position_embeddings.weight`, [config.max_position_embeddings, H]);
    this.tokenType = makeParam(`${prefix}.token_type_embeddings.weight`, [config.type_vocab_size, H]);
    this.norm = new LayerNorm(`${prefix}.LayerNorm`, H, config.layer_norm_eps);
    this.dropout = new Dropout(config.hidden_dropout_prob);
  }

  params(): Param[] {
    return [this.word, this.position, this.tokenType, ...this.norm.params()];
  }

  /** out [B*T, H] = dropout(LayerNorm(word[ids] + position[t] + tokenType[types])); ids, types [B*T]. */
  forward(ids: Int32Array, types: Int32Array, ctx: Ctx): Float32Array {
    const { B, T } = ctx,
      H = this.config.hidden_size,
      N = B * T;
    const sum = this.bufs.get("sum", N * H);
    this.sum(ids, types, sum, B, T);
    this.ids = ids;
    this.types = types;
    this.B = B;
    this.T = T;
    const normed = this.norm.forward(sum, N);
    return this.dropout.forward(normed, normed, N * H, ctx);
  }

  /**
   * Inference only: out [N, H] for packed tokens, where `runs` cut ids and types [N] into consecutive
   * runs of n sequences of T tokens each (positions count from 0 in every sequence); no dropout.
   */
  forwardRuns(ids: Int32Array, types: Int32Array, runs: readonly { n: number; T: number }[]): Float32Array {
    const H = this.config.hidden_size,
      N = runs.reduce((s, r) => s + r.n * r.T, 0);
    const sum = this.bufs.get("sum", N * H);
    let r0 = 0;
    for (const { n, T } of runs) {
      const r1 = r0 + n * T;
      this.sum(ids.subarray(r0, r1), types.subarray(r0, r1), sum.subarray(r0 * H, r1 * H), n, T);
      r0 = r1;
    }
    return this.norm.forward(sum, N);
  }

  /** sum [B*T, H] = word[ids] + position[t] + tokenType[types]; a batch the tables cannot index is a UserError. */
  private sum(ids: Int32Array, types: Int32Array, sum: Float32Array, B: number, T: number): void {
    try {
      addon().embeddingsForward(
        this.word.data,
        this.position.data,
        this.tokenType.data,
        ids,
        types,
        sum,
        B,
        T,
        this.config.hidden_size,
      );
    } catch (err) {
      if (err instanceof RangeError)
        throw new UserError(`the batch does not fit the model: ${err.message}`, {
          hint: "use the tokenizer that belongs to this model and sequences no longer than max_position_embeddings",
        });
      throw err;
    }
  }

  /**
   * From dout [B*T, H] (used as scratch): gradients of the LayerNorm and of the three tables, the word
   * table's only in the rows the batch used; writes those rows, sorted and unique, to `touched` and
   * returns how many there are.
   */
  backward(dout: Float32Array, scratch: Float32Array, touched: Int32Array): number {
    const B = this.B,
      T = this.T,
      H = this.config.hidden_size,
      N = B * T;
    const dn = this.dropout.backward(dout, dout, N * H);
    this.norm.backward(dn, scratch);
    return addon().embeddingsBackward(
      scratch,
      this.word.grad,
      this.position.grad,
      this.tokenType.grad,
      this.ids,
      this.types,
      B,
      T,
      H,
      this.config.pad_token_id,
      touched,
    );
  }
}
