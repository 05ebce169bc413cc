//! Reading slapd.conf(5)-style configuration files.
//!
//! oxldap accepts the subset of OpenLDAP's slapd.conf(5) that small
//! installations use (notably the configuration from Axigen's OpenLDAP guide),
//! so an existing `slapd.conf` can be pointed at oxldap unchanged. Anything
//! outside that subset is rejected with a message naming the file, line and
//! directive: like slapd, oxldap refuses to start on a configuration it does
//! not understand rather than silently ignoring it.
//!
//! Lexical rules follow slapd.conf(5) "CONFIGURATION FILE FORMAT":
//!
//! * a line whose first non-blank character is `#` is a comment; blank lines
//!   are ignored;
//! * a line starting with white space continues the previous line, even when that
//!   line is a comment (so it is part of the comment); a line ending in `\` is joined
//!   to the next; an empty line ends a logical line (slapd's `fp_getline`);
//! * arguments are separated by white space; an argument may be enclosed in
//!   double quotes to contain white space, and `\"` / `\\` stand for a
//!   literal quote / backslash;
//! * directive names are case-insensitive.
//!
//! Directives before the first `database` line are global; the ones after it
//! apply to that database, and the ones after an `overlay` line may configure
//! that overlay (slapd.conf(5), slapo-syncprov(5), slapo-memberof(5),
//! slapo-refint(5)).

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The embedded default configuration: the slapd.conf from Axigen's OpenLDAP
/// guide, with the database directory changed to `./oxldap-data`.
pub const DEFAULT_CONFIG: &str = include_str!("default.conf");

/// Name used as the file name in messages about [`DEFAULT_CONFIG`].
pub const DEFAULT_CONFIG_ORIGIN: &str = "<embedded default.conf>";

/// How deeply `include` directives naming configuration files may nest.
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Schema files that oxldap carries built-in copies of; an `include` of one of
/// these (by file stem) that does not exist on disk uses the built-in copy.
pub const BUILTIN_SCHEMAS: &[&str] = &["core", "cosine", "inetorgperson", "misc", "nis", "axigen"];

/// slapd modules whose functionality oxldap has built in; `moduleload` of any
/// of these (with or without `.la`/`.so`) is accepted and has no other effect.
pub const BUILTIN_MODULES: &[&str] = &[
    "back_bdb", "back_hdb", "back_mdb", "memberof", "refint", "syncprov",
];

/// slapd's default soft size limit (slapd.conf(5) `sizelimit`).
pub const DEFAULT_SIZE_LIMIT: u32 = 500;

/// slapd's default soft time limit in seconds (slapd.conf(5) `timelimit`).
pub const DEFAULT_TIME_LIMIT: u32 = 3600;

/// The hard half of a `sizelimit`/`timelimit` (slapd-limits(5)): the most a client may
/// ask for explicitly. A client that asks for more gets the hard limit; one that asks for
/// nothing (0) gets the soft limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HardLimit {
    /// `.hard=soft` or no hard limit given: the soft limit is also the hard one (slapd's
    /// default).
    #[default]
    Soft,
    /// An explicit hard limit; `None` is `unlimited`.
    Limit(Option<u32>),
}

/// Keywords of slapd.conf(5) `allow`.
const ALLOW_KEYWORDS: &[&str] = &[
    "bind_v2",
    "bind_anon_cred",
    "bind_anon_dn",
    "update_anon",
    "proxy_authz_anon",
    "none",
];

/// Keywords of slapd.conf(5) `disallow`.
const DISALLOW_KEYWORDS: &[&str] = &[
    "bind_anon",
    "bind_simple",
    "tls_2_anon",
    "tls_authc",
    "proxy_authz_non_critical",
    "dontusecopy_non_critical",
];

/// Level names of slapd.conf(5) `loglevel`.
const LOGLEVEL_NAMES: &[&str] = &[
    "any", "trace", "packets", "args", "conns", "ber", "filter", "config", "acl", "stats",
    "stats2", "shell", "parse", "sync", "none",
];

/// An error that keeps oxldap from starting with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A directive oxldap does not know (slapd: "unknown directive").
    #[error("{}:{line}: unknown directive \"{directive}\"", file.display())]
    Unknown {
        /// The file containing the directive.
        file: PathBuf,
        /// The 1-based line where the directive starts.
        line: usize,
        /// The directive name as written.
        directive: String,
    },
    /// A known directive with wrong arguments or in the wrong place.
    #[error("{}:{line}: \"{directive}\": {reason}", file.display())]
    Malformed {
        /// The file containing the directive.
        file: PathBuf,
        /// The 1-based line where the directive starts.
        line: usize,
        /// The directive name as written.
        directive: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `include`d configuration file could not be read.
    #[error("{}:{line}: include \"{}\": {source}", file.display(), path.display())]
    Include {
        /// The file containing the `include` directive.
        file: PathBuf,
        /// The 1-based line of the `include` directive.
        line: usize,
        /// The included path as written.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
    /// The top-level configuration file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The configuration file.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
}

/// A secret such as `rootpw` (slapd.conf(5)): cleartext or `{SCHEME}hash`, to
/// be checked with [`crate::password::verify`]. Its `Debug` output is `***`
/// so that it never reaches logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value as written in the configuration.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret value as bytes, for [`crate::password::verify`].
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A schema file named by an `include` directive (slapd.conf(5) `include`).
/// Its contents are read by the schema loader, not by this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaInclude {
    /// The file: the path found on disk, or the path as written when
    /// `builtin` is set.
    pub path: PathBuf,
    /// The file stem, lowercased: `core`, `cosine`, `inetorgperson`, …
    pub name: String,
    /// The file does not exist and oxldap's built-in copy of the schema
    /// called `name` is used instead.
    pub builtin: bool,
    /// A schema directive written in the configuration file itself rather than
    /// in an included file (slapd.conf(5) allows `objectidentifier`,
    /// `attributetype`, `objectclass`, `ldapsyntax` and `ditcontentrule` there):
    /// the directive's text in the `.schema` format, loaded in its place among
    /// the includes. `path` is then the configuration file and `name` is
    /// `<path>:<line>`, for error messages. `None` for an included file.
    pub inline: Option<String>,
}

/// TLS settings (slapd.conf(5) "TLS OPTIONS"); stored for later use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// `TLSCertificateFile`: the server certificate (PEM).
    pub certificate_file: Option<PathBuf>,
    /// `TLSCertificateKeyFile`: the server's private key (PEM).
    pub certificate_key_file: Option<PathBuf>,
    /// `TLSCACertificateFile`: CA certificates trusted for client certificates.
    pub ca_certificate_file: Option<PathBuf>,
    /// `TLSVerifyClient`: `never`, `allow`, `try` or `demand` (`hard` and
    /// `true` are stored as `demand`, as slapd treats them).
    pub verify_client: Option<String>,
}

/// Minimum security strength factors (slapd.conf(5) `security`): an operation
/// on a connection whose factor is below the one required is refused with
/// confidentialityRequired (13). A factor is 0 on plain TCP and the cipher's
/// key size in bits (128 or 256) under TLS. 0 means no requirement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecurityConfig {
    /// `ssf=N`: overall factor required for every operation but StartTLS.
    pub ssf: u32,
    /// `transport=N`: transport factor (ldapi:// only in slapd; always 0 here).
    pub transport: u32,
    /// `tls=N`: TLS factor.
    pub tls: u32,
    /// `sasl=N`: SASL factor (no SASL mechanism here, so always 0 when set).
    pub sasl: u32,
    /// `update_ssf=N`: overall factor for writes (add, delete, modify, modify DN,
    /// Password Modify).
    pub update_ssf: u32,
    /// `update_transport=N`.
    pub update_transport: u32,
    /// `update_tls=N`.
    pub update_tls: u32,
    /// `update_sasl=N`.
    pub update_sasl: u32,
    /// `simple_bind=N`: factor for a simple Bind with a password (global only, as
    /// slapd's `global_ssf_set.sss_simple_bind`).
    pub simple_bind: u32,
}

impl SecurityConfig {
    /// Parses `security` arguments `name=N` (slapd.conf(5)); a later factor overrides.
    fn parse(&mut self, ctx: &Ctx<'_>, args: &[String]) -> Result<(), ConfigError> {
        for arg in ctx.some(args)? {
            let Some((name, value)) = arg.split_once('=') else {
                return Err(ctx.malformed(format!("expected FACTOR=N, got {arg:?}")));
            };
            let n = ctx.uint("security strength factor", value)?;
            let slot = match name.to_ascii_lowercase().as_str() {
                "ssf" => &mut self.ssf,
                "transport" => &mut self.transport,
                "tls" => &mut self.tls,
                "sasl" => &mut self.sasl,
                "update_ssf" => &mut self.update_ssf,
                "update_transport" => &mut self.update_transport,
                "update_tls" => &mut self.update_tls,
                "update_sasl" => &mut self.update_sasl,
                "simple_bind" => &mut self.simple_bind,
                _ => return Err(ctx.malformed(format!("unknown security factor {name:?}"))),
            };
            *slot = n;
        }
        Ok(())
    }
}

