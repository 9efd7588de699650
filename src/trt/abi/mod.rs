//! TensorRT's C++ ABI as trt-dump uses it (Linux x86-64, Itanium C++ ABI), one table per layout.
//!
//! A public TensorRT object (`IRuntime`, `ICudaEngine`, `IRefitter`, `IHostMemory`,
//! `ISerializationConfig`) is `{ vptr, mImpl }`: its own vtable holds only its destructor, and
//! every method is an inline forwarder to `mImpl`, an `apiv::V*` object whose vtable starts with
//! `~VRoot` (slots 0 and 1) followed by the class's virtual methods in declaration order. So a call
//! is: read `mImpl` (word 1 of the object), read its vtable, take slot N, call it with `mImpl` as
//! `this`. The slot numbers differ between TensorRT 10.x, 11.x and TensorRT-RTX, and are
//! append-only within each layout: [`Layout`] holds them, with the minor version that added each.
//!
//! Each `abi/*.rs` transcribes the `apiv::V*` classes of its headers into `#[repr(C)]` structs (one
//! field per vtable slot, header order, up to the last slot called) and takes slot numbers from
//! `offset_of!`, pinned by `const` assertions to the numbers counted by hand. The structs are only
//! ever measured, never overlaid on a real vtable (an older library's vtable may be shorter).
//! `tests/trt_abi.rs` compiles `tests/abi/check.cpp` against NVIDIA's headers and compares what
//! the C++ compiler says with [`Layout::facts`]; docs/binding.md says how 10.x was checked.

use std::ffi::{c_char, c_void};
use std::fmt;
use std::mem::{offset_of, size_of};

use crate::dtype::DataType;

pub mod builder;
pub mod rtx1;
pub mod v10;
pub mod v11;

/// `nvinfer1::Weights` (NvInferRuntime.h): 24 bytes, so it is passed on the stack and returned
/// through a hidden pointer, exactly as this `#[repr(C)]` struct is.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Weights {
    /// `DataType`, an `int32_t` enum.
    pub dtype: i32,
    pub values: *const c_void,
    pub count: i64,
}

/// `nvinfer1::Dims64`, which `Dims` aliases since TensorRT 10.0 (NvInferRuntimeBase.h): 72 bytes,
/// returned through a hidden pointer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub nb_dims: i32,
    pub d: [i64; DIMS_MAX],
}

pub const DIMS_MAX: usize = 8;

/// `nvinfer1::InterfaceInfo` (TensorRT 11, TensorRT-RTX 1.5+), returned by the logger's
/// `getInterfaceInfo`: 16 bytes, so it comes back in two registers, as this struct does.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct InterfaceInfo {
    pub kind: *const c_char,
    pub major: i32,
    pub minor: i32,
}

const _: () = assert!(size_of::<Weights>() == 24);
const _: () = assert!(offset_of!(Weights, values) == 8 && offset_of!(Weights, count) == 16);
const _: () = assert!(size_of::<Dims>() == 72 && offset_of!(Dims, d) == 8);
const _: () = assert!(size_of::<InterfaceInfo>() == 16 && offset_of!(InterfaceInfo, minor) == 12);

/// The public object's `mImpl` is its second word.
pub const IMPL_WORD: usize = 1;
/// Slot of the deleting destructor in a public object's own vtable (`delete p`).
pub const DELETING_DTOR_SLOT: usize = 1;

/// `ILogger::Severity`.
pub mod severity {
    pub const INTERNAL_ERROR: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const WARNING: i32 = 2;
    pub const INFO: i32 = 3;
    pub const VERBOSE: i32 = 4;
}

/// `TensorIOMode`.
pub mod io_mode {
    pub const NONE: i32 = 0;
    pub const INPUT: i32 = 1;
    pub const OUTPUT: i32 = 2;
}

/// `SerializationFlag` (bit numbers of `SerializationFlags`, a `uint32_t`).
pub mod serialization_flag {
    pub const EXCLUDE_WEIGHTS: i32 = 0;
    pub const EXCLUDE_LEAN_RUNTIME: i32 = 1;
    /// TensorRT 10.14+, 11.x, TensorRT-RTX 1.3+.
    pub const INCLUDE_REFIT: i32 = 2;
}

