//! `rampart bots …`: tools for the weighted bot policy (`[site.bots]`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::anubis::{self, Failure, Import, Status};

/// sysexits(3): the input file is not what it should be.
const EX_DATAERR: u8 = 65;
/// sysexits(3): a bad argument.
const EX_USAGE: u8 = 64;

#[derive(Subcommand)]
pub enum BotsCommand {
    /// Translate an Anubis bot policy (botPolicies.yaml or .json) into a
    /// [site.bots] fragment for rampart.toml. Prints the TOML on stdout and
    /// what was imported or skipped, and why, on stderr. Exits 0 when at
    /// least one rule was imported, 65 when the file cannot be read or
    /// nothing in it could be.
    ImportAnubis {
        /// The Anubis policy file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The site the fragment is for: named in its header and used to
        /// check it.
        #[arg(long, value_name = "NAME")]
        site: Option<String>,
    },
}

pub fn run(command: BotsCommand) -> ExitCode {
    match command {
        BotsCommand::ImportAnubis { file, site } => import_anubis(&file, site.as_deref()),
    }
}

fn import_anubis(file: &Path, site: Option<&str>) -> ExitCode {
    let shown = file.display();
    match anubis::import_file(file, site) {
        Ok(out) => {
            print!("{}", out.toml);
            summary(&shown.to_string(), &out.import);
            ExitCode::SUCCESS
        }
        Err(Failure::Read(why)) => {
            eprintln!(
                "rampart: cannot import {shown}: {why}\n  \
                 pass the path of an Anubis policy file (botPolicies.yaml or .json)"
            );
            ExitCode::from(EX_DATAERR)
        }
        Err(Failure::Parse(e)) => {
            let at =
                e.at.map(|(line, col)| format!("{line}:{col}:"))
                    .unwrap_or_default();
            eprintln!(
                "{shown}:{at} not an Anubis policy: {}\n  fix: {}",
                e.message, e.hint
            );
            ExitCode::from(EX_DATAERR)
        }
        Err(Failure::Site(why)) => {
            eprintln!(
                "rampart: --site {:?} is not a site name Rampart takes: {why}",
                site.unwrap_or("")
            );
            ExitCode::from(EX_USAGE)
        }
        Err(Failure::Nothing(import)) => {
            summary(&shown.to_string(), &import);
            eprintln!(
                "rampart: nothing in {shown} could be imported: no bot rule translates (see above); nothing printed"
            );
            ExitCode::from(EX_DATAERR)
        }
    }
}

/// One line per entry, then the counts.
fn summary(file: &str, import: &Import) {
    for item in &import.report {
        let tag = match item.status {
            Status::Imported => "imported",
            Status::Skipped => "skipped ",
            Status::Note => "note    ",
        };
        eprintln!("{tag} {}: {}", item.what, item.detail);
    }
    let skipped = import.skipped().count();
    eprintln!(
        "{file}: {} rule{} and {} threshold{} imported, {skipped} item{} skipped",
        import.rules.len(),
        plural(import.rules.len()),
        import.thresholds.len(),
        plural(import.thresholds.len()),
        plural(skipped),
    );
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
