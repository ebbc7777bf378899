// The N-API glue, all of it: each JavaScript function reads its arguments in order, checks every size
// against the typed arrays it was given (a wrong shape is a JavaScript RangeError, never a stray write),
// then calls one plain kernel of kernels.h. Argument orders are documented in src/native/index.ts.
#include <cblas.h>
#include <napi.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "kernels.h"

namespace gt {
namespace {

template <typename T>
struct View {
  T* p;
  size_t n;
};

// Reads a call's arguments left to right.
class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info), env(info.Env()) {}

  View<float> f32(const char* name) { return typed<float, napi_float32_array>(name, "a Float32Array"); }
  View<int32_t> i32(const char* name) { return typed<int32_t, napi_int32_array>(name, "an Int32Array"); }
  View<uint16_t> u16(const char* name) { return typed<uint16_t, napi_uint16_array>(name, "a Uint16Array (bf16)"); }
  // A Float32Array, with in *extent its elements from its start to the end of its buffer (what may be read past it).
  View<float> f32Extent(const char* name, int64_t* extent) {
    const Napi::Value v = info_[i_];
    const View<float> view = f32(name);
    const auto a = v.As<Napi::TypedArray>();
    *extent = static_cast<int64_t>((a.ArrayBuffer().ByteLength() - a.ByteOffset()) / sizeof(float));
    return view;
  }
  // A Float32Array, or null/undefined (p == nullptr).
  View<float> f32OrNull(const char* name) {
    if (nullish()) {
      i_++;
      return {nullptr, 0};
    }
    return f32(name);
  }
  bool nullish() const { return info_.Length() <= i_ || info_[i_].IsUndefined() || info_[i_].IsNull(); }
  double num(const char* name) {
    Napi::Value v = info_[i_++];
    if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(name) + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  float f(const char* name) { return static_cast<float>(num(name)); }
  int64_t size(const char* name) {
    const double d = num(name);
    if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<int64_t>(d)))
      throw Napi::TypeError::New(env, std::string(name) + " must be a non-negative integer");
    return static_cast<int64_t>(d);
  }
  bool flag() { return info_[i_++].ToBoolean().Value(); }
  void skip() { i_++; }

 private:
  template <typename T, napi_typedarray_type K>
  View<T> typed(const char* name, const char* what) {
    Napi::Value v = info_[i_++];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != K)
      throw Napi::TypeError::New(env, std::string(name) + " must be " + what);
    auto a = v.As<Napi::TypedArrayOf<T>>();
    return {a.Data(), a.ElementLength()};
  }
  const Napi::CallbackInfo& info_;
  size_t i_ = 0;

 public:
  Napi::Env env;
};

Napi::Error rangeError(Napi::Env env, const std::string& msg) { return Napi::RangeError::New(env, msg); }

// Throws unless `need` elements fit in an array of `have` elements.
template <typename T>
void fits(Napi::Env env, const View<T>& v, int64_t need, const char* name) {
  if (need < 0 || static_cast<uint64_t>(need) > v.n)
    throw rangeError(env, std::string(name) + " is too small: needs " + std::to_string(need) + " elements, has " +
                              std::to_string(v.n));
}

// Elements a row-major rows x cols operand with leading dimension ld spans from its first element.
int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

void checkLd(Napi::Env env, int64_t ld, int64_t cols, const char* name) {
  if (ld < (cols > 1 ? cols : 1)) throw rangeError(env, std::string(name) + " is smaller than the row length");
}

void checkIds(Napi::Env env, const int32_t* ids, int64_t n, int64_t limit, const char* what) {
  for (int64_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= limit)
      throw rangeError(env, std::string(what) + " " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                                " is outside [0, " + std::to_string(limit) + ")");
}

void checkLabels(Napi::Env env, const int32_t* labels, int64_t N, int64_t C) {
  for (int64_t r = 0; r < N; r++)
    if (labels[r] != -100 && (labels[r] < 0 || labels[r] >= C))
      throw rangeError(env, "label " + std::to_string(labels[r]) + " at row " + std::to_string(r) + " is outside [0, " +
                                std::to_string(C) + ") and is not -100");
}

// ---- matrix products ----

// One operand of a product, read as (array, offset, ld) and checked: a rows x cols matrix (as stored)
// with rows ld apart must fit in the array from the offset. p points at its first element.
template <typename T>
struct Operand {
  T* p;
  int64_t ld;
};

