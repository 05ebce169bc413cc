//! [`ServerBuilder`]: what to serve, where, and with which seed data.

use crate::ldif::{apply_ldif, describe};
use crate::server::{BlockingServer, Server};
use oxldap_proto::ResultCode;
use oxldap_server::config::{self, Config, OverlayConfig, Secret};
use oxldap_server::error::LdapError;
use oxldap_server::{CancellationToken, Directory, OpenError, OpenOptions, ServeOptions};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// The suffix of the embedded default configuration.
pub const DEFAULT_SUFFIX: &str = "dc=localdomain,dc=test";

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration file could not be read or parsed.
    #[error("configuration: {0}")]
    Config(String),
    /// The directory could not be opened (bad DN, schema, data folder).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The default layout could not be created.
    #[error("creating the layout: {0}")]
    Layout(String),
    /// Seed LDIF could not be read or loaded.
    #[error("loading {origin}: {reason}")]
    Ldif {
        /// The file name, or `LDIF string #N`.
        origin: String,
        /// What went wrong (record line, DN and LDAP result).
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The IO error.
        source: std::io::Error,
    },
    /// The tokio runtime of [`ServerBuilder::start_blocking`] could not be built.
    #[error("cannot start a tokio runtime: {0}")]
    Runtime(std::io::Error),
}

#[derive(Debug, Clone)]
enum Seed {
    File(PathBuf),
    Text(String),
}

#[derive(Debug, Clone)]
enum ConfigSource {
    Default,
    File(PathBuf),
    Given(Box<Config>),
}

/// Configures a [`Server`]; get one with [`Server::builder`].
///
/// Defaults: the embedded Axigen configuration (`oxldap_server::config::Config::
/// default_embedded`: suffix `dc=localdomain,dc=test`, rootdn
/// `cn=admin,dc=localdomain,dc=test` / `secret`, memberof with memberof-refint), an
/// in-memory store, the default layout (suffix, `o=localdomain`, `ou=Groups`,
/// `ou=Users`), listening on 127.0.0.1 with an ephemeral port.
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    config: ConfigSource,
    suffix: Option<String>,
    seeds: Vec<Seed>,
    listen: SocketAddr,
    data_dir: Option<PathBuf>,
    overlays: bool,
    size_limit: Option<Option<u32>>,
    fixed_clock: Option<i64>,
    server_id: Option<u32>,
    rootdn: Option<String>,
    rootpw: Option<String>,
    layout: bool,
    max_pdu: Option<usize>,
    /// TLS certificate and key files (PEM), overriding the configuration's.
    tls: Option<(PathBuf, PathBuf)>,
    access: Vec<String>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            config: ConfigSource::Default,
            suffix: None,
            seeds: Vec::new(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            data_dir: None,
            overlays: true,
            size_limit: None,
            fixed_clock: None,
            server_id: None,
            rootdn: None,
            rootpw: None,
            layout: true,
            max_pdu: None,
            tls: None,
            access: Vec::new(),
        }
    }
}

