// LayerNorm over the last dimension, forward (saving mean and 1/std per row) and backward.
#include <cmath>
#include <vector>

#include "common.h"
#include "kernels.h"

namespace gt {

// layerNormForward(x[N,H], gamma[H], beta[H], out[N,H], mean[N], rstd[N], N, H, eps)
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = f32(info, 0, "x"), gamma = f32(info, 1, "gamma"), beta = f32(info, 2, "beta");
  auto out = f32(info, 3, "out"), mean = f32(info, 4, "mean"), rstd = f32(info, 5, "rstd");
  int64_t N = integer(info, 6, "N"), H = integer(info, 7, "H");
  float eps = static_cast<float>(num(info, 8, "eps"));
  fits(env, x.n, N * H, "x");
  fits(env, out.n, N * H, "out");
  fits(env, gamma.n, H, "gamma");
  fits(env, beta.n, H, "beta");
  fits(env, mean.n, N, "mean");
  fits(env, rstd.n, N, "rstd");
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * H >= kParallelMin)
  for (int64_t r = 0; r < N; r++) {
    const float* xr = x.p + r * H;
    float* o = out.p + r * H;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t h = 0; h < H; h++) s += xr[h];
    const float m = s / H;
    float v = 0.0f;
#pragma omp simd reduction(+ : v)
    for (int64_t h = 0; h < H; h++) v += (xr[h] - m) * (xr[h] - m);
    const float rs = 1.0f / std::sqrt(v / H + eps);
    for (int64_t h = 0; h < H; h++) o[h] = (xr[h] - m) * rs * gamma.p[h] + beta.p[h];
    mean.p[r] = m;
    rstd.p[r] = rs;
  }
  return env.Undefined();
}

// layerNormBackward(dout[N,H], x[N,H], gamma[H], mean[N], rstd[N], dx[N,H], dgamma[H], dbeta[H], N, H, accumulate):
// dx is written (or added to, with accumulate); dgamma and dbeta are always added to.
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto dout = f32(info, 0, "dout"), x = f32(info, 1, "x"), gamma = f32(info, 2, "gamma");
  auto mean = f32(info, 3, "mean"), rstd = f32(info, 4, "rstd");
  auto dx = f32(info, 5, "dx"), dgamma = f32(info, 6, "dgamma"), dbeta = f32(info, 7, "dbeta");
  int64_t N = integer(info, 8, "N"), H = integer(info, 9, "H");
  bool acc = boolean(info, 10);
  fits(env, dout.n, N * H, "dout");
  fits(env, x.n, N * H, "x");
  fits(env, dx.n, N * H, "dx");
  fits(env, gamma.n, H, "gamma");
  fits(env, dgamma.n, H, "dgamma");
  fits(env, dbeta.n, H, "dbeta");
  fits(env, mean.n, N, "mean");
  fits(env, rstd.n, N, "rstd");
  const int threads = (N * H >= kParallelMin) ? numThreads() : 1;
  std::vector<float> part(static_cast<size_t>(threads) * 2 * H, 0.0f);
#pragma omp parallel num_threads(threads)
  {
    float* pg = part.data() + static_cast<size_t>(omp_get_thread_num()) * 2 * H;
    float* pb = pg + H;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < N; r++) {
      const float* g = dout.p + r * H;
      const float* xr = x.p + r * H;
      float* d = dx.p + r * H;
      const float m = mean.p[r], rs = rstd.p[r];
      float s1 = 0.0f, s2 = 0.0f;
#pragma omp simd reduction(+ : s1, s2)
      for (int64_t h = 0; h < H; h++) {
        const float xh = (xr[h] - m) * rs, dxh = g[h] * gamma.p[h];
        s1 += dxh;
        s2 += dxh * xh;
        pg[h] += g[h] * xh;
        pb[h] += g[h];
      }
      s1 /= H;
      s2 /= H;
      if (acc) {
        for (int64_t h = 0; h < H; h++) d[h] += rs * (g[h] * gamma.p[h] - s1 - (xr[h] - m) * rs * s2);
      } else {
        for (int64_t h = 0; h < H; h++) d[h] = rs * (g[h] * gamma.p[h] - s1 - (xr[h] - m) * rs * s2);
      }
    }
  }
  for (int t = 0; t < threads; t++) {
    const float* pg = part.data() + static_cast<size_t>(t) * 2 * H;
    for (int64_t h = 0; h < H; h++) {
      dgamma.p[h] += pg[h];
      dbeta.p[h] += pg[H + h];
    }
  }
  return env.Undefined();
}

}  // namespace gt
