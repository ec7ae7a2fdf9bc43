//! The command line: parse, call one core function, render the result.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the CLI's job is printing"
)]

mod forward;
mod github;
mod hosts;
mod progress;
mod seal;
mod service;
mod team;
mod trust;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use slipway_core::cluster::{ClusterSpec, Overrides};
use slipway_core::pipeline::Timeouts;
use slipway_core::platform::gitops::Part;
use slipway_core::platform::target::{self, Existing, Expose, NodeSelector};
use slipway_core::platform::{self, PlatformStatus, UpReport, UpSettings};

#[derive(Parser)]
#[command(
    name = "slipway",
    version,
    about = "A local internal developer platform: Kubernetes, Argo CD, Backstage."
)]
#[command(
    long_about = "A local internal developer platform in one command.\n\nWithout a subcommand, Slipway opens its desktop window."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// More log output on stderr (-v: info, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create or repair the cluster and the platform on it (resumes a half-done run; does nothing on a healthy one).
    Up(UpArgs),
    /// Delete the cluster, its node volumes and its kubeconfig entries; with --context, remove
    /// the platform from that existing cluster (never the cluster).
    Down(DownArgs),
    /// Stop the node containers, keeping their state; `slipway up` starts them again.
    Stop(ClusterArgs),
    /// Show the cluster's nodes, ports and kubeconfig context, and each platform component's state.
    Status(StatusArgs),
    /// Print Argo CD's initial `admin` password to stdout (sign in at the Argo CD URL `up` printed).
    ArgocdPassword(ClusterArgs),
    /// Print the cluster's kubeconfig (context kind-<name>) to stdout.
    Kubeconfig(ClusterArgs),
    /// Manage Slipway's block in the hosts file (argocd.local, backstage.local, Ingress hosts).
    Hosts(hosts::HostsArgs),
    /// Forward local ports to pods, services or deployments; reconnects when pods are replaced.
    Forward(forward::ForwardArgs),
    /// Seal a Secret for Sealed Secrets (no kubeseal needed); back up or restore the sealing key.
    Seal(seal::SealArgs),
    /// Services on the platform: create one from a template.
    Service(service::ServiceArgs),
    /// Teams, the platform's tenants: each gets a namespace with quota, limits, network and
    /// access rules.
    Team(team::TeamArgs),
    /// Connect GitHub (token in the OS keyring), show the connection and its rate budget.
    #[command(name = "github")]
    GitHub(github::GitHubArgs),
    /// HTTPS that browsers trust: put the machine's local CA into (or take it out of) the
    /// system, NSS (Firefox, Chromium), keychain and Windows stores.
    Trust(trust::TrustArgs),
}

#[derive(Args, Clone)]
pub struct ClusterArgs {
    /// Cluster name (kind-compatible: lower-case letters, digits, '.' and '-').
    #[arg(id = CLUSTER_ARG, long = "name", env = "SLIPWAY_CLUSTER")]
    name: Option<String>,
}

/// The argument id of the cluster name in every subcommand (`--name`, or `--cluster` where
/// `--name` names something else), so the settings file can default it everywhere.
const CLUSTER_ARG: &str = "cluster_name";

/// Parse the command line with the settings file's values as defaults: a flag wins, then its
/// environment variable, then the file, then the built-in default. An unusable settings file
/// stops a subcommand (exit 2, naming the file); without a subcommand the window opens and its
/// Settings view shows the problem, where it can be fixed.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let config = slipway_core::config::Config::load();
    let defaults: Vec<(&str, String)> = match &config {
        Ok(config) => [
            (CLUSTER_ARG, config.cluster.clone()),
            ("domain", config.domain.clone()),
            ("node_image", config.node_image.clone()),
            ("http_port", config.http_port.map(|p| p.to_string())),
            ("https_port", config.https_port.map(|p| p.to_string())),
            ("charts", config.charts.clone()),
            (
                "helm",
                config
                    .helm
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned()),
            ),
            ("github_api", config.github_api.clone()),
            ("owner", config.owner.clone()),
            ("backstage_url", config.backstage_url.clone()),
            ("template_repo", config.template_repo.clone()),
            (
                "without",
                (!config.without.is_empty()).then(|| {
                    let parts: Vec<&str> = config.without.iter().map(|p| p.as_str()).collect();
                    parts.join(",")
                }),
            ),
        ]
        .into_iter()
        .filter_map(|(id, v)| Some((id, v?)))
        .collect(),
        Err(_) => Vec::new(),
    };
    let command = with_defaults(Cli::command(), &defaults);
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    if let (Err(e), Some(_)) = (&config, &cli.command) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    cli
}

