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
    let token = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("GitHub token (input hidden): ")
            .context("cannot read the token")?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the token from stdin")?;
        text
    };
    let token = token.trim().to_owned();
    anyhow::ensure!(
        !token.is_empty(),
        "no token given (paste it at the prompt, or pipe it on stdin)"
    );
    Ok(token)
}
