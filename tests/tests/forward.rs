//! Slipway's port-forward helper against kube-sim: bytes round-trip, the backing pod is
//! replaced under a client that keeps sending, the API connection drops, 20 forwards at once.
#![allow(clippy::print_stdout, reason = "figures are printed for the test log")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use slipway_core::forward::{self, ForwardState, Forwards};
use slipway_e2e::echo_server;
use slipway_e2e::kube_sim::KubeSim;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A Deployment `name` in `ns` whose pods' port 8080 (named `http`) goes to `target`, behind a
/// Service with port 80 → targetPort `http`.
async fn backend(sim: &KubeSim, ns: &str, name: &str, target: SocketAddr) -> kube::Client {
    let client = sim.client().await.expect("client");
    let pp = PatchParams::apply("test").force();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            ns,
            &pp,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            ),
        )
        .await
        .expect("namespace");
    let deploys: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), ns);
    deploys
        .patch(name, &pp, &Patch::Apply(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"kube-sim.slipway.dev/port-8080": target.to_string()}},
                "spec": {"containers": [{"name": "app", "image": "app", "ports": [{"name": "http", "containerPort": 8080}]}]}}}
        })))
        .await
        .expect("deployment");
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), ns);
    services
        .patch(name, &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}})))
        .await
        .expect("service");
    client
}

async fn echo_once(addr: SocketAddr, payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(payload).await?;
    let mut back = vec![0u8; payload.len()];
    s.read_exact(&mut back).await?;
    Ok(back)
}

fn svc_spec(ns: &str, name: &str) -> forward::ForwardSpec {
    let tokens: Vec<String> = [format!("svc/{name}"), ":80".to_owned()].into();
    forward::parse(&tokens, ns).expect("spec").remove(0)
}

/// kube-sim with `shop/web` behind an echo server, and one forward to `svc/web` started.
struct Fixture {
    sim: KubeSim,
    client: kube::Client,
    forwards: Forwards,
    events: tokio::sync::broadcast::Receiver<forward::ForwardEvent>,
    id: u64,
    local: SocketAddr,
}

