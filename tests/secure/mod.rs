//! Helpers for the TLS and password tests: a CA and server certificate made with rcgen,
//! configurations derived from the embedded default (the Axigen slapd.conf) with extra
//! global directives, and a server started on several listen URLs.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The embedded default configuration, as the binary has it.
pub const DEFAULT_CONF: &str = include_str!("../../server/src/default.conf");

/// A test CA and a server certificate for 127.0.0.1 and localhost signed by it, written
/// as PEM files into a temporary folder.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA certificate, DER, for rustls clients in tests.
    pub ca_der: Vec<u8>,
    /// A client certificate and key signed by the CA (for `TLSVerifyClient`).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "oxldap test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "oxldap test client");
        let client = client_params
            .signed_by(&client_key, &ca_cert, &ca_key)
            .unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        Pki {
            ca: write("ca.pem", &ca_cert.pem()),
            cert: write("server.pem", &cert.pem()),
            key: write("server.key", &key.serialize_pem()),
            ca_der: ca_cert.der().to_vec(),
            client_cert: write("client.pem", &client.pem()),
            client_key: write("client.key", &client_key.serialize_pem()),
            dir,
        }
    }

    /// The TLS directives naming these files.
    pub fn directives(&self) -> String {
        format!(
            "TLSCertificateFile {}\nTLSCertificateKeyFile {}\nTLSCACertificateFile {}\nTLSVerifyClient never\n",
            self.cert.display(),
            self.key.display(),
            self.ca.display()
        )
    }
}

/// Writes the embedded default configuration with `global` directives prepended (they
/// must be global: they go before the `database` line) into `dir`.
pub fn config(dir: &Path, global: &str) -> PathBuf {
    let path = dir.join("slapd.conf");
    std::fs::write(&path, format!("{global}\n{DEFAULT_CONF}")).unwrap();
    path
}

/// A running `oxldap serve`, killed on drop.
pub struct Server {
    child: Child,
    /// The URLs the server printed, in the order given.
    pub urls: Vec<String>,
    stderr: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Server {
    /// `oxldap serve -f CONFIG --memory -h URLS EXTRA`; waits for one printed URL per
    /// listen URL.
    pub fn start(config: &Path, urls: &str, extra: &[&str]) -> Server {
        let logdir = tempfile::tempdir().unwrap();
        let stderr = logdir.path().join("stderr.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_oxldap"))
            .args(["serve", "--memory", "-f"])
            .arg(config)
            .args(["-h", urls])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut out = Vec::new();
        for _ in urls.split_whitespace() {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(
                line.contains("://"),
                "oxldap did not print its URLs; stderr:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
            out.push(line.trim().to_string());
        }
        Server {
            child,
            urls: out,
            stderr,
            _logdir: logdir,
        }
    }

    /// The first URL (`ldap://...` in these tests).
    pub fn url(&self) -> &str {
        &self.urls[0]
    }

    /// The `host:port` of URL `i`.
    pub fn addr(&self, i: usize) -> String {
        let u = &self.urls[i];
        let rest = u.split("://").nth(1).unwrap();
        rest.trim_end_matches('/').to_string()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The output of an ldap-utils run (the shared harness's type).
pub use common::ToolOutput as Tool;

/// Runs `tool -x -H url ARGS` with `LDAPTLS_CACERT=ca` (or no CA at all when `ca` is
/// None, with certificate checks demanded) and optional stdin.
pub fn tool(tool: &str, url: &str, ca: Option<&Path>, args: &[&str], stdin: Option<&str>) -> Tool {
    let ca = ca.map_or("/nonexistent/ca.pem".to_string(), |c| {
        c.display().to_string()
    });
    // The environment overrides ldap.conf(5): certificates are always checked.
    common::run_tool_env(
        tool,
        url,
        args,
        stdin,
        &[("LDAPTLS_REQCERT", "demand"), ("LDAPTLS_CACERT", &ca)],
    )
}
