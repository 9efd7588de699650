//! The command-line front end: parse, dispatch, and turn failures into messages and exit codes.

pub mod args;
pub mod diff;
pub mod dump;
pub mod info;
pub mod list;
pub mod locate;
pub mod progress;
pub mod report;
pub mod source;
pub mod verify;

use std::process::ExitCode;

use clap::Parser;

use crate::error::{self, ErrorKind};
use args::{Cli, Command};

/// What a subcommand reports when it finished without an error: success, or (verify/diff) "a
/// difference was found", which is not an error of the tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Differs,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { ErrorKind::Usage.exit_code() } else { 0 });
        }
    };
    crate::messages::set_verbosity(if cli.global.quiet { 0 } else { 1 + cli.global.verbose.min(2) });
    match run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Differs) => ExitCode::from(ErrorKind::Differs.exit_code()),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("trt-dump: error: {err:#}");
            if let Some(hint) = error::find(&err).and_then(|e| e.hint.as_deref()) {
                eprintln!("trt-dump: hint: {hint}");
            }
            ExitCode::from(error::exit_code_of(&err))
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let g = cli.global;
    match cli.command {
        Command::List(a) => list::run(&g, a),
        Command::Info(a) => info::run(&g, a),
        Command::Dump(a) => dump::run(&g, &a),
        Command::Map(a) => dump::run_map(&g, &a),
        Command::Verify(a) => verify::run(&g, a),
        Command::Diff(a) => diff::run(&g, a),
        Command::Locate(a) => locate::run(&g, a),
    }
}

/// A closed stdout (`trt-dump list x | head`) is not a failure (ripgrep does the same).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            // `--json` output goes through serde_json, whose error hides the io::Error.
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}