impl ServerBuilder {
    /// Serves `suffix` instead of the configuration's. When the rootdn is not set with
    /// [`ServerBuilder::rootdn`] and the configuration's is `cn=admin,<old suffix>`, it
    /// becomes `cn=admin,<suffix>`.
    pub fn suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = Some(suffix.into());
        self
    }

    /// Enables StartTLS (RFC 4513 §3) with this PEM certificate (chain) and private key,
    /// as slapd's `TLSCertificateFile` and `TLSCertificateKeyFile`; clients upgrade with
    /// `ldapsearch -ZZ` and the like. The files are read when the server starts.
    pub fn tls(mut self, certificate: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some((certificate.into(), key.into()));
        self
    }

    /// Reads the configuration from a slapd.conf(5) file instead of the embedded default.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = ConfigSource::File(path.into());
        self
    }

    /// Uses this configuration instead of the embedded default.
    pub fn config(mut self, config: Config) -> Self {
        self.config = ConfigSource::Given(Box::new(config));
        self
    }

    /// Loads this LDIF file at start-up, as the rootdn, after the layout (repeatable, in
    /// order). Content records are added; change records (`changetype:`) are applied.
    pub fn ldif_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.seeds.push(Seed::File(path.into()));
        self
    }

    /// Loads this LDIF text at start-up, like [`ServerBuilder::ldif_file`].
    pub fn ldif(mut self, text: impl Into<String>) -> Self {
        self.seeds.push(Seed::Text(text.into()));
        self
    }

    /// Listens on `addr` instead of 127.0.0.1 with an ephemeral port (port 0 picks one).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Keeps the data in memory (the default); it vanishes when the server is dropped.
    pub fn in_memory(mut self) -> Self {
        self.data_dir = None;
        self
    }

    /// Keeps the data in this folder (created if needed) instead of memory.
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(path.into());
        self
    }

    /// Turns the memberof and refint overlays of the configuration off.
    pub fn without_overlays(self) -> Self {
        self.overlays(false)
    }

    /// Keeps (true, the default) or drops (false) the configuration's memberof and
    /// refint overlays. syncprov is kept either way.
    pub fn overlays(mut self, on: bool) -> Self {
        self.overlays = on;
        self
    }

    /// The size limit for everyone but the rootdn (`None`: unlimited). In-process
    /// operations run as the rootdn and are never limited.
    pub fn size_limit(mut self, limit: Option<u32>) -> Self {
        self.size_limit = Some(limit);
        self
    }

    /// A fixed clock (microseconds since the Unix epoch) for reproducible entryCSN,
    /// createTimestamp and modifyTimestamp values (entryUUIDs stay random).
    pub fn fixed_clock(mut self, micros_since_epoch: i64) -> Self {
        self.fixed_clock = Some(micros_since_epoch);
        self
    }

    /// The serverID stamped into CSNs (slapd `serverID`, 0..=4095).
    pub fn server_id(mut self, id: u32) -> Self {
        self.server_id = Some(id);
        self
    }

    /// Overrides the configuration's rootdn.
    pub fn rootdn(mut self, dn: impl Into<String>) -> Self {
        self.rootdn = Some(dn.into());
        self
    }

    /// Overrides the configuration's rootpw (cleartext or `{SCHEME}hash`).
    pub fn rootpw(mut self, password: impl Into<String>) -> Self {
        self.rootpw = Some(password.into());
        self
    }

    /// Whether to create the suffix entry and the Axigen layout on an empty directory
    /// (default true). It is not created either when the first seed LDIF starts with the
    /// suffix entry: that seed defines the tree.
    pub fn layout(mut self, create: bool) -> Self {
        self.layout = create;
        self
    }

    /// The largest request PDU accepted over TCP from a bound connection, in bytes
    /// (default 4 MiB, slapd's `sockbuf_max_incoming_auth`). An anonymous connection may
    /// send at most 262,143 bytes (`sockbuf_max_incoming`) or this, whichever is smaller.
    pub fn max_pdu(mut self, bytes: usize) -> Self {
        self.max_pdu = Some(bytes);
        self
    }

    /// Adds an access rule to the database, in slapd.access(5) syntax with or without the
    /// leading `access` keyword (`"access to attrs=userPassword by self write by * auth"`);
    /// repeatable, in order, after the configuration's own rules. Any rule replaces the
    /// default policy (`oxldap_server::acl::DEFAULT_RULES`); the rootdn is never limited.
    pub fn access(mut self, rule: impl Into<String>) -> Self {
        self.access.push(rule.into());
        self
    }

    /// The configuration with every override applied, and the rootpw as a string.
    fn resolve_config(&self) -> Result<(Config, String), StartError> {
        let mut cfg = match &self.config {
            ConfigSource::Default => Config::default_embedded(),
            ConfigSource::File(p) => {
                config::load(p).map_err(|e| StartError::Config(e.to_string()))?
            }
            ConfigSource::Given(c) => (**c).clone(),
        };
        if let Some(id) = self.server_id {
            cfg.server_id = id;
        }
        if let Some((cert, key)) = &self.tls {
            cfg.tls.certificate_file = Some(cert.clone());
            cfg.tls.certificate_key_file = Some(key.clone());
        }
        let db = cfg.databases.first_mut().ok_or(OpenError::NoDatabase)?;
        if let Some(suffix) = &self.suffix {
            let derived = format!("cn=admin,{}", db.suffix);
            if self.rootdn.is_none()
                && db
                    .rootdn
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(&derived))
            {
                db.rootdn = Some(format!("cn=admin,{suffix}"));
            }
            db.suffix = suffix.clone();
        }
        if let Some(dn) = &self.rootdn {
            db.rootdn = Some(dn.clone());
        }
        if let Some(pw) = &self.rootpw {
            db.rootpw = Some(Secret::new(pw.clone()));
        }
        if let Some(limit) = self.size_limit {
            db.size_limit = limit;
        }
        for rule in &self.access {
            let text = rule.trim();
            let text = match text.split_once(char::is_whitespace) {
                Some((head, rest)) if head.eq_ignore_ascii_case("access") => rest.trim_start(),
                _ => text,
            };
            oxldap_server::acl::AccessRule::parse(text)
                .map_err(|e| StartError::Config(format!("access {text}: {e}")))?;
            db.access.push(text.to_string());
        }
        if !self.overlays {
            db.overlays
                .retain(|o| !matches!(o, OverlayConfig::Memberof(_) | OverlayConfig::Refint(_)));
        }
        let rootpw = db
            .rootpw
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or_default();
        Ok((cfg, rootpw))
    }

    /// Opens the directory, creates the layout and loads the seed LDIF (no socket yet).
    fn open(&self) -> Result<(Arc<Directory>, String), StartError> {
        let (cfg, rootpw) = self.resolve_config()?;
        let opts = OpenOptions {
            memory: self.data_dir.is_none(),
            data_dir: self.data_dir.clone(),
            fixed_clock: self.fixed_clock,
        };
        let dir = Directory::open(&cfg, &opts)?;
        if self.layout && !self.seed_defines_suffix(&dir) {
            dir.bootstrap_layout()
                .map_err(|e| StartError::Layout(describe(&e)))?;
        }
        let who = crate::server::root_identity(&dir);
        // Seeds load as a bulk load: postings are written once at the end.
        dir.store
            .bulk(|| self.load_seeds(&dir, &who))
            .map_err(|e| StartError::Ldif {
                origin: "seed LDIF".to_string(),
                reason: e.to_string(),
            })??;
        Ok((Arc::new(dir), rootpw))
    }

    /// Whether the first seed starts with the suffix entry: it then defines the tree and
    /// the layout is not created (see `Directory::seed_defines_suffix`).
    fn seed_defines_suffix(&self, dir: &Directory) -> bool {
        match self.seeds.first() {
            Some(Seed::File(p)) => std::fs::File::open(p)
                .is_ok_and(|f| dir.seed_defines_suffix(std::io::BufReader::new(f))),
            Some(Seed::Text(t)) => dir.seed_defines_suffix(t.as_bytes()),
            None => false,
        }
    }

    /// Applies every seed LDIF in order, as the rootdn.
    fn load_seeds(
        &self,
        dir: &Directory,
        who: &oxldap_server::session::Identity,
    ) -> Result<(), StartError> {
        for (i, seed) in self.seeds.iter().enumerate() {
            let (origin, text) = match seed {
                Seed::File(p) => (
                    p.display().to_string(),
                    std::fs::read_to_string(p).map_err(|e| StartError::Ldif {
                        origin: p.display().to_string(),
                        reason: e.to_string(),
                    })?,
                ),
                Seed::Text(t) => (format!("LDIF string #{}", i + 1), t.clone()),
            };
            apply_ldif(dir, who, &text).map_err(|e: LdapError| StartError::Ldif {
                origin,
                reason: describe(&e),
            })?;
        }
        Ok(())
    }

    /// Starts the server on the current tokio runtime: opens the store, creates the
    /// layout, loads the seed LDIF, binds the listener. The server accepts connections
    /// when this returns.
    ///
    /// Store work runs on the calling task (it takes milliseconds). Use a multi-thread
    /// runtime if the same test also talks to the server with a blocking client.
    pub async fn start(self) -> Result<Server, StartError> {
        if let Some(path) = &self.data_dir {
            // A server on this folder dropped a moment ago may still hold its store.
            crate::server::await_release(path).await;
        }
        let (dir, rootpw) = self.open()?;
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: self.listen,
            source,
        })?;
        let token = CancellationToken::new();
        let opts = ServeOptions {
            max_pdu: self.max_pdu.unwrap_or(oxldap_proto::codec::DEFAULT_MAX_PDU),
            ..ServeOptions::default()
        };
        let task = tokio::spawn(oxldap_server::serve(
            listener,
            dir.clone(),
            opts,
            token.clone(),
        ));
        Ok(Server::new(
            dir,
            self.data_dir.clone(),
            addr,
            rootpw,
            token,
            task,
        ))
    }

    /// Starts the server on a tokio runtime of its own (one worker thread), for tests
    /// that are not async. The returned handle owns the runtime.
    pub fn start_blocking(self) -> Result<BlockingServer, StartError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("oxldap-embedded")
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let server = runtime.block_on(self.start())?;
        Ok(BlockingServer::new(server, runtime))
    }
}

/// A noSuchObject-free "could not happen" error, for internal conversions.
pub(crate) fn other(message: impl Into<String>) -> LdapError {
    LdapError::new(ResultCode::Other, message.into())
}
