/**
 * Strided matrix views and the products on them: a view names a batch of row-major matrices inside one
 * Float32Array, so that attention's per-(example, head) products read as one line, `bmm(scores, q, t(k))`,
 * while the addon addresses head h of example b inside [B, T, H] without a copy.
 */
import { addon, type Gemm } from "./index.js";

/** The element types a product reads: fp32, or bf16 bit patterns (a Uint16Array). */
export type MatData = Float32Array | Uint16Array;

/**
 * n1 × n2 matrices of `rows` × `cols` (as stored) in `data`: matrix (i, j) starts at
 * off + i*s1 + j*s2 and its rows are `ld` apart. `trans` reads each matrix transposed.
 */
export interface MatView<T extends MatData = Float32Array> {
  readonly data: T;
  readonly rows: number;
  readonly cols: number;
  readonly off: number;
  readonly ld: number;
  readonly s1: number;
  readonly s2: number;
  readonly n1: number;
  readonly n2: number;
  readonly trans: boolean;
}

/** One matrix [rows, cols] in `data` from `off`, rows `ld` apart (default: packed). */
export function mat<T extends MatData = Float32Array>(
  data: T,
  rows: number,
  cols: number,
  off = 0,
  ld = cols,
): MatView<T> {
  return { data, rows, cols, off, ld, s1: 0, s2: 0, n1: 1, n2: 1, trans: false };
}

/** [B, T, nh*d] (rows `ld` apart, from `off`) as B × nh matrices [T, d]: head h of example b. */
export function heads(
  data: Float32Array,
  B: number,
  T: number,
  nh: number,
  d: number,
  off = 0,
  ld = nh * d,
): MatView {
  return { data, rows: T, cols: d, off, ld, s1: T * ld, s2: d, n1: B, n2: nh, trans: false };
}

/** [B, nh, T, Tk] (from `off`) as B × nh matrices [T, Tk]. */
export function perHead(data: Float32Array, B: number, nh: number, T: number, Tk: number, off = 0): MatView {
  return {
    data,
    rows: T,
    cols: Tk,
    off,
    ld: Tk,
    s1: nh * T * Tk,
    s2: T * Tk,
    n1: B,
    n2: nh,
    trans: false,
  };
}

/** The same matrices, read transposed. */
export function t<T extends MatData>(v: MatView<T>): MatView<T> {
  return { ...v, trans: !v.trans };
}

const shapeOf = (v: MatView<MatData>) => (v.trans ? [v.cols, v.rows] : [v.rows, v.cols]);

/**
 * C = alpha · op(A) · op(B) + beta · C for every matrix of the batch (C is never transposed; a single
 * matrix broadcasts over a batch when its counts are 1). A and B in bf16 (Uint16Array) take oneDNN's bf16
 * product, single matrices only, fp32 accumulation into C. Shapes are checked here; bounds in the addon.
 */
export function bmm<T extends MatData>(C: MatView, A: MatView<T>, B: MatView<T>, alpha = 1, beta = 0): void {
  const [M, K] = shapeOf(A),
    [K2, N] = shapeOf(B);
  if (C.trans || K !== K2 || C.rows !== M || C.cols !== N)
    throw new Error(`bmm: [${C.rows}, ${C.cols}] = [${M}, ${K}] · [${K2}, ${N}] does not fit`);
  const n1 = C.n1,
    n2 = C.n2;
  for (const v of [A, B])
    if ((v.n1 !== n1 && v.n1 !== 1) || (v.n2 !== n2 && v.n2 !== 1))
      throw new Error(`bmm: batch ${v.n1} × ${v.n2} does not match ${n1} × ${n2}`);
  // A single matrix (counts 1) broadcasts: stride 0.
  const s1 = (v: MatView<MatData>) => (v.n1 === 1 ? 0 : v.s1),
    s2 = (v: MatView<MatData>) => (v.n2 === 1 ? 0 : v.s2);
  const k = addon();
  const bf16 = A.data instanceof Uint16Array || B.data instanceof Uint16Array;
  if (bf16 && n1 * n2 !== 1) throw new Error("bmm: bf16 products are single matrices");
  if (n1 * n2 === 1) {
    // One matrix each: fp32 on sgemm, bf16 on oneDNN's bf16 product (the same arguments).
    const gemm = (bf16 ? k.gemmBf16 : k.sgemm) as Gemm<T>;
    gemm(
      A.trans,
      B.trans,
      M,
      N,
      K,
      alpha,
      A.data,
      A.off,
      A.ld,
      B.data,
      B.off,
      B.ld,
      beta,
      C.data,
      C.off,
      C.ld,
    );
    return;
  }
  k.sgemmBatched(
    A.trans,
    B.trans,
    M,
    N,
    K,
    alpha,
    A.data as Float32Array,
    A.off,
    A.ld,
    s1(A),
    s2(A),
    B.data as Float32Array,
    B.off,
    B.ld,
    s1(B),
    s2(B),
    beta,
    C.data,
    C.off,
    C.ld,
    C.s1,
    C.s2,
    n1,
    n2,
  );
}
