// Written for trt-dump (not NVIDIA's file): the CUDA handle types TensorRT's headers name, so the
// stand-in compiles without a CUDA toolkit. Only their size (one pointer) matters.
#pragma once
typedef struct CUevent_st* cudaEvent_t;
typedef struct CUstream_st* cudaStream_t;
