// Inference products on weights packed once. oneDNN's matmul kernels read the weight in a blocked layout
// of their own; handed PyTorch's [N, K] weight, they (and dnnl_sgemm) repack it on every call, 15-60 % of
// a product at the encoder's shapes here. A PackedLinear reorders the weight into the primitive's layout
// once, as onnxruntime prepacks its weights when a session starts: in fp32, in bf16, or in s8 per output
// channel (the input then quantised per row at each call, as quantize_dynamic does). The epilogue adds
// the bias and, for the intermediate layer, erf GELU: the primitive's post-ops in fp32 and bf16, the
// dequantisation pass in int8. Primitives are shared by the products of one shape (Family, below) and
// run in place when the caller's arrays hold the rows they run on.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels.h"
#include "onednn.h"
#include "vecmath.h"

namespace gt {

namespace {

dnnl_data_type_t weightType(PackedType t) {
  return t == PackedType::f32 ? dnnl_f32 : t == PackedType::bf16 ? dnnl_bf16 : dnnl_s8;
}

// Per thread, as the other products' scratch: a model thread has its own.
thread_local std::vector<float> padA, padC;
thread_local std::vector<uint16_t> aBf16;
thread_local std::vector<uint8_t> aU8;
thread_local std::vector<int32_t> acc, aZero;
thread_local std::vector<float> aScale;

template <class T>
T* sized(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

dnnl::Matmul build(PackedType type, int64_t N, int64_t K, bool gelu, bool hasBias, int64_t M, int64_t lda) {
  const dnnl_data_type_t wt = weightType(type);
  const dnnl_data_type_t at = type == PackedType::f32 ? dnnl_f32 : type == PackedType::bf16 ? dnnl_bf16 : dnnl_u8;
  const auto amd = dnnl::desc2d(M, K, at, lda, 1, "A's descriptor");
  dnnl_memory_desc_t bmd;
  dnnl_dims_t dims = {K, N};
  dnnl::check(dnnl_memory_desc_init_by_tag(&bmd, 2, dims, wt, dnnl_format_tag_any), "B's descriptor");
  const auto cmd = dnnl::desc2d(M, N, type == PackedType::s8 ? dnnl_s32 : dnnl_f32, N, 1, "C's descriptor");
  if (type == PackedType::s8) return dnnl::Matmul(amd, bmd, cmd, nullptr);
  dnnl_primitive_attr_t attr;
  dnnl::check(dnnl_primitive_attr_create(&attr), "attributes");
  if (gelu) {
    dnnl_post_ops_t po;
    dnnl::check(dnnl_post_ops_create(&po), "post-ops");
    dnnl::check(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f), "GELU");
    dnnl::check(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
    dnnl_post_ops_destroy(po);
  }
  const auto biasmd = dnnl::desc2d(1, N, dnnl_f32, N, 1, "bias's descriptor");
  dnnl::Matmul m(amd, bmd, cmd, attr, hasBias ? &biasmd : nullptr);
  dnnl_primitive_attr_destroy(attr);
  return m;
}

// The primitives of one product shape, for every PackedLinear of that shape on this thread (the weight is
// an argument of each run: the encoder's layers share them). Batches vary M from call to call: an M runs
// on the primitive of its bucket over padded rows until the padding's work, summed over its runs, reaches
// what making its own primitive costs (about 0.6 ms here, kMakeFlops of product); from then on on its own
// (up to kExact of them). A large product pays for it within a batch (the mbert shape: padding was 5 % of
// the pass), a small one only once its M recurs, and an M seen once pays nothing.
struct Family {
  static constexpr int kExact = 256;
  static constexpr double kMakeFlops = 2e8;
  std::map<int64_t, dnnl::Matmul> byM;
  std::map<int64_t, double> wasted;
  int exact = 0;

  // The rows a product of M rows runs on, for a weight of nk = N · K elements.
  int64_t rowsFor(int64_t M, int64_t nk) {
    if (M < 64 || byM.count(M)) return M;
    const int64_t bucket = PackedLinear::rowsFor(M);
    if (bucket == M || exact >= kExact) return bucket;
    if (wasted.size() > 4096) wasted.clear();
    double& w = wasted[M];
    w += 2.0 * static_cast<double>((bucket - M) * nk);
    if (w < kMakeFlops) return bucket;
    wasted.erase(M);
    exact++;
    return M;
  }
};

using FamilyKey = std::tuple<int, int64_t, int64_t, bool, bool, int64_t>;  // type, N, K, gelu, bias, lda
thread_local std::map<FamilyKey, Family> families;

}  // namespace

struct PackedLinear::Impl {
  PackedType type = PackedType::f32;
  int64_t N = 0, K = 0;
  bool gelu = false;
  std::vector<float> bias;  // empty: none
  std::vector<float> wScale;
  std::vector<int32_t> wSum;
  // The weight in the layout of the first primitive built; a primitive wanting another gets its own copy.
  struct Packed {
    dnnl_memory_desc_t md;
    void* data;
  };
  std::vector<Packed> packed;
  // The weight [N, K] the first layout is made from (the caller's fp32, or the s8 copy), during construction.
  const void* source = nullptr;

  ~Impl() {
    for (auto& p : packed) std::free(p.data);
  }

