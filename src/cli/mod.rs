//! The command-line front end: parse, dispatch, and turn failures into messages and exit codes.

pub mod args;
pub mod diff;
pub mod dump;
pub mod engine_dir;
pub mod info;
pub mod list;
pub mod locate;
pub mod names;
pub mod progress;
pub mod refit;
pub mod report;
pub mod source;
pub mod verify;
pub mod view;

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
    // `--json` is honoured on every failure, usage errors included: read it from the raw arguments
    // too, since clap may not have parsed them.
    let raw_json = std::env::args_os()
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            if raw_json {
                // clap's text less its "error: " prefix and the usage block, on one line.
                let text = e.to_string();
                let body = text.split("\n\nUsage:").next().unwrap_or("");
                let message = body
                    .trim_start_matches("error: ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let hint = "see `trt-dump --help` and `trt-dump COMMAND --help`";
                print_json(&error_json(
                    ErrorKind::Usage.exit_code(),
                    &message,
                    Some(hint),
                ));
            }
            return ExitCode::from(ErrorKind::Usage.exit_code());
        }
    };
    let json = cli.command.json();
    crate::messages::set_verbosity(if cli.global.quiet {
        0
    } else {
        1 + cli.global.verbose.min(2)
    });
    match run(cli) {
        Ok(outcome) => {
            if let Some(report) = take_report() {
                print_json(&report);
            }
            match outcome {
                Outcome::Success => ExitCode::SUCCESS,
                Outcome::Differs => ExitCode::from(ErrorKind::Differs.exit_code()),
            }
        }
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("trt-dump: error: {err:#}");
            let hint = error::find(&err).and_then(|e| e.hint.as_deref());
            if let Some(hint) = hint {
                eprintln!("trt-dump: hint: {hint}");
            }
            let code = error::exit_code_of(&err);
            if json {
                let e = error_json(code, &format!("{err:#}"), hint);
                // A report already made (exit 11, 12, ...) carries the error; otherwise the error
                // is the whole output.
                let out = match take_report() {
                    Some(serde_json::Value::Object(mut m)) => {
                        m.insert("error".into(), e["error"].clone());
                        serde_json::Value::Object(m)
                    }
                    _ => e,
                };
                print_json(&out);
            }
            ExitCode::from(code)
        }
    }
}

/// The `--json` report a command made, printed by [`main`] once the run's outcome is known, so
/// that a failure after the report (exit 11, 12...) can add its `error` member to it.
static REPORT: std::sync::Mutex<Option<serde_json::Value>> = std::sync::Mutex::new(None);

/// Hands the command's `--json` report to [`main`], which prints it on stdout (with an `error`
/// member when the run then fails).
pub fn emit_json<T: serde::Serialize>(report: &T) -> anyhow::Result<()> {
    let v = serde_json::to_value(report)?;
    *REPORT.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
    Ok(())
}

fn take_report() -> Option<serde_json::Value> {
    REPORT.lock().unwrap_or_else(|p| p.into_inner()).take()
}

fn print_json(v: &serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // A closed stdout is not a failure (see is_broken_pipe).
    let _ = serde_json::to_writer_pretty(&mut out, v)
        .and_then(|()| writeln!(out).map_err(serde_json::Error::io));
    let _ = out.flush();
}

/// `{"error": {"kind", "exit_code", "message", "hint"}}`: `kind` is [`ErrorKind::json_name`] of the
/// exit status (`other` for 15); `hint` is null when there is none.
pub fn error_json(code: u8, message: &str, hint: Option<&str>) -> serde_json::Value {
    let kind = ErrorKind::ALL
        .iter()
        .find(|k| k.exit_code() == code)
        .map(|k| k.json_name())
        .unwrap_or(if code == error::EXIT_OTHER {
            "other"
        } else {
            "internal"
        });
    serde_json::json!({
        "error": {
            "kind": kind,
            "exit_code": code,
            "message": message,
            "hint": hint,
        }
    })
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
        Command::View(a) => view::run(&g, &a),
        Command::Refit(a) if crate::engine_dir::is_dir_input(&a.engine) => {
            engine_dir::refit(&g, &a)
        }
        Command::Refit(a) => engine_dir::refuse_devices(&g).and_then(|()| refit::run(&g, &a)),
        Command::Selftest(a) => crate::selftest::run(&g, &a),
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
