//! `slipway seal` checked against an INDEPENDENT implementation of the Sealed Secrets format
//! (tests/tests/fixtures/sealed-secrets/unseal.py, Python `cryptography` on OpenSSL): values sealed
//! by Slipway open with the matching private key under the right scope label and not under a
//! wrong one. Then the certificate through kube-sim's service proxy (its simulated controller).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use slipway_core::sealing::{self, SealingError};
use slipway_e2e::kube_sim::KubeSim;
use slipway_e2e::root;

fn python(args: &[&str], stdin: &str) -> String {
    let script = root().join("tests/tests/fixtures/sealed-secrets/unseal.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "unseal.py failed (needs python3 with `cryptography`; scripts/setup.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Decrypt each value with the independent implementation: hex plaintexts, or "FAIL".
fn open(key: &Path, label: &str, values: &[&str]) -> Vec<String> {
    python(&["open", &key.to_string_lossy(), label], &values.join("\n"))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn seal(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut command = slipway_e2e::slipway();
    command.arg("seal").args(args).env("SLIPWAY_LOG", "debug");
    let run = slipway_e2e::Run::feeding(&mut command, stdin);
    (run.ok, run.stdout, run.stderr)
}

fn hex(s: &[u8]) -> String {
    s.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn sealed_values_open_with_an_independent_implementation_only_under_their_scope() {
    let dir = tempfile::tempdir().expect("tmp");
    python(&["keygen", &dir.path().to_string_lossy()], "");
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let cert = cert.to_string_lossy().into_owned();
    let secret_file = dir.path().join("password");
    let binary: Vec<u8> = (0..=255).collect();
    std::fs::write(&secret_file, &binary).expect("value file");
    let from_file = format!("password={}", secret_file.display());

    let cases = [
        (
            "strict",
            "team-a/db",
            vec!["team-a/other", "team-b/db", "team-a", ""],
        ),
        ("namespace-wide", "team-a", vec!["team-b", "team-a/db", ""]),
        ("cluster-wide", "", vec!["team-a/db", "team-a"]),
    ];
    for (scope, right, wrong) in cases {
        let (ok, stdout, stderr) = seal(
            &[
                "--cert",
                &cert,
                "--name",
                "db",
                "--namespace",
                "team-a",
                "--from-file",
                &from_file,
                "--scope",
                scope,
                "-o",
                "json",
            ],
            "",
        );
        assert!(ok, "{scope}: {stderr}");
        assert!(
            !stderr.contains(&hex(&binary)) && !stderr.contains("password=\\x"),
            "values never reach the log"
        );
        let sealed: Value = serde_json::from_str(&stdout).expect("JSON SealedSecret");
        assert_eq!(sealed["kind"], "SealedSecret");
        assert_eq!(
            (
                sealed["metadata"]["name"].as_str(),
                sealed["metadata"]["namespace"].as_str()
            ),
            (Some("db"), Some("team-a"))
        );
        let value = sealed["spec"]["encryptedData"]["password"]
            .as_str()
            .expect("sealed value");
        assert_eq!(
            &base64_prefix(value),
            &[0x02, 0x00],
            "a 4096-bit key wraps into 512 bytes"
        );
        assert_eq!(
            open(&key, right, &[value]),
            [hex(&binary)],
            "{scope} opens under {right:?}"
        );
        // The controller derives the label from the SealedSecret's own name and namespace.
        for label in wrong {
            assert_eq!(
                open(&key, label, &[value]),
                ["FAIL"],
                "{scope} under {label:?}"
            );
        }
        match scope {
            "namespace-wide" => assert_eq!(
                sealed["metadata"]["annotations"]["sealedsecrets.bitnami.com/namespace-wide"],
                "true"
            ),
            "cluster-wide" => assert_eq!(
                sealed["metadata"]["annotations"]["sealedsecrets.bitnami.com/cluster-wide"],
                "true"
            ),
            _ => assert!(sealed["metadata"]["annotations"].is_null()),
        }
    }

    // A manifest on stdin (stringData and data), YAML out.
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: shop\ntype: Opaque\nstringData:\n  token: abc\ndata:\n  user: YWRtaW4=\n";
    let (ok, stdout, stderr) = seal(&["--cert", &cert], manifest);
    assert!(ok, "{stderr}");
    let sealed: Value = serde_saphyr::from_str(&stdout).expect("YAML SealedSecret");
    let values: Vec<&str> = ["token", "user"]
        .iter()
        .map(|k| sealed["spec"]["encryptedData"][k].as_str().expect("value"))
        .collect();
    assert_eq!(
        open(&key, "shop/api", &values),
        [hex(b"abc"), hex(b"admin")]
    );

    // Refusals name the problem.
    let expired = dir
        .path()
        .join("expired.pem")
        .to_string_lossy()
        .into_owned();
    let (ok, _, stderr) = seal(&["--cert", &expired], manifest);
    assert!(!ok && stderr.contains("expired on"), "{stderr}");
    let (ok, _, stderr) = seal(
        &["--cert", &cert, "--name", "db", "--from-literal", "k=v"],
        "",
    );
    assert!(!ok && stderr.contains("--namespace"), "{stderr}");
}

fn base64_prefix(value: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .expect("standard base64")[..2]
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_comes_through_the_service_proxy_from_the_running_controller() {
    let sim = KubeSim::start().await.expect("sim");
    let client = sim.client().await.expect("client");
    let err = sealing::fetch_cert(
        &client,
        sealing::CONTROLLER_NAMESPACE,
        sealing::CONTROLLER_NAME,
    )
    .await
    .expect_err("no controller yet");
    assert!(
        matches!(err, SealingError::Fetch { .. }) && err.to_string().contains("--cert"),
        "{err}"
    );

    // The controller starts (its Deployment appears) and makes its key.
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), "kube-system");
    let d = serde_json::from_value(serde_json::json!({"metadata": {"name": "sealed-secrets-controller"}, "spec": {"selector": {"matchLabels": {"app": "ss"}}, "template": {"metadata": {"labels": {"app": "ss"}}, "spec": {"containers": [{"name": "c", "image": "sealed-secrets-controller"}]}}}})).expect("deployment");
    deployments
        .create(&Default::default(), &d)
        .await
        .expect("create");
    let keys = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let keys = sealing::active_keys(&client).await.expect("keys");
            if !keys.is_empty() {
                return keys;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the simulated controller made its key");
    let pem = sealing::fetch_cert(
        &client,
        sealing::CONTROLLER_NAMESPACE,
        sealing::CONTROLLER_NAME,
    )
    .await
    .expect("cert");
    assert_eq!(pem, keys[0].cert, "the active key's certificate");

    // The GUI's one-value entry point seals against it; the controller's private key opens it.
    let value = sealing::seal_one(&client, "team-a", "db", b"hunter2")
        .await
        .expect("seal");
    let dir = tempfile::tempdir().expect("tmp");
    let key = dir.path().join("key.pem");
    std::fs::write(&key, &keys[0].key).expect("key");
    assert_eq!(open(&key, "team-a/db", &[&value]), [hex(b"hunter2")]);
    assert_eq!(open(&key, "team-a/web", &[&value]), ["FAIL"]);
}

/// Windows' Credential Manager holds 2,560 bytes of UTF-16 per entry; the escrow of even one
/// 4096-bit key (certificate and key, base64 in JSON) is about 5 KB and grows with every key
/// rotation. The simulated store refuses it as one entry, as Windows does; Slipway keeps it in
/// parts, reads it back whole, and leaves no part behind when it shrinks or goes.
#[test]
fn the_escrow_fits_a_keyring_with_windows_entry_limit() {
    use slipway_core::secrets::{Keyring, accounts};
    use slipway_e2e::keyring::credential_manager;

    let store = credential_manager::store();
    let keyring = Keyring::with_store(store.clone());
    let account = accounts::sealing_keys("win");
    let piece = "MIIJQgIBADANBgkqhkiG9w0BAQEFAASCCSwwggkoAgEAAoICAQ".repeat(40);
    let escrow = format!(
        r#"[{{"name":"sealed-secrets-keyabcde","crt":"{piece}","key":"{piece}{piece}"}}, "é😀"]"#
    );
    assert!(escrow.len() > 5000);
    let raw = keyring_core::Entry::new_in_store(&store, "dev.slipway", "direct").expect("entry");
    assert!(
        matches!(
            raw.set_password(&escrow),
            Err(keyring_core::Error::TooLong(_, 2560))
        ),
        "the simulated store refuses what Credential Manager refuses"
    );

    keyring.set(&account, &escrow).expect("kept in parts");
    assert_eq!(
        keyring.get(&account).expect("read").as_deref(),
        Some(&*escrow)
    );
    let parts = credential_manager::Store::stored(&store);
    assert!(
        parts >= 4,
        "an entry naming its parts, and the parts: {parts}"
    );

    // A larger escrow replaces the parts; the old generation goes.
    let grown = format!("{escrow}{escrow}");
    keyring.set(&account, &grown).expect("grown");
    assert_eq!(
        keyring.get(&account).expect("read").as_deref(),
        Some(&*grown)
    );
    let grown_parts = credential_manager::Store::stored(&store);
    assert!(grown_parts > parts, "{grown_parts} > {parts}");
    // A value that fits one entry again leaves no part behind.
    keyring.set(&account, "[]").expect("small");
    assert_eq!(keyring.get(&account).expect("read").as_deref(), Some("[]"));
    assert_eq!(credential_manager::Store::stored(&store), 1);
    keyring.set(&account, &escrow).expect("parts again");
    assert!(keyring.delete(&account).expect("delete"));
    assert_eq!(credential_manager::Store::stored(&store), 0, "no part left");
    assert!(!keyring.delete(&account).expect("second delete"));

    // A lost part is reported with the way out, never read as a shorter escrow.
    keyring.set(&account, &escrow).expect("parts");
    let head = raw_head(&store, &account);
    let (generation, _) = head
        .strip_prefix("slipway-parts:")
        .and_then(|h| h.split_once(':'))
        .expect("the entry names its parts");
    keyring_core::Entry::new_in_store(&store, "dev.slipway", &format!("{account}#{generation}/1"))
        .expect("part")
        .delete_credential()
        .expect("lose a part");
    let err = keyring.get(&account).expect_err("incomplete");
    assert!(
        err.to_string().contains("missing") && err.to_string().contains("delete the entry"),
        "{err}"
    );
}

fn raw_head(store: &std::sync::Arc<keyring_core::CredentialStore>, account: &str) -> String {
    keyring_core::Entry::new_in_store(store, "dev.slipway", account)
        .expect("entry")
        .get_password()
        .expect("head")
}
