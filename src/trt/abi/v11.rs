//! TensorRT 11.x: `apiv::V*` classes of NvInferImpl.h, transcribed from the 11.4 headers (crate
//! trtx-sys 0.9.1, TensorRT-Headers/TRT-Enterprise-11.4) up to the last slot trt-dump calls.
//! 11.x dropped 10.x's deprecated methods, so every later slot moved. Only 11.4's headers were
//! available: the slots are taken to exist since 11.0 (none of them carries an "Added in 11.x"
//! comment), and a library older than 11.4 gets a note saying so.
//! TensorRT-RTX 1.5+ shares these slots (checked against its 1.5, 1.6 and 1.7 headers).

use super::*;

/// `apiv::VRuntime` (NvInferImpl.h, TensorRT 11.x).
#[repr(C)]
pub struct VRuntime {
    pub dtor_complete: Slot<FnDtor>,                  // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,                  // 1  ~VRoot (deleting)
    pub get_p_impl: Unused,                           // 2  getPImpl
    pub deserialize_cuda_engine: Slot<FnDeserialize>, // 3  deserializeCudaEngine(void const*, size_t)
    pub set_dla_core: Unused,                         // 4
    pub get_dla_core: Unused,                         // 5
    pub get_nb_dla_cores: Unused,                     // 6
    pub set_gpu_allocator: Unused,                    // 7
    pub set_error_recorder: Unused,                   // 8
    pub get_error_recorder: Unused,                   // 9
    pub get_logger: Unused,                           // 10
    pub set_max_threads: Slot<FnSetI32>,              // 11 setMaxThreads(int32_t)
}
pin!(VRuntime, deserialize_cuda_engine, 3);
pin!(VRuntime, set_max_threads, 11);

/// `apiv::VCudaEngine` (NvInferImpl.h, TensorRT 11.x).
#[repr(C)]
pub struct VCudaEngine {
    pub dtor_complete: Slot<FnDtor>,                          // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,                          // 1  ~VRoot (deleting)
    pub get_p_impl: Unused,                                   // 2  getPImpl
    pub get_nb_layers: Slot<FnGetI32>,                        // 3  getNbLayers
    pub serialize: Slot<FnGetPtr>,                            // 4  serialize
    pub create_execution_context: Unused,                     // 5
    pub is_refittable: Slot<FnGetBool>,                       // 6  isRefittable
    pub get_name: Slot<FnGetStr>,                             // 7  getName
    pub get_nb_optimization_profiles: Slot<FnGetI32>,         // 8  getNbOptimizationProfiles
    pub get_engine_capability: Unused,                        // 9
    pub set_error_recorder: Unused,                           // 10
    pub get_error_recorder: Unused,                           // 11
    pub get_tactic_sources: Unused,                           // 12
    pub get_profiling_verbosity: Unused,                      // 13
    pub create_engine_inspector: Unused,                      // 14
    pub get_tensor_shape: Slot<FnTensorDims>,                 // 15 getTensorShape
    pub get_tensor_data_type: Slot<FnTensorEnum>,             // 16 getTensorDataType
    pub get_tensor_location: Unused,                          // 17
    pub is_shape_inference_io: Unused,                        // 18
    pub get_tensor_io_mode: Slot<FnTensorEnum>,               // 19 getTensorIOMode
    pub get_tensor_bytes_per_component: Unused,               // 20
    pub get_tensor_components_per_element: Unused,            // 21
    pub get_tensor_format: Unused,                            // 22
    pub get_tensor_format_desc: Unused,                       // 23
    pub get_tensor_vectorized_dim: Unused,                    // 24
    pub get_profile_shape: Unused,                            // 25
    pub get_nb_io_tensors: Slot<FnGetI32>,                    // 26 getNbIOTensors
    pub get_io_tensor_name: Slot<FnStrAt>,                    // 27 getIOTensorName
    pub get_hardware_compatibility_level: Unused,             // 28
    pub get_nb_aux_streams: Unused,                           // 29
    pub get_tensor_bytes_per_component_v2: Unused,            // 30
    pub get_tensor_components_per_element_v2: Unused,         // 31
    pub get_tensor_format_v2: Unused,                         // 32
    pub get_tensor_format_desc_v2: Unused,                    // 33
    pub get_tensor_vectorized_dim_v2: Unused,                 // 34
    pub create_serialization_config: Slot<FnGetPtr>,          // 35 createSerializationConfig
    pub serialize_with_config: Slot<FnSerializeWithConfig>,   // 36 serializeWithConfig
    pub create_refitter: Unused,                              // 37
    pub get_streamable_weights_size: Unused,                  // 38
    pub is_debug_tensor: Unused,                              // 39
    pub set_weight_streaming_budget_v2: Unused,               // 40 ("Added in TensorRT 10.1")
    pub get_weight_streaming_budget_v2: Unused,               // 41
    pub get_weight_streaming_automatic_budget: Unused,        // 42
    pub get_weight_streaming_scratch_memory_size: Unused,     // 43
    pub get_device_memory_size_v2: Slot<FnGetI64>,            // 44 getDeviceMemorySizeV2
    pub get_device_memory_size_for_profile_v2: Unused,        // 45
    pub get_profile_tensor_values_v2: Unused,                 // 46 ("Added in TensorRT 10.11")
    pub create_execution_context_with_runtime_config: Unused, // 47
    pub create_runtime_config: Unused,                        // 48
    pub get_engine_stat: Slot<FnEngineStat>,                  // 49 getEngineStat(EngineStat)
}
pin!(VCudaEngine, is_refittable, 6);
pin!(VCudaEngine, get_tensor_shape, 15);
pin!(VCudaEngine, get_tensor_io_mode, 19);
pin!(VCudaEngine, get_nb_io_tensors, 26);
pin!(VCudaEngine, create_serialization_config, 35);
pin!(VCudaEngine, get_device_memory_size_v2, 44);
pin!(VCudaEngine, get_engine_stat, 49);

