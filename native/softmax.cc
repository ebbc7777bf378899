// Row softmaxes: attention's (scale and additive mask in the same pass) and cross-entropy with logits
// (mean, ignore -100).
#include <cmath>

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

void softmaxForward(float* probs, const float* scores, const float* mask, int64_t R, int64_t Tk, int64_t rowsPerMask,
                    float scale) {
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (R * Tk >= kParallelMin)
  for (int64_t r = 0; r < R; r++) {
    const float* x = scores + r * Tk;
    float* y = probs + r * Tk;
    if (mask) {
      const float* m = mask + (r / rowsPerMask) * Tk;
#pragma omp simd
      for (int64_t j = 0; j < Tk; j++) y[j] = x[j] * scale + m[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < Tk; j++) y[j] = x[j] * scale;
    }
    softmaxRow(y, Tk);
  }
}

void softmaxBackward(float* dscores, const float* dprobs, const float* probs, int64_t R, int64_t Tk, float scale) {
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (R * Tk >= kParallelMin)
  for (int64_t r = 0; r < R; r++) {
    const float* g = dprobs + r * Tk;
    const float* y = probs + r * Tk;
    float* d = dscores + r * Tk;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < Tk; j++) dot += g[j] * y[j];
#pragma omp simd
    for (int64_t j = 0; j < Tk; j++) d[j] = scale * y[j] * (g[j] - dot);
  }
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

double crossEntropyForward(const float* logits, const int32_t* labels, int64_t N, int64_t C, int64_t* count) {
  double total = 0.0;
  int64_t n = 0;
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * C >= kParallelMin) reduction(+ : total, n)
  for (int64_t r = 0; r < N; r++) {
    if (labels[r] == -100) continue;
    const float* row = logits + r * C;
    total += logSumExp(row, C) - row[labels[r]];
    n++;
  }
  *count = n;
  return n ? total / n : NAN;
}

void crossEntropyBackward(float* dlogits, const float* logits, const int32_t* labels, int64_t N, int64_t C,
                          float scale) {
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (N * C >= kParallelMin)
  for (int64_t r = 0; r < N; r++) {
    const float* row = logits + r * C;
    float* g = dlogits + r * C;
    if (labels[r] == -100) {
      for (int64_t j = 0; j < C; j++) g[j] = 0.0f;
      continue;
    }
    const float lse = static_cast<float>(logSumExp(row, C));
#pragma omp simd
    for (int64_t j = 0; j < C; j++) g[j] = scale * expf(row[j] - lse);
    g[labels[r]] -= scale;
  }
}

}  // namespace gt
