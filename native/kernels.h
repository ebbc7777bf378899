// gotune's kernels as plain C++ functions on pointers and sizes (the way llm.c writes them): outputs
// first, then inputs, then sizes; row-major; every size in elements. They trust their arguments: the
// N-API glue in addon.cc checks shapes, ids and labels before any of them runs.
#pragma once
#include <cstdint>
#include <memory>

namespace gt {

// ---- runtime (runtime.cc) ----

// Threads of the OpenMP loops (OMP_NUM_THREADS when set, else every core this process may use).
int numThreads();
void setNumThreads(int n);
// 0 lets the GEMM library thread each product, 1 splits large products over OpenMP threads.
int gemmMode();
void setGemmMode(int mode);
// 0 runs batched products one per thread, 1 runs them in turn on the library's own threads.
int batchedMode();
void setBatchedMode(int mode);

// Element-wise loops below this size run on one thread: waking the team costs more than it saves.
constexpr int64_t kParallelMin = 1 << 14;

// ---- matrix products (gemm.cc): OpenBLAS, or oneDNN where it is faster ----

enum class GemmLib { openblas = 0, onednn = 1 };
// Which library runs a product of this size (the rule set by setGemmRule; see gemm.cc).
GemmLib gemmLibFor(int64_t M, int64_t N, int64_t K);
// minFlops: products with at least 2*M*N*K flops go to oneDNN; -1 sends none, 0 sends all.
void setGemmRule(double minFlops);
double gemmRule();

// C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C.
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The product above on the calling thread alone, for a loop that runs products in parallel itself (while
// a SerialBlas is alive: OpenBLAS would otherwise start its own threads inside the loop's).
void sgemmSerial(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
struct SerialBlas {
  SerialBlas();
  ~SerialBlas();
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;
};

// The product above for every i < n1, j < n2 on A + i*sA1 + j*sA2 (likewise B and C): attention's
// per-(example, head) products on strided views, without copies.
struct Strided {
  int64_t ld, s1, s2;
};
void sgemmBatched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, Strided a,
                  const float* B, Strided b, float beta, float* C, Strided c, int64_t n1, int64_t n2);

// ---- inference attention (attention.cc) ----

// Attention over sequences packed without padding (so without a mask), for inference. Sequence s is the
// quadruple seqs[4s..4s+3] = (qRow, Tq, kvRow, T): its queries are rows qRow..qRow+Tq-1 of q (rows ldq apart,
// head h at column h*d), its keys and values rows kvRow..kvRow+T-1 of k and v (rows ldkv apart). Per head:
// context rows qRow.. [Tq, d] = softmax(scale · q kᵀ) v, each (sequence, head) a task on one thread.
void attentionPacked(float* context, int64_t ldc, const float* q, int64_t ldq, const float* k, const float* v,
                     int64_t ldkv, const int32_t* seqs, int64_t nSeq, int64_t nh, int64_t d, float scale);

// ---- bf16 products (gemm_bf16.cc): oneDNN's matmul, fp32 accumulation and output ----

// Whether the CPU has bf16 dot products (AVX512-BF16 or AMX) for oneDNN to use.
bool bf16Available();
// out = x rounded to bf16 (nearest even).
void toBf16(uint16_t* out, const float* x, int64_t n);
// C[M,N] = alpha * op(A) op(B) + beta * C with A and B in bf16; throws std::runtime_error if oneDNN fails.
void gemmBf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
              const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);

// ---- int8 dynamic quantisation (quantize.cc); the products are PackedLinear's (below) ----

// Whether oneDNN can run u8 x s8 products on this CPU (AVX2 or better: VNNI and AMX are faster).
bool int8Available();
// The inputs' quantisation range [0, max]: 255 with VNNI or AMX, 127 where oneDNN's kernels sum pairs of
// products in saturating 16 bits (AVX2, AVX-512 without VNNI).
int int8InputMax();
// Per row o of w [O, I]: scale[o] = max|w[o,:]| / 127, q = round(w / scale) (symmetric s8), sum[o] = Σ q.
void quantizeS8Rows(int8_t* q, float* scale, int32_t* sum, const float* w, int64_t O, int64_t I);
// Per row m of x [M, K] (rows ldx apart): asymmetric u8 in [0, int8InputMax()] over [min(0, min x), max(0, max x)],
// x ≈ scale[m] * (q - zero[m]); q is [M, K] packed.
void quantizeU8Rows(uint8_t* q, float* scale, int32_t* zero, const float* x, int64_t M, int64_t K, int64_t ldx);

// ---- inference products on packed weights (linear_packed.cc) ----

enum class PackedType { f32 = 0, bf16 = 1, s8 = 2 };

// A linear layer's weight [N, K] (PyTorch's layout) packed once into oneDNN's layout for inference, with its
// bias (may be null) and, when gelu, erf GELU in the epilogue. Its methods throw std::runtime_error if oneDNN fails.
class PackedLinear {
 public:
  PackedLinear(PackedType type, const float* w, const float* bias, int64_t N, int64_t K, bool gelu);
  ~PackedLinear();
  PackedLinear(const PackedLinear&) = delete;
  PackedLinear& operator=(const PackedLinear&) = delete;
  // The rows a product of M rows runs on: M below 64, else M rounded up to a bucket.
  static int64_t rowsFor(int64_t M);
  // y [M, N] = epilogue(x [M, K] · Wᵀ + bias), x's rows ldx apart. The product runs in place on x and y when
  // x has xRows >= rowsFor(M) rows readable and y yRows >= rowsFor(M) rows writable (the rows past M are
  // scratch), else on padded copies.
  void forward(float* y, int64_t yRows, const float* x, int64_t ldx, int64_t xRows, int64_t M);
  // Bytes held: the packed weight, bias and scales.
  size_t bytes() const;
  int64_t outFeatures() const;
  int64_t inFeatures() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- embeddings (embeddings.cc) ----

// out[b,t] = word[ids[b,t]] + pos[t] + type[types[b,t]].
void embeddingsForward(float* out, const float* word, const float* pos, const float* type, const int32_t* ids,
                       const int32_t* types, int64_t B, int64_t T, int64_t H);
// Accumulates the three gradients (the padding row gets none, as torch's padding_idx) and writes the
// sorted unique word rows touched into touched; returns their count.
int64_t embeddingsBackward(float* dWord, float* dPos, float* dType, int32_t* touched, const float* dout,
                           const int32_t* ids, const int32_t* types, int64_t B, int64_t T, int64_t H, int64_t padId);
// Zeroes rows[0..count) of x (rows of length len).
void zeroRows(float* x, const int32_t* rows, int64_t count, int64_t len);

// ---- LayerNorm (norm.cc) ----

// out = (x - mean) * rstd * gamma + beta per row of H, saving mean and rstd.
void layerNormForward(float* out, float* mean, float* rstd, const float* x, const float* gamma, const float* beta,
                      int64_t N, int64_t H, float eps);
// The residual block's tail in one pass: sum = dropout(y + bias) + residual (kept for backward; may
// alias y), then out = LayerNorm(sum). bias may be null, p 0 skips dropout.
void residualLayerNormForward(float* out, float* sum, float* mean, float* rstd, const float* y, const float* bias,
                              const float* residual, const float* gamma, const float* beta, int64_t N, int64_t H,
                              float eps, float p, uint64_t seed);
// dx written (or added to, with accumulate); dgamma and dbeta always added to.
void layerNormBackward(float* dx, float* dgamma, float* dbeta, const float* dout, const float* x, const float* gamma,
                       const float* mean, const float* rstd, int64_t N, int64_t H, bool accumulate);

// ---- element-wise (pointwise.cc) ----

void addBias(float* x, const float* bias, int64_t N, int64_t H);
void fillRows(float* x, const float* row, int64_t N, int64_t H);
// dbias += column sums of dy (rows ld apart).
void biasGrad(float* dbias, const float* dy, int64_t N, int64_t H, int64_t ld);
// out = x * Phi(x), erf GELU; out may alias x.
void geluForward(float* out, const float* x, int64_t n);
// pre = y + bias (kept for backward; may alias y), out = GELU(pre), in one pass; pre may be null (inference).
void biasGeluForward(float* out, float* pre, const float* y, const float* bias, int64_t N, int64_t H);
void geluBackward(float* dx, const float* dout, const float* x, int64_t n);
void tanhForward(float* out, const float* x, int64_t n);
void tanhBackward(float* dx, const float* dout, const float* y, int64_t n);
// out = keep(seed, i) ? x / (1 - p) : 0, plus residual[i] when not null.
void dropout(float* out, const float* x, const float* residual, int64_t n, float p, uint64_t seed);
void add(float* out, const float* a, const float* b, int64_t n);

// ---- softmaxes (softmax.cc) ----

// y[0..n) = softmax(x * scale + m) for one row (m may be null: no mask); y may alias x.
void softmaxRow(float* y, const float* x, const float* m, float scale, int64_t n);
// probs[r] = softmax(scale * scores[r] + mask[r / rowsPerMask]) over Tk columns; mask may be null.
void softmaxForward(float* probs, const float* scores, const float* mask, int64_t R, int64_t Tk, int64_t rowsPerMask,
                    float scale);
// dscores = scale * p * (dp - sum(dp * p)); may alias dprobs.
void softmaxBackward(float* dscores, const float* dprobs, const float* probs, int64_t R, int64_t Tk, float scale);
// Mean cross-entropy over rows whose label is not -100; *count gets their number.
double crossEntropyForward(const float* logits, const int32_t* labels, int64_t N, int64_t C, int64_t* count);
// dlogits = scale * (softmax(logits) - onehot(label)), zero rows for -100; may alias logits.
void crossEntropyBackward(float* dlogits, const float* logits, const int32_t* labels, int64_t N, int64_t C,
                          float scale);

// ---- optimiser (optim.cc) ----

struct AdamwStep {
  double lr, beta1, beta2, eps, weightDecay, step, gradScale;
};
// One AdamW step, torch.optim.AdamW's arithmetic, over n elements, or over rows[0..R) of length len.
void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamwStep& h);
void adamwRows(float* p, const float* g, float* m, float* v, const int32_t* rows, int64_t R, int64_t len,
               const AdamwStep& h);
double sumSquares(const float* x, int64_t n);
void scale(float* x, int64_t n, float s);

}  // namespace gt
