// Written for trt-dump (not NVIDIA's file): the two CUDA handle types TensorRT's headers name, so
// tests/abi/check.cpp compiles without a CUDA toolkit. Only their size (one pointer) matters here.
#pragma once
typedef struct CUevent_st* cudaEvent_t;
typedef struct CUstream_st* cudaStream_t;
