// The optimiser's hot loops: AdamW exactly as torch.optim.AdamW computes it, squared norms, scaling.
#include <cmath>

#include "kernels.h"

namespace gt {

namespace {
// AdamwStep in the float constants the loop uses.
struct AdamwConst {
  float decay, b1, b2, eps, stepSize, bc2sqrt, gradScale;
  explicit AdamwConst(const AdamwStep& h)
      : decay(static_cast<float>(1.0 - h.lr * h.weightDecay)),
        b1(static_cast<float>(h.beta1)),
        b2(static_cast<float>(h.beta2)),
        eps(static_cast<float>(h.eps)),
        stepSize(static_cast<float>(h.lr / (1.0 - std::pow(h.beta1, h.step)))),
        bc2sqrt(static_cast<float>(std::sqrt(1.0 - std::pow(h.beta2, h.step)))),
        gradScale(static_cast<float>(h.gradScale)) {}
};
}  // namespace

// One AdamW step on `n` contiguous elements (torch 1.13's _single_tensor_adamw, in float).
static inline void adamwSpan(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                             int64_t n, const AdamwConst& c) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i] * c.gradScale;
    p[i] *= c.decay;
    m[i] = m[i] * c.b1 + (1.0f - c.b1) * gi;
    v[i] = v[i] * c.b2 + (1.0f - c.b2) * gi * gi;
    p[i] -= c.stepSize * m[i] / (std::sqrt(v[i]) / c.bc2sqrt + c.eps);
  }
}

void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamwStep& h) {
  const AdamwConst c(h);
  const int64_t chunk = 1 << 14, chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (n >= kParallelMin)
  for (int64_t k = 0; k < chunks; k++) {
    const int64_t i0 = k * chunk, len = (i0 + chunk <= n ? chunk : n - i0);
    adamwSpan(p + i0, g + i0, m + i0, v + i0, len, c);
  }
}

void adamwRows(float* p, const float* g, float* m, float* v, const int32_t* rows, int64_t R, int64_t len,
               const AdamwStep& h) {
  const AdamwConst c(h);
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (R * len >= kParallelMin)
  for (int64_t i = 0; i < R; i++) {
    const int64_t o = static_cast<int64_t>(rows[i]) * len;
    adamwSpan(p + o, g + o, m + o, v + o, len, c);
  }
}

double sumSquares(const float* x, int64_t n) {
  double s = 0.0;
#pragma omp parallel for simd schedule(static) num_threads(numThreads()) if (n >= kParallelMin) reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void scale(float* x, int64_t n, float s) {
#pragma omp parallel for simd schedule(static) num_threads(numThreads()) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}

}  // namespace gt
