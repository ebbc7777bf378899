// BERT's input embeddings: gather-sum of word, position and token-type rows, and the scatter-add
// backward that records which word rows it touched (so the big table is never swept densely).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels.h"

namespace gt {

void embeddingsForward(float* out, const float* word, const float* pos, const float* type, const int32_t* ids,
                       const int32_t* types, int64_t B, int64_t T, int64_t H) {
  const int64_t n = B * T;
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (n * H >= kParallelMin)
  for (int64_t r = 0; r < n; r++) {
    const float* w = word + static_cast<int64_t>(ids[r]) * H;
    const float* p = pos + (r % T) * H;
    const float* y = type + static_cast<int64_t>(types[r]) * H;
    float* o = out + r * H;
#pragma omp simd
    for (int64_t h = 0; h < H; h++) o[h] = w[h] + p[h] + y[h];
  }
}

int64_t embeddingsBackward(float* dWord, float* dPos, float* dType, int32_t* touched, const float* dout,
                           const int32_t* ids, const int32_t* types, int64_t B, int64_t T, int64_t H, int64_t padId) {
  const int64_t n = B * T;
  // Columns are split across threads, so repeated token ids never race on a row.
#pragma omp parallel num_threads(numThreads()) if (n * H >= kParallelMin)
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t h0 = H * id / nt, h1 = H * (id + 1) / nt;
    for (int64_t r = 0; r < n; r++) {
      const float* g = dout + r * H;
      const int64_t w = ids[r];
      float* dp = dPos + (r % T) * H;
      float* dy = dType + static_cast<int64_t>(types[r]) * H;
      if (w != padId) {
        float* dw = dWord + w * H;
        for (int64_t h = h0; h < h1; h++) dw[h] += g[h];
      }
      for (int64_t h = h0; h < h1; h++) {
        dp[h] += g[h];
        dy[h] += g[h];
      }
    }
  }
  std::vector<int32_t> rows;
  rows.reserve(n);
  for (int64_t r = 0; r < n; r++)
    if (ids[r] != padId) rows.push_back(ids[r]);
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  std::copy(rows.begin(), rows.end(), touched);
  return static_cast<int64_t>(rows.size());
}

void zeroRows(float* x, const int32_t* rows, int64_t count, int64_t len) {
  for (int64_t i = 0; i < count; i++) std::fill(x + rows[i] * len, x + (rows[i] + 1) * len, 0.0f);
}

}  // namespace gt
