// The optimiser's hot loops: AdamW exactly as torch.optim.AdamW computes it, squared norms, scaling.
#include <cblas.h>

#include <cmath>

#include "common.h"
#include "kernels.h"

namespace gt {

static int g_threads = 0;

int numThreads() {
  // OMP_NUM_THREADS when set, else every core this process may run on.
  if (g_threads <= 0) g_threads = omp_get_max_threads();
  return g_threads;
}

static int g_batchedMode = 0;
int batchedMode() { return g_batchedMode; }
static int g_gemmMode = 1;
int gemmMode() { return g_gemmMode; }

// setGemmMode(0 | 1): 0 lets OpenBLAS thread each product, 1 splits products over OpenMP threads.
Napi::Value SetGemmMode(const Napi::CallbackInfo& info) {
  g_gemmMode = static_cast<int>(integer(info, 0, "mode"));
  openblas_set_num_threads(g_gemmMode == 1 ? 1 : numThreads());
  return info.Env().Undefined();
}

// setThreads(n): the thread count for OpenMP loops and OpenBLAS alike.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int64_t n = integer(info, 0, "n");
  if (n < 1) throw rangeError(info.Env(), "the thread count must be at least 1");
  g_threads = static_cast<int>(n);
  omp_set_num_threads(g_threads);
  openblas_set_num_threads(g_gemmMode == 1 ? 1 : g_threads);
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), numThreads()); }

// setBatchedMode(0 | 1): 0 runs batched products one per thread, 1 runs them in turn on threaded OpenBLAS.
Napi::Value SetBatchedMode(const Napi::CallbackInfo& info) {
  g_batchedMode = static_cast<int>(integer(info, 0, "mode"));
  return info.Env().Undefined();
}

// One AdamW step on `n` contiguous elements (torch 1.13's _single_tensor_adamw, in float).
static inline void adamwSpan(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                             int64_t n, float decay, float b1, float b2, float eps, float stepSize, float bc2sqrt,
                             float gradScale) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i] * gradScale;
    p[i] *= decay;
    m[i] = m[i] * b1 + (1.0f - b1) * gi;
    v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
    p[i] -= stepSize * m[i] / (std::sqrt(v[i]) / bc2sqrt + eps);
  }
}

// adamwUpdate(data, grad, m, v, lr, beta1, beta2, eps, weightDecay, step, gradScale, rows?, rowLen?)
Napi::Value AdamwUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto p = f32(info, 0, "data"), g = f32(info, 1, "grad"), m = f32(info, 2, "m"), v = f32(info, 3, "v");
  double lr = num(info, 4, "lr"), b1 = num(info, 5, "beta1"), b2 = num(info, 6, "beta2"), eps = num(info, 7, "eps");
  double wd = num(info, 8, "weightDecay"), step = num(info, 9, "step"), gs = num(info, 10, "gradScale");
  if (g.n != p.n || m.n != p.n || v.n != p.n) throw rangeError(env, "data, grad, m and v must have the same length");
  if (step < 1) throw rangeError(env, "step must be at least 1");
  const float decay = static_cast<float>(1.0 - lr * wd);
  const float stepSize = static_cast<float>(lr / (1.0 - std::pow(b1, step)));
  const float bc2sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(b2, step)));
  const float fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2), feps = static_cast<float>(eps);
  const float fgs = static_cast<float>(gs);
  const int threads = numThreads();
  if (isNullish(info, 11)) {
    const int64_t n = static_cast<int64_t>(p.n), chunk = 1 << 14;
    const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) num_threads(threads) if (n >= kParallelMin)
    for (int64_t c = 0; c < chunks; c++) {
      const int64_t i0 = c * chunk, len = (i0 + chunk <= n ? chunk : n - i0);
      adamwSpan(p.p + i0, g.p + i0, m.p + i0, v.p + i0, len, decay, fb1, fb2, feps, stepSize, bc2sqrt, fgs);
    }
  } else {
    auto rows = i32(info, 11, "rows");
    const int64_t len = integer(info, 12, "rowLen");
    const int64_t R = static_cast<int64_t>(rows.n);
    for (int64_t i = 0; i < R; i++)
      if (rows.p[i] < 0 || (static_cast<int64_t>(rows.p[i]) + 1) * len > static_cast<int64_t>(p.n))
        throw rangeError(env, "row " + std::to_string(rows.p[i]) + " is out of range");
#pragma omp parallel for schedule(static) num_threads(threads) if (R * len >= kParallelMin)
    for (int64_t i = 0; i < R; i++) {
      const int64_t o = static_cast<int64_t>(rows.p[i]) * len;
      adamwSpan(p.p + o, g.p + o, m.p + o, v.p + o, len, decay, fb1, fb2, feps, stepSize, bc2sqrt, fgs);
    }
  }
  return env.Undefined();
}

// sumSquares(x) -> the sum of x[i]^2, accumulated in double.
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  auto x = f32(info, 0, "x");
  const int64_t n = static_cast<int64_t>(x.n);
  const float* xp = x.p;
  double s = 0.0;
#pragma omp parallel for simd schedule(static) num_threads(numThreads()) if (n >= kParallelMin) reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(xp[i]) * xp[i];
  return Napi::Number::New(info.Env(), s);
}

// scaleInPlace(x, s): x *= s.
Napi::Value ScaleInPlace(const Napi::CallbackInfo& info) {
  auto x = f32(info, 0, "x");
  const float s = static_cast<float>(num(info, 1, "s"));
  const int64_t n = static_cast<int64_t>(x.n);
  float* xp = x.p;
#pragma omp parallel for simd schedule(static) num_threads(numThreads()) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) xp[i] *= s;
  return info.Env().Undefined();
}

}  // namespace gt