/// A `--domain` (flag, variable or settings default) as core's rules allow it.
fn domain(value: &str) -> Result<String, String> {
    match slipway_core::config::domain_problem(value) {
        None => Ok(value.to_owned()),
        Some(problem) => Err(problem),
    }
}

fn with_defaults(mut command: clap::Command, defaults: &[(&str, String)]) -> clap::Command {
    for (id, value) in defaults {
        if command.get_arguments().any(|a| a.get_id() == *id) {
            let value = value.clone();
            command = command.mut_arg(*id, move |a| a.default_value(value));
        }
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |s| with_defaults(s, defaults));
    }
    command
}

impl ClusterArgs {
    /// The kubeconfig context of this cluster (`kind-<name>`).
    fn kube_target(&self) -> anyhow::Result<slipway_core::k8s::KubeTarget> {
        Ok(slipway_core::k8s::KubeTarget::cluster(&self.spec()?.name))
    }
}

/// An existing cluster instead of Slipway's own (`--context`, the settings key `context`).
#[derive(Args, Clone)]
pub struct TargetArgs {
    /// An existing cluster's kubeconfig context (EKS, GKE, AKS, k3d …) instead of Slipway's own
    /// cluster; Docker is not used.
    #[arg(long, value_name = "NAME", env = "SLIPWAY_CONTEXT")]
    context: Option<String>,
    /// The kubeconfig file holding --context (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "PATH", env = "SLIPWAY_KUBECONFIG")]
    kubeconfig: Option<std::path::PathBuf>,
}

impl TargetArgs {
    /// Whom to talk to: the existing cluster named, else Slipway's own `cluster`.
    fn kube_target(&self, cluster: &ClusterArgs) -> anyhow::Result<slipway_core::k8s::KubeTarget> {
        match &self.context {
            Some(context) => Ok(target::located(context, self.kubeconfig.as_deref())?.1),
            None => cluster.kube_target(),
        }
    }

    /// The existing cluster named, if any.
    fn existing(&self) -> anyhow::Result<Option<Existing>> {
        let Some(context) = &self.context else {
            return Ok(None);
        };
        Ok(Some(Existing {
            kube: target::kube_context(context, self.kubeconfig.as_deref())?,
            expose: Expose::default(),
            platform_nodes: None,
            workload_nodes: None,
            recall: target::Recall::default(),
        }))
    }
}

