//! A throwaway Debian slapd for the differential memberof/refint test (adapted from
//! `tests/tools/start-slapd.sh`): its own directory, config and database, a loopback port,
//! run in the foreground (`-d 0`) so the test owns the process and kills it on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs slapd.
pub const SLAPD: &str = "/usr/sbin/slapd";

/// A running slapd; killed (and reaped) on drop.
pub struct Slapd {
    child: Child,
    pub url: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

/// A free loopback port (bound, then released for slapd to take).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Slapd {
    /// Starts slapd with the core, cosine, inetorgperson and misc schemas, back_mdb, the
    /// memberof and refint modules, and `overlays` (slapd.conf lines placed after the
    /// database directives), then loads `tests/cases/base.ldif`.
    pub fn start(overlays: &str) -> Slapd {
        let mut last = String::new();
        for _ in 0..3 {
            match Slapd::try_start(overlays) {
                Ok(s) => return s,
                Err(e) => last = e,
            }
        }
        panic!("slapd did not start: {last}");
    }

    fn try_start(overlays: &str) -> Result<Slapd, String> {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        std::fs::create_dir_all(t.join("db")).unwrap();
        let conf = t.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\n\
                 include /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/inetorgperson.schema\n\
                 include /etc/ldap/schema/misc.schema\n\
                 pidfile {t}/slapd.pid\n\
                 argsfile {t}/slapd.args\n\
                 modulepath /usr/lib/ldap\n\
                 moduleload back_mdb\n\
                 moduleload memberof\n\
                 moduleload refint\n\
                 moduleload sssvlv\n\
                 database mdb\n\
                 maxsize 67108864\n\
                 suffix \"dc=localdomain,dc=test\"\n\
                 rootdn \"cn=admin,dc=localdomain,dc=test\"\n\
                 rootpw secret\n\
                 directory {t}/db\n\
                 {overlays}",
                t = t.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let url = format!("ldap://127.0.0.1:{port}/");
        let log = t.join("slapd.log");
        let child = Command::new(SLAPD)
            .args(["-d", "0", "-f"])
            .arg(&conf)
            .args(["-h", &url])
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .map_err(|e| format!("spawn {SLAPD}: {e}"))?;
        let mut s = Slapd {
            child,
            url,
            log,
            _dir: dir,
        };
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = s.child.try_wait() {
                return Err(format!("slapd exited ({st}): {}", s.log_text()));
            }
            let ok = Command::new("ldapsearch")
                .args(["-x", "-H", &s.url, "-s", "base", "-b", "", "-LLL", "1.1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|st| st.success());
            if ok {
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!("slapd did not answer: {}", s.log_text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/base.ldif");
        let st = Command::new("ldapadd")
            .args([
                "-x",
                "-H",
                &s.url,
                "-D",
                "cn=admin,dc=localdomain,dc=test",
                "-w",
                "secret",
                "-f",
            ])
            .arg(&base)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        if !st.success() {
            return Err(format!("loading base.ldif failed: {}", s.log_text()));
        }
        Ok(s)
    }

    /// slapd's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
