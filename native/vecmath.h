// Helpers the element-wise kernels share: vector maths from glibc and dropout's counter-based hash.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// glibc's libmvec has vector erff/expf; declaring them as SIMD functions lets `omp simd` loops call
// the vector versions (what <math.h> would do under -ffast-math, without fast-math's other effects).
extern "C" {
__attribute__((simd("notinbranch"))) float erff(float) noexcept;
__attribute__((simd("notinbranch"))) float expf(float) noexcept;
__attribute__((simd("notinbranch"))) float tanhf(float) noexcept;
}

namespace gt {

// A counter-based hash (murmur3's 32-bit finaliser over the index mixed with the seed): element i's
// keep/drop depends only on (seed, i), so the mask is the same at any thread count and backward recomputes
// it instead of storing it. 32-bit multiplies keep the loop vectorised.
struct DropoutKey {
  uint32_t lo, hi;
  explicit DropoutKey(uint64_t seed)
      : lo(static_cast<uint32_t>(seed)), hi(static_cast<uint32_t>(seed >> 32) * 0x27D4EB2Fu + 0x165667B1u) {}
};

static inline float uniform(uint32_t seedLo, uint32_t seedHi, uint32_t i) {
  uint32_t h = (i * 0x9E3779B1u) ^ seedLo;
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= (h >> 13) ^ seedHi;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return static_cast<float>(h >> 8) * (1.0f / 16777216.0f);
}

// x rounded to bf16, to nearest even (x finite).
static inline uint16_t bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// x * Phi(x) with the exact erf (Hugging Face's "gelu").
static inline float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

}  // namespace gt