#[derive(Args)]
pub struct DownArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// With --context: confirm that the platform (Argo CD, every component, every service's
    /// Application and namespace) is removed from that shared cluster.
    #[arg(long)]
    yes: bool,
    /// With --context: the helm binary that uninstalls Argo CD (default: `helm` on PATH).
    #[arg(long, value_name = "PATH", env = "SLIPWAY_HELM")]
    helm: Option<std::path::PathBuf>,
}

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// An existing cluster: how traffic reaches Traefik (a LoadBalancer Service, or NodePorts
    /// when the cluster has no load balancer). Default for this and the two below: what the
    /// cluster's last `up` was given (its record in argocd/slipway-site).
    #[arg(long, value_enum, value_name = "HOW")]
    expose: Option<ExposeArg>,
    /// An existing cluster: run the platform's pods on the nodes with this label (default:
    /// wherever the scheduler puts them).
    #[arg(long, value_name = "KEY=VALUE")]
    platform_nodes: Option<NodeSelector>,
    /// An existing cluster: run services' pods on the nodes with this label, and only there
    /// (default: wherever the scheduler puts them).
    #[arg(long, value_name = "KEY=VALUE")]
    workload_nodes: Option<NodeSelector>,
    /// Node image (default: the kindest/node image pinned by digest in the embedded config).
    #[arg(long, value_name = "REF")]
    node_image: Option<String>,
    /// Host port for HTTP ingress on the platform node.
    #[arg(long, value_name = "PORT")]
    http_port: Option<u16>,
    /// Host port for HTTPS ingress on the platform node.
    #[arg(long, value_name = "PORT")]
    https_port: Option<u16>,
    /// Address the ingress ports listen on (127.0.0.1 by default). An address beyond this
    /// machine (0.0.0.0, a LAN address) also needs --expose-to-network.
    #[arg(long, value_name = "ADDR")]
    listen_address: Option<String>,
    /// Confirm that --listen-address exposes Argo CD and Backstage to the network (Backstage's
    /// guest sign-in goes off; every `up` warns).
    #[arg(long, requires = "listen_address")]
    expose_to_network: bool,
    /// Host port for the Kubernetes API (default: a free port, chosen once and kept).
    #[arg(long, value_name = "PORT")]
    api_port: Option<u16>,
    /// Delete an existing cluster first and make it anew.
    #[arg(long)]
    recreate: bool,
    /// Time limit of the `nodes-ready` step, in seconds (default: its table's, 300).
    #[arg(long, value_name = "SECS")]
    wait: Option<u64>,
    /// Time limit of the `nodes` step (create, start, boot), in seconds (default: 120).
    #[arg(long, value_name = "SECS")]
    boot_timeout: Option<u64>,
    /// Make or repair the cluster only; install no platform on it.
    #[arg(long)]
    cluster_only: bool,
    /// Where charts come from: a local folder (offline use), an `oci://` registry or a Helm
    /// repository URL holding every chart. Default: each chart's upstream repository.
    #[arg(long, value_name = "DIR|URL", env = "SLIPWAY_CHARTS")]
    charts: Option<String>,
    /// Domain of the platform's host names (`local`: argocd.local, backstage.local, grafana.local).
    #[arg(
        long,
        value_name = "DOMAIN",
        env = "SLIPWAY_DOMAIN",
        default_value = "local",
        value_parser = domain
    )]
    domain: String,
    /// The helm binary to run (default: `helm` on PATH).
    #[arg(long, value_name = "PATH", env = "SLIPWAY_HELM")]
    helm: Option<std::path::PathBuf>,
    /// Time limit of each step that waits for the platform's components (argocd, argocd-ready,
    /// platform-apps, sealing-key, routing), in seconds (default: each step's own).
    #[arg(long, value_name = "SECS")]
    app_timeout: Option<u64>,
    /// Run the platform from the embedded bundle even when GitHub is connected (no platform
    /// repository; services are not deployed from GitHub).
    #[arg(long)]
    local: bool,
    /// GitHub mode: the user or organisation that owns the platform repository and the
    /// services (default: the token's user).
    #[arg(long, env = "SLIPWAY_OWNER")]
    owner: Option<String>,
    /// GitHub's API (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "SLIPWAY_GITHUB_API", default_value = slipway_core::github::DEFAULT_API)]
    github_api: String,
    /// Leave an optional part of the platform out (repeatable; the settings key `without`
    /// lists the same). `observability`: no collector, Prometheus, Tempo, Loki or Grafana;
    /// services keep working and export nothing.
    #[arg(long, value_name = "PART", value_parser = part, value_delimiter = ',')]
    without: Vec<Part>,
}

