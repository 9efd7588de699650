//! The builder side: `apiv::VBuilder`, `apiv::VBuilderConfig` (NvInferImpl.h) and the ONNX
//! parser's `nvonnxparser::IParser` / `IParserError` (NvOnnxParser.h), up to the last slot the
//! `selftest` command calls. `INetworkDefinition` is only created, handed to the parser and the
//! builder, and released: no `VNetworkDefinition` slot is called.
//!
//! Two families, as for the runtime: TensorRT 10.x and TensorRT-RTX 1.3–1.4 keep
//! `platformHasFastFp16`/`platformHasFastInt8`/`platformHasTf32` in `VBuilder` and
//! `setInt8Calibrator`/`getInt8Calibrator` in 10.x's `VBuilderConfig`; TensorRT 11.x and
//! TensorRT-RTX 1.5+ dropped them. `BuilderFlag::kSTRIP_PLAN` is 19 in the former and 18 in the
//! latter (kFP16 … went away); `NetworkDefinitionCreationFlag::kSTRONGLY_TYPED` is bit 1 in the
//! former and a deprecated 0 in the latter (networks are always strongly typed; bit 1 there is
//! kPREFER_JIT_PYTHON_PLUGINS).
//!
//! The parser is a plain C++ interface (no `mImpl`): its own vtable holds its methods in
//! declaration order, then its destructor; 10.x and RTX 1.3–1.4 keep two deprecated methods.

use super::*;

pub type FnCreateNetwork = unsafe extern "C" fn(this: *mut c_void, flags: u32) -> *mut c_void;
/// `IHostMemory* buildSerializedNetwork(INetworkDefinition&, IBuilderConfig&)`: references are
/// pointers in the ABI.
pub type FnBuild = unsafe extern "C" fn(
    this: *mut c_void,
    network: *mut c_void,
    config: *mut c_void,
) -> *mut c_void;
/// `void setFlag(BuilderFlag)`.
pub type FnSetFlagVoid = unsafe extern "C" fn(this: *mut c_void, flag: i32);
/// `bool parse(void const*, size_t, char const* model_path)`.
pub type FnParse = unsafe extern "C" fn(
    this: *mut c_void,
    model: *const c_void,
    size: usize,
    path: *const c_char,
) -> u8;
/// `IParserError const* getError(int) const`.
pub type FnPtrAt = unsafe extern "C" fn(this: *mut c_void, index: i32) -> *mut c_void;
/// `void clearErrors()`.
pub type FnVoid = unsafe extern "C" fn(this: *mut c_void);

/// `apiv::VBuilder`, TensorRT 10.x (v10.0.0 … v10.16) and TensorRT-RTX 1.3–1.4.
#[repr(C)]
pub struct VBuilder10 {
    pub dtor_complete: Slot<FnDtor>,              // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,              // 1  ~VRoot (deleting)
    pub platform_has_fast_fp16: Unused,           // 2
    pub platform_has_fast_int8: Unused,           // 3
    pub get_max_dla_batch_size: Unused,           // 4
    pub get_nb_dla_cores: Unused,                 // 5
    pub set_gpu_allocator: Unused,                // 6
    pub create_builder_config: Slot<FnGetPtr>,    // 7  createBuilderConfig()
    pub create_network_v2: Slot<FnCreateNetwork>, // 8  createNetworkV2(NetworkDefinitionCreationFlags)
    pub create_optimization_profile: Unused,      // 9
    pub set_error_recorder: Unused,               // 10
    pub get_error_recorder: Unused,               // 11
    pub reset: Unused,                            // 12
    pub platform_has_tf32: Unused,                // 13
    pub build_serialized_network: Slot<FnBuild>, // 14 buildSerializedNetwork(INetworkDefinition&, IBuilderConfig&)
}
pin!(VBuilder10, create_builder_config, 7);
pin!(VBuilder10, create_network_v2, 8);
pin!(VBuilder10, build_serialized_network, 14);

