//! The CLI on the golden path against the SIMULATED GitHub and Backstage: connecting and
//! creating without the token ever showing, and the token kept in the Secret Service of the
//! test's private keyring session (never the keyring of whoever runs the tests).

use slipway_core::secrets::accounts;
use slipway_core::service::ServiceRequest;
use slipway_e2e::golden::{BACKSTAGE_TOKEN, EndState, GoldenWorld as World, TOKEN, request};
use slipway_e2e::keyring::PrivateKeyring;

/// Run the real binary off the runtime's threads (the fakes serve on them).
async fn slipway(
    args: Vec<String>,
    stdin: &'static str,
    journal: std::path::PathBuf,
) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let mut command = slipway_e2e::slipway();
        command
            .args(&args)
            .env("SLIPWAY_LOG", "debug")
            .env("XDG_STATE_HOME", journal)
            .env("KUBECONFIG", "/nonexistent");
        let run = slipway_e2e::Run::feeding(&mut command, stdin);
        (run.ok, format!("{}{}", run.stdout, run.stderr))
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_connects_and_creates_without_the_token_ever_showing() {
    let w = World::new().await;
    let api = w.github.url();
    let cluster = format!("svc-cli-{}", std::process::id());
    let keyring = PrivateKeyring::shared();
    keyring.set(&accounts::backstage_api_token(&cluster), BACKSTAGE_TOKEN);
    let journal = w.journal.path().to_owned();

    let mut captured = String::new();
    let (ok, out) = slipway(
        vec![
            "github".into(),
            "connect".into(),
            "--github-api".into(),
            api.clone(),
        ],
        "ghp_FAKE0123456789abcdefTOKEN\n",
        journal.clone(),
    )
    .await;
    assert!(
        ok && out.contains("as octo") && out.contains("acme"),
        "{out}"
    );
    captured.push_str(&out);
    let (ok, out) = slipway(
        vec![
            "github".into(),
            "status".into(),
            "--github-api".into(),
            api.clone(),
        ],
        "",
        journal.clone(),
    )
    .await;
    assert!(ok && out.contains("requests left"), "{out}");
    captured.push_str(&out);
    let args: Vec<String> = [
        "service",
        "create",
        "--name",
        "cli-svc",
        "--team",
        "payments",
        "--owner",
        "acme",
        "--github-api",
        &api,
        // No --backstage-url: the platform's Backstage through the ingress (here the fake
        // Backstage's port), at a domain no resolver knows.
        "--domain",
        "nowhere.test",
        "--http-port",
        &w.backstage.addr.port().to_string(),
        "--cluster",
        &cluster,
        "--wait",
        "2",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let (ok, out) = slipway(args.clone(), "", journal.clone()).await;
    assert!(
        ok && out.contains("Service \"cli-svc\" created")
            && out.contains("https://github.test/acme/cli-svc"),
        "{out}"
    );
    // Then it follows the chain for the --wait it was given, and says where it stopped: the
    // fake GitHub queued the push's CI run, which nobody finishes here.
    assert!(
        out.contains("Following cli-svc from commit to traffic (up to 2 s")
            && out.contains("[ok] repository   acme/cli-svc, public, default branch main")
            && out.contains("[..] ci")
            && out.contains("cli-svc is not answering yet: the ci link is waiting: CI for "),
        "{out}"
    );
    let (ok, json) = slipway(
        [
            "service",
            "status",
            "cli-svc",
            "--owner",
            "acme",
            "--github-api",
            &api,
            "--cluster",
            &cluster,
            "--json",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        "",
        journal.clone(),
    )
    .await;
    // stdout's pretty JSON, before stderr's log lines.
    let start = json.find("{\n  \"name\"").unwrap_or_default();
    let end = json[start..]
        .find("\n}")
        .map_or(json.len(), |e| start + e + 2);
    let chain: serde_json::Value = serde_json::from_str(&json[start..end]).unwrap_or_default();
    assert!(ok, "{json}");
    assert_eq!(chain["broken"], "ci", "{json}");
    let kinds: Vec<&str> = chain["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["repository", "ci", "image", "application", "pods", "url"]
    );
    assert_eq!(chain["links"][3]["state"], "unknown", "no cluster: {json}");
    captured.push_str(&json);
    captured.push_str(&out);
    let port = w.backstage.addr.port();
    let hosts = w.backstage.state.lock().expect("state").hosts.clone();
    assert!(
        !hosts.is_empty()
            && hosts
                .iter()
                .filter(|h| *h != "cli-svc.nowhere.test")
                .all(|h| *h == format!("backstage.nowhere.test:{port}")),
        "the token went to 127.0.0.1 naming Backstage's host (the chain's URL probe, which carries no credentials, names the service's): {hosts:?}"
    );
    assert_eq!(
        w.github.repo("acme/cli-svc").expect("repo").topics,
        ["idp-managed", "team-payments"]
    );
    // The CLI's door ends where the golden path ends (the window's and the Backstage form's
    // doors are held to the same: gui.rs, backstage_form.rs).
    let expected = EndState::expected(
        "acme",
        &ServiceRequest {
            description: None,
            domain: "nowhere.test".into(),
            ..request("cli-svc")
        },
    )
    .await;
    assert_eq!(
        EndState::of(&w.github, &w.backstage, "acme", "cli-svc").await,
        expected,
        "the CLI's end state"
    );

    // A refused token: the error names the fix, never the token.
    w.github.state().token = "ghp_rotated".into();
    let (ok, out) = slipway(args, "", journal.clone()).await;
    assert!(!ok && out.contains("401"), "{out}");
    captured.push_str(&out);

    assert!(
        !captured.contains(TOKEN) && !captured.contains(BACKSTAGE_TOKEN),
        "a token leaked into the output:\n{captured}"
    );
    assert!(!captured.contains("FAKE0123"), "not even part of it");
    let (ok, _) = slipway(
        vec![
            "github".into(),
            "disconnect".into(),
            "--github-api".into(),
            api,
        ],
        "",
        journal,
    )
    .await;
    assert!(ok);
    assert_eq!(
        keyring.get(&accounts::github_token(&w.github.url())),
        None,
        "disconnect removed the token"
    );
}

/// The token goes to the session's Secret Service (it persists across reboots), and only
/// there: another session never sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_kept_in_the_secret_service_of_the_session_and_nowhere_else() {
    let w = World::new().await;
    let api = w.github.url();
    let (ok, text) = slipway(
        vec![
            "github".into(),
            "connect".into(),
            "--github-api".into(),
            api.clone(),
        ],
        TOKEN,
        w.journal.path().to_owned(),
    )
    .await;
    assert!(ok, "{text}");
    let (ok, text) = slipway(
        vec![
            "github".into(),
            "status".into(),
            "--github-api".into(),
            api.clone(),
        ],
        "",
        w.journal.path().to_owned(),
    )
    .await;
    assert!(
        ok && text.contains("token kept in  Secret Service"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
    assert_eq!(
        PrivateKeyring::shared()
            .get(&accounts::github_token(&api))
            .as_deref(),
        Some(TOKEN),
        "in the Secret Service, under Slipway's service"
    );
    // Another session (another person's, or a later run) has no such token.
    let other = PrivateKeyring::start();
    let out = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(slipway_e2e::slipway_bin());
        other
            .apply(&mut command)
            .args(["github", "status", "--github-api", &api])
            .output()
    })
    .await
    .expect("join")
    .expect("slipway");
    let outside = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && outside.contains("GitHub is not connected"),
        "{outside}"
    );
}

