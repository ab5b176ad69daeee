//! The `classcord` command; every subcommand lives in `classcord::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: classcord::cli::Cli = argh::from_env();
    cli.run()
}
