//! Sealed Secrets without kubeseal: the controller's hybrid encryption done natively, the
//! certificate fetched the way kubeseal does (API-server service proxy), and the controller's
//! sealing keys read and restored so they can be escrowed across re-created clusters.
//!
//! Format (sealed-secrets `pkg/crypto`): per value, a fresh 32-byte AES-256 session key wrapped
//! with RSA-OAEP (SHA-256, MGF1-SHA-256, the scope as OAEP label), then
//! `u16be(len(rsa)) || rsa || AES-GCM(zero nonce, no AAD) ciphertext || tag`, standard base64.

use std::collections::BTreeMap;

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::{Oaep, PublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The controller as the chart installs it for Slipway (and kubeseal's defaults).
pub const CONTROLLER_NAMESPACE: &str = "kube-system";
pub const CONTROLLER_NAME: &str = "sealed-secrets-controller";
/// The label the controller puts on its sealing key Secrets (`active` for the ones in use).
pub const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    /// The input has no PEM certificate.
    #[error("the certificate is not usable: no PEM CERTIFICATE block found")]
    NoCertificate,
    /// The certificate is not X.509.
    #[error("the certificate is not usable: {0}")]
    CertParse(#[from] x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// The certificate's public key cannot be read.
    #[error("the certificate's public key is not usable: {0}")]
    PublicKey(String),
    /// The certificate has expired.
    #[error(
        "the sealing certificate expired on {0}; fetch the controller's current one (omit --cert) or renew the key"
    )]
    Expired(String),
    /// The certificate's key is not RSA.
    #[error("the sealing certificate has a {0} key; Sealed Secrets needs RSA")]
    NotRsa(&'static str),
    /// The Secret to seal is not usable; the message names the field.
    #[error("invalid Secret input: {0}")]
    Input(String),
    /// The Secret manifest is not YAML or JSON.
    #[error("not a YAML/JSON Secret manifest: {0}")]
    Manifest(#[from] Box<serde_saphyr::Error>),
    /// The OS gave no randomness for a session key.
    #[error("no randomness from the OS for a session key: {0}")]
    Random(#[from] getrandom::Error),
    /// RSA-OAEP wrapping failed.
    #[error("RSA-OAEP encryption failed: {0}")]
    Rsa(#[from] rsa::Error),
    /// AES-GCM sealing failed.
    #[error("AES-GCM encryption failed")]
    Aead,
    /// The controller's certificate could not be fetched.
    #[error(
        "cannot fetch the sealing certificate from {namespace}/{name} ({source}); is Sealed Secrets running (`slipway status`)? Or pass --cert FILE"
    )]
    Fetch {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Fetching the certificate took too long.
    #[error(
        "the sealing certificate from {namespace}/{name} did not arrive within 15 s; is Sealed Secrets running (`slipway status`)? Or pass --cert FILE"
    )]
    FetchTimeout { namespace: String, name: String },
    /// The Kubernetes API refused a call.
    #[error("the Kubernetes API refused the request: {0}")]
    Api(#[from] kube::Error),
}

impl crate::error::Classified for SealingError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::Fetch { .. } | Self::FetchTimeout { .. } | Self::Api(_) => ErrorKind::Cluster,
            Self::Random(_) | Self::Rsa(_) | Self::Aead => ErrorKind::Internal,
            _ => ErrorKind::Invalid,
        }
    }
}

type Result<T> = std::result::Result<T, SealingError>;

/// Who may decrypt: the controller checks the SealedSecret's own name/namespace against this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Only a Secret of this name in this namespace (the default).
    #[default]
    Strict,
    /// Any name in this namespace.
    NamespaceWide,
    /// Any name in any namespace.
    ClusterWide,
}

impl Scope {
    /// The OAEP label binding a value to its scope.
    pub fn label(self, namespace: &str, name: &str) -> Vec<u8> {
        match self {
            Scope::Strict => format!("{namespace}/{name}").into_bytes(),
            Scope::NamespaceWide => namespace.as_bytes().to_vec(),
            Scope::ClusterWide => Vec::new(),
        }
    }

    fn annotation(self) -> Option<&'static str> {
        match self {
            Scope::Strict => None,
            Scope::NamespaceWide => Some("sealedsecrets.bitnami.com/namespace-wide"),
            Scope::ClusterWide => Some("sealedsecrets.bitnami.com/cluster-wide"),
        }
    }
}

/// The controller's public key, from its certificate.
#[derive(Debug, Clone)]
pub struct SealingCert {
    key: PublicKey,
    /// RFC 3339.
    pub not_after: String,
}

