//! Checks run before anything is created. Hard failures stop `up` with the fix; soft ones are
//! warnings (the cluster may still work, but users of kind hit these most often).

use std::net::TcpListener;

use bollard::models::SystemInfo;

use super::ClusterError;

/// What the full platform (Argo CD, Traefik, Sealed Secrets, Backstage) needs to run well.
pub const RECOMMENDED_MEMORY_BYTES: i64 = 6 * 1024 * 1024 * 1024;
pub const RECOMMENDED_CPUS: i64 = 2;
pub const RECOMMENDED_FREE_DISK_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// kind's recommendation (known-issues: "Pod errors due to too many open files").
pub const INOTIFY_WATCHES: u64 = 524_288;
pub const INOTIFY_INSTANCES: u64 = 512;

/// Hard failures from the Docker host: rootless Docker without cgroup v2 or without delegation.
pub fn check_rootless(info: &SystemInfo) -> Result<(), ClusterError> {
    if !super::host::has_security_option(info, "name=rootless") {
        return Ok(());
    }
    if info
        .cgroup_version
        .as_ref()
        .map(|v| v.to_string())
        .as_deref()
        != Some("2")
    {
        return Err(ClusterError::RootlessCgroupV1);
    }
    // With the `none` cgroup driver the limit flags mean nothing (moby#42151): kind treats
    // them as missing.
    let driver_none = info
        .cgroup_driver
        .as_ref()
        .map(|d| d.to_string())
        .as_deref()
        == Some("none");
    let delegated = !driver_none
        && info.memory_limit.unwrap_or(false)
        && info.pids_limit.unwrap_or(false)
        && info.cpu_shares.unwrap_or(false);
    if !delegated {
        return Err(ClusterError::RootlessNotDelegated);
    }
    Ok(())
}

/// What Kubernetes itself takes on the two nodes before any platform pod (API server, etcd,
/// controller manager, scheduler, two kubelets, kindnet, CoreDNS, kube-proxy, local-path).
pub const KUBERNETES_MEMORY_BYTES: u64 = 1 << 30;

/// The memory Docker must have for every pod to be scheduled: what the platform's pods request
/// together plus what Kubernetes itself takes.
pub fn needed_memory(platform_requests: u64) -> u64 {
    platform_requests + KUBERNETES_MEMORY_BYTES
}

/// Soft warnings about the Docker host's size and cgroup version. `platform_requests`: the memory
/// the platform's pods request together ([`crate::bundle::platform_memory_requests`]).
pub fn resource_warnings(info: &SystemInfo, platform_requests: u64) -> Vec<String> {
    let gib = |b: f64| b / f64::from(1u32 << 30);
    let mut warnings = Vec::new();
    let needed = needed_memory(platform_requests);
    let mem = info.mem_total.filter(|m| *m > 0).map(|m| m as u64);
    if let Some(mem) = mem.filter(|m| *m < needed) {
        warnings.push(format!(
            "Docker has {:.1} GiB of memory, less than the platform's pods request ({:.1} GiB) plus what Kubernetes \
             itself takes (about {:.0} GiB): some pods would never be scheduled. Give Docker at least {} GiB \
             (Docker Desktop: Settings → Resources → Memory; Colima: `colima start --memory {}`)",
            gib(mem as f64),
            gib(platform_requests as f64),
            gib(KUBERNETES_MEMORY_BYTES as f64),
            RECOMMENDED_MEMORY_BYTES >> 30,
            RECOMMENDED_MEMORY_BYTES >> 30
        ));
    } else if let Some(mem) = mem.filter(|m| *m < RECOMMENDED_MEMORY_BYTES as u64) {
        warnings.push(format!(
            "Docker has {:.1} GiB of memory; the full platform with a few services wants at least {} GiB. Give Docker more memory \
             (Docker Desktop: Settings → Resources) or expect evictions",
            gib(mem as f64),
            RECOMMENDED_MEMORY_BYTES >> 30
        ));
    }
    if let Some(cpus) = info.ncpu.filter(|c| *c > 0 && *c < RECOMMENDED_CPUS) {
        warnings.push(format!("Docker has {cpus} CPU; the platform wants at least {RECOMMENDED_CPUS}. Expect a slow start"));
    }
    if info
        .cgroup_version
        .as_ref()
        .map(|v| v.to_string())
        .as_deref()
        == Some("1")
    {
        warnings.push("the Docker host uses cgroup v1, which Kubernetes has deprecated; cgroup v2 is recommended".into());
    }
    warnings
}

/// Linux inotify limits below kind's recommendation, with the lines that fix them.
pub fn inotify_warning(watches: u64, instances: u64) -> Option<String> {
    (watches < INOTIFY_WATCHES || instances < INOTIFY_INSTANCES).then(|| {
        format!(
            "inotify limits are low (max_user_watches={watches}, max_user_instances={instances}); pods may fail with \
             \"too many open files\". Raise them:\n  sudo sysctl fs.inotify.max_user_watches={INOTIFY_WATCHES}\n  \
             sudo sysctl fs.inotify.max_user_instances={INOTIFY_INSTANCES}\n(add both to /etc/sysctl.conf to keep them)"
        )
    })
}