template <typename T>
Operand<T> operand(Args& a, View<T> (Args::*read)(const char*), const char* name, const char* ldName, int64_t rows,
                   int64_t cols) {
  const View<T> v = (a.*read)(name);
  const int64_t off = a.size((std::string("off") + name).c_str()), ld = a.size(ldName);
  checkLd(a.env, ld, cols, ldName);
  fits(a.env, v, off + span(rows, cols, ld), name);
  return {v.p + off, ld};
}

// A plain product's 16 arguments (ta, tb, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc),
// read and checked; A and B are read by `read` (Float32Array for sgemm, Uint16Array for bf16).
template <typename T>
struct GemmArgs {
  bool ta, tb;
  int64_t M, N, K;
  float alpha;
  Operand<T> A, B;
  float beta;
  Operand<float> C;
};

template <typename T>
GemmArgs<T> gemmArgs(Args& a, View<T> (Args::*read)(const char*)) {
  GemmArgs<T> g;
  g.ta = a.flag();
  g.tb = a.flag();
  g.M = a.size("M");
  g.N = a.size("N");
  g.K = a.size("K");
  g.alpha = a.f("alpha");
  g.A = operand(a, read, "A", "lda", g.ta ? g.K : g.M, g.ta ? g.M : g.K);
  g.B = operand(a, read, "B", "ldb", g.tb ? g.N : g.K, g.tb ? g.K : g.N);
  g.beta = a.f("beta");
  g.C = operand(a, &Args::f32, "C", "ldc", g.M, g.N);
  return g;
}

// Runs a kernel that may throw std::runtime_error (oneDNN's), as a JavaScript Error.
template <typename F>
void guarded(Napi::Env env, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// sgemm(ta, tb, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc)
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto g = gemmArgs(a, &Args::f32);
  sgemm(g.ta, g.tb, g.M, g.N, g.K, g.alpha, g.A.p, g.A.ld, g.B.p, g.B.ld, g.beta, g.C.p, g.C.ld);
  return a.env.Undefined();
}

// sgemmBatched(ta, tb, M, N, K, alpha, A, offA, lda, sA1, sA2, B, offB, ldb, sB1, sB2,
//              beta, C, offC, ldc, sC1, sC2, n1, n2)
Napi::Value SgemmBatched(const Napi::CallbackInfo& info) {
  Args a(info);
  const bool ta = a.flag(), tb = a.flag();
  const int64_t M = a.size("M"), N = a.size("N"), K = a.size("K");
  const float alpha = a.f("alpha");
  const auto A = a.f32("A");
  const int64_t offA = a.size("offA");
  const Strided sa{a.size("lda"), a.size("sA1"), a.size("sA2")};
  const auto B = a.f32("B");
  const int64_t offB = a.size("offB");
  const Strided sb{a.size("ldb"), a.size("sB1"), a.size("sB2")};
  const float beta = a.f("beta");
  const auto C = a.f32("C");
  const int64_t offC = a.size("offC");
  const Strided sc{a.size("ldc"), a.size("sC1"), a.size("sC2")};
  const int64_t n1 = a.size("n1"), n2 = a.size("n2");
  checkLd(a.env, sa.ld, ta ? M : K, "lda");
  checkLd(a.env, sb.ld, tb ? K : N, "ldb");
  checkLd(a.env, sc.ld, N, "ldc");
  if (n1 == 0 || n2 == 0 || M == 0 || N == 0) return a.env.Undefined();
  fits(a.env, A, offA + (n1 - 1) * sa.s1 + (n2 - 1) * sa.s2 + span(ta ? K : M, ta ? M : K, sa.ld), "A");
  fits(a.env, B, offB + (n1 - 1) * sb.s1 + (n2 - 1) * sb.s2 + span(tb ? N : K, tb ? K : N, sb.ld), "B");
  fits(a.env, C, offC + (n1 - 1) * sc.s1 + (n2 - 1) * sc.s2 + span(M, N, sc.ld), "C");
  sgemmBatched(ta, tb, M, N, K, alpha, A.p + offA, sa, B.p + offB, sb, beta, C.p + offC, sc, n1, n2);
  return a.env.Undefined();
}

