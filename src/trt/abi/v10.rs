//! TensorRT 10.x: `apiv::V*` classes of NvInferImpl.h, transcribed from the 10.16 headers
//! (github.com/NVIDIA/TensorRT, tag v10.16, include/NvInferImpl.h) up to the last slot trt-dump
//! calls. "since" is the 10.x minor whose headers first have the slot, found by compiling
//! tests/abi/check.cpp against every tag v10.0.0 … v10.16 (tests/abi/check-v10.sh).

use super::*;

/// `apiv::VRuntime` (NvInferImpl.h, TensorRT 10.x). Also TensorRT-RTX 1.3–1.4's, slot for slot up
/// to `setMaxThreads`.
#[repr(C)]
pub struct VRuntime {
    pub dtor_complete: Slot<FnDtor>,                  // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,                  // 1  ~VRoot (deleting)
    pub get_p_impl: Unused,                           // 2  getPImpl
    pub deserialize_cuda_engine: Slot<FnDeserialize>, // 3  deserializeCudaEngine(void const*, size_t), 10.0
    pub deserialize_cuda_engine_stream: Unused, // 4  deserializeCudaEngine(IStreamReader&) (gone in 11)
    pub set_dla_core: Unused,                   // 5
    pub get_dla_core: Unused,                   // 6
    pub get_nb_dla_cores: Unused,               // 7
    pub set_gpu_allocator: Unused,              // 8
    pub set_error_recorder: Unused,             // 9
    pub get_error_recorder: Unused,             // 10
    pub get_logger: Unused,                     // 11
    pub set_max_threads: Slot<FnSetI32>,        // 12 setMaxThreads(int32_t), 10.0
}
pin!(VRuntime, deserialize_cuda_engine, 3);
pin!(VRuntime, set_max_threads, 12);

