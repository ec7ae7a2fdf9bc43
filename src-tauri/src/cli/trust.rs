//! `slipway trust …`: the machine's local CA in the stores browsers and tools read.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the CLI's job is printing"
)]

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use slipway_core::secrets::Keyring;
use slipway_core::trust::{self, Elevated, Host, LocalCa, Outcome, StoreKind, StoreOutcome};

#[derive(Args)]
pub struct TrustArgs {
    #[command(subcommand)]
    command: TrustCommand,
}

#[derive(Subcommand)]
enum TrustCommand {
    /// Trust the local CA in this machine's stores: the system store, every Firefox/Chromium
    /// NSS database, macOS's login keychain, Windows' CurrentUser Root (the OS may ask first).
    Install(Stores),
    /// Take the local CA out of those stores again (only the certificate of its fingerprint).
    Uninstall(Stores),
    /// Show, per store, whether it trusts the local CA.
    Status {
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Print the local CA's certificate (PEM), for tools that take a CA file
    /// (`curl --cacert`, NODE_EXTRA_CA_CERTS, …).
    Ca {
        /// Also write the CA's private key to FILE (mode 0600). Whoever has it can impersonate
        /// any site to this machine's browsers: keep it like a password.
        #[arg(long, value_name = "FILE")]
        key_out: Option<PathBuf>,
    },
    /// Take the local CA out of every store and forget it (its key goes from the keyring). The
    /// next `slipway up` makes a new one, and each store must trust that one again.
    RemoveCa,
    /// The system store's change, run as root by `install`/`uninstall` through the OS's prompt.
    #[command(hide = true)]
    SystemStore {
        #[command(subcommand)]
        change: SystemChange,
    },
}

#[derive(Subcommand)]
enum SystemChange {
    Install {
        #[arg(long)]
        cert: PathBuf,
    },
    Uninstall {
        #[arg(long)]
        sha256: String,
    },
}

#[derive(Args)]
struct Stores {
    /// Only these stores (default: every one found).
    #[arg(long = "store", value_enum, value_name = "STORE")]
    stores: Vec<Kind>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    System,
    Nss,
    Keychain,
    Windows,
}

impl From<Kind> for StoreKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::System => Self::System,
            Kind::Nss => Self::Nss,
            Kind::Keychain => Self::Keychain,
            Kind::Windows => Self::Windows,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// The platform's domain from the settings (`local` without them): a new CA certifies it.
fn domain() -> String {
    slipway_core::config::Config::load()
        .ok()
        .and_then(|c| c.domain)
        .unwrap_or_else(|| "local".into())
}

/// How the system store's change gets root when Slipway runs without it.
fn elevated() -> anyhow::Result<Option<Elevated>> {
    let exe = std::env::current_exe().context("locate the slipway binary")?;
    Ok(
        slipway_core::hosts::elevate::choose(std::io::stdin().is_terminal())
            .map(|elevator| Elevated { exe, elevator }),
    )
}

pub async fn run(args: TrustArgs) -> anyhow::Result<()> {
    let keyring = Keyring::os();
    let host = Host::this_machine();
    match args.command {
        TrustCommand::Install(only) => {
            let (ca, made) = LocalCa::load_or_create(&keyring, &trust::ca::owner(), &domain())?;
            if made {
                eprintln!(
                    "Made the local CA \"{}\" (its key is kept in the {}).",
                    ca.cert().name(),
                    keyring.describe()
                );
            }
            let kinds: Vec<StoreKind> = only.stores.into_iter().map(Into::into).collect();
            let outcomes = trust::install(&host, ca.cert(), &kinds, elevated()?.as_ref());
            report(&outcomes, "now trusts", "already trusted");
            failed(&outcomes)?;
            eprintln!(
                "Browsers read their store at start: restart one that is open. `slipway up` prints the https:// addresses from now on."
            );
        }
        TrustCommand::Uninstall(only) => {
            let ca = LocalCa::load(&keyring)?.ok_or(trust::TrustError::NoCa)?;
            let kinds: Vec<StoreKind> = only.stores.into_iter().map(Into::into).collect();
            let outcomes = trust::uninstall(&host, ca.cert(), &kinds, elevated()?.as_ref());
            report(&outcomes, "no longer trusts", "did not trust");
            failed(&outcomes)?;
        }
        TrustCommand::Status { output } => {
            let report = trust::report(&keyring, &host)?;
            if matches!(output, Format::Json) {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            let Some(ca) = &report.ca else {
                println!("No local CA yet: `slipway up` or `slipway trust install` makes one.");
                return Ok(());
            };
            println!("CA      {}", ca.name);
            println!("SHA-256 {}", ca.sha256);
            println!("valid   until {}", ca.not_after);
            println!("names   {}", ca.permitted.join(", "));
            if report.stores.is_empty() {
                println!("No certificate store found on this machine.");
            }
            for s in report.stores {
                let state = match s.state {
                    trust::StoreState::Installed => "trusted".to_owned(),
                    trust::StoreState::Absent => "not trusted".to_owned(),
                    trust::StoreState::Unavailable { reason, fix } => {
                        format!("unavailable: {reason} ({fix})")
                    }
                };
                println!("{:<40} {state}\n  {}", s.name, s.location);
            }
        }
        TrustCommand::Ca { key_out } => {
            let (ca, _) = LocalCa::load_or_create(&keyring, &trust::ca::owner(), &domain())?;
            print!("{}", ca.cert_pem());
            if let Some(path) = key_out {
                super::seal::write_private(&path, ca.key_pem().as_bytes())?;
                eprintln!(
                    "Wrote the local CA's private key to {} (mode 0600). Whoever reads it can impersonate any site to the browsers that trust this CA.",
                    path.display()
                );
            }
        }
        TrustCommand::RemoveCa => {
            let outcomes = trust::remove_ca(&keyring, &host, elevated()?.as_ref())?;
            report(&outcomes, "no longer trusts", "did not trust");
            eprintln!(
                "Forgot the local CA. The next `slipway up` makes a new one; run `slipway trust install` then."
            );
        }
        TrustCommand::SystemStore { change } => match change {
            SystemChange::Install { cert } => {
                let pem = std::fs::read_to_string(&cert)
                    .with_context(|| format!("cannot read {}", cert.display()))?;
                trust::stores::system_install(&host, &pem)?;
            }
            SystemChange::Uninstall { sha256 } => {
                trust::stores::system_uninstall(&host, &sha256)?;
            }
        },
    }
    Ok(())
}

fn report(outcomes: &[StoreOutcome], changed: &str, unchanged: &str) {
    if outcomes.is_empty() {
        eprintln!("No certificate store found on this machine.");
    }
    for o in outcomes {
        match &o.outcome {
            Outcome::Changed => eprintln!("{}: {changed} the local CA", o.name),
            Outcome::Unchanged => eprintln!("{}: {unchanged} the local CA", o.name),
            Outcome::Failed { reason } => eprintln!("{}: failed: {reason}", o.name),
        }
    }
}

fn failed(outcomes: &[StoreOutcome]) -> anyhow::Result<()> {
    let n = outcomes
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Failed { .. }))
        .count();
    if n > 0 {
        anyhow::bail!("{n} store(s) were not changed; each line above says why and what to do");
    }
    Ok(())
}
