// int8 dynamic quantisation of a linear layer, as onnxruntime's quantize_dynamic does it: weights
// quantised once per output channel (symmetric s8), activations per row at run time (asymmetric u8, the
// operand VNNI's vpdpbusd takes), the product on oneDNN's matmul with int32 accumulation (VNNI or AMX
// kernels; never hand-written), then dequantisation and the bias in fp32. A primitive is built once
// per (N, K) and row-chunk size and kept (dnnl::ByRows), as for bf16.
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <vector>

#include "kernels.h"
#include "onednn.h"

namespace gt {

bool int8Available() {
  return dnnl::hasIsa(dnnl_cpu_isa_avx512_core_vnni) || dnnl::hasIsa(dnnl_cpu_isa_avx2_vnni);
}

void quantizeS8Rows(int8_t* q, float* scale, int32_t* sum, const float* w, int64_t O, int64_t I) {
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (O * I >= kParallelMin)
  for (int64_t o = 0; o < O; o++) {
    const float* r = w + o * I;
    float m = 0;
    for (int64_t i = 0; i < I; i++) m = std::max(m, std::fabs(r[i]));
    const float s = m > 0 ? m / 127.0f : 1.0f;
    int32_t acc = 0;
    for (int64_t i = 0; i < I; i++) {
      const int32_t v = static_cast<int32_t>(std::nearbyint(r[i] / s));
      q[o * I + i] = static_cast<int8_t>(std::clamp(v, -127, 127));
      acc += q[o * I + i];
    }
    scale[o] = s;
    sum[o] = acc;
  }
}

void quantizeU8Rows(uint8_t* q, float* scale, int32_t* zero, const float* x, int64_t M, int64_t K, int64_t ldx) {
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (M * K >= kParallelMin)
  for (int64_t m = 0; m < M; m++) {
    const float* r = x + m * ldx;
    float lo = 0, hi = 0;  // the range always holds 0, so that 0 (padding, ReLU-like zeros) is exact
    for (int64_t k = 0; k < K; k++) {
      lo = std::min(lo, r[k]);
      hi = std::max(hi, r[k]);
    }
    const float s = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    const int32_t z = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / s), 0.0f, 255.0f));
    const float inv = 1.0f / s;
    uint8_t* out = q + m * K;
#pragma omp simd
    for (int64_t k = 0; k < K; k++)
      out[k] = static_cast<uint8_t>(std::clamp(std::nearbyint(r[k] * inv) + static_cast<float>(z), 0.0f, 255.0f));
    scale[m] = s;
    zero[m] = z;
  }
}

namespace {

using Key = std::tuple<int64_t, int64_t>;

// Per thread: a Node worker thread running a model has its own primitives and scratch.
thread_local std::map<Key, dnnl::ByRows> cache;
thread_local std::vector<uint8_t> xq;
thread_local std::vector<int32_t> acc, xzero;
thread_local std::vector<float> xscale;

}  // namespace

void gemmU8S8(int32_t* C, const uint8_t* A, const int8_t* B, int64_t M, int64_t N, int64_t K) {
  if (M == 0 || N == 0) return;
  auto build = [N, K](int64_t m) {
    // B is stored [N, K] (PyTorch's weight layout): read as [K, N] with strides (1, K).
    const auto amd = dnnl::desc2d(m, K, dnnl_u8, K, 1, "A's descriptor");
    const auto bmd = dnnl::desc2d(K, N, dnnl_s8, 1, K, "B's descriptor");
    const auto cmd = dnnl::desc2d(m, N, dnnl_s32, N, 1, "C's descriptor");
    return dnnl::Matmul(amd, bmd, cmd, nullptr);
  };
  const int64_t cRow = N * static_cast<int64_t>(sizeof(int32_t));
  cache[Key{N, K}].run(build, M, N * K, A, K, K, B, C, cRow, cRow);
}

void linearInt8(float* y, const float* x, int64_t ldx, const int8_t* wq, const float* wscale, const int32_t* wsum,
                const float* bias, int64_t M, int64_t N, int64_t K, float beta) {
  if (M == 0 || N == 0) return;
  if (xq.size() < static_cast<size_t>(M * K)) xq.resize(M * K);
  if (acc.size() < static_cast<size_t>(M * N)) acc.resize(M * N);
  if (xscale.size() < static_cast<size_t>(M)) {
    xscale.resize(M);
    xzero.resize(M);
  }
  quantizeU8Rows(xq.data(), xscale.data(), xzero.data(), x, M, K, ldx);
  gemmU8S8(acc.data(), xq.data(), wq, M, N, K);
  // Σ_k (q_x - z) q_w = Σ_k q_x q_w - z Σ_k q_w: the zero point comes out through the weight's row sums.
  const int32_t* a = acc.data();
  const float* sx = xscale.data();
  const int32_t* zx = xzero.data();
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (M * N >= kParallelMin)
  for (int64_t m = 0; m < M; m++) {
    float* out = y + m * N;
    const int32_t* r = a + m * N;
    const float s = sx[m];
    const int32_t z = zx[m];
#pragma omp simd
    for (int64_t n = 0; n < N; n++) {
      float v = s * wscale[n] * static_cast<float>(r[n] - z * wsum[n]);
      if (bias) v += bias[n];
      out[n] = beta == 0.0f ? v : v + beta * out[n];
    }
  }
}

}  // namespace gt
