// Matrix products, never hand-written: OpenBLAS's cblas_sgemm, or oneDNN's dnnl_sgemm (which picks
// AVX-512 kernels itself even when OpenBLAS is held to Haswell's, as CI's OPENBLAS_CORETYPE does).
// Which library runs a product is a rule on its size, set at start-up (addon.cc) and changeable.
#include <cblas.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.h>

#include "kernels.h"

namespace gt {

static double g_minFlops = -1;  // -1: OpenBLAS only, until the glue picks a rule

void setGemmRule(double minFlops) { g_minFlops = minFlops; }
double gemmRule() { return g_minFlops; }

GemmLib gemmLibFor(int64_t M, int64_t N, int64_t K) {
  return g_minFlops >= 0 && 2.0 * M * N * K >= g_minFlops ? GemmLib::onednn : GemmLib::openblas;
}

// One product on the calling thread's library of choice.
static void gemmOn(GemmLib lib, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (lib == GemmLib::onednn) {
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
              B, ldb, beta, C, ldc);
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  const int threads = numThreads();
  if (gemmMode() == 1 && threads > 1 && M * N * K >= (1 << 20)) {
    // One single-threaded call per thread on a block of C's rows (or columns), 16-aligned.
    const bool byRows = M >= N;
    const int64_t len = byRows ? M : N;
#pragma omp parallel num_threads(threads)
    {
      const int nt = omp_get_num_threads(), id = omp_get_thread_num();
      int64_t b0 = (len * id / nt) & ~int64_t(15), b1 = id == nt - 1 ? len : (len * (id + 1) / nt) & ~int64_t(15);
      if (b1 > b0) {
        const int64_t m = byRows ? b1 - b0 : M, n = byRows ? N : b1 - b0;
        const GemmLib lib = gemmLibFor(m, n, K);
        if (byRows)
          gemmOn(lib, ta, tb, m, N, K, alpha, A + (ta ? b0 : b0 * lda), lda, B, ldb, beta, C + b0 * ldc, ldc);
        else
          gemmOn(lib, ta, tb, M, n, K, alpha, A, lda, B + (tb ? b0 * ldb : b0), ldb, beta, C + b0, ldc);
      }
    }
    return;
  }
  gemmOn(gemmLibFor(M, N, K), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemmSerial(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemmOn(gemmLibFor(M, N, K), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// OpenBLAS is already held to one thread where the OpenMP loops split the products (gemm mode 1).
SerialBlas::SerialBlas() {
  if (gemmMode() != 1) openblas_set_num_threads(1);
}
SerialBlas::~SerialBlas() {
  if (gemmMode() != 1) openblas_set_num_threads(numThreads());
}

void sgemmBatched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, Strided a,
                  const float* B, Strided b, float beta, float* C, Strided c, int64_t n1, int64_t n2) {
  const int64_t count = n1 * n2;
  if (count == 0 || M == 0 || N == 0) return;
  const GemmLib lib = gemmLibFor(M, N, K);
  auto one = [&](int64_t t) {
    const int64_t i = t / n2, j = t % n2;
    gemmOn(lib, ta, tb, M, N, K, alpha, A + i * a.s1 + j * a.s2, a.ld, B + i * b.s1 + j * b.s2, b.ld, beta,
           C + i * c.s1 + j * c.s2, c.ld);
  };
  const int threads = numThreads();
  // Many small products: one single-threaded library call per thread.
  if (threads > 1 && count >= threads && batchedMode() == 0) {
    SerialBlas serial;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < count; t++) one(t);
  } else {
    for (int64_t t = 0; t < count; t++) one(t);
  }
}

}  // namespace gt
