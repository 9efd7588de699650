//! The `ILogger` object handed to TensorRT: a `#[repr(C)]` struct whose first word points at a
//! static vtable laid out as the loaded library expects (see [`LoggerAbi`]). TensorRT calls `log`
//! from any of its threads; the callback null-checks, decodes lossily, never panics or unwinds
//! into C++, forwards the line to stderr according to `-v`/`-vv`, and keeps the last few errors and
//! warnings so that a failed call can say what TensorRT said.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CStr};
use std::io::Write;
use std::mem::{offset_of, size_of};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use super::abi::{severity, Fact, FnDtor, InterfaceInfo, LoggerAbi, API_LANGUAGE_CPP};

/// Errors and warnings kept for error messages.
const KEEP: usize = 16;

/// What the loggers of one session have heard. Shared by the runtime's logger and the one given
/// to plugin libraries.
#[derive(Debug, Default)]
pub struct LogSink {
    state: Mutex<SinkState>,
}

#[derive(Debug, Default)]
struct SinkState {
    /// Number of errors and warnings recorded so far.
    seq: u64,
    recent: VecDeque<(u64, i32, String)>,
}

/// A position in the log: [`LogSink::since`] returns what came after it.
#[derive(Clone, Copy, Debug)]
pub struct Mark(u64);

impl LogSink {
    pub fn new() -> Arc<LogSink> {
        Arc::new(LogSink::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        // A poisoned lock only means another thread panicked while holding it; the queue is still
        // a valid queue.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn mark(&self) -> Mark {
        Mark(self.lock().seq)
    }

    /// The errors and warnings kept, oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.since(Mark(0))
    }

    /// Errors and warnings logged after `mark`, oldest first, as `error: …` / `warning: …`.
    pub fn since(&self, mark: Mark) -> Vec<String> {
        self.lock()
            .recent
            .iter()
            .filter(|(seq, _, _)| *seq > mark.0)
            .map(|(_, sev, text)| format!("{}: {}", severity_name(*sev), text))
            .collect()
    }

    /// Records one line from TensorRT and shows it if the verbosity asks for it.
    pub fn record(&self, sev: i32, text: String) {
        let shown_from = match sev {
            severity::INTERNAL_ERROR | severity::ERROR | severity::WARNING => 2,
            _ => 3,
        };
        if crate::messages::verbosity() >= shown_from {
            // Never panic in a callback: a closed stderr is ignored.
            let _ = writeln!(
                std::io::stderr().lock(),
                "trt-dump: TensorRT {}: {}",
                severity_name(sev),
                text
            );
        }
        if sev <= severity::WARNING {
            let mut st = self.lock();
            st.seq += 1;
            let seq = st.seq;
            st.recent.push_back((seq, sev, text));
            while st.recent.len() > KEEP {
                st.recent.pop_front();
            }
        }
    }
}

fn severity_name(sev: i32) -> &'static str {
    match sev {
        severity::INTERNAL_ERROR => "internal error",
        severity::ERROR => "error",
        severity::WARNING => "warning",
        severity::INFO => "info",
        severity::VERBOSE => "verbose",
        _ => "message",
    }
}

type LogFn = unsafe extern "C" fn(this: *mut c_void, severity: i32, msg: *const c_char);
type ApiLanguageFn = unsafe extern "C" fn(this: *const c_void) -> i32;
type InterfaceInfoFn = unsafe extern "C" fn(this: *const c_void) -> InterfaceInfo;

/// `nvinfer1::ILogger` of TensorRT 10.x and TensorRT-RTX 1.3–1.4 (a class of its own).
#[repr(C)]
struct PlainVtable {
    log: LogFn,            // 0 log(Severity, AsciiChar const*)
    dtor_complete: FnDtor, // 1 ~ILogger
    dtor_deleting: FnDtor, // 2 ~ILogger (deleting)
}

/// `nvinfer1::ILogger : IVersionedInterface` of TensorRT 11.x and TensorRT-RTX 1.5+.
#[repr(C)]
struct VersionedVtable {
    get_api_language: ApiLanguageFn, // 0 IVersionedInterface::getAPILanguage
    get_interface_info: InterfaceInfoFn, // 1 getInterfaceInfo -> {"ILogger", 1, 0}
    dtor_complete: FnDtor,           // 2 ~ILogger
    dtor_deleting: FnDtor,           // 3 ~ILogger (deleting)
    log: LogFn,                      // 4 log(Severity, AsciiChar const*)
}

static PLAIN: PlainVtable = PlainVtable {
    log,
    dtor_complete: no_dtor,
    dtor_deleting: no_dtor,
};
static VERSIONED: VersionedVtable = VersionedVtable {
    get_api_language,
    get_interface_info,
    dtor_complete: no_dtor,
    dtor_deleting: no_dtor,
    log,
};