/// `apiv::VBuilder`, TensorRT 11.x (11.4) and TensorRT-RTX 1.5–1.7.
#[repr(C)]
pub struct VBuilder11 {
    pub dtor_complete: Slot<FnDtor>,              // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,              // 1  ~VRoot (deleting)
    pub get_max_dla_batch_size: Unused,           // 2
    pub get_nb_dla_cores: Unused,                 // 3
    pub set_gpu_allocator: Unused,                // 4
    pub create_builder_config: Slot<FnGetPtr>,    // 5  createBuilderConfig()
    pub create_network_v2: Slot<FnCreateNetwork>, // 6  createNetworkV2(NetworkDefinitionCreationFlags)
    pub create_optimization_profile: Unused,      // 7
    pub set_error_recorder: Unused,               // 8
    pub get_error_recorder: Unused,               // 9
    pub reset: Unused,                            // 10
    pub build_serialized_network: Slot<FnBuild>, // 11 buildSerializedNetwork(INetworkDefinition&, IBuilderConfig&)
}
pin!(VBuilder11, create_builder_config, 5);
pin!(VBuilder11, create_network_v2, 6);
pin!(VBuilder11, build_serialized_network, 11);

/// `apiv::VBuilderConfig`, TensorRT 10.x (with the INT8 calibrator accessors).
#[repr(C)]
pub struct VBuilderConfig10 {
    pub dtor_complete: Slot<FnDtor>,       // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,       // 1  ~VRoot (deleting)
    pub set_avg_timing_iterations: Unused, // 2
    pub get_avg_timing_iterations: Unused, // 3
    pub set_engine_capability: Unused,     // 4
    pub get_engine_capability: Unused,     // 5
    pub set_int8_calibrator: Unused,       // 6
    pub get_int8_calibrator: Unused,       // 7
    pub set_flags: Unused,                 // 8
    pub get_flags: Unused,                 // 9
    pub clear_flag: Unused,                // 10
    pub set_flag: Slot<FnSetFlagVoid>,     // 11 setFlag(BuilderFlag)
    pub get_flag: Slot<FnFlag>,            // 12 getFlag(BuilderFlag) const
}
pin!(VBuilderConfig10, set_flag, 11);
pin!(VBuilderConfig10, get_flag, 12);

/// `apiv::VBuilderConfig`, TensorRT 11.x and every TensorRT-RTX 1.3–1.7 (no calibrator).
#[repr(C)]
pub struct VBuilderConfig11 {
    pub dtor_complete: Slot<FnDtor>,       // 0  ~VRoot
    pub dtor_deleting: Slot<FnDtor>,       // 1  ~VRoot (deleting)
    pub set_avg_timing_iterations: Unused, // 2
    pub get_avg_timing_iterations: Unused, // 3
    pub set_engine_capability: Unused,     // 4
    pub get_engine_capability: Unused,     // 5
    pub set_flags: Unused,                 // 6
    pub get_flags: Unused,                 // 7
    pub clear_flag: Unused,                // 8
    pub set_flag: Slot<FnSetFlagVoid>,     // 9  setFlag(BuilderFlag)
    pub get_flag: Slot<FnFlag>,            // 10 getFlag(BuilderFlag) const
}
pin!(VBuilderConfig11, set_flag, 9);
pin!(VBuilderConfig11, get_flag, 10);

/// `nvonnxparser::IParser` (its own vtable; no mImpl) of TensorRT 10.x (include/NvOnnxParser.h
/// of v10.14 … v10.16; earlier tags keep the parser in a submodule) and TensorRT-RTX 1.3–1.4: the
/// deprecated `supportsModel` and `parseWithWeightDescriptors` still sit before `supportsOperator`.
#[repr(C)]
pub struct VParser10 {
    pub parse: Slot<FnParse>,    // 0  parse(void const*, size_t, char const*)
    pub parse_from_file: Unused, // 1
    pub supports_model: Unused,  // 2  (deprecated)
    pub parse_with_weight_descriptors: Unused, // 3  (deprecated)
    pub supports_operator: Unused, // 4
    pub get_nb_errors: Slot<FnGetI32>, // 5  getNbErrors() const
    pub get_error: Slot<FnPtrAt>, // 6  getError(int) const
    pub clear_errors: Slot<FnVoid>, // 7  clearErrors()
    pub dtor_complete: Slot<FnDtor>, // 8  ~IParser
    pub dtor_deleting: Slot<FnDtor>, // 9  ~IParser (deleting)
}
pin!(VParser10, get_nb_errors, 5);
pin!(VParser10, dtor_deleting, 9);