/// `EngineStat` (TensorRT 10.14+, 11.x, TensorRT-RTX 1.3+).
pub mod engine_stat {
    pub const TOTAL_WEIGHTS_SIZE: i32 = 0;
    pub const STRIPPED_WEIGHTS_SIZE: i32 = 1;
}

/// `APILanguage::kCPP`, what a C++-written `IVersionedInterface` reports.
pub const API_LANGUAGE_CPP: i32 = 0;

// The signatures of the methods called. They are the same in every layout; check.cpp looks each
// slot up with the matching C++ signature, so a change of signature fails like a moved slot. C++
// `bool` results are read as `u8` (0 or 1 in the low byte) so no Rust `bool` is ever made from
// foreign bits.
pub type FnDtor = unsafe extern "C" fn(this: *mut c_void);
pub type FnDeserialize =
    unsafe extern "C" fn(this: *mut c_void, blob: *const c_void, size: usize) -> *mut c_void;
pub type FnSetI32 = unsafe extern "C" fn(this: *mut c_void, value: i32) -> u8;
pub type FnGetI32 = unsafe extern "C" fn(this: *mut c_void) -> i32;
pub type FnGetI64 = unsafe extern "C" fn(this: *mut c_void) -> i64;
pub type FnGetUsize = unsafe extern "C" fn(this: *mut c_void) -> usize;
pub type FnGetBool = unsafe extern "C" fn(this: *mut c_void) -> u8;
pub type FnGetPtr = unsafe extern "C" fn(this: *mut c_void) -> *mut c_void;
pub type FnGetStr = unsafe extern "C" fn(this: *mut c_void) -> *const c_char;
pub type FnStrAt = unsafe extern "C" fn(this: *mut c_void, index: i32) -> *const c_char;
pub type FnTensorDims = unsafe extern "C" fn(this: *mut c_void, name: *const c_char) -> Dims;
pub type FnTensorEnum = unsafe extern "C" fn(this: *mut c_void, name: *const c_char) -> i32;
pub type FnSerializeWithConfig =
    unsafe extern "C" fn(this: *mut c_void, config: *mut c_void) -> *mut c_void;
pub type FnEngineStat = unsafe extern "C" fn(this: *mut c_void, stat: i32) -> i64;
pub type FnSetNamedWeights =
    unsafe extern "C" fn(this: *mut c_void, name: *const c_char, weights: Weights) -> u8;
pub type FnNames =
    unsafe extern "C" fn(this: *mut c_void, size: i32, names: *mut *const c_char) -> i32;
pub type FnNamedWeights = unsafe extern "C" fn(this: *mut c_void, name: *const c_char) -> Weights;
pub type FnByName = unsafe extern "C" fn(this: *mut c_void, name: *const c_char) -> u8;
pub type FnSetBool = unsafe extern "C" fn(this: *mut c_void, value: bool);
pub type FnAction = unsafe extern "C" fn(this: *mut c_void) -> u8;
pub type FnSetFlags = unsafe extern "C" fn(this: *mut c_void, flags: u32) -> u8;
pub type FnGetFlags = unsafe extern "C" fn(this: *mut c_void) -> u32;
pub type FnFlag = unsafe extern "C" fn(this: *mut c_void, flag: i32) -> u8;
/// A slot trt-dump never calls.
pub type Unused = usize;

/// One entry of a transcribed vtable: a function pointer of signature `F` (one of the `Fn*` types
/// above). The `V*` structs are only measured, never read; typing their fields lets [`slot!`] give
/// each [`SlotIndex`] the signature of its field, so a call through a slot with another signature
/// does not compile.
#[repr(transparent)]
pub struct Slot<F>(pub F);

/// One method's place in an implementation vtable, typed by its signature `F`, and the minor
/// version of the layout's major that added it (slots are append-only within a layout).
///
/// A slot taken with another signature does not compile:
///
/// ```compile_fail
/// use trt_dump::trt::abi::{v10, FnGetI32, SlotIndex};
/// // getName returns `char const*`, not `int32_t`.
/// let s: SlotIndex<FnGetI32> = v10::LAYOUT.engine.get_name;
/// ```
///
/// ```
/// use trt_dump::trt::abi::{v10, FnGetStr, SlotIndex};
/// let s: SlotIndex<FnGetStr> = v10::LAYOUT.engine.get_name;
/// assert_eq!(s.index, 9);
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct SlotIndex<F> {
    pub index: usize,
    pub since: u32,
    sig: std::marker::PhantomData<F>,
}