// attentionPacked(context, ldc, q, offQ, ldq, kv, offK, offV, ldkv, seqs: I32 [nSeq, 4], nSeq, nh, d, scale)
Napi::Value AttentionPacked(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto ctx = a.f32("context");
  const int64_t ldc = a.size("ldc");
  const auto q = a.f32("q");
  const int64_t offQ = a.size("offQ"), ldq = a.size("ldq");
  const auto kv = a.f32("kv");
  const int64_t offK = a.size("offK"), offV = a.size("offV"), ldkv = a.size("ldkv");
  const auto seqs = a.i32("seqs");
  const int64_t nSeq = a.size("nSeq"), nh = a.size("nh"), d = a.size("d");
  const float scale = a.f("scale");
  const int64_t width = nh * d;
  checkLd(a.env, ldc, width, "ldc");
  checkLd(a.env, ldq, width, "ldq");
  if (offK + width > ldkv || offV + width > ldkv) throw rangeError(a.env, "keys or values run past a row of kv");
  // Rows are int32, so a row offset (row · ld) stays far inside int64 with ld below 2^31.
  if (ldc > INT32_MAX || ldq > INT32_MAX || ldkv > INT32_MAX) throw rangeError(a.env, "a row stride is 2^31 or more");
  fits(a.env, seqs, 4 * nSeq, "seqs");
  for (int64_t s = 0; s < nSeq; s++) {
    const int64_t qRow = seqs.p[4 * s], Tq = seqs.p[4 * s + 1], kvRow = seqs.p[4 * s + 2], T = seqs.p[4 * s + 3];
    if (qRow < 0 || Tq < 1 || kvRow < 0 || T < 1)
      throw rangeError(a.env, "sequence " + std::to_string(s) + " has a negative row or no queries or keys");
    fits(a.env, q, offQ + span(qRow + Tq, width, ldq), "q");
    fits(a.env, ctx, span(qRow + Tq, width, ldc), "context");
    fits(a.env, kv, std::max(offK, offV) + span(kvRow + T, width, ldkv), "kv");
  }
  attentionPacked(ctx.p, ldc, q.p + offQ, ldq, kv.p + offK, kv.p + offV, ldkv, seqs.p, nSeq, nh, d, scale);
  return a.env.Undefined();
}

// toBf16(x: F32, out: U16, n)
Napi::Value ToBf16(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("x");
  const auto out = a.u16("out");
  const int64_t n = a.size("n");
  fits(a.env, x, n, "x");
  fits(a.env, out, n, "out");
  toBf16(out.p, x.p, n);
  return a.env.Undefined();
}

// gemmBf16(ta, tb, M, N, K, alpha, A: U16, offA, lda, B: U16, offB, ldb, beta, C: F32, offC, ldc)
Napi::Value GemmBf16(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto g = gemmArgs(a, &Args::u16);
  if (!bf16Available()) throw Napi::Error::New(a.env, "this CPU has no bf16 dot products (AVX512-BF16 or AMX)");
  guarded(a.env, [&] { gemmBf16(g.ta, g.tb, g.M, g.N, g.K, g.alpha, g.A.p, g.A.ld, g.B.p, g.B.ld, g.beta, g.C.p, g.C.ld); });
  return a.env.Undefined();
}

// ---- inference products on packed weights ----

// Marks packLinear's handles, so that packedForward takes no other object.
const napi_type_tag kPackedTag = {0x676f74756e657061ULL, 0x636b65646c696e31ULL};

// packLinear(type: 0 fp32 | 1 bf16 | 2 int8, w: F32, bias: F32 | null, N, K, gelu) -> a handle for packedForward
Napi::Value PackLinear(const Napi::CallbackInfo& info) {
  Args a(info);
  const int64_t type = a.size("type");
  const auto w = a.f32("w");
  const auto bias = a.f32OrNull("bias");
  const int64_t N = a.size("N"), K = a.size("K");
  const bool gelu = a.flag();
  if (type > 2) throw rangeError(a.env, "type must be 0 (fp32), 1 (bf16) or 2 (int8)");
  if (N == 0 || K == 0) throw rangeError(a.env, "N and K must be positive");
  fits(a.env, w, N * K, "w");
  if (bias.p) fits(a.env, bias, N, "bias");
  if (type == 1 && !bf16Available()) throw Napi::Error::New(a.env, "this CPU has no bf16 dot products (AVX512-BF16 or AMX)");
  if (type == 2 && !int8Available())
    throw Napi::Error::New(a.env, "this CPU has no int8 products (oneDNN needs AVX2)");
  PackedLinear* p = nullptr;
  guarded(a.env, [&] { p = new PackedLinear(static_cast<PackedType>(type), w.p, bias.p, N, K, gelu); });
  const int64_t bytes = static_cast<int64_t>(p->bytes());
  Napi::MemoryManagement::AdjustExternalMemory(a.env, bytes);
  auto handle = Napi::External<PackedLinear>::New(a.env, p, [bytes](Napi::Env env, PackedLinear* q) {
    delete q;
    Napi::MemoryManagement::AdjustExternalMemory(env, -bytes);
  });
  handle.TypeTag(&kPackedTag);
  return handle;
}

