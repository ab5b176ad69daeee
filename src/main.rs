//! The `classcord` command; every subcommand lives in `classcord::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // argh's parsing, with its help and refusals in French.
    let cli = classcord::cli::from_env();
    cli.run()
}
