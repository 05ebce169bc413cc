//! cn=Monitor: read-only counters of the running server, in the spirit of slapd's
//! back-monitor (slapd-monitor(5)), with slapd's attribute types and object classes so
//! that tools written for slapd's monitor read it unchanged.
//!
//! The counters are atomics in [`Monitor`], owned by the [`Directory`]; the connection
//! loop and the listener bump them through guards ([`Monitor::op_started`],
//! [`Monitor::connection_opened`], [`CountingWriter`]). Database figures (entries, size,
//! change log, indexes) are read from the store when cn=Monitor is searched. Every
//! attribute is documented in `docs/monitor.md`.
//!
//! It must not decide access beyond [`may_read_monitor`], the one check that the access
//! control engine replaces.

use crate::directory::Directory;
use crate::error::LdapError;
use crate::session::Identity;
use oxldap_proto::{Dn, Entry, ResultCode};
use oxldap_schema::{NormDn, Schema};
use oxldap_store::Scope;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

/// The DN of the monitor's root entry (slapd's `cn=Monitor`).
pub const MONITOR_DN: &str = "cn=Monitor";

/// slapd's back-monitor schema (from slapd 2.5's built-in definitions), so monitor entries
/// pass through the normal attribute selection: all are `dSAOperation` attributes, which a
/// search returns only when asked by name or with `+` (RFC 3673), as slapd does.
const MONITOR_ATTRIBUTE_TYPES: &[&str] = &[
    "( 1.3.6.1.4.1.4203.666.1.55.1 NAME 'monitoredInfo' DESC 'monitored info' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} NO-USER-MODIFICATION USAGE dSAOperation )",
    "( 1.3.6.1.4.1.4203.666.1.55.3 NAME 'monitorCounter' DESC 'monitor counter' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 NO-USER-MODIFICATION USAGE dSAOperation )",
    "( 1.3.6.1.4.1.4203.666.1.55.4 NAME 'monitorOpCompleted' DESC 'monitor completed operations' SUP monitorCounter NO-USER-MODIFICATION USAGE dSAOperation )",
    "( 1.3.6.1.4.1.4203.666.1.55.5 NAME 'monitorOpInitiated' DESC 'monitor initiated operations' SUP monitorCounter NO-USER-MODIFICATION USAGE dSAOperation )",
    "( 1.3.6.1.4.1.4203.666.1.55.10 NAME 'monitorTimestamp' DESC 'monitor timestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE dSAOperation )",
];

/// slapd's back-monitor object classes used here.
const MONITOR_OBJECT_CLASSES: &[&str] = &[
    "( 1.3.6.1.4.1.4203.666.3.16.1 NAME 'monitor' DESC 'OpenLDAP system monitoring' SUP top STRUCTURAL MUST cn MAY ( description $ seeAlso $ labeledURI $ monitoredInfo ) )",
    "( 1.3.6.1.4.1.4203.666.3.16.2 NAME 'monitorServer' DESC 'Server monitoring root entry' SUP monitor STRUCTURAL )",
    "( 1.3.6.1.4.1.4203.666.3.16.3 NAME 'monitorContainer' DESC 'monitor container class' SUP monitor STRUCTURAL )",
    "( 1.3.6.1.4.1.4203.666.3.16.4 NAME 'monitorCounterObject' DESC 'monitor counter class' SUP monitor STRUCTURAL )",
    "( 1.3.6.1.4.1.4203.666.3.16.5 NAME 'monitorOperation' DESC 'monitor operation class' SUP monitor STRUCTURAL )",
    "( 1.3.6.1.4.1.4203.666.3.16.8 NAME 'monitoredObject' DESC 'monitor monitored entity class' SUP monitor STRUCTURAL )",
];

/// Adds the back-monitor schema to `schema` (definitions already present, for example
/// from an included file, are kept as they are).
pub fn add_schema(schema: &mut Schema) {
    for at in MONITOR_ATTRIBUTE_TYPES {
        let oid = description_oid(at);
        if schema.attribute_type(oid).is_none() {
            if let Err(e) = schema.add_attribute_type_str(at) {
                tracing::warn!(error = %e, "cannot add the monitor attribute type {oid}");
            }
        }
    }
    for oc in MONITOR_OBJECT_CLASSES {
        let oid = description_oid(oc);
        if schema.object_class(oid).is_none() {
            if let Err(e) = schema.add_object_class_str(oc) {
                tracing::warn!(error = %e, "cannot add the monitor object class {oid}");
            }
        }
    }
}

