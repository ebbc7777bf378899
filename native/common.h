// Argument helpers shared by the kernels: typed-array views (byte offsets honoured by N-API),
// numbers, and bounds checks so that a wrong shape is a JavaScript RangeError, never a stray write.
#pragma once
#include <napi.h>
#include <omp.h>

#include <cstdint>
#include <string>

namespace gt {

template <typename T>
struct View {
  T* p;
  size_t n;
};

inline Napi::Error rangeError(Napi::Env env, const std::string& msg) {
  return Napi::RangeError::New(env, msg);
}

inline View<float> f32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Float32Array");
  auto a = v.As<Napi::Float32Array>();
  return {a.Data(), a.ElementLength()};
}

inline View<int32_t> i32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  return {a.Data(), a.ElementLength()};
}

inline bool isNullish(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() <= i || info[i].IsUndefined() || info[i].IsNull();
}

inline double num(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline int64_t integer(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double d = num(info, i, name);
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < 0)
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a non-negative integer");
  return static_cast<int64_t>(d);
}

inline bool boolean(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

// Throws unless `need` elements fit in an array of `have` elements.
inline void fits(Napi::Env env, size_t have, int64_t need, const char* name) {
  if (need < 0 || static_cast<uint64_t>(need) > have)
    throw rangeError(env, std::string(name) + " is too small: needs " + std::to_string(need) +
                              " elements, has " + std::to_string(have));
}

// Element-wise loops below this size run on one thread: waking the team costs more than it saves.
constexpr int64_t kParallelMin = 1 << 14;

}  // namespace gt
