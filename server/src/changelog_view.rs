//! A read-only LDAP view of the store's change log, in the form of
//! draft-good-ldap-changelog-04 (the "cn=changelog" convention of Netscape/389 DS/OpenDJ):
//!
//! ```text
//! dn: cn=changelog                        objectClass: top, applicationProcess; cn
//! dn: changeNumber=N,cn=changelog         objectClass: top, changeLogEntry
//!   changeNumber: N                       1, 2, 3... in commit order, never reused
//!   targetDN: DN                          the entry changed (its DN before a modrdn)
//!   changeType: add | delete | modify | modrdn
//!   changes: LDIF                         add: the attributes; modify: add/delete/replace
//!   newRDN / deleteOldRDN / newSuperior   modrdn only (newSuperior when it moved)
//!   targetEntryUUID: UUID                 the entry's entryUUID (stable across renames)
//!   entryCSN: CSN                         the CSN of the write (slapd form)
//!   changeTime: GeneralizedTime           from the CSN
//! ```
//!
//! One record per entry a write touched (overlay changes such as memberOf included), so
//! a write may have several records with the same entryCSN. The log is bounded by
//! `syncprov-sessionlog` (oldest records dropped). Searchable with any filter over these
//! attributes, e.g. `(changeNumber>=N)` (compared as integers) or `(entryCSN>=CSN)`
//! (compared as strings, which orders CSNs); the root DSE names it in `changelog`.
//! Readable by the rootdn only ([`may_read_changelog`]); it is not writable.
//!
//! This module knows nothing of sled: it reads [`oxldap_store::Store::changes_since`].

use crate::directory::Directory;
use crate::error::LdapError;
use crate::ops::SearchEnd;
use crate::session::Identity;
use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchRequest, LdapSearchResultEntry};
use ldap3_proto::LdapSearchScope;
use oxldap_proto::{Dn, Entry, Filter, ResultCode};
use oxldap_schema::Schema;
use oxldap_store::{ChangeKind, ChangeRecord, Csn};

/// The DN of the change log container (draft-good-ldap-changelog §2).
pub const CHANGELOG_DN: &str = "cn=changelog";

/// Who may read the change log: the rootdn only. The one access check of this view; the
/// access-control work replaces its body when rules can name the change log.
pub fn may_read_changelog(who: &Identity) -> bool {
    who.is_root()
}

/// Where a search base lies in the view.
enum Target {
    /// `cn=changelog` itself.
    Container,
    /// `changeNumber=N,cn=changelog`.
    Record(u64),
    /// Below cn=changelog, but no such entry.
    Missing,
}

/// Classifies `base`; None when it is not in the change log view.
fn target(base: &str) -> Option<Target> {
    // Cheap test first, every search passes here: unless escaped or quoted, a DN whose
    // last RDN is `cn=changelog` ends with that text (trailing spaces aside).
    let tail = base.trim_end().as_bytes();
    let ends_with_changelog = tail
        .len()
        .checked_sub(9)
        .and_then(|at| tail.get(at..))
        .is_some_and(|t| t.eq_ignore_ascii_case(b"changelog"));
    if !ends_with_changelog && !tail.iter().any(|b| matches!(b, b'\\' | b'"')) {
        return None;
    }
    let dn = Dn::parse(base).ok()?;
    let is = |rdn: &oxldap_proto::dn::Rdn, attr: &str, value: Option<&str>| {
        rdn.avas.len() == 1
            && rdn.avas.iter().all(|a| {
                a.attr.eq_ignore_ascii_case(attr)
                    && value.is_none_or(|v| a.value.eq_ignore_ascii_case(v.as_bytes()))
            })
    };
    let last = dn.rdns.last()?;
    if !is(last, "cn", Some("changelog")) {
        return None;
    }
    Some(match dn.rdns.as_slice() {
        [_] => Target::Container,
        [first, _] if is(first, "changeNumber", None) => first
            .avas
            .first()
            .and_then(|a| std::str::from_utf8(&a.value).ok())
            .and_then(|v| v.trim().parse().ok())
            .map_or(Target::Missing, Target::Record),
        _ => Target::Missing,
    })
}

