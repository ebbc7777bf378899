// The gotune_native addon: registers the kernels under their JavaScript names.
#include <cblas.h>

#include "kernels.h"

namespace gt {

static Napi::Value BlasInfo(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("config", openblas_get_config());
  o.Set("core", openblas_get_corename());
  return o;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const struct {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  } table[] = {
      {"sgemm", Sgemm},
      {"sgemmBatched", SgemmBatched},
      {"embeddingsForward", EmbeddingsForward},
      {"embeddingsBackward", EmbeddingsBackward},
      {"zeroRows", ZeroRows},
      {"layerNormForward", LayerNormForward},
      {"layerNormBackward", LayerNormBackward},
      {"addBias", AddBias},
      {"fillRows", FillRows},
      {"biasGrad", BiasGrad},
      {"geluForward", GeluForward},
      {"geluBackward", GeluBackward},
      {"tanhForward", TanhForward},
      {"tanhBackward", TanhBackward},
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
      {"blasInfo", BlasInfo},
  };
  for (const auto& e : table) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  // Products are split over OpenMP threads by default (gemmMode 1), each OpenBLAS call single-threaded.
  openblas_set_num_threads(gemmMode() == 1 ? 1 : numThreads());
  return exports;
}

}  // namespace gt

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return gt::Init(env, exports); }

NODE_API_MODULE(gotune_native, InitAddon)
