//! Progress on stderr (indicatif) and Ctrl-C: bars for phases and bytes, hidden with `-q` or when
//! stderr is not a terminal; the first Ctrl-C asks the running job to stop at the next safe point
//! (temporary files are removed as their owners drop), a second one removes every registered
//! temporary ([`crate::cleanup`]) and exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::extract::{Observer, Stage};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler (once).
pub fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                eprintln!("trt-dump: interrupted again: exiting now");
                // exit runs no destructors: remove the temporaries their owners would have.
                crate::cleanup::remove_all();
                std::process::exit(130);
            }
            eprintln!(
                "trt-dump: interrupted: stopping at the next safe point (Ctrl-C again to exit now)"
            );
        });
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Returns an `Interrupted` error if Ctrl-C was pressed.
pub fn check_interrupted() -> anyhow::Result<()> {
    if interrupted() {
        Err(anyhow::Error::new(crate::error::Error::new(
            crate::ErrorKind::Interrupted,
            "interrupted",
        )))
    } else {
        Ok(())
    }
}

/// Shows extraction's progress.
pub struct Bars {
    phases: ProgressBar,
    bytes: Option<ProgressBar>,
    started: Instant,
    stage_started: Instant,
    current: Option<Stage>,
    /// (stage, seconds, bytes serialized) for the closing summary and `-v`.
    pub timings: Vec<(Stage, f64, u64)>,
}

impl Bars {
    /// `total_steps`: how many serializations the run will make (for the bar's length).
    pub fn new(total_steps: u64) -> Bars {
        let target = if crate::messages::verbosity() == 0 {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let phases = ProgressBar::with_draw_target(Some(total_steps), target);
        phases.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} passes  {msg}",
            )
            .expect("valid template"),
        );
        Bars {
            phases,
            bytes: None,
            started: Instant::now(),
            stage_started: Instant::now(),
            current: None,
            timings: Vec::new(),
        }
    }

    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bytes.take() {
            b.finish_and_clear();
        }
        self.phases.finish_and_clear();
    }
}

impl Observer for Bars {
    fn stage(&mut self, stage: Stage) {
        if let Some(b) = self.bytes.take() {
            b.finish_and_clear();
        }
        self.current = Some(stage);
        self.stage_started = Instant::now();
        self.phases.set_message(stage.to_string());
        crate::detail!("{stage}");
    }

    fn serialized(&mut self, stage: Stage, bytes: u64) {
        let secs = self.stage_started.elapsed().as_secs_f64();
        self.timings.push((stage, secs, bytes));
        self.phases.inc(1);
        crate::detail!("  {stage}: {bytes} bytes in {secs:.2}s");
    }

    fn packed(&mut self, bytes: u64) {
        crate::detail!("  marker passes packed into {bytes} bytes");
    }

    fn bytes(&mut self, done: u64, total: u64) {
        if self.phases.is_hidden() {
            return;
        }
        let bar = self.bytes.get_or_insert_with(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("  {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
                    .expect("valid template"),
            );
            b
        });
        bar.set_position(done);
    }

    fn cancelled(&self) -> bool {
        interrupted()
    }
}