// packedRows(M) -> the rows a product of M rows runs on (y holding that many is written in place)
Napi::Value PackedRows(const Napi::CallbackInfo& info) {
  Args a(info);
  return Napi::Number::New(a.env, static_cast<double>(PackedLinear::rowsFor(a.size("M"))));
}

// packedForward(handle, M, x: F32, offX, ldx, y: F32): y [M, N] = epilogue(x [M, K] · Wᵀ + bias), y packed
// from its start. Rows of x past M are read up to the end of x's buffer, rows of y past M written up to
// the end of y's view, as scratch, when they reach packedRows(M).
Napi::Value PackedForward(const Napi::CallbackInfo& info) {
  Napi::Value h = info[0];
  if (!h.IsExternal() || !h.As<Napi::External<PackedLinear>>().CheckTypeTag(&kPackedTag))
    throw Napi::TypeError::New(info.Env(), "handle must come from packLinear");
  PackedLinear* p = h.As<Napi::External<PackedLinear>>().Data();
  Args a(info);
  a.skip();
  const int64_t M = a.size("M");
  int64_t extent = 0;
  const auto x = a.f32Extent("x", &extent);
  const int64_t offX = a.size("offX"), ldx = a.size("ldx");
  const auto y = a.f32("y");
  const int64_t N = p->outFeatures(), K = p->inFeatures();
  checkLd(a.env, ldx, K, "ldx");
  fits(a.env, x, offX + span(M, K, ldx), "x");
  fits(a.env, y, M * N, "y");
  // Elements of x's buffer from row 0 on: what the rows past M may read.
  const int64_t avail = extent - offX;
  const int64_t xRows = avail >= K ? (avail - K) / ldx + 1 : 0;
  const int64_t yRows = static_cast<int64_t>(y.n) / N;
  guarded(a.env, [&] { p->forward(y.p, yRows, x.p + offX, ldx, xRows, M); });
  return a.env.Undefined();
}

// ---- embeddings ----

// embeddingsForward(word[V,H], pos[P,H], type[TV,H], inputIds[B*T], tokenTypeIds[B*T], out[B*T,H], B, T, H)
Napi::Value EmbeddingsForward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto word = a.f32("word"), pos = a.f32("pos"), type = a.f32("type");
  const auto ids = a.i32("inputIds"), types = a.i32("tokenTypeIds");
  const auto out = a.f32("out");
  const int64_t B = a.size("B"), T = a.size("T"), H = a.size("H");
  if (H == 0) return a.env.Undefined();
  const int64_t n = B * T, P = pos.n / H;
  fits(a.env, ids, n, "inputIds");
  fits(a.env, types, n, "tokenTypeIds");
  fits(a.env, out, n * H, "out");
  if (T > P)
    throw rangeError(a.env, "sequence length " + std::to_string(T) + " exceeds max_position_embeddings " +
                                std::to_string(P));
  checkIds(a.env, ids.p, n, word.n / H, "token id");
  checkIds(a.env, types.p, n, type.n / H, "token type id");
  embeddingsForward(out.p, word.p, pos.p, type.p, ids.p, types.p, B, T, H);
  return a.env.Undefined();
}

// embeddingsBackward(dout[B*T,H], dWord[V,H], dPos[P,H], dType[TV,H], inputIds, tokenTypeIds, B, T, H,
//                    padId, touched[>=B*T]) -> count of touched word rows
Napi::Value EmbeddingsBackward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto dout = a.f32("dout");
  const auto dWord = a.f32("dWord"), dPos = a.f32("dPos"), dType = a.f32("dType");
  const auto ids = a.i32("inputIds"), types = a.i32("tokenTypeIds");
  const int64_t B = a.size("B"), T = a.size("T"), H = a.size("H");
  const int64_t padId = static_cast<int64_t>(a.num("padId"));
  const auto touched = a.i32("touched");
  const int64_t n = B * T;
  if (H == 0) return Napi::Number::New(a.env, 0);
  fits(a.env, dout, n * H, "dout");
  fits(a.env, ids, n, "inputIds");
  fits(a.env, types, n, "tokenTypeIds");
  fits(a.env, touched, n, "touched");
  if (T * H > static_cast<int64_t>(dPos.n)) throw rangeError(a.env, "dPos is too small for the sequence length");
  checkIds(a.env, ids.p, n, dWord.n / H, "token id");
  checkIds(a.env, types.p, n, dType.n / H, "token type id");
  const int64_t count = embeddingsBackward(dWord.p, dPos.p, dType.p, touched.p, dout.p, ids.p, types.p, B, T, H, padId);
  return Napi::Number::New(a.env, static_cast<double>(count));
}

