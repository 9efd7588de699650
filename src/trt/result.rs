//! The result layer: TensorRT's objects and calls as thin functions returning `Result`.
//!
//! A public TensorRT object is `{ vptr, mImpl }` ([`abi`](super::abi)). [`Obj`] is one such object,
//! checked non-null with a non-null `mImpl`, released exactly once through its deleting destructor;
//! [`Obj::method`] reads `mImpl`, its vtable and the function at a [`SlotIndex`], typed by that
//! slot's signature. TensorRT reports failure as null or `false` plus logger messages: every such
//! call goes through one macro, [`trt!`], which turns them into a [`TrtFailure`] carrying what
//! TensorRT logged during the call (ort's `ortsys!`). The safe owning handles ([`super::safe`]) are
//! built on this; nothing else calls a vtable.

use std::ffi::{c_char, c_void, CStr};
use std::mem::size_of;
use std::ptr::NonNull;
use std::sync::Arc;

use super::abi::{FnDtor, Layout, SlotIndex, DELETING_DTOR_SLOT, IMPL_WORD};
use super::loader::TrtLib;
use super::logger::{LogSink, Mark};
use crate::error::{Error, ErrorKind};

/// A failed TensorRT call and what TensorRT logged while it ran.
#[derive(Debug, Clone)]
pub struct TrtFailure {
    pub call: String,
    pub messages: Vec<String>,
}

impl TrtFailure {
    /// TensorRT's own words, or a note that it gave none.
    pub fn reason(&self) -> String {
        if self.messages.is_empty() {
            "TensorRT logged no reason (run with -vv to see all of its messages)".to_string()
        } else {
            self.messages.join("; ")
        }
    }

    /// As a `TrtRefused` error.
    pub fn refused(self) -> anyhow::Error {
        anyhow::Error::new(Error::new(
            ErrorKind::TrtRefused,
            format!("TensorRT refused {}: {}", self.call, self.reason()),
        ))
    }
}

impl std::fmt::Display for TrtFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.call, self.reason())
    }
}

impl std::error::Error for TrtFailure {}

/// `-vvv`: one line per TensorRT object created (`+`) and released (`-`).
fn trace(what: &str, sign: char, ptr: *mut c_void) {
    if crate::messages::verbosity() >= 3 {
        eprintln!("trt-dump: {sign} {what} {ptr:p}");
    }
}

/// A public TensorRT object (`{ vptr, mImpl }`), owned: released in `Drop`.
pub(crate) struct Obj {
    obj: NonNull<c_void>,
    what: &'static str,
}

impl Obj {
    /// Takes ownership of `p`; `None` when it is null or has a null `mImpl` (then it is left
    /// alone: TensorRT could not have made it).
    ///
    /// # Safety
    /// `p` must be null or a live public TensorRT object of type `what` that the caller owns.
    pub(crate) unsafe fn new(p: *mut c_void, what: &'static str) -> Option<Obj> {
        let obj = NonNull::new(p)?;
        // SAFETY: non-null and, per the caller, a public object of at least two words; word
        // IMPL_WORD is mImpl (check.cpp: `IRuntime.mImpl 8` etc.).
        let imp = unsafe { *(obj.as_ptr() as *const *mut c_void).add(IMPL_WORD) };
        if imp.is_null() {
            return None;
        }
        trace(what, '+', p);
        Some(Obj { obj, what })
    }

    pub(crate) fn ptr(&self) -> *mut c_void {
        self.obj.as_ptr()
    }

    /// The `mImpl` object (the `this` to pass) and the function at `slot` of its vtable.
    ///
    /// # Safety
    /// `slot` must belong to this object's interface in the loaded library's layout, and the
    /// library's minor must have it ([`Layout::has`], [`Ctx::check`]).
    pub(crate) unsafe fn method<F: Copy>(&self, slot: SlotIndex<F>) -> (*mut c_void, F) {
        const { assert!(size_of::<F>() == size_of::<usize>()) };
        // SAFETY: the object is live and checked at construction to have a non-null mImpl, whose
        // first word is its vtable pointer; the caller vouches that `slot` is inside that vtable,
        // and `SlotIndex<F>` carries the slot's signature from the transcribed vtable.
        unsafe {
            let imp = *(self.ptr() as *const *mut c_void).add(IMPL_WORD);
            let vtable = *(imp as *const *const usize);
            let f = *vtable.add(slot.index);
            (imp, std::mem::transmute_copy::<usize, F>(&f))
        }
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        trace(self.what, '-', self.ptr());
        // SAFETY: the object is owned (Obj is never cloned) and released only here.
        unsafe { delete(self.ptr()) };
    }
}