/// A global configuration (the slapd.conf(5) global section plus its
/// databases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Schema files from `include` directives, in order.
    pub includes: Vec<SchemaInclude>,
    /// `allow` keywords, lowercased (`bind_v2`, `bind_anon_cred`,
    /// `bind_anon_dn`, `update_anon`, `proxy_authz_anon`); `allow none`
    /// clears the set.
    pub allow: BTreeSet<String>,
    /// `disallow` keywords, lowercased (`bind_anon`, `bind_simple`,
    /// `tls_2_anon`, `tls_authc`, …).
    pub disallow: BTreeSet<String>,
    /// `moduleload` names, normalised to the module name without directory
    /// or `.la`/`.so` suffix (e.g. `syncprov`); all are built in.
    pub modules: Vec<String>,
    /// `modulepath`: kept for compatibility, unused (modules are built in).
    pub module_path: Option<PathBuf>,
    /// `pidfile`: where to write the server's process id.
    pub pidfile: Option<PathBuf>,
    /// `argsfile`: where to write the server's command line.
    pub argsfile: Option<PathBuf>,
    /// `loglevel` levels as written (names such as `stats` or numbers),
    /// accumulated over all `loglevel` lines.
    pub loglevel: Vec<String>,
    /// Global soft `sizelimit`; `None` is unlimited. slapd's default is 500.
    pub size_limit: Option<u32>,
    /// Global soft `timelimit` in seconds; `None` is unlimited. slapd's
    /// default is 3600.
    pub time_limit: Option<u32>,
    /// Global hard `sizelimit` (`size.hard=`).
    pub size_limit_hard: HardLimit,
    /// Global hard `timelimit` (`time.hard=`).
    pub time_limit_hard: HardLimit,
    /// `conn_max N` (oxldap; slapd bounds connections by its descriptor table): the most
    /// clients served at once; a client beyond it gets a Notice of Disconnection (busy)
    /// and is closed. `None` uses `listener::MAX_CONNECTIONS`.
    pub conn_max: Option<u32>,
    /// `serverID` (0–4095); 0 when not configured, as in slapd.
    pub server_id: u32,
    /// The URL given with `serverID`, if any.
    pub server_id_url: Option<String>,
    /// `idletimeout` in seconds; 0 (the default) disables it.
    pub idle_timeout: u32,
    /// `writetimeout` in seconds (slapd.conf(5)): a connection whose pending write has not
    /// progressed for this long is closed; 0 (the default) disables it.
    pub write_timeout: u32,
    /// `password-hash` schemes such as `{SSHA}`; empty means slapd's default
    /// `{SSHA}`.
    pub password_hash: Vec<String>,
    /// TLS settings.
    pub tls: TlsConfig,
    /// Global `security` factors; a database inherits them and its own
    /// `security` line overrides.
    pub security: SecurityConfig,
    /// Global (frontend) `access` directives: the text after the `access`
    /// keyword, continuation lines joined (e.g. `to * by * read`). slapd
    /// applies these after each database's own rules.
    pub access: Vec<String>,
    /// The `database` sections, in order.
    pub databases: Vec<DatabaseConfig>,
    /// Every directive read, in order (included files' in place), with where it was
    /// written: the checks that need the schema run after parsing
    /// (`crate::config_check`) and name the line at fault from these, as slaptest does.
    pub sites: Vec<DirectiveSite>,
}

/// A directive as read and where it was written (slaptest's `FILE: line N:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveSite {
    /// The directive name, lowercased (`index`, `access`, `memberof-group-oc`, ...).
    pub name: String,
    /// Its arguments after slapd's quoting rules; never kept for `rootpw` (a secret,
    /// which must not reach `Debug` output).
    pub args: Vec<String>,
    /// The file it was read from.
    pub file: PathBuf,
    /// The 1-based line it starts on.
    pub line: usize,
}

impl Default for Config {
    /// An empty configuration with slapd's defaults and no database.
    fn default() -> Self {
        Config {
            includes: Vec::new(),
            allow: BTreeSet::new(),
            disallow: BTreeSet::new(),
            modules: Vec::new(),
            module_path: None,
            pidfile: None,
            argsfile: None,
            loglevel: Vec::new(),
            size_limit: Some(DEFAULT_SIZE_LIMIT),
            time_limit: Some(DEFAULT_TIME_LIMIT),
            size_limit_hard: HardLimit::Soft,
            time_limit_hard: HardLimit::Soft,
            conn_max: None,
            server_id: 0,
            server_id_url: None,
            idle_timeout: 0,
            write_timeout: 0,
            password_hash: Vec::new(),
            tls: TlsConfig::default(),
            security: SecurityConfig::default(),
            access: Vec::new(),
            databases: Vec::new(),
            sites: Vec::new(),
        }
    }
}

impl Config {
    /// Parses the embedded [`DEFAULT_CONFIG`].
    pub fn default_embedded() -> Config {
        parse_str(DEFAULT_CONFIG, Path::new(DEFAULT_CONFIG_ORIGIN))
            .expect("invariant: the embedded default.conf parses (tested by default_conf_parses)")
    }

    /// Whether `allow bind_v2` is set, i.e. LDAPv2 Bind requests are accepted
    /// (slapd.conf(5) `allow`).
    pub fn allows_bind_v2(&self) -> bool {
        self.allow.contains("bind_v2")
    }

    /// The database section oxldap serves (the parser refuses a second one).
    pub fn database(&self) -> Option<&DatabaseConfig> {
        self.databases.first()
    }
}

/// Index types of slapd.conf(5) `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexKind {
    /// `eq` / `equality`.
    Equality,
    /// `pres` / `present`.
    Presence,
    /// `sub` / `substr`: initial, any and final substrings.
    Substring,
    /// `subinitial`.
    SubInitial,
    /// `subany`.
    SubAny,
    /// `subfinal`.
    SubFinal,
    /// `approx` / `approximate`.
    Approx,
    /// `notags`: do not index tagged attribute descriptions separately.
    NoTags,
    /// `nolang`: do not index language-tagged descriptions separately.
    NoLang,
    /// `nosubtypes`: do not index subtypes separately.
    NoSubtypes,
}

impl IndexKind {
    fn parse(word: &str) -> Option<IndexKind> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" | "equality" => IndexKind::Equality,
            "pres" | "present" => IndexKind::Presence,
            "sub" | "substr" | "substring" => IndexKind::Substring,
            "subinitial" => IndexKind::SubInitial,
            "subany" => IndexKind::SubAny,
            "subfinal" => IndexKind::SubFinal,
            "approx" | "approximate" => IndexKind::Approx,
            "notags" => IndexKind::NoTags,
            "nolang" => IndexKind::NoLang,
            "nosubtypes" => IndexKind::NoSubtypes,
            _ => return None,
        })
    }
}

/// One slapd.conf(5) `index {attrlist|default} [types]` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// Attribute names as written (`default` for the default index types);
    /// resolved against the schema later.
    pub attrs: Vec<String>,
    /// The index types; empty when the directive lists none, meaning the
    /// types set by `index default`.
    pub kinds: BTreeSet<IndexKind>,
}

/// Substring index tunables (slapd.conf(5) `index_substr_*`): the store's own type, so
/// their defaults live in one place (`oxldap_store::SubstrTunables`).
pub use oxldap_store::SubstrTunables;

/// slapo-syncprov(5) settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncprovConfig {
    /// `syncprov-checkpoint OPS MINUTES`: write the contextCSN after that
    /// many write operations or minutes.
    pub checkpoint: Option<(u32, u32)>,
    /// `syncprov-sessionlog N`: remember N write operations for delta sync.
    pub sessionlog: Option<u32>,
    /// `syncprov-nopresent`: never send present phases (for databases
    /// without deletions).
    pub nopresent: bool,
    /// `syncprov-reloadhint`: honour the consumer's reloadHint flag.
    pub reloadhint: bool,
    /// `syncprov-queue-limit N` (oxldap's own; slapd has no such bound): how many writes
    /// may wait for a persistent search whose client reads too slowly before its
    /// connection is closed. None: `sync::PERSIST_QUEUE_LIMIT`.
    pub queue_limit: Option<u32>,
    /// `syncprov-queue-size BYTES` (oxldap's own): how many bytes of entries may wait
    /// for such a client. None: `sync::PERSIST_QUEUE_BYTES`.
    pub queue_bytes: Option<u32>,
}

/// What slapo-memberof(5) does with a dangling member (`memberof-dangling`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dangling {
    /// `ignore` (the default): keep the dangling value.
    #[default]
    Ignore,
    /// `drop`: silently remove the dangling value.
    Drop,
    /// `error`: reject the operation (see `memberof-dangling-error`).
    Error,
}

/// slapo-memberof(5) settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberofConfig {
    /// `memberof-refint`: keep memberships consistent on delete/rename
    /// (default false).
    pub refint: bool,
    /// `memberof-group-oc`: the group object class (default `groupOfNames`).
    pub group_oc: String,
    /// `memberof-member-ad`: the group's member attribute (default `member`).
    pub member_ad: String,
    /// `memberof-memberof-ad`: the attribute kept on members (default
    /// `memberOf`).
    pub memberof_ad: String,
    /// `memberof-dangling`: handling of members that do not exist.
    pub dangling: Dangling,
    /// `memberof-dangling-error`: the result code for `memberof-dangling
    /// error` (slapd default constraintViolation).
    pub dangling_error: Option<u32>,
    /// `memberof-dn`: the modifiersName of the overlay's internal changes.
    pub dn: Option<String>,
}

impl Default for MemberofConfig {
    fn default() -> Self {
        MemberofConfig {
            refint: false,
            group_oc: "groupOfNames".to_owned(),
            member_ad: "member".to_owned(),
            memberof_ad: "memberOf".to_owned(),
            dangling: Dangling::Ignore,
            dangling_error: None,
            dn: None,
        }
    }
}

/// slapo-refint(5) settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefintConfig {
    /// `refint_attributes`: attributes whose DN values are kept consistent.
    pub attributes: Vec<String>,
    /// `refint_nothing`: the value put in place of the last removed value of
    /// a mandatory attribute.
    pub nothing: Option<String>,
    /// `refint_modifiersName`: the modifiersName of the overlay's changes.
    pub modifiers_name: Option<String>,
}

/// An `overlay` of a database with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayConfig {
    /// `overlay syncprov` (slapo-syncprov(5)).
    Syncprov(SyncprovConfig),
    /// `overlay memberof` (slapo-memberof(5)).
    Memberof(MemberofConfig),
    /// `overlay refint` (slapo-refint(5)).
    Refint(RefintConfig),
}

impl OverlayConfig {
    /// The overlay's name as used with `overlay`.
    pub fn name(&self) -> &'static str {
        match self {
            OverlayConfig::Syncprov(_) => "syncprov",
            OverlayConfig::Memberof(_) => "memberof",
            OverlayConfig::Refint(_) => "refint",
        }
    }
}

