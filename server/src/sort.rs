//! Server-side sorting of search results (RFC 2891) for small result sets.
//!
//! The request control (1.2.840.113556.1.4.473) names sort keys; the server collects the
//! matching entries (at most [`MAX_SORT_ENTRIES`]), orders them, then applies the size
//! limit to the sorted result (as sssvlv: [`Sorter`]) and answers with the sort
//! response control (1.2.840.113556.1.4.474) on the SearchResultDone. As slapd's sssvlv
//! overlay, a larger result is not sorted: a critical request fails with
//! adminLimitExceeded, a non-critical one is answered unsorted, and the response control
//! says adminLimitExceeded either way. A key whose attribute type is unknown
//! (noSuchAttribute) or has no ordering rule, when the request names none
//! (inappropriateMatching), fails the search even when the control is not critical, as
//! sssvlv does.
//!
//! Combined with Simple Paged Results (RFC 2696), the first page sorts the whole result
//! and the connection keeps the rest for the cookie (`session::SortedRest`); each page's
//! result carries both response controls. Checked against slapd's sssvlv by
//! `tests/controls_vs_slapd.rs`, including two of its choices the RFCs leave open: a
//! cookie sent back with other sort keys continues the list it was given for, and a
//! cookie the connection does not hold starts the sorted search again.

use crate::directory::Directory;
use lber::common::TagClass;
use lber::structure::{StructureTag, PL};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::LdapSearchResultEntry;
use oxldap_proto::codec::RawControl;
use oxldap_proto::controls::raw_control;
use oxldap_proto::{Dn, ResultCode};
use oxldap_schema::MatchingRule;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The sort request control (RFC 2891 §1.1).
pub const SORT_REQUEST_OID: &str = "1.2.840.113556.1.4.473";
/// The sort response control (RFC 2891 §1.2).
pub const SORT_RESPONSE_OID: &str = "1.2.840.113556.1.4.474";

/// The most entries a sorting search holds: the sorted result is held in memory until it
/// is complete, so this bounds one sorting search's memory (slapd's sssvlv keeps results
/// in memory too; its `sssvlv-max` bounds concurrent sorts instead). A search under a
/// smaller size limit holds only that many ([`Sorter`]), so it sorts any number of
/// candidates.
pub const MAX_SORT_ENTRIES: usize = 1000;

/// One sort key (RFC 2891 §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The attribute description to sort by.
    pub attr: String,
    /// The ordering rule asked for, if any (else the attribute type's ORDERING rule).
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

/// The sort response control with `code` (RFC 2891 §1.2):
/// `SortResult ::= SEQUENCE { sortResult ENUMERATED, attributeType [0] OPTIONAL }`, sent
/// without attributeType, as slapd's sssvlv does. Written here rather than through
/// `ldap3_proto`'s `ServerSortResult`, which always appends attributeType as a universal
/// OCTET STRING (`30 05 0a 01 00 04 00`): strict decoders such as python-ldap's then drop
/// the whole control.
pub fn response(code: ResultCode) -> LdapControl {
    // Every sortResult code of §1.2 is below 128: one content octet.
    let code = u8::try_from(code.code())
        .ok()
        .filter(|c| *c < 0x80)
        .unwrap_or(80);
    raw_control(SORT_RESPONSE_OID, &[0x30, 0x03, 0x0a, 0x01, code])
}

/// A resolved key: the rule values are normalized and ordered with.
struct Resolved {
    attr: String,
    rule: &'static MatchingRule,
    reverse: bool,
}

/// Sort keys resolved against the schema, ready for [`sort`].
pub struct ResolvedKeys(Vec<Resolved>);