impl SealingCert {
    /// The first certificate of a PEM bundle; refused when expired (at `now`, Unix seconds) or not RSA.
    pub fn from_pem(pem: &[u8], now: i64) -> Result<Self> {
        let block = x509_parser::pem::Pem::iter_from_buffer(pem)
            .filter_map(std::result::Result::ok)
            .find(|p| p.label == "CERTIFICATE")
            .ok_or(SealingError::NoCertificate)?;
        let cert = block.parse_x509()?;
        let not_after = cert.validity().not_after;
        let not_after_text = jiff::Timestamp::from_second(not_after.timestamp())
            .map_or_else(|_| not_after.to_string(), |t| t.to_string());
        if not_after.timestamp() < now {
            return Err(SealingError::Expired(not_after_text));
        }
        let spki = cert.public_key();
        match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(_)) => {}
            Ok(other) => return Err(SealingError::NotRsa(key_kind(&other))),
            Err(e) => return Err(SealingError::PublicKey(e.to_string())),
        }
        let key = PublicKey::from_public_key_der(spki.raw)
            .map_err(|e| SealingError::PublicKey(e.to_string()))?;
        Ok(Self {
            key,
            not_after: not_after_text,
        })
    }

    /// Seal one value for `namespace`/`name` under `scope`: standard padded base64.
    pub fn seal_value(
        &self,
        scope: Scope,
        namespace: &str,
        name: &str,
        value: &[u8],
    ) -> Result<String> {
        let mut session = [0_u8; 32];
        getrandom::fill(&mut session)?;
        let wrapped = self.key.encrypt(
            &mut getrandom::SysRng,
            Oaep::<Sha256>::new_with_label(scope.label(namespace, name)),
            &session,
        )?;
        let cipher = Aes256Gcm::new_from_slice(&session).map_err(|_| SealingError::Aead)?;
        // A zero nonce is safe: every session key encrypts exactly one value.
        let sealed = cipher
            .encrypt(&aes_gcm::Nonce::default(), value)
            .map_err(|_| SealingError::Aead)?;
        // A wrapped 32-byte session key is as long as the RSA modulus: far below 64 KiB.
        let len = u16::try_from(wrapped.len()).map_err(|_| SealingError::Aead)?;
        let mut out = Vec::with_capacity(2 + wrapped.len() + sealed.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }
}