impl<F> Clone for SlotIndex<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for SlotIndex<F> {}

impl<F> SlotIndex<F> {
    /// The slot at `index` of vtable `V`, whose field (named by `_field`) has signature `F`.
    pub const fn of<V>(index: usize, since: u32, _field: fn(&V) -> &Slot<F>) -> SlotIndex<F> {
        SlotIndex {
            index,
            since,
            sig: std::marker::PhantomData,
        }
    }
}

/// `slot!(VRefitter, get_all_weights, since 0)`: the slot of a field of a transcribed vtable, typed
/// by the field's signature.
macro_rules! slot {
    ($vt:ty, $field:ident, since $since:expr) => {
        $crate::trt::abi::SlotIndex::of(
            ::std::mem::offset_of!($vt, $field) / ::std::mem::size_of::<usize>(),
            $since,
            |v: &$vt| &v.$field,
        )
    };
}
pub(crate) use slot;

/// `pin!(VRefitter, get_all_weights, 15)`: the slot counted by hand in the header.
macro_rules! pin {
    ($vt:ty, $field:ident, $n:expr) => {
        const _: () =
            assert!(::std::mem::offset_of!($vt, $field) == $n * ::std::mem::size_of::<usize>());
    };
}
pub(crate) use pin;

/// `apiv::VRuntime`.
#[derive(Clone, Copy, Debug)]
pub struct RuntimeSlots {
    pub deserialize_cuda_engine: SlotIndex<FnDeserialize>,
    pub set_max_threads: SlotIndex<FnSetI32>,
}

/// `apiv::VCudaEngine`.
#[derive(Clone, Copy, Debug)]
pub struct EngineSlots {
    pub get_nb_layers: SlotIndex<FnGetI32>,
    pub serialize: SlotIndex<FnGetPtr>,
    /// `size_t getDeviceMemorySize()`: TensorRT 10.x only (deprecated there, gone in 11).
    pub get_device_memory_size: Option<SlotIndex<FnGetUsize>>,
    pub is_refittable: SlotIndex<FnGetBool>,
    pub get_name: SlotIndex<FnGetStr>,
    pub get_nb_optimization_profiles: SlotIndex<FnGetI32>,
    pub get_tensor_shape: SlotIndex<FnTensorDims>,
    pub get_tensor_data_type: SlotIndex<FnTensorEnum>,
    pub get_tensor_io_mode: SlotIndex<FnTensorEnum>,
    pub get_nb_io_tensors: SlotIndex<FnGetI32>,
    pub get_io_tensor_name: SlotIndex<FnStrAt>,
    pub create_serialization_config: SlotIndex<FnGetPtr>,
    pub serialize_with_config: SlotIndex<FnSerializeWithConfig>,
    pub get_device_memory_size_v2: SlotIndex<FnGetI64>,
    pub get_engine_stat: SlotIndex<FnEngineStat>,
}

/// `apiv::VRefitter`.
#[derive(Clone, Copy, Debug)]
pub struct RefitterSlots {
    pub refit_cuda_engine: SlotIndex<FnAction>,
    pub set_named_weights: SlotIndex<FnSetNamedWeights>,
    pub get_missing_weights: SlotIndex<FnNames>,
    pub get_all_weights: SlotIndex<FnNames>,
    pub set_max_threads: SlotIndex<FnSetI32>,
    pub get_named_weights: SlotIndex<FnNamedWeights>,
    pub unset_named_weights: SlotIndex<FnByName>,
    pub set_weights_validation: SlotIndex<FnSetBool>,
    pub get_weights_prototype: SlotIndex<FnNamedWeights>,
}

/// `apiv::VHostMemory`: the same in every layout.
#[repr(C)]
pub struct VHostMemory {
    pub dtor_complete: Slot<FnDtor>,
    pub dtor_deleting: Slot<FnDtor>,
    /// `void* data() const`
    pub data: Slot<FnGetPtr>,
    /// `std::size_t size() const`
    pub size: Slot<FnGetUsize>,
    /// `DataType type() const`
    pub data_type: Slot<FnGetI32>,
}
pin!(VHostMemory, data, 2);
pin!(VHostMemory, data_type, 4);

