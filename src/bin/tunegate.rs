//! The `tunegate` command: the controller and its tools.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Per-thread heaps in the static build: musl's malloc takes one global lock per call, which made
/// the parallel pipeline's workers (and `check` most: bpe allocates per uncached piece) queue on it.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tunegate",
    version,
    about = "Fine-tune hosted models on private data, safely"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print both CustomResourceDefinitions as multi-document YAML.
    Crds,
    /// Validate a JSONL training file and print statistics (exit 0 valid, 1 invalid, 2 unreadable).
    Check(tunegate::cli::check::CheckArgs),
    /// Redact personal data and secrets from a JSONL file (exit 0 ok, 2 invalid input, 3 rejected).
    Redact(tunegate::cli::redact::RedactArgs),
    /// Run the operator (both controllers).
    Run(tunegate::cli::run::RunArgs),
    /// Worker tasks run inside Jobs the operator creates.
    #[command(subcommand)]
    Worker(tunegate::cli::worker::WorkerCommand),
}

fn main() -> ExitCode {
    #[cfg(target_env = "musl")]
    keep_allocator_footprint_small();
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => match tunegate_api::crds_yaml() {
            Ok(yaml) => write_stdout(&yaml),
            Err(e) => fail(&format!("cannot render CRDs: {e}")),
        },
        Command::Check(args) => ExitCode::from(tunegate::cli::check::run(
            &args,
            std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        )),
        Command::Redact(args) => ExitCode::from(tunegate::cli::redact::run(&args)),
        Command::Run(args) => ExitCode::from(tunegate::cli::run::main(args)),
        Command::Worker(cmd) => ExitCode::from(tunegate::cli::worker::main(&cmd)),
    }
}

fn write_stdout(text: &str) -> ExitCode {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("cannot write to stdout: {e}")),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("tunegate: {msg}");
    ExitCode::from(2)
}

/// mimalloc's defaults cost resident memory here: freed pages are kept for a second, and on hosts
/// with transparent huge pages "always" its 2 MiB-aligned regions become resident whole. With both
/// left on, peak RSS on 2 cores was 75 MB for `redact` and 150 MB for `check` (musl's malloc: 17
/// and 83); with both off, 19 and 87, for a few percent of speed (the 2-core check 0.34 -> 0.37 s).
#[cfg(target_env = "musl")]
fn keep_allocator_footprint_small() {
    unsafe extern "C" {
        // mimalloc's C API (linked in by the `mimalloc` crate, whose bindings omit it).
        fn mi_option_set(option: libc::c_int, value: libc::c_long);
    }
    /// `mi_option_purge_delay` in mimalloc.h (a stable value: retired options keep their slot).
    const MI_OPTION_PURGE_DELAY: libc::c_int = 15;
    // SAFETY: setting an option is allowed at any time; prctl only sets a flag of this process.
    unsafe {
        mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        // Only the flag matters; a kernel without it leaves things as they were.
        let _ = libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
