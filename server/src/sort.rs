//! Server-side sorting of search results (RFC 2891) for small result sets.
//!
//! The request control (1.2.840.113556.1.4.473) names sort keys; the server collects the
//! matching entries (at most [`MAX_SORT_ENTRIES`]), orders them and answers with the sort
//! response control (1.2.840.113556.1.4.474) on the SearchResultDone. As slapd's sssvlv
//! overlay, a larger result is not sorted: a critical request fails with
//! adminLimitExceeded, a non-critical one is answered unsorted, and the response control
//! says adminLimitExceeded either way. Combined with paged results (which slapd's sssvlv
//! supports by keeping sorted state per connection) the sort is refused the same way, with
//! unwillingToPerform.

use crate::directory::Directory;
use lber::common::TagClass;
use lber::structure::{StructureTag, PL};
use ldap3_proto::control::{LdapControl, ServerSortResult};
use ldap3_proto::proto::{LdapResultCode, LdapSearchResultEntry};
use oxldap_proto::codec::RawControl;
use oxldap_proto::{Dn, ResultCode};
use oxldap_schema::MatchingRule;
use std::cmp::Ordering;

/// The sort request control (RFC 2891 §1.1).
pub const SORT_REQUEST_OID: &str = "1.2.840.113556.1.4.473";
/// The sort response control (RFC 2891 §1.2).
pub const SORT_RESPONSE_OID: &str = "1.2.840.113556.1.4.474";

/// The most entries a search sorts: the sorted result is held in memory until it is
/// complete, so this bounds one sorting search's memory (slapd's sssvlv keeps results in
/// memory too; its `sssvlv-max` bounds concurrent sorts instead).
pub const MAX_SORT_ENTRIES: usize = 1000;

/// One sort key (RFC 2891 §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The attribute description to sort by.
    pub attr: String,
    /// The ordering rule asked for, if any (else the attribute's ORDERING, then EQUALITY).
    pub rule: Option<String>,
    /// Descending order.
    pub reverse: bool,
}

/// Decodes the request control's value:
///
/// ```text
/// SortKeyList ::= SEQUENCE OF SEQUENCE {
///     attributeType   AttributeDescription,
///     orderingRule    [0] MatchingRuleId OPTIONAL,
///     reverseOrder    [1] BOOLEAN DEFAULT FALSE }
/// ```
///
/// None when the value is malformed (answered protocolError) or lists no key.
pub fn parse_request(c: &RawControl) -> Option<Vec<SortKey>> {
    let tag = c.value_tag()?;
    let keys = constructed(tag, TagClass::Universal, 16)?;
    let mut out = Vec::new();
    for k in keys {
        let mut parts = constructed(k, TagClass::Universal, 16)?.into_iter();
        let attr = text(primitive(parts.next()?, TagClass::Universal, 4)?)?;
        let mut key = SortKey {
            attr,
            rule: None,
            reverse: false,
        };
        for p in parts {
            match (p.class, p.id) {
                (TagClass::Context, 0) if key.rule.is_none() => {
                    key.rule = Some(text(primitive(p, TagClass::Context, 0)?)?);
                }
                (TagClass::Context, 1) => {
                    key.reverse = primitive(p, TagClass::Context, 1)?.first().copied()? != 0;
                }
                _ => return None,
            }
        }
        out.push(key);
    }
    (!out.is_empty()).then_some(out)
}

fn constructed(t: StructureTag, class: TagClass, id: u64) -> Option<Vec<StructureTag>> {
    match t.payload {
        PL::C(v) if t.class == class && t.id == id => Some(v),
        _ => None,
    }
}

fn primitive(t: StructureTag, class: TagClass, id: u64) -> Option<Vec<u8>> {
    match t.payload {
        PL::P(v) if t.class == class && t.id == id => Some(v),
        _ => None,
    }
}

fn text(v: Vec<u8>) -> Option<String> {
    String::from_utf8(v).ok()
}