/// Resolves the keys against the schema (RFC 2891 §1.2 codes): noSuchAttribute (16) for
/// an unknown attribute type; inappropriateMatching (18) for an unknown ordering rule, or
/// when none is asked for and the attribute type has no ORDERING rule (as slapd: `cn` or
/// `uid` sort only with an explicit rule such as `caseIgnoreOrderingMatch`). As slapd's
/// sssvlv, which checks the keys when it parses the control, a key that cannot be used
/// fails the search whether or not the control is critical.
pub fn resolve(dir: &Directory, keys: &[SortKey]) -> Result<ResolvedKeys, ResultCode> {
    keys.iter()
        .map(|k| {
            let at = dir
                .schema
                .attribute_type(&k.attr)
                .ok_or(ResultCode::NoSuchAttribute)?;
            let rule = match &k.rule {
                Some(r) => dir.schema.matching_rule(r),
                None => at.ordering_rule(),
            }
            .ok_or(ResultCode::InappropriateMatching)?;
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
        .collect::<Result<_, _>>()
        .map(ResolvedKeys)
}

/// Collects the entries of a sorting search and orders them by the keys (RFC 2891 §2.2):
/// each entry is keyed by the least of its values under the rule (normalized; values the
/// rule refuses sort as raw bytes after the valid ones); entries without the attribute
/// sort after all others; `reverse` inverts a key; entries with equal keys keep the order
/// the store met them in. Sort key values come from the stored entry, so the key attribute
/// need not be among those returned.
///
/// As slapd's sssvlv, the whole candidate set is sorted before the size limit applies: a
/// search limited to `n` entries returns the first `n` of the sorted result, not `n`
/// entries sorted (sssvlv runs the backend search unlimited and applies the limits when it
/// sends the sorted list). With a limit only the best `n` are held (a bounded max-heap,
/// O(log n) per entry); without one at most [`MAX_SORT_ENTRIES`] are.
pub struct Sorter<'a> {
    dir: &'a Directory,
    keys: &'a [Resolved],
    /// The entries held so far; with a limit, the top of the heap is the last to keep.
    held: BinaryHeap<Keyed<'a>>,
    /// The size limit: the most entries the sorted result returns.
    limit: Option<usize>,
    /// Entries met so far (their order breaks ties).
    seen: u64,
}

impl<'a> Sorter<'a> {
    /// A sorter for `keys`, keeping the first `limit` entries of the order (None: all).
    pub fn new(dir: &'a Directory, keys: &'a ResolvedKeys, limit: Option<u32>) -> Sorter<'a> {
        Sorter {
            dir,
            keys: &keys.0,
            held: BinaryHeap::new(),
            limit: limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
            seen: 0,
        }
    }

    /// Adds a matching entry. False when more entries would have to be held than
    /// [`MAX_SORT_ENTRIES`] (the search is then too big to sort).
    pub fn push(&mut self, e: LdapSearchResultEntry) -> bool {
        let key = self.key_of(&e);
        self.held.push(Keyed {
            key,
            seq: self.seen,
            rules: self.keys,
            entry: e,
        });
        self.seen += 1;
        if self.limit.is_some_and(|l| self.held.len() > l) {
            // The greatest held entry cannot be among the first `limit`.
            self.held.pop();
        }
        self.held.len() <= MAX_SORT_ENTRIES
    }

    /// The sorted entries (at most the limit) and whether the limit cut the result
    /// (sizeLimitExceeded, RFC 4511 §4.5.1.4).
    pub fn finish(self) -> (Vec<LdapSearchResultEntry>, bool) {
        let cut = self.seen > self.held.len() as u64;
        let sorted = self.held.into_sorted_vec();
        (sorted.into_iter().map(|k| k.entry).collect(), cut)
    }

    fn key_of(&self, e: &LdapSearchResultEntry) -> Vec<Option<Vec<u8>>> {
        let dir = self.dir;
        let stored = Dn::parse(&e.dn)
            .ok()
            .and_then(|dn| dir.store.get(&dn).ok().flatten());
        self.keys
            .iter()
            .map(|k| {
                let values = stored.as_ref().map(|s| s.values(&k.attr)).unwrap_or(&[]);
                values
                    .iter()
                    .map(|v| {
                        k.rule
                            .normalize(&dir.schema, v)
                            .unwrap_or_else(|_| v.clone())
                    })
                    .min_by(|a, b| cmp_values(k.rule, a, b))
            })
            .collect()
    }
}

/// A held entry with its sort key values (one per key), ordered by the keys, then by when
/// it was met.
struct Keyed<'a> {
    key: Vec<Option<Vec<u8>>>,
    seq: u64,
    rules: &'a [Resolved],
    entry: LdapSearchResultEntry,
}

impl Ord for Keyed<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        for (k, (x, y)) in self.rules.iter().zip(self.key.iter().zip(other.key.iter())) {
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
        self.seq.cmp(&other.seq)
    }
}

impl PartialOrd for Keyed<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Keyed<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Keyed<'_> {}

fn cmp_values(rule: &MatchingRule, a: &[u8], b: &[u8]) -> Ordering {
    rule.cmp_normalized(a, b)
}

/// Whether `controls` ask for a sort, and how: None without the control; `Some(Err(()))`
/// for a malformed one.
pub fn request_of(controls: &[RawControl]) -> Option<(bool, Result<Vec<SortKey>, ()>)> {
    let c = controls.iter().find(|c| c.oid == SORT_REQUEST_OID)?;
    Some((c.critical, parse_request(c).ok_or(())))
}
