//! The simulated cluster's CA, serving certificate and bearer token.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

pub struct Certs {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
    pub token: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Certs {
    /// Reuse the CA, serving certificate and token kept in `dir`, or make and keep new ones, so a
    /// restarted server still matches the kubeconfigs it handed out.
    pub fn load_or_generate(dir: &Path, extra_names: &[String]) -> Result<Self, BoxError> {
        let (ca, cert, key, token) = (
            dir.join("ca.pem"),
            dir.join("server.pem"),
            dir.join("server-key.pem"),
            dir.join("token"),
        );
        if !(ca.exists() && cert.exists() && key.exists() && token.exists()) {
            let (certs, cert_pem, key_pem) = Self::fresh(extra_names)?;
            std::fs::create_dir_all(dir)?;
            std::fs::write(&ca, &certs.ca_pem)?;
            std::fs::write(&cert, cert_pem)?;
            std::fs::write(&key, key_pem)?;
            std::fs::write(&token, &certs.token)?;
            return Ok(certs);
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(&cert)?.collect::<Result<_, _>>()?;
        let key = PrivateKeyDer::from_pem_file(&key)?;
        Ok(Self {
            ca_pem: std::fs::read_to_string(&ca)?,
            server_config: server_config(chain, key)?,
            token: std::fs::read_to_string(&token)?.trim().to_owned(),
        })
    }

    pub fn generate(extra_names: &[String]) -> Result<Self, BoxError> {
        Ok(Self::fresh(extra_names)?.0)
    }

    /// New certificates, plus the serving chain and key as PEM (for keeping them).
    fn fresh(extra_names: &[String]) -> Result<(Self, String, String), BoxError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kube-sim CA (simulated)");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "kubernetes".to_owned(),
            "kubernetes.default.svc".to_owned(),
        ];
        names.extend(extra_names.iter().cloned());
        let server_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver (simulated)");
        let server_cert = params.signed_by(&server_key, &issuer)?;

        let chain = vec![server_cert.der().clone(), ca_cert.der().clone()];
        let config = server_config(
            chain,
            PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )?;
        let token = format!("kube-sim-{:016x}", rand_u64());
        let chain_pem = format!("{}{}", server_cert.pem(), ca_cert.pem());
        Ok((
            Self {
                ca_pem: ca_cert.pem(),
                server_config: config,
                token,
            },
            chain_pem,
            server_key.serialize_pem(),
        ))
    }
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, BoxError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

pub fn kubeconfig(server: &str, ca_pem: &str, token: &str, name: &str) -> String {
    use base64::Engine;
    use std::fmt::Write;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    let mut out = String::new();
    let _ = write!(
        out,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\ncurrent-context: {name}\n"
    );
    out
}
