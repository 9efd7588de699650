//! The command line, as clap sees it. Parsing only: nothing here loads TensorRT or touches files,
//! so `--help` and `--version` answer on any machine.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::ErrorKind;
pub use crate::writer::Format;

const TOP_AFTER_HELP: &str = "\
EXAMPLES:
    trt-dump dump model.engine -o weights.safetensors
    trt-dump dump model.engine -o weights.npz --compress
    trt-dump dump model.engine -o weights_dir/
    trt-dump list model.engine --json
    trt-dump info model.engine
    trt-dump map model.engine -o model.engine.trtmap        (GPU once ...)
    trt-dump dump model.engine --map model.engine.trtmap -o w.safetensors   (... then CPU only)
    trt-dump verify model.engine --against checkpoint.safetensors
    trt-dump diff old.engine new.engine --json
    trt-dump locate model.engine --reference model.onnx -o model.engine.trtmap
    trt-dump view model.engine -o model.html                (what is inside, as a page)
    trt-dump list model.engine --stats                     (min, max, mean, std per weight)
    trt-dump refit model.engine --weights w.safetensors -o new.engine
    trt-dump dump engine_dir/ -o checkpoint_dir/ --devices 0,1   (TensorRT-LLM engine directory)
    trt-dump refit engine_dir/ --weights checkpoint_dir/ -o new_engine_dir/