/// The interface name and version that `ILogger::getInterfaceInfo` returns in NvInferRuntime.h.
const INTERFACE_KIND: &CStr = c"ILogger";
const INTERFACE_MAJOR: i32 = 1;
const INTERFACE_MINOR: i32 = 0;

/// The object TensorRT sees as an `ILogger*`. TensorRT only reads its first word (the vptr).
#[repr(C)]
pub(crate) struct TrtLogger {
    vtable: *const c_void,
    sink: Arc<LogSink>,
}

// SAFETY: the vtable pointer targets an immutable static and the sink is Sync; TensorRT calls
// `log` from its worker threads, which only touches the sink.
unsafe impl Send for TrtLogger {}
// SAFETY: as above: all shared state is behind the sink's Mutex.
unsafe impl Sync for TrtLogger {}

impl TrtLogger {
    /// A logger at a stable address (boxed), for a library of the given ABI.
    pub(crate) fn new(abi: LoggerAbi, sink: Arc<LogSink>) -> Box<TrtLogger> {
        let vtable = match abi {
            LoggerAbi::Plain => &PLAIN as *const PlainVtable as *const c_void,
            LoggerAbi::Versioned => &VERSIONED as *const VersionedVtable as *const c_void,
        };
        Box::new(TrtLogger { vtable, sink })
    }

    /// The `ILogger*` to pass to TensorRT. Valid while `self` lives.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self as *const TrtLogger as *mut c_void
    }

    pub(crate) fn sink(&self) -> &Arc<LogSink> {
        &self.sink
    }
}

/// The process's log: every TensorRT message goes here (see [`process_logger`]).
pub fn process_sink() -> &'static Arc<LogSink> {
    static SINK: OnceLock<Arc<LogSink>> = OnceLock::new();
    SINK.get_or_init(LogSink::new)
}

/// The one `ILogger` of each layout family for the whole process, never freed.
///
/// TensorRT keeps the first logger it is given for the rest of the process (the global logger
/// returned by `getLogger()`, used by later runtimes, refitters, builders and plugin libraries
/// that are handed another one), so a logger freed with its runtime could be called after it is
/// gone. One leaked logger per [`LoggerAbi`], writing to [`process_sink`], cannot dangle.
pub(crate) fn process_logger(abi: LoggerAbi) -> &'static TrtLogger {
    static PLAIN_LOGGER: OnceLock<&'static TrtLogger> = OnceLock::new();
    static VERSIONED_LOGGER: OnceLock<&'static TrtLogger> = OnceLock::new();
    let cell = match abi {
        LoggerAbi::Plain => &PLAIN_LOGGER,
        LoggerAbi::Versioned => &VERSIONED_LOGGER,
    };
    cell.get_or_init(|| Box::leak(TrtLogger::new(abi, process_sink().clone())))
}

/// `ILogger::log`. TensorRT passes the `ILogger*` it was given as `this`.
unsafe extern "C" fn log(this: *mut c_void, sev: i32, msg: *const c_char) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if this.is_null() {
            return;
        }
        let text = if msg.is_null() {
            "(null message)".to_string()
        } else {
            // SAFETY: TensorRT passes a NUL-terminated string valid for the duration of the call.
            unsafe { CStr::from_ptr(msg) }
                .to_string_lossy()
                .trim_end()
                .to_string()
        };
        // SAFETY: `this` is the pointer returned by `TrtLogger::as_ptr`; the runtime (or, for
        // plugins, a leaked box) keeps the logger alive while TensorRT can call it.
        let logger = unsafe { &*(this as *const TrtLogger) };
        logger.sink.record(sev, text);
    }));
}

unsafe extern "C" fn get_api_language(_this: *const c_void) -> i32 {
    API_LANGUAGE_CPP
}

unsafe extern "C" fn get_interface_info(_this: *const c_void) -> InterfaceInfo {
    InterfaceInfo {
        kind: INTERFACE_KIND.as_ptr(),
        major: INTERFACE_MAJOR,
        minor: INTERFACE_MINOR,
    }
}

/// TensorRT never destroys the logger it is given (the application owns it); these fill the
/// destructor slots so that a stray call does nothing instead of jumping to garbage.
unsafe extern "C" fn no_dtor(_this: *mut c_void) {}