async fn shop_forward() -> Fixture {
    let sim = KubeSim::start().await.expect("sim");
    let client = backend(&sim, "shop", "web", echo_server().await).await;
    let forwards = Forwards::default();
    let events = forwards.subscribe();
    let info = forwards
        .start(client.clone(), svc_spec("shop", "web"), LOCALHOST)
        .await
        .expect("start");
    Fixture {
        sim,
        client,
        forwards,
        events,
        id: info.id,
        local: info.listeners[0].0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_forward_round_trips_bytes_and_is_listed() {
    let Fixture {
        sim: _sim,
        forwards,
        mut events,
        id,
        local,
        ..
    } = shop_forward().await;
    assert_eq!(local.ip(), LOCALHOST, "bound to loopback");
    assert_ne!(local.port(), 0, "a local port was chosen");

    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let back = tokio::time::timeout(Duration::from_secs(20), echo_once(local, &payload))
        .await
        .expect("in time")
        .expect("echo");
    assert_eq!(back, payload);
    let listed = forwards.list();
    assert_eq!(listed.len(), 1);
    assert!(
        matches!(&listed[0].state, ForwardState::Ready { pod } if pod.starts_with("web-")),
        "{:?}",
        listed[0].state
    );
    let mut states = Vec::new();
    while let Ok(e) = events.try_recv() {
        states.push(e.state);
    }
    assert!(
        states
            .iter()
            .any(|s| matches!(s, ForwardState::Ready { .. })),
        "{states:?}"
    );

    assert!(forwards.stop(id));
    assert!(forwards.list().is_empty());
    // The listener task is aborted with the forward; the port closes as soon as it has ended.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(local).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the listener closed with the forward"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forward_survives_its_pod_being_replaced() {
    let Fixture {
        sim: _sim,
        client,
        forwards,
        local,
        ..
    } = shop_forward().await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(20), echo_once(local, b"warm-up"))
            .await
            .expect("time")
            .expect("echo"),
        b"warm-up"
    );

    // A client keeps sending over one connection, reconnecting when it breaks.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let old = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("pods")
        .items[0]
        .metadata
        .name
        .clone()
        .expect("name");
    let mut conn = TcpStream::connect(local).await.expect("connect");
    let mut buf = [0u8; 5];
    conn.write_all(b"ping1").await.expect("send");
    conn.read_exact(&mut buf).await.expect("recv");
    pods.delete(&old, &DeleteParams::default())
        .await
        .expect("delete pod");
    let deleted_at = Instant::now();
    let recovered = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let ok = async {
                conn.write_all(b"ping2").await?;
                conn.read_exact(&mut buf).await?;
                Ok::<_, std::io::Error>(())
            }
            .await;
            if ok.is_ok()
                && &buf == b"ping2"
                && let Some(ForwardState::Ready { pod }) =
                    forwards.list().first().map(|i| i.state.clone())
                && pod != old
            {
                return pod;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Ok(c) = TcpStream::connect(local).await {
                conn = c;
            }
        }
    })
    .await
    .expect("the forward recovered");
    println!(
        "forward recovered from pod replacement in {:.0} ms ({old} -> {recovered})",
        deleted_at.elapsed().as_secs_f64() * 1000.0
    );
    assert!(forwards.list()[0].reconnects >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forward_recovers_from_a_dropped_api_connection() {
    let Fixture {
        sim,
        mut events,
        local,
        ..
    } = shop_forward().await;
    let mut conn = TcpStream::connect(local).await.expect("connect");
    conn.write_all(b"one").await.expect("send");
    let mut buf = [0u8; 3];
    tokio::time::timeout(Duration::from_secs(20), conn.read_exact(&mut buf))
        .await
        .expect("time")
        .expect("recv");

    sim.drop_connections();
    let dropped_at = Instant::now();
    // The open connection dies with the API connection; the listener stays and new ones work.
    let recovered = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(Ok(back)) =
                tokio::time::timeout(Duration::from_secs(2), echo_once(local, b"two")).await
                && back == b"two"
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        recovered.is_ok(),
        "forward works again after the API connection dropped"
    );
    println!(
        "forward usable again {:.0} ms after the API connection dropped",
        dropped_at.elapsed().as_secs_f64() * 1000.0
    );
    let mut saw_reconnecting = false;
    while let Ok(e) = events.try_recv() {
        saw_reconnecting |= matches!(e.state, ForwardState::Reconnecting { .. });
    }
    assert!(saw_reconnecting, "the drop was reported as a state change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_forwards_stay_healthy() {
    let sim = KubeSim::start().await.expect("sim");
    let echo = echo_server().await;
    let client = backend(&sim, "many", "web", echo).await;
    let forwards = Forwards::default();
    let mut locals = Vec::new();
    for _ in 0..20 {
        locals.push(
            forwards
                .start(client.clone(), svc_spec("many", "web"), LOCALHOST)
                .await
                .expect("start")
                .listeners[0]
                .0,
        );
    }
    let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 199) as u8).collect();
    for round in 0..3 {
        let results =
            futures_util::future::join_all(locals.iter().map(|l| echo_once(*l, &payload))).await;
        let healthy = results
            .iter()
            .filter(|r| r.as_ref().is_ok_and(|b| *b == payload))
            .count();
        assert_eq!(healthy, 20, "round {round}: {healthy}/20 forwards answered");
    }
    assert!(
        forwards
            .list()
            .iter()
            .all(|i| matches!(i.state, ForwardState::Ready { .. }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_local_port_is_a_clear_error() {
    let sim = KubeSim::start().await.expect("sim");
    let client = sim.client().await.expect("client");
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("hold");
    let port = held.local_addr().expect("addr").port();
    let tokens = vec!["svc/web".to_owned(), format!("{port}:80")];
    let spec = forward::parse(&tokens, "default").expect("spec").remove(0);
    let err = Forwards::default()
        .start(client, spec, LOCALHOST)
        .await
        .expect_err("port in use");
    assert!(
        err.to_string().contains(&port.to_string()) && err.to_string().contains("LOCAL:REMOTE"),
        "{err}"
    );
}