/// A `database` section (slapd.conf(5) "GENERAL DATABASE OPTIONS" and
/// slapd-mdb(5)/slapd-bdb(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// The backend as written, lowercased (`bdb`, `hdb` or `mdb`); all are
    /// served by oxldap's sled store.
    pub backend: String,
    /// `suffix`: the naming context as written (validated only loosely;
    /// parsed with the real DN parser later).
    pub suffix: String,
    /// `rootdn`: the DN not subject to access control or limits.
    pub rootdn: Option<String>,
    /// `rootpw`: the rootdn's password, cleartext or `{SCHEME}hash`.
    pub rootpw: Option<Secret>,
    /// `directory`: where the data lives, as written (relative paths are
    /// relative to the working directory, as with slapd).
    pub directory: Option<PathBuf>,
    /// `checkpoint KBYTES MINUTES`.
    pub checkpoint: Option<(u32, u32)>,
    /// `index` directives in order.
    pub indexes: Vec<IndexSpec>,
    /// `index_substr_*` tunables.
    pub substr_tunables: SubstrTunables,
    /// `overlay` directives in order, with their settings.
    pub overlays: Vec<OverlayConfig>,
    /// Soft `sizelimit` (`None` = unlimited); inherits the global value.
    pub size_limit: Option<u32>,
    /// Soft `timelimit` in seconds (`None` = unlimited); inherits the
    /// global value.
    pub time_limit: Option<u32>,
    /// Hard `sizelimit`; inherits the global value.
    pub size_limit_hard: HardLimit,
    /// Hard `timelimit`; inherits the global value.
    pub time_limit_hard: HardLimit,
    /// `dbnosync`: do not flush the database before answering a write (slapd-mdb(5)):
    /// faster, but a crash may lose acknowledged writes (never half of one).
    pub dbnosync: bool,
    /// `limits` directives: the text after the keyword, unparsed.
    pub limits: Vec<String>,
    /// `access` directives: the text after the `access` keyword with
    /// continuation lines joined (e.g. `to * by self write by * read`).
    pub access: Vec<String>,
    /// `lastmod`: maintain operational attributes such as modifyTimestamp
    /// (default on).
    pub lastmod: bool,
    /// `readonly`: refuse updates (default off).
    pub readonly: bool,
    /// `maxsize`: the mdb map size in bytes; stored, not enforced.
    pub max_size: Option<u64>,
    /// `security` factors of this database (the global ones unless set here).
    pub security: SecurityConfig,
    /// The file with the `database` directive.
    pub file: PathBuf,
    /// The line of the `database` directive.
    pub line: usize,
}

impl DatabaseConfig {
    fn new(backend: String, file: PathBuf, line: usize, global: &Config) -> Self {
        DatabaseConfig {
            backend,
            suffix: String::new(),
            rootdn: None,
            rootpw: None,
            directory: None,
            checkpoint: None,
            indexes: Vec::new(),
            substr_tunables: SubstrTunables::default(),
            overlays: Vec::new(),
            size_limit: global.size_limit,
            time_limit: global.time_limit,
            size_limit_hard: global.size_limit_hard,
            time_limit_hard: global.time_limit_hard,
            dbnosync: false,
            limits: Vec::new(),
            access: Vec::new(),
            lastmod: true,
            readonly: false,
            max_size: None,
            security: global.security,
            file,
            line,
        }
    }

    /// The memberof overlay's settings, if the database has one.
    pub fn memberof(&self) -> Option<&MemberofConfig> {
        self.overlays.iter().find_map(|o| match o {
            OverlayConfig::Memberof(m) => Some(m),
            _ => None,
        })
    }

    /// The syncprov overlay's settings, if the database has one.
    pub fn syncprov(&self) -> Option<&SyncprovConfig> {
        self.overlays.iter().find_map(|o| match o {
            OverlayConfig::Syncprov(s) => Some(s),
            _ => None,
        })
    }

    /// The refint overlay's settings, if the database has one.
    pub fn refint(&self) -> Option<&RefintConfig> {
        self.overlays.iter().find_map(|o| match o {
            OverlayConfig::Refint(r) => Some(r),
            _ => None,
        })
    }
}

/// Reads and parses the slapd.conf(5)-style file at `path`.
///
/// # Errors
///
/// [`ConfigError::Io`] when the file cannot be read, otherwise as
/// [`parse_str`].
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(&text, path)
}

/// Parses slapd.conf(5)-style `text`. `origin` names the file in error
/// messages; relative `include` paths that do not exist relative to the
/// working directory (slapd's rule) are also looked up next to it.
///
/// # Errors
///
/// [`ConfigError::Unknown`] for a directive oxldap does not support,
/// [`ConfigError::Malformed`] for bad arguments or a directive in the wrong
/// section, [`ConfigError::Include`] for an unreadable included file.
pub fn parse_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let mut parser = Parser {
        config: Config::default(),
    };
    parser.parse_text(text, origin, 0)?;
    parser.finish_database()?;
    Ok(parser.config)
}

/// One directive after joining continuation lines.
struct LogicalLine {
    /// 1-based line number of its first physical line.
    line: usize,
    text: String,
}

/// Splits text into logical lines as slapd's `fp_getline` does (slapd.conf(5)): a
/// physical line starting with white space continues the logical line before it **even
/// when that line is a comment** ("considered a continuation of the previous line (even
/// if the previous line is a comment)"), so a commented-out directive's continuation
/// lines stay commented out; a line ending in a single `\` is joined to the next one; an
/// empty line ends the logical line. Comment lines (`#` in the first column, with their
/// continuations) and blank lines are dropped. One leniency kept from before: an
/// indented line whose first non-blank character is `#` is dropped rather than appended
/// (slapd would append its words to the directive).
fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<LogicalLine> = Vec::new();
    // The logical line being built: its first line number, text, and whether it is a
    // comment (to be dropped whole).
    let mut cur: Option<(LogicalLine, bool)> = None;
    let mut joined_by_backslash = false;
    let mut finish = |cur: &mut Option<(LogicalLine, bool)>| {
        if let Some((l, comment)) = cur.take() {
            if !comment && !l.text.trim().is_empty() {
                out.push(LogicalLine {
                    line: l.line,
                    text: l.text.trim().to_owned(),
                });
            }
        }
    };
    for (idx, raw) in text.lines().enumerate() {
        let (raw, backslash) = match raw.strip_suffix('\\') {
            Some(r) if !r.ends_with('\\') => (r, true),
            _ => (raw, false),
        };
        let joined = joined_by_backslash;
        let continues = raw.starts_with(char::is_whitespace);
        joined_by_backslash = backslash;
        match cur.as_mut() {
            // slapd drops the backslash and appends the next line as it is.
            Some((l, _)) if joined => l.text.push_str(raw),
            Some((l, _)) if continues => {
                let trimmed = raw.trim();
                if trimmed.starts_with('#') {
                    continue;
                }
                if !trimmed.is_empty() {
                    l.text.push(' ');
                    l.text.push_str(trimmed);
                }
            }
            _ => {
                finish(&mut cur);
                if raw.is_empty() {
                    continue;
                }
                cur = Some((
                    LogicalLine {
                        line: idx + 1,
                        text: raw.to_owned(),
                    },
                    raw.trim_start().starts_with('#'),
                ));
            }
        }
    }
    finish(&mut cur);
    out
}

/// Splits a logical line into arguments (slapd's quoting rules).
pub(crate) fn tokenize(text: &str) -> Result<Vec<String>, &'static str> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_token = false;
    let mut in_quote = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_quote = !in_quote;
                in_token = true;
            }
            '\\' if matches!(chars.peek(), Some('"' | '\\')) => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                in_token = true;
            }
            c if c.is_whitespace() && !in_quote => {
                if in_token {
                    tokens.push(std::mem::take(&mut current));
                    in_token = false;
                }
            }
            c => {
                current.push(c);
                in_token = true;
            }
        }
    }
    if in_quote {
        return Err("unterminated double quote");
    }
    if in_token {
        tokens.push(current);
    }
    Ok(tokens)
}

/// The text of a logical line after its first word.
fn rest_after_keyword(text: &str) -> &str {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => text.get(i..).unwrap_or("").trim(),
        None => "",
    }
}

/// Where a directive is, for error messages.
struct Ctx<'a> {
    file: &'a Path,
    line: usize,
    directive: &'a str,
}

impl Ctx<'_> {
    fn malformed(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::Malformed {
            file: self.file.to_path_buf(),
            line: self.line,
            directive: self.directive.to_owned(),
            reason: reason.into(),
        }
    }

    fn unknown(&self) -> ConfigError {
        ConfigError::Unknown {
            file: self.file.to_path_buf(),
            line: self.line,
            directive: self.directive.to_owned(),
        }
    }

    /// Requires exactly `n` arguments.
    fn exactly<'s>(&self, args: &'s [String], n: usize) -> Result<&'s [String], ConfigError> {
        if args.len() == n {
            Ok(args)
        } else {
            Err(self.malformed(format!(
                "expected {n} argument{}, got {}",
                if n == 1 { "" } else { "s" },
                args.len()
            )))
        }
    }

    /// Requires exactly one argument and returns it.
    fn one<'s>(&self, args: &'s [String]) -> Result<&'s str, ConfigError> {
        match self.exactly(args, 1)? {
            [a] => Ok(a),
            _ => Err(self.malformed("expected 1 argument")),
        }
    }

    /// Requires at least one argument.
    fn some<'s>(&self, args: &'s [String]) -> Result<&'s [String], ConfigError> {
        if args.is_empty() {
            Err(self.malformed("missing argument"))
        } else {
            Ok(args)
        }
    }

    fn uint(&self, what: &str, value: &str) -> Result<u32, ConfigError> {
        value.parse::<u32>().map_err(|_| {
            self.malformed(format!(
                "{what} must be a non-negative integer, got {value:?}"
            ))
        })
    }

    fn two_uints(&self, args: &[String], what: (&str, &str)) -> Result<(u32, u32), ConfigError> {
        match self.exactly(args, 2)? {
            [a, b] => Ok((self.uint(what.0, a)?, self.uint(what.1, b)?)),
            _ => Err(self.malformed("expected 2 arguments")),
        }
    }

    fn boolean(&self, args: &[String]) -> Result<bool, ConfigError> {
        let value = self.one(args)?;
        parse_bool(value).ok_or_else(|| {
            self.malformed(format!(
                "expected TRUE or FALSE (or on/off, yes/no), got {value:?}"
            ))
        })
    }

    /// An optional boolean argument; no argument means true.
    fn flag(&self, args: &[String]) -> Result<bool, ConfigError> {
        if args.is_empty() {
            Ok(true)
        } else {
            self.boolean(args)
        }
    }

    fn dn(&self, value: &str) -> Result<String, ConfigError> {
        check_dn(value).map_err(|reason| self.malformed(reason))?;
        Ok(value.to_owned())
    }
}

