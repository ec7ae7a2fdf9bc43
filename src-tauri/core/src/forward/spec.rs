//! What to forward: `pod/NAME`, `svc/NAME`, `deploy/NAME` (optionally `NAMESPACE/KIND/NAME`)
//! followed by `[LOCAL:]REMOTE` ports, as kubectl writes them; several specs in one list.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Pod,
    Service,
    Deployment,
}

/// A remote port, by number or by the container/service port's name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum RemotePort {
    Number(u16),
    Name(String),
}

impl fmt::Display for RemotePort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemotePort::Number(n) => write!(f, "{n}"),
            RemotePort::Name(n) => f.write_str(n),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortMap {
    /// 0 = let the OS choose.
    pub local: u16,
    pub remote: RemotePort,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForwardSpec {
    pub namespace: String,
    pub kind: TargetKind,
    pub name: String,
    pub ports: Vec<PortMap>,
}

impl fmt::Display for ForwardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            TargetKind::Pod => "pod",
            TargetKind::Service => "svc",
            TargetKind::Deployment => "deploy",
        };
        write!(f, "{}/{kind}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// A word that should be a target is not one.
    #[error(
        "{0:?} is not a target: write pod/NAME, svc/NAME or deploy/NAME (optionally NAMESPACE/svc/NAME)"
    )]
    Target(String),
    /// A word that should be a port is not one.
    #[error("{0:?} is not a port: write REMOTE or LOCAL:REMOTE, e.g. 8080:80")]
    Port(String),
    /// A target without ports.
    #[error("{0} has no port to forward: add REMOTE or LOCAL:REMOTE after it")]
    NoPorts(String),
    /// A port before any target.
    #[error("port {0:?} comes before any target: start with pod/NAME, svc/NAME or deploy/NAME")]
    PortFirst(String),
}

fn parse_target(token: &str, default_ns: &str) -> Result<(String, TargetKind, String), SpecError> {
    let parts: Vec<&str> = token.split('/').collect();
    let (ns, kind, name) = match parts.as_slice() {
        [kind, name] => (default_ns, *kind, *name),
        [ns, kind, name] => (*ns, *kind, *name),
        _ => return Err(SpecError::Target(token.into())),
    };
    let kind = match kind {
        "pod" | "pods" | "po" => TargetKind::Pod,
        "svc" | "service" | "services" => TargetKind::Service,
        "deploy" | "deployment" | "deployments" => TargetKind::Deployment,
        _ => return Err(SpecError::Target(token.into())),
    };
    if name.is_empty() || ns.is_empty() {
        return Err(SpecError::Target(token.into()));
    }
    Ok((ns.into(), kind, name.into()))
}

fn parse_port(token: &str) -> Result<PortMap, SpecError> {
    let bad = || SpecError::Port(token.into());
    let (local, remote) = match token.split_once(':') {
        Some((l, r)) => (
            if l.is_empty() {
                0
            } else {
                l.parse().map_err(|_| bad())?
            },
            r,
        ),
        None => (0, token),
    };
    let remote = match remote.parse::<u16>() {
        Ok(0) => return Err(bad()),
        Ok(n) => RemotePort::Number(n),
        Err(_)
            if !remote.is_empty()
                && remote
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && remote.chars().any(|c| c.is_ascii_alphabetic()) =>
        {
            RemotePort::Name(remote.into())
        }
        Err(_) => return Err(bad()),
    };
    Ok(PortMap { local, remote })
}

/// Parse `TARGET PORT… [TARGET PORT…]…` with `default_ns` for targets without one.
pub fn parse(tokens: &[String], default_ns: &str) -> Result<Vec<ForwardSpec>, SpecError> {
    let mut specs: Vec<ForwardSpec> = Vec::new();
    for token in tokens {
        if token.contains('/') {
            if let Some(last) = specs.last().filter(|s| s.ports.is_empty()) {
                return Err(SpecError::NoPorts(last.to_string()));
            }
            let (namespace, kind, name) = parse_target(token, default_ns)?;
            specs.push(ForwardSpec {
                namespace,
                kind,
                name,
                ports: Vec::new(),
            });
        } else {
            let port = parse_port(token)?;
            specs
                .last_mut()
                .ok_or_else(|| SpecError::PortFirst(token.clone()))?
                .ports
                .push(port);
        }
    }
    if let Some(last) = specs.last().filter(|s| s.ports.is_empty()) {
        return Err(SpecError::NoPorts(last.to_string()));
    }
    Ok(specs)
}

/// What a person typed (`svc/backstage 7007`, `backstage`, `argocd` …): one preset word, or
/// kubectl-style targets and ports. The CLI and the GUI both read forwards this way.
pub fn from_words(words: &[String], default_ns: &str) -> Result<Vec<ForwardSpec>, SpecError> {
    match words {
        [one] => match preset(one) {
            Some(spec) => Ok(vec![spec]),
            None => parse(words, default_ns),
        },
        _ => parse(words, default_ns),
    }
}

/// Built-in forwards for the platform's own services.
pub fn preset(name: &str) -> Option<ForwardSpec> {
    let (namespace, svc, local, remote) = match name {
        "backstage" => ("backstage", "backstage", 7007, 7007),
        "argocd" => ("argocd", "argocd-server", 8080, 80),
        _ => return None,
    };
    Some(ForwardSpec {
        namespace: namespace.into(),
        kind: TargetKind::Service,
        name: svc.into(),
        ports: vec![PortMap {
            local,
            remote: RemotePort::Number(remote),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn several_specs_with_ports_and_namespaces() {
        let specs = parse(
            &toks("svc/backstage 7007:80 argocd/deploy/argocd-server 8080:http 9000 pod/p :81"),
            "backstage",
        )
        .expect("parse");
        assert_eq!(specs.len(), 3);
        assert_eq!(
            (
                specs[0].namespace.as_str(),
                specs[0].kind,
                specs[0].name.as_str()
            ),
            ("backstage", TargetKind::Service, "backstage")
        );
        assert_eq!(
            specs[0].ports,
            vec![PortMap {
                local: 7007,
                remote: RemotePort::Number(80)
            }]
        );
        assert_eq!(specs[1].namespace, "argocd");
        assert_eq!(specs[1].ports[0].remote, RemotePort::Name("http".into()));
        assert_eq!(
            specs[1].ports[1],
            PortMap {
                local: 0,
                remote: RemotePort::Number(9000)
            }
        );
        assert_eq!(specs[2].ports[0].local, 0);
    }

    #[test]
    fn bad_input_names_the_fix() {
        assert_eq!(
            parse(&toks("80"), "d"),
            Err(SpecError::PortFirst("80".into()))
        );
        assert!(matches!(
            parse(&toks("svc/a"), "d"),
            Err(SpecError::NoPorts(_))
        ));
        assert!(matches!(
            parse(&toks("svc/a svc/b 80"), "d"),
            Err(SpecError::NoPorts(_))
        ));
        assert!(matches!(
            parse(&toks("cm/a 80"), "d"),
            Err(SpecError::Target(_))
        ));
        assert!(matches!(
            parse(&toks("svc/a 99999"), "d"),
            Err(SpecError::Port(_))
        ));
        assert!(matches!(
            parse(&toks("svc/a x:80"), "d"),
            Err(SpecError::Port(_))
        ));
        assert!(
            SpecError::Target("x".into())
                .to_string()
                .contains("svc/NAME")
        );
        assert_eq!(
            preset("argocd").map(|p| p.name),
            Some("argocd-server".into())
        );
        assert!(preset("nope").is_none());
    }
}
