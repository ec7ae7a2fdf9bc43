//! What the Docker host is like, as far as the node containers and kubeadm must adapt to it:
//! kind's rules (v0.32.0, `providers/docker/util.go`, `provider.go`, `common/proxy.go`),
//! read from `docker info` and this process's environment.

use bollard::models::SystemInfo;

/// The host's proxy settings (upper case wins over lower case, as kind reads them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxy {
    pub http: Option<String>,
    pub https: Option<String>,
    pub no_proxy: Option<String>,
}

impl Proxy {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let read = |upper: &str| env(upper).or_else(|| env(&upper.to_lowercase()));
        Self {
            http: read("HTTP_PROXY"),
            https: read("HTTPS_PROXY"),
            no_proxy: read("NO_PROXY"),
        }
    }

    pub fn is_set(&self) -> bool {
        self.http.is_some() || self.https.is_some() || self.no_proxy.is_some()
    }
}

/// The host facts node containers and kubeadm configs are made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `/lib/modules` exists to be bound (minimal VMs and sandboxes lack it).
    pub lib_modules: bool,
    /// Rootless Docker (`docker info` security option `name=rootless`): the nodes run in a user
    /// namespace, so kubelet and friends get `KubeletInUserNamespace` and `/dev/fuse` is added.
    pub rootless: bool,
    /// The daemon remaps user namespaces (`name=userns`): nodes need `--userns=host`, which
    /// privileged containers require there.
    pub userns_remap: bool,
    /// btrfs, zfs or devicemapper storage (or an xfs/btrfs/zfs backing filesystem): kubelet
    /// reads the root filesystem's device through `/dev/mapper` ("failed to get rootfs info").
    pub dev_mapper: bool,
    pub proxy: Proxy,
    /// `KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER`, passed through to the node's entrypoint.
    pub snapshotter: Option<String>,
}

impl HostFacts {
    /// From `docker info` and this process (its environment and `/lib/modules`).
    pub fn read(info: &SystemInfo) -> Self {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            lib_modules: !cfg!(target_os = "linux")
                || std::path::Path::new("/lib/modules").exists(),
            proxy: Proxy::from_env(&env),
            snapshotter: env("KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER"),
            ..Self::from_info(info)
        }
    }

    /// What `docker info` alone says.
    pub fn from_info(info: &SystemInfo) -> Self {
        let rootless = has_security_option(info, "name=rootless");
        let lower = |s: Option<&str>| s.unwrap_or_default().to_ascii_lowercase();
        let driver = lower(info.driver.as_deref());
        let backing = lower(
            info.driver_status
                .iter()
                .flatten()
                .find(|pair| pair.first().map(String::as_str) == Some("Backing Filesystem"))
                .and_then(|pair| pair.get(1))
                .map(String::as_str),
        );
        // Rootless Docker cannot make device nodes, so kind never binds /dev/mapper there.
        let dev_mapper = !rootless
            && (matches!(driver.as_str(), "btrfs" | "zfs" | "devicemapper")
                || matches!(backing.as_str(), "btrfs" | "zfs" | "xfs"));
        Self {
            lib_modules: true,
            rootless,
            userns_remap: has_security_option(info, "name=userns"),
            dev_mapper,
            proxy: Proxy::default(),
            snapshotter: None,
        }
    }
}

/// `docker info`'s SecurityOptions are comma-separated fields (`name=seccomp,profile=default`).
pub fn has_security_option(info: &SystemInfo, field: &str) -> bool {
    info.security_options
        .iter()
        .flatten()
        .any(|o| o.split(',').any(|f| f == field))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(driver: &str, backing: Option<&str>, options: &[&str]) -> SystemInfo {
        SystemInfo {
            driver: Some(driver.into()),
            driver_status: backing.map(|b| vec![vec!["Backing Filesystem".into(), b.into()]]),
            security_options: Some(options.iter().map(|o| (*o).to_owned()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn docker_info_shapes_become_kind_s_choices() {
        let plain = HostFacts::from_info(&info(
            "overlay2",
            Some("extfs"),
            &[
                "name=apparmor",
                "name=seccomp,profile=builtin",
                "name=cgroupns",
            ],
        ));
        assert!(
            !plain.rootless && !plain.userns_remap && !plain.dev_mapper,
            "{plain:?}"
        );
        for (driver, backing) in [
            ("btrfs", None),
            ("zfs", None),
            ("devicemapper", None),
            ("overlay2", Some("xfs")),
            ("overlay2", Some("btrfs")),
            ("overlay2", Some("zfs")),
        ] {
            assert!(
                HostFacts::from_info(&info(driver, backing, &[])).dev_mapper,
                "{driver} on {backing:?}"
            );
        }
        assert!(
            !HostFacts::from_info(&info("xfs", None, &[])).dev_mapper,
            "xfs counts as a backing filesystem only"
        );
        let rootless = HostFacts::from_info(&info(
            "btrfs",
            None,
            &["name=seccomp,profile=default", "name=rootless"],
        ));
        assert!(rootless.rootless && !rootless.dev_mapper, "{rootless:?}");
        let remapped = HostFacts::from_info(&info("overlay2", None, &["name=userns"]));
        assert!(remapped.userns_remap);
        assert!(!HostFacts::from_info(&info("overlay2", None, &["name=usernsx"])).userns_remap);
    }

    #[test]
    fn proxies_upper_case_first_and_no_proxy_alone_counts() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let p = Proxy::from_env(&env(&[
            ("http_proxy", "http://lower:3128"),
            ("HTTP_PROXY", "http://upper:3128"),
            ("https_proxy", "http://secure:3128"),
        ]));
        assert_eq!(p.http.as_deref(), Some("http://upper:3128"));
        assert_eq!(p.https.as_deref(), Some("http://secure:3128"));
        assert!(Proxy::from_env(&env(&[("no_proxy", "corp.example")])).is_set());
        assert!(!Proxy::from_env(&env(&[])).is_set());
    }
}
