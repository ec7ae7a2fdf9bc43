//! SIMULATED cert-manager (test harness only), as far as Slipway relies on it. Each rule is
//! written from cert-manager v1.21 (cert-manager/cert-manager):
//! - The chart with `crds.enabled: true` installs its CRDs; the chart comes from a remote
//!   repository, which kube-sim does not render, so the CRDs are established once the
//!   `cert-manager` Application exists.
//! - A ClusterIssuer's `spec.ca.secretName` is read from the cluster resource namespace (the
//!   chart's default is cert-manager's own namespace; `pkg/controller/helper.go`), keys `tls.crt`
//!   and `tls.key` (`pkg/issuer/ca/setup.go`): Ready `KeyPairVerified` for a CA's pair, else Ready
//!   False (`ErrGetKeyPair` while the Secret is missing, `ErrInvalidKeyPair` when it is no CA).
//! - ingress-shim (`pkg/controller/certificate-shim/sync.go`): an Ingress annotated
//!   `cert-manager.io/cluster-issuer` gets one Certificate per `spec.tls` entry having both hosts
//!   and a secretName: named after the secretName, in the Ingress's namespace, owned by it,
//!   `dnsNames` = hosts, `issuerRef` {name, kind ClusterIssuer, group cert-manager.io}.
//! - Issuing (`pkg/controller/certificates/issuing/internal/secret.go`): a `kubernetes.io/tls`
//!   Secret with `tls.key`, `tls.crt` (the chain without a self-signed root: the leaf alone here)
//!   and `ca.crt`; the Certificate Ready True. It is issued again only when the Secret is gone or
//!   no longer matches the Certificate's names or issuer: a new CA alone re-issues nothing.
//!   (cert-manager's default key is RSA 2048; ECDSA P-256 here keeps tests quick.)

use serde_json::{Value, json};

use super::Shared;
use super::controllers::{condition, set_status, types};

const GROUP: &str = "cert-manager.io";
/// The chart's default cluster resource namespace: where it is installed.
const CLUSTER_RESOURCE_NAMESPACE: &str = "cert-manager";
const ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";

pub(super) fn reconcile(shared: &Shared) {
    if !deployed(shared) {
        return;
    }
    establish_crds(shared);
    let (Some(issuers), Some(certificates), Some(secrets), Some(ingresses)) = (
        types(shared, GROUP, "clusterissuers"),
        types(shared, GROUP, "certificates"),
        types(shared, "", "secrets"),
        types(shared, "networking.k8s.io", "ingresses"),
    ) else {
        return;
    };
    // Issuers.
    let mut ready: Vec<(String, (String, String))> = Vec::new();
    // Each list is taken before its loop: the store's lock must not be held while writing.
    let listed = shared.state().list(&issuers, None);
    for issuer in listed {
        let name = issuer["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let secret_name = issuer["spec"]["ca"]["secretName"]
            .as_str()
            .unwrap_or_default();
        let secret = shared
            .state()
            .get(&secrets, CLUSTER_RESOURCE_NAMESPACE, secret_name)
            .ok();
        let pair = secret
            .as_ref()
            .and_then(|s| Some((decoded(s, "tls.crt")?, decoded(s, "tls.key")?)));
        let (ok, reason) = match &pair {
            None => (false, "ErrGetKeyPair"),
            Some((cert, key)) if is_ca_pair(cert, key) => (true, "KeyPairVerified"),
            Some(_) => (false, "ErrInvalidKeyPair"),
        };
        if let (true, Some(pair)) = (ok, pair) {
            ready.push((name, pair));
        }
        set_status(
            shared,
            &issuers,
            &issuer,
            json!({"conditions": [condition("Ready", ok, reason)]}),
        );
    }
    // ingress-shim.
    let listed = shared.state().list(&ingresses, None);
    for ingress in listed {
        let Some(issuer) = ingress["metadata"]["annotations"][ISSUER_ANNOTATION].as_str() else {
            continue;
        };
        let ns = ingress["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default();
        for tls in ingress["spec"]["tls"].as_array().into_iter().flatten() {
            let (Some(secret_name), Some(hosts)) =
                (tls["secretName"].as_str(), tls["hosts"].as_array())
            else {
                continue;
            };
            if hosts.is_empty() {
                continue;
            }
            let spec = json!({
                "secretName": secret_name, "dnsNames": hosts,
                "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": GROUP},
                "usages": ["digital signature", "key encipherment"],
            });
            let existing = shared.state().get(&certificates, ns, secret_name).ok();
            if existing.as_ref().is_some_and(|c| c["spec"] == spec) {
                continue;
            }
            let mut cert = existing.unwrap_or_else(|| {
                json!({
                    "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                    "metadata": {"name": secret_name, "namespace": ns, "ownerReferences": [{
                        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "name": ingress["metadata"]["name"], "uid": ingress["metadata"]["uid"],
                        "controller": true, "blockOwnerDeletion": true,
                    }]},
                })
            });
            cert["spec"] = spec;
            shared
                .state()
                .commit(&certificates, ns, secret_name, Some(cert), false);
        }
    }
    // Issuing.
    let listed = shared.state().list(&certificates, None);
    for cert in listed {
        let ns = cert["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let name = cert["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let issuer = cert["spec"]["issuerRef"]["name"]
            .as_str()
            .unwrap_or_default();
        let secret_name = cert["spec"]["secretName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let names: Vec<String> = cert["spec"]["dnsNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect();
        let Some((_, (ca_pem, ca_key))) = ready.iter().find(|(n, _)| n == issuer) else {
            set_status(
                shared,
                &certificates,
                &cert,
                json!({"conditions": [condition("Ready", false, "IssuerNotReady")]}),
            );
            continue;
        };
        let current = shared.state().get(&secrets, &ns, &secret_name).ok();
        let matches = current.as_ref().is_some_and(|s| {
            let a = &s["metadata"]["annotations"];
            a["cert-manager.io/certificate-name"] == name.as_str()
                && a["cert-manager.io/issuer-name"] == issuer
                && a["cert-manager.io/alt-names"] == names.join(",").as_str()
        });
        if !matches {
            let Some((leaf, key)) = issue(ca_pem, ca_key, &names) else {
                set_status(
                    shared,
                    &certificates,
                    &cert,
                    json!({"conditions": [condition("Ready", false, "Failed")]}),
                );
                continue;
            };
            use base64::Engine;
            let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
            let secret = json!({
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": secret_name, "namespace": ns, "annotations": {
                    "cert-manager.io/certificate-name": name, "cert-manager.io/issuer-name": issuer,
                    "cert-manager.io/issuer-kind": "ClusterIssuer", "cert-manager.io/issuer-group": GROUP,
                    "cert-manager.io/alt-names": names.join(","),
                }},
                "data": {"tls.crt": b64(&leaf), "tls.key": b64(&key), "ca.crt": b64(ca_pem)},
            });
            shared
                .state()
                .commit(&secrets, &ns, &secret_name, Some(secret), false);
        }
        set_status(
            shared,
            &certificates,
            &cert,
            json!({"conditions": [condition("Ready", true, "Ready")]}),
        );
    }
}

