//! `slipway team list | apply | remove`: the platform's tenants.

use anyhow::Context;
use clap::{Args, Subcommand};
use slipway_core::secrets::Keyring;
use slipway_core::teams::LocalTeams;
use slipway_core::teams::ops::{self, TeamChange, TeamsTarget};

#[derive(Args)]
pub struct TeamArgs {
    #[command(subcommand)]
    command: TeamCommand,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Subcommand)]
enum TeamCommand {
    /// Teams with their namespace, quota used/allowed and services.
    List {
        #[arg(short, long, value_enum, default_value_t = super::Format::Table)]
        output: super::Format,
    },
    /// Add a team, or change its quota (the rest of its file is kept). GitHub mode: commits
    /// teams/NAME.yaml to the platform repository; local mode: applies its baseline here.
    Apply {
        /// Team name: lower-case letters, digits and '-' (its namespace is team-NAME).
        name: String,
        /// CPU the namespace may request and use in all (a quantity: 2, 500m).
        #[arg(long, value_name = "QUANTITY")]
        cpu: Option<String>,
        /// Memory the namespace may request and use in all (a quantity: 4Gi, 512Mi).
        #[arg(long, value_name = "QUANTITY")]
        memory: Option<String>,
        /// How many pods the namespace may run.
        #[arg(long, value_name = "N")]
        pods: Option<u32>,
    },
    /// Remove a team and its namespace (refused while services run there, unless --force).
    Remove {
        name: String,
        /// Delete the namespace even with services in it.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args)]
struct TargetArgs {
    /// The platform cluster.
    #[arg(id = super::CLUSTER_ARG, long = "cluster", env = "SLIPWAY_CLUSTER", default_value = "slipway", global = true)]
    cluster: String,
    /// GitHub's API (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "SLIPWAY_GITHUB_API", default_value = slipway_core::github::DEFAULT_API, global = true)]
    github_api: String,
    /// GitHub mode: the owner of the platform repository (default: the token's user).
    #[arg(long, env = "SLIPWAY_OWNER", global = true)]
    owner: Option<String>,
    /// Local mode even when GitHub is connected (as `up --local`).
    #[arg(long, global = true)]
    local: bool,
    /// The helm binary (local mode renders the team chart with it).
    #[arg(long, value_name = "PATH", env = "SLIPWAY_HELM", global = true)]
    helm: Option<std::path::PathBuf>,
    /// An existing cluster's kubeconfig context (`up --context`) instead of Slipway's own.
    #[arg(long, value_name = "NAME", env = "SLIPWAY_CONTEXT", global = true)]
    context: Option<String>,
    /// The kubeconfig file holding --context (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "PATH", env = "SLIPWAY_KUBECONFIG", global = true)]
    kubeconfig: Option<std::path::PathBuf>,
}

pub async fn run(args: TeamArgs) -> anyhow::Result<()> {
    let t = &args.target;
    // An existing cluster's team files are keyed as `up --context` keys them.
    let (cluster, kube) = match &t.context {
        Some(context) => slipway_core::platform::target::located(context, t.kubeconfig.as_deref())?,
        None => (
            t.cluster.clone(),
            slipway_core::k8s::KubeTarget::cluster(&t.cluster),
        ),
    };
    let target = TeamsTarget {
        local_teams: LocalTeams::for_cluster(&cluster),
        kube,
        cluster,
        github_api: t.github_api.clone(),
        owner: t.owner.clone(),
        local: t.local,
        helm: t.helm.clone(),
    };
    let keyring = Keyring::os();
    match args.command {
        TeamCommand::List { output } => {
            let teams = ops::list(&target, &keyring).await?;
            match output {
                super::Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&teams).context("encode teams")?
                ),
                super::Format::Table => {
                    if teams.is_empty() {
                        println!(
                            "No teams yet: `slipway team apply NAME` or a service creation adds one."
                        );
                        return Ok(());
                    }
                    println!(
                        "{:<20} {:<26} {:<34} SERVICES",
                        "TEAM", "NAMESPACE", "QUOTA (used/hard)"
                    );
                    for team in teams {
                        let pick = |r: &str| {
                            team.quota
                                .iter()
                                .find(|q| q.resource == r)
                                .map(|q| format!("{}/{}", q.used, q.hard))
                        };
                        let quota = if team.applied {
                            ["pods", "requests.cpu", "requests.memory"]
                                .iter()
                                .filter_map(|r| {
                                    Some(format!(
                                        "{} {}",
                                        r.trim_start_matches("requests."),
                                        pick(r)?
                                    ))
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        } else {
                            "not applied yet".to_owned()
                        };
                        let services = if team.services.is_empty() {
                            "-".to_owned()
                        } else {
                            team.services.join(", ")
                        };
                        println!(
                            "{:<20} {:<26} {:<34} {services}",
                            team.name, team.namespace, quota
                        );
                    }
                }
            }
        }
        TeamCommand::Apply {
            name,
            cpu,
            memory,
            pods,
        } => {
            let change = TeamChange {
                name,
                cpu,
                memory,
                pods,
            };
            let (team, outcome) = ops::apply(&target, &keyring, &change).await?;
            println!(
                "Team {:?} (namespace {}): {outcome}.",
                team.name,
                team.namespace()
            );
        }
        TeamCommand::Remove { name, force } => {
            println!("{}.", ops::remove(&target, &keyring, &name, force).await?);
        }
    }
    Ok(())
}