// zeroRows(x[R,len], rows, count, len)
Napi::Value ZeroRows(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("x");
  const auto rows = a.i32("rows");
  const int64_t count = a.size("count"), len = a.size("len");
  fits(a.env, rows, count, "rows");
  for (int64_t i = 0; i < count; i++) {
    const int64_t r = rows.p[i];
    if (r < 0 || (r + 1) * len > static_cast<int64_t>(x.n))
      throw rangeError(a.env, "row " + std::to_string(r) + " is out of range");
  }
  zeroRows(x.p, rows.p, count, len);
  return a.env.Undefined();
}

// ---- LayerNorm ----

// layerNormForward(x[N,H], gamma[H], beta[H], out[N,H], mean[N], rstd[N], N, H, eps)
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("x"), gamma = a.f32("gamma"), beta = a.f32("beta");
  const auto out = a.f32("out"), mean = a.f32("mean"), rstd = a.f32("rstd");
  const int64_t N = a.size("N"), H = a.size("H");
  const float eps = a.f("eps");
  fits(a.env, x, N * H, "x");
  fits(a.env, out, N * H, "out");
  fits(a.env, gamma, H, "gamma");
  fits(a.env, beta, H, "beta");
  fits(a.env, mean, N, "mean");
  fits(a.env, rstd, N, "rstd");
  layerNormForward(out.p, mean.p, rstd.p, x.p, gamma.p, beta.p, N, H, eps);
  return a.env.Undefined();
}

// residualLayerNormForward(y[N,H], bias[H]|null, residual[N,H], sum[N,H], gamma, beta, out, mean, rstd,
//                          N, H, eps, p, seed)
Napi::Value ResidualLayerNormForward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto y = a.f32("y"), bias = a.f32OrNull("bias"), residual = a.f32("residual"), sum = a.f32("sum");
  const auto gamma = a.f32("gamma"), beta = a.f32("beta");
  const auto out = a.f32("out"), mean = a.f32("mean"), rstd = a.f32("rstd");
  const int64_t N = a.size("N"), H = a.size("H");
  const float eps = a.f("eps"), p = a.f("p");
  const uint64_t seed = static_cast<uint64_t>(a.num("seed"));
  for (const auto* v : {&y, &residual, &sum, &out}) fits(a.env, *v, N * H, "an [N, H] operand");
  fits(a.env, gamma, H, "gamma");
  fits(a.env, beta, H, "beta");
  if (bias.p) fits(a.env, bias, H, "bias");
  fits(a.env, mean, N, "mean");
  fits(a.env, rstd, N, "rstd");
  if (N * H > 0xFFFFFFFFll) throw rangeError(a.env, "dropout takes at most 2^32 elements per call");
  residualLayerNormForward(out.p, sum.p, mean.p, rstd.p, y.p, bias.p, residual.p, gamma.p, beta.p, N, H, eps, p, seed);
  return a.env.Undefined();
}

// layerNormBackward(dout[N,H], x[N,H], gamma[H], mean[N], rstd[N], dx[N,H], dgamma[H], dbeta[H], N, H, accumulate)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto dout = a.f32("dout"), x = a.f32("x"), gamma = a.f32("gamma");
  const auto mean = a.f32("mean"), rstd = a.f32("rstd");
  const auto dx = a.f32("dx"), dgamma = a.f32("dgamma"), dbeta = a.f32("dbeta");
  const int64_t N = a.size("N"), H = a.size("H");
  const bool acc = a.flag();
  fits(a.env, dout, N * H, "dout");
  fits(a.env, x, N * H, "x");
  fits(a.env, dx, N * H, "dx");
  fits(a.env, gamma, H, "gamma");
  fits(a.env, dgamma, H, "dgamma");
  fits(a.env, dbeta, H, "dbeta");
  fits(a.env, mean, N, "mean");
  fits(a.env, rstd, N, "rstd");
  layerNormBackward(dx.p, dgamma.p, dbeta.p, dout.p, x.p, gamma.p, mean.p, rstd.p, N, H, acc);
  return a.env.Undefined();
}

