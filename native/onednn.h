// What gotune's oneDNN products share: one CPU engine and stream for the process, and a status check
// that turns a failure into std::runtime_error (the N-API glue makes it a JavaScript Error).
#pragma once
#include <oneapi/dnnl/dnnl.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace gt::dnnl {

inline void check(dnnl_status_t s, const char* what) {
  if (s != dnnl_success)
    throw std::runtime_error(std::string("oneDNN: ") + what + " failed (status " + std::to_string(s) + ")");
}

struct Engine {
  dnnl_engine_t engine = nullptr;
  dnnl_stream_t stream = nullptr;
  Engine() {
    check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine");
    check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "stream");
  }
};

// The engine, made on first use (one per process: inline, so every file shares it).
inline Engine& engine() {
  static Engine e;
  return e;
}

// Whether oneDNN's effective ISA includes `need` (the ISA values are nested bit masks).
inline bool hasIsa(dnnl_cpu_isa_t need) {
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  return (isa & static_cast<unsigned>(need)) == static_cast<unsigned>(need);
}

// A 2-D memory descriptor [rows, cols] of type t with the given strides.
inline dnnl_memory_desc_t desc2d(int64_t rows, int64_t cols, dnnl_data_type_t t, int64_t rowStride, int64_t colStride,
                                 const char* what) {
  dnnl_memory_desc_t d;
  dnnl_dims_t dims = {rows, cols}, strides = {rowStride, colStride};
  check(dnnl_memory_desc_init_by_strides(&d, 2, dims, t, strides), what);
  return d;
}

// A matmul primitive C = A · B (+ bias) for fixed descriptors, with memories whose data pointers are set
// per call. B's descriptor may leave its layout to oneDNN (format `any`): `weights` is the one it chose.
struct Matmul {
  dnnl_primitive_t prim = nullptr;
  dnnl_memory_t a = nullptr, b = nullptr, c = nullptr, bias = nullptr;
  dnnl_memory_desc_t weights;

  // attr and biasmd may be null; attr stays the caller's.
  Matmul(const dnnl_memory_desc_t& amd, const dnnl_memory_desc_t& bmd, const dnnl_memory_desc_t& cmd,
         const_dnnl_primitive_attr_t attr, const dnnl_memory_desc_t* biasmd = nullptr) {
    Engine& e = engine();
    dnnl_matmul_desc_t md;
    check(dnnl_matmul_desc_init(&md, &amd, &bmd, biasmd, &cmd), "matmul descriptor");
    dnnl_primitive_desc_t pd;
    check(dnnl_primitive_desc_create(&pd, &md, attr, e.engine, nullptr), "matmul");
    check(dnnl_primitive_create(&prim, pd), "primitive");
    weights = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    check(dnnl_memory_create(&a, &amd, e.engine, DNNL_MEMORY_NONE), "A");
    check(dnnl_memory_create(&b, &weights, e.engine, DNNL_MEMORY_NONE), "B");
    check(dnnl_memory_create(&c, &cmd, e.engine, DNNL_MEMORY_NONE), "C");
    if (biasmd) check(dnnl_memory_create(&bias, biasmd, e.engine, DNNL_MEMORY_NONE), "bias");
  }
  Matmul(Matmul&& o) noexcept : prim(o.prim), a(o.a), b(o.b), c(o.c), bias(o.bias), weights(o.weights) {
    o.prim = nullptr;
    o.a = o.b = o.c = o.bias = nullptr;
  }
  Matmul(const Matmul&) = delete;
  Matmul& operator=(const Matmul&) = delete;
  ~Matmul() {
    for (dnnl_memory_t m : {a, b, c, bias})
      if (m) dnnl_memory_destroy(m);
    if (prim) dnnl_primitive_destroy(prim);
  }

  void run(const void* A, const void* B, void* C, const float* Bias = nullptr) {
    check(dnnl_memory_set_data_handle(a, const_cast<void*>(A)), "A's data");
    check(dnnl_memory_set_data_handle(b, const_cast<void*>(B)), "B's data");
    check(dnnl_memory_set_data_handle(c, C), "C's data");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}, {DNNL_ARG_BIAS, bias}};
    if (bias) check(dnnl_memory_set_data_handle(bias, const_cast<float*>(Bias)), "bias's data");
    Engine& e = engine();
    check(dnnl_primitive_execute(prim, e.stream, bias ? 4 : 3, args), "matmul");
    check(dnnl_stream_wait(e.stream), "stream");
  }
};

