//! The `keyhold` binary: the server, the environment helper and the az-shaped CLI.
#![forbid(unsafe_code)]

mod cli;

use clap::{Parser, error::ErrorKind};

/// mimalloc rather than glibc's malloc: a request allocates and frees many small buffers across the
/// runtime's threads, and glibc's arenas spent ~15% of a secret GET's CPU in malloc, free and
/// consolidation (docs/benchmarks.md). Freed memory is not zeroed by either allocator: key material
/// is zeroized by its own types before it is freed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => return usage_error(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ERROR: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::dispatch(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            std::process::ExitCode::from(cli::exit_code(&e))
        }
    }
}

/// Help and version go to stdout with exit 0; usage errors to stderr as az prints them, exit 2.
fn usage_error(e: clap::Error) -> std::process::ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            std::process::ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            std::process::ExitCode::from(2)
        }
        _ => {
            let text = e.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            eprintln!("ERROR: {}", text.trim_end());
            std::process::ExitCode::from(2)
        }
    }
}