/// The sort response control with `code` (RFC 2891 §1.2 sortResult).
pub fn response(code: ResultCode) -> LdapControl {
    let result_code =
        LdapResultCode::try_from(i64::from(code.code())).unwrap_or(LdapResultCode::Other);
    LdapControl::ServerSortResult {
        sort_result: ServerSortResult {
            result_code,
            attribute_type: None,
        },
    }
}

/// A resolved key: the rule values are normalized and ordered with.
struct Resolved {
    attr: String,
    rule: Option<&'static MatchingRule>,
    reverse: bool,
}

/// Resolves the keys against the schema: noSuchAttribute (16) for an unknown attribute
/// type, inappropriateMatching (18) for an unknown ordering rule (RFC 2891 §1.2).
fn resolve(dir: &Directory, keys: &[SortKey]) -> Result<Vec<Resolved>, ResultCode> {
    keys.iter()
        .map(|k| {
            let at = dir
                .schema
                .attribute_type(&k.attr)
                .ok_or(ResultCode::NoSuchAttribute)?;
            let rule = match &k.rule {
                Some(r) => Some(
                    dir.schema
                        .matching_rule(r)
                        .ok_or(ResultCode::InappropriateMatching)?,
                ),
                None => at.ordering_rule().or_else(|| at.equality_rule()),
            };
            let attr = dir
                .schema
                .canonical_desc(&k.attr)
                .unwrap_or_else(|| k.attr.clone());
            Ok(Resolved {
                attr,
                rule,
                reverse: k.reverse,
            })
        })
        .collect()
}

/// Sorts `entries` by `keys` (RFC 2891 §2.2): each entry is keyed by the least of its
/// values under the rule (normalized; values the rule refuses sort as raw bytes after the
/// valid ones); entries without the attribute sort after all others; `reverse` inverts a
/// key. Sort key values come from the stored entry, so the key attribute need not be among
/// those returned. Errors with the sortResult code for unusable keys.
pub fn sort(
    dir: &Directory,
    keys: &[SortKey],
    entries: Vec<LdapSearchResultEntry>,
) -> Result<Vec<LdapSearchResultEntry>, ResultCode> {
    let keys = resolve(dir, keys)?;
    let mut keyed: Vec<(Vec<Option<Vec<u8>>>, LdapSearchResultEntry)> = entries
        .into_iter()
        .map(|e| {
            let stored = Dn::parse(&e.dn)
                .ok()
                .and_then(|dn| dir.store.get(&dn).ok().flatten());
            let ks = keys
                .iter()
                .map(|k| {
                    let values = stored.as_ref().map(|s| s.values(&k.attr)).unwrap_or(&[]);
                    values
                        .iter()
                        .map(|v| match k.rule {
                            Some(r) => r.normalize(&dir.schema, v).unwrap_or_else(|_| v.clone()),
                            None => v.clone(),
                        })
                        .min_by(|a, b| cmp_values(k.rule, a, b))
                })
                .collect();
            (ks, e)
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        for (k, (x, y)) in keys.iter().zip(a.iter().zip(b.iter())) {
            let o = match (x, y) {
                (Some(x), Some(y)) => cmp_values(k.rule, x, y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let o = if k.reverse { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    Ok(keyed.into_iter().map(|(_, e)| e).collect())
}

fn cmp_values(rule: Option<&MatchingRule>, a: &[u8], b: &[u8]) -> Ordering {
    match rule {
        Some(r) => r.cmp_normalized(a, b),
        None => a.cmp(b),
    }
}

/// Whether `controls` ask for a sort, and how: None without the control; `Some(Err(()))`
/// for a malformed one.
pub fn request_of(controls: &[RawControl]) -> Option<(bool, Result<Vec<SortKey>, ()>)> {
    let c = controls.iter().find(|c| c.oid == SORT_REQUEST_OID)?;
    Some((c.critical, parse_request(c).ok_or(())))
}