fn key_kind(key: &x509_parser::public_key::PublicKey<'_>) -> &'static str {
    use x509_parser::public_key::PublicKey as K;
    match key {
        K::RSA(_) => "RSA",
        K::EC(_) => "EC",
        K::DSA(_) => "DSA",
        K::GostR3410(_) | K::GostR3410_2012(_) => "GOST",
        _ => "unknown",
    }
}

/// A Secret to seal: name, namespace, type, labels/annotations and raw values.
#[derive(Debug, Clone, Default)]
pub struct SecretInput {
    pub name: String,
    pub namespace: String,
    pub type_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub data: BTreeMap<String, Vec<u8>>,
}

impl SecretInput {
    /// A Secret manifest, YAML or JSON, with `data` (base64) and/or `stringData`.
    pub fn from_manifest(text: &str) -> Result<Self> {
        let doc: Value = serde_saphyr::from_str(text).map_err(Box::new)?;
        if doc["kind"] != "Secret" {
            return Err(SealingError::Input(format!(
                "expected kind Secret, found {}",
                doc["kind"]
            )));
        }
        let meta = &doc["metadata"];
        let text_map = |v: &Value| -> BTreeMap<String, String> {
            v.as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        };
        let mut data = BTreeMap::new();
        for (k, v) in doc["data"].as_object().into_iter().flatten() {
            let text = v
                .as_str()
                .ok_or_else(|| SealingError::Input(format!("data.{k} is not a string")))?;
            data.insert(
                k.clone(),
                STANDARD.decode(text).map_err(|e| {
                    SealingError::Input(format!(
                        "data.{k} is not base64 ({e}); use stringData for plain text"
                    ))
                })?,
            );
        }
        // As the API server does: stringData wins over data.
        for (k, v) in doc["stringData"].as_object().into_iter().flatten() {
            let text = v
                .as_str()
                .ok_or_else(|| SealingError::Input(format!("stringData.{k} is not a string")))?;
            data.insert(k.clone(), text.as_bytes().to_vec());
        }
        Ok(Self {
            name: meta["name"].as_str().unwrap_or_default().to_owned(),
            namespace: meta["namespace"].as_str().unwrap_or_default().to_owned(),
            type_: doc["type"].as_str().map(str::to_owned),
            labels: text_map(&meta["labels"]),
            annotations: text_map(&meta["annotations"]),
            data,
        })
    }

    fn validate(&self, scope: Scope) -> Result<()> {
        if self.data.is_empty() {
            return Err(SealingError::Input(
                "the Secret has no values (data, stringData, --from-literal or --from-file)".into(),
            ));
        }
        if self.name.is_empty() {
            return Err(SealingError::Input(
                "the Secret needs a name (metadata.name or --name)".into(),
            ));
        }
        if self.namespace.is_empty() && scope != Scope::ClusterWide {
            return Err(SealingError::Input("the Secret needs a namespace (metadata.namespace or --namespace) unless the scope is cluster-wide".into()));
        }
        if let Some(bad) = self.data.keys().find(|k| {
            k.is_empty()
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        }) {
            return Err(SealingError::Input(format!(
                "{bad:?} is not a valid Secret key (letters, digits, '-', '_', '.')"
            )));
        }
        Ok(())
    }
}

/// A SealedSecret manifest (`bitnami.com/v1alpha1`) the controller turns back into `secret`.
pub fn seal_secret(cert: &SealingCert, secret: &SecretInput, scope: Scope) -> Result<Value> {
    secret.validate(scope)?;
    let mut encrypted = serde_json::Map::new();
    for (k, v) in &secret.data {
        encrypted.insert(
            k.clone(),
            json!(cert.seal_value(scope, &secret.namespace, &secret.name, v)?),
        );
    }
    let mut annotations = serde_json::Map::new();
    if let Some(a) = scope.annotation() {
        annotations.insert(a.into(), json!("true"));
    }
    let mut metadata = json!({"name": secret.name});
    if !secret.namespace.is_empty() {
        metadata["namespace"] = json!(secret.namespace);
    }
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations.clone());
    }
    let mut template_meta = metadata.clone();
    if !secret.labels.is_empty() {
        template_meta["labels"] = json!(secret.labels);
    }
    let mut template_annotations: serde_json::Map<String, Value> = secret
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    template_annotations.extend(annotations);
    if !template_annotations.is_empty() {
        template_meta["annotations"] = Value::Object(template_annotations);
    }
    let mut template = json!({"metadata": template_meta});
    if let Some(t) = &secret.type_ {
        template["type"] = json!(t);
    }
    Ok(json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": metadata,
        "spec": {"encryptedData": encrypted, "template": template},
    }))
}

/// One value sealed for a Secret `name` in `namespace` (strict scope): the GUI's entry point.
pub async fn seal_one(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    value: &[u8],
) -> Result<String> {
    let pem = fetch_cert(client, CONTROLLER_NAMESPACE, CONTROLLER_NAME).await?;
    SealingCert::from_pem(pem.as_bytes(), jiff::Timestamp::now().as_second())?.seal_value(
        Scope::Strict,
        namespace,
        name,
        value,
    )
}

/// The controller's certificate through the API server's service proxy, as kubeseal gets it
/// (`services/http:<name>:http/proxy/v1/cert.pem`; the chart names the Service port `http`).
pub async fn fetch_cert(client: &kube::Client, namespace: &str, name: &str) -> Result<String> {
    let path =
        format!("/api/v1/namespaces/{namespace}/services/http:{name}:http/proxy/v1/cert.pem");
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    let text = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        client.request_text(request),
    )
    .await
    .map_err(|_| SealingError::FetchTimeout {
        namespace: namespace.into(),
        name: name.into(),
    })?
    .map_err(|source| SealingError::Fetch {
        namespace: namespace.into(),
        name: name.into(),
        source,
    })?;
    Ok(text)
}

/// A sealing key Secret (`kubernetes.io/tls` in the controller's namespace), for escrow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealingKey {
    pub name: String,
    /// PEM.
    pub cert: String,
    /// PEM; never logged.
    pub key: String,
}

/// The controller's active sealing keys, oldest first.
pub async fn active_keys(client: &kube::Client) -> Result<Vec<SealingKey>> {
    use k8s_openapi::api::core::v1::Secret;
    let api: kube::Api<Secret> = kube::Api::namespaced(client.clone(), CONTROLLER_NAMESPACE);
    let mut secrets = api
        .list(&kube::api::ListParams::default().labels(&format!("{KEY_LABEL}=active")))
        .await?
        .items;
    secrets.sort_by(|a, b| {
        (
            a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            &a.metadata.name,
        )
            .cmp(&(
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                &b.metadata.name,
            ))
    });
    Ok(secrets
        .into_iter()
        .filter_map(|s| {
            let mut data = s.data?;
            let text = |v: k8s_openapi::ByteString| String::from_utf8(v.0).ok();
            Some(SealingKey {
                name: s.metadata.name?,
                cert: text(data.remove("tls.crt")?)?,
                key: text(data.remove("tls.key")?)?,
            })
        })
        .collect())
}

