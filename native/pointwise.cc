// Element-wise kernels: bias add and bias gradient, erf GELU, tanh, seeded dropout, sums.
#include <cstring>
#include <vector>

#include "common.h"
#include "kernels.h"
#include "vecmath.h"

namespace gt {

#define PAR_FOR(n) _Pragma("omp parallel for simd schedule(static) num_threads(numThreads()) if ((n) >= kParallelMin)")

// addBias(x[N,H], bias[H], N, H): x[r] += bias, in place.
Napi::Value AddBias(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = f32(info, 0, "x"), b = f32(info, 1, "bias");
  int64_t N = integer(info, 2, "N"), H = integer(info, 3, "H");
  fits(env, x.n, N * H, "x");
  fits(env, b.n, H, "bias");
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * H >= kParallelMin)
  for (int64_t r = 0; r < N; r++) {
    float* xr = x.p + r * H;
#pragma omp simd
    for (int64_t h = 0; h < H; h++) xr[h] += b.p[h];
  }
  return env.Undefined();
}

// fillRows(x[N,H], row[H], N, H): every row of x becomes `row` (a bias, before an sgemm with beta 1).
Napi::Value FillRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = f32(info, 0, "x"), b = f32(info, 1, "row");
  int64_t N = integer(info, 2, "N"), H = integer(info, 3, "H");
  fits(env, x.n, N * H, "x");
  fits(env, b.n, H, "row");
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * H >= kParallelMin)
  for (int64_t r = 0; r < N; r++) std::memcpy(x.p + r * H, b.p, sizeof(float) * H);
  return env.Undefined();
}

// biasGrad(dy[N,H], dbias[H], N, H, rowStride?): dbias += column sums of dy (rows rowStride apart, default H).
Napi::Value BiasGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto dy = f32(info, 0, "dy"), db = f32(info, 1, "dbias");
  int64_t N = integer(info, 2, "N"), H = integer(info, 3, "H");
  int64_t ld = isNullish(info, 4) ? H : integer(info, 4, "rowStride");
  if (N == 0) return env.Undefined();
  fits(env, dy.n, (N - 1) * ld + H, "dy");
  fits(env, db.n, H, "dbias");
  const int threads = (N * H >= kParallelMin) ? numThreads() : 1;
  std::vector<float> part(static_cast<size_t>(threads) * H, 0.0f);
#pragma omp parallel num_threads(threads)
  {
    float* p = part.data() + static_cast<size_t>(omp_get_thread_num()) * H;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < N; r++) {
      const float* g = dy.p + r * ld;
#pragma omp simd
      for (int64_t h = 0; h < H; h++) p[h] += g[h];
    }
  }
  for (int t = 0; t < threads; t++)
    for (int64_t h = 0; h < H; h++) db.p[h] += part[static_cast<size_t>(t) * H + h];
  return env.Undefined();
}

// geluForward(x, out, n): out = x * Phi(x) with the exact erf (Hugging Face's "gelu"); out may alias x.
Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = f32(info, 0, "x"), out = f32(info, 1, "out");
  int64_t n = integer(info, 2, "n");
  fits(env, x.n, n, "x");
  fits(env, out.n, n, "out");
  const float* xp = x.p;
  float* op = out.p;
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) op[i] = 0.5f * xp[i] * (1.0f + erff(xp[i] * 0.70710678118654752f));
  return env.Undefined();
}

// geluBackward(dout, x, dx, n): dx = dout * (Phi(x) + x * phi(x)); dx may alias dout.
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto dout = f32(info, 0, "dout"), x = f32(info, 1, "x"), dx = f32(info, 2, "dx");
  int64_t n = integer(info, 3, "n");
  fits(env, dout.n, n, "dout");
  fits(env, x.n, n, "x");
  fits(env, dx.n, n, "dx");
  const float *g = dout.p, *xp = x.p;
  float* d = dx.p;
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) {
    const float v = xp[i];
    const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
    d[i] = g[i] * (cdf + v * pdf);
  }
  return env.Undefined();
}