/// `apiv::VSerializationConfig`: the same in every layout (TensorRT 8.6+).
#[repr(C)]
pub struct VSerializationConfig {
    pub dtor_complete: Slot<FnDtor>,
    pub dtor_deleting: Slot<FnDtor>,
    /// `bool setFlags(SerializationFlags)`
    pub set_flags: Slot<FnSetFlags>,
    /// `SerializationFlags getFlags() const`
    pub get_flags: Slot<FnGetFlags>,
    /// `bool clearFlag(SerializationFlag)`
    pub clear_flag: Slot<FnFlag>,
    /// `bool setFlag(SerializationFlag)`
    pub set_flag: Slot<FnFlag>,
    /// `bool getFlag(SerializationFlag) const`
    pub get_flag: Slot<FnFlag>,
}
pin!(VSerializationConfig, set_flags, 2);
pin!(VSerializationConfig, get_flag, 6);

#[derive(Clone, Copy, Debug)]
pub struct HostMemorySlots {
    pub data: SlotIndex<FnGetPtr>,
    pub size: SlotIndex<FnGetUsize>,
    pub data_type: SlotIndex<FnGetI32>,
}

pub const HOST_MEMORY: HostMemorySlots = HostMemorySlots {
    data: slot!(VHostMemory, data, since 0),
    size: slot!(VHostMemory, size, since 0),
    data_type: slot!(VHostMemory, data_type, since 0),
};

#[derive(Clone, Copy, Debug)]
pub struct SerializationConfigSlots {
    pub set_flags: SlotIndex<FnSetFlags>,
    pub get_flags: SlotIndex<FnGetFlags>,
    pub clear_flag: SlotIndex<FnFlag>,
    pub set_flag: SlotIndex<FnFlag>,
    pub get_flag: SlotIndex<FnFlag>,
}

pub const SERIALIZATION_CONFIG: SerializationConfigSlots = SerializationConfigSlots {
    set_flags: slot!(VSerializationConfig, set_flags, since 0),
    get_flags: slot!(VSerializationConfig, get_flags, since 0),
    clear_flag: slot!(VSerializationConfig, clear_flag, since 0),
    set_flag: slot!(VSerializationConfig, set_flag, since 0),
    get_flag: slot!(VSerializationConfig, get_flag, since 0),
};

/// Which `ILogger` vtable the library expects from the logger object trt-dump passes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoggerAbi {
    /// TensorRT 10.x, TensorRT-RTX 1.3–1.4: `[log, ~ILogger, ~ILogger (deleting)]`.
    Plain,
    /// TensorRT 11.x, TensorRT-RTX 1.5+: `ILogger : IVersionedInterface`, so
    /// `[getAPILanguage, getInterfaceInfo, ~ILogger, ~ILogger (deleting), log]`.
    Versioned,
}

/// The layouts trt-dump knows. Chosen at run time from `getInferLibVersion`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Abi {
    Trt10,
    Trt11,
    /// TensorRT-RTX 1.3 and 1.4 (a 10.x-like layout).
    Rtx13,
    /// TensorRT-RTX 1.5 and later (an 11.x-like layout).
    Rtx15,
}

impl fmt::Display for Abi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Abi::Trt10 => "TensorRT 10.x",
            Abi::Trt11 => "TensorRT 11.x",
            Abi::Rtx13 => "TensorRT-RTX 1.3-1.4",
            Abi::Rtx15 => "TensorRT-RTX 1.5+",
        })
    }
}

/// Everything the binding needs to know about one layout.
#[derive(Debug)]
pub struct Layout {
    pub abi: Abi,
    /// The major version `getInferLibVersion` reports for it (1 for TensorRT-RTX).
    pub major: u32,
    /// Minors this layout covers, and the one whose headers were checked last.
    pub minors: std::ops::RangeInclusive<u32>,
    pub checked_minor: u32,
    /// `NV_TENSORRT_VERSION` of the headers checked: the `version` argument of
    /// `createInferRuntime_INTERNAL` / `createInferRefitter_INTERNAL`.
    pub header_version: i32,
    pub logger: LoggerAbi,
    pub runtime: RuntimeSlots,
    pub engine: EngineSlots,
    pub refitter: RefitterSlots,
    pub host_memory: HostMemorySlots,
    pub serialization_config: SerializationConfigSlots,
    /// `IBuilder`, `IBuilderConfig`, flag values and the ONNX parser (the `selftest` command).
    pub builder: builder::BuilderSlots,
    /// Minor versions that added enum values (DataType kFP4/kE8M0, kINCLUDE_REFIT, EngineStat).
    pub enum_since: EnumSince,
}