// ---- element-wise ----

// addBias(x[N,H], bias[H], N, H) and fillRows(x[N,H], row[H], N, H)
template <void (*Kernel)(float*, const float*, int64_t, int64_t)>
Napi::Value RowOp(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("x"), b = a.f32("row");
  const int64_t N = a.size("N"), H = a.size("H");
  fits(a.env, x, N * H, "x");
  fits(a.env, b, H, "row");
  Kernel(x.p, b.p, N, H);
  return a.env.Undefined();
}

// biasGrad(dy[N,H], dbias[H], N, H, rowStride?)
Napi::Value BiasGrad(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto dy = a.f32("dy"), db = a.f32("dbias");
  const int64_t N = a.size("N"), H = a.size("H");
  const int64_t ld = a.nullish() ? H : a.size("rowStride");
  if (N == 0) return a.env.Undefined();
  fits(a.env, dy, (N - 1) * ld + H, "dy");
  fits(a.env, db, H, "dbias");
  biasGrad(db.p, dy.p, N, H, ld);
  return a.env.Undefined();
}

// geluForward(x, out, n) and tanhForward(x, out, n); out may alias x.
template <void (*Kernel)(float*, const float*, int64_t)>
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("x"), out = a.f32("out");
  const int64_t n = a.size("n");
  fits(a.env, x, n, "x");
  fits(a.env, out, n, "out");
  Kernel(out.p, x.p, n);
  return a.env.Undefined();
}

// geluBackward(dout, x, dx, n) and tanhBackward(dout, y, dx, n); dx may alias dout.
template <void (*Kernel)(float*, const float*, const float*, int64_t)>
Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto dout = a.f32("dout"), x = a.f32("x"), dx = a.f32("dx");
  const int64_t n = a.size("n");
  fits(a.env, dout, n, "dout");
  fits(a.env, x, n, "x");
  fits(a.env, dx, n, "dx");
  Kernel(dx.p, dout.p, x.p, n);
  return a.env.Undefined();
}

// biasGeluForward(y[N,H], bias[H], pre[N,H]|null, out[N,H], N, H)
Napi::Value BiasGeluForward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto y = a.f32("y"), bias = a.f32("bias"), pre = a.f32OrNull("pre"), out = a.f32("out");
  const int64_t N = a.size("N"), H = a.size("H");
  fits(a.env, y, N * H, "y");
  fits(a.env, bias, H, "bias");
  if (pre.p) fits(a.env, pre, N * H, "pre");
  fits(a.env, out, N * H, "out");
  biasGeluForward(out.p, pre.p, y.p, bias.p, N, H);
  return a.env.Undefined();
}

// dropout(x, out, n, p, seed, residual?)
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("x"), out = a.f32("out");
  const int64_t n = a.size("n");
  const float p = a.f("p");
  const uint64_t seed = static_cast<uint64_t>(a.num("seed"));
  const auto res = a.f32OrNull("residual");
  fits(a.env, x, n, "x");
  fits(a.env, out, n, "out");
  if (res.p) fits(a.env, res, n, "residual");
  if (n > 0xFFFFFFFFll) throw rangeError(a.env, "dropout takes at most 2^32 elements per call");
  dropout(out.p, x.p, res.p, n, p, seed);
  return a.env.Undefined();
}

// add(a, b, out, n)
Napi::Value Add(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("a"), y = a.f32("b"), out = a.f32("out");
  const int64_t n = a.size("n");
  fits(a.env, x, n, "a");
  fits(a.env, y, n, "b");
  fits(a.env, out, n, "out");
  add(out.p, x.p, y.p, n);
  return a.env.Undefined();
}

// ---- softmaxes ----

// softmaxForward(scores[R,Tk], maskBias[R/rowsPerBatch,Tk] | null, probs[R,Tk], R, Tk, rowsPerBatch, scale)
Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto s = a.f32("scores"), mask = a.f32OrNull("maskBias"), p = a.f32("probs");
  const int64_t R = a.size("R"), Tk = a.size("Tk"), per = a.size("rowsPerBatch");
  const float scale = a.f("scale");
  fits(a.env, s, R * Tk, "scores");
  fits(a.env, p, R * Tk, "probs");
  if (mask.p) {
    if (per == 0) throw rangeError(a.env, "rowsPerBatch must be positive");
    fits(a.env, mask, ((R + per - 1) / per) * Tk, "maskBias");
  }
  softmaxForward(p.p, s.p, mask.p, R, Tk, per, scale);
  return a.env.Undefined();
}