// tanhForward(x, out, n), out may alias x.
Napi::Value TanhForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = f32(info, 0, "x"), out = f32(info, 1, "out");
  int64_t n = integer(info, 2, "n");
  fits(env, x.n, n, "x");
  fits(env, out.n, n, "out");
  const float* xp = x.p;
  float* op = out.p;
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) op[i] = tanhf(xp[i]);
  return env.Undefined();
}

// tanhBackward(dout, y, dx, n): dx = dout * (1 - y^2), y the forward output.
Napi::Value TanhBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto dout = f32(info, 0, "dout"), y = f32(info, 1, "y"), dx = f32(info, 2, "dx");
  int64_t n = integer(info, 3, "n");
  fits(env, dout.n, n, "dout");
  fits(env, y.n, n, "y");
  fits(env, dx.n, n, "dx");
  const float *g = dout.p, *yp = y.p;
  float* d = dx.p;
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) d[i] = g[i] * (1.0f - yp[i] * yp[i]);
  return env.Undefined();
}

// A counter-based hash (murmur3's 32-bit finaliser over the index mixed with the seed): element i's
// keep/drop depends only on (seed, i), so the mask is the same at any thread count and backward recomputes
// it instead of storing it. 32-bit multiplies keep the loop vectorised.
static inline float uniform(uint32_t seedLo, uint32_t seedHi, uint32_t i) {
  uint32_t h = (i * 0x9E3779B1u) ^ seedLo;
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= (h >> 13) ^ seedHi;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return static_cast<float>(h >> 8) * (1.0f / 16777216.0f);
}

// dropout(x, out, n, p, seed, residual?): out = keep(seed, i) ? x / (1 - p) : 0, plus residual[i] when
// given. The same call on the upstream gradient is dropout's backward. out may alias x or residual.
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = f32(info, 0, "x"), out = f32(info, 1, "out");
  int64_t n = integer(info, 2, "n");
  float p = static_cast<float>(num(info, 3, "p"));
  const uint64_t seed = static_cast<uint64_t>(num(info, 4, "seed"));
  const uint32_t lo = static_cast<uint32_t>(seed), hi = static_cast<uint32_t>(seed >> 32) * 0x27D4EB2Fu + 0x165667B1u;
  fits(env, x.n, n, "x");
  fits(env, out.n, n, "out");
  if (n > 0xFFFFFFFFll) throw rangeError(env, "dropout takes at most 2^32 elements per call");
  const float* r = nullptr;
  if (!isNullish(info, 5)) {
    auto res = f32(info, 5, "residual");
    fits(env, res.n, n, "residual");
    r = res.p;
  }
  const float* xp = x.p;
  float* op = out.p;
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  if (r) {
    PAR_FOR(n)
    for (int64_t i = 0; i < n; i++) op[i] = (uniform(lo, hi, static_cast<uint32_t>(i)) >= p ? xp[i] * scale : 0.0f) + r[i];
  } else {
    PAR_FOR(n)
    for (int64_t i = 0; i < n; i++) op[i] = uniform(lo, hi, static_cast<uint32_t>(i)) >= p ? xp[i] * scale : 0.0f;
  }
  return env.Undefined();
}

// add(a, b, out, n): out = a + b; out may alias either.
Napi::Value Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto a = f32(info, 0, "a"), b = f32(info, 1, "b"), out = f32(info, 2, "out");
  int64_t n = integer(info, 3, "n");
  fits(env, a.n, n, "a");
  fits(env, b.n, n, "b");
  fits(env, out.n, n, "out");
  const float *ap = a.p, *bp = b.p;
  float* op = out.p;
  PAR_FOR(n)
  for (int64_t i = 0; i < n; i++) op[i] = ap[i] + bp[i];
  return env.Undefined();
}

}  // namespace gt
