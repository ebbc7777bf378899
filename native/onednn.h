// What gotune's oneDNN products share: one CPU engine and stream for the process, and a status check
// that turns a failure into std::runtime_error (the N-API glue makes it a JavaScript Error).
#pragma once
#include <oneapi/dnnl/dnnl.h>

#include <stdexcept>
#include <string>

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

// A matmul primitive C = A · B for fixed descriptors, with memories whose data pointers are set per call.
struct Matmul {
  dnnl_primitive_t prim = nullptr;
  dnnl_memory_t a = nullptr, b = nullptr, c = nullptr;

  // attr may be null; it stays the caller's.
  Matmul(const dnnl_memory_desc_t& amd, const dnnl_memory_desc_t& bmd, const dnnl_memory_desc_t& cmd,
         const_dnnl_primitive_attr_t attr) {
    Engine& e = engine();
    dnnl_matmul_desc_t md;
    check(dnnl_matmul_desc_init(&md, &amd, &bmd, nullptr, &cmd), "matmul descriptor");
    dnnl_primitive_desc_t pd;
    check(dnnl_primitive_desc_create(&pd, &md, attr, e.engine, nullptr), "matmul");
    check(dnnl_primitive_create(&prim, pd), "primitive");
    dnnl_primitive_desc_destroy(pd);
    check(dnnl_memory_create(&a, &amd, e.engine, DNNL_MEMORY_NONE), "A");
    check(dnnl_memory_create(&b, &bmd, e.engine, DNNL_MEMORY_NONE), "B");
    check(dnnl_memory_create(&c, &cmd, e.engine, DNNL_MEMORY_NONE), "C");
  }

  void run(const void* A, const void* B, void* C) {
    check(dnnl_memory_set_data_handle(a, const_cast<void*>(A)), "A's data");
    check(dnnl_memory_set_data_handle(b, const_cast<void*>(B)), "B's data");
    check(dnnl_memory_set_data_handle(c, C), "C's data");
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
    Engine& e = engine();
    check(dnnl_primitive_execute(prim, e.stream, 3, args), "matmul");
    check(dnnl_stream_wait(e.stream), "stream");
  }
};

}  // namespace gt::dnnl