fn part(text: &str) -> Result<Part, String> {
    Part::ALL
        .into_iter()
        .find(|p| p.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = Part::ALL.iter().map(|p| p.as_str()).collect();
            format!(
                "no optional part {text:?}; the parts are: {}",
                names.join(", ")
            )
        })
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExposeArg {
    LoadBalancer,
    NodePort,
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

impl ClusterArgs {
    fn spec(&self) -> anyhow::Result<ClusterSpec> {
        let overrides = Overrides {
            name: self.name.clone(),
            ..Overrides::default()
        };
        Ok(ClusterSpec::embedded_default()?.with_overrides(&overrides)?)
    }
}

impl UpArgs {
    /// What the flags ask for; core resolves it into the spec and `up`'s options.
    fn settings(&self) -> UpSettings {
        let mut timeouts = Timeouts::default();
        let secs = Duration::from_secs;
        if let Some(s) = self.wait {
            timeouts.set(&["nodes-ready"], secs(s));
        }
        if let Some(s) = self.boot_timeout {
            timeouts.set(&["nodes"], secs(s));
        }
        if let Some(s) = self.app_timeout {
            timeouts.set(platform::APP_WAIT_STEPS, secs(s));
        }
        UpSettings {
            cluster: Overrides {
                name: self.cluster.name.clone(),
                node_image: self.node_image.clone(),
                http_port: self.http_port,
                https_port: self.https_port,
                listen_address: self.listen_address.clone(),
                api_server_port: self.api_port,
                expose: self.expose_to_network,
            },
            recreate: self.recreate,
            cluster_only: self.cluster_only,
            domain: Some(self.domain.clone()),
            charts: self.charts.clone(),
            helm: self.helm.clone(),
            local: self.local,
            owner: self.owner.clone(),
            github_api: Some(self.github_api.clone()),
            timeouts,
            without: self.without.clone(),
            context: self.target.context.clone(),
            kubeconfig: self.target.kubeconfig.clone(),
            expose: self.expose.map(|e| match e {
                ExposeArg::NodePort => Expose::NodePort,
                ExposeArg::LoadBalancer => Expose::LoadBalancer,
            }),
            platform_nodes: self.platform_nodes.clone(),
            workload_nodes: self.workload_nodes.clone(),
        }
    }

    /// The flags that only mean something on an existing cluster, and those that never do.
    fn check_target(&self) -> anyhow::Result<()> {
        let existing = self.target.context.is_some();
        if !existing
            && (self.expose.is_some()
                || self.platform_nodes.is_some()
                || self.workload_nodes.is_some())
        {
            anyhow::bail!(
                "--expose, --platform-nodes and --workload-nodes place the platform on an existing cluster: add --context NAME"
            );
        }
        if existing
            && (self.node_image.is_some()
                || self.http_port.is_some()
                || self.https_port.is_some()
                || self.listen_address.is_some()
                || self.api_port.is_some())
        {
            anyhow::bail!(
                "--node-image, --http-port, --https-port, --listen-address and --api-port shape Slipway's own cluster; an existing cluster (--context) keeps its own"
            );
        }
        Ok(())
    }
}

pub fn run(command: Command, verbose: u8) -> ExitCode {
    init_logging(verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Core errors carry their causes in their own message; the chain would repeat them.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(args) => {
            args.check_target()?;
            let settings = args.settings();
            let sink = progress::Terminal::new();
            let report = if settings.context.is_some() {
                let options = settings.resolve_existing()?;
                platform::existing::up(&options, &settings.timeouts, &sink).await
            } else {
                let (spec, options) = settings.resolve()?;
                platform::up(spec, &options, &sink).await
            };
            sink.finish();
            print_up(&report?);
        }
        Command::Down(args) => {
            let sink = progress::Terminal::new();
            match args.target.existing()? {
                Some(existing) => {
                    if !args.yes {
                        anyhow::bail!(
                            "`down --context {}` removes the platform from that cluster: Argo CD, every component, every service's Application and namespace. Pass --yes to confirm",
                            existing.kube.context
                        );
                    }
                    let outcome =
                        platform::existing::down(&existing, args.helm.as_deref(), &sink).await;
                    sink.finish();
                    outcome?;
                    println!(
                        "The platform is removed from context {}; the cluster stays.",
                        existing.kube.context
                    );
                }
                None => {
                    let outcome = platform::down(args.cluster.spec()?, &sink).await;
                    sink.finish();
                    outcome?;
                }
            }
        }
        Command::Stop(args) => {
            let sink = progress::Terminal::new();
            let outcome = platform::stop(args.spec()?, &sink).await;
            sink.finish();
            outcome?;
        }
        Command::Status(args) => {
            let status = match args.target.existing()? {
                Some(existing) => platform::existing::status(&existing).await?,
                None => platform::status(args.cluster.spec()?).await?,
            };
            match args.output {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&status).context("encode status")?
                ),
                Format::Table => print_status(&status),
            }
        }
        Command::Kubeconfig(args) => print!("{}", platform::kubeconfig(args.spec()?).await?),
        Command::ArgocdPassword(args) => match platform::argocd_password(args.spec()?).await? {
            Some(password) => println!("{password}"),
            None => anyhow::bail!(
                "Argo CD has no initial admin password Secret (argocd/argocd-initial-admin-secret): it was deleted after the password was changed, or Argo CD is not installed yet (`slipway up`)"
            ),
        },
        Command::Hosts(args) => hosts::run(args).await?,
        Command::Forward(args) => forward::run(args).await?,
        Command::Seal(args) => seal::run(args).await?,
        Command::Service(args) => service::run(args).await?,
        Command::Team(args) => team::run(args).await?,
        Command::GitHub(args) => github::run(args).await?,
        Command::Trust(args) => trust::run(args).await?,
    }
    Ok(())
}