/// slapd's boolean words (true/false, yes/no, on/off), case-insensitively.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A loose syntax check of an RFC 4514 DN string: non-empty, and every RDN
/// component has the form `attr=value`. The full parse happens later.
fn check_dn(dn: &str) -> Result<(), String> {
    if dn.trim().is_empty() {
        return Err("empty DN".to_owned());
    }
    let mut components = Vec::new();
    let mut current = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            ',' | '+' | ';' => components.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    components.push(current);
    for component in &components {
        let Some((attr, _value)) = component.split_once('=') else {
            return Err(format!(
                "{dn:?} is not a DN: {component:?} is not attr=value"
            ));
        };
        let attr = attr.trim();
        let valid = attr
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && attr
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return Err(format!("{dn:?} is not a DN: bad attribute type {attr:?}"));
        }
    }
    Ok(())
}

/// A `sizelimit`/`timelimit` value: an integer, or `unlimited`/`none`/`-1`
/// for no limit (slapd.conf(5), slapd-limits).
fn parse_limit_value(value: &str) -> Option<Option<u32>> {
    match value.to_ascii_lowercase().as_str() {
        "unlimited" | "none" | "-1" => Some(None),
        v => v.parse::<u32>().ok().map(Some),
    }
}

/// Parses the arguments of `sizelimit` (`kind` = `size`) or `timelimit`
/// (`kind` = `time`): either one bare value (soft, with the hard limit following it), or
/// `kind[.soft|.hard]=value` words. Returns the new soft limit and the new hard limit,
/// each if the directive sets it.
fn parse_limit(
    ctx: &Ctx<'_>,
    args: &[String],
    kind: &str,
) -> Result<(Option<Option<u32>>, Option<HardLimit>), ConfigError> {
    let args = ctx.some(args)?;
    let bad = |v: &str| ctx.malformed(format!("expected an integer or \"unlimited\", got {v:?}"));
    if let [single] = args {
        if !single.contains('=') {
            let soft = parse_limit_value(single).ok_or_else(|| bad(single))?;
            return Ok((Some(soft), Some(HardLimit::Soft)));
        }
    }
    let mut soft = None;
    let mut hard = None;
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ctx.malformed(format!("expected {kind}[.soft|.hard]=VALUE, got {arg:?}")));
        };
        let key = key.to_ascii_lowercase();
        let sub = key.strip_prefix(kind).unwrap_or("?");
        match sub {
            // slapd-limits(5): the generic form sets both; the hard one follows the soft.
            "" => {
                soft = Some(parse_limit_value(value).ok_or_else(|| bad(value))?);
                hard = Some(HardLimit::Soft);
            }
            ".soft" => soft = Some(parse_limit_value(value).ok_or_else(|| bad(value))?),
            ".hard" => {
                hard = Some(if value.eq_ignore_ascii_case("soft") {
                    HardLimit::Soft
                } else {
                    HardLimit::Limit(parse_limit_value(value).ok_or_else(|| bad(value))?)
                });
            }
            // Paged-results and unchecked limits: accepted, not enforced.
            ".unchecked" | ".pr" | ".prtotal" if kind == "size" && !value.is_empty() => {}
            _ => return Err(ctx.malformed(format!("unknown limit {key:?}"))),
        }
    }
    Ok((soft, hard))
}

struct Parser {
    config: Config,
}

impl Parser {
    fn parse_text(&mut self, text: &str, file: &Path, depth: usize) -> Result<(), ConfigError> {
        for logical in logical_lines(text) {
            let first_word = logical.text.split_whitespace().next().unwrap_or("");
            let tokens = tokenize(&logical.text).map_err(|reason| ConfigError::Malformed {
                file: file.to_path_buf(),
                line: logical.line,
                directive: first_word.to_owned(),
                reason: reason.to_owned(),
            })?;
            let Some((directive, args)) = tokens.split_first() else {
                continue;
            };
            let ctx = Ctx {
                file,
                line: logical.line,
                directive,
            };
            let name = directive.to_ascii_lowercase();
            self.config.sites.push(DirectiveSite {
                args: if name == "rootpw" {
                    Vec::new()
                } else {
                    args.to_vec()
                },
                name,
                file: file.to_path_buf(),
                line: logical.line,
            });
            self.directive(&ctx, args, rest_after_keyword(&logical.text), depth)?;
        }
        Ok(())
    }

    /// Checks that the last database section is complete.
    fn finish_database(&self) -> Result<(), ConfigError> {
        match self.config.databases.last() {
            Some(db) if db.suffix.is_empty() => Err(ConfigError::Malformed {
                file: db.file.clone(),
                line: db.line,
                directive: "database".to_owned(),
                reason: "database section has no \"suffix\"".to_owned(),
            }),
            _ => Ok(()),
        }
    }

    fn db(&mut self, ctx: &Ctx<'_>) -> Result<&mut DatabaseConfig, ConfigError> {
        self.config
            .databases
            .last_mut()
            .ok_or_else(|| ctx.malformed("must appear after a \"database\" directive"))
    }

    fn overlay(&mut self, ctx: &Ctx<'_>) -> Result<&mut OverlayConfig, ConfigError> {
        self.db(ctx)?
            .overlays
            .last_mut()
            .ok_or_else(|| ctx.malformed("must appear after an \"overlay\" directive"))
    }

    fn syncprov(&mut self, ctx: &Ctx<'_>) -> Result<&mut SyncprovConfig, ConfigError> {
        match self.overlay(ctx)? {
            OverlayConfig::Syncprov(s) => Ok(s),
            other => {
                let name = other.name();
                Err(ctx.malformed(format!("belongs to overlay syncprov, not {name}")))
            }
        }
    }

    fn memberof(&mut self, ctx: &Ctx<'_>) -> Result<&mut MemberofConfig, ConfigError> {
        match self.overlay(ctx)? {
            OverlayConfig::Memberof(m) => Ok(m),
            other => {
                let name = other.name();
                Err(ctx.malformed(format!("belongs to overlay memberof, not {name}")))
            }
        }
    }

    fn refint(&mut self, ctx: &Ctx<'_>) -> Result<&mut RefintConfig, ConfigError> {
        match self.overlay(ctx)? {
            OverlayConfig::Refint(r) => Ok(r),
            other => {
                let name = other.name();
                Err(ctx.malformed(format!("belongs to overlay refint, not {name}")))
            }
        }
    }