/// `apiv::VCudaEngine` (NvInferImpl.h, TensorRT 10.x).
#[repr(C)]
pub struct VCudaEngine {
    pub dtor_complete: Slot<FnDtor>,      // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,      // 1  ~VRoot (deleting)
    pub get_p_impl: Unused,               // 2  getPImpl
    pub get_nb_layers: Slot<FnGetI32>,    // 3  getNbLayers, 10.0
    pub serialize: Slot<FnGetPtr>,        // 4  serialize, 10.0
    pub create_execution_context: Unused, // 5
    pub create_execution_context_without_device_memory: Unused, // 6 (gone in 11)
    pub get_device_memory_size: Slot<FnGetUsize>, // 7  getDeviceMemorySize, 10.0 (gone in 11)
    pub is_refittable: Slot<FnGetBool>,   // 8  isRefittable, 10.0
    pub get_name: Slot<FnGetStr>,         // 9  getName, 10.0
    pub get_nb_optimization_profiles: Slot<FnGetI32>, // 10 getNbOptimizationProfiles, 10.0
    pub get_profile_tensor_values: Unused, // 11 (gone in 11)
    pub get_engine_capability: Unused,    // 12
    pub set_error_recorder: Unused,       // 13
    pub get_error_recorder: Unused,       // 14
    pub has_implicit_batch_dimension: Unused, // 15 (gone in 11)
    pub get_tactic_sources: Unused,       // 16
    pub get_profiling_verbosity: Unused,  // 17
    pub create_engine_inspector: Unused,  // 18
    pub get_tensor_shape: Slot<FnTensorDims>, // 19 getTensorShape, 10.0
    pub get_tensor_data_type: Slot<FnTensorEnum>, // 20 getTensorDataType, 10.0
    pub get_tensor_location: Unused,      // 21
    pub is_shape_inference_io: Unused,    // 22
    pub get_tensor_io_mode: Slot<FnTensorEnum>, // 23 getTensorIOMode, 10.0
    pub get_tensor_bytes_per_component: Unused, // 24
    pub get_tensor_components_per_element: Unused, // 25
    pub get_tensor_format: Unused,        // 26
    pub get_tensor_format_desc: Unused,   // 27
    pub get_tensor_vectorized_dim: Unused, // 28
    pub get_profile_shape: Unused,        // 29
    pub get_nb_io_tensors: Slot<FnGetI32>, // 30 getNbIOTensors, 10.0
    pub get_io_tensor_name: Slot<FnStrAt>, // 31 getIOTensorName, 10.0
    pub get_hardware_compatibility_level: Unused, // 32
    pub get_nb_aux_streams: Unused,       // 33
    pub get_tensor_bytes_per_component_v2: Unused, // 34
    pub get_tensor_components_per_element_v2: Unused, // 35
    pub get_tensor_format_v2: Unused,     // 36
    pub get_tensor_format_desc_v2: Unused, // 37
    pub get_tensor_vectorized_dim_v2: Unused, // 38
    pub create_serialization_config: Slot<FnGetPtr>, // 39 createSerializationConfig, 10.0
    pub serialize_with_config: Slot<FnSerializeWithConfig>, // 40 serializeWithConfig, 10.0
    pub get_device_memory_size_for_profile: Unused, // 41 (gone in 11)
    pub create_refitter: Unused,          // 42
    pub set_weight_streaming_budget: Unused, // 43 (gone in 11)
    pub get_weight_streaming_budget: Unused, // 44 (gone in 11)
    pub get_minimum_weight_streaming_budget: Unused, // 45 (gone in 11)
    pub get_streamable_weights_size: Unused, // 46
    pub is_debug_tensor: Unused,          // 47
    pub set_weight_streaming_budget_v2: Unused, // 48 10.1
    pub get_weight_streaming_budget_v2: Unused, // 49 10.1
    pub get_weight_streaming_automatic_budget: Unused, // 50 10.1
    pub get_weight_streaming_scratch_memory_size: Unused, // 51 10.1
    pub get_device_memory_size_v2: Slot<FnGetI64>, // 52 getDeviceMemorySizeV2, 10.1
    pub get_device_memory_size_for_profile_v2: Unused, // 53 10.1
    pub get_profile_tensor_values_v2: Unused, // 54 10.11
    pub create_execution_context_with_runtime_config: Unused, // 55 10.11
    pub create_runtime_config: Unused,    // 56 10.11
    pub get_engine_stat: Slot<FnEngineStat>, // 57 getEngineStat(EngineStat), 10.14
}
pin!(VCudaEngine, get_device_memory_size, 7);
pin!(VCudaEngine, is_refittable, 8);
pin!(VCudaEngine, get_tensor_shape, 19);
pin!(VCudaEngine, get_tensor_io_mode, 23);
pin!(VCudaEngine, get_nb_io_tensors, 30);
pin!(VCudaEngine, create_serialization_config, 39);
pin!(VCudaEngine, get_device_memory_size_v2, 52);
pin!(VCudaEngine, get_engine_stat, 57);

/// `apiv::VRefitter` (NvInferImpl.h, TensorRT 10.x). Also TensorRT-RTX 1.3–1.4's.
#[repr(C)]
pub struct VRefitter {
    pub dtor_complete: Slot<FnDtor>,                 // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,                 // 1  ~VRoot (deleting)
    pub get_p_impl: Unused,                          // 2  getPImpl
    pub set_weights: Unused,                         // 3
    pub refit_cuda_engine: Slot<FnAction>,           // 4  refitCudaEngine, 10.0
    pub get_missing: Unused,                         // 5
    pub get_all: Unused,                             // 6
    pub set_dynamic_range: Unused,                   // 7  (gone in 11)
    pub get_dynamic_range_min: Unused,               // 8  (gone in 11)
    pub get_dynamic_range_max: Unused,               // 9  (gone in 11)
    pub get_tensors_with_dynamic_range: Unused,      // 10 (gone in 11)
    pub set_error_recorder: Unused,                  // 11
    pub get_error_recorder: Unused,                  // 12
    pub set_named_weights: Slot<FnSetNamedWeights>, // 13 setNamedWeights(char const*, Weights), 10.0
    pub get_missing_weights: Slot<FnNames>,         // 14 getMissingWeights, 10.0
    pub get_all_weights: Slot<FnNames>,             // 15 getAllWeights, 10.0
    pub get_logger: Unused,                         // 16
    pub set_max_threads: Slot<FnSetI32>,            // 17 setMaxThreads, 10.0
    pub get_max_threads: Unused,                    // 18
    pub set_named_weights_with_location: Unused,    // 19
    pub get_named_weights: Slot<FnNamedWeights>,    // 20 getNamedWeights, 10.0
    pub get_weights_location: Unused,               // 21
    pub unset_named_weights: Slot<FnByName>,        // 22 unsetNamedWeights, 10.0
    pub set_weights_validation: Slot<FnSetBool>,    // 23 setWeightsValidation, 10.0
    pub get_weights_validation: Unused,             // 24
    pub refit_cuda_engine_async: Unused,            // 25
    pub get_weights_prototype: Slot<FnNamedWeights>, // 26 getWeightsPrototype, 10.0
}
pin!(VRefitter, refit_cuda_engine, 4);
pin!(VRefitter, set_named_weights, 13);
pin!(VRefitter, get_all_weights, 15);
pin!(VRefitter, set_max_threads, 17);
pin!(VRefitter, get_weights_prototype, 26);

