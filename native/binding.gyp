# node-gyp build of the tensorslim native backend. No -march=native: the portable code is built
# for baseline x86-64, and each SIMD path is its own static library with its own -m flags; the
# path is chosen at run time from CPUID (src/cpu.cc).
{
  "variables": {
    "ts_with_gloo%": 0,  # 1 builds tensorslim_dist (Gloo collectives); scripts/build-native.mjs sets it when Gloo is installed
    "ts_common_cflags": ["-O3", "-std=c++17", "-fno-math-errno", "-fvisibility=hidden", "-fPIC"],
  },
  "target_defaults": {
    "cflags!": ["-fno-exceptions", "-O2", "-O0"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O2", "-O0"],
    "cflags_cc": ["<@(ts_common_cflags)"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"],
    },
  },
  "targets": [
    {
      "target_name": "ts_isa_avx512",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["src/isa_avx512.cc"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mprefer-vector-width=512"],
        }],
      ],
    },
    {
      "target_name": "ts_isa_avx2",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["src/isa_avx2.cc"],
          "cflags_cc": ["-mavx2", "-mfma"],
        }],
      ],
    },
    {
      "target_name": "ts_layer_norm_gelu_avx512",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["src/layer_norm_gelu_avx512.cc"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mprefer-vector-width=512"],
        }],
      ],
    },
    {
      "target_name": "ts_layer_norm_gelu_avx2",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["src/layer_norm_gelu_avx2.cc"],
          "cflags_cc": ["-mavx2", "-mfma"],
        }],
      ],
    },
    {
      "target_name": "ts_int8_gemm_avx512",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["src/int8_gemm_avx512.cc"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mprefer-vector-width=512"],
        }],
      ],
    },
    {
      "target_name": "ts_int8_gemm_avx2",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["src/int8_gemm_avx2.cc"],
          "cflags_cc": ["-mavx2", "-mfma"],
        }],
      ],
    },
    {
      "target_name": "ts_conv_direct_avx512",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["src/conv_direct_avx512.cc"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mprefer-vector-width=512"],
        }],
      ],
    },
    {
      "target_name": "ts_conv_direct_avx2",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["src/conv_direct_avx2.cc"],
          "cflags_cc": ["-mavx2", "-mfma"],
        }],
      ],
    },
    {
      "target_name": "tensorslim",
      "dependencies": ["ts_isa_avx512", "ts_isa_avx2", "ts_layer_norm_gelu_avx512", "ts_layer_norm_gelu_avx2", "ts_int8_gemm_avx512", "ts_int8_gemm_avx2",
                       "ts_conv_direct_avx512", "ts_conv_direct_avx2"],
      "sources": [
        "src/addon.cc", "src/binding.cc", "src/alloc.cc", "src/cpu.cc", "src/threadpool.cc", "src/isa_generic.cc", "src/gemm.cc",
        "src/elementwise.cc", "src/reduce.cc", "src/copy.cc", "src/im2col.cc", "src/matmul.cc",
        "src/linear.cc", "src/softmax_cross_entropy.cc", "src/adam.cc", "src/layer_norm.cc", "src/gelu.cc",
        "src/layer_norm_gelu_generic.cc", "src/attention.cc", "src/embedding.cc", "src/csr_linear.cc",
        "src/roofline.cc", "src/pool_trace.cc",
        "src/max_pool2d.cc", "src/conv2d.cc", "src/conv_direct_generic.cc",
        "src/int8_linear.cc", "src/int8_gemm_generic.cc",
        "src/weight_only_linear.cc",
        "src/relu_backward.cc",
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "conditions": [
        ["target_arch!='x64'", { "defines": ["TS_NO_X86_PATHS"] }],
      ],
      "libraries": ["-lpthread"],
    },
  ],
  "conditions": [
    ["ts_with_gloo==1", {
      "targets": [
        {
          # Distributed training (src/distributed): Gloo process groups, its own addon so the main
          # one never depends on Gloo.
          "target_name": "tensorslim_dist",
          "sources": ["src/distributed/dist_addon.cc", "src/distributed/store_client.cc", "src/distributed/ring_allreduce.cc", "src/distributed/half_allreduce.cc"],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
          "libraries": ["-lgloo", "-pthread"],
        },
      ],
    }],
  ],
}