fn print_up(report: &UpReport) {
    let secs = report.elapsed_ms as f64 / 1000.0;
    if report.up_to_date {
        println!(
            "Cluster {:?} is up; all is up to date, nothing changed ({secs:.1} s).",
            report.cluster
        );
    } else {
        println!("Cluster {:?} is up ({secs:.1} s).", report.cluster);
    }
    if let Some(api) = &report.status.api_server {
        println!(
            "  Kubernetes API  {api}   (kubectl --context {})",
            report.status.context
        );
    }
    for address in &report.status.ingress {
        println!("  Ingress         {address}");
    }
    if let Some(p) = &report.platform {
        println!(
            "  Argo CD         {}   (user {}; password: slipway argocd-password)",
            p.argocd_url, p.argocd_user
        );
        match &p.backstage_forward {
            Some(forward) => println!(
                "  Backstage       not routed: it has no sign-in but guest; reach it from here with `{forward}`, or give it GitHub sign-in (`slipway github oauth set --context NAME`)"
            ),
            None => println!("  Backstage       {}", p.backstage_url),
        }
        if let Some(callback) = &p.github_callback {
            println!(
                "                  signs in with GitHub: the OAuth app's callback URL must be {callback}"
            );
        }
        if let Some(grafana) = &p.grafana_url {
            println!("  Grafana         {grafana}   (traces, metrics and logs of every service)");
        }
        if !p.dns_zone {
            println!(
                "  {} must resolve to the ingress address: `slipway hosts apply` adds them.",
                p.hosts.join(", ")
            );
        } else if p.dns_records.is_empty() {
            println!(
                "  Traefik's Service has no address yet; `slipway status --context {}` shows it once it does, then add DNS records for {}.",
                report.status.context,
                p.hosts.join(", ")
            );
        } else {
            println!("  Add these records to the domain's DNS zone:");
            for r in &p.dns_records {
                println!("    {:<40} {:<5} {}", r.name, r.record_type, r.value);
            }
        }
        if !p.https {
            println!(
                "  HTTPS is served on the HTTPS port too: `slipway trust install` makes browsers trust it."
            );
        }
    }
}