#[derive(Clone, Copy, Debug)]
pub struct EnumSince {
    pub fp4: u32,
    pub e8m0: u32,
    pub include_refit: u32,
    pub engine_stat: u32,
}

/// The layout for a library reporting `major.minor`, or why there is none.
pub fn layout_for(major: u32, minor: u32) -> Result<&'static Layout, String> {
    let all: [&'static Layout; 4] = [
        &v10::LAYOUT,
        &v11::LAYOUT,
        &rtx1::LAYOUT_1_3,
        &rtx1::LAYOUT_1_5,
    ];
    if let Some(l) = all
        .iter()
        .find(|l| l.major == major && l.minors.contains(&minor))
    {
        return Ok(l);
    }
    let supported = "TensorRT 10.x, TensorRT 11.x, TensorRT-RTX 1.3 and later 1.x";
    Err(match major {
        1 => format!(
            "TensorRT-RTX 1.{minor} is not supported: its headers were not available to check the binding against ({supported} are)"
        ),
        _ => format!("TensorRT {major}.{minor} is not supported ({supported} are)"),
    })
}

/// One fact of [`Layout::facts`]: what check.cpp prints as `name value` for headers of minor
/// `since` or later (and `-1`, absent, before).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    pub name: String,
    pub value: i64,
    pub since: u32,
}

fn fact(name: &str, value: impl TryInto<i64>, since: u32) -> Fact {
    Fact {
        name: name.to_string(),
        value: value.try_into().unwrap_or(i64::MIN),
        since,
    }
}

impl Layout {
    /// Whether a library of minor `minor` has `slot`.
    pub fn has<F>(&self, slot: SlotIndex<F>, minor: u32) -> bool {
        minor >= slot.since
    }

