//! TensorRT-RTX 1.x (`libtensorrt_rtx.so.1`): the same `nvinfer1` API with its own layouts, from
//! the headers in crate trtx-sys 0.9.1 (TensorRT-Headers/TRT-RTX-1.3 … 1.7). TensorRT-RTX is not
//! append-only across its whole major: 1.3 and 1.4 keep 10.x's deprecated methods (and 10.x's
//! plain ILogger), 1.5 dropped them as TensorRT 11 did (and made ILogger an IVersionedInterface).
//! So there are two layouts; within each, the slots called are identical in every header checked.
//! `getInferLibVersion` of TensorRT-RTX 1.7.1 is 10701 (NvInferVersion.h: TRT_MAJOR_RTX 1 …).

use super::*;

/// `apiv::VCudaEngine` of TensorRT-RTX 1.3–1.4: 10.x's minus `createExecutionContextWithoutDeviceMemory`
/// and `getDeviceMemorySize`, so every slot after `createExecutionContext` sits two lower.
#[repr(C)]
pub struct VCudaEngine13 {
    pub dtor_complete: Slot<FnDtor>,                          // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,                          // 1  ~VRoot (deleting)
    pub get_p_impl: Unused,                                   // 2  getPImpl
    pub get_nb_layers: Slot<FnGetI32>,                        // 3  getNbLayers
    pub serialize: Slot<FnGetPtr>,                            // 4  serialize
    pub create_execution_context: Unused,                     // 5
    pub is_refittable: Slot<FnGetBool>,                       // 6  isRefittable
    pub get_name: Slot<FnGetStr>,                             // 7  getName
    pub get_nb_optimization_profiles: Slot<FnGetI32>,         // 8  getNbOptimizationProfiles
    pub get_profile_tensor_values: Unused,                    // 9
    pub get_engine_capability: Unused,                        // 10
    pub set_error_recorder: Unused,                           // 11
    pub get_error_recorder: Unused,                           // 12
    pub has_implicit_batch_dimension: Unused,                 // 13
    pub get_tactic_sources: Unused,                           // 14
    pub get_profiling_verbosity: Unused,                      // 15
    pub create_engine_inspector: Unused,                      // 16
    pub get_tensor_shape: Slot<FnTensorDims>,                 // 17 getTensorShape
    pub get_tensor_data_type: Slot<FnTensorEnum>,             // 18 getTensorDataType
    pub get_tensor_location: Unused,                          // 19
    pub is_shape_inference_io: Unused,                        // 20
    pub get_tensor_io_mode: Slot<FnTensorEnum>,               // 21 getTensorIOMode
    pub get_tensor_bytes_per_component: Unused,               // 22
    pub get_tensor_components_per_element: Unused,            // 23
    pub get_tensor_format: Unused,                            // 24
    pub get_tensor_format_desc: Unused,                       // 25
    pub get_tensor_vectorized_dim: Unused,                    // 26
    pub get_profile_shape: Unused,                            // 27
    pub get_nb_io_tensors: Slot<FnGetI32>,                    // 28 getNbIOTensors
    pub get_io_tensor_name: Slot<FnStrAt>,                    // 29 getIOTensorName
    pub get_hardware_compatibility_level: Unused,             // 30
    pub get_nb_aux_streams: Unused,                           // 31
    pub get_tensor_bytes_per_component_v2: Unused,            // 32
    pub get_tensor_components_per_element_v2: Unused,         // 33
    pub get_tensor_format_v2: Unused,                         // 34
    pub get_tensor_format_desc_v2: Unused,                    // 35
    pub get_tensor_vectorized_dim_v2: Unused,                 // 36
    pub create_serialization_config: Slot<FnGetPtr>,          // 37 createSerializationConfig
    pub serialize_with_config: Slot<FnSerializeWithConfig>,   // 38 serializeWithConfig
    pub get_device_memory_size_for_profile: Unused,           // 39
    pub create_refitter: Unused,                              // 40
    pub set_weight_streaming_budget: Unused,                  // 41
    pub get_weight_streaming_budget: Unused,                  // 42
    pub get_minimum_weight_streaming_budget: Unused,          // 43
    pub get_streamable_weights_size: Unused,                  // 44
    pub is_debug_tensor: Unused,                              // 45
    pub set_weight_streaming_budget_v2: Unused,               // 46
    pub get_weight_streaming_budget_v2: Unused,               // 47
    pub get_weight_streaming_automatic_budget: Unused,        // 48
    pub get_weight_streaming_scratch_memory_size: Unused,     // 49
    pub get_device_memory_size_v2: Slot<FnGetI64>,            // 50 getDeviceMemorySizeV2
    pub get_device_memory_size_for_profile_v2: Unused,        // 51
    pub get_profile_tensor_values_v2: Unused,                 // 52
    pub create_execution_context_with_runtime_config: Unused, // 53
    pub create_runtime_config: Unused,                        // 54
    pub get_engine_stat: Slot<FnEngineStat>,                  // 55 getEngineStat(EngineStat)
}
pin!(VCudaEngine13, is_refittable, 6);
pin!(VCudaEngine13, get_tensor_shape, 17);
pin!(VCudaEngine13, get_nb_io_tensors, 28);
pin!(VCudaEngine13, create_serialization_config, 37);
pin!(VCudaEngine13, get_device_memory_size_v2, 50);
pin!(VCudaEngine13, get_engine_stat, 55);

