// int8 dynamic quantisation of a linear layer, as onnxruntime's quantize_dynamic does it: weights
// quantised once per output channel (symmetric s8), activations per row at run time (asymmetric u8, the
// operand VNNI's vpdpbusd takes). The product (oneDNN's matmul with int32 accumulation, never
// hand-written) and the dequantisation are PackedLinear's (linear_packed.cc).
//
// Without VNNI (AVX2, or AVX-512 without VNNI) oneDNN's u8 x s8 kernels multiply with vpmaddubsw, which
// adds each pair of u8 x s8 products into a saturating 16-bit sum: 255 * 127 * 2 = 64,770 overflows
// int16's 32,767 (measured here: a row of 255s times 127s gave half its sum). There the inputs are
// quantised to 7 bits ([0, 127]: 127 * 127 * 2 = 32,258 fits) and every product is exact again in int32.
// onnxruntime's reduce_range takes the 7 bits from the weights instead; on the test model here that moved
// the logits twice as far (10% of their range against 5%): a weight row's range is its own, while an
// input row's is set by BERT's few large activations either way.
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "onednn.h"

namespace gt {

bool int8Available() { return dnnl::hasIsa(dnnl_cpu_isa_avx2); }

int int8InputMax() {
  static const int m = dnnl::hasIsa(dnnl_cpu_isa_avx512_core_vnni) || dnnl::hasIsa(dnnl_cpu_isa_avx2_vnni) ? 255 : 127;
  return m;
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
  const float qm = static_cast<float>(int8InputMax());
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (M * K >= kParallelMin)
  for (int64_t m = 0; m < M; m++) {
    const float* r = x + m * ldx;
    float lo = 0, hi = 0;  // the range always holds 0, so that 0 (padding, ReLU-like zeros) is exact
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (int64_t k = 0; k < K; k++) {
      lo = std::min(lo, r[k]);
      hi = std::max(hi, r[k]);
    }
    const float s = hi > lo ? (hi - lo) / qm : 1.0f;
    const int32_t z = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / s), 0.0f, qm));
    const float inv = 1.0f / s, zf = static_cast<float>(z);
    uint8_t* out = q + m * K;
#pragma omp simd
    for (int64_t k = 0; k < K; k++) {
      // nearbyint rounds half to even; the sum stays in [0, qm] up to rounding, clamped all the same
      const float v = std::nearbyint(r[k] * inv) + zf;
      out[k] = static_cast<uint8_t>(static_cast<int32_t>(v < 0.0f ? 0.0f : v > qm ? qm : v));
    }
    scale[m] = s;
    zero[m] = z;
  }
}

}  // namespace gt
