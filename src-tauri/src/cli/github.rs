//! `slipway github connect | status | disconnect`: the GitHub token, kept only in the OS keyring.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use clap::{Args, Subcommand};
use slipway_core::github::{DEFAULT_API, GitHub};
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
    Connect,
    /// Who the kept token belongs to, its scopes, organisations and rate budget.
    Status,
    /// Forget the token.
    Disconnect,
    /// Publish the platform bundle as OWNER/slipway-platform (the repository Argo CD reads in
    /// GitHub mode): one commit with what changed, none when it is current.
    Publish {
        /// GitHub user or organisation (default: the token's user).
        #[arg(long, env = "SLIPWAY_OWNER")]
        owner: Option<String>,
        /// Domain of the platform's host names, written into the published values.
        #[arg(long, env = "SLIPWAY_DOMAIN", default_value = "local")]
        domain: String,
    },
}

/// The kept token, or how to get one kept.
pub fn token(keyring: &Keyring, api: &str) -> anyhow::Result<String> {
    keyring.get(&accounts::github_token(api))?.context("GitHub is not connected: run `slipway github connect` (it reads the token from a prompt or stdin)")
}

pub async fn run(args: GitHubArgs) -> anyhow::Result<()> {
    let keyring = Keyring::os();
    match args.command {
        GitHubCommand::Connect => {
            if let Some(reason) = keyring.unavailable_reason() {
                anyhow::bail!(
                    "no OS keyring ({reason}); Slipway keeps the GitHub token only there and will not write it to a file"
                );
            }
            let token = read_token()?;
            let github = GitHub::new(&args.github_api, &token)?;
            let identity = github.identity().await?;
            GitHub::require_scopes(&identity)?;
            keyring.set(&accounts::github_token(&args.github_api), &token)?;
            println!(
                "Connected to {} as {}; the token is in the OS keyring: {}.",
                args.github_api,
                identity.login,
                keyring.describe()
            );
            print_identity(&identity, github.budget());
        }
        GitHubCommand::Status => {
            let github = GitHub::new(&args.github_api, &token(&keyring, &args.github_api)?)?;
            let identity = github.identity().await?;
            let budget = github.rate_limit().await?;
            println!("{} as {}", args.github_api, identity.login);
            println!("  token kept in  {}", keyring.describe());
            print_identity(&identity, Some(budget));
            let missing = identity.missing_scopes();
            if !missing.is_empty() {
                println!(
                    "Missing scopes: {} (reconnect with a token that has them)",
                    missing.join(", ")
                );
            }
        }
        GitHubCommand::Publish { owner, domain } => {
            let github = GitHub::new(&args.github_api, &token(&keyring, &args.github_api)?)?;
            let identity = github.identity().await?;
            let owner = owner.unwrap_or_else(|| identity.login.clone());
            let org = owner != identity.login;
            anyhow::ensure!(
                !org || identity.organisations.contains(&owner),
                "{owner} is neither you ({}) nor one of your organisations",
                identity.login
            );
            let published =
                slipway_core::platform::publish::publish(&github, &owner, org, &domain).await?;
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
        GitHubCommand::Disconnect => {
            let removed = keyring.delete(&accounts::github_token(&args.github_api))?;
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
    budget: Option<slipway_core::github::RateBudget>,
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