WHERE TENSORRT IS LOOKED FOR (first found wins):
    1. --trt-lib PATH (a library file, or a folder holding one)
    2. the TRT_DUMP_TRT_LIB environment variable (same forms)
    3. the dynamic loader's search (LD_LIBRARY_PATH, ldconfig) for libnvinfer.so.11,
       libnvinfer.so.10, libnvinfer_lean.so.11, libnvinfer_lean.so.10, libtensorrt_rtx.so.1
    4. tensorrt_libs/, tensorrt_lean_libs/, tensorrt_rtx_libs/ (pip install tensorrt-cu12 for
       TensorRT; TensorRT-RTX's wheel for tensorrt_rtx_libs/) in the site-packages of the Python
       environment trt-dump is installed in (venv/bin/trt-dump: no need to activate it), then of
       $VIRTUAL_ENV and $CONDA_PREFIX
    5. the same folders in the site-packages of the python3 found on PATH
";

#[derive(Debug, Parser)]
#[command(
    name = "trt-dump",
    version = env!("TRT_DUMP_LONG_VERSION"),
    about = "Extract every refittable weight from a REFIT-enabled TensorRT engine",
    long_about = "Extract every refittable weight tensor from a REFIT-enabled TensorRT engine file \
                  (no ONNX, no original model, no sidecar) into safetensors, .npz or .npy files. \
                  Weights are located by refitting marker values and reading the serialized plan, \
                  and every extraction is proven by refitting the extracted values and checking \
                  that the engine bytes come back identical.",
    after_help = TOP_AFTER_HELP,
    after_long_help = format!("{TOP_AFTER_HELP}\n{}", exit_status_help()),
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// TensorRT library to load: a file (libnvinfer.so.10, libnvinfer_lean.so.11,
    /// libtensorrt_rtx.so.1, ...) or a folder holding one
    #[arg(long, global = true, value_name = "PATH")]
    pub trt_lib: Option<PathBuf>,

    /// Plugin library to load before deserializing (repeatable), e.g. libnvinfer_plugin.so.10
    /// or TensorRT-LLM's libnvinfer_plugin_tensorrt_llm.so
    #[arg(long = "plugin", global = true, value_name = "PATH")]
    pub plugins: Vec<PathBuf>,

    /// GPU ordinal to use
    #[arg(long, global = true, value_name = "N", default_value_t = 0)]
    pub device: usize,

    /// Engine directories: GPUs to run ranks on, one rank at a time on each (default: every
    /// visible GPU; more ranks than GPUs queue)
    #[arg(long, global = true, value_name = "N,N,...", value_delimiter = ',')]
    pub devices: Option<Vec<usize>>,

    /// More detail on stderr (-v: one line per weight; -vv: TensorRT's own log lines)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print nothing on stderr but errors; no progress bars
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the engine's refittable weights: name, dtype, element count
    #[command(
        long_about = "List every refittable weight the engine's refitter names, with its refit \
                      dtype and element count, and totals. Needs TensorRT (and a GPU it can \
                      deserialize the engine on), or a map file: --map, or ENGINE.trtmap beside \
                      the engine when it fits it.",
        after_help = "EXAMPLES:\n    trt-dump list model.engine\n    trt-dump list model.engine --json | jq '.weights[].name'\n    trt-dump list model.engine --map model.engine.trtmap\n    trt-dump list model.engine --stats --json | jq '.weights[] | {name, stats}'"
    )]
    List(ListArgs),

    /// Show what the engine is: TensorRT version, GPU, size, refittability, layers, I/O tensors
    #[command(
        long_about = "Show the TensorRT flavour and version loaded, the GPU used, the engine file \
                      size and the TensorRT version that built it, whether it is refittable, its \
                      layers, optimization profiles and I/O tensors, and the count and bytes of its \
                      refittable weights. Without TensorRT: what the file itself tells (flavour, \
                      the version that built it, length, the map beside it), exit 0.",
        after_help = "EXAMPLES:\n    trt-dump info model.engine\n    trt-dump info model.engine --json"
    )]
    Info(InfoArgs),

    /// Extract every refittable weight into safetensors, .npz or a folder of .npy files
    #[command(
        long_about = "Extract every refittable weight. With a GPU and TensorRT: refit marker \
                      values in a handful of passes, find where each element is stored, read the \
                      values from the engine, then prove the result by refitting it and checking \
                      that the engine bytes come back identical. With a map (--map, or a sidecar \
                      ENGINE.trtmap that matches the engine): read the values on the CPU alone.",
        after_help = "EXAMPLES:\n    trt-dump dump model.engine -o weights.safetensors\n    trt-dump dump model.engine -o weights.npz --compress\n    trt-dump dump model.engine -o out_dir/ --format npy\n    trt-dump dump model.engine -o w.safetensors --shapes-from model.onnx\n    trt-dump dump model.engine -o w.safetensors --names-from state_dict.safetensors\n    trt-dump dump model.engine -o w.safetensors --save-map model.engine.trtmap\n    trt-dump dump model.engine --map model.engine.trtmap -o w.safetensors"
    )]
    Dump(DumpArgs),

    /// Learn where every weight is stored and save it as a map for CPU-only work later
    #[command(
        after_help = "EXAMPLES:\n    trt-dump map model.engine -o model.engine.trtmap\n    trt-dump dump model.engine -o w.safetensors     # finds the sidecar map, no GPU needed"
    )]
    Map(MapArgs),

    /// Check the engine's weights against a reference (safetensors, npz or ONNX)
    #[command(
        long_about = "Read the engine's weights as dump does (--map, a matching sidecar \
                      ENGINE.trtmap, or TensorRT on the GPU) and compare each with the reference \
                      tensor of the same name; an engine weight whose name the reference lacks \
                      (onnx::MatMul_42) is paired with the one reference tensor holding its values \
                      (exactly, transposed, or rounded to the engine's dtype), and every pairing is \
                      listed (--no-pairing: by name only). Exact by default: equal bits after rounding the \
                      reference to the engine's refit dtype; --rtol/--atol accept \
                      |engine - reference| <= atol + rtol * |reference|. Errors are reported against \
                      the reference's own values. Reference tensors the engine does not name are \
                      listed but do not fail the check; engine weights missing from the reference, \
                      with another element count, or not recovered (unless --allow-missing) do. \
                      Exit 0: everything matches; 1: a difference; 11: weights not recovered.",
        after_help = "EXAMPLES:\n    trt-dump verify model.engine --against checkpoint.safetensors\n    trt-dump verify model.engine --against model.onnx --atol 1e-3 --json"
    )]
    Verify(VerifyArgs),

    /// Which weights differ between two engines of the same architecture, and by how much
    #[command(
        long_about = "Read both engines' weights (--map-a/--map-b, matching sidecars, or TensorRT \
                      on the GPU) and compare them by name: per weight, the elements whose bits \
                      differ and the largest absolute difference; names found in only one engine; \
                      dtype or element-count changes. --rtol/--atol accept \
                      |a - b| <= atol + rtol * max(|a|, |b|). Exit 0: identical; 1: different; \
                      11: weights not recovered (see --allow-missing).",
        after_help = "EXAMPLES:\n    trt-dump diff old.engine new.engine\n    trt-dump diff old.engine new.engine --map-a old.trtmap --map-b new.trtmap --json"
    )]
    Diff(DiffArgs),

    /// Put new weight values into a refittable engine and write it with its weights in
    #[command(
        long_about = "Refit ENGINE with the tensors of a weights file (safetensors, .npz, a folder of \
                      .npy files - trt-dump's own outputs included - or an ONNX model, external data \
                      too) and serialize it with its weights included (kEXCLUDE_WEIGHTS cleared, \
                      kINCLUDE_REFIT set where TensorRT has it), so that even a weight-stripped engine \
                      comes out whole. Names match exactly (--rename FROM=TO rewrites a prefix); \
                      element counts must equal the refitter's; each value is converted to the refit \
                      dtype only when that is exact (--cast accepts rounding, and reports it). Weights \
                      the file does not hold keep the engine's own values (read through a map or \
                      marker passes where TensorRT needs them set). Before the output is renamed into \
                      place, its bytes are read back and compared bit for bit with what TensorRT \
                      stores for the requested values (--no-verify skips this). The input is never \
                      modified. Exit 16: the file does not fit the engine; nothing is written.",
        after_help = "EXAMPLES:\n    trt-dump dump model.engine -o w.safetensors      # dump, edit w.safetensors, then:\n    trt-dump refit model.engine --weights w.safetensors -o new.engine\n    trt-dump refit stripped.engine --weights model.onnx -o full.engine\n    trt-dump refit model.engine --weights ckpt.safetensors --rename model.=transformer. -o new.engine"
    )]
    Refit(RefitArgs),

    /// Without GPU or TensorRT, find reference tensors in the engine bytes and write a map
    #[command(
        after_help = "EXAMPLES:\n    trt-dump locate model.engine --reference model.onnx -o model.engine.trtmap\n    trt-dump locate model.engine --reference weights.safetensors -o m.trtmap --json"
    )]
    Locate(LocateArgs),

    /// Build, with your TensorRT, the small REFIT networks this binary carries, dump each and
    /// check every weight against its known value
    #[command(
        long_about = "Build, with your TensorRT (full library plus its ONNX parser), the small REFIT \
                      networks this binary carries (fp32 and fp16 MLPs, Conv+BatchNorm+ReLU, LayerNorm, \
                      a weight used twice, a STRIP_PLAN build, a weight of over 8.4 M elements), run \
                      `dump` on each and compare with what each must give. One line per model and a \
                      verdict. Exit 0: every model as expected; 1: one did not; 5: TensorRT built the \
                      engines but refused to run them on this GPU; 7: this TensorRT cannot build (lean \
                      runtime, no ONNX parser).",
        after_help = "EXAMPLES:\n    trt-dump selftest\n    trt-dump selftest --trt-lib /opt/TensorRT/lib --keep selftest-engines --json\n    trt-dump selftest --export-models models/    (ONNX + safetensors only; build them with trtexec)"
    )]
    Selftest(SelftestArgs),
    /// Show what is inside the engine: a self-contained HTML page (byte strip, weight table with
    /// statistics, summary) or the byte strip alone as an SVG
    #[command(
        long_about = "Draw where every weight lives in the engine, byte for byte: one self-contained \
                      HTML page (inline CSS, script and SVG, nothing fetched) with the engine as a \
                      zoomable byte strip (weights coloured by name prefix, the plan header, bytes \
                      that are not weights; stored dtype and layout lanes; copies linked), the weight \
                      table (name, dtypes, elements, offsets, layout, copies, statistics, histogram; \
                      search and sort) and a summary (how much is weights, how much is duplicated, what \
                      could not be located and why). `-o FILE.svg` writes the byte strip alone. The \
                      weights come as for dump: --map, a matching sidecar ENGINE.trtmap, or TensorRT. \
                      Weights that could not be recovered are drawn as such and do not fail the \
                      command (exit 0).",
        after_help = "EXAMPLES:\n    trt-dump view model.engine -o model.html\n    trt-dump view model.engine --map model.engine.trtmap -o strip.svg"
    )]
    View(ViewArgs),
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The engine file (never written to)
    pub engine: PathBuf,
    /// The page (`.html`) or byte strip (`.svg`) to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace an existing output
    #[arg(long)]
    pub force: bool,
    /// Read the engine through this map on the CPU alone (no GPU, no TensorRT)
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Ignore a sidecar ENGINE.trtmap and always map with TensorRT
    #[arg(long)]
    pub no_sidecar: bool,
    /// Skip the round-trip proof when mapping with TensorRT
    #[arg(long)]
    pub no_verify: bool,
    /// Keep the zero baseline (and the untouched serialization, when it differs from the file) in
    /// files in this folder instead of in memory; marker passes are always packed in memory
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Show weights under this checkpoint's names (safetensors, .npz, folder of .npy, or ONNX),
    /// pairing by value those whose names it lacks; the page lists every pairing
    #[arg(long, value_name = "REF")]
    pub names_from: Option<PathBuf>,
}