impl SealingKey {
    /// A key back from its Secret manifest (a `--backup-key` file).
    pub fn from_secret(doc: &Value) -> Result<Self> {
        let name = doc["metadata"]["name"]
            .as_str()
            .ok_or_else(|| SealingError::Input("a key Secret without metadata.name".into()))?;
        let field = |k: &str| -> Result<String> {
            let b64 = doc["data"][k]
                .as_str()
                .ok_or_else(|| SealingError::Input(format!("key Secret {name} has no data.{k}")))?;
            let bytes = STANDARD
                .decode(b64)
                .map_err(|e| SealingError::Input(format!("{name} data.{k}: {e}")))?;
            String::from_utf8(bytes)
                .map_err(|_| SealingError::Input(format!("{name} data.{k} is not PEM text")))
        };
        Ok(Self {
            name: name.to_owned(),
            cert: field("tls.crt")?,
            key: field("tls.key")?,
        })
    }
}

/// Put `keys` into the controller's namespace and restart the controller (it reads its keys at
/// start). Returns whether a running controller was restarted.
pub async fn restore_keys(client: &kube::Client, keys: &[SealingKey]) -> Result<bool> {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Patch, PatchParams};
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), CONTROLLER_NAMESPACE);
    for key in keys {
        let secret: Secret = serde_json::from_value(key_secret(key))
            .map_err(|e| SealingError::Input(format!("key {}: {e}", key.name)))?;
        secrets
            .patch(
                &key.name,
                &PatchParams::apply("slipway").force(),
                &Patch::Apply(&secret),
            )
            .await?;
    }
    let deployments: kube::Api<Deployment> =
        kube::Api::namespaced(client.clone(), CONTROLLER_NAMESPACE);
    if deployments.get_opt(CONTROLLER_NAME).await?.is_none() {
        return Ok(false);
    }
    let restart = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": jiff::Timestamp::now().to_string()}}}}});
    deployments
        .patch(
            CONTROLLER_NAME,
            &PatchParams::default(),
            &Patch::Merge(&restart),
        )
        .await?;
    Ok(true)
}

