/**
 * The typed face of the gotune_native addon (C++ in native/, built by node-gyp from binding.gyp).
 * Kernels take typed-array views (byte offsets honoured) and write into caller-owned outputs.
 * The addon is loaded on first use, so a missing build is one clear error rather than an import failure.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../util/errors.js";

type F32 = Float32Array;
type I32 = Int32Array;

/**
 * A plain product C[M,N] = alpha · op(A) op(B) + beta · C on typed arrays with offsets and leading
 * dimensions (BLAS's order): A and B are Float32Array for sgemm, Uint16Array (bf16) for gemmBf16.
 */
export type Gemm<T> = (
  ta: boolean,
  tb: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: T,
  offA: number,
  lda: number,
  B: T,
  offB: number,
  ldb: number,
  beta: number,
  C: F32,
  offC: number,
  ldc: number,
) => void;

/** The raw addon; its argument order is documented beside each function in native/*.cc. */
interface Addon {
  sgemm: Gemm<F32>;
  sgemmBatched(
    ta: boolean,
    tb: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: F32,
    offA: number,
    lda: number,
    sA1: number,
    sA2: number,
    B: F32,
    offB: number,
    ldb: number,
    sB1: number,
    sB2: number,
    beta: number,
    C: F32,
    offC: number,
    ldc: number,
    sC1: number,
    sC2: number,
    n1: number,
    n2: number,
  ): void;
  /**
   * Inference attention over sequences packed without padding: seqs [nSeq, 4] holds each sequence's
   * (query row, query count, key row, key count); per head h, context rows [Tq, d] (columns h*d..) =
   * softmax(scale · q kᵀ) v, with q read from offQ (rows ldq apart), keys and values from offK and offV of
   * kv (rows ldkv apart).
   */
  attentionPacked(
    context: F32,
    ldc: number,
    q: F32,
    offQ: number,
    ldq: number,
    kv: F32,
    offK: number,
    offV: number,
    ldkv: number,
    seqs: Int32Array,
    nSeq: number,
    nh: number,
    d: number,
    scale: number,
  ): void;
  toBf16(x: F32, out: Uint16Array, n: number): void;
  gemmBf16: Gemm<Uint16Array>;
  /**
   * A linear layer's weight w [N, K] packed once for inference (type 0 fp32, 1 bf16, 2 int8 per output
   * channel), with its bias (copied) and, when gelu, erf GELU after it.
   */
  packLinear(type: number, w: F32, bias: F32 | null, N: number, K: number, gelu: boolean): PackedLinear;
  /** The rows a packed product of M rows runs on: y holding that many is written in place. */
  packedRows(M: number): number;
  /** y [M, N] from its start = epilogue(x [M, K] (from offX, rows ldx apart) · Wᵀ + bias). */
  packedForward(handle: PackedLinear, M: number, x: F32, offX: number, ldx: number, y: F32): void;
  embeddingsForward(
    word: F32,
    pos: F32,
    type: F32,
    ids: I32,
    types: I32,
    out: F32,
    B: number,
    T: number,
    H: number,
  ): void;
  embeddingsBackward(
    dout: F32,
    dWord: F32,
    dPos: F32,
    dType: F32,
    ids: I32,
    types: I32,
    B: number,
    T: number,
    H: number,
    padId: number,
    touched: I32,
  ): number;
  zeroRows(x: F32, rows: I32, count: number, len: number): void;
  layerNormForward(
    x: F32,
    gamma: F32,
    beta: F32,
    out: F32,
    mean: F32,
    rstd: F32,
    N: number,
    H: number,
    eps: number,
  ): void;
  residualLayerNormForward(
    y: F32,
    bias: F32 | null,
    residual: F32,
    sum: F32,
    gamma: F32,
    beta: F32,
    out: F32,
    mean: F32,
    rstd: F32,
    N: number,
    H: number,
    eps: number,
    p: number,
    seed: number,
  ): void;
  layerNormBackward(
    dout: F32,
    x: F32,
    gamma: F32,
    mean: F32,
    rstd: F32,
    dx: F32,
    dgamma: F32,
    dbeta: F32,
    N: number,
    H: number,
    accumulate: boolean,
  ): void;
  addBias(x: F32, bias: F32, N: number, H: number): void;
  fillRows(x: F32, row: F32, N: number, H: number): void;
  setGemmMode(mode: number): void;
  biasGrad(dy: F32, dbias: F32, N: number, H: number, rowStride?: number): void;
  geluForward(x: F32, out: F32, n: number): void;
  biasGeluForward(y: F32, bias: F32, pre: F32 | null, out: F32, N: number, H: number): void;
  geluBackward(dout: F32, x: F32, dx: F32, n: number): void;
  tanhForward(x: F32, out: F32, n: number): void;
  tanhBackward(dout: F32, y: F32, dx: F32, n: number): void;
  dropout(x: F32, out: F32, n: number, p: number, seed: number, residual?: F32 | null): void;
  add(a: F32, b: F32, out: F32, n: number): void;
  softmaxForward(
    scores: F32,
    maskBias: F32 | null,
    probs: F32,
    R: number,
    Tk: number,
    rowsPerBatch: number,
    scale: number,
  ): void;
  softmaxBackward(dprobs: F32, probs: F32, dscores: F32, R: number, Tk: number, scale: number): void;
  crossEntropyForward(logits: F32, labels: I32, N: number, C: number): [number, number];
  crossEntropyBackward(logits: F32, labels: I32, dlogits: F32, N: number, C: number, scale: number): void;
  adamwUpdate(
    data: F32,
    grad: F32,
    m: F32,
    v: F32,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
    gradScale: number,
    rows?: I32,
    rowLen?: number,
  ): void;
  sumSquares(x: F32): number;
  scaleInPlace(x: F32, s: number): void;
  setThreads(n: number): void;
  getThreads(): number;
  setBatchedMode(mode: number): void;
  setGemmRule(minFlops: number): void;
  blasInfo(): {
    config: string;
    core: string;
    onednn: string;
    onednnIsa: number;
    onednnMinFlops: number;
    bf16: boolean;
    int8: boolean;
    /** The int8 inputs' range [0, max]: 255 with VNNI or AMX, 127 without (saturating 16-bit pair sums). */
    int8InputMax: number;
  };
}

