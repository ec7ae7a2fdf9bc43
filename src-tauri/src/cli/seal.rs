//! `slipway seal`: a SealedSecret from a Secret manifest or from literal/file values, without
//! kubeseal; and the sealing key's explicit backup and restore.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use slipway_core::sealing::{self, Scope, SealingCert, SecretInput};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  slipway seal secret.yaml > sealed.yaml\n  kubectl create secret generic db --dry-run=client -o yaml --from-file=password=./pw | slipway seal\n  slipway seal --name db --namespace team-a --from-file password=./pw -o json\n  slipway seal --backup-key ~/sealing-key.yaml"
)]
pub struct SealArgs {
    /// The cluster whose controller seals (its certificate, its keys); `--name` is the Secret's.
    #[arg(id = super::CLUSTER_ARG, long = "cluster", value_name = "NAME", env = "SLIPWAY_CLUSTER")]
    cluster_name: Option<String>,
    #[command(flatten)]
    target: super::TargetArgs,
    /// A Secret manifest (YAML or JSON, `data` or `stringData`); `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
    /// A value as KEY=VALUE (visible to other local users in the process list: prefer --from-file).
    #[arg(long, value_name = "KEY=VALUE")]
    from_literal: Vec<String>,
    /// A value read from a file, as KEY=PATH.
    #[arg(long, value_name = "KEY=PATH")]
    from_file: Vec<String>,
    /// The Secret's name (overrides the manifest's).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The Secret's namespace (overrides the manifest's).
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    /// Who may decrypt: this name in this namespace, any name in the namespace, or anywhere.
    #[arg(long, value_enum, default_value_t = ScopeArg::Strict)]
    scope: ScopeArg,
    /// The controller's certificate (PEM) instead of fetching it from the cluster.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Yaml)]
    output: Output,
    /// Write the controller's private sealing keys to FILE (mode 0600) and exit.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "from_literal", "from_file", "restore_key"])]
    backup_key: Option<PathBuf>,
    /// Put the sealing keys from FILE (a --backup-key file) into the cluster and restart the controller.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "from_literal", "from_file"])]
    restore_key: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    Strict,
    NamespaceWide,
    ClusterWide,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Yaml,
    Json,
}

impl SealArgs {
    /// The cluster whose controller seals: the existing one named, else Slipway's.
    fn kube_target(&self) -> anyhow::Result<slipway_core::k8s::KubeTarget> {
        let cluster = super::ClusterArgs {
            name: self.cluster_name.clone(),
        };
        self.target.kube_target(&cluster)
    }
}

pub async fn run(args: SealArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.backup_key {
        return backup(&args, path).await;
    }
    if let Some(path) = &args.restore_key {
        return restore(&args, path).await;
    }
    let secret = input(&args)?;
    let scope = match args.scope {
        ScopeArg::Strict => Scope::Strict,
        ScopeArg::NamespaceWide => Scope::NamespaceWide,
        ScopeArg::ClusterWide => Scope::ClusterWide,
    };
    let pem = match &args.cert {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read the certificate {}", path.display()))?,
        None => {
            let client = args.kube_target()?.client().await?;
            sealing::fetch_cert(
                &client,
                sealing::CONTROLLER_NAMESPACE,
                sealing::CONTROLLER_NAME,
            )
            .await?
            .into_bytes()
        }
    };
    let cert = SealingCert::from_pem(&pem, jiff::Timestamp::now().as_second())?;
    let sealed = sealing::seal_secret(&cert, &secret, scope)?;
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&sealed)?),
        Output::Yaml => print!("{}", serde_saphyr::to_string(&sealed)?),
    }
    Ok(())
}

fn input(args: &SealArgs) -> anyhow::Result<SecretInput> {
    let literal = !(args.from_literal.is_empty() && args.from_file.is_empty());
    let mut secret = match (&args.input, literal) {
        (Some(path), _) if path.as_os_str() != "-" => SecretInput::from_manifest(
            &std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        )?,
        (None, true) => SecretInput {
            type_: Some("Opaque".into()),
            ..SecretInput::default()
        },
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the Secret manifest from stdin")?;
            SecretInput::from_manifest(&text)?
        }
    };
    for pair in &args.from_literal {
        let (k, v) = pair.split_once('=').with_context(|| {
            format!(
                "--from-literal wants KEY=VALUE, got {:?}",
                pair.split('=').next().unwrap_or_default()
            )
        })?;
        secret.data.insert(k.to_owned(), v.as_bytes().to_vec());
    }
    for pair in &args.from_file {
        let (k, path) = pair
            .split_once('=')
            .with_context(|| format!("--from-file wants KEY=PATH, got {pair:?}"))?;
        secret.data.insert(
            k.to_owned(),
            std::fs::read(path).with_context(|| format!("cannot read {path}"))?,
        );
    }
    if let Some(name) = &args.name {
        secret.name.clone_from(name);
    }
    if let Some(ns) = &args.namespace {
        secret.namespace.clone_from(ns);
    }
    Ok(secret)
}

async fn backup(args: &SealArgs, path: &std::path::Path) -> anyhow::Result<()> {
    let keys = sealing::active_keys(&args.kube_target()?.client().await?).await?;
    anyhow::ensure!(
        !keys.is_empty(),
        "the cluster has no Sealed Secrets key yet (is Sealed Secrets running? `slipway status`)"
    );
    let mut text = String::new();
    for key in &keys {
        text.push_str("---\n");
        text.push_str(&serde_saphyr::to_string(&sealing::key_secret(key))?);
    }
    write_private(path, text.as_bytes())?;
    eprintln!(
        "Wrote {} sealing key(s) to {} (mode 0600).",
        keys.len(),
        path.display()
    );
    eprintln!(
        "WARNING: this file holds PRIVATE keys: whoever has it can decrypt every SealedSecret sealed with them. Keep it out of Git and off shared disks."
    );
    Ok(())
}

async fn restore(args: &SealArgs, path: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
        .with_context(|| format!("{} is not a --backup-key file", path.display()))?;
    let keys: Vec<sealing::SealingKey> = docs
        .iter()
        .filter(|d| !d.is_null())
        .map(sealing::SealingKey::from_secret)
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(!keys.is_empty(), "{} holds no sealing key", path.display());
    let restarted = sealing::restore_keys(&args.kube_target()?.client().await?, &keys).await?;
    eprintln!(
        "Restored {} sealing key(s) into {}.",
        keys.len(),
        sealing::CONTROLLER_NAMESPACE
    );
    if restarted {
        eprintln!("Restarted {} so it loads them.", sealing::CONTROLLER_NAME);
    } else {
        eprintln!("The controller is not deployed yet; it will load them when it starts.");
    }
    Ok(())
}

/// Create `path` readable by its owner only, before any byte is written.
pub(super) fn write_private(path: &std::path::Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(data)?;
    Ok(())
}
