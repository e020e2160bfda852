//! The `chaosim` command line: parse, dispatch, map errors to exit codes.
//! Exit codes: 0 success, 1 failure while running, 2 bad input or usage.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
