//! The desktop app end to end: the real `slipway` window under Xvfb, driven by WebDriver
//! (tauri-driver + WebKitWebDriver), against Docker with the simulated node image (kube-sim as the
//! API server), the real helm with the stand-in charts, and the SIMULATED GitHub and Backstage.
//! Start fails at a step (helm missing), Retry finishes it; GitHub is connected through Settings;
//! a service is created through the form and listed. Every payload the webview receives is
//! recorded and searched for the token. Screenshots of each view go to `<target>/gui-screenshots/`.
#![allow(
    clippy::print_stdout,
    reason = "figures and paths are printed for the test log"
)]

use std::time::Duration;

use serde_json::{Value, json};
use slipway_core::service::ServiceRequest;
use slipway_e2e::fakes::{FakeBackstage, FakeGitHub};
use slipway_e2e::golden::{EndState, request};
use slipway_e2e::gui::Gui;
use slipway_e2e::keyring::PrivateKeyring;
use slipway_e2e::{TestCluster, root, sim_image, slipway_bin, tools_dir};

const TOKEN: &str = "ghp_GUI0123456789abcdefSECRET";

/// Records everything the backend sends the webview: each IPC answer (Tauri's `ipc://` fetches;
/// `invoke` itself is read-only) and each callback message (channels), from now on.
const RECORD_IPC: &str = r"
window.__ipcLog = [];
const fetch = window.fetch;
window.fetch = function (url) {
  return fetch.apply(this, arguments).then((r) => {
    if (String(url).startsWith('ipc:')) r.clone().text().then((t) => window.__ipcLog.push({ url: String(url), answer: t }));
    return r;
  });
};
const callbacks = window.__TAURI_INTERNALS__.callbacks;
callbacks.set = function (id, cb) {
  return Map.prototype.set.call(this, id, (m) => { window.__ipcLog.push({ message: JSON.stringify(m) }); return cb(m); });
};
return true;
";

fn settings(
    cluster: &TestCluster,
    github: &FakeGitHub,
    backstage: &FakeBackstage,
    helm: &str,
) -> String {
    let charts = root().join("tests/tests/fixtures/charts");
    let config = json!({
        "cluster": cluster.name, "nodeImage": sim_image(), "httpPort": cluster.http_port, "httpsPort": cluster.https_port,
        "charts": charts, "helm": helm, "githubApi": github.url(), "backstageUrl": backstage.url(), "owner": "acme",
    });
    serde_json::to_string(&config).expect("config")
}