    fn directive(
        &mut self,
        ctx: &Ctx<'_>,
        args: &[String],
        raw: &str,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let name = ctx.directive.to_ascii_lowercase();
        match name.as_str() {
            // ---- global directives ----
            "include" => self.include(ctx, ctx.one(args)?, depth)?,
            "allow" | "disallow" => {
                let allow = name == "allow";
                let known = if allow {
                    ALLOW_KEYWORDS
                } else {
                    DISALLOW_KEYWORDS
                };
                for word in ctx.some(args)? {
                    let word = word.to_ascii_lowercase();
                    if !known.contains(&word.as_str()) {
                        return Err(ctx.malformed(format!("unknown keyword {word:?}")));
                    }
                    let set = if allow {
                        &mut self.config.allow
                    } else {
                        &mut self.config.disallow
                    };
                    if word == "none" {
                        set.clear();
                    } else {
                        set.insert(word);
                    }
                }
            }
            "modulepath" => self.config.module_path = Some(PathBuf::from(ctx.one(args)?)),
            "moduleload" => {
                // slapd passes any further words to the module; ours take none.
                let module = ctx.some(args)?.first().map(String::as_str).unwrap_or("");
                let base = Path::new(module)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or(module)
                    .to_ascii_lowercase();
                let stem = base
                    .strip_suffix(".la")
                    .or_else(|| base.strip_suffix(".so"))
                    .unwrap_or(&base);
                if !BUILTIN_MODULES.contains(&stem) {
                    return Err(ctx.malformed(format!(
                        "module {module:?} is not available (oxldap has built in: {})",
                        BUILTIN_MODULES.join(", ")
                    )));
                }
                tracing::debug!(module = stem, "moduleload: built into oxldap");
                self.config.modules.push(stem.to_owned());
            }
            "pidfile" => self.config.pidfile = Some(PathBuf::from(ctx.one(args)?)),
            "argsfile" => self.config.argsfile = Some(PathBuf::from(ctx.one(args)?)),
            "loglevel" => {
                for level in ctx.some(args)? {
                    let lower = level.to_ascii_lowercase();
                    let numeric = lower
                        .strip_prefix("0x")
                        .map(|hex| i64::from_str_radix(hex, 16).is_ok())
                        .unwrap_or_else(|| lower.parse::<i64>().is_ok());
                    if !numeric && !LOGLEVEL_NAMES.contains(&lower.as_str()) {
                        return Err(ctx.malformed(format!("unknown log level {level:?}")));
                    }
                    self.config.loglevel.push(level.clone());
                }
            }
            "sizelimit" => {
                let (soft, hard) = parse_limit(ctx, args, "size")?;
                let (s, h) = match self.config.databases.last_mut() {
                    Some(db) => (&mut db.size_limit, &mut db.size_limit_hard),
                    None => (
                        &mut self.config.size_limit,
                        &mut self.config.size_limit_hard,
                    ),
                };
                if let Some(soft) = soft {
                    *s = soft;
                }
                if let Some(hard) = hard {
                    *h = hard;
                }
            }
            "timelimit" => {
                let (soft, hard) = parse_limit(ctx, args, "time")?;
                let (s, h) = match self.config.databases.last_mut() {
                    Some(db) => (&mut db.time_limit, &mut db.time_limit_hard),
                    None => (
                        &mut self.config.time_limit,
                        &mut self.config.time_limit_hard,
                    ),
                };
                if let Some(soft) = soft {
                    *s = soft;
                }
                if let Some(hard) = hard {
                    *h = hard;
                }
            }
            "conn_max" => {
                let n = ctx.uint("connections", ctx.one(args)?)?;
                if n == 0 {
                    return Err(ctx.malformed("must be at least 1"));
                }
                self.config.conn_max = Some(n);
            }
            "dbnosync" => {
                ctx.exactly(args, 0)?;
                self.db(ctx)?.dbnosync = true;
            }
            "serverid" => {
                let (id, url) = match args {
                    [id] => (id, None),
                    [id, url] => (id, Some(url.clone())),
                    _ => return Err(ctx.malformed("expected serverID N [URL]")),
                };
                let id = match id.strip_prefix("0x").or_else(|| id.strip_prefix("0X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => id.parse::<u32>().ok(),
                }
                .filter(|&n| n <= 4095)
                .ok_or_else(|| ctx.malformed(format!("server ID must be 0..4095, got {id:?}")))?;
                if self.config.server_id_url.is_some() || self.config.server_id != 0 {
                    return Err(ctx.malformed(
                        "only one serverID is supported (multi-provider replication is not)",
                    ));
                }
                self.config.server_id = id;
                self.config.server_id_url = url;
            }
            "idletimeout" => self.config.idle_timeout = ctx.uint("timeout", ctx.one(args)?)?,
            "writetimeout" => self.config.write_timeout = ctx.uint("timeout", ctx.one(args)?)?,
            "password-hash" => {
                for scheme in ctx.some(args)? {
                    let ok = scheme.len() > 2 && scheme.starts_with('{') && scheme.ends_with('}');
                    if !ok {
                        return Err(ctx.malformed(format!("expected {{SCHEME}}, got {scheme:?}")));
                    }
                    // slapd refuses a scheme it cannot produce; so does oxldap, for the
                    // first (the one used to hash), and accepts verify-only ones after it.
                    if self.config.password_hash.is_empty() && !crate::password::can_hash(scheme) {
                        return Err(ctx.malformed(format!(
                            "password scheme {scheme} is not supported for hashing"
                        )));
                    }
                    self.config.password_hash.push(scheme.clone());
                }
            }
            "tlscertificatefile" => {
                self.config.tls.certificate_file = Some(PathBuf::from(ctx.one(args)?))
            }
            "tlscertificatekeyfile" => {
                self.config.tls.certificate_key_file = Some(PathBuf::from(ctx.one(args)?));
            }
            "tlscacertificatefile" => {
                self.config.tls.ca_certificate_file = Some(PathBuf::from(ctx.one(args)?));
            }
            "tlsverifyclient" => {
                let value = ctx.one(args)?.to_ascii_lowercase();
                let value = match value.as_str() {
                    "never" | "allow" | "try" | "demand" => value,
                    "hard" | "true" => "demand".to_owned(),
                    _ => {
                        return Err(ctx
                            .malformed(format!("expected never|allow|try|demand, got {value:?}")))
                    }
                };
                self.config.tls.verify_client = Some(value);
            }
            "security" => match self.config.databases.last_mut() {
                Some(db) => db.security.parse(ctx, args)?,
                None => self.config.security.parse(ctx, args)?,
            },
            "access" => {
                let text = raw.to_owned();
                if !args.first().is_some_and(|w| w.eq_ignore_ascii_case("to")) {
                    return Err(ctx.malformed("expected access to <what> by <who> <access>..."));
                }
                // The syntax is checked here (slapd.access(5), the subset of crate::acl);
                // DNs and attribute names are checked against the schema when served.
                if let Err(e) = crate::acl::AccessRule::parse(&text) {
                    return Err(ctx.malformed(e.0));
                }
                match self.config.databases.last_mut() {
                    Some(db) => db.access.push(text),
                    None => self.config.access.push(text),
                }
            }

            // ---- database section ----
            "database" => {
                let backend = ctx.one(args)?.to_ascii_lowercase();
                if !matches!(backend.as_str(), "bdb" | "hdb" | "mdb") {
                    return Err(ctx.malformed(format!("database {backend} is not supported")));
                }
                self.finish_database()?;
                // slapd serves every database section; oxldap serves one directory, so a
                // second section would be parsed and silently ignored (tester 11).
                if let Some(first) = self.config.databases.first() {
                    return Err(ctx.malformed(format!(
                        "oxldap serves one database; the first is at {}:{} (suffix \"{}\"); \
                         put each directory in its own configuration and server",
                        first.file.display(),
                        first.line,
                        first.suffix
                    )));
                }
                tracing::info!(
                    "{}:{}: database {backend} is served by oxldap's sled backend",
                    ctx.file.display(),
                    ctx.line
                );
                let db =
                    DatabaseConfig::new(backend, ctx.file.to_path_buf(), ctx.line, &self.config);
                self.config.databases.push(db);
            }
            "suffix" => {
                let suffix = ctx.dn(ctx.one(args)?)?;
                let db = self.db(ctx)?;
                if !db.suffix.is_empty() {
                    return Err(ctx.malformed("oxldap supports one suffix per database"));
                }
                db.suffix = suffix;
            }
            "rootdn" => {
                let dn = ctx.dn(ctx.one(args)?)?;
                self.db(ctx)?.rootdn = Some(dn);
            }
            "rootpw" => {
                let pw = ctx.one(args)?;
                if pw.is_empty() {
                    return Err(ctx.malformed("empty password"));
                }
                self.db(ctx)?.rootpw = Some(Secret::new(pw));
            }
            "directory" => {
                let dir = PathBuf::from(ctx.one(args)?);
                self.db(ctx)?.directory = Some(dir);
            }
            "checkpoint" => {
                let cp = ctx.two_uints(args, ("kbytes", "minutes"))?;
                self.db(ctx)?.checkpoint = Some(cp);
            }
            "index" => {
                let spec = parse_index(ctx, args)?;
                self.db(ctx)?.indexes.push(spec);
            }
            "index_substr_if_minlen"
            | "index_substr_if_maxlen"
            | "index_substr_any_len"
            | "index_substr_any_step" => {
                let value = ctx.uint("length", ctx.one(args)?)?;
                if value == 0 {
                    return Err(ctx.malformed("must be at least 1"));
                }
                let t = &mut self.db(ctx)?.substr_tunables;
                let value = usize::try_from(value).unwrap_or(usize::MAX);
                match name.as_str() {
                    "index_substr_if_minlen" => t.if_minlen = value,
                    "index_substr_if_maxlen" => t.if_maxlen = value,
                    "index_substr_any_len" => t.any_len = value,
                    _ => t.any_step = value,
                }
            }
            "limits" => {
                ctx.some(args)?;
                crate::limits::LimitRule::parse(args).map_err(|e| ctx.malformed(e))?;
                let text = raw.to_owned();
                self.db(ctx)?.limits.push(text);
            }
            "lastmod" => {
                let on = ctx.boolean(args)?;
                // Content sync, the change log and memberOf need entryUUID and entryCSN on
                // every entry; a directive that cannot be honoured is refused, not ignored.
                if !on {
                    return Err(ctx.malformed(
                        "`lastmod off` is not supported: oxldap always maintains entryUUID, \
                         entryCSN and the timestamps (content sync needs them)",
                    ));
                }
                self.db(ctx)?.lastmod = on;
            }
            "readonly" => {
                let on = ctx.boolean(args)?;
                self.db(ctx)?.readonly = on;
            }
            "maxsize" => {
                let value = ctx.one(args)?;
                let size = value.parse::<u64>().map_err(|_| {
                    ctx.malformed(format!("expected a size in bytes, got {value:?}"))
                })?;
                tracing::info!(
                    "{}:{}: maxsize is not needed by oxldap's sled backend; ignored",
                    ctx.file.display(),
                    ctx.line
                );
                self.db(ctx)?.max_size = Some(size);
            }
            "overlay" => {
                let overlay = match ctx.one(args)?.to_ascii_lowercase().as_str() {
                    "syncprov" => OverlayConfig::Syncprov(SyncprovConfig::default()),
                    "memberof" => OverlayConfig::Memberof(MemberofConfig::default()),
                    "refint" => OverlayConfig::Refint(RefintConfig::default()),
                    other => {
                        return Err(ctx.malformed(format!(
                            "overlay {other} is not supported (syncprov, memberof and refint are)"
                        )))
                    }
                };
                let db = self.db(ctx)?;
                if db.overlays.iter().any(|o| o.name() == overlay.name()) {
                    return Err(
                        ctx.malformed(format!("overlay {} configured twice", overlay.name()))
                    );
                }
                db.overlays.push(overlay);
            }

            // ---- slapo-syncprov(5) ----
            "syncprov-checkpoint" => {
                let cp = ctx.two_uints(args, ("ops", "minutes"))?;
                self.syncprov(ctx)?.checkpoint = Some(cp);
            }
            "syncprov-sessionlog" => {
                let n = ctx.uint("size", ctx.one(args)?)?;
                self.syncprov(ctx)?.sessionlog = Some(n);
            }
            "syncprov-nopresent" => {
                let on = ctx.flag(args)?;
                self.syncprov(ctx)?.nopresent = on;
            }
            "syncprov-reloadhint" => {
                let on = ctx.flag(args)?;
                self.syncprov(ctx)?.reloadhint = on;
            }
            "syncprov-queue-limit" => {
                let n = ctx.uint("writes", ctx.one(args)?)?;
                self.syncprov(ctx)?.queue_limit = Some(n.max(1));
            }
            "syncprov-queue-size" => {
                let n = ctx.uint("bytes", ctx.one(args)?)?;
                self.syncprov(ctx)?.queue_bytes = Some(n.max(1));
            }

            // ---- slapo-memberof(5) ----
            "memberof-refint" => {
                let on = ctx.boolean(args)?;
                self.memberof(ctx)?.refint = on;
            }
            "memberof-group-oc" => {
                let oc = ctx.one(args)?.to_owned();
                self.memberof(ctx)?.group_oc = oc;
            }
            "memberof-member-ad" => {
                let ad = ctx.one(args)?.to_owned();
                self.memberof(ctx)?.member_ad = ad;
            }
            "memberof-memberof-ad" => {
                let ad = ctx.one(args)?.to_owned();
                self.memberof(ctx)?.memberof_ad = ad;
            }
            "memberof-dangling" => {
                let value = ctx.one(args)?;
                let dangling = match value.to_ascii_lowercase().as_str() {
                    "ignore" => Dangling::Ignore,
                    "drop" => Dangling::Drop,
                    "error" => Dangling::Error,
                    _ => {
                        return Err(
                            ctx.malformed(format!("expected ignore|drop|error, got {value:?}"))
                        )
                    }
                };
                self.memberof(ctx)?.dangling = dangling;
            }
            "memberof-dangling-error" => {
                let code = ctx.uint("result code", ctx.one(args)?)?;
                self.memberof(ctx)?.dangling_error = Some(code);
            }
            "memberof-dn" => {
                let dn = ctx.dn(ctx.one(args)?)?;
                self.memberof(ctx)?.dn = Some(dn);
            }

            // ---- slapo-refint(5) ----
            "refint_attributes" => {
                let attrs = ctx.some(args)?.to_vec();
                self.refint(ctx)?.attributes.extend(attrs);
            }
            "refint_nothing" => {
                let dn = ctx.dn(ctx.one(args)?)?;
                self.refint(ctx)?.nothing = Some(dn);
            }
            "refint_modifiersname" => {
                let dn = ctx.dn(ctx.one(args)?)?;
                self.refint(ctx)?.modifiers_name = Some(dn);
            }
            // slapd.conf(5) "GLOBAL CONFIGURATION OPTIONS": schema definitions may be
            // written in the configuration file itself; loaded in order with the includes.
            d if oxldap_schema::is_schema_directive(d) => {
                self.config.includes.push(SchemaInclude {
                    path: ctx.file.to_path_buf(),
                    name: format!("{}:{}", ctx.file.display(), ctx.line),
                    builtin: false,
                    inline: Some(format!("{} {raw}", ctx.directive)),
                });
            }
            _ => return Err(ctx.unknown()),
        }
        Ok(())
    }

    /// slapd.conf(5) `include`: a `.schema`/`.ldif` file is recorded for the
    /// schema loader; anything else is read as configuration in place.
    fn include(&mut self, ctx: &Ctx<'_>, written: &str, depth: usize) -> Result<(), ConfigError> {
        let written_path = Path::new(written);
        let found = resolve_include(ctx.file, written_path);
        let extension = written_path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(extension.as_deref(), Some("schema" | "ldif")) {
            let name = written_path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            let include = match found {
                Some(path) => SchemaInclude {
                    path,
                    name,
                    builtin: false,
                    inline: None,
                },
                None if BUILTIN_SCHEMAS.contains(&name.as_str()) => {
                    // axigen gets one warning when the schema is built (the stand-in
                    // adds nothing); the standard schemas get this note.
                    if name != "axigen" {
                        tracing::info!(
                            "{}:{}: {written} not found; using oxldap's built-in {name} schema",
                            ctx.file.display(),
                            ctx.line
                        );
                    }
                    SchemaInclude {
                        path: written_path.to_path_buf(),
                        name,
                        builtin: true,
                        inline: None,
                    }
                }
                None => {
                    return Err(ConfigError::Include {
                        file: ctx.file.to_path_buf(),
                        line: ctx.line,
                        path: written_path.to_path_buf(),
                        source: io::Error::new(io::ErrorKind::NotFound, "schema file not found"),
                    })
                }
            };
            self.config.includes.push(include);
            return Ok(());
        }
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(ctx.malformed(format!(
                "includes nested more than {MAX_INCLUDE_DEPTH} deep (include loop?)"
            )));
        }
        let path = found.unwrap_or_else(|| written_path.to_path_buf());
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Include {
            file: ctx.file.to_path_buf(),
            line: ctx.line,
            path: written_path.to_path_buf(),
            source,
        })?;
        self.parse_text(&text, &path, depth + 1)
    }
}