// Copies `from` (data src, layout fromMd) into `to` (layout toMd), converting the type if they differ.
inline void reorder(const dnnl_memory_desc_t& fromMd, const void* src, const dnnl_memory_desc_t& toMd, void* dst) {
  Engine& e = engine();
  dnnl_primitive_desc_t pd;
  check(dnnl_reorder_primitive_desc_create(&pd, &fromMd, e.engine, &toMd, e.engine, nullptr), "reorder");
  dnnl_primitive_t prim;
  const dnnl_status_t made = dnnl_primitive_create(&prim, pd);
  dnnl_primitive_desc_destroy(pd);
  check(made, "reorder primitive");
  dnnl_memory_t from, to;
  check(dnnl_memory_create(&from, &fromMd, e.engine, const_cast<void*>(src)), "reorder's source");
  check(dnnl_memory_create(&to, &toMd, e.engine, dst), "reorder's destination");
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  const dnnl_status_t ran = dnnl_primitive_execute(prim, e.stream, 2, args);
  dnnl_stream_wait(e.stream);
  dnnl_memory_destroy(from);
  dnnl_memory_destroy(to);
  dnnl_primitive_destroy(prim);
  check(ran, "reorder");
}

// Matmuls of one (N, K, layout) for any M, without a new primitive (descriptor and JIT, ~0.3-0.5 ms, and a
// slow first run) for each M: a packed batch's token count varies from call to call. M < 64, and an M
// seen kPromote times (training's fixed shapes), and products too large for a primitive's creation to
// matter (M·N·K > kPadMax: padding would cost more), get their own primitive; any other M runs on the
// primitive of M rounded up to a bucket (32 rows up to 512, then 64, then 128) over zero-padded copies of
// A and C (rows contiguous, so one memcpy each way). oneDNN 2.6's runtime-M matmul (DNNL_RUNTIME_DIM_VAL)
// falls back from brgemm to gemm:jit, several times slower here; row chunks of fixed sizes multiply
// brgemm's per-run cost (it packs B on every run), hence padding. A read transposed (rows not contiguous)
// runs in chunks instead.
struct ByRows {
  static constexpr int kPromote = 8;
  static constexpr int64_t kPadMax = int64_t{1} << 27;  // ~0.3 ms of bf16 product here, as much as a creation
  std::map<int64_t, Matmul> byM;
  std::map<int64_t, int> seen;
  std::vector<char> padA, padC;

  static int64_t bucket(int64_t M) {
    const int64_t step = M <= 512 ? 32 : M <= 2048 ? 64 : 128;
    return (M + step - 1) / step * step;
  }

  // build(m) makes the primitive for m rows; nk is N · K. Row i of A starts at i · aStep bytes and holds aRow bytes
  // (aRow 0: A is read transposed); row i of C at i · cStep, cRow bytes. C's old values are read (beta).
  template <class Build>
  void run(Build&& build, int64_t M, int64_t nk, const void* A, int64_t aStep, int64_t aRow, const void* B, void* C, int64_t cStep,
           int64_t cRow) {
    auto get = [&](int64_t m) -> Matmul& {
      auto it = byM.find(m);
      if (it == byM.end()) it = byM.emplace(m, build(m)).first;
      return it->second;
    };
    if (seen.size() > 4096) seen.clear();  // bounded: inference's Ms need not be remembered long
    if (M < 64 || M * nk > kPadMax || byM.count(M) || ++seen[M] >= kPromote) {
      get(M).run(A, B, C);
      return;
    }
    if (aRow > 0) {
      const int64_t Mb = bucket(M);
      const size_t aUsed = static_cast<size_t>((M - 1) * aStep + aRow), cUsed = static_cast<size_t>((M - 1) * cStep + cRow);
      if (padA.size() < static_cast<size_t>(Mb * aStep)) padA.assign(Mb * aStep, 0);
      if (padC.size() < static_cast<size_t>(Mb * cStep)) padC.resize(Mb * cStep);
      std::memcpy(padA.data(), A, aUsed);
      std::memset(padA.data() + aUsed, 0, Mb * aStep - aUsed);
      std::memcpy(padC.data(), C, cUsed);
      get(Mb).run(padA.data(), B, padC.data());
      std::memcpy(C, padC.data(), cUsed);
      return;
    }
    const auto* a = static_cast<const char*>(A);
    auto* c = static_cast<char*>(C);
    for (int64_t m0 = 0; m0 < M;) {
      const int64_t rest = M - m0, m = rest >= 512 ? 512 : rest >= 64 ? 64 : rest;
      get(m).run(a + m0 * aStep, B, c + m0 * cStep);
      m0 += m;
    }
  }
};
}  // namespace gt::dnnl
