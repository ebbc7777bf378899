// Every kernel the addon exports (one JavaScript function each; see addon.cc for the names).
#pragma once
#include <napi.h>

namespace gt {

int numThreads();
int batchedMode();
int gemmMode();

Napi::Value Sgemm(const Napi::CallbackInfo& info);
Napi::Value SgemmBatched(const Napi::CallbackInfo& info);
Napi::Value EmbeddingsForward(const Napi::CallbackInfo& info);
Napi::Value EmbeddingsBackward(const Napi::CallbackInfo& info);
Napi::Value ZeroRows(const Napi::CallbackInfo& info);
Napi::Value LayerNormForward(const Napi::CallbackInfo& info);
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info);
Napi::Value AddBias(const Napi::CallbackInfo& info);
Napi::Value FillRows(const Napi::CallbackInfo& info);
Napi::Value BiasGrad(const Napi::CallbackInfo& info);
Napi::Value GeluForward(const Napi::CallbackInfo& info);
Napi::Value GeluBackward(const Napi::CallbackInfo& info);
Napi::Value TanhForward(const Napi::CallbackInfo& info);
Napi::Value TanhBackward(const Napi::CallbackInfo& info);
Napi::Value Dropout(const Napi::CallbackInfo& info);
Napi::Value Add(const Napi::CallbackInfo& info);
Napi::Value SoftmaxForward(const Napi::CallbackInfo& info);
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info);
Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info);
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info);
Napi::Value AdamwUpdate(const Napi::CallbackInfo& info);
Napi::Value SumSquares(const Napi::CallbackInfo& info);
Napi::Value ScaleInPlace(const Napi::CallbackInfo& info);
Napi::Value SetThreads(const Napi::CallbackInfo& info);
Napi::Value GetThreads(const Napi::CallbackInfo& info);
Napi::Value SetBatchedMode(const Napi::CallbackInfo& info);
Napi::Value SetGemmMode(const Napi::CallbackInfo& info);

}  // namespace gt