/// Finds an included file: as written (relative to the working directory,
/// like slapd), else relative to the including file's directory.
fn resolve_include(including: &Path, written: &Path) -> Option<PathBuf> {
    if written.is_file() {
        return Some(written.to_path_buf());
    }
    if written.is_relative() {
        let beside = including.parent()?.join(written);
        if beside.is_file() {
            return Some(beside);
        }
    }
    None
}

/// Parses `index {attrlist|default} [types]`.
fn parse_index(ctx: &Ctx<'_>, args: &[String]) -> Result<IndexSpec, ConfigError> {
    let (attrs, kinds) = match args {
        [attrs] => (attrs, None),
        [attrs, kinds] => (attrs, Some(kinds)),
        _ => return Err(ctx.malformed("expected index ATTR[,ATTR...] [TYPE[,TYPE...]]")),
    };
    let attrs: Vec<String> = attrs
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    if attrs.is_empty() {
        return Err(ctx.malformed("no attribute named"));
    }
    if let Some(bad) = attrs.iter().find(|a| {
        !a.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ';' | '.'))
    }) {
        return Err(ctx.malformed(format!("bad attribute name {bad:?}")));
    }
    let mut set = BTreeSet::new();
    for word in kinds.iter().flat_map(|k| k.split(',')).map(str::trim) {
        if word.is_empty() {
            continue;
        }
        let kind = IndexKind::parse(word)
            .ok_or_else(|| ctx.malformed(format!("unknown index type {word:?}")))?;
        set.insert(kind);
    }
    Ok(IndexSpec { attrs, kinds: set })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        parse_str(text, Path::new("test.conf"))
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(c) => format!("unexpectedly parsed: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    const DB: &str = "database mdb\nsuffix \"dc=example,dc=com\"\n";

    fn check_axigen(cfg: &Config) {
        let names: Vec<&str> = cfg.includes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["core", "cosine", "inetorgperson", "misc", "axigen"]);
        assert!(cfg.allows_bind_v2());
        assert_eq!(cfg.module_path.as_deref(), Some(Path::new("/usr/lib/ldap")));
        assert!(cfg.modules.contains(&"syncprov".to_owned()));
        assert!(cfg.modules.contains(&"memberof".to_owned()));
        let db = cfg.database().expect("database");
        assert_eq!(db.backend, "bdb");
        assert_eq!(db.suffix, "dc=localdomain,dc=test");
        assert_eq!(
            db.rootdn.as_deref(),
            Some("cn=admin,dc=localdomain,dc=test")
        );
        assert_eq!(db.rootpw.as_ref().map(Secret::expose), Some("secret"));
        assert_eq!(db.directory.as_deref(), Some(Path::new("./oxldap-data")));
        assert_eq!(db.checkpoint, Some((512, 30)));
        assert_eq!(db.indexes.len(), 3);
        let sp = db.syncprov().expect("syncprov");
        assert_eq!(sp.checkpoint, Some((100, 30)));
        assert_eq!(sp.sessionlog, Some(1000));
        assert!(db.memberof().expect("memberof").refint);
        assert!(db.refint().is_none());
    }

    #[test]
    fn default_conf_parses() {
        let cfg = parse_str(DEFAULT_CONFIG, Path::new(DEFAULT_CONFIG_ORIGIN)).expect("parses");
        check_axigen(&cfg);
        assert_eq!(cfg, Config::default_embedded());
        assert!(cfg.pidfile.is_none());
        assert!(cfg.argsfile.is_none());
    }

    #[test]
    fn example_conf_parses() {
        let text = include_str!("../../examples/axigen-slapd.conf");
        let cfg = parse_str(text, Path::new("examples/axigen-slapd.conf")).expect("parses");
        check_axigen(&cfg);
        assert!(cfg.pidfile.is_none());
    }

    #[test]
    fn defaults() {
        let cfg = parse(DB).expect("parses");
        assert_eq!(cfg.size_limit, Some(500));
        assert_eq!(cfg.time_limit, Some(3600));
        assert_eq!(cfg.server_id, 0);
        let db = cfg.database().expect("db");
        assert!(db.lastmod);
        assert!(!db.readonly);
        assert_eq!(db.size_limit, Some(500));
        assert_eq!(db.substr_tunables, SubstrTunables::default());
        assert!(!cfg.allows_bind_v2());
    }

    #[test]
    fn continuation_lines_and_access() {
        let text = format!(
            "{DB}access to attrs=userPassword\n  by self write\n\tby anonymous auth\n# comment\n  by * none\naccess to * by * read\n"
        );
        let cfg = parse(&text).expect("parses");
        let db = cfg.database().expect("db");
        // slapd.conf(5): a line starting with white space continues the previous line
        // "even if the previous line is a comment": `by * none` is commented out too.
        assert_eq!(
            db.access,
            [
                "to attrs=userPassword by self write by anonymous auth",
                "to * by * read"
            ]
        );
    }

    /// A commented-out directive's continuation lines must not join the directive
    /// before the comment (tester 11: `by * write` under a commented-out rule gave
    /// every user write access to userPassword).
    #[test]
    fn continuation_of_a_comment_is_a_comment() {
        let text = format!(
            "{DB}access to attrs=userPassword\n\tby self write\n\tby anonymous auth\n\n# access to attrs=description\n#\tby users read\n\tby * write\nsizelimit 10\n# note\n  20\n"
        );
        let cfg = parse(&text).expect("parses");
        let db = cfg.database().expect("db");
        assert_eq!(
            db.access,
            ["to attrs=userPassword by self write by anonymous auth"]
        );
        assert_eq!(
            db.size_limit,
            Some(10),
            "the continuation of `# note` is a comment"
        );
    }

    /// slapd's other joining rules: a trailing backslash joins the next line; an empty
    /// line ends the logical line, so an indented line after it starts a directive of
    /// its own (here an unknown one, refused with its line number).
    #[test]
    fn backslash_and_empty_lines() {
        let cfg = parse("database mdb\nsuffix dc=x,\\\ndc=y\n").expect("parses");
        assert_eq!(cfg.database().expect("db").suffix, "dc=x,dc=y");
        let e = err("database mdb\nsuffix dc=x,dc=y\naccess to * by * read\n\n  by self write\n");
        assert!(e.contains(":5:"), "{e}");
    }

    #[test]
    fn continued_directive_arguments() {
        let cfg =
            parse("database mdb\nsuffix\n   dc=x,dc=y\nindex cn\n  eq,sub\n").expect("parses");
        let db = cfg.database().expect("db");
        assert_eq!(db.suffix, "dc=x,dc=y");
        assert_eq!(db.indexes[0].kinds.len(), 2);
    }

    #[test]
    fn quoted_values() {
        let cfg = parse(
            "database mdb\nsuffix \"dc=my org,dc=test\"\nrootpw \"a \\\"b\\\" c\"\ndirectory \"/tmp/with space\"\n",
        )
        .expect("parses");
        let db = cfg.database().expect("db");
        assert_eq!(db.suffix, "dc=my org,dc=test");
        assert_eq!(db.rootpw.as_ref().map(Secret::expose), Some("a \"b\" c"));
        assert_eq!(db.directory.as_deref(), Some(Path::new("/tmp/with space")));
        assert!(err("database mdb\nsuffix \"dc=x").contains("unterminated"));
    }

    #[test]
    fn comments_and_blank_lines() {
        let cfg = parse("# leading\n\n   # indented comment\n\t\nallow bind_v2\n#database foo\n")
            .expect("parses");
        assert!(cfg.allows_bind_v2());
        assert!(cfg.databases.is_empty());
    }

    #[test]
    fn directive_names_case_insensitive() {
        let cfg = parse(
            "ALLOW Bind_V2\nDataBase MDB\nSuffix dc=x\nOVERLAY MemberOf\nMemberOf-Refint TRUE\n",
        )
        .expect("parses");
        assert!(cfg.allows_bind_v2());
        assert!(
            cfg.database()
                .and_then(DatabaseConfig::memberof)
                .expect("memberof")
                .refint
        );
    }

    #[test]
    fn unknown_directive_message() {
        let e = parse_str(
            "allow bind_v2\n\n  \nfoo bar\n",
            Path::new("examples/axigen-slapd.conf"),
        )
        .expect_err("unknown");
        assert!(
            matches!(&e, ConfigError::Unknown { line: 4, directive, .. } if directive == "foo")
        );
        assert_eq!(
            e.to_string(),
            "examples/axigen-slapd.conf:4: unknown directive \"foo\""
        );
        assert!(err("require authc\n").contains("unknown directive \"require\""));
    }

    #[test]
    fn database_directives_need_database() {
        let e = err("suffix dc=example,dc=com\n");
        assert!(e.starts_with("test.conf:1: \"suffix\""), "{e}");
        assert!(e.contains("after a \"database\""), "{e}");
        assert!(err("rootdn cn=x\n").contains("database"));
        assert!(err("overlay syncprov\n").contains("database"));
    }

    #[test]
    fn overlay_directives_need_overlay() {
        assert!(err(&format!("{DB}memberof-refint true\n")).contains("after an \"overlay\""));
        assert!(err(&format!("{DB}overlay syncprov\nmemberof-refint true\n")).contains("memberof"));
        assert!(err(&format!("{DB}overlay accesslog\n")).contains("not supported"));
    }

    #[test]
    fn unsupported_databases() {
        assert!(err("database monitor\n").contains("database monitor is not supported"));
        assert!(err("database config\n").contains("database config is not supported"));
        assert!(err("database mdb\n").contains("no \"suffix\""));
        assert!(err("database mdb\ndatabase mdb\nsuffix dc=x\n").contains(":1:"));
        let e = err("database mdb\nsuffix dc=x\ndatabase mdb\nsuffix dc=y\n");
        assert!(
            e.contains(":3:") && e.contains("serves one database"),
            "{e}"
        );
    }

    #[test]
    fn memberof_options() {
        for (word, expected) in [
            ("true", true),
            ("TRUE", true),
            ("yes", true),
            ("On", true),
            ("false", false),
            ("NO", false),
            ("off", false),
        ] {
            let cfg =
                parse(&format!("{DB}overlay memberof\nmemberof-refint {word}\n")).expect(word);
            let m = cfg
                .database()
                .and_then(DatabaseConfig::memberof)
                .cloned()
                .expect("memberof");
            assert_eq!(m.refint, expected, "{word}");
        }
        assert!(err(&format!("{DB}overlay memberof\nmemberof-refint maybe\n")).contains("maybe"));
        let cfg = parse(&format!(
            "{DB}overlay memberof\nmemberof-group-oc groupOfUniqueNames\nmemberof-member-ad uniqueMember\n\
             memberof-memberof-ad isMemberOf\nmemberof-dangling error\nmemberof-dangling-error 19\n\
             memberof-dn cn=admin,dc=example,dc=com\n"
        ))
        .expect("parses");
        let m = cfg
            .database()
            .and_then(DatabaseConfig::memberof)
            .cloned()
            .expect("memberof");
        assert_eq!(m.group_oc, "groupOfUniqueNames");
        assert_eq!(m.member_ad, "uniqueMember");
        assert_eq!(m.memberof_ad, "isMemberOf");
        assert_eq!(m.dangling, Dangling::Error);
        assert_eq!(m.dangling_error, Some(19));
        assert_eq!(m.dn.as_deref(), Some("cn=admin,dc=example,dc=com"));
        let d = MemberofConfig::default();
        assert_eq!(
            (
                d.group_oc.as_str(),
                d.member_ad.as_str(),
                d.memberof_ad.as_str()
            ),
            ("groupOfNames", "member", "memberOf")
        );
    }

    #[test]
    fn refint_and_syncprov_options() {
        let cfg = parse(&format!(
            "{DB}overlay refint\nrefint_attributes member manager\nrefint_attributes owner\n\
             refint_nothing cn=nobody\nrefint_modifiersName cn=refint\noverlay syncprov\nsyncprov-nopresent\n\
             syncprov-reloadhint FALSE\n"
        ))
        .expect("parses");
        let db = cfg.database().expect("db");
        let r = db.refint().expect("refint");
        assert_eq!(r.attributes, ["member", "manager", "owner"]);
        assert_eq!(r.nothing.as_deref(), Some("cn=nobody"));
        assert_eq!(r.modifiers_name.as_deref(), Some("cn=refint"));
        let s = db.syncprov().expect("syncprov");
        assert!(s.nopresent);
        assert!(!s.reloadhint);
        assert!(
            err(&format!("{DB}overlay syncprov\nsyncprov-checkpoint 100\n"))
                .contains("2 arguments")
        );
        assert!(
            err(&format!("{DB}overlay syncprov\nsyncprov-sessionlog -1\n"))
                .contains("non-negative")
        );
    }

    #[test]
    fn index_parsing() {
        let cfg = parse(&format!(
            "{DB}index objectClass eq\nindex ou,cn,mail,surname,givenname eq,pres,sub\nindex default eq\n\
             index entryUUID,entryCSN eq\nindex sn approx,subinitial,subany,subfinal,nolang,notags,nosubtypes\n\
             index uid\nindex cn Equality,PRESENT,substr,approximate\n\
             index_substr_if_minlen 3\nindex_substr_if_maxlen 6\nindex_substr_any_len 5\nindex_substr_any_step 3\n"
        ))
        .expect("parses");
        let db = cfg.database().expect("db");
        use IndexKind::*;
        assert_eq!(db.indexes[0].attrs, ["objectClass"]);
        assert_eq!(db.indexes[0].kinds, BTreeSet::from([Equality]));
        assert_eq!(
            db.indexes[1].attrs,
            ["ou", "cn", "mail", "surname", "givenname"]
        );
        assert_eq!(
            db.indexes[1].kinds,
            BTreeSet::from([Equality, Presence, Substring])
        );
        assert_eq!(db.indexes[2].attrs, ["default"]);
        assert_eq!(db.indexes[3].attrs, ["entryUUID", "entryCSN"]);
        assert_eq!(
            db.indexes[4].kinds,
            BTreeSet::from([Approx, SubInitial, SubAny, SubFinal, NoLang, NoTags, NoSubtypes])
        );
        assert!(db.indexes[5].kinds.is_empty());
        assert_eq!(
            db.indexes[6].kinds,
            BTreeSet::from([Equality, Presence, Substring, Approx])
        );
        assert_eq!(
            db.substr_tunables,
            SubstrTunables {
                if_minlen: 3,
                if_maxlen: 6,
                any_len: 5,
                any_step: 3
            }
        );
        assert!(err(&format!("{DB}index cn bogus\n")).contains("unknown index type \"bogus\""));
        assert!(err(&format!("{DB}index\n")).contains("expected index"));
        assert!(err(&format!("{DB}index cn eq extra\n")).contains("expected index"));
    }

    #[test]
    fn limits() {
        let cfg = parse(
            "sizelimit unlimited\ntimelimit 60\ndatabase mdb\nsuffix dc=x\nsizelimit size.soft=10 size.hard=100\n\
             timelimit time.hard=soft\nlimits dn.exact=\"cn=admin,dc=x\" size=unlimited\n",
        )
        .expect("parses");
        assert_eq!(cfg.size_limit, None);
        assert_eq!(cfg.time_limit, Some(60));
        let db = cfg.database().expect("db");
        assert_eq!(db.size_limit, Some(10));
        assert_eq!(db.time_limit, Some(60));
        assert_eq!(db.limits, ["dn.exact=\"cn=admin,dc=x\" size=unlimited"]);
        assert_eq!(db.size_limit_hard, HardLimit::Limit(Some(100)));
        assert_eq!(db.time_limit_hard, HardLimit::Soft);
        let cfg = parse("sizelimit size.hard=unlimited\ntimelimit time.soft=5 time.hard=9\nconn_max 7\ndatabase mdb\nsuffix dc=x\ndbnosync\n")
            .expect("parses");
        assert_eq!(cfg.size_limit, Some(DEFAULT_SIZE_LIMIT));
        assert_eq!(cfg.size_limit_hard, HardLimit::Limit(None));
        assert_eq!(cfg.conn_max, Some(7));
        let db = cfg.database().expect("db");
        assert_eq!(
            (db.time_limit, db.time_limit_hard),
            (Some(5), HardLimit::Limit(Some(9)))
        );
        assert!(db.dbnosync);
        assert!(err("conn_max 0\n").contains("at least 1"));
        assert!(err("database mdb\nsuffix dc=x\ndbnosync yes\n").contains("argument"));
        assert!(err("sizelimit lots\n").contains("lots"));
        assert!(err("sizelimit size.bogus=3\n").contains("unknown limit"));
        assert!(err("timelimit time.pr=3\n").contains("unknown limit"));
        assert_eq!(
            parse("sizelimit size=-1\n").expect("parses").size_limit,
            None
        );
    }

    #[test]
    fn global_options() {
        let cfg = parse(
            "allow bind_v2 bind_anon_cred\ndisallow bind_anon\nmoduleload /usr/lib/ldap/back_mdb.so\n\
             moduleload refint\npidfile /run/x.pid\nargsfile /run/x.args\nloglevel stats 256 0x10 -1\n\
             loglevel none\nserverID 3 ldap://h/\nidletimeout 30\nwritetimeout 4\npassword-hash {SSHA} {CRYPT}\n\
             TLSCertificateFile /c.pem\nTLSCertificateKeyFile /k.pem\nTLSCACertificateFile /ca.pem\n\
             TLSVerifyClient hard\naccess to dn.base=\"\" by * read\n",
        )
        .expect("parses");
        assert_eq!(
            cfg.allow,
            BTreeSet::from(["bind_v2".to_owned(), "bind_anon_cred".to_owned()])
        );
        assert!(cfg.disallow.contains("bind_anon"));
        assert_eq!(cfg.modules, ["back_mdb", "refint"]);
        assert_eq!(cfg.pidfile.as_deref(), Some(Path::new("/run/x.pid")));
        assert_eq!(cfg.argsfile.as_deref(), Some(Path::new("/run/x.args")));
        assert_eq!(cfg.loglevel, ["stats", "256", "0x10", "-1", "none"]);
        assert_eq!(cfg.server_id, 3);
        assert_eq!(cfg.server_id_url.as_deref(), Some("ldap://h/"));
        assert_eq!(cfg.idle_timeout, 30);
        assert_eq!(cfg.write_timeout, 4);
        assert_eq!(cfg.password_hash, ["{SSHA}", "{CRYPT}"]);
        assert_eq!(
            cfg.tls.certificate_file.as_deref(),
            Some(Path::new("/c.pem"))
        );
        assert_eq!(
            cfg.tls.certificate_key_file.as_deref(),
            Some(Path::new("/k.pem"))
        );
        assert_eq!(
            cfg.tls.ca_certificate_file.as_deref(),
            Some(Path::new("/ca.pem"))
        );
        assert_eq!(cfg.tls.verify_client.as_deref(), Some("demand"));
        assert_eq!(cfg.access, ["to dn.base=\"\" by * read"]);
        assert!(parse("allow bind_v2\nallow none\n")
            .expect("parses")
            .allow
            .is_empty());
        assert!(err("moduleload back_sql.la\n").contains("not available"));
        assert!(err("allow everything\n").contains("unknown keyword"));
        assert!(err("loglevel verbose\n").contains("unknown log level"));
        assert!(err("serverID 5000\n").contains("0..4095"));
        assert!(err("password-hash SSHA\n").contains("SCHEME"));
        assert!(err("password-hash {CRYPT}\n").contains("not supported for hashing"));
        assert!(err("password-hash {BOGUS}\n").contains("not supported for hashing"));
        assert!(err("TLSVerifyClient sometimes\n").contains("never"));
    }

    #[test]
    fn security_factors() {
        let cfg = parse(&format!(
            "security ssf=1 simple_bind=128 update_TLS=256\n{DB}security update_ssf=128\n"
        ))
        .expect("parses");
        assert_eq!(cfg.security.ssf, 1);
        assert_eq!(cfg.security.simple_bind, 128);
        assert_eq!(cfg.security.update_tls, 256);
        let db = cfg.database().expect("db");
        // The database inherits the global factors and adds its own.
        assert_eq!(db.security.ssf, 1);
        assert_eq!(db.security.update_ssf, 128);
        assert_eq!(cfg.security.update_ssf, 0);
        assert!(err("security ssf\n").contains("FACTOR=N"));
        assert!(err("security ssf=-1\n").contains("non-negative"));
        assert!(err("security strength=3\n").contains("unknown security factor"));
        assert!(err("security\n").contains("missing argument"));
    }

    #[test]
    fn database_options() {
        let cfg = parse(&format!(
            "{DB}rootdn \"cn=admin,dc=example,dc=com\"\nrootpw {{SSHA}}abc\ndirectory rel/dir\ncheckpoint 1024 5\n\
             lastmod on\nreadonly on\nmaxsize 1073741824\nsizelimit 5\n"
        ))
        .expect("parses");
        let db = cfg.database().expect("db");
        assert_eq!(db.rootpw.as_ref().map(Secret::expose), Some("{SSHA}abc"));
        assert_eq!(format!("{:?}", db.rootpw), "Some(***)");
        assert!(!format!("{db:?}").contains("abc"));
        assert_eq!(db.directory.as_deref(), Some(Path::new("rel/dir")));
        assert_eq!(db.checkpoint, Some((1024, 5)));
        assert!(db.lastmod);
        assert!(db.readonly);
        assert!(err(&format!("{DB}lastmod off\n")).contains("not supported"));
        assert_eq!(db.max_size, Some(1 << 30));
        assert_eq!(db.size_limit, Some(5));
        assert_eq!(cfg.size_limit, Some(500));
        assert!(err(&format!("{DB}checkpoint 1 -2\n")).contains("minutes"));
        assert!(err(&format!("{DB}lastmod maybe\n")).contains("maybe"));
        assert!(err("database mdb\nsuffix example.com\n").contains("not a DN"));
        assert!(err("database mdb\nsuffix \"\"\n").contains("empty DN"));
        assert!(err(&format!("{DB}suffix dc=other\n")).contains("one suffix"));
        assert!(err(&format!("{DB}rootdn\n")).contains("expected 1 argument"));
    }

    #[test]
    fn includes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner = dir.path().join("db.conf");
        std::fs::write(&inner, "database mdb\nsuffix dc=inc\ninclude nested.conf\n")
            .expect("write");
        std::fs::write(dir.path().join("nested.conf"), "rootdn cn=admin,dc=inc\n").expect("write");
        let local_schema = dir.path().join("local.schema");
        std::fs::write(&local_schema, "# nothing\n").expect("write");
        let main = dir.path().join("slapd.conf");
        std::fs::write(
            &main,
            format!(
                "include /nonexistent/schema/core.schema\ninclude {}\ninclude /nonexistent/NIS.schema\ninclude {}\n",
                local_schema.display(),
                inner.display()
            ),
        )
        .expect("write");
        let cfg = load(&main).expect("parses");
        assert_eq!(cfg.includes.len(), 3);
        assert_eq!(cfg.includes[0].name, "core");
        assert!(cfg.includes[0].builtin);
        assert_eq!(cfg.includes[1].name, "local");
        assert_eq!(cfg.includes[1].path, local_schema);
        assert!(!cfg.includes[1].builtin);
        assert_eq!(cfg.includes[2].name, "nis");
        let db = cfg.database().expect("db");
        assert_eq!(db.suffix, "dc=inc");
        assert_eq!(db.rootdn.as_deref(), Some("cn=admin,dc=inc"));
        assert_eq!(db.file, inner);

        let e = err("include /nonexistent/foo.conf\n");
        assert!(
            e.starts_with("test.conf:1: include \"/nonexistent/foo.conf\""),
            "{e}"
        );
        let e = err("include /nonexistent/custom.schema\n");
        assert!(e.contains("custom.schema"), "{e}");

        let bad = dir.path().join("bad.conf");
        std::fs::write(&bad, "\n\nbogus 1\n").expect("write");
        let e = parse(&format!("include {}\n", bad.display())).expect_err("bad");
        assert_eq!(
            e.to_string(),
            format!("{}:3: unknown directive \"bogus\"", bad.display())
        );
    }

    #[test]
    fn include_loop_is_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let looping = dir.path().join("loop.conf");
        std::fs::write(&looping, format!("include {}\n", looping.display())).expect("write");
        let e = load(&looping).expect_err("loop");
        assert!(e.to_string().contains("nested more than 10"), "{e}");
    }

    #[test]
    fn load_missing_file() {
        let e = load(Path::new("/nonexistent/slapd.conf")).expect_err("missing");
        assert!(matches!(e, ConfigError::Io { .. }));
        assert!(e.to_string().starts_with("/nonexistent/slapd.conf: "));
    }

    #[test]
    fn garbage_never_panics() {
        let inputs = [
            "\"",
            "\\",
            "\u{feff}allow bind_v2",
            "   indented first line",
            "database\u{0}mdb",
            "suffix \"\\\"",
            "index ,,, ,,",
            "sizelimit =",
            "serverID 0x",
            "moduleload /",
            "include",
            "include \"\"",
            "access",
            "database mdb\nsuffix dc=x\noverlay memberof\nmemberof-dn",
            "\u{1F600} \u{1F600}",
        ];
        for input in inputs {
            let _ = parse(input);
        }
    }
}