// softmaxBackward(dprobs[R,Tk], probs[R,Tk], dscores[R,Tk], R, Tk, scale)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto dp = a.f32("dprobs"), p = a.f32("probs"), ds = a.f32("dscores");
  const int64_t R = a.size("R"), Tk = a.size("Tk");
  const float scale = a.f("scale");
  fits(a.env, dp, R * Tk, "dprobs");
  fits(a.env, p, R * Tk, "probs");
  fits(a.env, ds, R * Tk, "dscores");
  softmaxBackward(ds.p, dp.p, p.p, R, Tk, scale);
  return a.env.Undefined();
}

// crossEntropyForward(logits[N,C], labels[N], N, C) -> [mean loss, count]
Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("logits");
  const auto labels = a.i32("labels");
  const int64_t N = a.size("N"), C = a.size("C");
  fits(a.env, x, N * C, "logits");
  fits(a.env, labels, N, "labels");
  checkLabels(a.env, labels.p, N, C);
  int64_t count = 0;
  const double loss = crossEntropyForward(x.p, labels.p, N, C, &count);
  auto out = Napi::Array::New(a.env, 2);
  out.Set(0u, Napi::Number::New(a.env, loss));
  out.Set(1u, Napi::Number::New(a.env, static_cast<double>(count)));
  return out;
}

// crossEntropyBackward(logits[N,C], labels[N], dlogits[N,C], N, C, scale)
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("logits");
  const auto labels = a.i32("labels");
  const auto d = a.f32("dlogits");
  const int64_t N = a.size("N"), C = a.size("C");
  const float scale = a.f("scale");
  fits(a.env, x, N * C, "logits");
  fits(a.env, d, N * C, "dlogits");
  fits(a.env, labels, N, "labels");
  checkLabels(a.env, labels.p, N, C);
  crossEntropyBackward(d.p, x.p, labels.p, N, C, scale);
  return a.env.Undefined();
}

// ---- optimiser ----

// adamwUpdate(data, grad, m, v, lr, beta1, beta2, eps, weightDecay, step, gradScale, rows?, rowLen?)
Napi::Value AdamwUpdate(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto p = a.f32("data"), g = a.f32("grad"), m = a.f32("m"), v = a.f32("v");
  AdamwStep h{};
  h.lr = a.num("lr");
  h.beta1 = a.num("beta1");
  h.beta2 = a.num("beta2");
  h.eps = a.num("eps");
  h.weightDecay = a.num("weightDecay");
  h.step = a.num("step");
  h.gradScale = a.num("gradScale");
  if (g.n != p.n || m.n != p.n || v.n != p.n) throw rangeError(a.env, "data, grad, m and v must have the same length");
  if (h.step < 1) throw rangeError(a.env, "step must be at least 1");
  if (a.nullish()) {
    adamw(p.p, g.p, m.p, v.p, static_cast<int64_t>(p.n), h);
    return a.env.Undefined();
  }
  const auto rows = a.i32("rows");
  const int64_t len = a.size("rowLen");
  const int64_t R = static_cast<int64_t>(rows.n);
  for (int64_t i = 0; i < R; i++)
    if (rows.p[i] < 0 || (static_cast<int64_t>(rows.p[i]) + 1) * len > static_cast<int64_t>(p.n))
      throw rangeError(a.env, "row " + std::to_string(rows.p[i]) + " is out of range");
  adamwRows(p.p, g.p, m.p, v.p, rows.p, R, len, h);
  return a.env.Undefined();
}

// sumSquares(x) -> sum of x[i]^2 in double
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("x");
  return Napi::Number::New(a.env, sumSquares(x.p, static_cast<int64_t>(x.n)));
}

// scaleInPlace(x, s)
Napi::Value ScaleInPlace(const Napi::CallbackInfo& info) {
  Args a(info);
  const auto x = a.f32("x");
  scale(x.p, static_cast<int64_t>(x.n), a.f("s"));
  return a.env.Undefined();
}

// ---- runtime settings ----

// setThreads(n): the thread count of the OpenMP loops and of the GEMM libraries.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args a(info);
  const int64_t n = a.size("n");
  if (n < 1) throw rangeError(a.env, "the thread count must be at least 1");
  setNumThreads(static_cast<int>(n));
  return a.env.Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), numThreads()); }