/// `nvonnxparser::IParser` of TensorRT 11.4 and TensorRT-RTX 1.5–1.7 (the deprecated two gone).
#[repr(C)]
pub struct VParser11 {
    pub parse: Slot<FnParse>,      // 0  parse(void const*, size_t, char const*)
    pub parse_from_file: Unused,   // 1
    pub supports_operator: Unused, // 2
    pub get_nb_errors: Slot<FnGetI32>, // 3  getNbErrors() const
    pub get_error: Slot<FnPtrAt>,  // 4  getError(int) const
    pub clear_errors: Slot<FnVoid>, // 5  clearErrors()
    pub dtor_complete: Slot<FnDtor>, // 6  ~IParser
    pub dtor_deleting: Slot<FnDtor>, // 7  ~IParser (deleting)
}
pin!(VParser11, get_nb_errors, 3);
pin!(VParser11, dtor_deleting, 7);

/// `nvonnxparser::IParserError` (its own vtable).
#[repr(C)]
pub struct VParserError {
    pub code: Slot<FnGetI32>, // 0  code() const
    pub desc: Slot<FnGetStr>, // 1  desc() const
    pub file: Slot<FnGetStr>, // 2
    pub line: Slot<FnGetI32>, // 3
    pub func: Slot<FnGetStr>, // 4
    pub node: Slot<FnGetI32>, // 5  node() const
}
pin!(VParserError, desc, 1);
pin!(VParserError, node, 5);

#[derive(Clone, Copy, Debug)]
pub struct BuilderSlots {
    pub create_builder_config: SlotIndex<FnGetPtr>,
    pub create_network_v2: SlotIndex<FnCreateNetwork>,
    pub build_serialized_network: SlotIndex<FnBuild>,
    pub config_set_flag: SlotIndex<FnSetFlagVoid>,
    pub config_get_flag: SlotIndex<FnFlag>,
    /// `BuilderFlag::kREFIT`.
    pub flag_refit: i32,
    /// `BuilderFlag::kSTRIP_PLAN`: 19 in 10.x / RTX 1.3–1.4, 18 in 11.x / RTX 1.5+.
    pub flag_strip_plan: i32,
    /// `NetworkDefinitionCreationFlag::kSTRONGLY_TYPED`: bit 1 in 10.x / RTX 1.3–1.4; 0 and
    /// deprecated in 11.x / RTX 1.5+, where every network is strongly typed and bit 1 means
    /// kPREFER_JIT_PYTHON_PLUGINS.
    pub strongly_typed_flag: i32,
    /// The `createNetworkV2` flags passed: strongly typed (in 11.x / RTX 1.5+, nothing to ask).
    pub network_flags: u32,
    pub parser: ParserSlots,
    /// `NV_ONNX_PARSER_VERSION` passed to `createNvOnnxParser_INTERNAL`: the oldest of the layout's
    /// headers (0.1.0 in 10.x and RTX 1.3–1.5, 0.2.0 in 11.4, RTX 1.6–1.7).
    pub parser_version: i32,
    /// File names of the ONNX parser library, tried next to the TensorRT library, then by soname.
    pub parser_names: &'static [&'static str],
}

#[derive(Clone, Copy, Debug)]
pub struct ParserSlots {
    pub parse: SlotIndex<FnParse>,
    pub get_nb_errors: SlotIndex<FnGetI32>,
    pub get_error: SlotIndex<FnPtrAt>,
    pub clear_errors: SlotIndex<FnVoid>,
    pub dtor_deleting: SlotIndex<FnDtor>,
    pub error_desc: SlotIndex<FnGetStr>,
    pub error_node: SlotIndex<FnGetI32>,
}