pub const LAYOUT: Layout = Layout {
    abi: Abi::Trt10,
    major: 10,
    minors: 0..=u32::MAX,
    checked_minor: 16,
    // NV_TENSORRT_VERSION of the v10.16 headers (10.16.0).
    header_version: 101600,
    logger: LoggerAbi::Plain,
    runtime: RuntimeSlots {
        deserialize_cuda_engine: slot!(VRuntime, deserialize_cuda_engine, since 0),
        set_max_threads: slot!(VRuntime, set_max_threads, since 0),
    },
    engine: EngineSlots {
        get_nb_layers: slot!(VCudaEngine, get_nb_layers, since 0),
        serialize: slot!(VCudaEngine, serialize, since 0),
        get_device_memory_size: Some(slot!(VCudaEngine, get_device_memory_size, since 0)),
        is_refittable: slot!(VCudaEngine, is_refittable, since 0),
        get_name: slot!(VCudaEngine, get_name, since 0),
        get_nb_optimization_profiles: slot!(VCudaEngine, get_nb_optimization_profiles, since 0),
        get_tensor_shape: slot!(VCudaEngine, get_tensor_shape, since 0),
        get_tensor_data_type: slot!(VCudaEngine, get_tensor_data_type, since 0),
        get_tensor_io_mode: slot!(VCudaEngine, get_tensor_io_mode, since 0),
        get_nb_io_tensors: slot!(VCudaEngine, get_nb_io_tensors, since 0),
        get_io_tensor_name: slot!(VCudaEngine, get_io_tensor_name, since 0),
        create_serialization_config: slot!(VCudaEngine, create_serialization_config, since 0),
        serialize_with_config: slot!(VCudaEngine, serialize_with_config, since 0),
        get_device_memory_size_v2: slot!(VCudaEngine, get_device_memory_size_v2, since 1),
        get_engine_stat: slot!(VCudaEngine, get_engine_stat, since 14),
    },
    refitter: RefitterSlots {
        refit_cuda_engine: slot!(VRefitter, refit_cuda_engine, since 0),
        set_named_weights: slot!(VRefitter, set_named_weights, since 0),
        get_missing_weights: slot!(VRefitter, get_missing_weights, since 0),
        get_all_weights: slot!(VRefitter, get_all_weights, since 0),
        set_max_threads: slot!(VRefitter, set_max_threads, since 0),
        get_named_weights: slot!(VRefitter, get_named_weights, since 0),
        unset_named_weights: slot!(VRefitter, unset_named_weights, since 0),
        set_weights_validation: slot!(VRefitter, set_weights_validation, since 0),
        get_weights_prototype: slot!(VRefitter, get_weights_prototype, since 0),
    },
    host_memory: HOST_MEMORY,
    serialization_config: SERIALIZATION_CONFIG,
    builder: super::builder::BUILDER_10,
    enum_since: EnumSince {
        fp4: 8,
        e8m0: 12,
        include_refit: 14,
        engine_stat: 14,
    },
};
