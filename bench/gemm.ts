/**
 * The machine's matrix-product peaks, so the engine's GFLOP/s can be read against them: fp32 through
 * the engine's own product (OpenBLAS under this process's settings, and oneDNN), and bf16 with fp32
 * accumulation through oneDNN's matmul where the CPU has AVX512-BF16 or AMX. Part of `npm run bench`.
 */
import { addon } from "../src/native/index.js";

/**
 * GFLOP/s of the best of a few timed rounds of an n×n×n product, after warm-up runs (a product's first
 * runs make its primitives; the machine's speed drifts, so the best round is the peak).
 */
function best(run: () => void, flops: number, rounds = 5): number {
  for (let i = 0; i < 3; i++) run();
  let ms = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const reps = 4;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    ms = Math.min(ms, (performance.now() - t0) / reps);
  }
  return flops / ms / 1e6;
}

/**
 * The fp32 peaks of both libraries' plain products and of the packed product inference runs on (oneDNN's
 * matmul on a weight packed once), and the bf16 peak (null without bf16 dot products), in GFLOP/s.
 */
export function gemmPeaks(n = 1024): {
  fp32_openblas: number;
  fp32_onednn: number;
  fp32_packed: number;
  bf16: number | null;
} {
  const k = addon();
  const info = k.blasInfo();
  const A = new Float32Array(n * n).fill(0.5),
    B = new Float32Array(n * n).fill(0.25),
    C = new Float32Array(n * n);
  const flops = 2 * n * n * n;
  const fp32 = (rule: number) => {
    k.setGemmRule(rule);
    return best(() => k.sgemm(false, true, n, n, n, 1, A, 0, n, B, 0, n, 0, C, 0, n), flops);
  };
  const fp32_openblas = fp32(-1),
    fp32_onednn = fp32(0);
  k.setGemmRule(info.onednnMinFlops);
  const packed = k.packLinear(0, B, null, n, n, false);
  const fp32_packed = best(() => k.packedForward(packed, n, A, 0, n, C), flops);
  let bf16: number | null = null;
  if (info.bf16) {
    const a = new Uint16Array(n * n),
      b = new Uint16Array(n * n);
    k.toBf16(A, a, n * n);
    k.toBf16(B, b, n * n);
    bf16 = best(() => k.gemmBf16(false, true, n, n, n, 1, a, 0, n, b, 0, n, 0, C, 0, n), flops);
  }
  return { fp32_openblas, fp32_onednn, fp32_packed, bf16 };
}
