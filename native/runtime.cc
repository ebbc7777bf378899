// Thread counts and the product-splitting modes the kernels share.
#include <cblas.h>
#include <omp.h>

#include "kernels.h"

namespace gt {

static int g_threads = 0;
static int g_gemmMode = 1;
static int g_batchedMode = 0;

int numThreads() {
  if (g_threads <= 0) g_threads = omp_get_max_threads();
  return g_threads;
}

// OpenBLAS threads itself only in mode 0; in mode 1 OpenMP's pool is the only one, so no BLAS worker
// spins on the core an element-wise loop needs.
static void syncBlasThreads() { openblas_set_num_threads(g_gemmMode == 1 ? 1 : numThreads()); }

void setNumThreads(int n) {
  g_threads = n;
  omp_set_num_threads(n);
  syncBlasThreads();
}

int gemmMode() { return g_gemmMode; }
void setGemmMode(int mode) {
  g_gemmMode = mode;
  syncBlasThreads();
}

int batchedMode() { return g_batchedMode; }
void setBatchedMode(int mode) { g_batchedMode = mode; }

}  // namespace gt