fn print_status(platform: &PlatformStatus) {
    let status = &platform.cluster;
    if !status.exists {
        println!(
            "Cluster {:?} does not exist on Docker at {}. Run `slipway up` to create it.",
            status.name, status.docker
        );
        return;
    }
    let health = if status.healthy {
        "healthy"
    } else {
        "not healthy"
    };
    println!("Cluster {:?}: {health}", status.name);
    println!(
        "{:<28} {:<14} {:<10} {:<6} IMAGE",
        "NODE", "ROLE", "STATE", "READY"
    );
    for n in &status.nodes {
        let ready = n.ready.map_or("?", |r| if r { "yes" } else { "no" });
        let state = serde_json::to_value(n.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "{:<28} {:<14} {:<10} {:<6} {}",
            n.name, n.role, state, ready, n.image
        );
    }
    println!("Docker:     {}", status.docker);
    if let Some(api) = &status.api_server {
        println!("API server: {api}");
    }
    for address in &status.ingress {
        println!("Ingress:    {address}");
    }
    let ctx = if status.context_present {
        "present"
    } else {
        "missing (run `slipway up`)"
    };
    match &status.kubeconfig {
        Some(path) => println!(
            "Context:    {} in {} ({ctx})",
            status.context,
            path.display()
        ),
        None => println!("Context:    {} ({ctx})", status.context),
    }
    if !platform.components.is_empty() {
        println!();
        println!(
            "{:<16} {:<28} {:<12} VERSION",
            "COMPONENT", "SYNC", "HEALTH"
        );
        for c in &platform.components {
            // The chart the cluster runs, and the pin when it differs (an edited platform repo).
            let version = match (&c.running, &c.pinned) {
                (Some(r), Some(p)) if r != p => format!("{r} (pinned {p})"),
                (Some(v), _) | (None, Some(v)) => v.clone(),
                (None, None) => String::new(),
            };
            println!("{:<16} {:<28} {:<12} {version}", c.name, c.sync, c.health);
            if let Some(reason) = c.reason.as_deref().filter(|_| c.health != "Healthy") {
                println!("{:<16} {reason}", "");
            }
        }
    }
    if platform.mode.as_deref() == Some("local") {
        println!(
            "\nLocal mode: Argo CD deploys no service from GitHub. After `slipway github connect`, `slipway up` switches to GitHub mode."
        );
    }
    let https = status.ingress.iter().find(|u| u.starts_with("https://"));
    if let (true, Some(https)) = (platform.platform_installed, https) {
        if platform.https_trusted {
            println!("\nHTTPS:      {https}, trusted by this machine (the local CA)");
        } else {
            println!(
                "\nHTTPS:      {https}, not trusted by this machine yet: `slipway trust install`"
            );
        }
    }
    println!();
    if platform.problems.is_empty() && !platform.platform_installed {
        println!(
            "All checks pass: nodes Ready, API and ingress answering. The platform is not installed (`slipway up` installs it)."
        );
    } else if platform.problems.is_empty() {
        println!("All checks pass: nodes Ready, API and ingress answering, components Healthy.");
    } else {
        println!("Not healthy:");
        for p in &platform.problems {
            println!("  - {p}");
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "error",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| default.into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::Cli;

    /// docs/cli.md is this file's definitions rendered: a flag added, renamed or documented
    /// differently without regenerating it fails here.
    #[test]
    fn docs_cli_md_is_rendered_from_the_definitions() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md");
        let rendered = format!(
            "<!-- Generated from the CLI's definitions (src-tauri/src/cli); do not edit. Regenerate:\n     SLIPWAY_UPDATE_DOCS=1 cargo test -p slipway docs_cli_md -->\n\n{}",
            clap_markdown::help_markdown::<Cli>()
        );
        if std::env::var_os("SLIPWAY_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).expect("write docs/cli.md");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == rendered,
            "docs/cli.md is not what the CLI's definitions say: regenerate it with `SLIPWAY_UPDATE_DOCS=1 cargo test -p slipway docs_cli_md`"
        );
    }
}