/// Answers a search whose base is `cn=changelog` or below it (None for any other base):
/// the entries of the view in the search's scope that match its filter, attributes
/// selected as requested (`*`, names, `1.1`; typesOnly honoured).
///
/// Errors: insufficientAccessRights (50) for anyone but the rootdn; noSuchObject (32)
/// for a record that does not exist (never did, or dropped from the bounded log);
/// protocolError (2) for a filter that does not convert.
pub fn search(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    cancelled: &dyn Fn() -> bool,
    send: &mut dyn FnMut(LdapSearchResultEntry) -> bool,
) -> Option<Result<SearchEnd, LdapError>> {
    let target = target(&req.base)?;
    Some(run(dir, who, req, target, cancelled, send))
}

fn run(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    target: Target,
    cancelled: &dyn Fn() -> bool,
    send: &mut dyn FnMut(LdapSearchResultEntry) -> bool,
) -> Result<SearchEnd, LdapError> {
    if !may_read_changelog(who) {
        return Err(LdapError::new(
            ResultCode::InsufficientAccessRights,
            "the change log (cn=changelog) is readable by the rootdn only",
        ));
    }
    let filter = Filter::try_from(&req.filter)
        .map_err(|e| LdapError::new(ResultCode::ProtocolError, e.to_string()))?;
    let records: Vec<ChangeRecord> = dir
        .store
        .changes_since(None)?
        .records
        .into_iter()
        .filter(|r| r.number > 0)
        .collect();
    let mut entries: Vec<Entry> = Vec::new();
    match (target, &req.scope) {
        (Target::Missing, _) => {
            return Err(LdapError::new(ResultCode::NoSuchObject, ""));
        }
        (Target::Record(n), scope) => {
            let r = records.iter().find(|r| r.number == n).ok_or_else(|| {
                LdapError::new(ResultCode::NoSuchObject, "no such change log record")
            })?;
            if matches!(scope, LdapSearchScope::Base | LdapSearchScope::Subtree) {
                entries.push(record_entry(r));
            }
        }
        (Target::Container, scope) => {
            if matches!(scope, LdapSearchScope::Base | LdapSearchScope::Subtree) {
                entries.push(container());
            }
            if !matches!(scope, LdapSearchScope::Base) {
                entries.extend(records.iter().map(record_entry));
            }
        }
    }
    for e in entries {
        if cancelled() {
            return Ok(SearchEnd::Cancelled);
        }
        if matches(&dir.schema, &filter, &e) && !send(select(e, req)) {
            return Ok(SearchEnd::Cancelled);
        }
    }
    Ok(SearchEnd::Done)
}

/// The `cn=changelog` container entry.
fn container() -> Entry {
    let mut e = Entry::new(Dn::parse(CHANGELOG_DN).unwrap_or_default());
    e.push_value("objectClass", b"top".to_vec());
    e.push_value("objectClass", b"applicationProcess".to_vec());
    e.push_value("cn", b"changelog".to_vec());
    e
}

/// One record as a changeLogEntry.
fn record_entry(r: &ChangeRecord) -> Entry {
    let dn = format!("changeNumber={},{CHANGELOG_DN}", r.number);
    let mut e = Entry::new(Dn::parse(&dn).unwrap_or_default());
    let mut put = |d: &str, v: &str| e.push_value(d, v.as_bytes().to_vec());
    put("objectClass", "top");
    put("objectClass", "changeLogEntry");
    put("changeNumber", &r.number.to_string());
    let (kind, target) = match r.kind {
        ChangeKind::Add => ("add", r.dn.as_str()),
        ChangeKind::Delete => ("delete", r.dn.as_str()),
        ChangeKind::Modify => ("modify", r.dn.as_str()),
        ChangeKind::ModDn => ("modrdn", r.old_dn.as_deref().unwrap_or(&r.dn)),
    };
    put("targetDN", target);
    put("changeType", kind);
    if let Some(c) = &r.changes {
        put("changes", c);
    }
    if let Some(v) = &r.new_rdn {
        put("newRDN", v);
    }
    if let Some(v) = r.delete_old_rdn {
        put("deleteOldRDN", if v { "TRUE" } else { "FALSE" });
    }
    if let Some(v) = &r.new_superior {
        put("newSuperior", v);
    }
    put("targetEntryUUID", &r.entry_uuid);
    put("entryCSN", &r.csn);
    if let Some(c) = Csn::parse(&r.csn) {
        put("changeTime", &c.to_generalized_time());
    }
    e
}

