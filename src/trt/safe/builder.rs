//! `IBuilder`, `IBuilderConfig`, `INetworkDefinition` and the ONNX parser (`nvonnxparser::IParser`):
//! enough to build a REFIT engine from an ONNX model, for `selftest`. The ONNX parser needs far fewer
//! slots than the layer API: create a network, parse the model into it, set REFIT (and STRIP_PLAN),
//! build a serialized plan.

use std::any::Any;
use std::ffi::{c_void, CString};
use std::path::PathBuf;
use std::sync::Arc;

use super::host_memory::HostMemory;
use crate::error::{Error, ErrorKind};
use crate::trt::loader::{self, CreateParserFn, TrtLib};
use crate::trt::logger::{self, TrtLogger};
use crate::trt::result::{read_str, trt, Ctx, Obj, TrtFailure};

/// What to build.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildFlags {
    /// `BuilderFlag::kSTRIP_PLAN` (with kREFIT): a weight-stripped plan.
    pub strip_plan: bool,
}

/// `IBuilder`, with the ONNX parser of the same TensorRT. Fields drop in order: the builder, then
/// whatever keeps the GPU context.
pub struct Builder {
    obj: Obj,
    _keep: Option<Box<dyn Any>>,
    ctx: Ctx,
    logger: &'static TrtLogger,
    create_parser: CreateParserFn,
    pub parser_path: PathBuf,
}

/// `nvonnxparser::IParser`: a plain interface (no mImpl), released through its own deleting
/// destructor.
struct Parser {
    p: *mut c_void,
    slots: crate::trt::abi::builder::ParserSlots,
}

impl Parser {
    /// The function at `slot` of the parser's own vtable.
    ///
    /// # Safety
    /// `slot` must be a slot of `IParser` in the loaded library's layout.
    unsafe fn f<F: Copy>(&self, slot: crate::trt::abi::SlotIndex<F>) -> F {
        // SAFETY: a live polymorphic object's first word is its vtable; per the caller the slot is
        // inside it, with signature F.
        unsafe {
            let vtable = *(self.p as *const *const usize);
            std::mem::transmute_copy::<usize, F>(&*vtable.add(slot.index))
        }
    }

    /// The parser's recorded errors, one line each.
    fn errors(&self) -> Vec<String> {
        let s = self.slots;
        let mut out = Vec::new();
        // SAFETY: `int getNbErrors() const` and `IParserError const* getError(int) const` of this
        // layout's IParser; `char const* desc() const` and `int node() const` of IParserError, whose
        // strings live as long as the parser.
        unsafe {
            let n = (self.f(s.get_nb_errors))(self.p);
            for i in 0..n.max(0) {
                let e = (self.f(s.get_error))(self.p, i);
                if e.is_null() {
                    continue;
                }
                let vt = *(e as *const *const usize);
                let desc: crate::trt::abi::FnGetStr =
                    std::mem::transmute_copy(&*vt.add(s.error_desc.index));
                let node: crate::trt::abi::FnGetI32 =
                    std::mem::transmute_copy(&*vt.add(s.error_node.index));
                let text = read_str(desc(e)).unwrap_or_default();
                out.push(format!("ONNX node {}: {text}", node(e)));
            }
        }
        out
    }
}

impl Drop for Parser {
    fn drop(&mut self) {
        // SAFETY: the parser is owned here and released once, through `~IParser` (deleting) of its
        // vtable (check.cpp: `IParser::~IParser(deleting)`).
        unsafe { (self.f(self.slots.dtor_deleting))(self.p) }
    }
}

impl Builder {
    /// `createInferBuilder` and the ONNX parser library. A lean runtime has no builder: that is
    /// `TrtNotFound` (exit 7), naming what to install.
    pub fn new(lib: Arc<TrtLib>, keep: Option<Box<dyn Any>>) -> anyhow::Result<Builder> {
        let Some(create) = lib.create_builder else {
            return Err(anyhow::Error::new(
                Error::new(
                    ErrorKind::TrtNotFound,
                    format!(
                        "{} at `{}` has no builder (createInferBuilder_INTERNAL): it is a lean runtime, which runs engines but cannot build them",
                        lib.describe(),
                        lib.path.display()
                    ),
                )
                .with_hint(
                    "selftest builds its models with TensorRT: install the full library (`pip install tensorrt-cu12`, \
                     whose tensorrt_libs/ hold libnvinfer.so.10 and libnvonnxparser.so.10; or TensorRT-RTX's \
                     libtensorrt_rtx.so.1 with libtensorrt_onnxparser_rtx.so.1) and pass it with --trt-lib",
                ),
            ));
        };
        let (create_parser, parser_path) = loader::open_onnx_parser(&lib).map_err(|tried| {
            anyhow::Error::new(
                Error::new(
                    ErrorKind::TrtNotFound,
                    format!(
                        "no ONNX parser for {} (looked for {}):\n    {}",
                        lib.describe(),
                        lib.layout.builder.parser_names.join(", "),
                        tried.join("\n    ")
                    ),
                )
                .with_hint("the ONNX parser ships beside TensorRT (pip's tensorrt_libs/, the tarball's lib/, TensorRT-RTX's lib/); put it in the same folder as the TensorRT library"),
            )
        })?;
        let logger = logger::process_logger(lib.layout.logger);
        let ctx = Ctx {
            lib,
            sink: logger.sink().clone(),
        };
        let mark = ctx.sink.mark();
        // SAFETY: resolved from this library with NvInfer.h's signature; the logger has the
        // library's ILogger layout and is never freed; the version is the layout's header version.
        let p = unsafe { create(logger.as_ptr(), ctx.lib.layout.header_version) };
        // SAFETY: the IBuilder just created, owned here.
        let obj = unsafe { Obj::new(p, "IBuilder") }
            .ok_or_else(|| ctx.failure("createInferBuilder", mark).refused())?;
        Ok(Builder {
            obj,
            _keep: keep,
            ctx,
            logger,
            create_parser,
            parser_path,
        })
    }