    /// Every fact about this layout that tests/abi/check.cpp prints, with the value the binding
    /// relies on. The names are check.cpp's.
    pub fn facts(&self) -> Vec<Fact> {
        let mut f = vec![
            fact("pointer.size", size_of::<*const c_void>(), 0),
            fact("Weights.size", size_of::<Weights>(), 0),
            fact("Weights.type", offset_of!(Weights, dtype), 0),
            fact("Weights.values", offset_of!(Weights, values), 0),
            fact("Weights.count", offset_of!(Weights, count), 0),
            fact("Weights.trivial", 1, 0),
            fact("Dims.size", size_of::<Dims>(), 0),
            fact("Dims.nbDims", offset_of!(Dims, nb_dims), 0),
            fact("Dims.d", offset_of!(Dims, d), 0),
            fact("Dims.MAX_DIMS", DIMS_MAX, 0),
            fact("Dims.trivial", 1, 0),
            fact("DataType.size", size_of::<i32>(), 0),
            fact("TensorIOMode.size", size_of::<i32>(), 0),
            fact("SerializationFlag.size", size_of::<i32>(), 0),
            fact("SerializationFlags.size", size_of::<u32>(), 0),
            fact("ILogger::Severity.size", size_of::<i32>(), 0),
            fact("bool.size", size_of::<u8>(), 0),
            fact("TensorIOMode::kNONE", io_mode::NONE, 0),
            fact("TensorIOMode::kINPUT", io_mode::INPUT, 0),
            fact("TensorIOMode::kOUTPUT", io_mode::OUTPUT, 0),
            fact(
                "SerializationFlag::kEXCLUDE_WEIGHTS",
                serialization_flag::EXCLUDE_WEIGHTS,
                0,
            ),
            fact(
                "SerializationFlag::kEXCLUDE_LEAN_RUNTIME",
                serialization_flag::EXCLUDE_LEAN_RUNTIME,
                0,
            ),
            fact(
                "SerializationFlag::kINCLUDE_REFIT",
                serialization_flag::INCLUDE_REFIT,
                self.enum_since.include_refit,
            ),
            fact(
                "ILogger::Severity::kINTERNAL_ERROR",
                severity::INTERNAL_ERROR,
                0,
            ),
            fact("ILogger::Severity::kERROR", severity::ERROR, 0),
            fact("ILogger::Severity::kWARNING", severity::WARNING, 0),
            fact("ILogger::Severity::kINFO", severity::INFO, 0),
            fact("ILogger::Severity::kVERBOSE", severity::VERBOSE, 0),
            fact(
                "EngineStat::kTOTAL_WEIGHTS_SIZE",
                engine_stat::TOTAL_WEIGHTS_SIZE,
                self.enum_since.engine_stat,
            ),
            fact(
                "EngineStat::kSTRIPPED_WEIGHTS_SIZE",
                engine_stat::STRIPPED_WEIGHTS_SIZE,
                self.enum_since.engine_stat,
            ),
        ];
        for d in DataType::ALL {
            let (name, since) = match d {
                DataType::Float => ("kFLOAT", 0),
                DataType::Half => ("kHALF", 0),
                DataType::Int8 => ("kINT8", 0),
                DataType::Int32 => ("kINT32", 0),
                DataType::Bool => ("kBOOL", 0),
                DataType::Uint8 => ("kUINT8", 0),
                DataType::Fp8 => ("kFP8", 0),
                DataType::Bf16 => ("kBF16", 0),
                DataType::Int64 => ("kINT64", 0),
                DataType::Int4 => ("kINT4", 0),
                DataType::Fp4 => ("kFP4", self.enum_since.fp4),
                DataType::E8m0 => ("kE8M0", self.enum_since.e8m0),
            };
            f.push(fact(&format!("DataType::{name}"), d.to_trt(), since));
        }
        for class in [
            "IRuntime",
            "ICudaEngine",
            "IRefitter",
            "IHostMemory",
            "ISerializationConfig",
        ] {
            f.push(fact(&format!("{class}.size"), 2 * size_of::<usize>(), 0));
            f.push(fact(
                &format!("{class}.mImpl"),
                IMPL_WORD * size_of::<usize>(),
                0,
            ));
            f.push(fact(
                &format!("{class}::~{class}(complete)"),
                DELETING_DTOR_SLOT - 1,
                0,
            ));
            f.push(fact(
                &format!("{class}::~{class}(deleting)"),
                DELETING_DTOR_SLOT,
                0,
            ));
        }
        f.extend(crate::trt::logger::facts(self.logger));
        fn s<F>(f: &mut Vec<Fact>, name: &str, slot: SlotIndex<F>) {
            f.push(fact(name, slot.index, slot.since))
        }
        let r = &self.runtime;
        s(
            &mut f,
            "VRuntime::deserializeCudaEngine",
            r.deserialize_cuda_engine,
        );
        s(&mut f, "VRuntime::setMaxThreads", r.set_max_threads);
        let e = &self.engine;
        s(&mut f, "VCudaEngine::getNbLayers", e.get_nb_layers);
        s(&mut f, "VCudaEngine::serialize", e.serialize);
        match e.get_device_memory_size {
            Some(slot) => s(&mut f, "VCudaEngine::getDeviceMemorySize", slot),
            // Absent from every header of the layout: "since" a minor no header has.
            None => f.push(fact("VCudaEngine::getDeviceMemorySize", -1, 0)),
        }
        s(&mut f, "VCudaEngine::isRefittable", e.is_refittable);
        s(&mut f, "VCudaEngine::getName", e.get_name);
        s(
            &mut f,
            "VCudaEngine::getNbOptimizationProfiles",
            e.get_nb_optimization_profiles,
        );
        s(&mut f, "VCudaEngine::getTensorShape", e.get_tensor_shape);
        s(
            &mut f,
            "VCudaEngine::getTensorDataType",
            e.get_tensor_data_type,
        );
        s(&mut f, "VCudaEngine::getTensorIOMode", e.get_tensor_io_mode);
        s(&mut f, "VCudaEngine::getNbIOTensors", e.get_nb_io_tensors);
        s(&mut f, "VCudaEngine::getIOTensorName", e.get_io_tensor_name);
        s(
            &mut f,
            "VCudaEngine::createSerializationConfig",
            e.create_serialization_config,
        );
        s(
            &mut f,
            "VCudaEngine::serializeWithConfig",
            e.serialize_with_config,
        );
        s(
            &mut f,
            "VCudaEngine::getDeviceMemorySizeV2",
            e.get_device_memory_size_v2,
        );
        s(&mut f, "VCudaEngine::getEngineStat", e.get_engine_stat);
        let rf = &self.refitter;
        s(&mut f, "VRefitter::refitCudaEngine", rf.refit_cuda_engine);
        s(&mut f, "VRefitter::setNamedWeights", rf.set_named_weights);
        s(
            &mut f,
            "VRefitter::getMissingWeights",
            rf.get_missing_weights,
        );
        s(&mut f, "VRefitter::getAllWeights", rf.get_all_weights);
        s(&mut f, "VRefitter::setMaxThreads", rf.set_max_threads);
        s(&mut f, "VRefitter::getNamedWeights", rf.get_named_weights);
        s(
            &mut f,
            "VRefitter::unsetNamedWeights",
            rf.unset_named_weights,
        );
        s(
            &mut f,
            "VRefitter::setWeightsValidation",
            rf.set_weights_validation,
        );
        s(
            &mut f,
            "VRefitter::getWeightsPrototype",
            rf.get_weights_prototype,
        );
        let h = &self.host_memory;
        s(&mut f, "VHostMemory::data", h.data);
        s(&mut f, "VHostMemory::size", h.size);
        s(&mut f, "VHostMemory::type", h.data_type);
        let c = &self.serialization_config;
        s(&mut f, "VSerializationConfig::setFlags", c.set_flags);
        s(&mut f, "VSerializationConfig::getFlags", c.get_flags);
        s(&mut f, "VSerializationConfig::clearFlag", c.clear_flag);
        s(&mut f, "VSerializationConfig::setFlag", c.set_flag);
        s(&mut f, "VSerializationConfig::getFlag", c.get_flag);
        f.extend(self.builder_facts());
        f
    }

