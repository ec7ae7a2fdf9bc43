//! Writing the hosts file with the OS's elevation prompt: only the write runs elevated, as
//! `slipway hosts write-file` with the new content in a private temp file (argv only, no shell
//! string on Linux; macOS's and Windows' prompts take a command string, so every argument is
//! quoted for it). The prompt's programs are called by absolute path, the helper's exit code is
//! what decides, and the file is read back: a write that did not happen is never reported done.

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
            vec![OSASCRIPT.into(), "-e".into(), script.into()]
        }
        Elevator::Uac => {
            // Start-Process joins -ArgumentList with spaces as it is, so each argument is quoted
            // for Windows' command-line parsing first, then put in a PowerShell single-quoted
            // string (a quote doubled). -PassThru and `exit` carry the helper's exit code out.
            let ps = |a: &str| format!("'{}'", a.replace('\'', "''"));
            let (exe, args) = helper
                .split_first()
                .map_or((String::new(), Vec::new()), |(e, a)| {
                    (
                        ps(&e.to_string_lossy()),
                        a.iter()
                            .map(|a| ps(&windows_quote(&a.to_string_lossy())))
                            .collect(),
                    )
                });
            let command = format!(
                "$p = Start-Process -Wait -PassThru -Verb RunAs -FilePath {exe} -ArgumentList @({}); exit $p.ExitCode",
                args.join(",")
            );
            vec![
                powershell().into(),
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

/// macOS's osascript, by absolute path (never whatever `osascript` is first on PATH).
const OSASCRIPT: &str = "/usr/bin/osascript";

/// Windows PowerShell, by absolute path under the system root.
fn powershell() -> PathBuf {
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
    PathBuf::from(root)
        .join("System32")
        .join("WindowsPowerShell")
        .join("v1.0")
        .join("powershell.exe")
}

/// One argument quoted as Windows' `CommandLineToArgvW` reads it back: in double quotes when it
/// has a space, tab or quote (or is empty), backslashes doubled before a quote and at the end.
fn windows_quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_owned();
    }
    let mut out = String::from('"');
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            c => {
                out.extend(std::iter::repeat_n('\\', backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    out.extend(std::iter::repeat_n('\\', backslashes * 2));
    out.push('"');
    out
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
    tmp.write_all(plan.new_text())
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
    let failed = |status: String| HostsError::ElevationFailed {
        status,
        path: plan.path.clone(),
        block: plan.block(),
    };
    if !status.success() {
        return Err(failed(status.to_string()));
    }
    // The prompt said yes; the file says whether the write happened.
    match std::fs::read(&plan.path) {
        Ok(now) if now == plan.new_text() => Ok(()),
        Ok(_) => Err(failed(
            "the helper exited 0 but the file does not hold the new block".into(),
        )),
        Err(e) => Err(failed(format!("cannot read the file back: {e}"))),
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
        assert_eq!(mac[0], "/usr/bin/osascript", "by absolute path");
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
        assert!(
            win[0].to_string_lossy().ends_with("powershell.exe")
                && win[0].to_string_lossy().contains("WindowsPowerShell"),
            "{:?}",
            win[0]
        );
        let ps = win[4].to_string_lossy();
        assert!(ps.starts_with("$p = Start-Process -Wait -PassThru -Verb RunAs -FilePath '/opt/slipway' -ArgumentList @('hosts','write-file'"), "{ps}");
        assert!(
            ps.ends_with("; exit $p.ExitCode"),
            "the helper's exit code is powershell's: {ps}"
        );
        assert!(
            ps.contains("'\"/tmp/new content\"'"),
            "a path with a space is one Windows argument: {ps}"
        );
        assert!(ps.contains("ho''sts"), "PowerShell quote doubled: {ps}");
    }

    #[test]
    fn windows_arguments_quote_as_command_line_to_argv_reads_them() {
        for (arg, quoted) in [
            ("plain", "plain"),
            ("", "\"\""),
            ("C:\\Users\\A B\\hosts", "\"C:\\Users\\A B\\hosts\""),
            ("a\"b", "\"a\\\"b\""),
            ("end\\ ", "\"end\\ \""),
            ("trail\\ x\\", "\"trail\\ x\\\\\""),
        ] {
            assert_eq!(windows_quote(arg), quoted, "{arg:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_elevated_write_that_did_not_happen_is_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("hosts");
        std::fs::write(&path, "127.0.0.1 localhost\n").expect("seed");
        let plan = super::super::plan(&path, super::super::entries_for(&["a.local".into()], false))
            .expect("plan");
        // An "elevator" that exits 0 without running the helper: the prompt said yes, nothing
        // was written.
        let err = write_elevated(
            &plan,
            &Elevator::Sudo("/bin/true".into()),
            Path::new("/bin/true"),
        )
        .expect_err("not written");
        assert!(
            err.to_string().contains("does not hold the new block"),
            "{err}"
        );
        let refused = write_elevated(
            &plan,
            &Elevator::Sudo("/bin/false".into()),
            Path::new("/bin/true"),
        )
        .expect_err("refused");
        assert!(
            matches!(refused, HostsError::ElevationFailed { .. }),
            "{refused}"
        );
    }
}