/// `service create --context` on an existing cluster: Backstage is not routed there (its
/// sign-in is guest), so the registration goes through a port-forward Slipway opens itself to
/// the cluster's `backstage/backstage` Service; the URL is the DNS zone's, with no hosts file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_create_on_an_existing_cluster_reaches_backstage_through_a_port_forward() {
    let w = World::new().await;
    let api = w.github.url();
    let context = "eks_team_platform";
    let keyring = PrivateKeyring::shared();
    keyring.set(&accounts::github_token(&api), TOKEN);
    keyring.set(
        &accounts::backstage_api_token(&slipway_core::platform::target::id_of(context)),
        BACKSTAGE_TOKEN,
    );
    let kubeconfig = w.journal.path().join("team-kubeconfig");
    std::fs::write(&kubeconfig, w.sim.kubeconfig_as(context)).expect("kubeconfig");
    // The platform's Backstage as its chart names it, its pods' port 7007 the fake Backstage.
    w.sim
        .serve_service("backstage", "backstage", 7007, w.backstage.addr)
        .await
        .expect("Backstage's Service");

    let kubeconfig = kubeconfig.to_string_lossy().into_owned();
    let on_target = |args: &[&str]| -> Vec<String> {
        let target = [
            "--context",
            context,
            "--kubeconfig",
            &kubeconfig,
            "--owner",
            "acme",
            "--github-api",
            &api,
        ];
        args.iter()
            .chain(&target)
            .map(|a| (*a).to_owned())
            .collect()
    };
    let (ok, out) = slipway(
        on_target(&[
            "service",
            "create",
            "--name",
            "ctx-svc",
            "--team",
            "payments",
            "--domain",
            "idp.example.com",
            "--wait",
            "0",
        ]),
        "",
        w.journal.path().to_owned(),
    )
    .await;
    assert!(ok && out.contains("Service \"ctx-svc\" created"), "{out}");
    assert_eq!(w.locations_for("ctx-svc"), 1, "registered in the catalog");
    assert!(
        out.contains("https://ctx-svc.idp.example.com") && !out.contains("hosts apply"),
        "{out}"
    );
    // The cluster was the named context's: the team's namespace got its pull Secret there.
    assert!(
        w.sim
            .object("", "secrets", "team-payments", "ghcr-pull")
            .is_some(),
        "{out}"
    );

    let (ok, json) = slipway(
        on_target(&[
            "service",
            "status",
            "ctx-svc",
            "--domain",
            "idp.example.com",
            "--json",
        ]),
        "",
        w.journal.path().to_owned(),
    )
    .await;
    assert!(ok, "{json}");
    let start = json.find("{\n  \"name\"").unwrap_or_default();
    let end = json[start..]
        .find("\n}")
        .map_or(json.len(), |e| start + e + 2);
    let chain: serde_json::Value = serde_json::from_str(&json[start..end]).unwrap_or_default();
    let url = &chain["links"][5];
    assert_eq!(url["url"], "https://ctx-svc.idp.example.com", "{json}");
    // The cluster has no Traefik here, so nothing to probe: said, not guessed from 127.0.0.1.
    assert_eq!(url["summary"], "Traefik has no address yet", "{json}");
    assert_ne!(
        chain["links"][3]["state"], "unknown",
        "the cluster was read: {json}"
    );
}
