{
  "targets": [
    {
      "target_name": "gotune_native",
      "sources": [
        "native/addon.cc",
        "native/runtime.cc",
        "native/gemm.cc",
        "native/attention.cc",
        "native/gemm_bf16.cc",
        "native/quantize.cc",
        "native/linear_packed.cc",
        "native/embeddings.cc",
        "native/norm.cc",
        "native/pointwise.cc",
        "native/softmax.cc",
        "native/optim.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fno-math-errno"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-L/usr/lib/x86_64-linux-gnu/openblas-pthread", "-lopenblas", "-ldnnl", "-lgomp"]
    }
  ]
}
