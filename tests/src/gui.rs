//! The desktop app under test: a virtual display (Xvfb, unless one is set), tauri-driver in front
//! of Debian's WebKitWebDriver, and a WebDriver session that launches the real `slipway` window.
//! Missing pieces fail with the command that installs them (never a skip).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::webdriver::WebDriver;
use crate::{free_port, root};

/// tauri-driver: `TAURI_DRIVER`, else the copy scripts/fetch-tools.sh installs.
pub fn tauri_driver() -> PathBuf {
    let path = std::env::var_os("TAURI_DRIVER").map_or_else(
        || root().join(".tools/tauri-driver/bin/tauri-driver"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-tools.sh (cargo install tauri-driver)",
        path.display()
    );
    assert!(
        Command::new("WebKitWebDriver")
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success()),
        "WebKitWebDriver is missing: apt-get install webkit2gtk-driver (scripts/setup.sh)"
    );
    path
}

/// Where screenshots go: `<target>/gui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("gui-screenshots")
}

pub struct Gui {
    pub driver: WebDriver,
    /// From the session request (which starts the app) to the first rendered, usable view.
    pub cold_start: Duration,
    /// tauri-driver's, WebKitWebDriver's and the app's output.
    pub log: PathBuf,
    processes: Processes,
    display: String,
    _dir: tempfile::TempDir,
}

/// What `launch` started: ended on drop, also when the test fails half-way. tauri-driver runs
/// in its own process group with WebKitWebDriver and the app under it, so the group goes whole.
struct Processes {
    tauri_driver: Child,
    xvfb: Option<Child>,
    /// WebKitWebDriver's port: it identifies the processes of this run.
    native_port: u16,
}

impl Drop for Processes {
    fn drop(&mut self) {
        if let Some(group) = rustix::process::Pid::from_raw(self.tauri_driver.id().cast_signed()) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.tauri_driver.kill();
        let _ = self.tauri_driver.wait();
        if let Some(x) = self.xvfb.as_mut() {
            stop_xvfb(x);
        }
    }
}

/// Processes whose command line names `--port=<port>` or `--port <port>` (WebKitWebDriver's).
fn listening_on(port: u16) -> Vec<u32> {
    let wanted = [format!("--port={port}"), port.to_string()];
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.first().is_some_and(|a| a.ends_with("WebKitWebDriver"))
                && args.iter().any(|a| wanted.contains(a))
        })
        .collect()
}

