//! kube-sim's fidelity, checked with clients no one here wrote: the real kubectl 1.35 and
//! helm 4.1 (clients.rs), kube-rs (kube_rs.rs), the binary and its state (binary.rs), and the
//! simulated controllers (controllers.rs). One test binary: the files share its build.
#![allow(clippy::print_stdout, reason = "figures are printed for the test log")]

mod binary;
mod clients;
mod controllers;
mod kube_rs;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::{Discovery, Scope};
use kube::runtime::{WatchStreamExt, wait::await_condition, watcher};
use serde_json::{Value, json};
use slipway_e2e::kube_sim::{HttpFault, KubeSim};
use slipway_e2e::{ToolOut as Out, echo_server, expect, forwarding_pod, tool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BUNDLE: &str = include_str!("../fixtures/bundle.yaml");

struct Env {
    sim: KubeSim,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

async fn env() -> Env {
    let sim = KubeSim::start().await.expect("start kube-sim");
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    Env {
        sim,
        _dir: dir,
        kubeconfig,
    }
}

async fn kubectl(e: &Env, args: &[&str]) -> Out {
    tool("kubectl", &e.kubeconfig, args, None).await
}