/// Read this host's inotify limits (only meaningful when Docker runs on this Linux host).
pub fn host_inotify_warning() -> Option<String> {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    };
    inotify_warning(read("max_user_watches")?, read("max_user_instances")?)
}

/// Free space under Docker's root dir, when that directory is on this host.
pub fn disk_warning(docker_root: &str) -> Option<String> {
    let stat = rustix::fs::statvfs(docker_root).ok()?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    (free < RECOMMENDED_FREE_DISK_BYTES).then(|| {
        format!(
            "only {:.1} GiB free under {docker_root}; node images and platform images need about {} GiB. \
             Free space (`docker system prune`) before starting",
            free as f64 / (1u64 << 30) as f64,
            RECOMMENDED_FREE_DISK_BYTES >> 30
        )
    })
}

/// Can `address:port` be bound right now? The error names the port and the fix.
pub fn check_port(address: &str, port: u16, what: &str) -> Result<(), ClusterError> {
    let addr = if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    };
    match TcpListener::bind(&addr) {
        Ok(_) => Ok(()),
        Err(e) => {
            let flag = match what {
                "HTTP ingress" => "--http-port",
                "HTTPS ingress" => "--https-port",
                "Kubernetes API" => "--api-port",
                _ => "a different port",
            };
            Err(ClusterError::PortUnavailable {
                port,
                address: address.to_owned(),
                what: what.to_owned(),
                reason: e.to_string(),
                flag,
            })
        }
    }
}

/// A free port on `address`, picked once (kind's apiServerPort 0) and then kept in the node spec.
pub fn free_port(address: &str) -> Result<u16, ClusterError> {
    let unavailable = |e: std::io::Error| ClusterError::PortUnavailable {
        port: 0,
        address: address.to_owned(),
        what: "a free port for the Kubernetes API".into(),
        reason: e.to_string(),
        flag: "--api-port",
    };
    let listener = TcpListener::bind((address, 0)).map_err(unavailable)?;
    listener.local_addr().map(|a| a.port()).map_err(unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::SystemInfoCgroupVersionEnum;

    #[test]
    fn low_inotify_limits_warn_with_the_sysctl_lines() {
        let w = inotify_warning(8192, 128).expect("warn");
        assert!(w.contains("sysctl fs.inotify.max_user_watches=524288"));
        assert!(w.contains("sysctl fs.inotify.max_user_instances=512"));
        assert!(inotify_warning(524_288, 512).is_none());
    }

    #[test]
    fn small_docker_hosts_warn() {
        let info = SystemInfo {
            mem_total: Some(2 << 30),
            ncpu: Some(1),
            ..Default::default()
        };
        let requests = crate::bundle::platform_memory_requests().expect("requests");
        let w = resource_warnings(&info, requests);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with(
                "Docker has 2.0 GiB of memory, less than the platform's pods request (1.5 GiB)"
            ),
            "{w:?}"
        );
        // Enough for the requests, short of the recommendation: the softer warning.
        let medium = SystemInfo {
            mem_total: Some(4 << 30),
            ncpu: Some(4),
            ..Default::default()
        };
        let w = resource_warnings(&medium, requests);
        assert!(
            w.len() == 1 && w[0].contains("wants at least 6 GiB"),
            "{w:?}"
        );
        let big = SystemInfo {
            mem_total: Some(16 << 30),
            ncpu: Some(8),
            ..Default::default()
        };
        assert!(resource_warnings(&big, requests).is_empty());
    }

    #[test]
    fn rootless_needs_cgroup_v2_and_delegation() {
        let rootless = |v2: bool, delegated: bool| SystemInfo {
            security_options: Some(vec![
                "name=seccomp,profile=default".into(),
                "name=rootless".into(),
            ]),
            cgroup_version: Some(if v2 {
                SystemInfoCgroupVersionEnum::_2
            } else {
                SystemInfoCgroupVersionEnum::_1
            }),
            memory_limit: Some(delegated),
            pids_limit: Some(delegated),
            cpu_shares: Some(delegated),
            ..Default::default()
        };
        let err = check_rootless(&rootless(false, true)).expect_err("v1");
        assert!(err.to_string().contains("cgroup v2"), "{err}");
        let err = check_rootless(&rootless(true, false)).expect_err("no delegation");
        assert!(err.to_string().contains("Delegate=yes"), "{err}");
        check_rootless(&rootless(true, true)).expect("ok");
        check_rootless(&SystemInfo::default()).expect("rootful is fine");
    }

    #[test]
    fn a_taken_port_is_named_with_its_flag() {
        let held = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = held.local_addr().expect("addr").port();
        let err = check_port("127.0.0.1", port, "HTTP ingress").expect_err("taken");
        let msg = err.to_string();
        assert!(
            msg.contains(&port.to_string()) && msg.contains("--http-port"),
            "{msg}"
        );
        drop(held);
        check_port("127.0.0.1", port, "HTTP ingress").expect("free again");
        assert_ne!(free_port("127.0.0.1").expect("free"), 0);
    }
}