/// `apiv::VRefitter` (NvInferImpl.h, TensorRT 11.x): 10.x's four dynamic-range methods are gone.
#[repr(C)]
pub struct VRefitter {
    pub dtor_complete: Slot<FnDtor>,                 // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,                 // 1  ~VRoot (deleting)
    pub get_p_impl: Unused,                          // 2  getPImpl
    pub set_weights: Unused,                         // 3
    pub refit_cuda_engine: Slot<FnAction>,           // 4  refitCudaEngine
    pub get_missing: Unused,                         // 5
    pub get_all: Unused,                             // 6
    pub set_error_recorder: Unused,                  // 7
    pub get_error_recorder: Unused,                  // 8
    pub set_named_weights: Slot<FnSetNamedWeights>,  // 9  setNamedWeights(char const*, Weights)
    pub get_missing_weights: Slot<FnNames>,          // 10 getMissingWeights
    pub get_all_weights: Slot<FnNames>,              // 11 getAllWeights
    pub get_logger: Unused,                          // 12
    pub set_max_threads: Slot<FnSetI32>,             // 13 setMaxThreads
    pub get_max_threads: Unused,                     // 14
    pub set_named_weights_with_location: Unused,     // 15
    pub get_named_weights: Slot<FnNamedWeights>,     // 16 getNamedWeights
    pub get_weights_location: Unused,                // 17
    pub unset_named_weights: Slot<FnByName>,         // 18 unsetNamedWeights
    pub set_weights_validation: Slot<FnSetBool>,     // 19 setWeightsValidation
    pub get_weights_validation: Unused,              // 20
    pub refit_cuda_engine_async: Unused,             // 21
    pub get_weights_prototype: Slot<FnNamedWeights>, // 22 getWeightsPrototype
}
pin!(VRefitter, refit_cuda_engine, 4);
pin!(VRefitter, set_named_weights, 9);
pin!(VRefitter, get_all_weights, 11);
pin!(VRefitter, set_max_threads, 13);
pin!(VRefitter, get_weights_prototype, 22);

pub const RUNTIME: RuntimeSlots = RuntimeSlots {
    deserialize_cuda_engine: slot!(VRuntime, deserialize_cuda_engine, since 0),
    set_max_threads: slot!(VRuntime, set_max_threads, since 0),
};

pub const ENGINE: EngineSlots = EngineSlots {
    get_nb_layers: slot!(VCudaEngine, get_nb_layers, since 0),
    serialize: slot!(VCudaEngine, serialize, since 0),
    get_device_memory_size: None,
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
    get_device_memory_size_v2: slot!(VCudaEngine, get_device_memory_size_v2, since 0),
    get_engine_stat: slot!(VCudaEngine, get_engine_stat, since 0),
};

pub const REFITTER: RefitterSlots = RefitterSlots {
    refit_cuda_engine: slot!(VRefitter, refit_cuda_engine, since 0),
    set_named_weights: slot!(VRefitter, set_named_weights, since 0),
    get_missing_weights: slot!(VRefitter, get_missing_weights, since 0),
    get_all_weights: slot!(VRefitter, get_all_weights, since 0),
    set_max_threads: slot!(VRefitter, set_max_threads, since 0),
    get_named_weights: slot!(VRefitter, get_named_weights, since 0),
    unset_named_weights: slot!(VRefitter, unset_named_weights, since 0),
    set_weights_validation: slot!(VRefitter, set_weights_validation, since 0),
    get_weights_prototype: slot!(VRefitter, get_weights_prototype, since 0),
};

pub const LAYOUT: Layout = Layout {
    abi: Abi::Trt11,
    major: 11,
    minors: 0..=u32::MAX,
    checked_minor: 4,
    // NV_TENSORRT_VERSION of the 11.4 headers (11.4.0).
    header_version: 110400,
    logger: LoggerAbi::Versioned,
    runtime: RUNTIME,
    engine: ENGINE,
    refitter: REFITTER,
    host_memory: HOST_MEMORY,
    serialization_config: SERIALIZATION_CONFIG,
    builder: super::builder::BUILDER_11,
    enum_since: EnumSince {
        fp4: 0,
        e8m0: 0,
        include_refit: 0,
        engine_stat: 0,
    },
};