impl Gui {
    /// Launch `binary` with `env` (and without the variables in `remove`) and wait for the first
    /// view: the tabs and the platform summary past "Checking…".
    pub async fn launch(binary: &Path, env: &[(&str, String)], remove: &[&str]) -> Self {
        // Every tool first, so a missing one starts nothing.
        let driver_bin = tauri_driver();
        let dir = tempfile::tempdir().expect("tmp");
        let (xvfb, display) = match std::env::var("DISPLAY") {
            Ok(d) if !d.is_empty() => (None, d),
            _ => {
                let (child, display) = start_xvfb();
                (Some(child), display)
            }
        };
        let log = dir.path().join("gui.log");
        let out = std::fs::File::create(&log).expect("log");
        let (port, native) = (free_port(), free_port());
        let mut command = Command::new(driver_bin);
        command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("DISPLAY", &display)
            .stdout(out.try_clone().expect("log"))
            .stderr(out);
        for (k, v) in env {
            command.env(k, v);
        }
        for k in remove {
            command.env_remove(k);
        }
        // Its own process group: tauri-driver leaves WebKitWebDriver behind when killed alone.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let processes = Processes {
            tauri_driver: command.spawn().expect("start tauri-driver"),
            xvfb,
            native_port: native,
        };
        let base = format!("http://127.0.0.1:{port}");
        // tauri-driver listens at once but starts WebKitWebDriver behind it: a session asked for
        // before that one listens fails with "client error (SendRequest)".
        for (what, p) in [("tauri-driver", port), ("WebKitWebDriver", native)] {
            let deadline = Instant::now() + Duration::from_secs(30);
            while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "{what} did not listen on {p}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let started = Instant::now();
        let session =
            WebDriver::new_session(&base, json!({"tauri:options": {"application": binary}}));
        let driver = match tokio::time::timeout(Duration::from_secs(60), session).await {
            Ok(Ok(driver)) => driver,
            Ok(Err(e)) => panic!(
                "no WebDriver session: {e}; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
            Err(_) => panic!(
                "the app did not start within 60 s (an exit at start-up leaves WebKitWebDriver waiting); log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        driver
            .wait_for("nav [role=tab]", Duration::from_secs(30))
            .await
            .expect("tabs rendered");
        // The Platform view's summary, or the first-run guide for a person with no settings.
        loop {
            let summary = match driver
                .find(".summary, [data-testid=first-run]")
                .await
                .expect("find")
            {
                Some(e) => driver.text(&e).await.unwrap_or_default(),
                None => String::new(),
            };
            if !summary.is_empty() && !summary.contains("Checking the platform") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the platform summary never rendered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let cold_start = started.elapsed();
        Self {
            driver,
            cold_start,
            log,
            processes,
            display,
            _dir: dir,
        }
    }

    /// The names of the X windows on the display (the window manager's view of the title).
    pub fn window_titles(&self) -> Vec<String> {
        let out = Command::new("xwininfo")
            .args(["-root", "-tree"])
            .env("DISPLAY", &self.display)
            .output()
            .expect("xwininfo (x11-utils) runs");
        // Lines read `0x… "Slipway — Platform: running": ("slipway" "Slipway")  …`.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| Some(l.split_once('"')?.1.split_once('"')?.0.to_owned()))
            .collect()
    }

    /// Save the window as `<screenshot_dir>/<name>-light.png` and `-dark.png`: the theme is
    /// switched the way Settings → Appearance does (`data-theme` on the root), then put back.
    pub async fn screenshot(&self, name: &str) -> [PathBuf; 2] {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let before = self
            .driver
            .execute(
                "return document.documentElement.dataset.theme || 'light';",
                json!([]),
            )
            .await
            .expect("theme");
        let mut paths = Vec::new();
        for theme in ["light", "dark"] {
            self.set_theme(theme).await;
            let path = dir.join(format!("{name}-{theme}.png"));
            std::fs::write(&path, self.driver.screenshot().await.expect("screenshot"))
                .expect("write screenshot");
            paths.push(path);
        }
        self.set_theme(before.as_str().unwrap_or("light")).await;
        paths.try_into().expect("two screenshots")
    }

    async fn set_theme(&self, theme: &str) {
        self.driver
            .execute(
                "document.documentElement.dataset.theme = arguments[0]; return true;",
                json!([theme]),
            )
            .await
            .expect("set theme");
        // One frame for the repaint.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory (KiB) of the app process and of its WebKit helper processes together.
    pub fn rss_kib(binary: &Path) -> Option<(u64, u64)> {
        let binary = binary.canonicalize().ok()?;
        let pids: Vec<u32> = std::fs::read_dir("/proc")
            .ok()?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        let app = *pids
            .iter()
            .filter(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == binary))
            .max()?;
        let children: u64 = pids
            .iter()
            .filter(|p| parent(**p) == Some(app))
            .filter_map(|p| rss(*p))
            .sum();
        Some((rss(app)?, children))
    }

    /// End the session (closing the window), then every process the launch started; returns
    /// the WebKitWebDriver processes of this run still alive a moment later (none, unless
    /// something escaped the process group).
    pub async fn close(self) -> Vec<u32> {
        let _ = self.driver.quit().await;
        let port = self.processes.native_port;
        drop(self);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = listening_on(port);
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Xvfb removes its lock file and socket on SIGTERM; a SIGKILL leaves them behind, and after
/// enough runs every display would look taken.
fn stop_xvfb(x: &mut Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(x.id().cast_signed()) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    for _ in 0..100 {
        if matches!(x.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = x.kill();
    let _ = x.wait();
}

/// The display's lock names a process that is alive (a lock whose process is gone is stale,
/// and Xvfb takes the display over).
fn display_in_use(n: u32) -> bool {
    std::fs::read_to_string(format!("/tmp/.X{n}-lock"))
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

fn start_xvfb() -> (Child, String) {
    for n in 90..140 {
        if display_in_use(n) {
            continue;
        }
        let display = format!(":{n}");
        let mut child = Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is missing: apt-get install xvfb (scripts/setup.sh)");
        // Ready once the lock names this Xvfb and its socket exists (a stale socket alone
        // proves nothing).
        let socket = format!("/tmp/.X11-unix/X{n}");
        let ours = child.id().to_string();
        for _ in 0..100 {
            let locked = std::fs::read_to_string(format!("/tmp/.X{n}-lock"))
                .is_ok_and(|pid| pid.trim() == ours);
            if locked && Path::new(&socket).exists() {
                return (child, display);
            }
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop_xvfb(&mut child);
    }
    panic!("no free X display for Xvfb in :90–:139");
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

fn rss(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS:")
}

fn parent(pid: u32) -> Option<u32> {
    status_field(pid, "PPid:").and_then(|p| u32::try_from(p).ok())
}
