//! `candor`: a self-hosted, verifiable trust center.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    candor::run(candor::cli::Cli::parse())
}
