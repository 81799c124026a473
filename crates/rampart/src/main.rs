//! The `rampart` binary: command line and wiring only.
#![deny(unsafe_code)]

mod anubis;
mod bots_cli;
mod memory;
mod reload_client;
mod serve;
mod store_cli;
mod waf_cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sysexits(3) codes, so scripts can tell a bad config from a busy port.
pub const EX_CONFIG: u8 = 64;
pub const EX_UNAVAILABLE: u8 = 69;
pub const EX_SOFTWARE: u8 = 70;

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "Rampart: a self-hosted security edge for websites"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the edge (HTTP, HTTPS and admin listeners). Without --config, runs
    /// on built-in defaults: http 127.0.0.1:8080, https 127.0.0.1:8443, admin
    /// 127.0.0.1:9090, data in ./rampart-data.
    Serve {
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file: prints FILE:LINE:COL: message for every
    /// problem and exits 64, or exits 0 when the file is valid.
    CheckConfig {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
    /// Ask a running edge to re-read its configuration file (same as SIGHUP).
    /// The file is checked first; a bad file is refused and the running
    /// configuration stays.
    Reload {
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Admin listener of the running edge; default: from the config file,
        /// else 127.0.0.1:9090.
        #[arg(long, value_name = "ADDR")]
        admin: Option<std::net::SocketAddr>,
    },
    /// API tokens, made directly in the store (works without a running server).
    #[command(subcommand)]
    Token(store_cli::TokenCommand),
    /// Accounts (customers) in the store.
    #[command(subcommand)]
    Account(store_cli::AccountCommand),
    /// Sites in the store.
    #[command(subcommand)]
    Site(store_cli::SiteCommand),
    /// The audit log: `rampart audit verify` checks its hash chain.
    #[command(subcommand)]
    Audit(store_cli::AuditCommand),
    /// Bot policy tools, such as importing an Anubis policy.
    #[command(subcommand)]
    Bots(bots_cli::BotsCommand),
    /// WAF tools: run the CRS regression suite, check a CRS directory.
    #[command(subcommand)]
    Waf(waf_cli::WafCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve::run(config.as_deref()),
        Command::CheckConfig { config } => check_config(&config),
        Command::Reload { config, admin } => reload_client::run(config.as_deref(), admin),
        Command::Token(command) => store_cli::token(command),
        Command::Account(command) => store_cli::account(command),
        Command::Site(command) => store_cli::site(command),
        Command::Bots(command) => bots_cli::run(command),
        Command::Audit(command) => store_cli::audit(command),
        Command::Waf(command) => waf_cli::run(command),
    }
}

fn check_config(path: &Path) -> ExitCode {
    match rampart_config::load_file(path) {
        Ok(config) => {
            println!(
                "{}: ok ({} site{})",
                path.display(),
                config.sites.len(),
                if config.sites.len() == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(EX_CONFIG)
        }
    }
}
