// glibc's libmvec has vector erff/expf; declaring them as SIMD functions lets `omp simd` loops call
// the vector versions (what <math.h> would do under -ffast-math, without fast-math's other effects).
#pragma once
#include <cmath>

extern "C" {
__attribute__((simd("notinbranch"))) float erff(float) noexcept;
__attribute__((simd("notinbranch"))) float expf(float) noexcept;
__attribute__((simd("notinbranch"))) float tanhf(float) noexcept;
}
