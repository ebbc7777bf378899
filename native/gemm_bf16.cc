// bf16 products with fp32 accumulation and output, on oneDNN's matmul primitive (AVX512-BF16 or AMX
// kernels; never hand-written). Primitives are built once per shape and row-chunk size and kept
// (dnnl::ByRows): training repeats a handful of shapes, its evaluation passes' packed batches vary M on
// every call. (Inference outside training runs on packed weights: linear_packed.cc.)
#include <map>
#include <tuple>

#include "kernels.h"
#include "onednn.h"
#include "vecmath.h"

namespace gt {

bool bf16Available() { return dnnl::hasIsa(dnnl_cpu_isa_avx512_core_bf16); }

void toBf16(uint16_t* out, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) num_threads(numThreads()) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) out[i] = bf16(x[i]);
}

namespace {

using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, float, float>;

dnnl::Matmul build(const Key& key, int64_t M) {
  auto [ta, tb, N, K, lda, ldb, ldc, alpha, beta] = key;
  const auto amd = dnnl::desc2d(M, K, dnnl_bf16, ta ? 1 : lda, ta ? lda : 1, "A's descriptor");
  const auto bmd = dnnl::desc2d(K, N, dnnl_bf16, tb ? 1 : ldb, tb ? ldb : 1, "B's descriptor");
  const auto cmd = dnnl::desc2d(M, N, dnnl_f32, ldc, 1, "C's descriptor");
  dnnl_primitive_attr_t attr;
  dnnl::check(dnnl_primitive_attr_create(&attr), "attributes");
  if (alpha != 1.0f) dnnl::check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha), "alpha");
  if (beta != 0.0f) {
    dnnl_post_ops_t po;
    dnnl::check(dnnl_post_ops_create(&po), "post-ops");
    dnnl::check(dnnl_post_ops_append_sum(po, beta), "beta");
    dnnl::check(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
    dnnl_post_ops_destroy(po);
  }
  dnnl::Matmul m(amd, bmd, cmd, attr);
  dnnl_primitive_attr_destroy(attr);
  return m;
}

}  // namespace

void gemmBf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
              const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  thread_local std::map<Key, dnnl::ByRows> cache;  // per thread: a model thread has its own
  const Key key{ta, tb, N, K, lda, ldb, ldc, alpha, beta};
  // A's row m starts m elements in when A is read transposed ([K, M] stored), m · lda otherwise.
  const int64_t e = sizeof(uint16_t), f = sizeof(float);
  cache[key].run([&key](int64_t m) { return build(key, m); }, M, N * K, A, (ta ? 1 : lda) * e, ta ? 0 : K * e, B, C, ldc * f,
                 N * f);
}

}  // namespace gt
