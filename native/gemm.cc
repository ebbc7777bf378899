// Matrix products, all from OpenBLAS: a row-major sgemm wrapper and a strided batched sgemm
// (OpenBLAS 0.3.21 has no cblas_sgemm_batch) for attention's per-(batch, head) products.
#include <cblas.h>

#include "common.h"
#include "kernels.h"

namespace gt {

// Elements a row-major `rows` x `cols` operand with leading dimension `ld` spans from its first element.
static int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

static void checkLd(Napi::Env env, int64_t ld, int64_t cols, const char* name) {
  if (ld < (cols > 1 ? cols : 1)) throw rangeError(env, std::string(name) + " is smaller than the row length");
}

// sgemm(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc):
// C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C, row-major, offsets in elements.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool ta = boolean(info, 0), tb = boolean(info, 1);
  int64_t M = integer(info, 2, "M"), N = integer(info, 3, "N"), K = integer(info, 4, "K");
  float alpha = static_cast<float>(num(info, 5, "alpha"));
  auto A = f32(info, 6, "A");
  int64_t offA = integer(info, 7, "offA"), lda = integer(info, 8, "lda");
  auto B = f32(info, 9, "B");
  int64_t offB = integer(info, 10, "offB"), ldb = integer(info, 11, "ldb");
  float beta = static_cast<float>(num(info, 12, "beta"));
  auto C = f32(info, 13, "C");
  int64_t offC = integer(info, 14, "offC"), ldc = integer(info, 15, "ldc");
  int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  checkLd(env, lda, ac, "lda");
  checkLd(env, ldb, bc, "ldb");
  checkLd(env, ldc, N, "ldc");
  fits(env, A.n, offA + span(ar, ac, lda), "A");
  fits(env, B.n, offB + span(br, bc, ldb), "B");
  fits(env, C.n, offC + span(M, N, ldc), "C");
  if (M == 0 || N == 0) return env.Undefined();
  const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  const int threads = numThreads();
  if (gemmMode() == 1 && threads > 1 && M * N * K >= (1 << 20)) {
    // One single-threaded OpenBLAS call per thread on a block of C's rows (or columns), so that
    // OpenMP's pool is the only one and no BLAS worker spins on the core an element-wise loop needs.
    const bool byRows = M >= N;
    const int64_t len = byRows ? M : N;
#pragma omp parallel num_threads(threads)
    {
      const int nt = omp_get_num_threads(), id = omp_get_thread_num();
      int64_t b0 = (len * id / nt) & ~int64_t(15), b1 = id == nt - 1 ? len : (len * (id + 1) / nt) & ~int64_t(15);
      if (b1 > b0) {
        if (byRows) {
          const float* a = A.p + offA + (ta ? b0 : b0 * lda);
          cblas_sgemm(CblasRowMajor, TA, TB, b1 - b0, N, K, alpha, a, lda, B.p + offB, ldb, beta, C.p + offC + b0 * ldc, ldc);
        } else {
          const float* b = B.p + offB + (tb ? b0 * ldb : b0);
          cblas_sgemm(CblasRowMajor, TA, TB, M, b1 - b0, K, alpha, A.p + offA, lda, b, ldb, beta, C.p + offC + b0, ldc);
        }
      }
    }
    return env.Undefined();
  }
  cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A.p + offA, lda, B.p + offB, ldb, beta, C.p + offC, ldc);
  return env.Undefined();
}

// sgemmBatched(transA, transB, M, N, K, alpha, A, offA, lda, sA1, sA2, B, offB, ldb, sB1, sB2,
//              beta, C, offC, ldc, sC1, sC2, n1, n2):
// for i < n1, j < n2: the sgemm above on A + offA + i*sA1 + j*sA2 (likewise B, C). Two batch levels
// let attention address head h of example b inside a [B, T, H] tensor without any copy.
Napi::Value SgemmBatched(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool ta = boolean(info, 0), tb = boolean(info, 1);
  int64_t M = integer(info, 2, "M"), N = integer(info, 3, "N"), K = integer(info, 4, "K");
  float alpha = static_cast<float>(num(info, 5, "alpha"));
  auto A = f32(info, 6, "A");
  int64_t offA = integer(info, 7, "offA"), lda = integer(info, 8, "lda");
  int64_t sA1 = integer(info, 9, "sA1"), sA2 = integer(info, 10, "sA2");
  auto B = f32(info, 11, "B");
  int64_t offB = integer(info, 12, "offB"), ldb = integer(info, 13, "ldb");
  int64_t sB1 = integer(info, 14, "sB1"), sB2 = integer(info, 15, "sB2");
  float beta = static_cast<float>(num(info, 16, "beta"));
  auto C = f32(info, 17, "C");
  int64_t offC = integer(info, 18, "offC"), ldc = integer(info, 19, "ldc");
  int64_t sC1 = integer(info, 20, "sC1"), sC2 = integer(info, 21, "sC2");
  int64_t n1 = integer(info, 22, "n1"), n2 = integer(info, 23, "n2");
  int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  checkLd(env, lda, ac, "lda");
  checkLd(env, ldb, bc, "ldb");
  checkLd(env, ldc, N, "ldc");
  if (n1 == 0 || n2 == 0 || M == 0 || N == 0) return env.Undefined();
  fits(env, A.n, offA + (n1 - 1) * sA1 + (n2 - 1) * sA2 + span(ar, ac, lda), "A");
  fits(env, B.n, offB + (n1 - 1) * sB1 + (n2 - 1) * sB2 + span(br, bc, ldb), "B");
  fits(env, C.n, offC + (n1 - 1) * sC1 + (n2 - 1) * sC2 + span(M, N, ldc), "C");
  const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  const int64_t count = n1 * n2;
  const int threads = numThreads();
  // Many small products: one OpenBLAS call per thread, OpenBLAS itself single-threaded.
  if (threads > 1 && count >= threads && batchedMode() == 0) {
    openblas_set_num_threads(1);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < count; t++) {
      int64_t i = t / n2, j = t % n2;
      cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A.p + offA + i * sA1 + j * sA2, lda, B.p + offB + i * sB1 + j * sB2,
                  ldb, beta, C.p + offC + i * sC1 + j * sC2, ldc);
    }
    openblas_set_num_threads(gemmMode() == 1 ? 1 : threads);
  } else {
    for (int64_t t = 0; t < count; t++) {
      int64_t i = t / n2, j = t % n2;
      cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A.p + offA + i * sA1 + j * sA2, lda, B.p + offB + i * sB1 + j * sB2,
                  ldb, beta, C.p + offC + i * sC1 + j * sC2, ldc);
    }
  }
  return env.Undefined();
}

}  // namespace gt
