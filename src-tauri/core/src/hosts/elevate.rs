//! Writing the hosts file with the OS's elevation prompt: only the write runs elevated, as
//! `slipway hosts write-file` with the new content in a private temp file (argv only, no shell
//! string on Linux; macOS's and Windows' prompts take a command string, so every argument is
//! quoted for it).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{HostsError, Plan};

/// The elevated helper's command line: `<slipway> hosts write-file --from F --hosts-file P --expect H`.
pub fn helper_args(exe: &Path, from: &Path, plan: &Plan) -> Vec<OsString> {
    vec![
        exe.into(),
        "hosts".into(),
        "write-file".into(),
        "--from".into(),
        from.into(),
        "--hosts-file".into(),
        plan.path.clone().into(),
        "--expect".into(),
        plan.expected().into(),
    ]
}

/// How to raise privileges here, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elevator {
    /// polkit's graphical prompt (a desktop session).
    Pkexec(PathBuf),
    /// sudo on an interactive terminal.
    Sudo(PathBuf),
    /// macOS's administrator prompt through osascript.
    Osascript,
    /// Windows' UAC prompt through PowerShell's `Start-Process -Verb RunAs`.
    Uac,
}

/// Pick the platform's standard elevation for this session.
pub fn choose(interactive_terminal: bool) -> Option<Elevator> {
    if cfg!(target_os = "macos") {
        return Some(Elevator::Osascript);
    }
    if cfg!(windows) {
        return Some(Elevator::Uac);
    }
    if cfg!(target_os = "linux") {
        let desktop =
            std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
        if desktop && let Ok(p) = which::which("pkexec") {
            return Some(Elevator::Pkexec(p));
        }
        if interactive_terminal && let Ok(p) = which::which("sudo") {
            return Some(Elevator::Sudo(p));
        }
    }
    None
}

/// The full argv to run (the elevator, then the helper command).
pub fn command(elevator: &Elevator, helper: &[OsString]) -> Vec<OsString> {
    match elevator {
        Elevator::Pkexec(p) | Elevator::Sudo(p) => {
            let mut argv = vec![p.clone().into_os_string()];
            argv.extend(helper.iter().cloned());
            argv
        }
        Elevator::Osascript => {
            let quoted: Vec<String> = helper
                .iter()
                .map(|a| shell_quote(&a.to_string_lossy()))
                .collect();
            let script = format!(
                "do shell script \"{}\" with administrator privileges",
                quoted.join(" ").replace('\\', "\\\\").replace('"', "\\\"")
            );
            vec!["osascript".into(), "-e".into(), script.into()]
        }
        Elevator::Uac => {
            // PowerShell single-quoted strings: a quote is doubled; each argument is one array item.
            let ps = |a: &OsString| format!("'{}'", a.to_string_lossy().replace('\'', "''"));
            let (exe, args) = helper
                .split_first()
                .map_or((String::new(), Vec::new()), |(e, a)| {
                    (ps(e), a.iter().map(ps).collect())
                });
            let command = format!(
                "Start-Process -Wait -Verb RunAs -FilePath {exe} -ArgumentList @({})",
                args.join(",")
            );
            vec![
                "powershell".into(),
                "-NoProfile".into(),
                "-NonInteractive".into(),
                "-Command".into(),
                command.into(),
            ]
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Write `plan` through `elevator`: the new content goes to a private temp file the helper reads.
pub fn write_elevated(plan: &Plan, elevator: &Elevator, exe: &Path) -> Result<(), HostsError> {
    let mut tmp = tempfile::Builder::new()
        .prefix("slipway-hosts")
        .tempfile()
        .map_err(|source| HostsError::Write {
            path: plan.path.clone(),
            source,
        })?;
    tmp.write_all(plan.new_text().as_bytes())
        .map_err(|source| HostsError::Write {
            path: plan.path.clone(),
            source,
        })?;
    let argv = command(elevator, &helper_args(exe, tmp.path(), plan));
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .map_err(|source| HostsError::ElevationUnavailable {
            program: argv[0].to_string_lossy().into_owned(),
            path: plan.path.clone(),
            block: plan.block(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(HostsError::ElevationFailed {
            status: status.to_string(),
            path: plan.path.clone(),
            block: plan.block(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_runs_by_argv_and_macos_quotes_every_argument() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("ho'sts");
        let plan = super::super::plan(&path, super::super::entries_for(&["a.local".into()], false))
            .expect("plan");
        let helper = helper_args(
            Path::new("/opt/slipway"),
            Path::new("/tmp/new content"),
            &plan,
        );
        let sudo = command(&Elevator::Sudo("/usr/bin/sudo".into()), &helper);
        assert_eq!(sudo[0], "/usr/bin/sudo");
        assert_eq!(sudo[1..], helper[..], "sudo gets the argv unchanged");
        assert!(
            sudo.iter().any(|a| a == "/tmp/new content"),
            "a path with a space stays one argument"
        );
        let mac = command(&Elevator::Osascript, &helper);
        let script = mac[2].to_string_lossy();
        assert!(
            script.starts_with("do shell script \"'/opt/slipway' 'hosts' 'write-file'"),
            "{script}"
        );
        assert!(
            script.contains("ho'\\\\''sts"),
            "single quote escaped: {script}"
        );
        assert!(script.ends_with("with administrator privileges"));
        let win = command(&Elevator::Uac, &helper);
        let ps = win[4].to_string_lossy();
        assert!(ps.starts_with("Start-Process -Wait -Verb RunAs -FilePath '/opt/slipway' -ArgumentList @('hosts','write-file'"), "{ps}");
        assert!(ps.contains("ho''sts"), "PowerShell quote doubled: {ps}");
    }
}
