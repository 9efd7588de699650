fn main() -> std::process::ExitCode {
    trt_dump::cli::main()
}
