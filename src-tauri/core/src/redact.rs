//! Credentials out of text that is logged or shown: what a node's command printed, a tool's
//! error. Slipway never logs a secret on purpose; this catches the ones that arrive inside
//! other programs' output (a kubeconfig, kubeadm's token line, a private key, a bearer header).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// What stands in for a removed credential.
pub const REDACTED: &str = "[redacted]";

struct Rule {
    pattern: Regex,
    /// The replacement; `$1` keeps the name in front of the value.
    with: &'static str,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |pattern: &str, with| Rule {
        pattern: Regex::new(pattern).expect("a valid pattern"),
        with,
    };
    vec![
        // PEM private keys (RSA, EC, PKCS#8), whole blocks.
        rule(
            r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|\z)",
            "-----BEGIN ${1}PRIVATE KEY----- [redacted]",
        ),
        // Named values in YAML, JSON, env and flag form: kubeconfig's client-key-data and token,
        // a Secret's tls.key, passwords.
        rule(
            r#"(?i)((?:\b|_)(?:client-key-data|tls\.key|token|token-secret|password|passwd|secret-key|api-key)"?[ \t]*[:=][ \t]*)"?[^\s",}]+"?"#,
            "${1}[redacted]",
        ),
        // Authorization headers.
        rule(
            r"(?i)(authorization:\s*(?:bearer|basic|token)\s+)\S+",
            "${1}[redacted]",
        ),
        // kubeadm bootstrap tokens ([a-z0-9]{6}.[a-z0-9]{16}), wherever they appear.
        rule(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b", REDACTED),
        // GitHub tokens: classic and fine-grained personal, OAuth, app and refresh tokens.
        rule(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
            REDACTED,
        ),
    ]
});

/// `text` with every credential it recognises replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for rule in RULES.iter() {
        if let Cow::Owned(replaced) = rule.pattern.replace_all(&out, rule.with) {
            out = Cow::Owned(replaced);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubeconfig_keeps_its_shape_and_loses_its_keys() {
        let admin = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://x:6443\nusers:\n- name: admin\n  user:\n    client-certificate-data: LS0tQ0VSVA==\n    client-key-data: LS0tS0VZc2VjcmV0==\n- name: sim\n  user:\n    token: s3cr3t-token-value\n";
        let out = redact(admin);
        assert!(
            !out.contains("LS0tS0VZc2VjcmV0") && !out.contains("s3cr3t"),
            "{out}"
        );
        assert!(
            out.contains("server: https://x:6443") && out.contains("client-key-data: [redacted]"),
            "{out}"
        );
    }

    #[test]
    fn keys_tokens_and_headers_go_wherever_they_are() {
        let cases = [
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg (cut short",
            "[bootstrap-token] Using token: q7c2x1.0a9s8d7f6g5h4j3k",
            "kubeadm join x:6443 --token q7c2x1.0a9s8d7f6g5h4j3k --discovery-token-ca-cert-hash sha256:1",
            r#"{"token":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}"#,
            "remote: https://x-access-token:ghs_abcdefghijklmnopqrstuvwx@github.com",
            "Authorization: Bearer eyJhbGciOi.payload.sig",
            "ARGOCD_PASSWORD=hunter2hunter2",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        ];
        for case in cases {
            let out = redact(case);
            for secret in [
                "MIIE",
                "q7c2x1",
                "ghp_a",
                "ghs_a",
                "eyJhbGciOi",
                "hunter2",
                "github_pat_11",
            ] {
                assert!(!out.contains(secret), "{secret} left in {out:?}");
            }
            assert!(out.contains(REDACTED), "{out:?}");
        }
    }

    #[test]
    fn ordinary_output_is_left_alone() {
        for text in [
            "node/slipway-worker condition met",
            "secret/backstage-secrets configured",
            "bootstrapTokens:\n- groups: [system:bootstrappers]",
            "sha256:3489c7670f2b9e5c",
            "Image is up to date for kindest/node:v1.36.1",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