impl Command {
    /// Whether `--json` was asked for.
    pub fn json(&self) -> bool {
        match self {
            Command::List(a) => a.json,
            Command::Info(a) => a.json,
            Command::Dump(a) => a.json,
            Command::Map(a) => a.json,
            Command::Verify(a) => a.json,
            Command::Diff(a) => a.json,
            Command::Locate(a) => a.json,
            Command::View(_) => false,
            Command::Refit(a) => a.json,
            Command::Selftest(a) => a.json,
        }
    }
}

#[derive(Debug, Args)]
pub struct SelftestArgs {
    /// Keep every engine, with its model.onnx and weights.safetensors, under DIR/<model>/
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Write every model as DIR/<model>/model.onnx plus weights.safetensors, build nothing
    #[arg(long, value_name = "DIR", conflicts_with = "keep")]
    pub export_models: Option<PathBuf>,
    /// Machine-readable report on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The engine file
    pub engine: PathBuf,
    /// Machine-readable output on stdout
    #[arg(long)]
    pub json: bool,
    /// Read the weight list from this map instead of TensorRT (no GPU needed; the map must fit
    /// the engine)
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Per weight: min, max, mean, std (population), zeros, NaN and Inf counts of the recovered
    /// values (reads the values: through the map on the CPU, else a full extraction)
    #[arg(long)]
    pub stats: bool,
    /// List weights under this checkpoint's names (safetensors, .npz, folder of .npy, or ONNX),
    /// pairing by value those whose names it lacks; reads the values (through --map, a sidecar
    /// map, or TensorRT)
    #[arg(long, value_name = "REF")]
    pub names_from: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The engine file
    pub engine: PathBuf,
    /// Machine-readable output on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output file or folder; the name says the format: .safetensors, .npz, or a folder of .npy
    /// files (a trailing /, an existing folder, or no extension: `-o weights_dir`)
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
    /// Output format: must agree with the output's name; needed only for a name with another
    /// extension
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Compress .npz members (deflate)
    #[arg(long)]
    pub compress: bool,
    /// Replace an existing output
    #[arg(long)]
    pub force: bool,
    /// Reshape weights whose name and element count match a tensor in this safetensors file or
    /// ONNX model (weights are flat 1-D otherwise)
    #[arg(long, value_name = "FILE")]
    pub shapes_from: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Succeed even when some weights cannot be recovered (they are listed, never invented)
    #[arg(long)]
    pub allow_missing: bool,
    /// Skip the round-trip proof (one refit+serialize pass fewer)
    #[arg(long)]
    pub no_verify: bool,
    /// Keep the zero baseline (and the untouched serialization, when it differs from the file) in
    /// files in this folder instead of in memory; marker passes are always packed in memory
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The engine file, or a TensorRT-LLM engine directory (config.json + rank{N}.engine, dumped
    /// to a checkpoint directory); never written to
    pub engine: PathBuf,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub extract: ExtractArgs,
    /// Extract with this map on the CPU alone (no GPU, no TensorRT)
    #[arg(long, value_name = "FILE", conflicts_with = "save_map")]
    pub map: Option<PathBuf>,
    /// Also save what the passes learned as a map file
    #[arg(long, value_name = "FILE")]
    pub save_map: Option<PathBuf>,
    /// Ignore a sidecar ENGINE.trtmap and always map with TensorRT
    #[arg(long)]
    pub no_sidecar: bool,
    /// Name weights after this checkpoint (safetensors, .npz, folder of .npy, or ONNX): a weight
    /// whose name it lacks takes the name, shape and orientation of the one tensor holding its
    /// values (exactly, transposed, or rounded to the engine's dtype); every pairing is reported
    #[arg(long, value_name = "REF")]
    pub names_from: Option<PathBuf>,
    /// Print the extraction report as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    /// The engine file
    pub engine: PathBuf,
    /// The map file to write (conventionally ENGINE.trtmap beside the engine)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace an existing map
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub extract: ExtractArgs,
    /// Print the report as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct Tolerance {
    /// Relative tolerance (0: exact)
    #[arg(long, default_value_t = 0.0)]
    pub rtol: f64,
    /// Absolute tolerance (0: exact)
    #[arg(long, default_value_t = 0.0)]
    pub atol: f64,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The engine file
    pub engine: PathBuf,
    /// Reference weights: .safetensors, .npz, .onnx, or a folder of .npy files (trt-dump's own
    /// outputs included)
    #[arg(long, value_name = "FILE")]
    pub against: PathBuf,
    /// Compare by name only: do not pair engine weights whose names the reference lacks with the
    /// reference tensor holding their values
    #[arg(long)]
    pub no_pairing: bool,
    #[command(flatten)]
    pub tolerance: Tolerance,
    /// Read the engine through this map (CPU only) instead of TensorRT
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Machine-readable output on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub extract: ExtractArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// First engine
    pub a: PathBuf,
    /// Second engine
    pub b: PathBuf,
    /// Map for the first engine (CPU only)
    #[arg(long, value_name = "FILE")]
    pub map_a: Option<PathBuf>,
    /// Map for the second engine (CPU only)
    #[arg(long, value_name = "FILE")]
    pub map_b: Option<PathBuf>,
    /// Report both engines under this checkpoint's names (safetensors, .npz, folder of .npy, or
    /// ONNX): weights whose names it lacks are paired with it by value
    #[arg(long, value_name = "REF")]
    pub names_from: Option<PathBuf>,
    #[command(flatten)]
    pub tolerance: Tolerance,
    /// Machine-readable output on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub extract: ExtractArgs,
}

#[derive(Debug, Args)]
pub struct RefitArgs {
    /// The refittable engine (never written to)
    pub engine: PathBuf,
    /// New values: .safetensors, .npz, a folder of .npy files, or an ONNX model
    #[arg(long, value_name = "FILE")]
    pub weights: PathBuf,
    /// The engine file to write
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Match file tensors named FROM... as TO... (a prefix rewrite; repeatable, longest FROM wins)
    #[arg(long, value_name = "FROM=TO")]
    pub rename: Vec<crate::refit::Rename>,
    /// The original checkpoint the engine was built from: pair the engine's weights with it by
    /// value, then take --weights' tensors by those names, turned back to the engine's orientation
    #[arg(long, value_name = "ORIGINAL")]
    pub names_from: Option<PathBuf>,
    /// Accept conversions to the refit dtype that change values (each is reported)
    #[arg(long)]
    pub cast: bool,
    /// Replace an existing output
    #[arg(long)]
    pub force: bool,
    /// Skip reading the written plan back (the proof)
    #[arg(long)]
    pub no_verify: bool,
    /// Read the engine's own values and layout through this map instead of marker passes
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Ignore a sidecar ENGINE.trtmap
    #[arg(long)]
    pub no_sidecar: bool,
    /// Keep the zero baseline (and the untouched serialization, when it differs from the file) in
    /// files in this folder instead of in memory; marker passes are always packed in memory
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Print the report as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LocateArgs {
    /// The engine file
    pub engine: PathBuf,
    /// Reference weights to search for: .safetensors, .npz or .onnx
    #[arg(long, value_name = "FILE")]
    pub reference: PathBuf,
    /// The map file to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace an existing map
    #[arg(long)]
    pub force: bool,
    /// Machine-readable report on stdout
    #[arg(long)]
    pub json: bool,
    /// Write the map even when some reference tensors were not placed (it records them)
    #[arg(long)]
    pub allow_missing: bool,
}

/// The EXIT STATUS section of `--help`, built from [`ErrorKind`] so the two never drift apart.
pub fn exit_status_help() -> String {
    let mut s = String::from("EXIT STATUS:\n    0    success; verify/diff: everything matches\n");
    let mut kinds: Vec<ErrorKind> = ErrorKind::ALL.to_vec();
    kinds.sort_by_key(|k| k.exit_code());
    for k in kinds {
        s.push_str(&format!("{:>5}    {}\n", k.exit_code(), k.describe()));
    }
    s.push_str(&format!(
        "{:>5}    any other failure\n",
        crate::error::EXIT_OTHER
    ));
    s.push_str("  101    internal error (a bug: please report it)\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn exit_status_table_lists_every_kind() {
        let help = exit_status_help();
        for k in ErrorKind::ALL {
            let line = format!("{:>5}    {}", k.exit_code(), k.describe());
            assert!(help.contains(&line), "missing from EXIT STATUS: {line}");
        }
    }

    #[test]
    fn dump_parses_the_headline_command() {
        let cli =
            Cli::try_parse_from(["trt-dump", "dump", "m.engine", "-o", "w.safetensors"]).unwrap();
        match cli.command {
            Command::Dump(d) => {
                assert_eq!(d.engine, PathBuf::from("m.engine"));
                assert_eq!(d.out.output, PathBuf::from("w.safetensors"));
                assert!(!d.extract.no_verify);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
