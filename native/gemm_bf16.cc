// bf16 products with fp32 accumulation and output, on oneDNN's matmul primitive (AVX512-BF16 or AMX
// kernels; never hand-written). A primitive is built once per shape and kept: inference and the bench's
// probe repeat a handful of shapes.
#include <oneapi/dnnl/dnnl.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>

#include "kernels.h"

namespace gt {

bool bf16Available() {
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const unsigned need = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_bf16);
  return (isa & need) == need;
}

void toBf16(uint16_t* out, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) num_threads(numThreads()) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);  // round to nearest even (the inputs are finite)
    out[i] = static_cast<uint16_t>(u >> 16);
  }
}

namespace {

void check(dnnl_status_t s, const char* what) {
  if (s != dnnl_success) throw std::runtime_error(std::string("oneDNN: ") + what + " failed (status " + std::to_string(s) + ")");
}

struct Engine {
  dnnl_engine_t engine = nullptr;
  dnnl_stream_t stream = nullptr;
  Engine() {
    check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine");
    check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "stream");
  }
};

Engine& engine() {
  static Engine e;
  return e;
}

using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float, float>;

struct Matmul {
  dnnl_primitive_t prim = nullptr;
  dnnl_memory_t a = nullptr, b = nullptr, c = nullptr;
};

Matmul build(const Key& key) {
  auto [ta, tb, M, N, K, lda, ldb, ldc, alpha, beta] = key;
  Engine& e = engine();
  dnnl_memory_desc_t amd, bmd, cmd;
  dnnl_dims_t ad = {M, K}, as = {ta ? 1 : lda, ta ? lda : 1};
  dnnl_dims_t bd = {K, N}, bs = {tb ? 1 : ldb, tb ? ldb : 1};
  dnnl_dims_t cd = {M, N}, cs = {ldc, 1};
  check(dnnl_memory_desc_init_by_strides(&amd, 2, ad, dnnl_bf16, as), "A's descriptor");
  check(dnnl_memory_desc_init_by_strides(&bmd, 2, bd, dnnl_bf16, bs), "B's descriptor");
  check(dnnl_memory_desc_init_by_strides(&cmd, 2, cd, dnnl_f32, cs), "C's descriptor");
  dnnl_matmul_desc_t md;
  check(dnnl_matmul_desc_init(&md, &amd, &bmd, nullptr, &cmd), "matmul descriptor");
  dnnl_primitive_attr_t attr;
  check(dnnl_primitive_attr_create(&attr), "attributes");
  if (alpha != 1.0f) check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha), "alpha");
  if (beta != 0.0f) {
    dnnl_post_ops_t po;
    check(dnnl_post_ops_create(&po), "post-ops");
    check(dnnl_post_ops_append_sum(po, beta), "beta");
    check(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
    dnnl_post_ops_destroy(po);
  }
  dnnl_primitive_desc_t pd;
  check(dnnl_primitive_desc_create(&pd, &md, attr, e.engine, nullptr), "matmul");
  dnnl_primitive_attr_destroy(attr);
  Matmul m;
  check(dnnl_primitive_create(&m.prim, pd), "primitive");
  dnnl_primitive_desc_destroy(pd);
  check(dnnl_memory_create(&m.a, &amd, e.engine, DNNL_MEMORY_NONE), "A");
  check(dnnl_memory_create(&m.b, &bmd, e.engine, DNNL_MEMORY_NONE), "B");
  check(dnnl_memory_create(&m.c, &cmd, e.engine, DNNL_MEMORY_NONE), "C");
  return m;
}

}  // namespace

void gemmBf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
              const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  static std::map<Key, Matmul> cache;
  const Key key{ta, tb, M, N, K, lda, ldb, ldc, alpha, beta};
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, build(key)).first;
  Matmul& m = it->second;
  check(dnnl_memory_set_data_handle(m.a, const_cast<uint16_t*>(A)), "A's data");
  check(dnnl_memory_set_data_handle(m.b, const_cast<uint16_t*>(B)), "B's data");
  check(dnnl_memory_set_data_handle(m.c, C), "C's data");
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, m.a}, {DNNL_ARG_WEIGHTS, m.b}, {DNNL_ARG_DST, m.c}};
  Engine& e = engine();
  check(dnnl_primitive_execute(m.prim, e.stream, 3, args), "matmul");
  check(dnnl_stream_wait(e.stream), "stream");
}

}  // namespace gt
