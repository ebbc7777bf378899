// BERT's input embeddings: gather-sum of word, position and token-type rows, and the scatter-add
// backward that records which word rows it touched (so the big table is never swept densely).
#include <algorithm>
#include <vector>

#include "common.h"
#include "kernels.h"

namespace gt {

static void checkIds(Napi::Env env, const int32_t* ids, int64_t n, int64_t limit, const char* what) {
  for (int64_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= limit)
      throw rangeError(env, std::string(what) + " " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                                " is outside [0, " + std::to_string(limit) + ")");
}

// embeddingsForward(word[V,H], pos[P,H], type[TV,H], inputIds[B*T], tokenTypeIds[B*T], out[B*T,H], B, T, H):
// out[b,t] = word[ids[b,t]] + pos[t] + type[types[b,t]].
Napi::Value EmbeddingsForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto word = f32(info, 0, "word"), pos = f32(info, 1, "pos"), type = f32(info, 2, "type");
  auto ids = i32(info, 3, "inputIds"), types = i32(info, 4, "tokenTypeIds");
  auto out = f32(info, 5, "out");
  int64_t B = integer(info, 6, "B"), T = integer(info, 7, "T"), H = integer(info, 8, "H");
  if (H == 0) return env.Undefined();
  int64_t n = B * T, V = word.n / H, P = pos.n / H, TV = type.n / H;
  fits(env, ids.n, n, "inputIds");
  fits(env, types.n, n, "tokenTypeIds");
  fits(env, out.n, n * H, "out");
  if (T > P) throw rangeError(env, "sequence length " + std::to_string(T) + " exceeds max_position_embeddings " + std::to_string(P));
  checkIds(env, ids.p, n, V, "token id");
  checkIds(env, types.p, n, TV, "token type id");
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (n * H >= kParallelMin)
  for (int64_t r = 0; r < n; r++) {
    const float* w = word.p + static_cast<int64_t>(ids.p[r]) * H;
    const float* p = pos.p + (r % T) * H;
    const float* y = type.p + static_cast<int64_t>(types.p[r]) * H;
    float* o = out.p + r * H;
    for (int64_t h = 0; h < H; h++) o[h] = w[h] + p[h] + y[h];
  }
  return env.Undefined();
}

// embeddingsBackward(dout[B*T,H], dWord[V,H], dPos[P,H], dType[TV,H], inputIds, tokenTypeIds, B, T, H,
//                    padId, touched[>=B*T]) -> count:
// accumulates into the three gradients (the padding row gets none, as torch's padding_idx) and writes
// the sorted unique word rows touched into touched[0..count).
Napi::Value EmbeddingsBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto dout = f32(info, 0, "dout");
  auto dWord = f32(info, 1, "dWord"), dPos = f32(info, 2, "dPos"), dType = f32(info, 3, "dType");
  auto ids = i32(info, 4, "inputIds"), types = i32(info, 5, "tokenTypeIds");
  int64_t B = integer(info, 6, "B"), T = integer(info, 7, "T"), H = integer(info, 8, "H");
  int64_t padId = static_cast<int64_t>(num(info, 9, "padId"));
  auto touched = i32(info, 10, "touched");
  int64_t n = B * T;
  if (H == 0) return Napi::Number::New(env, 0);
  fits(env, dout.n, n * H, "dout");
  fits(env, ids.n, n, "inputIds");
  fits(env, types.n, n, "tokenTypeIds");
  fits(env, touched.n, n, "touched");
  if (T * H > static_cast<int64_t>(dPos.n)) throw rangeError(env, "dPos is too small for the sequence length");
  checkIds(env, ids.p, n, dWord.n / H, "token id");
  checkIds(env, types.p, n, dType.n / H, "token type id");
  // Columns are split across threads, so repeated token ids never race on a row.
  const int threads = numThreads();
#pragma omp parallel num_threads(threads) if (n * H >= kParallelMin)
  {
    int nt = omp_get_num_threads(), id = omp_get_thread_num();
    int64_t h0 = H * id / nt, h1 = H * (id + 1) / nt;
    for (int64_t r = 0; r < n; r++) {
      const float* g = dout.p + r * H;
      int64_t w = ids.p[r];
      float* dp = dPos.p + (r % T) * H;
      float* dy = dType.p + static_cast<int64_t>(types.p[r]) * H;
      if (w != padId) {
        float* dw = dWord.p + w * H;
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
    if (ids.p[r] != padId) rows.push_back(ids.p[r]);
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  std::copy(rows.begin(), rows.end(), touched.p);
  return Napi::Number::New(env, static_cast<double>(rows.size()));
}

// zeroRows(x[R,len], rows, count, len): zeroes the listed rows (the touched rows of an embedding gradient).
Napi::Value ZeroRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = f32(info, 0, "x");
  auto rows = i32(info, 1, "rows");
  int64_t count = integer(info, 2, "count"), len = integer(info, 3, "len");
  fits(env, rows.n, count, "rows");
  for (int64_t i = 0; i < count; i++) {
    int64_t r = rows.p[i];
    if (r < 0 || (r + 1) * len > static_cast<int64_t>(x.n)) throw rangeError(env, "row " + std::to_string(r) + " is out of range");
    std::fill(x.p + r * len, x.p + (r + 1) * len, 0.0f);
  }
  return env.Undefined();
}

}  // namespace gt
