// Inference attention over packed sequences in one parallel loop. Run as batched products and a softmax
// call per run of equal-length sequences, a layer's attention took ~9 loops of ~1-2k small products each
// and wrote every score to memory between them; here a task is one (sequence, head): its scores [Tq, T]
// stay in the thread's cache from the first product through the softmax to the second.
#include <vector>

#include "kernels.h"

namespace gt {

void attentionPacked(float* context, int64_t ldc, const float* q, int64_t ldq, const float* k, const float* v,
                     int64_t ldkv, const int32_t* seqs, int64_t nSeq, int64_t nh, int64_t d, float scale) {
  const int64_t tasks = nSeq * nh;
  if (tasks == 0) return;
  SerialBlas serial;
#pragma omp parallel num_threads(numThreads())
  {
    thread_local std::vector<float> scores;  // [Tq, T] of the current task, kept from call to call
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      const int32_t* s = seqs + 4 * (task / nh);
      const int64_t h = task % nh, qRow = s[0], Tq = s[1], kvRow = s[2], T = s[3];
      if (scores.size() < static_cast<size_t>(Tq * T)) scores.resize(Tq * T);
      float* S = scores.data();
      // S [Tq, T] = q_h [Tq, d] · k_hᵀ [d, T]
      sgemmSerial(false, true, Tq, T, d, 1.0f, q + qRow * ldq + h * d, ldq, k + kvRow * ldkv + h * d, ldkv, 0.0f, S, T);
      for (int64_t r = 0; r < Tq; r++) softmaxRow(S + r * T, S + r * T, nullptr, scale, T);
      // context_h [Tq, d] = P [Tq, T] · v_h [T, d]
      sgemmSerial(false, false, Tq, d, T, 1.0f, S, T, v + kvRow * ldkv + h * d, ldkv, 0.0f,
                  context + qRow * ldc + h * d, ldc);
    }
  }
}

}  // namespace gt
