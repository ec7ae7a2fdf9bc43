//! The machine's local CA: made once, kept whole (certificate and key) in one keyring entry, so
//! the key never touches the disk and every cluster Slipway makes on this machine is signed by
//! the CA browsers already trust.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose,
    NameConstraints,
};

use super::TrustError;
use crate::secrets::Keyring;

/// The keyring account of the local CA (certificate PEM, then its PKCS#8 key PEM).
pub const ACCOUNT: &str = "local-ca";

/// How long the CA is valid: long, as mkcert's is, since re-trusting a new CA in every store is
/// the cost a developer notices; cert-manager's leaf certificates are short-lived instead.
const VALID_YEARS: i32 = 10;

/// The only names the CA may certify (X.509 name constraints, which browsers enforce): the
/// special-use and private domains a laptop's platform uses, plus the domain it was made for.
/// A CA every browser trusts must not be able to vouch for github.com, whatever a cluster asks
/// of its issuer.
pub const PERMITTED: &[&str] = &["local", "localhost", "test", "internal", "home.arpa", "lan"];

/// The CA with its key: only the keyring, the cluster's CA Secret and an explicit export see it.
#[derive(Clone)]
pub struct LocalCa {
    cert: CaCert,
    key_pem: String,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("sha256", &self.cert.sha256())
            .finish_non_exhaustive()
    }
}

/// The CA's certificate alone: what trust stores hold.
#[derive(Debug, Clone)]
pub struct CaCert {
    pem: String,
    der: Vec<u8>,
}

impl LocalCa {
    /// The machine's CA when one is kept.
    pub fn load(keyring: &Keyring) -> Result<Option<Self>, TrustError> {
        keyring
            .get(ACCOUNT)?
            .map(|kept| Self::from_pem(&kept))
            .transpose()
    }

    /// The machine's CA, made and kept first if there is none (for [`PERMITTED`] and
    /// `domain`); the flag says it was made now.
    pub fn load_or_create(
        keyring: &Keyring,
        owner: &str,
        domain: &str,
    ) -> Result<(Self, bool), TrustError> {
        if let Some(ca) = Self::load(keyring)? {
            return Ok((ca, false));
        }
        let ca = Self::generate(owner, domain)?;
        keyring.set(ACCOUNT, &format!("{}{}", ca.cert.pem, ca.key_pem))?;
        Ok((ca, true))
    }

    /// Forget the CA (`slipway trust remove-ca`); `false` when there was none.
    pub fn forget(keyring: &Keyring) -> Result<bool, TrustError> {
        Ok(keyring.delete(ACCOUNT)?)
    }

    /// A new CA named for its owner (`user@host`), so a trust store listing says whose it is,
    /// certifying names under [`PERMITTED`] and `domain` only.
    pub fn generate(owner: &str, domain: &str) -> Result<Self, TrustError> {
        let failed = |e: rcgen::Error| TrustError::Generate(e.to_string());
        let key = KeyPair::generate().map_err(failed)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Slipway local development CA");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("Slipway local CA {owner}"));
        // Signs leaf certificates only (cert-manager's CA issuer), never another CA.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let domain = domain.trim_start_matches('.').to_ascii_lowercase();
        let mut permitted: Vec<String> = PERMITTED.iter().map(|d| (*d).to_owned()).collect();
        if !domain.is_empty() && !within(&domain, PERMITTED.iter().copied()) {
            permitted.push(domain);
        }
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: permitted.into_iter().map(GeneralSubtree::DnsName).collect(),
            excluded_subtrees: Vec::new(),
        });
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now
            .replace_year(now.year() + VALID_YEARS)
            .unwrap_or(now + time::Duration::days(3650));
        let cert = params.self_signed(&key).map_err(failed)?;
        Ok(Self {
            cert: CaCert {
                pem: cert.pem(),
                der: cert.der().to_vec(),
            },
            key_pem: key.serialize_pem(),
        })
    }

    /// Read a kept CA back: its certificate must be a CA and the key must be its own.
    pub fn from_pem(kept: &str) -> Result<Self, TrustError> {
        let bad = |why: &str| TrustError::Certificate(why.to_owned());
        let blocks = pem_blocks(kept);
        let cert = blocks
            .iter()
            .find(|(tag, _)| tag == "CERTIFICATE")
            .map(|(_, der)| CaCert::from_der(der.clone()))
            .ok_or_else(|| bad("no certificate"))??;
        let key_pem = blocks
            .iter()
            .find(|(tag, _)| tag.ends_with("PRIVATE KEY"))
            .map(|(tag, der)| pem_of(tag, der))
            .ok_or_else(|| bad("no private key"))?;
        let key =
            KeyPair::from_pem(&key_pem).map_err(|e| TrustError::Certificate(e.to_string()))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert.der)
            .map_err(|e| TrustError::Certificate(e.to_string()))?;
        if key.public_key_raw() != parsed.public_key().subject_public_key.data.as_ref() {
            return Err(bad("the key is not the certificate's"));
        }
        Ok(Self { cert, key_pem })
    }

    pub fn cert(&self) -> &CaCert {
        &self.cert
    }

    /// The certificate, PEM: what a tool taking a CA file wants (`slipway trust ca`).
    pub fn cert_pem(&self) -> &str {
        &self.cert.pem
    }

    /// The private key, PEM: only for the cluster's CA Secret and an explicit export.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

impl CaCert {
    /// The first PEM certificate in `pem`, which must be a CA's.
    pub fn from_pem(pem: &str) -> Result<Self, TrustError> {
        let (_, der) = pem_blocks(pem)
            .into_iter()
            .find(|(tag, _)| tag == "CERTIFICATE")
            .ok_or_else(|| TrustError::Certificate("no PEM certificate".into()))?;
        Self::from_der(der)
    }

