//! `slipway github connect | status | disconnect`: the GitHub token, kept only in the OS keyring.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use clap::{Args, Subcommand};
use slipway_core::github::account;
use slipway_core::github::{DEFAULT_API, GitHub, GitHubError};
use slipway_core::secrets::{Keyring, accounts};

#[derive(Args)]
pub struct GitHubArgs {
    #[command(subcommand)]
    command: GitHubCommand,
    /// GitHub's API (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, global = true, env = "SLIPWAY_GITHUB_API", default_value = DEFAULT_API)]
    github_api: String,
}

#[derive(Subcommand)]
enum GitHubCommand {
    /// Read a token (prompt, or stdin; never an argument), check it and keep it in the OS keyring.
    Connect {
        /// Keep it as the read-only token the cluster reads repositories with (Backstage,
        /// Argo CD): a fine-grained token with Contents and Metadata read-only. Without one,
        /// Argo CD reads with the main token and Backstage gets none.
        #[arg(long)]
        read_only: bool,
    },
    /// Who the kept token belongs to, its scopes, organisations and rate budget.
    Status,
    /// Forget the token.
    Disconnect {
        /// Forget the read-only token instead.
        #[arg(long)]
        read_only: bool,
    },
    /// Backstage's GitHub sign-in on an existing cluster (`up --context`): the GitHub OAuth app
    /// it signs team members in with. Without one Backstage is not routed there.
    Oauth {
        #[command(subcommand)]
        action: OAuthAction,
    },
    /// Publish the platform bundle as OWNER/slipway-platform (the private repository Argo CD
    /// reads in GitHub mode): one commit with what changed, none when it is current. Files
    /// someone else changed since Slipway's last publish are never overwritten without --force.
    Publish {
        /// GitHub user or organisation (default: the token's user).
        #[arg(long, env = "SLIPWAY_OWNER")]
        owner: Option<String>,
        /// Write the bundle over others' changes (or over a newer Slipway's publish).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum OAuthAction {
    /// Keep the OAuth app (https://github.com/settings/developers): its client ID here, its
    /// client secret from the prompt or stdin.
    Set {
        #[arg(long, value_name = "ID")]
        client_id: String,
        #[command(flatten)]
        target: super::TargetArgs,
    },
    /// Forget the OAuth app: Backstage goes back to port-forward only.
    Remove {
        #[command(flatten)]
        target: super::TargetArgs,
    },
}

pub async fn run(args: GitHubArgs) -> anyhow::Result<()> {
    let keyring = Keyring::os();
    let api = &args.github_api;
    match args.command {
        GitHubCommand::Connect { read_only: true } => {
            let token = read_token()?;
            let login = account::connect_read_only(api, &token, &keyring).await?;
            println!(
                "Kept {login}'s read-only token for {api}: the next `slipway up` gives it to Backstage and Argo CD."
            );
        }
        GitHubCommand::Connect { read_only: false } => {
            let token = read_token()?;
            let status = account::connect(api, &token, &keyring).await?;
            println!(
                "Connected to {api} as {}; the token is in the OS keyring: {}.",
                status.identity.login, status.keyring
            );
            print_identity(&status.identity, status.budget.as_ref());
            // A platform started before connecting runs in local mode, where Argo CD deploys no
            // service from GitHub: the next `up` switches it.
            println!(
                "Next: `slipway up` runs the platform in GitHub mode: it publishes slipway-platform for your owner (--owner, else {}) and Argo CD deploys your services from GitHub; a platform already running in local mode is switched.",
                status.identity.login
            );
        }
        GitHubCommand::Oauth { action } => oauth(action, &keyring).await?,
        GitHubCommand::Status => {
            let status = account::status(api, &keyring)
                .await?
                .ok_or(GitHubError::NotConnected { api: api.clone() })?;
            println!("{api} as {}", status.identity.login);
            println!("  token kept in  {}", status.keyring);
            print_identity(&status.identity, status.budget.as_ref());
            println!(
                "  cluster reads  {}",
                if status.read_only_token {
                    "with the read-only token"
                } else {
                    "with this token (Argo CD); Backstage gets none — `slipway github connect --read-only`"
                }
            );
            if !status.missing_scopes.is_empty() {
                println!(
                    "Missing scopes: {} (reconnect with a token that has them)",
                    status.missing_scopes.join(", ")
                );
            }
        }
        GitHubCommand::Publish { owner, force } => {
            let token = keyring
                .get(&accounts::github_token(api))?
                .ok_or(GitHubError::NotConnected { api: api.clone() })?;
            let github = GitHub::new(api, &token)?;
            let owner = github.identity().await?.owner(owner.as_deref())?;
            let published = slipway_core::platform::publish::publish(
                &github,
                &owner.name,
                owner.org,
                &slipway_core::config::Config::load()?.without,
                None,
                force,
            )
            .await?;
            if let Some(newer) = &published.newer {
                println!(
                    "{} was published by Slipway {newer}, newer than this one: left as it is (--force writes over it).",
                    published.repo_url
                );
                return Ok(());
            }
            if !published.kept.is_empty() {
                println!(
                    "Kept the repository's own changes to {}.",
                    published.kept.join(", ")
                );
            }
            if !published.removed.is_empty() {
                println!(
                    "Removed what the bundle no longer has: {}.",
                    published.removed.join(", ")
                );
            }
            let what = if published.changed.is_empty() {
                "already current".to_owned()
            } else {
                format!("{} files in one commit", published.changed.len())
            };
            println!(
                "{} {} ({what}).",
                if published.created {
                    "Created"
                } else {
                    "Published"
                },
                published.repo_url
            );
        }
        GitHubCommand::Disconnect { read_only } => {
            let removed = if read_only {
                account::disconnect_read_only(api, &keyring)?
            } else {
                account::disconnect(api, &keyring)?
            };
            println!(
                "{}",
                if removed {
                    "Forgot the GitHub token."
                } else {
                    "No GitHub token was kept."
                }
            );
        }
    }
    Ok(())
}

fn print_identity(
    identity: &slipway_core::github::Identity,
    budget: Option<&slipway_core::github::RateBudget>,
) {
    match &identity.scopes {
        Some(scopes) => println!("  scopes         {}", scopes.join(", ")),
        // GitHub cannot list a fine-grained token's permissions: say what is needed; a refused
        // call later names the missing one.
        None => println!(
            "  scopes         fine-grained token; needs {} on the owner's repositories",
            slipway_core::github::NEEDED_PERMISSIONS.join(", ")
        ),
    }
    let owners: Vec<&str> = std::iter::once(identity.login.as_str())
        .chain(identity.organisations.iter().map(String::as_str))
        .collect();
    println!(
        "  owners         {} (choose with --owner)",
        owners.join(", ")
    );
    if let Some(b) = budget {
        let reset = jiff::Timestamp::from_second(i64::try_from(b.reset).unwrap_or(0))
            .map_or_else(|_| b.reset.to_string(), |t| t.to_string());
        println!(
            "  rate budget    {}/{} requests left, resets {reset}",
            b.remaining, b.limit
        );
    }
}

fn read_token() -> anyhow::Result<String> {
    read_secret("GitHub token", "token")
}

/// A secret from a hidden prompt, or stdin when it is not a terminal; never an argument.
fn read_secret(prompt: &str, what: &str) -> anyhow::Result<String> {
    let secret = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{prompt} (input hidden): "))
            .with_context(|| format!("cannot read the {what}"))?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read the {what} from stdin"))?;
        text
    };
    let secret = secret.trim().to_owned();
    anyhow::ensure!(
        !secret.is_empty(),
        "no {what} given (paste it at the prompt, or pipe it on stdin)"
    );
    Ok(secret)
}

