//! The `podwall` command: turns flags into a configuration, runs it, reports errors.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Two rustls providers linked in (feature unification) would make rustls panic on the
    // first TLS connection; kube's is ring. An error means one is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    podwall::init_logging(cli.log_format);
    let shutdown = CancellationToken::new();
    tokio::spawn(podwall::cancel_on_signal(shutdown.clone()));
    match run(cli.command, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "podwall stopped with an error");
            eprintln!("podwall: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    command: Command,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve(args) => {
            podwall::start(args.config()?, shutdown)
                .await?
                .stopped()
                .await?
        }
        #[cfg(feature = "sim")]
        Command::Demo(args) => {
            let demo = podwall::demo::start(args.config(), shutdown).await?;
            // The one user-facing line of the demo: where to look.
            println!("podwall demo: open {}/", demo.server.url());
            demo.stopped().await?;
        }
        #[cfg(feature = "sim")]
        Command::Sim(args) => {
            let sim = podwall::sim::start(args.config(), shutdown).await?;
            if let Some(path) = &args.kubeconfig_out {
                sim.write_kubeconfig(path)?;
            }
            sim.stopped().await?;
        }
    }
    Ok(())
}
