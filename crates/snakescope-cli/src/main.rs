//! The `snakescope` binary.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(snakescope_cli::main_with_args(std::env::args_os()))
}