/// `delete p` for a public TensorRT object.
///
/// # Safety
/// `p` must be a live public TensorRT object owned by the caller, not used afterwards.
unsafe fn delete(p: *mut c_void) {
    // SAFETY: the first word of a polymorphic object is its vtable pointer; slot 1 of a public
    // object's own vtable is its deleting destructor, which takes only `this` (check.cpp:
    // `IRuntime::~IRuntime(deleting) 1`).
    unsafe {
        let vtable = *(p as *const *const usize);
        let f: FnDtor = std::mem::transmute::<usize, FnDtor>(*vtable.add(DELETING_DTOR_SLOT));
        f(p);
    }
}

/// What every call needs: the library (layout, version) and the log TensorRT writes to.
pub(crate) struct Ctx {
    pub(crate) lib: Arc<TrtLib>,
    pub(crate) sink: Arc<LogSink>,
}

impl Ctx {
    pub(crate) fn layout(&self) -> &'static Layout {
        self.lib.layout
    }

    /// Whether the loaded minor has `slot` (optional methods are skipped when not).
    pub(crate) fn has<F>(&self, slot: SlotIndex<F>) -> bool {
        self.layout().has(slot, self.lib.version.minor)
    }

    /// Refuses a required method the loaded minor version lacks.
    pub(crate) fn check<F>(&self, slot: SlotIndex<F>, what: &str) -> anyhow::Result<()> {
        if self.has(slot) {
            return Ok(());
        }
        Err(anyhow::Error::new(Error::new(
            ErrorKind::TrtNotFound,
            format!(
                "{} lacks {what}, added in {}.{}; use a newer TensorRT",
                self.lib.describe(),
                self.layout().major,
                slot.since
            ),
        )))
    }

    /// A [`TrtFailure`] of `call` with what TensorRT logged since `mark`.
    pub(crate) fn failure(&self, call: &str, mark: Mark) -> TrtFailure {
        TrtFailure {
            call: call.to_string(),
            messages: self.sink.since(mark),
        }
    }
}

/// Every vtable call, in one of three forms (all to be used inside an `unsafe` block whose
/// `// SAFETY:` line names the slot's C++ signature and why the arguments are valid):
///
/// - `trt!(obj, slot, args…)`: the call's value (getters, setters whose result is ignored);
/// - `trt!(new "IFoo", ctx, "call", obj, slot, args…)`: a method returning a new object the caller
///   owns, as `Result<Obj, TrtFailure>` (null → the failure, with TensorRT's messages);
/// - `trt!(ok ctx, "call", obj, slot, args…)`: a method returning C++ `bool`, as
///   `Result<(), TrtFailure>` (false → the failure).
macro_rules! trt {
    (new $what:literal, $ctx:expr, $call:expr, $obj:expr, $slot:expr $(, $arg:expr)*) => {{
        let ctx: &$crate::trt::result::Ctx = $ctx;
        let mark = ctx.sink.mark();
        let (this, f) = $obj.method($slot);
        let p = f(this $(, $arg)*);
        $crate::trt::result::Obj::new(p, $what).ok_or_else(|| ctx.failure(&$call, mark))
    }};
    (ok $ctx:expr, $call:expr, $obj:expr, $slot:expr $(, $arg:expr)*) => {{
        let ctx: &$crate::trt::result::Ctx = $ctx;
        let mark = ctx.sink.mark();
        let (this, f) = $obj.method($slot);
        if f(this $(, $arg)*) != 0 {
            Ok(())
        } else {
            Err(ctx.failure(&$call, mark))
        }
    }};
    ($obj:expr, $slot:expr $(, $arg:expr)*) => {{
        let (this, f) = $obj.method($slot);
        f(this $(, $arg)*)
    }};
}
pub(crate) use trt;

/// A C string TensorRT returned, copied.
///
/// # Safety
/// `p` must be null or a NUL-terminated string that stays valid for the call.
pub(crate) unsafe fn read_str(p: *const c_char) -> Option<String> {
    // SAFETY: non-null here; NUL-terminated and valid per the caller.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}