    /// A DER certificate, which must be a CA's.
    pub fn from_der(der: Vec<u8>) -> Result<Self, TrustError> {
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| TrustError::Certificate(e.to_string()))?;
        if !cert.is_ca() {
            return Err(TrustError::Certificate(
                "the certificate is not a CA".into(),
            ));
        }
        Ok(Self {
            pem: pem_of("CERTIFICATE", &der),
            der,
        })
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the certificate, upper-case hex: how Slipway names and finds its CA in stores.
    pub fn sha256(&self) -> String {
        hex(ring::digest::digest(&ring::digest::SHA256, &self.der).as_ref())
    }

    /// SHA-1 of the certificate ("thumbprint"): how macOS's `security` and Windows' `certutil`
    /// address a certificate.
    pub fn sha1(&self) -> String {
        hex(&sha1_smol::Sha1::from(&self.der).digest().bytes())
    }

    /// The subject's common name.
    pub fn name(&self) -> String {
        x509_parser::parse_x509_certificate(&self.der)
            .ok()
            .and_then(|(_, c)| {
                c.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok().map(str::to_owned))
            })
            .unwrap_or_default()
    }

    /// The DNS subtrees the CA may certify (empty: unconstrained).
    pub fn permitted(&self) -> Vec<String> {
        use x509_parser::extensions::GeneralName;
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(&self.der) else {
            return Vec::new();
        };
        let Ok(Some(constraints)) = cert.name_constraints() else {
            return Vec::new();
        };
        constraints
            .value
            .permitted_subtrees
            .iter()
            .flatten()
            .filter_map(|s| match s.base {
                GeneralName::DNSName(d) => Some(d.to_owned()),
                _ => None,
            })
            .collect()
    }

    /// Whether certificates for `<name>.<domain>` validate under this CA's name constraints.
    pub fn covers(&self, domain: &str) -> bool {
        let permitted = self.permitted();
        permitted.is_empty()
            || within(
                &domain.trim_start_matches('.').to_ascii_lowercase(),
                permitted.iter().map(String::as_str),
            )
    }

    /// When the CA stops being valid (RFC 2822).
    pub fn not_after(&self) -> String {
        x509_parser::parse_x509_certificate(&self.der)
            .ok()
            .and_then(|(_, c)| c.validity().not_after.to_rfc2822().ok())
            .unwrap_or_default()
    }
}

/// `user@host`, as mkcert names its CA: a store listing shows whose CA it is.
pub fn owner() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "user".into());
    #[cfg(unix)]
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    #[cfg(not(unix))]
    let host = std::env::var("COMPUTERNAME").unwrap_or_else(|_| "host".into());
    format!("{user}@{host}")
}

/// The PEM blocks of `text` (certutil's output, a kept entry), `(tag, DER)`; none when it is not PEM.
pub(super) fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    pem::parse_many(text)
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.tag().to_owned(), p.into_contents()))
        .collect()
}

/// One PEM block, armoured with LF line ends (what trust stores and files take).
fn pem_of(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// `domain` is one of `subtrees` or under one (RFC 5280's dNSName constraint).
fn within<'a>(domain: &str, mut subtrees: impl Iterator<Item = &'a str>) -> bool {
    subtrees.any(|t| {
        let t = t.trim_start_matches('.');
        domain == t || domain.ends_with(&format!(".{t}"))
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ca_reads_back_whole_and_a_foreign_key_is_refused() {
        let ca = LocalCa::generate("dev@laptop", "local").expect("generate");
        assert_eq!(ca.cert().name(), "Slipway local CA dev@laptop");
        assert_eq!(ca.cert().sha256().len(), 64);
        assert_eq!(ca.cert().sha1().len(), 40);
        let kept = format!("{}{}", ca.cert_pem(), ca.key_pem());
        let back = LocalCa::from_pem(&kept).expect("reads back");
        assert_eq!(back.cert().sha256(), ca.cert().sha256());
        assert_eq!(back.key_pem(), ca.key_pem());

        let other = LocalCa::generate("dev@laptop", "local").expect("generate");
        let mixed = format!("{}{}", ca.cert_pem(), other.key_pem());
        assert!(matches!(
            LocalCa::from_pem(&mixed),
            Err(TrustError::Certificate(why)) if why.contains("not the certificate's")
        ));
        assert!(LocalCa::from_pem(ca.cert_pem()).is_err(), "no key");
        assert!(
            CaCert::from_pem(ca.cert_pem()).is_ok(),
            "the certificate alone"
        );
    }

    #[test]
    fn the_ca_signs_leaves_only_and_is_valid_for_years() {
        let ca = LocalCa::generate("dev@laptop", "local").expect("generate");
        let (_, cert) = x509_parser::parse_x509_certificate(ca.cert().der()).expect("parse");
        let bc = cert
            .basic_constraints()
            .expect("ext")
            .expect("basic constraints");
        assert!(bc.value.ca && bc.value.path_len_constraint == Some(0));
        let years = (cert.validity().not_after.timestamp()
            - cert.validity().not_before.timestamp())
            / (365 * 24 * 3600);
        assert!(years >= 9, "{years}");
    }

    #[test]
    fn the_ca_certifies_local_names_and_its_domain_only() {
        let ca = LocalCa::generate("dev@laptop", "dev.example.com").expect("generate");
        assert!(ca.cert().covers("local") && ca.cert().covers("dev.example.com"));
        assert!(ca.cert().covers("team.test"));
        assert!(!ca.cert().covers("github.com") && !ca.cert().covers("example.com"));
        let plain = LocalCa::generate("dev@laptop", "local").expect("generate");
        assert_eq!(
            plain.cert().permitted().len(),
            PERMITTED.len(),
            "local is permitted already"
        );
    }
}