    pub fn lib(&self) -> &Arc<TrtLib> {
        &self.ctx.lib
    }

    /// Parses `onnx` into a new network and builds a REFIT plan (strongly typed: every tensor keeps
    /// the ONNX model's dtype).
    pub fn build_onnx(&self, onnx: &[u8], flags: BuildFlags) -> Result<HostMemory, TrtFailure> {
        let b = &self.ctx.layout().builder;
        // SAFETY: `INetworkDefinition* createNetworkV2(NetworkDefinitionCreationFlags)` of this
        // layout's VBuilder; the network is owned by the caller.
        let network = unsafe {
            trt!(new "INetworkDefinition", &self.ctx, "createNetworkV2", self.obj, b.create_network_v2, b.network_flags)
        }?;
        let mark = self.ctx.sink.mark();
        // SAFETY: NvOnnxParser.h's `createNvOnnxParser_INTERNAL(void* network, void* logger, int
        // version)`; the network outlives the parser (dropped after it below), the logger lives for
        // the process.
        let p =
            unsafe { (self.create_parser)(network.ptr(), self.logger.as_ptr(), b.parser_version) };
        if p.is_null() {
            return Err(self.ctx.failure("createNvOnnxParser", mark));
        }
        let parser = Parser { p, slots: b.parser };
        let mark = self.ctx.sink.mark();
        let path = CString::new("selftest.onnx").expect("no NUL");
        // SAFETY: `bool parse(void const*, size_t, char const*)`; the bytes and the path outlive the
        // call (the parser copies what it keeps).
        let ok = unsafe {
            (parser.f(b.parser.parse))(p, onnx.as_ptr() as *const c_void, onnx.len(), path.as_ptr())
        };
        if ok == 0 {
            let mut f = self.ctx.failure("IParser::parse", mark);
            f.messages.extend(parser.errors());
            return Err(f);
        }
        // SAFETY: `IBuilderConfig* createBuilderConfig()`; owned by the caller.
        let config = unsafe {
            trt!(new "IBuilderConfig", &self.ctx, "createBuilderConfig", self.obj, b.create_builder_config)
        }?;
        let mut wanted = vec![("kREFIT", b.flag_refit)];
        if flags.strip_plan {
            wanted.push(("kSTRIP_PLAN", b.flag_strip_plan));
        }
        for (name, flag) in wanted {
            // SAFETY: `void setFlag(BuilderFlag)` and `bool getFlag(BuilderFlag) const` of this
            // layout's VBuilderConfig, with this layout's flag value.
            let set = unsafe {
                trt!(config, b.config_set_flag, flag);
                trt!(config, b.config_get_flag, flag)
            };
            if set == 0 {
                return Err(TrtFailure {
                    call: format!("IBuilderConfig::setFlag({name})"),
                    messages: vec!["the flag did not stick".into()],
                });
            }
        }
        let mark = self.ctx.sink.mark();
        // SAFETY: `IHostMemory* buildSerializedNetwork(INetworkDefinition&, IBuilderConfig&)`: both
        // references are the live objects above; the plan returned is owned by the caller.
        let plan = unsafe {
            trt!(
                self.obj,
                b.build_serialized_network,
                network.ptr(),
                config.ptr()
            )
        };
        // SAFETY: null or the IHostMemory just returned, owned here.
        let plan = unsafe { HostMemory::new(plan, &self.ctx) };
        let plan = plan.ok_or_else(|| self.ctx.failure("buildSerializedNetwork", mark))?;
        // The parser refers to the network: release it first, then the config and the network.
        drop(parser);
        drop(config);
        drop(network);
        Ok(plan)
    }
}