/// The requested attributes of `e` (no attribute of the view is operational).
fn select(e: Entry, req: &LdapSearchRequest) -> LdapSearchResultEntry {
    let all = req.attrs.is_empty() || req.attrs.iter().any(|a| a == "*");
    let wanted = |d: &str| all || req.attrs.iter().any(|a| a.eq_ignore_ascii_case(d));
    LdapSearchResultEntry {
        dn: e.dn.to_string(),
        attributes: e
            .attrs
            .into_iter()
            .filter(|a| wanted(&a.desc))
            .map(|a| LdapPartialAttribute {
                atype: a.desc,
                vals: if req.typesonly { Vec::new() } else { a.values },
            })
            .collect(),
    }
}

/// Evaluates `f` against a view entry (two-valued: an assertion on an attribute the entry
/// lacks is false). changeNumber compares as an integer, every other attribute as
/// case-insensitive strings (which orders CSNs and GeneralizedTimes correctly).
///
/// An approximate item (`~=`) on a type whose equality rule has slapd's phonetic
/// approximate rule (changeType, and any other Directory or IA5 String type of the
/// schema) uses it, as the main tree does (`oxldap_schema::approx`); other types compare
/// as for equality, as slapd falls back.
fn matches(schema: &Schema, f: &Filter, e: &Entry) -> bool {
    oxldap_proto::stack::guard(|| matches_level(schema, f, e))
}

/// One level of [`matches`].
fn matches_level(schema: &Schema, f: &Filter, e: &Entry) -> bool {
    let values = |d: &str| e.values(d);
    let cmp = |d: &str, v: &[u8], want: &dyn Fn(std::cmp::Ordering) -> bool| {
        values(d).iter().any(|x| want(compare(d, x, v)))
    };
    match f {
        Filter::And(fs) => fs.iter().all(|f| matches(schema, f, e)),
        Filter::Or(fs) => fs.iter().any(|f| matches(schema, f, e)),
        Filter::Not(f) => !matches(schema, f, e),
        Filter::Approx(d, v) => match schema.attribute_type(d).filter(|at| {
            at.equality_rule()
                .and_then(oxldap_schema::ApproxRule::for_equality)
                .is_some()
        }) {
            // An assertion invalid for the equality rule matches nothing (Undefined).
            Some(at) => schema.approx_assertion(at, v).is_some_and(|a| {
                values(d)
                    .iter()
                    .any(|x| std::str::from_utf8(x).is_ok_and(|x| a.matches(x)))
            }),
            None => cmp(d, v, &|o| o.is_eq()),
        },
        Filter::Equality(d, v) => cmp(d, v, &|o| o.is_eq()),
        Filter::GreaterOrEqual(d, v) => cmp(d, v, &|o| o.is_ge()),
        Filter::LessOrEqual(d, v) => cmp(d, v, &|o| o.is_le()),
        Filter::Present(d) => !values(d).is_empty(),
        Filter::Substrings(d, s) => values(d).iter().any(|x| {
            let x = x.to_ascii_lowercase();
            let mut rest: &[u8] = &x;
            if let Some(i) = &s.initial {
                let i = i.to_ascii_lowercase();
                match rest.strip_prefix(i.as_slice()) {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            for a in &s.any {
                let a = a.to_ascii_lowercase();
                match rest.windows(a.len().max(1)).position(|w| w == a.as_slice()) {
                    Some(p) => rest = rest.get(p + a.len()..).unwrap_or_default(),
                    None => return false,
                }
            }
            s.final_
                .as_ref()
                .is_none_or(|f| rest.ends_with(&f.to_ascii_lowercase()))
        }),
        Filter::Extensible { .. } => false,
    }
}

fn compare(desc: &str, stored: &[u8], asserted: &[u8]) -> std::cmp::Ordering {
    if desc.eq_ignore_ascii_case("changeNumber") {
        let num = |v: &[u8]| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok();
        if let (Some(a), Some(b)) = (num(stored), num(asserted)) {
            return a.cmp(&b);
        }
    }
    stored
        .to_ascii_lowercase()
        .cmp(&asserted.to_ascii_lowercase())
}