/// The app's own log (in the state folder the test gave it) and the drivers' output.
fn app_log(gui: &Gui) -> String {
    let file = STATE
        .get()
        .map(|s| s.join("slipway/logs/gui.log"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    format!("{file}{}", gui.log_text())
}

/// The app's state folder (`XDG_STATE_HOME`), for its log.
static STATE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

async fn click(gui: &Gui, css: &str) {
    let e = gui
        .driver
        .wait_for(css, Duration::from_secs(30))
        .await
        .expect(css);
    gui.driver.click(&e).await.expect("click");
}

async fn wait_text(gui: &Gui, css: &str, needle: &str, secs: u64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(e) = gui.driver.find(css).await.expect("find") {
            let text = gui.driver.text(&e).await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
        }
        if std::time::Instant::now() >= deadline {
            let shot = gui.screenshot("timeout").await;
            let page = gui
                .driver
                .execute("return document.body.innerText;", json!([]))
                .await
                .unwrap_or_default();
            panic!(
                "{css} never showed {needle:?} in {secs}s (screenshot {}); page:\n{}\napp log:\n{}",
                shot[0].display(),
                page.as_str().unwrap_or_default(),
                app_log(gui)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `(step id, state)` of every step in the list on screen.
async fn steps(gui: &Gui) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in gui.driver.find_all("li[data-step]").await.expect("steps") {
        out.push((
            gui.driver
                .attribute(&e, "data-step")
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
            gui.driver
                .attribute(&e, "data-state")
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_then_retries_connect_github_and_create_a_service_through_the_window() {
    let cluster = TestCluster::new("gui");
    let github = FakeGitHub::start(TOKEN, "octo", &["acme"]).await;
    let backstage =
        FakeBackstage::start("unset-until-the-platform-made-it", github.state.clone()).await;
    let home = tempfile::tempdir().expect("tmp");
    let config = home.path().join("config.yaml");
    // No settings file yet: a new user, who gets the first-run guide.
    let state = STATE.get_or_init(|| home.path().join("state"));
    let env = [
        ("SLIPWAY_CONFIG", config.display().to_string()),
        ("KUBECONFIG", cluster.kubeconfig.display().to_string()),
        ("KIND_EXPERIMENTAL_DOCKER_NETWORK", cluster.network.clone()),
        ("SLIPWAY_UNPRIVILEGED_NODES", "1".to_owned()),
        ("XDG_STATE_HOME", state.display().to_string()),
        // The Logs view reads its step events from the JSON log whatever stderr's verbosity.
        ("SLIPWAY_LOG", "warn".to_owned()),
        // The test process's private keyring, and no other.
        (
            "DBUS_SESSION_BUS_ADDRESS",
            PrivateKeyring::shared().address().to_owned(),
        ),
    ];
    let gui = Gui::launch(&slipway_bin(), &env, &["SLIPWAY_CLUSTER"]).await;
    let rss = Gui::rss_kib(&slipway_bin());
    println!(
        "GUI cold start to first interactive render: {} ms (debug build); RSS after start: {rss:?} KiB (app, WebKit processes)",
        gui.cold_start.as_millis()
    );
    assert_eq!(
        gui.driver
            .execute(RECORD_IPC, json!([]))
            .await
            .expect("record IPC"),
        Value::Bool(true)
    );
    // The guide asks the same commands Start does: this machine's Docker (the tests' dockerd)
    // passes, with its memory against what the platform needs.
    let docker = wait_text(&gui, "[data-check=docker]", "of memory", 60).await;
    assert!(docker.contains("the platform needs"), "{docker}");
    wait_text(&gui, "[data-check=helm]", "helm", 30).await;
    click(&gui, "[data-check=github] button[type=button]").await;
    wait_text(&gui, "[data-check=github]", "local mode", 10).await;
    gui.screenshot("first-run").await;
    // A settings file with a typo: the window says where and what.
    std::fs::write(&config, "domian: dev.test\n").expect("config");
    click(&gui, "#tab-settings").await;
    click(&gui, "#tab-platform").await;
    wait_text(&gui, ".summary", "domian", 30).await;
    click(&gui, ".summary [role=alert] button").await;
    let problem = wait_text(&gui, "[data-testid=settings-file-problem]", "domian", 30).await;
    assert!(problem.contains(&config.display().to_string()), "{problem}");
    gui.screenshot("settings-invalid-file").await;
    std::fs::write(
        &config,
        settings(&cluster, &github, &backstage, "/nonexistent/helm"),
    )
    .expect("config");
    click(&gui, "#tab-platform").await;
    wait_text(&gui, ".summary", "No cluster yet", 30).await;
    gui.screenshot("platform-before-start").await;

    // Start: the cluster comes up, then Argo CD's step fails (no helm there) and says so.
    click(&gui, "button.primary").await;
    wait_text(
        &gui,
        "[data-testid=run-progress]",
        "Starting the platform",
        30,
    )
    .await;
    gui.screenshot("platform-starting").await;
    let failure = wait_text(&gui, ".failure", "argocd", 300).await;
    assert!(failure.contains("helm"), "{failure}");
    assert!(
        steps(&gui)
            .await
            .contains(&("argocd".to_owned(), "failed".to_owned())),
        "{:?}",
        steps(&gui).await
    );
    gui.screenshot("platform-failed-step").await;

    // The fix (the settings' helm), then Retry: resumes and finishes every step.
    std::fs::write(
        &config,
        settings(
            &cluster,
            &github,
            &backstage,
            &tools_dir().join("helm").display().to_string(),
        ),
    )
    .expect("config");
    let retry = gui
        .driver
        .wait_for("button.primary", Duration::from_secs(5))
        .await
        .expect("retry");
    assert_eq!(gui.driver.text(&retry).await.expect("text"), "Retry");
    gui.driver.click(&retry).await.expect("retry");
    wait_text(&gui, ".ready", "The platform is up", 300).await;
    let done = steps(&gui).await;
    assert!(
        done.len() >= 15 && done.iter().all(|(_, s)| s == "changed" || s == "upToDate"),
        "{done:?}"
    );
    for id in ["nodes", "argocd", "platform-apps", "routing"] {
        assert!(done.iter().any(|(s, _)| s == id), "{id} in {done:?}");
    }
    wait_text(
        &gui,
        "[data-pool=platform] [data-component=backstage]",
        "Healthy",
        30,
    )
    .await;
    // The picture: every component on the platform node, at the version the bundle pins.
    let argo = wait_text(&gui, "[data-component=argo-cd]", "Healthy", 30).await;
    assert!(argo.contains("10.1.1"), "the running chart version: {argo}");
    // The window's title carries the platform's state (as the tray's tooltip does).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !gui
        .window_titles()
        .iter()
        .any(|t| t.starts_with("Slipway — Platform: running"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "window titles: {:?}",
            gui.window_titles()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let [light, dark] = gui.screenshot("platform-up").await;
    // The README opens with this window, as this test last saw it.
    let docs = root().join("docs/images");
    std::fs::create_dir_all(&docs).expect("docs/images");
    std::fs::copy(&light, docs.join("window-light.png")).expect("README screenshot");
    std::fs::copy(&dark, docs.join("window-dark.png")).expect("README screenshot");

    // Settings: the token goes in through the password field, the login comes back.
    click(&gui, "#tab-settings").await;
    let field = gui
        .driver
        .wait_for("input[name=token]", Duration::from_secs(10))
        .await
        .expect("token field");
    gui.driver.type_text(&field, TOKEN).await.expect("type");
    click(&gui, "form[aria-label='Connect GitHub'] button").await;
    wait_text(&gui, "[data-testid=github-login]", "octo", 30).await;
    // The platform's start made the machine's local CA; Settings shows it and offers to trust
    // it (not clicked here: it would change this machine's stores).
    wait_text(
        &gui,
        "section[aria-label='HTTPS trust']",
        "Slipway local CA",
        30,
    )
    .await;
    wait_text(
        &gui,
        "section[aria-label='HTTPS trust'] button",
        "Trust HTTPS on this machine",
        10,
    )
    .await;
    gui.screenshot("settings").await;

    // The catalog accepts the API token the platform gave Backstage (from the cluster's Secret).
    let secret = cluster.kubectl_json(&[
        "-n",
        "backstage",
        "get",
        "secret",
        "backstage-secrets",
        "-o",
        "json",
    ]);
    let api_token = {
        use base64::Engine;
        let b64 = secret["data"]["SLIPWAY_API_TOKEN"]
            .as_str()
            .expect("token in the Secret");
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64"),
        )
        .expect("utf-8")
    };
    backstage.state().token = api_token;

    // Services: the form, live steps, the result, and the list from GitHub's topics.
    click(&gui, "#tab-services").await;
    let name = gui
        .driver
        .wait_for("input[name=name]", Duration::from_secs(10))
        .await
        .expect("name");
    gui.driver.type_text(&name, "Shop_API").await.expect("type");
    let team = gui
        .driver
        .wait_for("input[name=team]", Duration::from_secs(5))
        .await
        .expect("team");
    gui.driver.click(&team).await.expect("focus team");
    wait_text(&gui, "#name-problem", "lower-case letters", 10).await;
    gui.screenshot("services-invalid-name").await;
    gui.driver.clear(&name).await.expect("clear");
    gui.driver.type_text(&name, "shop-api").await.expect("type");
    gui.driver.type_text(&team, "payments").await.expect("type");
    let create = gui
        .driver
        .wait_for(
            "form[aria-label='New service'] button[type=submit]",
            Duration::from_secs(5),
        )
        .await
        .expect("create");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !gui.driver.enabled(&create).await.expect("enabled") {
        assert!(
            std::time::Instant::now() < deadline,
            "Create stayed disabled for valid input"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gui.driver.click(&create).await.expect("create");
    wait_text(&gui, ".created", "is created", 120).await;
    wait_text(&gui, "article[data-service=shop-api]", "payments", 30).await;
    // Its chain, commit to traffic, read for every listed service.
    wait_text(
        &gui,
        "article[data-service=shop-api] [aria-label='shop-api from commit to traffic']",
        "CI",
        60,
    )
    .await;
    let mut links = Vec::new();
    for a in gui
        .driver
        .find_all("article[data-service=shop-api] a")
        .await
        .expect("links")
    {
        links.extend(gui.driver.attribute(&a, "href").await.expect("href"));
    }
    assert!(
        links.contains(&format!(
            "http://backstage.local:{}/catalog/default/component/shop-api",
            cluster.http_port
        )),
        "links through the configured ingress port: {links:?}"
    );
    gui.screenshot("services-created").await;
    gui.driver
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start'}); return true;",
            json!(["article[data-service=shop-api]"]),
        )
        .await
        .expect("scroll");
    gui.screenshot("services-chain").await;
    let repo = github.repo("acme/shop-api").expect("repository on GitHub");
    assert!(
        repo.topics.contains(&"idp-managed".to_owned())
            && repo.files.contains_key("catalog-info.yaml"),
        "{:?}",
        repo.topics
    );
    assert_eq!(
        backstage.state().locations.len(),
        1,
        "registered in the catalog"
    );
    // The window's door ends where the golden path ends (the CLI's and the Backstage form's
    // are held to the same: service_cli.rs, backstage_form.rs).
    let expected = EndState::expected(
        "acme",
        &ServiceRequest {
            description: None,
            ..request("shop-api")
        },
    )
    .await;
    assert_eq!(
        EndState::of(&github, &backstage, "acme", "shop-api").await,
        expected,
        "the window's end state"
    );

    // Helpers: the hosts block (current against desired; not applied here) and a port-forward.
    click(&gui, "#tab-helpers").await;
    wait_text(
        &gui,
        "table[aria-label='Hosts entries']",
        "backstage.local",
        30,
    )
    .await;
    let target = gui
        .driver
        .wait_for("input[name=target]", Duration::from_secs(5))
        .await
        .expect("forward target");
    gui.driver.clear(&target).await.expect("clear");
    gui.driver
        .type_text(&target, "backstage")
        .await
        .expect("type");
    click(&gui, "form[aria-label='New port-forward'] button").await;
    wait_text(
        &gui,
        "table[aria-label='Port-forwards']",
        "backstage/svc/backstage",
        30,
    )
    .await;
    gui.screenshot("helpers").await;
    click(&gui, "table[aria-label='Port-forwards'] button").await;
    wait_text(&gui, "section", "No forwards running", 30).await;
    gui.screenshot("helpers-empty").await;

    // Logs: this session's runs, newest first, with their steps.
    click(&gui, "#tab-logs").await;
    wait_text(&gui, "section", "create shop-api", 30).await;
    let logs = wait_text(&gui, "section", "Install Argo CD", 10).await;
    assert!(logs.contains("up"), "{logs}");
    gui.screenshot("logs").await;

    // Delete asks first, then removes the cluster.
    click(&gui, "#tab-platform").await;
    wait_text(&gui, "[data-testid=platform-state]", "healthy", 30).await;
    let delete = gui
        .driver
        .wait_for("button.danger", Duration::from_secs(10))
        .await
        .expect("Delete…");
    gui.driver.click(&delete).await.expect("delete");
    wait_text(
        &gui,
        "[aria-label='Confirm deletion']",
        "Delete the cluster",
        10,
    )
    .await;
    gui.screenshot("platform-confirm-delete").await;
    assert!(
        !cluster.containers().is_empty(),
        "nothing deleted before the confirmation"
    );
    click(&gui, "[aria-label='Confirm deletion'] button.danger").await;
    wait_text(&gui, ".summary", "No cluster yet", 120).await;
    assert!(
        cluster.containers().is_empty(),
        "the nodes are gone: {:?}",
        cluster.containers()
    );

    // The token never came back to the webview, never showed on screen, never reached the log.
    let log: Vec<Value> = serde_json::from_value(
        gui.driver
            .execute("return window.__ipcLog;", json!([]))
            .await
            .expect("IPC log"),
    )
    .expect("log entries");
    let text = serde_json::to_string(&log).expect("json");
    assert!(
        text.contains("github_connect") && text.contains("octo") && text.contains("stepFinished"),
        "the recorder saw the answers and channel messages: {text:.400}"
    );
    assert!(!text.contains(TOKEN), "the token reached the webview");
    let html = gui
        .driver
        .execute("return document.documentElement.outerHTML;", json!([]))
        .await
        .expect("html");
    assert!(!html.to_string().contains(TOKEN));
    let app_log = app_log(&gui);
    assert!(
        app_log.contains("github_connect") || app_log.contains("stepFinished"),
        "the app logged its work: {app_log:.300}"
    );
    assert!(!app_log.contains(TOKEN), "the token is in the app's log");
    println!(
        "IPC payloads recorded: {} (none holds the token); screenshots in {}",
        log.len(),
        slipway_e2e::gui::screenshot_dir().display()
    );

    // The app's log: JSON lines (the step events among them), readable by the user alone.
    let log_file = state.join("slipway/logs/gui.log");
    let lines = std::fs::read_to_string(&log_file).expect("app log");
    assert!(
        lines
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "every line is JSON"
    );
    assert!(lines.contains("stepFinished") && lines.contains("slipway::progress"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log_file)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "the log is the user's alone");
    }
    let left = gui.close().await;
    assert!(
        left.is_empty(),
        "WebKitWebDriver processes left behind: {left:?}"
    );
}
