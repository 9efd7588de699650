//! The GPU, through cudarc's driver API loaded at run time. Without a driver or without the
//! requested device this does not fail: it returns a diagnosis, which is shown next to
//! TensorRT's own error if TensorRT then fails (TensorRT may know better, e.g. under MPS).

use std::sync::Arc;

use cudarc::driver::CudaContext;

/// The device selected: its primary context is current on this thread, which is where
/// TensorRT's CUDA runtime then works.
pub struct Gpu {
    pub ordinal: usize,
    pub name: String,
    pub compute_capability: (i32, i32),
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub device_count: usize,
    ctx: Arc<CudaContext>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("ordinal", &self.ordinal)
            .field("name", &self.name)
            .field("compute_capability", &self.compute_capability)
            .finish()
    }
}

impl Gpu {
    /// The context, to keep alive as long as TensorRT objects live in it.
    pub fn context(&self) -> Arc<CudaContext> {
        self.ctx.clone()
    }

    /// "NVIDIA H100 80GB HBM3 (GPU 0, compute capability 9.0, 79.1 GiB free of 79.6 GiB)".
    pub fn describe(&self) -> String {
        format!(
            "{} (GPU {}, compute capability {}.{}, {} free of {})",
            self.name,
            self.ordinal,
            self.compute_capability.0,
            self.compute_capability.1,
            human_bytes(self.free_bytes),
            human_bytes(self.total_bytes)
        )
    }
}

/// Whether an engine file of `engine_len` bytes may be loaded on a GPU with `free_bytes` free.
/// TensorRT keeps an engine's weights and kernels in GPU memory, so an engine larger than the free
/// memory cannot be deserialized: it is refused before TensorRT is asked, instead of failing
/// midway with an allocation error. (Fitting is necessary, not sufficient: TensorRT may still run
/// out of memory for its workspace; that is reported as TensorRT's refusal.)
pub fn engine_fits(engine_len: u64, free_bytes: u64) -> bool {
    engine_len <= free_bytes
}

/// The [`ErrorKind::GpuOutOfMemory`](crate::error::ErrorKind) error for an engine that does not
/// fit (see [`engine_fits`]).
pub fn out_of_memory(
    engine: &std::path::Path,
    engine_len: u64,
    ordinal: usize,
    name: &str,
    free_bytes: u64,
    total_bytes: u64,
) -> crate::error::Error {
    crate::error::Error::new(
        crate::error::ErrorKind::GpuOutOfMemory,
        format!(
            "engine `{}` is {} but GPU {ordinal} ({name}) has only {} free of {}",
            engine.display(),
            human_bytes(engine_len),
            human_bytes(free_bytes),
            human_bytes(total_bytes)
        ),
    )
    .with_hint("free GPU memory (see nvidia-smi for other processes) or choose another GPU with --device N")
}

/// Why no GPU could be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoGpu {
    /// libcuda.so could not be loaded.
    NoDriver,
    /// The driver answered with an error (no device, driver too old, …).
    DriverError(String),
    /// Fewer devices than the ordinal asked for.
    NoSuchDevice { ordinal: usize, count: usize },
}

impl std::fmt::Display for NoGpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoGpu::NoDriver => f.write_str("no CUDA driver: libcuda.so could not be loaded"),
            NoGpu::DriverError(e) => write!(f, "the CUDA driver reported: {e}"),
            NoGpu::NoSuchDevice { ordinal, count: 0 } => {
                write!(f, "no GPU {ordinal}: no CUDA device found")
            }
            NoGpu::NoSuchDevice { ordinal, count } => {
                write!(
                    f,
                    "no GPU {ordinal}: {count} CUDA device(s) found (--device 0..{})",
                    count - 1
                )
            }
        }
    }
}

pub type GpuStatus = Result<Gpu, NoGpu>;

/// How many CUDA devices the driver shows (after CUDA_VISIBLE_DEVICES), or why it cannot say.
pub fn device_count() -> Result<usize, NoGpu> {
    // SAFETY: as in `select`: only tries to dlopen libcuda, before any other cudarc call.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(NoGpu::NoDriver);
    }
    quiet_catch(|| CudaContext::device_count().map_err(|e| NoGpu::DriverError(e.to_string())))
        .unwrap_or_else(|msg| Err(NoGpu::DriverError(msg)))
        .map(|n| usize::try_from(n).unwrap_or(0))
}

/// Selects GPU `ordinal` (binding its primary context to this thread), or says why not.
pub fn select(ordinal: usize) -> GpuStatus {
    // SAFETY: is_culib_present only tries to dlopen libcuda under its known names; it must come
    // before any other cudarc call, which would panic without the library.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(NoGpu::NoDriver);
    }
    // cudarc panics on a driver lacking one of its symbols; keep such a panic a diagnosis.
    quiet_catch(|| probe(ordinal)).unwrap_or_else(|msg| Err(NoGpu::DriverError(msg)))
}

fn probe(ordinal: usize) -> GpuStatus {
    let count = CudaContext::device_count().map_err(|e| NoGpu::DriverError(e.to_string()))?;
    let count = usize::try_from(count).unwrap_or(0);
    if ordinal >= count {
        return Err(NoGpu::NoSuchDevice { ordinal, count });
    }
    let err = |e: cudarc::driver::DriverError| NoGpu::DriverError(e.to_string());
    let ctx = CudaContext::new(ordinal).map_err(err)?;
    let name = ctx.name().map_err(err)?;
    let compute_capability = ctx.compute_capability().map_err(err)?;
    let (free, total) = ctx.mem_get_info().map_err(err)?;
    Ok(Gpu {
        ordinal,
        name,
        compute_capability,
        free_bytes: free as u64,
        total_bytes: total as u64,
        device_count: count,
        ctx,
    })
}

/// Runs `f`, turning a panic into its message without printing it.
fn quiet_catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    r.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "cudarc panicked".to_string())
    })
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// TensorRT-RTX runs on these compute capabilities only (not 9.x: H100, H200, GH200).
pub fn rtx_supports(cc: (i32, i32)) -> bool {
    matches!(cc, (8, 0) | (8, 6) | (8, 9)) || cc.0 == 12
}

pub const RTX_SUPPORTED_TEXT: &str =
    "compute capability 8.0, 8.6, 8.9 or 12.x (A100, RTX 30xx/A-series, \
    RTX 40xx/L4/L40, RTX 50xx/RTX PRO Blackwell)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnoses_read_plainly() {
        assert_eq!(
            NoGpu::NoSuchDevice {
                ordinal: 3,
                count: 2
            }
            .to_string(),
            "no GPU 3: 2 CUDA device(s) found (--device 0..1)"
        );
        assert_eq!(
            NoGpu::NoSuchDevice {
                ordinal: 0,
                count: 0
            }
            .to_string(),
            "no GPU 0: no CUDA device found"
        );
        assert!(NoGpu::NoDriver.to_string().contains("no CUDA driver"));
    }

    #[test]
    fn select_never_panics_here() {
        // On a machine without a driver this is NoDriver; with one, anything but a panic.
        let s = select(usize::MAX);
        assert!(s.is_err());
    }

    #[test]
    fn rtx_gpu_support() {
        assert!(!rtx_supports((9, 0)));
        assert!(rtx_supports((8, 9)));
        assert!(rtx_supports((12, 0)));
        assert!(!rtx_supports((7, 5)));
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
