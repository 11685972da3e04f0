//! The `tunegate` command: the controller and its tools.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => match tunegate::api::crds_yaml() {
            Ok(yaml) => write_stdout(&yaml),
            Err(e) => fail(&format!("cannot render CRDs: {e}")),
        },
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