/// The Secret a restored key becomes: what the controller itself writes, so it adopts it at start.
pub fn key_secret(key: &SealingKey) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": key.name, "namespace": CONTROLLER_NAMESPACE, "labels": {KEY_LABEL: "active"}},
        "data": {"tls.crt": STANDARD.encode(&key.cert), "tls.key": STANDARD.encode(&key.key)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rsa::pkcs8::EncodePublicKey;

    /// A throwaway 2048-bit key and a self-signed certificate for it (rcgen signs with ring).
    fn cert_and_key(days: i64) -> (String, rsa::PrivateKey) {
        use rsa::pkcs8::EncodePrivateKey;
        let private = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("key");
        let pem = private
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .expect("pkcs8");
        let pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
            .expect("rcgen key");
        let mut params =
            rcgen::CertificateParams::new(vec!["sealed-secrets".into()]).expect("params");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(days.abs() + 1);
        params.not_after = now + time::Duration::days(days);
        (params.self_signed(&pair).expect("cert").pem(), private)
    }

    fn unseal(private: &rsa::PrivateKey, label: &[u8], sealed: &str) -> Option<Vec<u8>> {
        let raw = STANDARD.decode(sealed).ok()?;
        let n = usize::from(u16::from_be_bytes([raw[0], raw[1]]));
        let session = private
            .decrypt(
                Oaep::<Sha256>::new_with_label(label.to_vec()),
                &raw[2..2 + n],
            )
            .ok()?;
        Aes256Gcm::new_from_slice(&session)
            .ok()?
            .decrypt(&aes_gcm::Nonce::default(), &raw[2 + n..])
            .ok()
    }

    fn test_key() -> &'static (String, rsa::PrivateKey) {
        static KEY: std::sync::OnceLock<(String, rsa::PrivateKey)> = std::sync::OnceLock::new();
        KEY.get_or_init(|| cert_and_key(30))
    }

    #[test]
    fn scopes_bind_values_to_names_and_namespaces() {
        let (pem, private) = test_key();
        let cert = SealingCert::from_pem(pem.as_bytes(), jiff::Timestamp::now().as_second())
            .expect("cert");
        assert_eq!(
            cert.key.to_public_key_der().expect("der").as_bytes(),
            private
                .to_public_key()
                .to_public_key_der()
                .expect("der")
                .as_bytes()
        );
        let sealed = cert
            .seal_value(Scope::Strict, "team-a", "db", b"s3cret")
            .expect("seal");
        assert_eq!(
            unseal(private, b"team-a/db", &sealed).as_deref(),
            Some(&b"s3cret"[..])
        );
        assert_eq!(
            unseal(private, b"team-a/other", &sealed),
            None,
            "strict: another name fails"
        );
        let wide = cert
            .seal_value(Scope::NamespaceWide, "team-a", "db", b"v")
            .expect("seal");
        assert_eq!(
            unseal(private, b"team-a", &wide).as_deref(),
            Some(&b"v"[..])
        );
        assert_eq!(unseal(private, b"team-b", &wide), None);
        let cluster = cert
            .seal_value(Scope::ClusterWide, "team-a", "db", b"v")
            .expect("seal");
        assert_eq!(unseal(private, b"", &cluster).as_deref(), Some(&b"v"[..]));
        assert_eq!(
            &STANDARD.decode(&sealed).expect("b64")[..2],
            &[0x01, 0x00],
            "u16 length prefix of a 2048-bit RSA block"
        );
    }

    #[test]
    fn expired_and_garbage_certificates_are_refused() {
        let (expired, _) = cert_and_key(-1);
        let err = SealingCert::from_pem(expired.as_bytes(), jiff::Timestamp::now().as_second())
            .expect_err("expired");
        assert!(matches!(err, SealingError::Expired(_)), "{err}");
        assert!(err.to_string().contains("expired on 20"), "{err}");
        let ec = rcgen::generate_simple_self_signed(vec!["x".into()])
            .expect("ec cert")
            .cert
            .pem();
        assert!(
            matches!(SealingCert::from_pem(ec.as_bytes(), 0), Err(SealingError::NotRsa(k)) if k == "EC")
        );
        assert!(matches!(
            SealingCert::from_pem(b"hello", 0),
            Err(SealingError::CertParse(_) | SealingError::NoCertificate)
        ));
    }

    #[test]
    fn manifests_with_data_and_string_data_become_sealed_secrets() {
        let (pem, private) = test_key();
        let cert = SealingCert::from_pem(pem.as_bytes(), 0).expect("cert");
        let input = SecretInput::from_manifest("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: team-a, labels: {app: db}}\ntype: Opaque\ndata: {user: YWRtaW4=}\nstringData: {pass: hunter2}\n").expect("input");
        let sealed = seal_secret(&cert, &input, Scope::NamespaceWide).expect("seal");
        assert_eq!(sealed["kind"], "SealedSecret");
        assert_eq!(
            sealed["metadata"]["annotations"]["sealedsecrets.bitnami.com/namespace-wide"],
            "true"
        );
        assert_eq!(
            sealed["spec"]["template"]["metadata"]["labels"]["app"],
            "db"
        );
        assert_eq!(sealed["spec"]["template"]["type"], "Opaque");
        let user = sealed["spec"]["encryptedData"]["user"]
            .as_str()
            .expect("user");
        assert_eq!(
            unseal(private, b"team-a", user).as_deref(),
            Some(&b"admin"[..]),
            "data is decoded before sealing"
        );
        let json_input = SecretInput::from_manifest(
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"},"stringData":{"k":"v"}}"#,
        )
        .expect("json");
        let err = seal_secret(&cert, &json_input, Scope::Strict).expect_err("no namespace");
        assert!(err.to_string().contains("--namespace"), "{err}");
        assert!(seal_secret(&cert, &json_input, Scope::ClusterWide).is_ok());
        assert!(SecretInput::from_manifest("kind: ConfigMap\n").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn arbitrary_values_and_keys_round_trip(value in proptest::collection::vec(any::<u8>(), 0..2048), key in "[A-Za-z0-9._-]{1,40}") {
            let (pem, private) = test_key();
            let cert = SealingCert::from_pem(pem.as_bytes(), 0).expect("cert");
            let input = SecretInput { name: "s".into(), namespace: "n".into(), data: BTreeMap::from([(key.clone(), value.clone())]), ..SecretInput::default() };
            let sealed = seal_secret(&cert, &input, Scope::Strict).expect("seal");
            let text = sealed["spec"]["encryptedData"][&key].as_str().expect("value").to_owned();
            prop_assert_eq!(text.len() % 4, 0, "padded");
            prop_assert_eq!(STANDARD.encode(STANDARD.decode(&text).expect("standard alphabet")), text.clone());
            prop_assert_eq!(unseal(private, b"n/s", &text), Some(value));
        }
    }
}