  // The weight in the layout `md` asks for, reordered from [N, K] the first time that layout is seen.
  const void* weightsFor(const dnnl_memory_desc_t& md) {
    for (const auto& p : packed)
      if (dnnl_memory_desc_equal(&p.md, &md)) return p.data;
    const size_t bytes = (dnnl_memory_desc_get_size(&md) + 63) / 64 * 64;
    void* data = std::aligned_alloc(64, bytes);
    if (!data) throw std::bad_alloc();
    try {
      if (!packed.empty()) {
        dnnl::reorder(packed[0].md, packed[0].data, md, data);  // another layout of the same values
      } else {
        // [N, K] read as [K, N] with strides (1, K): s8 from its quantised copy, else fp32 (reorder makes bf16).
        const bool s8 = type == PackedType::s8;
        const auto from = dnnl::desc2d(K, N, s8 ? dnnl_s8 : dnnl_f32, 1, K, "weight's descriptor");
        if (!source) throw std::runtime_error("a packed weight lost its source");
        dnnl::reorder(from, source, md, data);
      }
    } catch (...) {
      std::free(data);
      throw;
    }
    packed.push_back({md, data});
    return data;
  }

  // The primitive for a product of M rows on x rows lda apart, and the rows it runs on.
  std::pair<dnnl::Matmul*, int64_t> prim(int64_t M, int64_t lda) {
    Family& f = families[FamilyKey{static_cast<int>(type), N, K, gelu, !bias.empty(), lda}];
    const int64_t R = f.rowsFor(M, N * K);
    auto it = f.byM.find(R);
    if (it == f.byM.end()) it = f.byM.emplace(R, build(type, N, K, gelu, !bias.empty(), R, lda)).first;
    return {&it->second, R};
  }
};

PackedLinear::PackedLinear(PackedType type, const float* w, const float* bias, int64_t N, int64_t K, bool gelu)
    : impl_(new Impl) {
  Impl& p = *impl_;
  p.type = type;
  p.N = N;
  p.K = K;
  p.gelu = gelu;
  if (bias) p.bias.assign(bias, bias + N);
  std::vector<int8_t> s8;
  if (type == PackedType::s8) {
    s8.resize(N * K);
    p.wScale.resize(N);
    p.wSum.resize(N);
    quantizeS8Rows(s8.data(), p.wScale.data(), p.wSum.data(), w, N, K);
  }
  // Packed now in the layout every row count has chosen here (each primitive's is checked all the same,
  // and a new one is reordered from this copy), so that the first product does not pay for it.
  p.source = type == PackedType::s8 ? static_cast<const void*>(s8.data()) : w;
  p.weightsFor(p.prim(64, K).first->weights);
  p.source = nullptr;
}

PackedLinear::~PackedLinear() = default;

int64_t PackedLinear::outFeatures() const { return impl_->N; }
int64_t PackedLinear::inFeatures() const { return impl_->K; }

int64_t PackedLinear::rowsFor(int64_t M) { return M < 64 ? M : dnnl::ByRows::bucket(M); }

size_t PackedLinear::bytes() const {
  size_t n = 0;
  for (const auto& p : impl_->packed) n += dnnl_memory_desc_get_size(&p.md);
  return n + (impl_->bias.size() + impl_->wScale.size() + impl_->wSum.size()) * 4;
}

void PackedLinear::forward(float* y, int64_t yRows, const float* x, int64_t ldx, int64_t xRows, int64_t M) {
  if (M == 0) return;
  Impl& p = *impl_;
  const int64_t N = p.N, K = p.K, Rmax = rowsFor(M);  // the primitive's rows are M or this bucket
  const float* bias = p.bias.empty() ? nullptr : p.bias.data();
  if (p.type == PackedType::s8) {
    uint8_t* A = sized(aU8, Rmax * K);
    float* scale = sized(aScale, Rmax);
    int32_t* zero = sized(aZero, Rmax);
    quantizeU8Rows(A, scale, zero, x, M, K, ldx);
    int32_t* out = sized(acc, Rmax * N);
    dnnl::Matmul* m = p.prim(M, K).first;
    m->run(A, p.weightsFor(m->weights), out);
    // Σ_k (q_x - z) q_w = Σ_k q_x q_w - z Σ_k q_w: the zero point comes out through the weight's row sums.
    const float* ws = p.wScale.data();
    const int32_t* wsum = p.wSum.data();
    const bool gelu = p.gelu;
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (M * N >= kParallelMin)
    for (int64_t r = 0; r < M; r++) {
      const int32_t* a = out + r * N;
      float* o = y + r * N;
      const float s = scale[r];
      const int32_t z = zero[r];
#pragma omp simd
      for (int64_t n = 0; n < N; n++) {
        float v = s * ws[n] * static_cast<float>(a[n] - z * wsum[n]);
        if (bias) v += bias[n];
        o[n] = gelu ? gt::gelu(v) : v;
      }
    }
    return;
  }
  const void* A;
  int64_t lda = K;
  if (p.type == PackedType::bf16) {
    uint16_t* a = sized(aBf16, Rmax * K);
#pragma omp parallel for schedule(static) num_threads(numThreads()) if (M * K >= kParallelMin)
    for (int64_t r = 0; r < M; r++) {
      uint16_t* o = a + r * K;
      const float* xr = x + r * ldx;
#pragma omp simd
      for (int64_t k = 0; k < K; k++) o[k] = bf16(xr[k]);
    }
    A = a;
  } else if (xRows >= Rmax) {
    A = x;
    lda = ldx;
  } else {
    float* a = sized(padA, Rmax * K);
    for (int64_t r = 0; r < M; r++) std::memcpy(a + r * K, x + r * ldx, K * sizeof(float));
    A = a;
  }
  const auto [m, R] = p.prim(M, lda);
  float* C = yRows >= R ? y : sized(padC, R * N);
  m->run(A, p.weightsFor(m->weights), C, bias);
  if (C != y) std::memcpy(y, C, M * N * sizeof(float));
}

}  // namespace gt
