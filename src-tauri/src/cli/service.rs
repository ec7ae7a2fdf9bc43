//! `slipway service create`: a new service from a template; `slipway service status`: where it
//! stands, from commit to traffic.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use slipway_core::error::Classified;
use slipway_core::secrets::Keyring;
use slipway_core::service::connect::Target;
use slipway_core::service::create;
use slipway_core::service::status;
use slipway_core::service::{self, ServiceRequest};

#[derive(Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// Create a service: a GitHub repository from the template, registered in Backstage and
    /// deployed by Argo CD. Re-running resumes a failed creation; --rollback undoes it. With
    /// --dry-run, only render its files into --out.
    Create(CreateArgs),
    /// Where a service stands: repository, CI run, image on ghcr.io, Argo CD Application, pods
    /// and URL, with the first broken link, its reason and what helps.
    Status(StatusArgs),
}

#[derive(Args)]
struct StatusArgs {
    /// The service (its repository's name).
    name: String,
    /// GitHub user or organisation that owns the repository (default: the token's user).
    #[arg(long, env = "SLIPWAY_OWNER")]
    owner: Option<String>,
    /// GitHub's API (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "SLIPWAY_GITHUB_API", default_value = slipway_core::github::DEFAULT_API)]
    github_api: String,
    /// The platform cluster.
    #[arg(id = super::CLUSTER_ARG, long = "cluster", env = "SLIPWAY_CLUSTER", default_value = "slipway")]
    cluster: String,
    /// Platform domain: the service answers at http://<name>.<domain>:8880.
    #[arg(long, env = "SLIPWAY_DOMAIN", default_value = "local", value_parser = super::domain)]
    domain: String,
    /// Host port of the platform's HTTP ingress.
    #[arg(long, value_name = "PORT", default_value_t = 8880)]
    http_port: u16,
    /// Host port of the platform's HTTPS ingress.
    #[arg(long, value_name = "PORT", default_value_t = 8843)]
    https_port: u16,
    /// Keep reading until the service answers or SECS pass, printing each change.
    #[arg(long, value_name = "SECS")]
    follow: Option<u64>,
    /// Print the chain as JSON.
    #[arg(long, conflicts_with = "follow")]
    json: bool,
    #[command(flatten)]
    target: super::TargetArgs,
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
    /// GitHub user or organisation that owns the repository (default: the token's user).
    #[arg(long, env = "SLIPWAY_OWNER")]
    owner: Option<String>,
    /// GitHub's API (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "SLIPWAY_GITHUB_API", default_value = slipway_core::github::DEFAULT_API)]
    github_api: String,
    /// Backstage's URL (default: the platform's Backstage, `backstage.<domain>` through the
    /// ingress on 127.0.0.1:<http-port>, so no name lookup is needed).
    #[arg(long, env = "SLIPWAY_BACKSTAGE_URL")]
    backstage_url: Option<String>,
    /// Generate the repository from this GitHub template repository (OWNER/REPO, holding the
    /// template's skeleton) instead of the embedded template.
    #[arg(long, value_name = "OWNER/REPO", env = "SLIPWAY_TEMPLATE_REPO")]
    template_repo: Option<String>,
    /// The platform cluster (its Backstage token and Argo CD).
    #[arg(id = super::CLUSTER_ARG, long = "cluster", env = "SLIPWAY_CLUSTER", default_value = "slipway")]
    cluster: String,
    /// Remove what an unfinished creation of this service made (repository, catalog location).
    #[arg(long, conflicts_with = "dry_run")]
    rollback: bool,
    /// Platform domain: the service answers at http://<name>.<domain>:8880.
    #[arg(long, env = "SLIPWAY_DOMAIN", default_value = "local", value_parser = super::domain)]
    domain: String,
    /// Host port of the platform's HTTP ingress (for Backstage's default URL).
    #[arg(long, value_name = "PORT", default_value_t = 8880)]
    http_port: u16,
    /// Host port of the platform's HTTPS ingress (the URLs once browsers trust the local CA).
    #[arg(long, value_name = "PORT", default_value_t = 8843)]
    https_port: u16,
    /// Render the service into --out without touching GitHub or the cluster.
    #[arg(long, requires = "out")]
    dry_run: bool,
    /// Folder for --dry-run (must be new or empty).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The helm binary (a new team on a local-mode platform is rendered with it).
    #[arg(long, value_name = "PATH", env = "SLIPWAY_HELM")]
    helm: Option<PathBuf>,
    /// After creating, follow the service from commit to traffic (CI, image, Argo CD, pods,
    /// URL) for up to SECS, printing each change; 0 skips it.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    wait: u64,
    #[command(flatten)]
    target: super::TargetArgs,
}

/// `target` on the existing cluster `--context` names, if it names one (its Backstage is then
/// reached through a port-forward, and the service's URL is in the domain's DNS zone).
fn on_context(target: Target, args: &super::TargetArgs) -> anyhow::Result<Target> {
    Ok(match &args.context {
        Some(context) => target.on(context, args.kubeconfig.as_deref())?,
        None => target,
    })
}

pub async fn run(args: ServiceArgs) -> anyhow::Result<()> {
    match args.command {
        ServiceCommand::Create(a) => create(a).await,
        ServiceCommand::Status(a) => status(a).await,
    }
}

