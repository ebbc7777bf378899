// Row softmaxes: attention's (scale and additive mask in the same pass) and cross-entropy with logits
// (mean, ignore -100).
#include <cmath>
#ifdef __AVX512F__
#include <immintrin.h>
// GCC 12's own _mm512_reduce_* helpers start from an undefined vector, which -Wmaybe-uninitialized reports.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels.h"
#include "vecmath.h"

namespace gt {

// Attention's rows are short (a sequence's length: 36 tokens on average at the study's shape). Written as
// plain loops, a row's serial max and its scalar remainder (glibc's scalar expf, one call an element) cost
// more than its vector work; with AVX-512 a row of up to kRowVectors vectors is held in registers, its
// tail loaded under a mask with -inf (exp 0) in the lanes past the row.
#ifdef __AVX512F__
extern "C" __m512 _ZGVeN16v_expf(__m512);  // glibc's libmvec: what `omp simd` calls for expf
constexpr int64_t kRowVectors = 32;

static inline __mmask16 tailMask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}
#endif

void softmaxRow(float* y, const float* x, const float* m, float scale, int64_t n) {
#ifdef __AVX512F__
  if (n <= 16 * kRowVectors) {
    __m512 v[kRowVectors];
    const int64_t nv = (n + 15) / 16;
    const __m512 ninf = _mm512_set1_ps(-INFINITY), sc = _mm512_set1_ps(scale);
    __m512 vmax = ninf;
    for (int64_t i = 0; i < nv; i++) {
      const __mmask16 k = tailMask(n - 16 * i);
      v[i] = _mm512_mul_ps(_mm512_mask_loadu_ps(ninf, k, x + 16 * i), sc);
      if (m) v[i] = _mm512_add_ps(v[i], _mm512_maskz_loadu_ps(k, m + 16 * i));
      vmax = _mm512_max_ps(vmax, v[i]);
    }
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    // Below -87, exp is under float's smallest normal: 0 here (as it rounds in the sum), and no lane takes
    // libmvec's slow path for out-of-range inputs (-inf, or a masked score near float's minimum).
    const __m512 lo = _mm512_set1_ps(-87.0f);
    __m512 vs = _mm512_setzero_ps();
    for (int64_t i = 0; i < nv; i++) {
      const __m512 d = _mm512_sub_ps(v[i], mx);
      v[i] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(d, lo, _CMP_GE_OQ), _ZGVeN16v_expf(_mm512_max_ps(d, lo)));
      vs = _mm512_add_ps(vs, v[i]);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vs));
    for (int64_t i = 0; i < nv; i++) _mm512_mask_storeu_ps(y + 16 * i, tailMask(n - 16 * i), _mm512_mul_ps(v[i], inv));
    return;
  }
#endif
  if (m) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) y[j] = x[j] * scale + m[j];
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) y[j] = x[j] * scale;
  }
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
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
  for (int64_t r = 0; r < R; r++)
    softmaxRow(probs + r * Tk, scores + r * Tk, mask ? mask + (r / rowsPerMask) * Tk : nullptr, scale, Tk);
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