/// The cert-manager Application is there (its chart from upstream is not rendered here).
fn deployed(shared: &Shared) -> bool {
    types(shared, "argoproj.io", "applications").is_some_and(|t| {
        shared
            .state()
            .list(&t, None)
            .iter()
            .any(|a| a["metadata"]["name"] == "cert-manager")
    })
}

fn establish_crds(shared: &Shared) {
    let Some(crds) = types(shared, "apiextensions.k8s.io", "customresourcedefinitions") else {
        return;
    };
    for (kind, plural, scope) in [
        ("Certificate", "certificates", "Namespaced"),
        ("ClusterIssuer", "clusterissuers", "Cluster"),
        ("Issuer", "issuers", "Namespaced"),
        ("CertificateRequest", "certificaterequests", "Namespaced"),
    ] {
        let name = format!("{plural}.{GROUP}");
        if shared.state().get(&crds, "", &name).is_ok() {
            continue;
        }
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/instance": "cert-manager"}},
            "spec": {"group": GROUP, "scope": scope,
                "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind},
                "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]},
        });
        shared.state().commit(&crds, "", &name, Some(crd), false);
    }
}

fn decoded(secret: &Value, key: &str) -> Option<String> {
    use base64::Engine;
    let data = secret["data"][key].as_str()?;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?,
    )
    .ok()
}

fn is_ca_pair(cert: &str, key: &str) -> bool {
    let Ok(issuer_key) = rcgen::KeyPair::from_pem(key) else {
        return false;
    };
    let Some(der) = rustls::pki_types::CertificateDer::from_pem_slice(cert.as_bytes()).ok() else {
        return false;
    };
    x509_parser::parse_x509_certificate(&der).is_ok_and(|(_, c)| {
        c.is_ca() && c.public_key().subject_public_key.data.as_ref() == issuer_key.public_key_raw()
    })
}

/// A leaf for `names` signed by the CA, valid 90 days (cert-manager's default duration).
fn issue(ca_pem: &str, ca_key: &str, names: &[String]) -> Option<(String, String)> {
    let signing = rcgen::KeyPair::from_pem(ca_key).ok()?;
    let issuer = rcgen::Issuer::from_ca_cert_pem(ca_pem, signing).ok()?;
    let key = rcgen::KeyPair::generate().ok()?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).ok()?;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(90);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = params.signed_by(&key, &issuer).ok()?;
    Some((leaf.pem(), key.serialize_pem()))
}

use rustls::pki_types::pem::PemObject as _;