let loaded: Addon | undefined;

/** The repository root: the nearest folder above this module that holds binding.gyp. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "binding.gyp"))) return dir;
    const up = dirname(dir);
    if (up === dir) return dirname(fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The addon, loaded once; a missing or unloadable build is a UserError saying how to build it. */
export function addon(): Addon {
  if (loaded) return loaded;
  const file = join(repoRoot(), "build", "Release", "gotune_native.node");
  if (!existsSync(file))
    throw new UserError(`the native addon is not built (${file} is missing)`, {
      hint: "run scripts/setup.sh",
    });
  // OpenMP's pool is the only one busy (OpenBLAS runs single-threaded calls in it, gemm mode 1), so its
  // threads spin briefly between the many short loops of a forward pass, then sleep: GOMP's default
  // (300,000 spins) unless the environment says otherwise. "passive" made each loop wake them by futex,
  // up to a third of an inference pass at bert-mini's shapes.
  process.env.GOMP_SPINCOUNT ??= "300000";
  try {
    loaded = createRequire(import.meta.url)(file) as Addon;
  } catch (err) {
    throw new UserError(`the native addon ${file} does not load (${(err as Error).message.split("\n")[0]})`, {
      hint: "run scripts/setup.sh",
    });
  }
  return loaded;
}

/** AdamW hyper-parameters for one step; `gradScale` multiplies the gradient first (clipping). */
export interface AdamwHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
  gradScale: number;
}

/**
 * One AdamW step in place, with torch.optim.AdamW's arithmetic; with `rows`, only those rows of
 * length `rowLen` are updated.
 */
export function adamwUpdate(
  data: F32,
  grad: F32,
  m: F32,
  v: F32,
  h: AdamwHyper,
  rows?: I32,
  rowLen?: number,
): void {
  if (rows && rowLen === undefined) throw new Error("adamwUpdate: rowLen is required with rows");
  const a = addon();
  if (rows)
    a.adamwUpdate(
      data,
      grad,
      m,
      v,
      h.lr,
      h.beta1,
      h.beta2,
      h.eps,
      h.weightDecay,
      h.step,
      h.gradScale,
      rows,
      rowLen,
    );
  else a.adamwUpdate(data, grad, m, v, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.step, h.gradScale);
}

/** The sum of squares of `x`, accumulated in double. */
export function sumSquares(x: F32): number {
  return addon().sumSquares(x);
}

/** Multiplies `x` by `s` in place. */
export function scaleInPlace(x: F32, s: number): void {
  addon().scaleInPlace(x, s);
}

/** Sets the thread count of the OpenMP loops and of OpenBLAS. */
export function setThreads(n: number): void {
  addon().setThreads(n);
}

/** The thread count the kernels use (all cores unless set). */
export function getThreads(): number {
  return addon().getThreads();
}

/** Whether this CPU has bf16 dot products (AVX512-BF16 or AMX) for the bf16 paths. */
export function bf16Available(): boolean {
  return addon().blasInfo().bf16;
}

/**
 * Whether oneDNN runs int8 products on this CPU (AVX2 or better). With VNNI or AMX the inputs use the full
 * u8 range; without, 7 bits (`blasInfo().int8InputMax` 127), as the 16-bit pair sums there would saturate.
 */
export function int8Available(): boolean {
  return addon().blasInfo().int8;
}

declare const packedBrand: unique symbol;
/** A weight packed by `packLinear`, freed when collected. */
export type PackedLinear = { readonly [packedBrand]: true };

/** The numeric formats of the encoder's matrix products at inference, the one list every option uses. */
export const DTYPES = ["fp32", "bf16", "int8"] as const;
export type Dtype = (typeof DTYPES)[number];

/** What each dtype needs of the CPU, for the line that says it is missing. */
const NEEDS: Record<Exclude<Dtype, "fp32">, { ok: () => boolean; cpu: string }> = {
  bf16: { ok: bf16Available, cpu: "no AVX512-BF16 or AMX" },
  int8: { ok: int8Available, cpu: "no AVX2" },
};

/**
 * The dtype that will run for `want`: bf16 or int8 only where the CPU has the dot products they need;
 * otherwise fp32, with one line through `note` saying so.
 */
export function usableDtype(want: Dtype, note: (line: string) => void): Dtype {
  if (want === "fp32" || NEEDS[want].ok()) return want;
  note(`${want} is unavailable on this CPU (${NEEDS[want].cpu}): running in fp32`);
  return "fp32";
}
