//! `slipway service create`: a new service from a template.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use slipway_core::service::{self, ServiceRequest};

#[derive(Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// Create a service: a GitHub repository from the template, registered in Backstage and
    /// deployed by Argo CD. With --dry-run, only render its files into --out.
    Create(CreateArgs),
}

#[derive(Args)]
struct CreateArgs {
    /// Service name: lower-case letters, digits and '-' (the repository and host name).
    #[arg(long)]
    name: String,
    /// Owning team; the service runs in namespace team-<team>.
    #[arg(long)]
    team: String,
    /// Template to start from.
    #[arg(long, default_value = "nodejs-v24")]
    template: String,
    /// One line about the service (catalog and repository description).
    #[arg(long)]
    description: Option<String>,
    /// GitHub user or organisation that owns the repository.
    #[arg(long)]
    owner: Option<String>,
    /// Platform domain: the service answers at http://<name>.<domain>:8880.
    #[arg(long, env = "SLIPWAY_DOMAIN", default_value = "local")]
    domain: String,
    /// Render the service into --out without touching GitHub or the cluster.
    #[arg(long, requires = "out")]
    dry_run: bool,
    /// Folder for --dry-run (must be new or empty).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: ServiceArgs) -> anyhow::Result<()> {
    match args.command {
        ServiceCommand::Create(a) => create(a),
    }
}

fn create(a: CreateArgs) -> anyhow::Result<()> {
    let owner = a.owner.clone().context("--owner is needed (the GitHub user or organisation of the repository)")?;
    let request = ServiceRequest { name: a.name, team: a.team, template: a.template, description: a.description, owner, domain: a.domain };
    request.validate()?;
    anyhow::ensure!(a.dry_run, "creating the repository needs a GitHub connection, which this version does not have yet; use --dry-run --out DIR to render the service");
    let out = a.out.context("--dry-run needs --out DIR")?;
    let files = service::render_to(&request, &out)?;
    println!("Rendered {} files of {:?} into {}:", files.len(), request.name, out.display());
    for path in files.keys() {
        println!("  {path}");
    }
    Ok(())
}