/// `slipway github oauth set|remove`: Backstage's GitHub sign-in on an existing cluster.
async fn oauth(action: OAuthAction, keyring: &Keyring) -> anyhow::Result<()> {
    let target = match &action {
        OAuthAction::Set { target, .. } | OAuthAction::Remove { target } => target.clone(),
    };
    let context = target.context.as_deref().context(
        "Backstage signs in with GitHub on an existing cluster (on Slipway's own, only this machine reaches it and guest sign-in serves): add --context NAME",
    )?;
    let (cluster, _) =
        slipway_core::platform::target::located(context, target.kubeconfig.as_deref())?;
    match action {
        OAuthAction::Set { client_id, .. } => {
            let client_secret = read_secret("The OAuth app's client secret", "client secret")?;
            account::OAuthApp {
                client_id,
                client_secret,
            }
            .keep(&cluster, keyring)?;
            println!(
                "Kept the OAuth app for {context}'s Backstage in the OS keyring: the next `slipway up --context {context}` routes Backstage with GitHub sign-in (team members only) and prints the callback URL the app must have."
            );
        }
        OAuthAction::Remove { .. } => {
            let had = account::OAuthApp::forget(&cluster, keyring)?;
            println!(
                "{}: the next `slipway up --context {context}` stops routing Backstage (port-forward only).",
                if had {
                    "Forgot the OAuth app"
                } else {
                    "No OAuth app was kept"
                }
            );
        }
    }
    Ok(())
}
