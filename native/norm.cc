// LayerNorm over the last dimension: forward (saving mean and 1/std per row), the residual block's
// fused tail (bias, dropout, residual add and LayerNorm in one pass over each row) and backward.
#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels.h"
#include "vecmath.h"

namespace gt {

// Normalises one row xr into o, returning mean and rstd through m and rs.
static inline void normRow(float* o, const float* xr, const float* gamma, const float* beta, int64_t H, float eps,
                           float* m, float* rs) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t h = 0; h < H; h++) s += xr[h];
  const float mean = s / H;
  float v = 0.0f;
#pragma omp simd reduction(+ : v)
  for (int64_t h = 0; h < H; h++) v += (xr[h] - mean) * (xr[h] - mean);
  const float r = 1.0f / std::sqrt(v / H + eps);
#pragma omp simd
  for (int64_t h = 0; h < H; h++) o[h] = (xr[h] - mean) * r * gamma[h] + beta[h];
  *m = mean;
  *rs = r;
}

void layerNormForward(float* out, float* mean, float* rstd, const float* x, const float* gamma, const float* beta,
                      int64_t N, int64_t H, float eps) {
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * H >= kParallelMin)
  for (int64_t r = 0; r < N; r++) normRow(out + r * H, x + r * H, gamma, beta, H, eps, mean + r, rstd + r);
}

void residualLayerNormForward(float* out, float* sum, float* mean, float* rstd, const float* y, const float* bias,
                              const float* residual, const float* gamma, const float* beta, int64_t N, int64_t H,
                              float eps, float p, uint64_t seed) {
  const DropoutKey key(seed);
  const float keepScale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * H >= kParallelMin)
  for (int64_t r = 0; r < N; r++) {
    const float* yr = y + r * H;
    const float* rr = residual + r * H;
    float* s = sum + r * H;
    if (p > 0.0f) {
      const uint32_t base = static_cast<uint32_t>(r * H);
#pragma omp simd
      for (int64_t h = 0; h < H; h++) {
        const float v = bias ? yr[h] + bias[h] : yr[h];
        s[h] = (uniform(key.lo, key.hi, base + static_cast<uint32_t>(h)) >= p ? v * keepScale : 0.0f) + rr[h];
      }
    } else if (bias) {
#pragma omp simd
      for (int64_t h = 0; h < H; h++) s[h] = yr[h] + bias[h] + rr[h];
    } else {
#pragma omp simd
      for (int64_t h = 0; h < H; h++) s[h] = yr[h] + rr[h];
    }
    normRow(out + r * H, s, gamma, beta, H, eps, mean + r, rstd + r);
  }
}

void layerNormBackward(float* dx, float* dgamma, float* dbeta, const float* dout, const float* x, const float* gamma,
                       const float* mean, const float* rstd, int64_t N, int64_t H, bool accumulate) {
  const int threads = (N * H >= kParallelMin) ? numThreads() : 1;
  // Per-thread partial sums for dgamma and dbeta (thread_local: no allocation once warm).
  thread_local std::vector<float> part;
  part.assign(static_cast<size_t>(threads) * 2 * H, 0.0f);
  float* parts = part.data();
#pragma omp parallel num_threads(threads)
  {
    float* pg = parts + static_cast<size_t>(omp_get_thread_num()) * 2 * H;
    float* pb = pg + H;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < N; r++) {
      const float* g = dout + r * H;
      const float* xr = x + r * H;
      float* d = dx + r * H;
      const float m = mean[r], rs = rstd[r];
      float s1 = 0.0f, s2 = 0.0f;
#pragma omp simd reduction(+ : s1, s2)
      for (int64_t h = 0; h < H; h++) {
        const float xh = (xr[h] - m) * rs, dxh = g[h] * gamma[h];
        s1 += dxh;
        s2 += dxh * xh;
        pg[h] += g[h] * xh;
        pb[h] += g[h];
      }
      s1 /= H;
      s2 /= H;
      if (accumulate) {
#pragma omp simd
        for (int64_t h = 0; h < H; h++) d[h] += rs * (g[h] * gamma[h] - s1 - (xr[h] - m) * rs * s2);
      } else {
#pragma omp simd
        for (int64_t h = 0; h < H; h++) d[h] = rs * (g[h] * gamma[h] - s1 - (xr[h] - m) * rs * s2);
      }
    }
  }
  for (int t = 0; t < threads; t++) {
    const float* pg = parts + static_cast<size_t>(t) * 2 * H;
    for (int64_t h = 0; h < H; h++) {
      dgamma[h] += pg[h];
      dbeta[h] += pg[H + h];
    }
  }
}

}  // namespace gt