    /// The builder side's facts (check.cpp includes NvInfer.h and NvOnnxParser.h for them).
    fn builder_facts(&self) -> Vec<Fact> {
        let b = &self.builder;
        let mut f = Vec::new();
        for class in ["IBuilder", "IBuilderConfig", "INetworkDefinition"] {
            f.push(fact(&format!("{class}.size"), 2 * size_of::<usize>(), 0));
            f.push(fact(
                &format!("{class}.mImpl"),
                IMPL_WORD * size_of::<usize>(),
                0,
            ));
            f.push(fact(
                &format!("{class}::~{class}(complete)"),
                DELETING_DTOR_SLOT - 1,
                0,
            ));
            f.push(fact(
                &format!("{class}::~{class}(deleting)"),
                DELETING_DTOR_SLOT,
                0,
            ));
        }
        f.push(fact(
            "VBuilder::createBuilderConfig",
            b.create_builder_config.index,
            b.create_builder_config.since,
        ));
        f.push(fact(
            "VBuilder::createNetworkV2",
            b.create_network_v2.index,
            b.create_network_v2.since,
        ));
        f.push(fact(
            "VBuilder::buildSerializedNetwork",
            b.build_serialized_network.index,
            b.build_serialized_network.since,
        ));
        f.push(fact(
            "VBuilderConfig::setFlag",
            b.config_set_flag.index,
            b.config_set_flag.since,
        ));
        f.push(fact(
            "VBuilderConfig::getFlag",
            b.config_get_flag.index,
            b.config_get_flag.since,
        ));
        f.push(fact("BuilderFlag.size", size_of::<i32>(), 0));
        f.push(fact(
            "NetworkDefinitionCreationFlags.size",
            size_of::<u32>(),
            0,
        ));
        f.push(fact("BuilderFlag::kREFIT", b.flag_refit, 0));
        f.push(fact("BuilderFlag::kSTRIP_PLAN", b.flag_strip_plan, 0));
        f.push(fact(
            "NetworkDefinitionCreationFlag::kSTRONGLY_TYPED",
            b.strongly_typed_flag,
            0,
        ));
        let p = &b.parser;
        f.push(fact("IParser::parse", p.parse.index, p.parse.since));
        f.push(fact(
            "IParser::getNbErrors",
            p.get_nb_errors.index,
            p.get_nb_errors.since,
        ));
        f.push(fact(
            "IParser::getError",
            p.get_error.index,
            p.get_error.since,
        ));
        f.push(fact(
            "IParser::clearErrors",
            p.clear_errors.index,
            p.clear_errors.since,
        ));
        f.push(fact(
            "IParser::~IParser(deleting)",
            p.dtor_deleting.index,
            p.dtor_deleting.since,
        ));
        f.push(fact(
            "IParserError::desc",
            p.error_desc.index,
            p.error_desc.since,
        ));
        f.push(fact(
            "IParserError::node",
            p.error_node.index,
            p.error_node.since,
        ));
        f
    }

