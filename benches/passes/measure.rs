//! Measuring: a timing wrapper around the engine, an observer that stamps stages, /proc.

use std::cell::Cell;
use std::time::Instant;

use anyhow::Result;
use trt_dump::pipeline::engine::{Engine, Instance, PlanBytes, WeightSpec};
use trt_dump::pipeline::extract::{Observer, Stage};

use crate::sim::SimEngine;

/// Time spent inside the engine (the simulated TensorRT) and calls made.
#[derive(Default)]
pub(crate) struct EngineStats {
    pub(crate) seconds: Cell<f64>,
    pub(crate) instances: Cell<u64>,
    pub(crate) refits: Cell<u64>,
    pub(crate) serializes: Cell<u64>,
}

impl EngineStats {
    pub(crate) fn add(&self, t: Instant, count: &Cell<u64>) {
        self.seconds
            .set(self.seconds.get() + t.elapsed().as_secs_f64());
        count.set(count.get() + 1);
    }
}

/// The engine, with every call timed: what is not in here is host-side work.
pub(crate) struct Timed<'a> {
    pub(crate) inner: &'a SimEngine,
    pub(crate) stats: &'a EngineStats,
}

pub(crate) struct TimedInstance<'a> {
    pub(crate) inner: Box<dyn Instance + 'a>,
    pub(crate) stats: &'a EngineStats,
}

impl Engine for Timed<'_> {
    fn weights(&self) -> &[WeightSpec] {
        self.inner.weights()
    }
    fn instance(&self) -> Result<Box<dyn Instance + '_>> {
        let t = Instant::now();
        let inner = self.inner.instance()?;
        self.stats.add(t, &self.stats.instances);
        Ok(Box::new(TimedInstance {
            inner,
            stats: self.stats,
        }))
    }
    fn instance_of(&self, plan: &[u8]) -> Result<Box<dyn Instance + '_>> {
        let t = Instant::now();
        let inner = self.inner.instance_of(plan)?;
        self.stats.add(t, &self.stats.instances);
        Ok(Box::new(TimedInstance {
            inner,
            stats: self.stats,
        }))
    }
}

impl Instance for TimedInstance<'_> {
    fn serialize(&mut self) -> Result<Box<dyn PlanBytes>> {
        let t = Instant::now();
        let out = self.inner.serialize()?;
        self.stats.add(t, &self.stats.serializes);
        Ok(out)
    }
    fn refit(&mut self, values: &[&[u8]]) -> Result<()> {
        let t = Instant::now();
        self.inner.refit(values)?;
        self.stats.add(t, &self.stats.refits);
        Ok(())
    }
}

/// Stamps every stage with wall time and engine time so far.
pub(crate) struct Clock<'a> {
    pub(crate) t0: Instant,
    pub(crate) stats: &'a EngineStats,
    pub(crate) stamps: Vec<(Stage, f64, f64)>,
    pub(crate) decode_end: Option<f64>,
    /// Bytes the packed marker passes took.
    pub(crate) packed: u64,
}

impl<'a> Clock<'a> {
    pub(crate) fn new(stats: &'a EngineStats) -> Clock<'a> {
        Clock {
            t0: Instant::now(),
            stats,
            stamps: Vec::new(),
            decode_end: None,
            packed: 0,
        }
    }
    pub(crate) fn at(&self, want: impl Fn(Stage) -> bool) -> Option<f64> {
        self.stamps
            .iter()
            .find(|(s, ..)| want(*s))
            .map(|(_, t, _)| *t)
    }
}

impl Observer for Clock<'_> {
    fn stage(&mut self, stage: Stage) {
        self.stamps.push((
            stage,
            self.t0.elapsed().as_secs_f64(),
            self.stats.seconds.get(),
        ));
    }
    fn packed(&mut self, bytes: u64) {
        self.packed = bytes;
    }
    fn bytes(&mut self, done: u64, total: u64) {
        // decode() reports the full length once, when its scan is over.
        if done == total {
            self.decode_end = Some(self.t0.elapsed().as_secs_f64());
        }
    }
}

pub(crate) fn proc_status_kb(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0: `echo 5 > /proc/self/clear_refs`), so a peak
/// read afterwards covers only what follows.
pub(crate) fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Samples RssAnon (anonymous resident memory, not file-backed pages) every 2 ms on a thread,
/// keeping the maximum.
pub(crate) struct AnonPeak {
    pub(crate) stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub(crate) handle: std::thread::JoinHandle<u64>,
}

impl AnonPeak {
    pub(crate) fn start() -> AnonPeak {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut max = 0;
            loop {
                max = max.max(proc_status_kb("RssAnon:").unwrap_or(0) * 1024);
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    return max;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        AnonPeak { stop, handle }
    }

    pub(crate) fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

pub(crate) fn rss_bytes() -> u64 {
    proc_status_kb("VmRSS:").unwrap_or(0) * 1024
}

pub(crate) fn peak_bytes() -> u64 {
    proc_status_kb("VmHWM:").unwrap_or(0) * 1024
}

pub(crate) fn mem_available() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let l = s
                .lines()
                .find(|l| l.starts_with("MemAvailable:"))?
                .to_string();
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .unwrap_or(0)
        * 1024
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub(crate) fn gbps(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / seconds / 1e9
}
