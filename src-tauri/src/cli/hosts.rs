//! `slipway hosts …`
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the CLI's job is printing"
)]

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use slipway_core::hosts::{self, Applied};

use super::ClusterArgs;

#[derive(Args)]
pub struct HostsArgs {
    #[command(subcommand)]
    command: HostsCommand,
}

#[derive(Args)]
struct Common {
    /// The hosts file to manage (default: the system's).
    #[arg(long, value_name = "PATH", global = true)]
    hosts_file: Option<PathBuf>,
    /// Domain of the platform's host names.
    #[arg(long, env = "SLIPWAY_DOMAIN", default_value = "local", global = true, value_parser = super::domain)]
    domain: String,
    /// Also write ::1 entries (default on macOS, where .local lookups otherwise stall on IPv6).
    #[arg(long, global = true)]
    ipv6: bool,
    #[command(flatten)]
    target: super::TargetArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
}

#[derive(Subcommand)]
enum HostsCommand {
    /// Write the platform hosts and every Ingress host of the cluster into Slipway's block.
    Apply {
        /// Show what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Delete Slipway's block (nothing else in the file changes).
    Remove {
        #[command(flatten)]
        common: Common,
    },
    /// Show the block's current entries next to the desired ones.
    Show {
        #[command(flatten)]
        common: Common,
    },
    /// (internal) The elevated write: replace the hosts file with a prepared one.
    #[command(hide = true)]
    WriteFile {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        hosts_file: PathBuf,
        /// Fingerprint of the content the change was computed from.
        #[arg(long)]
        expect: String,
    },
}

impl Common {
    fn path(&self) -> PathBuf {
        self.hosts_file.clone().unwrap_or_else(hosts::default_path)
    }

    async fn desired(&self) -> anyhow::Result<Vec<hosts::HostEntry>> {
        let desired = hosts::desired(&self.domain, &self.target.kube_target(&self.cluster)?).await;
        if let Some(why) = &desired.cluster_skipped {
            eprintln!(
                "note: only the platform hosts; the cluster's Ingress hosts were skipped ({why})"
            );
        }
        for why in &desired.skipped {
            eprintln!("note: left out an Ingress host: {why}");
        }
        Ok(hosts::entries_for(
            &desired.names,
            self.ipv6 || hosts::DEFAULT_IPV6,
        ))
    }
}

pub async fn run(args: HostsArgs) -> anyhow::Result<()> {
    match args.command {
        HostsCommand::Apply { dry_run, common } => {
            let plan = hosts::plan(&common.path(), common.desired().await?)?;
            if dry_run {
                print_diff(&plan);
                return Ok(());
            }
            write(&plan)
        }
        HostsCommand::Remove { common } => write(&hosts::plan(&common.path(), Vec::new())?),
        HostsCommand::Show { common } => {
            let plan = hosts::plan(&common.path(), common.desired().await?)?;
            println!("{}:", plan.path.display());
            let line = |e: &hosts::HostEntry| format!("{} {}", e.address, e.names.join(" "));
            println!(
                "  current: {}",
                if plan.current.is_empty() {
                    "(no Slipway block)".into()
                } else {
                    plan.current
                        .iter()
                        .map(line)
                        .collect::<Vec<_>>()
                        .join(" | ")
                }
            );
            println!(
                "  desired: {}",
                plan.desired
                    .iter()
                    .map(line)
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            println!(
                "  {}",
                if plan.changes() {
                    "run `slipway hosts apply` to update"
                } else {
                    "up to date"
                }
            );
            Ok(())
        }
        HostsCommand::WriteFile {
            from,
            hosts_file,
            expect,
        } => {
            let content =
                std::fs::read(&from).with_context(|| format!("read {}", from.display()))?;
            hosts::write_checked(&hosts_file, &content, &expect)?;
            Ok(())
        }
    }
}

fn print_diff(plan: &hosts::Plan) {
    if plan.diff.is_empty() {
        println!("{}: up to date, nothing would change", plan.path.display());
    } else {
        println!("{} would change in Slipway's block:", plan.path.display());
        for line in &plan.diff {
            println!("  {line}");
        }
    }
}

fn write(plan: &hosts::Plan) -> anyhow::Result<()> {
    let terminal = std::io::stdin().is_terminal();
    if plan.changes() {
        eprintln!(
            "updating {} (if it needs administrator rights, the system asks for them; only the write runs elevated)",
            plan.path.display()
        );
    }
    let exe = std::env::current_exe().context("locate the slipway binary")?;
    match hosts::apply(plan, terminal, &exe)? {
        Applied::Unchanged => println!("{}: up to date", plan.path.display()),
        Applied::Written { backup } => {
            print_diff(plan);
            println!("written; the previous file is in {}", backup.display());
        }
        Applied::Elevated => print_diff(plan),
    }
    Ok(())
}
