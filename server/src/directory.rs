//! The served directory: the store plus the configuration the operations need (suffix,
//! rootdn, limits), built once from a [`Config`] and shared by every connection.

use crate::config::{Config, DatabaseConfig, OverlayConfig};
use crate::error::LdapError;
use oxldap_proto::{Attribute, Dn, Entry, ResultCode};
use oxldap_schema::{NormDn, Schema};
use oxldap_store::{
    Dangling, IndexConfig, IndexKind, MemberOf, OverlayKind, Overlays, Refint, Store, StoreError,
    StoreOptions, WriteCtx,
};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the database lives, overriding the configuration's `directory`.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Run on a temporary in-memory sled that vanishes on exit (`serve --memory`).
    pub memory: bool,
    /// Use this folder instead of the configured `directory`.
    pub data_dir: Option<PathBuf>,
    /// A fixed clock (microseconds since the epoch) for reproducible CSNs.
    pub fixed_clock: Option<i64>,
}

/// Why the directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The configuration has no `database` section.
    #[error("the configuration has no database section")]
    NoDatabase,
    /// A DN in the configuration does not parse or normalize.
    #[error("{directive} {value:?}: {reason}")]
    BadDn {
        /// The directive (suffix, rootdn).
        directive: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A schema file could not be read or loaded.
    #[error("schema: {0}")]
    Schema(String),
    /// The data folder could not be created.
    #[error("cannot create the data folder {path}: {source}")]
    CreateDir {
        /// The data folder.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The TLS settings cannot be used.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// An `access` directive names an unknown attribute or an invalid DN.
    #[error("{0}")]
    Access(#[from] crate::acl::AclError),
    /// A directive the schema refuses (`crate::config_check`), with its file and line.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened.
    #[error("cannot open the database in {path}: {source}")]
    Store {
        /// The data folder.
        path: String,
        /// The store's error.
        source: StoreError,
    },
}

/// Limits applied to searches (slapd `sizelimit` / `timelimit`; None is unlimited) and to
/// connections (`idletimeout`, `writetimeout`, `conn_max`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Soft limit: entries per search when the client asks for none, for everyone but the
    /// rootdn (slapd default 500).
    pub size: Option<u32>,
    /// Soft limit in seconds per search (slapd default 3600).
    pub time: Option<u32>,
    /// The most entries a client may ask for explicitly (`size.hard`).
    pub size_hard: crate::config::HardLimit,
    /// The most seconds a client may ask for explicitly (`time.hard`).
    pub time_hard: crate::config::HardLimit,
    /// `idletimeout`: a connection with no operation outstanding for this long is closed
    /// (slapd.conf(5)); None never closes idle connections.
    pub idle_timeout: Option<std::time::Duration>,
    /// `writetimeout`: a connection whose pending write (responses the client does not
    /// read) has not completed for this long is closed (slapd.conf(5)); None waits forever.
    pub write_timeout: Option<std::time::Duration>,
    /// `conn_max`: the most connections served at once (None: the listener's default).
    pub conn_max: Option<usize>,
}

impl Limits {
    /// The limits `config` sets for its database `db` (slapd.conf(5) `sizelimit`,
    /// `timelimit`, `idletimeout`, `conn_max`).
    pub fn of(config: &Config, db: &DatabaseConfig) -> Limits {
        Limits {
            size: db.size_limit,
            time: db.time_limit,
            size_hard: db.size_limit_hard,
            time_hard: db.time_limit_hard,
            idle_timeout: (config.idle_timeout > 0)
                .then(|| std::time::Duration::from_secs(u64::from(config.idle_timeout))),
            write_timeout: (config.write_timeout > 0)
                .then(|| std::time::Duration::from_secs(u64::from(config.write_timeout))),
            conn_max: config.conn_max.and_then(|n| usize::try_from(n).ok()),
        }
    }
}

/// Everything an operation handler needs, shared (`Arc`) by all connections.
pub struct Directory {
    /// The entry store.
    pub store: Arc<Store>,
    /// The schema (same as the store's).
    pub schema: Arc<Schema>,
    /// The database suffix as configured (pretty form).
    pub suffix: Dn,
    /// The rootdn, pretty and normalized, if configured.
    pub rootdn: Option<(Dn, NormDn)>,
    /// The rootpw value (cleartext or `{SCHEME}` hash), if configured.
    rootpw: Option<Vec<u8>>,
    /// `allow bind_v2`.
    pub allow_bind_v2: bool,
    /// `disallow bind_anon`: an anonymous Bind is inappropriateAuthentication (48), as
    /// slapd (anonymous access without a Bind stays as the access rules say).
    pub disallow_bind_anon: bool,
    /// `allow bind_anon_cred`: a Bind with a password but no DN is anonymous (else 49).
    pub allow_bind_anon_cred: bool,
    /// `allow bind_anon_dn`: a Bind with a DN but no password is anonymous (else 53).
    pub allow_bind_anon_dn: bool,
    /// `disallow bind_simple`: a simple Bind with a DN and a password is
    /// unwillingToPerform (53), as slapd.
    pub disallow_bind_simple: bool,
    /// `readonly on`: every update is unwillingToPerform (53, "operation restricted"),
    /// as slapd.
    pub readonly: bool,
    /// Search limits; replaced on SIGHUP ([`crate::reload`]), read with
    /// [`Directory::limits`]. A std lock: held for a copy only, never across `.await`.
    limits: std::sync::RwLock<Limits>,
    /// The database's `limits` rules, first match wins ([`Directory::search_limits`]).
    limit_rules: Vec<crate::limits::LimitRule>,
    /// `allow update_anon`: anonymous clients may attempt writes (slapd refuses them with
    /// strongerAuthRequired before access control otherwise).
    pub allow_update_anon: bool,
    /// The scheme new passwords are hashed with (`password-hash`, default `{SSHA}`).
    pub password_scheme: String,
    /// Where the data lives, for messages; None for memory.
    pub data_dir: Option<PathBuf>,
    /// The serverID (slapd `serverID`), for sync cookies.
    pub server_id: u16,
    /// Every committed write, for persistent sync searches (RFC 4533); fed by the store's
    /// observer when the syncprov overlay is configured.
    pub events: tokio::sync::broadcast::Sender<Arc<oxldap_store::Committed>>,
    /// The persistent sync searches and the hub that feeds them `events`, each write
    /// evaluated once per distinct search (`sync::fanout`).
    pub fanout: crate::sync::Fanout,
    /// The cn=Monitor counters (connections, operations, bytes), shared with every
    /// connection.
    pub monitor: Arc<crate::monitor::Monitor>,
    /// The TLS context when a certificate is configured: StartTLS and `ldaps://`.
    pub tls: Option<crate::tls::Tls>,
    /// The database's `security` factors (slapd.conf(5)).
    pub security: crate::config::SecurityConfig,
    /// The global `security simple_bind=` factor.
    pub simple_bind_ssf: u32,
    /// The access rules (slapd.access(5)): the database's `access` lines, then the global
    /// ones, or [`crate::acl::DEFAULT_RULES`] when there are none.
    pub acl: crate::acl::Acl,
    /// `syncprov-nopresent` and `syncprov-reloadhint` (slapo-syncprov(5)).
    pub sync_options: crate::sync::SyncOptions,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Implement by hand to avoid printing the rootpw.
        f.debug_struct("Directory")
            .field("suffix", &self.suffix.to_string())
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// Opens the first database of `config` (the schema is the built-in one for now).
    pub fn open(config: &Config, opts: &OpenOptions) -> Result<Directory, OpenError> {
        let db: &DatabaseConfig = config.database().ok_or(OpenError::NoDatabase)?;
        let mut schema = load_schema(config)?;
        crate::monitor::add_schema(&mut schema);
        crate::config_check::check(config, &schema)?;
        let schema = Arc::new(schema);
        let parse = |directive: &'static str, value: &str| -> Result<(Dn, NormDn), OpenError> {
            let bad = |reason: String| OpenError::BadDn {
                directive,
                value: value.to_string(),
                reason,
            };
            let dn = Dn::parse(value).map_err(|e| bad(e.to_string()))?;
            let norm = schema.normalize_dn(&dn).map_err(|e| bad(e.to_string()))?;
            let pretty = schema.pretty_dn(&dn).map_err(|e| bad(e.to_string()))?;
            Ok((pretty, norm))
        };
        let (suffix, suffix_norm) = parse("suffix", &db.suffix)?;
        let acl = crate::acl::Acl::new(&schema, suffix_norm, &db.access, &config.access)?;
        let limit_rules = db
            .limits
            .iter()
            .map(|text| {
                let args = crate::config::tokenize(text).map_err(str::to_string)?;
                let mut rule = crate::limits::LimitRule::parse(&args)?;
                rule.resolve(&schema)?;
                Ok(rule)
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| crate::acl::AclError(format!("limits: {e}")))?;
        let rootdn = db
            .rootdn
            .as_deref()
            .map(|r| parse("rootdn", r))
            .transpose()?;
        let store_opts = StoreOptions {
            suffixes: vec![suffix.clone()],
            server_id: u16::try_from(config.server_id).unwrap_or(0),
            // `dbnosync` trades the flush before each answer for speed (slapd-mdb(5)).
            durable: !db.dbnosync,
            fixed_clock: opts.fixed_clock,
            overlays: overlays(db, rootdn.as_ref().map(|(d, _)| d))?,
            indexes: index_config(db),
            changelog_limit: db
                .syncprov()
                .and_then(|s| s.sessionlog)
                .and_then(|n| usize::try_from(n).ok()),
        };
        let data_dir = if opts.memory {
            None
        } else {
            Some(
                opts.data_dir
                    .clone()
                    .or_else(|| db.directory.clone())
                    .unwrap_or_else(|| PathBuf::from("oxldap-data")),
            )
        };
        let store = match &data_dir {
            None => Store::open_temporary(schema.clone(), store_opts),
            Some(dir) => {
                if let Err(source) = std::fs::create_dir_all(dir) {
                    return Err(OpenError::CreateDir {
                        path: dir.display().to_string(),
                        source,
                    });
                }
                Store::open(dir, schema.clone(), store_opts)
            }
        }
        .map_err(|source| OpenError::Store {
            path: data_dir
                .as_ref()
                .map_or_else(|| "memory".to_string(), |d| d.display().to_string()),
            source,
        })?;
        let tls = crate::tls::Tls::from_config(&config.tls)?;
        let (events, _) = tokio::sync::broadcast::channel(crate::sync::PERSIST_BUFFER);
        if db.syncprov().is_some() {
            store.set_observer(Some(Box::new(Broadcast(events.clone()))));
        }
        Ok(Directory {
            server_id: u16::try_from(config.server_id).unwrap_or(0),
            events,
            fanout: crate::sync::Fanout::default(),
            monitor: Arc::default(),
            sync_options: db
                .syncprov()
                .map(|s| {
                    let or = |n: Option<u32>, default: usize| {
                        n.and_then(|n| usize::try_from(n).ok()).unwrap_or(default)
                    };
                    crate::sync::SyncOptions {
                        nopresent: s.nopresent,
                        reloadhint: s.reloadhint,
                        queue_limit: or(s.queue_limit, crate::sync::PERSIST_QUEUE_LIMIT),
                        queue_bytes: or(s.queue_bytes, crate::sync::PERSIST_QUEUE_BYTES),
                    }
                })
                .unwrap_or_default(),
            store: Arc::new(store),
            schema,
            suffix,
            rootdn,
            rootpw: db.rootpw.as_ref().map(|s| s.expose().as_bytes().to_vec()),
            allow_bind_v2: config.allows_bind_v2(),
            disallow_bind_anon: config.disallow.contains("bind_anon"),
            disallow_bind_simple: config.disallow.contains("bind_simple"),
            allow_bind_anon_cred: config.allow.contains("bind_anon_cred"),
            allow_bind_anon_dn: config.allow.contains("bind_anon_dn"),
            readonly: db.readonly,
            allow_update_anon: config.allow.contains("update_anon"),
            limits: std::sync::RwLock::new(Limits::of(config, db)),
            limit_rules,
            password_scheme: config
                .password_hash
                .first()
                .cloned()
                .unwrap_or_else(|| crate::password::DEFAULT_SCHEME.to_string()),
            data_dir,
            tls,
            security: db.security,
            simple_bind_ssf: config.security.simple_bind,
            acl,
        })
    }

    /// An access-control evaluator for one operation by `who` (caches group lookups).
    pub fn checker<'a>(&'a self, who: &'a crate::session::Identity) -> crate::acl::Checker<'a> {
        self.acl.checker(&self.schema, &self.store, who)
    }

    /// The search limits in force.
    pub fn limits(&self) -> Limits {
        *self.limits.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The search limits for a search by `who` under `base` (as the client sent it): the
    /// first `limits` rule that selects the search, over the database's limits
    /// (slapd.conf(5) `limits`).
    pub fn search_limits(&self, who: &crate::session::Identity, base: &str) -> Limits {
        let limits = self.limits();
        if self.limit_rules.is_empty() {
            return limits;
        }
        let base_norm = if self
            .limit_rules
            .iter()
            .any(crate::limits::LimitRule::uses_base)
        {
            Dn::parse(base)
                .ok()
                .and_then(|dn| self.schema.normalize_dn(&dn).ok())
        } else {
            None
        };
        let groups = |group: &Dn, class: &str, member: &str, me: &NormDn| {
            crate::acl::group_has_member(&self.store, &self.schema, group, class, member, me)
        };
        crate::limits::for_search(
            &self.limit_rules,
            limits,
            who.norm(),
            base_norm.as_ref(),
            &groups,
        )
    }

    /// Replaces the search limits (SIGHUP).
    pub fn set_limits(&self, limits: Limits) {
        *self.limits.write().unwrap_or_else(|p| p.into_inner()) = limits;
    }

    /// Whether `norm` is the rootdn.
    pub fn is_rootdn(&self, norm: &NormDn) -> bool {
        self.rootdn.as_ref().is_some_and(|(_, r)| r == norm)
    }

    /// The configured rootpw (cleartext or a `{SCHEME}` hash), if any.
    pub(crate) fn rootpw(&self) -> Option<&[u8]> {
        self.rootpw.as_deref()
    }

    /// Checks a simple bind password for the rootdn.
    pub fn check_rootpw(&self, presented: &[u8]) -> bool {
        self.rootpw
            .as_deref()
            .is_some_and(|stored| crate::password::verify(stored, presented))
    }

    /// Whether the LDIF in `ldif` starts with a record adding this directory's suffix
    /// entry. Such a seed defines the tree itself (the output of `gen-directory.py`,
    /// `oxldap export`, slapcat), so `serve --ldif` and the embedded builder do not create
    /// the default layout before it (which would make the seed's suffix entry
    /// entryAlreadyExists). Reads the first record only; unreadable LDIF is `false`
    /// (the load reports it).
    pub fn seed_defines_suffix(&self, ldif: impl std::io::BufRead) -> bool {
        let first = oxldap_proto::ldif::LdifReader::new(ldif).next();
        let dn = match first {
            Some(Ok(oxldap_proto::ldif::LdifRecord::Content { entry, .. })) => entry.dn,
            Some(Ok(oxldap_proto::ldif::LdifRecord::Change {
                dn,
                change: oxldap_proto::ldif::LdifChange::Add(_),
                ..
            })) => dn,
            _ => return false,
        };
        match (
            self.schema.normalize_dn(&dn),
            self.schema.normalize_dn(&self.suffix),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    /// On an empty database, creates the suffix entry and the Axigen layout
    /// (`o=localdomain`, `ou=Groups`, `ou=Users` under the suffix). Returns whether it did.
    pub fn bootstrap_layout(&self) -> Result<bool, LdapError> {
        if !self.store.is_empty() {
            return Ok(false);
        }
        let ctx = WriteCtx {
            modifier: self
                .rootdn
                .as_ref()
                .map(|(d, _)| d.clone())
                .unwrap_or_default(),
            import: false,
        };
        for entry in layout_entries(&self.suffix)? {
            self.store.add(entry, &ctx)?;
        }
        Ok(true)
    }
}

/// Forwards committed writes to the persistent searches' broadcast channel. Never
/// blocks: lagging receivers are told so by the channel; with no receiver the store does
/// not even build the change.
struct Broadcast(tokio::sync::broadcast::Sender<Arc<oxldap_store::Committed>>);

impl oxldap_store::CommitObserver for Broadcast {
    fn wanted(&self) -> bool {
        self.0.receiver_count() > 0
    }

    fn committed(&self, change: &oxldap_store::Committed) {
        let _ = self.0.send(Arc::new(change.clone()));
    }
}

/// The schema named by the `include` directives (RFC 4512 definitions in OpenLDAP
/// `.schema` or schema LDIF files; built-in copies for standard files that do not exist).
/// Without any `include`, every built-in set is loaded so that small configurations work.
pub fn load_schema(config: &Config) -> Result<Schema, OpenError> {
    use oxldap_schema::SchemaSource;
    if config.includes.is_empty() {
        tracing::info!("no schema include: using every built-in schema (core, cosine, inetorgperson, misc, nis)");
        return Ok(Schema::builtin());
    }
    let mut sources = Vec::new();
    for inc in &config.includes {
        if inc.builtin {
            if inc.name == "axigen" {
                tracing::warn!("{}", oxldap_schema::AXIGEN_STANDIN_NOTE);
            }
            sources.push(SchemaSource::Builtin(inc.name.clone()));
        } else if let Some(text) = &inc.inline {
            sources.push(SchemaSource::File {
                origin: inc.name.clone(),
                text: text.clone(),
                ldif: false,
            });
        } else {
            let text = std::fs::read_to_string(&inc.path)
                .map_err(|e| OpenError::Schema(format!("{}: {e}", inc.path.display())))?;
            let ldif = inc
                .path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("ldif"));
            sources.push(SchemaSource::File {
                origin: inc.path.display().to_string(),
                text,
                ldif,
            });
        }
    }
    Schema::from_includes(&sources).map_err(|e| OpenError::Schema(e.to_string()))
}

/// The store's index configuration from the database's `index` directives.
fn index_config(db: &DatabaseConfig) -> IndexConfig {
    use crate::config::IndexKind as K;
    let mut attrs = Vec::new();
    for spec in &db.indexes {
        let kinds: std::collections::BTreeSet<IndexKind> = spec
            .kinds
            .iter()
            .filter_map(|k| match k {
                K::Equality => Some(IndexKind::Equality),
                K::Presence => Some(IndexKind::Presence),
                K::Substring | K::SubInitial | K::SubAny | K::SubFinal => {
                    Some(IndexKind::Substrings)
                }
                K::Approx => Some(IndexKind::Approx),
                K::NoTags | K::NoLang | K::NoSubtypes => None,
            })
            .collect();
        for a in &spec.attrs {
            attrs.push((a.clone(), kinds.clone()));
        }
    }
    IndexConfig {
        attrs,
        substr: db.substr_tunables,
    }
}

/// The store's overlays from the database's `overlay` sections (slapo-memberof(5),
/// slapo-refint(5) defaults where a directive is absent).
fn overlays(db: &DatabaseConfig, rootdn: Option<&Dn>) -> Result<Overlays, OpenError> {
    let dn = |directive: &'static str, value: &str| {
        Dn::parse(value).map_err(|e| OpenError::BadDn {
            directive,
            value: value.to_string(),
            reason: e.to_string(),
        })
    };
    let memberof = db
        .memberof()
        .map(|m| -> Result<MemberOf, OpenError> {
            Ok(MemberOf {
                group_oc: m.group_oc.clone(),
                member_ad: m.member_ad.clone(),
                memberof_ad: m.memberof_ad.clone(),
                dangling: match m.dangling {
                    crate::config::Dangling::Ignore => Dangling::Ignore,
                    crate::config::Dangling::Drop => Dangling::Drop,
                    crate::config::Dangling::Error => Dangling::Error,
                },
                dangling_error: m
                    .dangling_error
                    .and_then(ResultCode::from_code)
                    .unwrap_or(ResultCode::ConstraintViolation),
                refint: m.refint,
                modifier: match &m.dn {
                    Some(d) => dn("memberof-dn", d)?,
                    None => rootdn.cloned().unwrap_or_default(),
                },
            })
        })
        .transpose()?;
    let refint = db
        .refint()
        .map(|r| -> Result<Refint, OpenError> {
            Ok(Refint {
                attributes: r.attributes.clone(),
                nothing: r
                    .nothing
                    .as_deref()
                    .map(|n| dn("refint_nothing", n))
                    .transpose()?,
                modifier: match &r.modifiers_name {
                    Some(d) => dn("refint_modifiersName", d)?,
                    None => dn("refint_modifiersName", "cn=Referential Integrity Overlay")?,
                },
            })
        })
        .transpose()?;
    let configured = db
        .overlays
        .iter()
        .filter_map(|o| match o {
            OverlayConfig::Memberof(_) => Some(OverlayKind::MemberOf),
            OverlayConfig::Refint(_) => Some(OverlayKind::Refint),
            OverlayConfig::Syncprov(_) => None,
        })
        .collect();
    Ok(Overlays {
        memberof,
        refint,
        configured,
    })
}

/// The suffix entry and the Axigen layout below it, as `../shared/cases/base.ldif` and the
/// Axigen guide lay it out: the suffix, `o=localdomain` under it, and `ou=Groups` and
/// `ou=Users` under `o=localdomain`.
fn layout_entries(suffix: &Dn) -> Result<Vec<Entry>, LdapError> {
    let attr = |d: &str, vals: &[&str]| Attribute {
        desc: d.to_string(),
        values: vals.iter().map(|v| v.as_bytes().to_vec()).collect(),
    };
    let rdn = suffix
        .rdn()
        .ok_or_else(|| LdapError::new(ResultCode::UnwillingToPerform, "empty suffix"))?;
    let first = rdn.avas.first();
    let value = first
        .and_then(|a| a.value_str())
        .unwrap_or_default()
        .to_string();
    let top_attrs = match first.map(|a| a.attr.to_ascii_lowercase()).as_deref() {
        // A dc= suffix is an organization with dcObject; o is the domain name.
        Some("dc") | Some("domaincomponent") => {
            let domain: Vec<&str> = suffix
                .rdns
                .iter()
                .filter_map(|r| r.avas.first().and_then(|a| a.value_str()))
                .collect();
            vec![
                attr("objectClass", &["organization", "dcObject"]),
                attr("o", &[&domain.join(".")]),
                attr("dc", &[&value]),
            ]
        }
        Some("o") | Some("organizationname") => vec![attr("objectClass", &["organization"])],
        Some("ou") | Some("organizationalunitname") => {
            vec![attr("objectClass", &["organizationalUnit"])]
        }
        _ => vec![attr("objectClass", &["extensibleObject"])],
    };
    let under = |parent: &Dn, rdn: &str, oc: &str| -> Result<Entry, LdapError> {
        Ok(Entry {
            dn: parent.child(oxldap_proto::Rdn::parse(rdn)?),
            attrs: vec![attr("objectClass", &[oc])],
        })
    };
    let org = under(suffix, "o=localdomain", "organization")?;
    let groups = under(&org.dn, "ou=Groups", "organizationalUnit")?;
    let users = under(&org.dn, "ou=Users", "organizationalUnit")?;
    Ok(vec![
        Entry {
            dn: suffix.clone(),
            attrs: top_attrs,
        },
        org,
        groups,
        users,
    ])
}