/// 10.x: NvOnnxParser.h is in include/ from tag v10.14 on (earlier tags keep the parser in a
/// submodule), so the headers prove these slots for 10.14+ only; older 10.x parsers are called the same
/// way (not gated).
pub const PARSER_10: ParserSlots = ParserSlots {
    parse: slot!(VParser10, parse, since 14),
    get_nb_errors: slot!(VParser10, get_nb_errors, since 14),
    get_error: slot!(VParser10, get_error, since 14),
    clear_errors: slot!(VParser10, clear_errors, since 14),
    dtor_deleting: slot!(VParser10, dtor_deleting, since 14),
    error_desc: slot!(VParserError, desc, since 14),
    error_node: slot!(VParserError, node, since 14),
};

/// TensorRT-RTX 1.3–1.4: 10.x's parser slots.
pub const PARSER_RTX13: ParserSlots = ParserSlots {
    parse: slot!(VParser10, parse, since 0),
    get_nb_errors: slot!(VParser10, get_nb_errors, since 0),
    get_error: slot!(VParser10, get_error, since 0),
    clear_errors: slot!(VParser10, clear_errors, since 0),
    dtor_deleting: slot!(VParser10, dtor_deleting, since 0),
    error_desc: slot!(VParserError, desc, since 0),
    error_node: slot!(VParserError, node, since 0),
};

pub const PARSER_11: ParserSlots = ParserSlots {
    parse: slot!(VParser11, parse, since 0),
    get_nb_errors: slot!(VParser11, get_nb_errors, since 0),
    get_error: slot!(VParser11, get_error, since 0),
    clear_errors: slot!(VParser11, clear_errors, since 0),
    dtor_deleting: slot!(VParser11, dtor_deleting, since 0),
    error_desc: slot!(VParserError, desc, since 0),
    error_node: slot!(VParserError, node, since 0),
};

pub const BUILDER_10: BuilderSlots = BuilderSlots {
    create_builder_config: slot!(VBuilder10, create_builder_config, since 0),
    create_network_v2: slot!(VBuilder10, create_network_v2, since 0),
    build_serialized_network: slot!(VBuilder10, build_serialized_network, since 0),
    config_set_flag: slot!(VBuilderConfig10, set_flag, since 0),
    config_get_flag: slot!(VBuilderConfig10, get_flag, since 0),
    flag_refit: 4,
    flag_strip_plan: 19,
    strongly_typed_flag: 1,
    network_flags: 1 << 1,
    parser: PARSER_10,
    parser_version: 100,
    parser_names: &["libnvonnxparser.so.10"],
};

/// TensorRT-RTX 1.3–1.4: 10.x's `VBuilder`, 11.x's `VBuilderConfig`, 10.x's flag values.
pub const BUILDER_RTX13: BuilderSlots = BuilderSlots {
    create_builder_config: slot!(VBuilder10, create_builder_config, since 3),
    create_network_v2: slot!(VBuilder10, create_network_v2, since 3),
    build_serialized_network: slot!(VBuilder10, build_serialized_network, since 3),
    config_set_flag: slot!(VBuilderConfig11, set_flag, since 3),
    config_get_flag: slot!(VBuilderConfig11, get_flag, since 3),
    flag_refit: 4,
    flag_strip_plan: 19,
    strongly_typed_flag: 1,
    network_flags: 1 << 1,
    parser: PARSER_RTX13,
    parser_version: 100,
    parser_names: &["libtensorrt_onnxparser_rtx.so.1"],
};

pub const BUILDER_11: BuilderSlots = BuilderSlots {
    create_builder_config: slot!(VBuilder11, create_builder_config, since 0),
    create_network_v2: slot!(VBuilder11, create_network_v2, since 0),
    build_serialized_network: slot!(VBuilder11, build_serialized_network, since 0),
    config_set_flag: slot!(VBuilderConfig11, set_flag, since 0),
    config_get_flag: slot!(VBuilderConfig11, get_flag, since 0),
    flag_refit: 4,
    flag_strip_plan: 18,
    strongly_typed_flag: 0,
    network_flags: 0,
    parser: PARSER_11,
    parser_version: 200,
    parser_names: &["libnvonnxparser.so.11"],
};

pub const BUILDER_RTX15: BuilderSlots = BuilderSlots {
    parser_version: 100,
    parser_names: &["libtensorrt_onnxparser_rtx.so.1"],
    ..BUILDER_11
};
