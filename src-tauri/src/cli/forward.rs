//! `slipway forward …`: runs in the foreground until interrupted, as kubectl does.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the CLI's job is printing"
)]

use std::net::IpAddr;

use clap::Args;
use slipway_core::forward::{self, ForwardState, Forwards};

use super::ClusterArgs;

#[derive(Args)]
pub struct ForwardArgs {
    /// What to forward: TARGET [LOCAL:]REMOTE… (TARGET = pod/NAME, svc/NAME, deploy/NAME or
    /// NAMESPACE/svc/NAME), repeated for several; or a preset: `backstage`, `argocd`.
    #[arg(required = true, value_name = "TARGET PORTS")]
    specs: Vec<String>,
    /// Namespace of targets written without one.
    #[arg(short, long, default_value = "default")]
    namespace: String,
    /// Local address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    address: IpAddr,
    #[command(flatten)]
    target: super::TargetArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
}

pub async fn run(args: ForwardArgs) -> anyhow::Result<()> {
    let specs = forward::from_words(&args.specs, &args.namespace)?;
    let client = args.target.kube_target(&args.cluster)?.client().await?;
    let forwards = Forwards::default();
    let mut events = forwards.subscribe();
    for spec in specs {
        let info = forwards.start(client.clone(), spec, args.address).await?;
        for (local, remote) in &info.listeners {
            println!("Forwarding from {local} -> {}:{remote}", info.target);
        }
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            event = events.recv() => match event {
                Ok(e) => match e.state {
                    ForwardState::Ready { pod } => eprintln!("[{}] forwarding to pod {pod}", e.id),
                    ForwardState::Reconnecting { reason } => eprintln!("[{}] reconnecting: {reason}", e.id),
                    ForwardState::Failed { error } => eprintln!("[{}] waiting for a pod: {error}", e.id),
                    ForwardState::Connecting | ForwardState::Stopped => {}
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
        }
    }
    for info in forwards.list() {
        forwards.stop(info.id);
    }
    Ok(())
}