    /// Compares check.cpp's output for headers of `minor` with [`Layout::facts`]; returns one
    /// line per difference (empty: they agree). Lines about the version itself are skipped.
    pub fn compare(&self, check_output: &str, minor: u32) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let facts = self.facts();
        for line in check_output.lines().filter(|l| !l.trim().is_empty()) {
            let Some((name, value)) = line.split_once(' ') else {
                problems.push(format!("unreadable line `{line}`"));
                continue;
            };
            if name.starts_with("NV_TENSORRT_") {
                continue;
            }
            let Ok(value) = value.trim().parse::<i64>() else {
                problems.push(format!("unreadable value in `{line}`"));
                continue;
            };
            seen.insert(name.to_string());
            match facts.iter().find(|f| f.name == name) {
                None => problems.push(format!(
                    "{name}: the headers say {value}; the binding has no such fact"
                )),
                Some(f) => {
                    let expected = if minor >= f.since { f.value } else { -1 };
                    if expected != value {
                        problems.push(format!(
                            "{name}: headers of minor {minor} say {value}, the binding says {expected} (value {}, since minor {})",
                            f.value, f.since
                        ));
                    }
                }
            }
        }
        for f in &facts {
            if !seen.contains(&f.name) {
                problems.push(format!(
                    "{}: the binding relies on it but check.cpp printed nothing",
                    f.name
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_major_minor_maps_to_one_layout_or_a_reason() {
        assert_eq!(layout_for(10, 0).unwrap().abi, Abi::Trt10);
        assert_eq!(layout_for(10, 99).unwrap().abi, Abi::Trt10);
        assert_eq!(layout_for(11, 4).unwrap().abi, Abi::Trt11);
        assert_eq!(layout_for(1, 3).unwrap().abi, Abi::Rtx13);
        assert_eq!(layout_for(1, 4).unwrap().abi, Abi::Rtx13);
        assert_eq!(layout_for(1, 5).unwrap().abi, Abi::Rtx15);
        assert_eq!(layout_for(1, 9).unwrap().abi, Abi::Rtx15);
        assert!(layout_for(1, 2).unwrap_err().contains("TensorRT-RTX 1.2"));
        assert!(layout_for(8, 6)
            .unwrap_err()
            .contains("TensorRT 8.6 is not supported"));
    }

    #[test]
    fn fact_names_are_unique() {
        for l in [
            &v10::LAYOUT,
            &v11::LAYOUT,
            &rtx1::LAYOUT_1_3,
            &rtx1::LAYOUT_1_5,
        ] {
            let facts = l.facts();
            let mut names: Vec<&str> = facts.iter().map(|f| f.name.as_str()).collect();
            names.sort();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "{:?} repeats a fact", l.abi);
        }
    }

    #[test]
    fn compare_reports_moved_missing_and_unknown_facts() {
        let l = &v11::LAYOUT;
        let good: String = l
            .facts()
            .iter()
            .map(|f| format!("{} {}\n", f.name, f.value))
            .collect();
        assert_eq!(l.compare(&good, 4), Vec::<String>::new());
        let moved = good.replace("VRefitter::getAllWeights 11", "VRefitter::getAllWeights 12");
        assert_eq!(l.compare(&moved, 4).len(), 1);
        let missing = good.replace("VRefitter::getAllWeights 11\n", "");
        assert!(l.compare(&missing, 4)[0].contains("printed nothing"));
        let extra = format!("{good}VRefitter::somethingNew 40\n");
        assert!(l.compare(&extra, 4)[0].contains("no such fact"));
    }

    #[test]
    fn slots_below_their_minor_must_be_absent() {
        let l = &v10::LAYOUT;
        let at_10_0: String = l
            .facts()
            .iter()
            .map(|f| format!("{} {}\n", f.name, if f.since > 0 { -1 } else { f.value }))
            .collect();
        assert_eq!(l.compare(&at_10_0, 0), Vec::<String>::new());
        // The same output claimed for 10.14 must fail: getEngineStat exists there.
        assert!(l
            .compare(&at_10_0, 14)
            .iter()
            .any(|p| p.contains("getEngineStat")));
    }
}