Napi::Value SetGemmMode(const Napi::CallbackInfo& info) {
  Args a(info);
  setGemmMode(static_cast<int>(a.size("mode")));
  return a.env.Undefined();
}

Napi::Value SetBatchedMode(const Napi::CallbackInfo& info) {
  Args a(info);
  setBatchedMode(static_cast<int>(a.size("mode")));
  return a.env.Undefined();
}

// setGemmRule(minFlops): products of at least minFlops go to oneDNN; -1 none, 0 all.
Napi::Value SetGemmRule(const Napi::CallbackInfo& info) {
  Args a(info);
  setGemmRule(a.num("minFlops"));
  return a.env.Undefined();
}

// blasInfo() -> OpenBLAS's build and core, oneDNN's version and ISA, the rule in force.
Napi::Value BlasInfo(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("config", openblas_get_config());
  o.Set("core", openblas_get_corename());
  const dnnl_version_t* v = dnnl_version();
  o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  o.Set("onednnIsa", static_cast<double>(dnnl_get_effective_cpu_isa()));
  o.Set("onednnMinFlops", gemmRule());
  o.Set("bf16", bf16Available());
  o.Set("int8", int8Available());
  o.Set("int8InputMax", int8InputMax());
  return o;
}

// The default rule, from measuring the model's products one per thread (bench/gemm.ts prints both):
// when the CPU has AVX-512 and OpenBLAS does not use it (OPENBLAS_CORETYPE=Haswell, as CI sets), oneDNN
// was faster at every shape, from attention's 30x30x64 to the FFN's 800x3072x768 (1.1x to 4x), so it
// runs them all; elsewhere OpenBLAS does. GOTUNE_GEMM=openblas or onednn forces one library.
void pickGemmRule() {
  const char* env = std::getenv("GOTUNE_GEMM");
  if (env && std::strcmp(env, "openblas") == 0) return setGemmRule(-1);
  if (env && std::strcmp(env, "onednn") == 0) return setGemmRule(0);
  const bool avx512 = dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core;
  const std::string core = openblas_get_corename();
  const bool blasAvx512 = core.find("kylakex") != std::string::npos || core.find("ooperlake") != std::string::npos ||
                          core.find("apphire") != std::string::npos;
  setGemmRule(avx512 && !blasAvx512 ? 0 : -1);
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const struct {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  } table[] = {
      {"sgemm", Sgemm},
      {"sgemmBatched", SgemmBatched},
      {"attentionPacked", AttentionPacked},
      {"toBf16", ToBf16},
      {"gemmBf16", GemmBf16},
      {"packLinear", PackLinear},
      {"packedRows", PackedRows},
      {"packedForward", PackedForward},
      {"embeddingsForward", EmbeddingsForward},
      {"embeddingsBackward", EmbeddingsBackward},
      {"zeroRows", ZeroRows},
      {"layerNormForward", LayerNormForward},
      {"residualLayerNormForward", ResidualLayerNormForward},
      {"layerNormBackward", LayerNormBackward},
      {"addBias", RowOp<addBias>},
      {"fillRows", RowOp<fillRows>},
      {"biasGrad", BiasGrad},
      {"geluForward", Unary<geluForward>},
      {"biasGeluForward", BiasGeluForward},
      {"geluBackward", UnaryBackward<geluBackward>},
      {"tanhForward", Unary<tanhForward>},
      {"tanhBackward", UnaryBackward<tanhBackward>},
      {"dropout", Dropout},
      {"add", Add},
      {"softmaxForward", SoftmaxForward},
      {"softmaxBackward", SoftmaxBackward},
      {"crossEntropyForward", CrossEntropyForward},
      {"crossEntropyBackward", CrossEntropyBackward},
      {"adamwUpdate", AdamwUpdate},
      {"sumSquares", SumSquares},
      {"scaleInPlace", ScaleInPlace},
      {"setThreads", SetThreads},
      {"getThreads", GetThreads},
      {"setBatchedMode", SetBatchedMode},
      {"setGemmMode", SetGemmMode},
      {"setGemmRule", SetGemmRule},
      {"blasInfo", BlasInfo},
  };
  for (const auto& e : table) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  setGemmMode(gemmMode());
  pickGemmRule();
  return exports;
}

}  // namespace gt

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return gt::Init(env, exports); }

NODE_API_MODULE(gotune_native, InitAddon)
