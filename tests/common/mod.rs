//! Test harness: starts the real `oxldap` binary on an ephemeral port and drives it with
//! Debian's ldap-utils. Each server has its own data folder (or memory), so tests run in
//! parallel.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const BASE: &str = "dc=localdomain,dc=test";
pub const ROOTDN: &str = "cn=admin,dc=localdomain,dc=test";
pub const ROOTPW: &str = "secret";
pub const USERS: &str = "ou=Users,o=localdomain,dc=localdomain,dc=test";
pub const GROUPS: &str = "ou=Groups,o=localdomain,dc=localdomain,dc=test";

/// The 1,000-user, 50-group Axigen-layout fixture (gen-directory.py --users 1000
/// --groups 50 --seed 1).
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/axigen-1000.ldif")
}

/// A running `oxldap serve`; killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    pub data: Option<tempfile::TempDir>,
    pub stderr_path: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Server {
    /// `oxldap serve --memory` with the embedded default configuration and layout.
    pub fn memory() -> Server {
        Server::start(&["--memory"], None)
    }

    /// In memory, loaded with the 1,000-user fixture instead of the bootstrap layout.
    pub fn with_fixture() -> Server {
        let f = fixture();
        Server::start(
            &["--memory", "--no-layout", "--ldif", f.to_str().unwrap()],
            None,
        )
    }

    /// On a data folder (kept in `data` so the test can restart on it).
    pub fn on_disk(data: tempfile::TempDir) -> Server {
        let d = data.path().to_str().unwrap().to_string();
        Server::start(&["--data-dir", &d], Some(data))
    }

    /// Starts `oxldap serve -h ldap://127.0.0.1:0/ ARGS` and waits for its URL line.
    pub fn start(args: &[&str], data: Option<tempfile::TempDir>) -> Server {
        let logdir = tempfile::tempdir().unwrap();
        let stderr_path = logdir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_oxldap"))
            .arg("serve")
            .args(["-h", "ldap://127.0.0.1:0/"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn oxldap");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).unwrap();
        let url = line.trim().to_string();
        assert!(
            url.starts_with("ldap://"),
            "oxldap did not print its URL; stderr:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        Server {
            child,
            url,
            data,
            stderr_path,
            _logdir: logdir,
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the data folder.
    pub fn stop(mut self) -> Option<tempfile::TempDir> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = wait_timeout(&mut self.child, Duration::from_secs(20));
        assert!(status, "oxldap did not exit after SIGTERM");
        self.data.take()
    }

    /// Sends SIGTERM and returns the exit status, which must come within 20 s.
    pub fn stop_status(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "oxldap did not exit within 20 s of SIGTERM; log:\n{}",
            self.log()
        );
    }

    /// The server's process id (to watch its memory, or to kill it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Runs an ldap-utils tool against this server with `-x -H URL` prepended.
    pub fn tool(&self, tool: &str, args: &[&str], stdin: Option<&str>) -> ToolOutput {
        run_tool(tool, &self.url, args, stdin)
    }

    /// ldapsearch as the rootdn, LDIF without wrapping or comments.
    pub fn search_root(&self, args: &[&str]) -> ToolOutput {
        let mut a = vec!["-D", ROOTDN, "-w", ROOTPW, "-LLL", "-o", "ldif-wrap=no"];
        a.extend_from_slice(args);
        self.tool("ldapsearch", &a, None)
    }

    /// ldapsearch as the rootdn with `-E sync=MODE` (RFC 4533; `sync=ro/COOKIE` when
    /// `cookie` is given), without -LLL so the sync controls print as comments, LDIF not
    /// wrapped; `args` follow (base, size limit, filter, attributes).
    pub fn sync_search(&self, mode: &str, cookie: Option<&str>, args: &[&str]) -> ToolOutput {
        let e = match cookie {
            Some(c) => format!("sync={mode}/{c}"),
            None => format!("sync={mode}"),
        };
        let mut a = vec!["-D", ROOTDN, "-w", ROOTPW, "-o", "ldif-wrap=no", "-E", &e];
        a.extend_from_slice(args);
        self.tool("ldapsearch", &a, None)
    }

    /// ldapsearch anonymously, LDIF without wrapping or comments.
    pub fn search_anon(&self, args: &[&str]) -> ToolOutput {
        let mut a = vec!["-LLL", "-o", "ldif-wrap=no"];
        a.extend_from_slice(args);
        self.tool("ldapsearch", &a, None)
    }

    /// ldapmodify/ldapadd as the rootdn with LDIF on stdin.
    pub fn modify_root(&self, tool: &str, ldif: &str, extra: &[&str]) -> ToolOutput {
        let mut a = vec!["-D", ROOTDN, "-w", ROOTPW];
        a.extend_from_slice(extra);
        self.tool(tool, &a, Some(ldif))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// What an ldap-utils tool printed and its exit code (which is the LDAP result code for
/// most tools).
#[derive(Debug)]
pub struct ToolOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl ToolOutput {
    /// The DNs of the entries in -LLL output, in order (base64 DNs decoded).
    pub fn dns(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| {
                if let Some(d) = l.strip_prefix("dn: ") {
                    Some(d.to_string())
                } else {
                    l.strip_prefix("dn:: ").map(b64)
                }
            })
            .collect()
    }

    /// Values of `attr` (exact, case-sensitive name as printed) in the output.
    pub fn values(&self, attr: &str) -> Vec<String> {
        let plain = format!("{attr}: ");
        let enc = format!("{attr}:: ");
        self.stdout
            .lines()
            .filter_map(|l| {
                if let Some(v) = l.strip_prefix(&plain) {
                    Some(v.to_string())
                } else {
                    l.strip_prefix(&enc).map(b64)
                }
            })
            .collect()
    }

    /// Asserts the exit code, showing the output on failure.
    /// The output's LDIF records one by one (blank-line separated), each as its own
    /// output, so [`ToolOutput::values`] reads one entry.
    pub fn entries(&self) -> Vec<ToolOutput> {
        self.stdout
            .split("\n\n")
            .filter(|b| !b.trim().is_empty())
            .map(|b| ToolOutput {
                code: self.code,
                stdout: b.to_string(),
                stderr: String::new(),
            })
            .collect()
    }

    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn b64(s: &str) -> String {
    let out = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = out.unwrap();
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `tool -x -H url ARGS` with optional stdin.
pub fn run_tool(tool: &str, url: &str, args: &[&str], stdin: Option<&str>) -> ToolOutput {
    run_tool_env(tool, url, args, stdin, &[])
}

/// [`run_tool`] with extra environment variables (for example `LDAPTLS_CACERT`).
pub fn run_tool_env(
    tool: &str,
    url: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> ToolOutput {
    let mut cmd = Command::new(tool);
    cmd.args(["-x", "-H", url]).args(args);
    cmd.envs(env.iter().copied());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {tool} (install ldap-utils): {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out: Output = child.wait_with_output().unwrap();
    ToolOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `oxldap import --data-dir DIR FILE` (the real binary), which must succeed.
pub fn import_ok(dir: &str, file: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["import", "--data-dir", dir])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sorted copy, for order-insensitive comparisons.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// One fixture entry: DN and (attribute, value) pairs, read with a deliberately naive LDIF
/// reader that shares no code with oxldap (so expectations are computed independently).
#[derive(Debug, Clone)]
pub struct FixtureEntry {
    pub dn: String,
    pub attrs: Vec<(String, String)>,
}

impl FixtureEntry {
    pub fn get(&self, attr: &str) -> Vec<&str> {
        self.attrs
            .iter()
            .filter(|(a, _)| a.eq_ignore_ascii_case(attr))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Reads the fixture LDIF (no folding, optional base64).
pub fn fixture_entries() -> Vec<FixtureEntry> {
    use base64::Engine;
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut dn = String::new();
        let mut attrs = Vec::new();
        for line in block
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (name, value) = if let Some((n, v)) = line.split_once(":: ") {
                let raw = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
                (n, String::from_utf8(raw).unwrap())
            } else {
                let (n, v) = line.split_once(": ").unwrap();
                (n, v.to_string())
            };
            if name == "dn" {
                dn = value;
            } else {
                attrs.push((name.to_string(), value));
            }
        }
        if !dn.is_empty() {
            out.push(FixtureEntry { dn, attrs });
        }
    }
    out
}

/// Starts oxldap in memory with `tests/cases/oxldap-reference.conf` plus `syncprov` lines
/// (each ending in a newline) after `overlay syncprov`. Keep the returned folder (it holds
/// the configuration) as long as the server.
pub fn reference_server_with_syncprov(syncprov: &str) -> (Server, tempfile::TempDir) {
    let reference = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/oxldap-reference.conf"),
    )
    .unwrap();
    let confdir = tempfile::tempdir().unwrap();
    let conf = confdir.path().join("oxldap.conf");
    let text = reference.replace(
        "overlay syncprov\n",
        &format!("overlay syncprov\n{syncprov}"),
    );
    assert!(
        text.contains(syncprov),
        "the reference configuration has no syncprov"
    );
    std::fs::write(&conf, text).unwrap();
    let server = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    (server, confdir)
}

/// Runs `cmd` to completion: whether it succeeded, and its stdout followed by its stderr
/// (for tests that look for a message wherever the tool printed it).
pub fn run_combined(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Writes a minimal slapd.conf for Debian's offline tools (slapadd, slapcat) in `dir`:
/// the core, cosine and inetorgperson schemas, back-mdb in `dir/mdb` (created) with the
/// suffix [`BASE`]. Returns the config's path.
pub fn slapadd_conf(dir: &Path) -> PathBuf {
    let conf = dir.join("slapd.conf");
    let mdb = dir.join("mdb");
    std::fs::create_dir_all(&mdb).unwrap();
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
             database mdb\nmaxsize 67108864\nsuffix \"{BASE}\"\ndirectory {}\n",
            mdb.display()
        ),
    )
    .unwrap();
    conf
}
