//! Port-forward throughput and set-up time, side by side in one run: a direct TCP connection to
//! an echo server (the floor), kube-rs's raw port-forward through kube-sim (WebSocket channel
//! protocol), and Slipway's forward helper (local listener, pod resolution, reconnects).
//! Prints figures; asserts nothing about time. Run: `cargo bench -p slipway-e2e --bench portforward`.
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use slipway_e2e::kube_sim::KubeSim;
use slipway_e2e::{echo_server, forwarding_pod};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const BYTES: usize = 64 * 1024 * 1024;
const CONNECTS: u32 = 20;

/// Send BYTES and read them back concurrently; MB/s of payload.
async fn throughput<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> f64 {
    let chunk = vec![7u8; 256 * 1024];
    let (mut r, mut w) = tokio::io::split(stream);
    let started = Instant::now();
    let send = async {
        let mut sent = 0;
        while sent < BYTES {
            w.write_all(&chunk).await.expect("write");
            sent += chunk.len();
        }
    };
    let recv = async {
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0;
        while got < BYTES {
            let n = r.read(&mut buf).await.expect("read");
            assert!(n > 0, "stream closed early");
            got += n;
        }
    };
    tokio::join!(send, recv);
    BYTES as f64 / 1e6 / started.elapsed().as_secs_f64()
}

async fn ping<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    stream.write_all(b"x").await.expect("write");
    let mut b = [0u8; 1];
    stream.read_exact(&mut b).await.expect("read");
}

#[tokio::main]
async fn main() {
    let echo = echo_server().await;
    let sim = KubeSim::start().await.expect("kube-sim");
    let client = sim.client().await.expect("client");
    let pods = forwarding_pod(&client, "echo", 8080, echo).await;

    let mut direct = tokio::net::TcpStream::connect(echo).await.expect("direct");
    direct.set_nodelay(true).expect("nodelay");
    let direct_mbs = throughput(&mut direct).await;

    let mut pf = pods
        .portforward("echo", &[8080])
        .await
        .expect("portforward");
    let mut forwarded = pf.take_stream(8080).expect("stream");
    let forwarded_mbs = throughput(&mut forwarded).await;
    drop(forwarded);
    let _ = pf.join().await;

    let mut direct_setup = Duration::ZERO;
    let mut forward_setup = Duration::ZERO;
    for _ in 0..CONNECTS {
        let t = Instant::now();
        let mut s = tokio::net::TcpStream::connect(echo).await.expect("connect");
        ping(&mut s).await;
        direct_setup += t.elapsed();
        let t = Instant::now();
        let mut pf = pods
            .portforward("echo", &[8080])
            .await
            .expect("portforward");
        let mut s = pf.take_stream(8080).expect("stream");
        ping(&mut s).await;
        forward_setup += t.elapsed();
        drop(s);
        let _ = pf.join().await;
    }
    // Slipway's forward helper: a local listener in front of the same pod.
    let forwards = slipway_core::forward::Forwards::default();
    let spec =
        slipway_core::forward::parse(&["pod/echo".to_owned(), ":8080".to_owned()], "default")
            .expect("spec")
            .remove(0);
    let info = forwards
        .start(
            sim.client().await.expect("client"),
            spec,
            std::net::Ipv4Addr::LOCALHOST.into(),
        )
        .await
        .expect("forward");
    let local = info.listeners[0].0;
    let mut through = tokio::net::TcpStream::connect(local)
        .await
        .expect("connect");
    through.set_nodelay(true).expect("nodelay");
    let slipway_mbs = throughput(&mut through).await;
    drop(through);
    let mut slipway_setup = Duration::ZERO;
    for _ in 0..CONNECTS {
        let t = Instant::now();
        let mut s = tokio::net::TcpStream::connect(local)
            .await
            .expect("connect");
        s.set_nodelay(true).expect("nodelay");
        ping(&mut s).await;
        slipway_setup += t.elapsed();
    }

    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(CONNECTS);
    println!("port-forward bench ({} MiB echoed each way):", BYTES >> 20);
    println!(
        "  direct TCP (floor)              {direct_mbs:>9.1} MB/s   connect+first byte {:>7.3} ms",
        ms(direct_setup)
    );
    println!(
        "  kube-sim port-forward (kube-rs) {forwarded_mbs:>9.1} MB/s   connect+first byte {:>7.3} ms",
        ms(forward_setup)
    );
    println!(
        "  slipway forward (via kube-sim)  {slipway_mbs:>9.1} MB/s   connect+first byte {:>7.3} ms",
        ms(slipway_setup)
    );
    println!(
        "  real kubectl port-forward       not measured: kube-sim implements the WebSocket channel protocol, not SPDY/3.1"
    );
}
