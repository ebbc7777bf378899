// Row softmaxes: attention's (scale and additive mask) and cross-entropy with logits (mean, ignore -100).
#include <cfloat>
#include <cmath>

#include "common.h"
#include "kernels.h"
#include "vecmath.h"

namespace gt {

// Softmax of one row in place: max, exp, normalise.
static inline void softmaxRow(float* y, int64_t n) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; j++) mx = y[j] > mx ? y[j] : mx;
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < n; j++) {
    y[j] = expf(y[j] - mx);
    s += y[j];
  }
  const float inv = 1.0f / s;
#pragma omp simd
  for (int64_t j = 0; j < n; j++) y[j] *= inv;
}

// softmaxForward(scores[R,Tk], maskBias[B,Tk] | null, probs[R,Tk], R, Tk, rowsPerBatch, scale):
// probs[r] = softmax(scale * scores[r] + maskBias[r / rowsPerBatch]); probs may alias scores.
Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto s = f32(info, 0, "scores");
  bool hasMask = !isNullish(info, 1);
  View<float> mask{nullptr, 0};
  if (hasMask) mask = f32(info, 1, "maskBias");
  auto p = f32(info, 2, "probs");
  int64_t R = integer(info, 3, "R"), Tk = integer(info, 4, "Tk"), per = integer(info, 5, "rowsPerBatch");
  float scale = static_cast<float>(num(info, 6, "scale"));
  fits(env, s.n, R * Tk, "scores");
  fits(env, p.n, R * Tk, "probs");
  if (hasMask) {
    if (per == 0) throw rangeError(env, "rowsPerBatch must be positive");
    fits(env, mask.n, ((R + per - 1) / per) * Tk, "maskBias");
  }
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (R * Tk >= kParallelMin)
  for (int64_t r = 0; r < R; r++) {
    const float* x = s.p + r * Tk;
    float* y = p.p + r * Tk;
    if (hasMask) {
      const float* m = mask.p + (r / per) * Tk;
      for (int64_t j = 0; j < Tk; j++) y[j] = x[j] * scale + m[j];
    } else {
      for (int64_t j = 0; j < Tk; j++) y[j] = x[j] * scale;
    }
    softmaxRow(y, Tk);
  }
  return env.Undefined();
}

// softmaxBackward(dprobs[R,Tk], probs[R,Tk], dscores[R,Tk], R, Tk, scale):
// dscores = scale * p * (dp - sum(dp * p)); dscores may alias dprobs.
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto dp = f32(info, 0, "dprobs"), p = f32(info, 1, "probs"), ds = f32(info, 2, "dscores");
  int64_t R = integer(info, 3, "R"), Tk = integer(info, 4, "Tk");
  float scale = static_cast<float>(num(info, 5, "scale"));
  fits(env, dp.n, R * Tk, "dprobs");
  fits(env, p.n, R * Tk, "probs");
  fits(env, ds.n, R * Tk, "dscores");
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (R * Tk >= kParallelMin)
  for (int64_t r = 0; r < R; r++) {
    const float* g = dp.p + r * Tk;
    const float* y = p.p + r * Tk;
    float* d = ds.p + r * Tk;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < Tk; j++) dot += g[j] * y[j];
#pragma omp simd
    for (int64_t j = 0; j < Tk; j++) d[j] = scale * y[j] * (g[j] - dot);
  }
  return env.Undefined();
}

static void checkLabels(Napi::Env env, const int32_t* labels, int64_t N, int64_t C) {
  for (int64_t r = 0; r < N; r++)
    if (labels[r] != -100 && (labels[r] < 0 || labels[r] >= C))
      throw rangeError(env, "label " + std::to_string(labels[r]) + " at row " + std::to_string(r) + " is outside [0, " +
                                std::to_string(C) + ") and is not -100");
}

// log(sum(exp(x - max))) + max of one row, accumulated in double.
static inline double logSumExp(const float* x, int64_t C) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < C; j++) mx = x[j] > mx ? x[j] : mx;
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < C; j++) s += expf(x[j] - mx);
  return std::log(static_cast<double>(s)) + mx;
}

// crossEntropyForward(logits[N,C], labels[N], N, C) -> [mean loss over rows whose label is not -100, count].
Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = f32(info, 0, "logits");
  auto labels = i32(info, 1, "labels");
  int64_t N = integer(info, 2, "N"), C = integer(info, 3, "C");
  fits(env, x.n, N * C, "logits");
  fits(env, labels.n, N, "labels");
  checkLabels(env, labels.p, N, C);
  double total = 0.0;
  int64_t count = 0;
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * C >= kParallelMin) reduction(+ : total, count)
  for (int64_t r = 0; r < N; r++) {
    if (labels.p[r] == -100) continue;
    const float* row = x.p + r * C;
    total += logSumExp(row, C) - row[labels.p[r]];
    count++;
  }
  auto out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, count ? total / count : NAN));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(count)));
  return out;
}

// crossEntropyBackward(logits[N,C], labels[N], dlogits[N,C], N, C, scale):
// dlogits = scale * (softmax(logits) - onehot(label)), zero rows for label -100; dlogits may alias logits.
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = f32(info, 0, "logits");
  auto labels = i32(info, 1, "labels");
  auto d = f32(info, 2, "dlogits");
  int64_t N = integer(info, 3, "N"), C = integer(info, 4, "C");
  float scale = static_cast<float>(num(info, 5, "scale"));
  fits(env, x.n, N * C, "logits");
  fits(env, d.n, N * C, "dlogits");
  fits(env, labels.n, N, "labels");
  checkLabels(env, labels.p, N, C);
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * C >= kParallelMin)
  for (int64_t r = 0; r < N; r++) {
    const float* row = x.p + r * C;
    float* g = d.p + r * C;
    if (labels.p[r] == -100) {
      for (int64_t j = 0; j < C; j++) g[j] = 0.0f;
      continue;
    }
    const float lse = static_cast<float>(logSumExp(row, C));
#pragma omp simd
    for (int64_t j = 0; j < C; j++) g[j] = scale * expf(row[j] - lse);
    g[labels.p[r]] -= scale;
  }
  return env.Undefined();
}

}  // namespace gt