async fn status(a: StatusArgs) -> anyhow::Result<()> {
    let target = Target {
        github_api: a.github_api,
        backstage_url: None,
        domain: a.domain,
        cluster: a.cluster,
        owner: a.owner,
        http_ingress: std::net::SocketAddr::from(([127, 0, 0, 1], a.http_port)),
        https_port: Some(a.https_port),
        helm: None,
        existing: None,
    };
    let target = on_context(target, &a.target)?;
    let keyring = Keyring::os();
    let reading = match a.follow {
        Some(secs) => follow(&a.name, &target, &keyring, secs).await?,
        None => status::service_status(&a.name, &target, &keyring).await?,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&reading)?);
        return Ok(());
    }
    if a.follow.is_none() {
        println!(
            "{}{}",
            reading.name,
            reading
                .team
                .as_deref()
                .map(|t| format!(" (team {t})"))
                .unwrap_or_default()
        );
        for link in &reading.links {
            print_link(link);
        }
    }
    print_verdict(&reading);
    Ok(())
}

/// Follow the chain, printing each link that changed.
async fn follow(
    name: &str,
    target: &Target,
    keyring: &Keyring,
    secs: u64,
) -> anyhow::Result<status::ServiceStatus> {
    println!(
        "Following {name} from commit to traffic (up to {secs} s; Ctrl-C stops only the wait):"
    );
    let deadline = slipway_core::pipeline::Deadline::after(std::time::Duration::from_secs(secs));
    let mut changed = |now: &status::ServiceStatus, before: Option<&status::ServiceStatus>| {
        for link in now.changes_since(before) {
            print_link(link);
        }
    };
    Ok(status::follow_service(name, target, keyring, deadline, &mut changed).await?)
}

fn print_link(link: &status::Link) {
    use status::LinkState;
    let mark = match link.state {
        LinkState::Done => "ok",
        LinkState::Waiting => "..",
        LinkState::Failed => "!!",
        LinkState::Unknown => "??",
    };
    let kind = format!("{:?}", link.kind).to_lowercase();
    println!("  [{mark}] {kind:<12} {}", link.summary);
    if let Some(url) = &link.url
        && link.state != LinkState::Done
    {
        println!("       {:<12} {url}", "");
    }
    if let Some(fix) = &link.fix {
        println!("       {:<12} fix: {fix}", "");
    }
}

fn print_verdict(reading: &status::ServiceStatus) {
    match reading.broken_link() {
        None => println!(
            "{} answers at {}.",
            reading.name,
            reading
                .link(status::LinkKind::Url)
                .url
                .as_deref()
                .unwrap_or_default()
        ),
        Some(link) => println!(
            "{} is not answering yet: the {} link is {}: {}{}",
            reading.name,
            format!("{:?}", link.kind).to_lowercase(),
            format!("{:?}", link.state).to_lowercase(),
            link.summary,
            link.fix
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        ),
    }
}

async fn create(a: CreateArgs) -> anyhow::Result<()> {
    let request = ServiceRequest {
        name: a.name.clone(),
        team: a.team.clone(),
        template: a.template.clone(),
        description: a.description.clone(),
        domain: a.domain.clone(),
        template_repo: if a.dry_run {
            None
        } else {
            a.template_repo.clone()
        },
    };
    if a.dry_run {
        let owner = a.owner.as_deref().context(
            "--dry-run needs --owner (the GitHub user or organisation of the repository)",
        )?;
        let out = a.out.context("--dry-run needs --out DIR")?;
        let files = service::render_to(&request, owner, &out)?;
        println!(
            "Rendered {} files of {:?} into {}:",
            files.len(),
            request.name,
            out.display()
        );
        for path in files.keys() {
            println!("  {path}");
        }
        return Ok(());
    }
    let target = Target {
        github_api: a.github_api.clone(),
        backstage_url: a.backstage_url.clone(),
        domain: a.domain.clone(),
        cluster: a.cluster.clone(),
        owner: a.owner.clone(),
        http_ingress: std::net::SocketAddr::from(([127, 0, 0, 1], a.http_port)),
        https_port: Some(a.https_port),
        helm: a.helm.clone(),
        existing: None,
    };
    let target = on_context(target, &a.target)?;
    let keyring = Keyring::os();
    if a.rollback {
        let undone = create::rollback_service(&request.name, &target, &keyring).await?;
        println!(
            "Rolled back {}: removed {}.",
            request.name,
            if undone.is_empty() {
                "nothing (it was gone already)".to_owned()
            } else {
                undone.join(", ")
            }
        );
        return Ok(());
    }
    let sink = super::progress::Terminal::new();
    let created = create::create_service(&request, &target, &keyring, &sink).await;
    sink.finish();
    let created = created.map_err(|e| {
        let hint = if e.step().is_some() {
            format!(
                "; run the same command again to resume, or add --rollback to remove what it made ({})",
                request.name
            )
        } else {
            String::new()
        };
        anyhow::anyhow!("{e}{hint}")
    })?;
    println!("Service {:?} created.", request.name);
    println!("  Repository  {}", created.repo_url);
    println!("  Catalog     {}", created.catalog_entity);
    println!(
        "  URL         {}   (once Argo CD has deployed it)",
        created.service_url
    );
    if !created.host_listed {
        println!(
            "  Hosts       {} is not in the hosts file yet: run `slipway hosts apply` (it asks for your password) to open the URL",
            created.host
        );
    }
    match &created.application {
        Some((sync, health)) => println!(
            "  Argo CD     application {}: {sync}, {health}",
            request.name
        ),
        None => println!(
            "  Argo CD     no application yet: the workloads ApplicationSet picks the repository up at its next refresh"
        ),
    }
    if let Some(b) = &created.rate_budget {
        println!(
            "  GitHub      {}/{} requests left this hour",
            b.remaining, b.limit
        );
    }
    if a.wait > 0 {
        let reading = follow(&request.name, &target, &keyring, a.wait).await?;
        print_verdict(&reading);
    }
    Ok(())
}
