//! `kube-sim --kubeconfig PATH [--listen ADDR] [--name HOST]… [--state-dir DIR] [--server-url URL]
//! [--ingress-listen ADDR] [--ingress-tls-listen ADDR] [--faults JSON]`: serve the SIMULATED Kubernetes API server (test
//! harness only), write a kubeconfig once serving (pointing at `--server-url` when given, e.g. a
//! published port), run until killed. With `--state-dir` a restart keeps its CA, token and
//! objects; `--ingress-listen` also serves the simulated Traefik (`--ingress-tls-listen`: its TLS
//! entrypoint); `--faults` sets the simulated
//! controllers' faults (the JSON of `POST /sim/faults`'s `controllers`).
#![allow(clippy::print_stderr, reason = "a test tool reporting on its terminal")]

use std::net::SocketAddr;
use std::path::PathBuf;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut kubeconfig: Option<PathBuf> = None;
    let mut listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut names = Vec::new();
    let mut state_dir: Option<PathBuf> = None;
    let mut server_url: Option<String> = None;
    let mut ingress: Option<SocketAddr> = None;
    let mut ingress_tls: Option<SocketAddr> = None;
    let mut faults: Option<String> = None;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("kube-sim: {flag} needs a value");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--kubeconfig" => kubeconfig = Some(PathBuf::from(value("--kubeconfig"))),
            "--listen" => match value("--listen").parse() {
                Ok(a) => listen = a,
                Err(e) => {
                    eprintln!("kube-sim: --listen wants HOST:PORT ({e})");
                    return std::process::ExitCode::from(2);
                }
            },
            "--name" => names.push(value("--name")),
            "--state-dir" => state_dir = Some(PathBuf::from(value("--state-dir"))),
            "--server-url" => server_url = Some(value("--server-url")),
            "--faults" => faults = Some(value("--faults")),
            "--ingress-listen" => match value("--ingress-listen").parse() {
                Ok(a) => ingress = Some(a),
                Err(e) => {
                    eprintln!("kube-sim: --ingress-listen wants HOST:PORT ({e})");
                    return std::process::ExitCode::from(2);
                }
            },
            "--ingress-tls-listen" => match value("--ingress-tls-listen").parse() {
                Ok(a) => ingress_tls = Some(a),
                Err(e) => {
                    eprintln!("kube-sim: --ingress-tls-listen wants HOST:PORT ({e})");
                    return std::process::ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                eprintln!(
                    "usage: kube-sim --kubeconfig PATH [--listen ADDR] [--name HOSTNAME]... [--state-dir DIR] [--server-url URL] [--ingress-listen ADDR] [--ingress-tls-listen ADDR] [--faults JSON]\nA SIMULATED Kubernetes API server for tests."
                );
                return std::process::ExitCode::SUCCESS;
            }
            other => {
                eprintln!("kube-sim: unknown argument {other:?} (see --help)");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(kubeconfig) = kubeconfig else {
        eprintln!("kube-sim: --kubeconfig PATH is required");
        return std::process::ExitCode::from(2);
    };
    let sim = match slipway_e2e::kube_sim::KubeSim::start_with(listen, &names, state_dir.as_deref())
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kube-sim: cannot serve on {listen}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(json) = &faults {
        match serde_json::from_str::<slipway_e2e::kube_sim::Faults>(json) {
            Ok(f) => sim.faults(|current| *current = f),
            Err(e) => {
                eprintln!("kube-sim: --faults: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    if let Some(addr) = ingress {
        match sim.serve_ingress(addr).await {
            Ok(a) => eprintln!("kube-sim: simulated Traefik on http://{a}"),
            Err(e) => {
                eprintln!("kube-sim: cannot serve the simulated ingress on {addr}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    if let Some(addr) = ingress_tls {
        match sim.serve_ingress_tls(addr).await {
            Ok(a) => eprintln!("kube-sim: simulated Traefik (TLS) on https://{a}"),
            Err(e) => {
                eprintln!("kube-sim: cannot serve the simulated TLS ingress on {addr}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    // Written whole, then renamed: whoever waits for the file never reads half of it.
    let text = match &server_url {
        Some(url) => sim.kubeconfig_for(url),
        None => sim.kubeconfig(),
    };
    let partial = kubeconfig.with_extension("partial");
    let written =
        std::fs::write(&partial, text).and_then(|()| std::fs::rename(&partial, &kubeconfig));
    if let Err(e) = written {
        eprintln!("kube-sim: cannot write {}: {e}", kubeconfig.display());
        return std::process::ExitCode::FAILURE;
    }
    eprintln!(
        "kube-sim (simulated API server) serving on {}; kubeconfig {}",
        sim.server_url(),
        kubeconfig.display()
    );
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kube-sim: cannot watch for SIGTERM: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    // Give the state writer one more turn before exiting.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    drop(sim);
    std::process::ExitCode::SUCCESS
}
