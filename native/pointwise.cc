// Element-wise kernels: bias add and bias gradient, erf GELU (alone or after a bias), tanh, seeded
// dropout, sums.
#include <omp.h>

#include <cstring>
#include <vector>

#include "kernels.h"
#include "vecmath.h"

namespace gt {

// Over n elements (the pragma names the variable n itself).
#define PAR_FOR(n) _Pragma("omp parallel for simd schedule(static) num_threads(numThreads()) if ((n) >= kParallelMin)")

void addBias(float* x, const float* bias, int64_t N, int64_t H) {
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * H >= kParallelMin)
  for (int64_t r = 0; r < N; r++) {
    float* xr = x + r * H;
#pragma omp simd
    for (int64_t h = 0; h < H; h++) xr[h] += bias[h];
  }
}

void fillRows(float* x, const float* row, int64_t N, int64_t H) {
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * H >= kParallelMin)
  for (int64_t r = 0; r < N; r++) std::memcpy(x + r * H, row, sizeof(float) * H);
}

void biasGrad(float* dbias, const float* dy, int64_t N, int64_t H, int64_t ld) {
  if (N == 0) return;
  const int threads = (N * H >= kParallelMin) ? numThreads() : 1;
  thread_local std::vector<float> part;
  part.assign(static_cast<size_t>(threads) * H, 0.0f);
  float* parts = part.data();
#pragma omp parallel num_threads(threads)
  {
    float* p = parts + static_cast<size_t>(omp_get_thread_num()) * H;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < N; r++) {
      const float* g = dy + r * ld;
#pragma omp simd
      for (int64_t h = 0; h < H; h++) p[h] += g[h];
    }
  }
  for (int t = 0; t < threads; t++)
    for (int64_t h = 0; h < H; h++) dbias[h] += parts[static_cast<size_t>(t) * H + h];
}

void geluForward(float* out, const float* x, int64_t n) {
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) out[i] = gelu(x[i]);
}

void biasGeluForward(float* out, float* pre, const float* y, const float* bias, int64_t N, int64_t H) {
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * H >= kParallelMin)
  for (int64_t r = 0; r < N; r++) {
    const float* yr = y + r * H;
    float* o = out + r * H;
    if (pre) {
      float* pr = pre + r * H;
#pragma omp simd
      for (int64_t h = 0; h < H; h++) {
        const float v = yr[h] + bias[h];
        pr[h] = v;
        o[h] = gelu(v);
      }
    } else {
#pragma omp simd
      for (int64_t h = 0; h < H; h++) o[h] = gelu(yr[h] + bias[h]);
    }
  }
}

void geluBackward(float* dx, const float* dout, const float* x, int64_t n) {
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
    dx[i] = dout[i] * (cdf + v * pdf);
  }
}

void tanhForward(float* out, const float* x, int64_t n) {
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) out[i] = tanhf(x[i]);
}

void tanhBackward(float* dx, const float* dout, const float* y, int64_t n) {
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) dx[i] = dout[i] * (1.0f - y[i] * y[i]);
}

void dropout(float* out, const float* x, const float* residual, int64_t n, float p, uint64_t seed) {
  const DropoutKey key(seed);
  const uint32_t lo = key.lo, hi = key.hi;
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  if (residual) {
    PAR_FOR(n)
    for (int64_t i = 0; i < n; i++)
      out[i] = (uniform(lo, hi, static_cast<uint32_t>(i)) >= p ? x[i] * scale : 0.0f) + residual[i];
  } else {
    PAR_FOR(n)
    for (int64_t i = 0; i < n; i++) out[i] = uniform(lo, hi, static_cast<uint32_t>(i)) >= p ? x[i] * scale : 0.0f;
  }
}

void add(float* out, const float* a, const float* b, int64_t n) {
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

}  // namespace gt
