//! The `candor` binary: command line, wiring, background work and signals.
//!
//! `main.rs` only parses arguments and calls [`run`]; everything else lives here so the
//! integration tests (`tests/it`) can reach it.
#![forbid(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod demo_target;
pub mod incident;
pub mod init;
pub mod logging;
pub mod rotate;
pub mod serve;
pub mod sla;
pub mod verify;
pub mod verify_uptime;

use std::process::ExitCode;

use cli::{Cli, Command};

/// Exit code for invalid trust-as-code or settings.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for any other failure (database, port, I/O).
pub const EXIT_FAILURE: u8 = 1;

/// Runs one command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Init(args) => init::run(&args),
        Command::CheckConfig(args) => serve::check_config(&args),
        Command::Keygen(args) => serve::keygen(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Witness(args) => {
            logging::init(cli.log_format);
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(serve::witness(args)),
                Err(err) => {
                    eprintln!("error: cannot start the async runtime: {err}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
        Command::Admin(command) => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(admin::run(command)),
            Err(err) => {
                eprintln!("error: cannot start the async runtime: {err}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Command::Incident(command) => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(incident::run(command)),
            Err(err) => {
                eprintln!("error: cannot start the async runtime: {err}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Command::Sla(args) => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(sla::run(&args)),
            Err(err) => {
                eprintln!("error: cannot start the async runtime: {err}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Command::RotateLog(args) => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(rotate::run(&args)),
            Err(err) => {
                eprintln!("error: cannot start the async runtime: {err}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Command::Serve(args) => {
            logging::init(cli.log_format);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(err) => {
                    eprintln!("error: cannot start the async runtime: {err}");
                    return ExitCode::from(EXIT_FAILURE);
                }
            };
            runtime.block_on(serve::run(args))
        }
    }
}
