//! Writes the TypeScript types of the reference schema for the demo panel.
//!
//! `cargo run -p roomsync-ngo-app --bin codegen` writes `www/src/generated/schema.ts`;
//! with `--check` it only reports (exit 1) when the committed file is stale.

use roomsync_ngo_app::{typescript, CODEGEN_COMMAND as COMMAND, TYPESCRIPT_PATH as GENERATED_PATH};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(GENERATED_PATH);
    let wanted = typescript();
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == wanted {
        println!("{GENERATED_PATH} is up to date");
        return ExitCode::SUCCESS;
    }
    if check {
        eprintln!("{GENERATED_PATH} is stale: run `{COMMAND}`");
        return ExitCode::FAILURE;
    }
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    match std::fs::write(&path, wanted) {
        Ok(()) => {
            println!("wrote {GENERATED_PATH}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