/// The numeric OID of an RFC 4512 description `( OID ...`.
fn description_oid(desc: &str) -> &str {
    desc.trim_start_matches(['(', ' '])
        .split(' ')
        .next()
        .unwrap_or_default()
}

/// The operation types counted, named as slapd's `cn=Operations,cn=Monitor` children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Bind (RFC 4511 §4.2).
    Bind,
    /// Unbind (§4.3).
    Unbind,
    /// Search (§4.5), content sync included.
    Search,
    /// Compare (§4.10).
    Compare,
    /// Modify (§4.6).
    Modify,
    /// Modify DN (§4.9).
    Modrdn,
    /// Add (§4.7).
    Add,
    /// Delete (§4.8).
    Delete,
    /// Abandon (§4.11).
    Abandon,
    /// Extended (§4.12).
    Extended,
}

impl OpKind {
    /// Every kind, in slapd's order.
    pub const ALL: [OpKind; 10] = [
        OpKind::Bind,
        OpKind::Unbind,
        OpKind::Search,
        OpKind::Compare,
        OpKind::Modify,
        OpKind::Modrdn,
        OpKind::Add,
        OpKind::Delete,
        OpKind::Abandon,
        OpKind::Extended,
    ];

    /// The slapd name (the RDN value under cn=Operations).
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Bind => "Bind",
            OpKind::Unbind => "Unbind",
            OpKind::Search => "Search",
            OpKind::Compare => "Compare",
            OpKind::Modify => "Modify",
            OpKind::Modrdn => "Modrdn",
            OpKind::Add => "Add",
            OpKind::Delete => "Delete",
            OpKind::Abandon => "Abandon",
            OpKind::Extended => "Extended",
        }
    }

    /// The kind of a request; None for responses, which a client must not send (they are
    /// answered with protocolError and not counted).
    pub fn of(op: &ldap3_proto::proto::LdapOp) -> Option<OpKind> {
        use ldap3_proto::proto::LdapOp as O;
        Some(match op {
            O::BindRequest(_) => OpKind::Bind,
            O::UnbindRequest => OpKind::Unbind,
            O::SearchRequest(_) => OpKind::Search,
            O::CompareRequest(_) => OpKind::Compare,
            O::ModifyRequest(_) => OpKind::Modify,
            O::ModifyDNRequest(_) => OpKind::Modrdn,
            O::AddRequest(_) => OpKind::Add,
            O::DelRequest(_) => OpKind::Delete,
            O::AbandonRequest(_) => OpKind::Abandon,
            O::ExtendedRequest(_) => OpKind::Extended,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The server's counters. All are monotonic except the current connections; they count
/// since the server started (nothing is persisted).
#[derive(Debug)]
pub struct Monitor {
    /// When the server started (for `cn=Start,cn=Time`).
    started: SystemTime,
    /// The same instant on the monotonic clock (for the uptime).
    started_at: Instant,
    /// Connections open now.
    current_connections: AtomicU64,
    /// Connections accepted since start.
    total_connections: AtomicU64,
    /// Operations received, per [`OpKind`].
    initiated: [AtomicU64; 10],
    /// Operations whose response was queued (or, for Unbind and Abandon, which were
    /// handled), per [`OpKind`].
    completed: [AtomicU64; 10],
    /// Bytes written to client sockets (LDAP messages as encoded).
    bytes_sent: AtomicU64,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            started: SystemTime::now(),
            started_at: Instant::now(),
            current_connections: AtomicU64::new(0),
            total_connections: AtomicU64::new(0),
            initiated: Default::default(),
            completed: Default::default(),
            bytes_sent: AtomicU64::new(0),
        }
    }
}

/// Counts an operation as completed when dropped (see [`Monitor::op_started`]).
#[derive(Debug)]
pub struct OpGuard {
    monitor: Arc<Monitor>,
    kind: OpKind,
}

impl Drop for OpGuard {
    fn drop(&mut self) {
        if let Some(c) = self.monitor.completed.get(self.kind.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Counts a connection as closed when dropped (see [`Monitor::connection_opened`]).
#[derive(Debug)]
pub struct ConnectionGuard(Arc<Monitor>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.current_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Monitor {
    /// Counts an operation of `op`'s kind as initiated; the guard counts it as completed
    /// when dropped. None for a message that is not a request.
    pub fn op_started(self: &Arc<Self>, op: &ldap3_proto::proto::LdapOp) -> Option<OpGuard> {
        let kind = OpKind::of(op)?;
        if let Some(c) = self.initiated.get(kind.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        Some(OpGuard {
            monitor: self.clone(),
            kind,
        })
    }

    /// Counts an accepted connection; the guard counts it as closed when dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        self.current_connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self.clone())
    }

    /// (initiated, completed) operations of `kind` so far.
    pub fn ops(&self, kind: OpKind) -> (u64, u64) {
        let get =
            |a: &[AtomicU64; 10]| a.get(kind.index()).map_or(0, |c| c.load(Ordering::Relaxed));
        (get(&self.initiated), get(&self.completed))
    }

    /// Bytes sent to clients so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Ordering::Relaxed)
    }
}

/// The one access decision for cn=Monitor: the rootdn only. The access control engine
/// replaces this function with its rules (slapd grants what `access to dn.subtree=
/// "cn=Monitor"` allows).
pub fn may_read_monitor(_dir: &Directory, who: &Identity) -> bool {
    who.is_root()
}

/// The monitor entries in scope of a search with base `base`, or None when `base` is not
/// cn=Monitor or below it (the caller then searches the database).
///
/// Errors: insufficientAccessRights (50) for anyone [`may_read_monitor`] refuses;
/// noSuchObject (32) for a DN below cn=Monitor that does not exist; storage failures.
pub fn entries_for(
    dir: &Directory,
    who: &Identity,
    base: &Dn,
    scope: Scope,
) -> Result<Option<Vec<Entry>>, LdapError> {
    // Cheap test first: every search passes here.
    let top = base.rdns.last().and_then(|r| r.avas.first());
    if !top.is_some_and(|a| {
        a.value_str()
            .is_some_and(|v| v.eq_ignore_ascii_case("monitor"))
    }) {
        return Ok(None);
    }
    let schema = &dir.schema;
    let (Ok(root), Ok(norm)) = (
        Dn::parse(MONITOR_DN).map_err(LdapError::from),
        schema.normalize_dn(base),
    ) else {
        return Ok(None);
    };
    let root = schema.normalize_dn(&root)?;
    if norm != root && !norm.is_descendant_of(&root) {
        return Ok(None);
    }
    if !may_read_monitor(dir, who) {
        return Err(LdapError::new(
            ResultCode::InsufficientAccessRights,
            "cn=Monitor is readable by the rootdn only",
        ));
    }
    let all = render(dir)?;
    let mut found = false;
    let mut out = Vec::new();
    for e in all {
        let Ok(dn) = schema.normalize_dn(&e.dn) else {
            continue;
        };
        found |= dn == norm;
        if in_scope(&dn, &norm, scope) {
            out.push(e);
        }
    }
    if !found {
        return Err(LdapError::new(ResultCode::NoSuchObject, ""));
    }
    Ok(Some(out))
}

fn in_scope(dn: &NormDn, base: &NormDn, scope: Scope) -> bool {
    match scope {
        Scope::Base => dn == base,
        Scope::One => dn.parent().as_ref() == Some(base),
        Scope::Sub => dn == base || dn.is_descendant_of(base),
        Scope::Children => dn.is_descendant_of(base),
    }
}

/// Generalized time (RFC 4517 §3.3.13) of `t`, to the second.
fn generalized(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Builds one monitor entry: `dn`, the structural class `oc`, cn from the RDN, and
/// `attrs`.
fn entry(dn: &str, oc: &str, attrs: &[(&str, String)]) -> Option<Entry> {
    let dn = Dn::parse(dn).ok()?;
    let cn = dn.rdn()?.avas.first()?.value_str()?.to_string();
    let mut e = Entry::new(dn);
    e.push_value("objectClass", oc.as_bytes().to_vec());
    e.push_value("cn", cn.into_bytes());
    for (desc, v) in attrs {
        e.push_value(desc, v.as_bytes().to_vec());
    }
    e.push_value("structuralObjectClass", oc.as_bytes().to_vec());
    Some(e)
}

/// Every monitor entry, parents first, with the current figures.
fn render(dir: &Directory) -> Result<Vec<Entry>, LdapError> {
    let m = &dir.monitor;
    let version = format!("oxldap {}", env!("CARGO_PKG_VERSION"));
    let count = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
    let mut out: Vec<Option<Entry>> = vec![
        entry(
            MONITOR_DN,
            "monitorServer",
            &[("monitoredInfo", version.clone())],
        ),
        entry(
            "cn=Version,cn=Monitor",
            "monitoredObject",
            &[("monitoredInfo", version)],
        ),
        entry("cn=Time,cn=Monitor", "monitorContainer", &[]),
        entry(
            "cn=Start,cn=Time,cn=Monitor",
            "monitoredObject",
            &[("monitorTimestamp", generalized(m.started))],
        ),
        entry(
            "cn=Current,cn=Time,cn=Monitor",
            "monitoredObject",
            &[("monitorTimestamp", generalized(SystemTime::now()))],
        ),
        entry(
            "cn=Uptime,cn=Time,cn=Monitor",
            "monitoredObject",
            &[(
                "monitoredInfo",
                m.started_at.elapsed().as_secs().to_string(),
            )],
        ),
        entry("cn=Connections,cn=Monitor", "monitorContainer", &[]),
        entry(
            "cn=Total,cn=Connections,cn=Monitor",
            "monitorCounterObject",
            &[("monitorCounter", count(&m.total_connections))],
        ),
        entry(
            "cn=Current,cn=Connections,cn=Monitor",
            "monitorCounterObject",
            &[("monitorCounter", count(&m.current_connections))],
        ),
    ];
    let (mut ti, mut tc) = (0u64, 0u64);
    let mut per_kind = Vec::new();
    for k in OpKind::ALL {
        let (i, c) = m.ops(k);
        ti += i;
        tc += c;
        per_kind.push(entry(
            &format!("cn={},cn=Operations,cn=Monitor", k.name()),
            "monitorOperation",
            &[
                ("monitorOpInitiated", i.to_string()),
                ("monitorOpCompleted", c.to_string()),
            ],
        ));
    }
    out.push(entry(
        "cn=Operations,cn=Monitor",
        "monitorOperation",
        &[
            ("monitorOpInitiated", ti.to_string()),
            ("monitorOpCompleted", tc.to_string()),
        ],
    ));
    out.extend(per_kind);
    out.push(entry("cn=Statistics,cn=Monitor", "monitorContainer", &[]));
    out.push(entry(
        "cn=Bytes,cn=Statistics,cn=Monitor",
        "monitorCounterObject",
        &[("monitorCounter", m.bytes_sent().to_string())],
    ));
    // The database (oxldap's own subtree: slapd puts back-mdb figures under cn=Databases
    // in olm* attributes that have no counterpart here).
    let store = &dir.store;
    let context = store.last_csn()?.map(|c| c.to_ldap_string());
    let mut db_attrs = vec![("monitoredInfo", dir.suffix.to_string())];
    if let Some(c) = &context {
        db_attrs.push(("monitoredInfo", format!("contextCSN {c}")));
    }
    out.push(entry(
        "cn=Database,cn=Monitor",
        "monitorContainer",
        &db_attrs,
    ));
    out.push(entry(
        "cn=Entries,cn=Database,cn=Monitor",
        "monitorCounterObject",
        &[("monitorCounter", store.len().to_string())],
    ));
    out.push(entry(
        "cn=Size,cn=Database,cn=Monitor",
        "monitorCounterObject",
        &[("monitorCounter", store.size_on_disk()?.to_string())],
    ));
    let (oldest, newest, records) = store.changelog_bounds()?;
    out.push(entry(
        "cn=Changelog,cn=Database,cn=Monitor",
        "monitorCounterObject",
        &[("monitorCounter", records.to_string())],
    ));
    for (rdn, csn) in [("Oldest", oldest), ("Newest", newest)] {
        let attrs: Vec<(&str, String)> = csn.into_iter().map(|c| ("monitoredInfo", c)).collect();
        out.push(entry(
            &format!("cn={rdn},cn=Changelog,cn=Database,cn=Monitor"),
            "monitoredObject",
            &attrs,
        ));
    }
    out.push(entry(
        "cn=Indexes,cn=Database,cn=Monitor",
        "monitorContainer",
        &[],
    ));
    for (kind, oid, postings) in store.index_sizes()? {
        let name = dir
            .schema
            .attribute_type(&oid)
            .map_or_else(|| oid.clone(), |a| a.name().to_string());
        out.push(entry(
            &format!("cn={name} {kind},cn=Indexes,cn=Database,cn=Monitor"),
            "monitorCounterObject",
            &[("monitorCounter", postings.to_string())],
        ));
    }
    Ok(out.into_iter().flatten().collect())
}

/// An `AsyncWrite` that adds every byte written to [`Monitor`]'s bytes-sent counter; it
/// wraps a connection's write half.
#[derive(Debug)]
pub struct CountingWriter<W> {
    inner: W,
    monitor: Arc<Monitor>,
}

impl<W> CountingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, monitor: Arc<Monitor>) -> Self {
        CountingWriter { inner, monitor }
    }
}

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for CountingWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            self.monitor
                .bytes_sent
                .fetch_add(u64::try_from(*n).unwrap_or(0), Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Reads pass through uncounted, so the connection's whole socket can be wrapped once,
/// below TLS: bytes sent are then counted as they leave, across a StartTLS upgrade.
impl<W: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for CountingWriter<W> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}
