// int8 dynamic quantisation of a linear layer, as onnxruntime's quantize_dynamic does it: weights
// quantised once per output channel (symmetric s8), activations per row at run time (asymmetric u8, the
// operand VNNI's vpdpbusd takes). The product (oneDNN's matmul with int32 accumulation, VNNI or AMX
// kernels, never hand-written) and the dequantisation are PackedLinear's (linear_packed.cc).
#include <algorithm>
#include <cmath>

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
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (int64_t k = 0; k < K; k++) {
      lo = std::min(lo, r[k]);
      hi = std::max(hi, r[k]);
    }
    const float s = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    const int32_t z = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / s), 0.0f, 255.0f));
    const float inv = 1.0f / s, zf = static_cast<float>(z);
    uint8_t* out = q + m * K;
#pragma omp simd
    for (int64_t k = 0; k < K; k++) {
      // nearbyint rounds half to even; the sum stays in [0, 255] up to rounding, clamped all the same
      const float v = std::nearbyint(r[k] * inv) + zf;
      out[k] = static_cast<uint8_t>(static_cast<int32_t>(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v));
    }
    scale[m] = s;
    zero[m] = z;
  }
}

}  // namespace gt