/// What check.cpp must print about `ILogger` for headers of this ABI.
pub fn facts(abi: LoggerAbi) -> Vec<Fact> {
    let word = size_of::<usize>();
    let f = |name: &str, value: usize| Fact {
        name: name.to_string(),
        value: value as i64,
        since: 0,
    };
    let mut v = vec![
        // TensorRT sees only the vptr of the object.
        f("ILogger.size", size_of::<*const c_void>()),
    ];
    match abi {
        LoggerAbi::Plain => v.extend([
            f("ILogger.versioned", 0),
            f("ILogger::log", offset_of!(PlainVtable, log) / word),
            f(
                "ILogger::~ILogger(complete)",
                offset_of!(PlainVtable, dtor_complete) / word,
            ),
            f(
                "ILogger::~ILogger(deleting)",
                offset_of!(PlainVtable, dtor_deleting) / word,
            ),
        ]),
        LoggerAbi::Versioned => v.extend([
            f("ILogger.versioned", 1),
            f("ILogger::log", offset_of!(VersionedVtable, log) / word),
            f(
                "ILogger::getAPILanguage",
                offset_of!(VersionedVtable, get_api_language) / word,
            ),
            f(
                "ILogger::getInterfaceInfo",
                offset_of!(VersionedVtable, get_interface_info) / word,
            ),
            f(
                "ILogger::~ILogger(complete)",
                offset_of!(VersionedVtable, dtor_complete) / word,
            ),
            f(
                "ILogger::~ILogger(deleting)",
                offset_of!(VersionedVtable, dtor_deleting) / word,
            ),
            f("InterfaceInfo.size", size_of::<InterfaceInfo>()),
            f("InterfaceInfo.kind", offset_of!(InterfaceInfo, kind)),
            f("InterfaceInfo.major", offset_of!(InterfaceInfo, major)),
            f("InterfaceInfo.minor", offset_of!(InterfaceInfo, minor)),
            f("InterfaceInfo.trivial", 1),
            f("APILanguage::kCPP", API_LANGUAGE_CPP as usize),
            f("ILogger.interfaceMajor", INTERFACE_MAJOR as usize),
            f("ILogger.interfaceMinor", INTERFACE_MINOR as usize),
            f(
                "ILogger.interfaceKindIsILogger",
                usize::from(INTERFACE_KIND == c"ILogger"),
            ),
        ]),
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls the logger the way TensorRT does: through the vtable slot check.cpp confirmed.
    fn call_log(logger: &TrtLogger, abi: LoggerAbi, sev: i32, msg: *const c_char) {
        let slot = facts(abi)
            .into_iter()
            .find(|f| f.name == "ILogger::log")
            .unwrap()
            .value as usize;
        // SAFETY: the logger's first word points at a static vtable with more than `slot` entries,
        // and slot `slot` holds `log`, whose signature is LogFn.
        unsafe {
            let vtable = *(logger.as_ptr() as *const *const usize);
            let f: LogFn = std::mem::transmute::<usize, LogFn>(*vtable.add(slot));
            f(logger.as_ptr(), sev, msg);
        }
    }

    #[test]
    fn both_vtables_route_log_to_the_sink() {
        for abi in [LoggerAbi::Plain, LoggerAbi::Versioned] {
            let sink = LogSink::new();
            let logger = TrtLogger::new(abi, sink.clone());
            let mark = sink.mark();
            call_log(
                &logger,
                abi,
                severity::ERROR,
                c"engine plan incompatible".as_ptr(),
            );
            call_log(&logger, abi, severity::INFO, c"loaded".as_ptr());
            assert_eq!(
                sink.since(mark),
                vec!["error: engine plan incompatible".to_string()],
                "{abi:?}"
            );
        }
    }

    #[test]
    fn null_and_invalid_utf8_do_not_panic() {
        let sink = LogSink::new();
        let logger = TrtLogger::new(LoggerAbi::Plain, sink.clone());
        let mark = sink.mark();
        call_log(
            &logger,
            LoggerAbi::Plain,
            severity::WARNING,
            std::ptr::null(),
        );
        let bad = [b'a', 0xff, b'b', 0];
        call_log(
            &logger,
            LoggerAbi::Plain,
            severity::INTERNAL_ERROR,
            bad.as_ptr() as *const c_char,
        );
        // SAFETY: a null `this` must be ignored, not dereferenced.
        unsafe { log(std::ptr::null_mut(), severity::ERROR, c"x".as_ptr()) };
        assert_eq!(
            sink.since(mark),
            vec!["warning: (null message)", "internal error: a\u{fffd}b"]
        );
    }

    #[test]
    fn keeps_only_the_last_lines_and_marks_work() {
        let sink = LogSink::new();
        for i in 0..40 {
            sink.record(severity::ERROR, format!("e{i}"));
        }
        let all = sink.since(Mark(0));
        assert_eq!(all.len(), KEEP);
        assert_eq!(all.last().unwrap(), "error: e39");
        let m = sink.mark();
        assert!(sink.since(m).is_empty());
        sink.record(severity::VERBOSE, "chatter".into());
        assert!(sink.since(m).is_empty());
    }

    #[test]
    fn versioned_interface_info_says_ilogger_1_0() {
        // SAFETY: the function ignores `this`.
        let info = unsafe { get_interface_info(std::ptr::null()) };
        // SAFETY: `kind` points at a static C string.
        assert_eq!(unsafe { CStr::from_ptr(info.kind) }, c"ILogger");
        assert_eq!((info.major, info.minor), (1, 0));
    }
}
