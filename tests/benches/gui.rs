//! Benchmark: the desktop app's cold start (WebDriver session request → first usable view) and
//! resident memory after start, under Xvfb, for the binary in `SLIPWAY_BIN` (scripts/bench-gui.sh
//! passes the release build). Prints figures; asserts nothing about time.
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use slipway_e2e::gui::Gui;
use slipway_e2e::slipway_bin;

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let binary = slipway_bin();
    let state = tempfile::tempdir().expect("tmp");
    // A returning user's start (settings kept, so the Platform view and not the first-run guide),
    // as the earlier figures measured it.
    std::fs::write(state.path().join("config.yaml"), "cluster: slipway-bench\n").expect("settings");
    let env = [
        ("XDG_STATE_HOME", state.path().display().to_string()),
        (
            "SLIPWAY_CONFIG",
            state.path().join("config.yaml").display().to_string(),
        ),
    ];
    let mut starts = Vec::new();
    let mut memory = Vec::new();
    for _ in 0..runs {
        runtime.block_on(async {
            let gui = Gui::launch(&binary, &env, &["DBUS_SESSION_BUS_ADDRESS"]).await;
            starts.push(gui.cold_start.as_secs_f64() * 1000.0);
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            memory.extend(Gui::rss_kib(&binary));
            let _ = gui.close().await;
        });
    }
    starts.sort_by(f64::total_cmp);
    let median = starts[starts.len() / 2];
    println!(
        "gui cold start to first interactive render ({}): median {median:.0} ms over {runs} runs (min {:.0}, max {:.0})",
        binary.display(),
        starts[0],
        starts[starts.len() - 1]
    );
    if let Some((app, webkit)) = memory.iter().max_by_key(|(a, w)| a + w) {
        println!(
            "gui RSS after start: app {:.1} MiB + WebKit processes {:.1} MiB = {:.1} MiB (largest of {runs})",
            *app as f64 / 1024.0,
            *webkit as f64 / 1024.0,
            (app + webkit) as f64 / 1024.0
        );
    }
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!(
        "binary size: {} bytes ({:.1} MiB) for {}",
        size,
        size as f64 / 1_048_576.0,
        binary.display()
    );
}