/// TensorRT-RTX 1.3–1.4. `VRuntime` and `VRefitter` match 10.x's slot for slot up to the last
/// slot called (10.x's `v10::VRuntime` / `v10::VRefitter`).
pub const LAYOUT_1_3: Layout = Layout {
    abi: Abi::Rtx13,
    major: 1,
    minors: 3..=4,
    checked_minor: 4,
    // NV_TENSORRT_VERSION of the TensorRT-RTX 1.4 headers (1.4.0).
    header_version: 10400,
    logger: LoggerAbi::Plain,
    runtime: super::v10::LAYOUT.runtime,
    engine: EngineSlots {
        get_nb_layers: slot!(VCudaEngine13, get_nb_layers, since 3),
        serialize: slot!(VCudaEngine13, serialize, since 3),
        get_device_memory_size: None,
        is_refittable: slot!(VCudaEngine13, is_refittable, since 3),
        get_name: slot!(VCudaEngine13, get_name, since 3),
        get_nb_optimization_profiles: slot!(VCudaEngine13, get_nb_optimization_profiles, since 3),
        get_tensor_shape: slot!(VCudaEngine13, get_tensor_shape, since 3),
        get_tensor_data_type: slot!(VCudaEngine13, get_tensor_data_type, since 3),
        get_tensor_io_mode: slot!(VCudaEngine13, get_tensor_io_mode, since 3),
        get_nb_io_tensors: slot!(VCudaEngine13, get_nb_io_tensors, since 3),
        get_io_tensor_name: slot!(VCudaEngine13, get_io_tensor_name, since 3),
        create_serialization_config: slot!(VCudaEngine13, create_serialization_config, since 3),
        serialize_with_config: slot!(VCudaEngine13, serialize_with_config, since 3),
        get_device_memory_size_v2: slot!(VCudaEngine13, get_device_memory_size_v2, since 3),
        get_engine_stat: slot!(VCudaEngine13, get_engine_stat, since 3),
    },
    refitter: super::v10::LAYOUT.refitter,
    host_memory: HOST_MEMORY,
    serialization_config: SERIALIZATION_CONFIG,
    builder: super::builder::BUILDER_RTX13,
    enum_since: EnumSince {
        fp4: 0,
        e8m0: 0,
        include_refit: 0,
        engine_stat: 0,
    },
};

/// TensorRT-RTX 1.5 and later: the slots called are 11.x's (`v11::VRuntime`, `v11::VCudaEngine`,
/// `v11::VRefitter`), identical in the 1.5, 1.6 and 1.7 headers; RTX's own additions come after.
pub const LAYOUT_1_5: Layout = Layout {
    abi: Abi::Rtx15,
    major: 1,
    minors: 5..=u32::MAX,
    checked_minor: 7,
    // NV_TENSORRT_VERSION of the TensorRT-RTX 1.7 headers (1.7.1).
    header_version: 10701,
    logger: LoggerAbi::Versioned,
    runtime: super::v11::RUNTIME,
    engine: super::v11::ENGINE,
    refitter: super::v11::REFITTER,
    host_memory: HOST_MEMORY,
    serialization_config: SERIALIZATION_CONFIG,
    builder: super::builder::BUILDER_RTX15,
    enum_since: EnumSince {
        fp4: 0,
        e8m0: 0,
        include_refit: 0,
        engine_stat: 0,
    },
};
