//! `kube-sim --kubeconfig PATH [--listen ADDR] [--name HOST]…`: serve the SIMULATED Kubernetes
//! API server (test harness only), write a kubeconfig once serving, run until killed.
#![allow(clippy::print_stderr, reason = "a test tool reporting on its terminal")]

use std::net::SocketAddr;
use std::path::PathBuf;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut kubeconfig: Option<PathBuf> = None;
    let mut listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut names = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().unwrap_or_else(|| {
            eprintln!("kube-sim: {flag} needs a value");
            std::process::exit(2)
        });
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
            "-h" | "--help" => {
                eprintln!("usage: kube-sim --kubeconfig PATH [--listen ADDR] [--name HOSTNAME]...\nA SIMULATED Kubernetes API server for tests.");
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
    let sim = match slipway_e2e::kube_sim::KubeSim::start_on(listen, &names).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kube-sim: cannot serve on {listen}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Err(e) = sim.write_kubeconfig(&kubeconfig) {
        eprintln!("kube-sim: cannot write {}: {e}", kubeconfig.display());
        return std::process::ExitCode::FAILURE;
    }
    eprintln!("kube-sim (simulated API server) serving on {}; kubeconfig {}", sim.server_url(), kubeconfig.display());
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
