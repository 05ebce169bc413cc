//! Attribute indexes as configured by slapd's `index` directive (slapd.conf(5)): equality,
//! presence, substrings and approximate keys, derived from the schema's matching rules so a
//! case-insensitive search hits a case-insensitive key.
//!
//! An index key is `kind (u8) ‖ len(oid) (u8) ‖ oid ‖ len(key) (u16 BE) ‖ key`; the ids
//! it holds are stored as chunked bitmaps ([`crate::postings`] has the layout). Index
//! deltas are derived from each touched entry's before and after images in
//! [`crate::txn::Txn::commit`] (and by a rebuild); nothing else writes the tree.

use crate::error::StoreError;
use crate::postings::PostingReader;
use oxldap_proto::{Entry, Filter};
use oxldap_schema::approx::{index_keys as approx_keys, ApproxAssertion, ApproxRule};
use oxldap_schema::{AttributeType, Schema, OBJECT_CLASS_OID};
use roaring::RoaringTreemap;
use std::collections::{BTreeMap, BTreeSet};

/// An index type (slapd `eq`, `pres`, `sub`, `approx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexKind {
    /// Equality: one key per normalized value.
    Equality,
    /// Presence: one key per attribute.
    Presence,
    /// Substrings: initial, any and final n-grams of the normalized value.
    Substrings,
    /// Approximate: one key per phonetic code of a value's words (slapd's
    /// `approxIndexer`, [`oxldap_schema::approx`]); only for attributes whose equality
    /// rule has an approximate rule.
    Approx,
}

/// slapd's substring index tunables (slapd.conf(5) `index_substr_*`), in bytes of the
/// normalized value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubstrTunables {
    /// `index_substr_if_minlen` (default 2): shortest initial/final key.
    pub if_minlen: usize,
    /// `index_substr_if_maxlen` (default 4): longest initial/final key.
    pub if_maxlen: usize,
    /// `index_substr_any_len` (default 3; slapd's is 4): length of any keys, so that
    /// three-character fragments are answered from the index.
    pub any_len: usize,
    /// `index_substr_any_step` (default 2): step between any keys used in a lookup.
    pub any_step: usize,
}

impl Default for SubstrTunables {
    fn default() -> Self {
        SubstrTunables {
            if_minlen: 2,
            if_maxlen: 4,
            any_len: 3,
            any_step: 2,
        }
    }
}

/// The configured indexes: attribute names (or `default`) with their kinds.
#[derive(Debug, Clone, Default)]
pub struct IndexConfig {
    /// `(attribute name, kinds)` pairs as configured; names resolve through the schema.
    pub attrs: Vec<(String, BTreeSet<IndexKind>)>,
    /// Substring tunables.
    pub substr: SubstrTunables,
}

pub(crate) const TAG_EQ: u8 = 1;
pub(crate) const TAG_PRES: u8 = 2;
pub(crate) const TAG_SUB_INITIAL: u8 = 3;
pub(crate) const TAG_SUB_ANY: u8 = 4;
pub(crate) const TAG_SUB_FINAL: u8 = 5;
pub(crate) const TAG_APPROX: u8 = 6;

/// Indexes resolved against the schema: attribute type OID → kinds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Indexes {
    by_oid: BTreeMap<String, BTreeSet<IndexKind>>,
    tunables: SubstrTunables,
}

impl IndexConfig {
    /// Whether `schema` can serve these indexes: every attribute is defined, none is
    /// computed on read, and each kind has the matching rule it needs (equality and
    /// approx an EQUALITY rule, substrings a SUBSTR rule). The configuration checks
    /// (`oxldap_server::config_check`) call it per `index` line, to name the line.
    ///
    /// Errors: [`StoreError::IndexConfig`] with slaptest's wording.
    pub fn check(&self, schema: &Schema) -> Result<(), StoreError> {
        Indexes::resolve(schema, self).map(|_| ())
    }
}

/// Why an index directive cannot be served.
fn config_error(reason: String) -> StoreError {
    StoreError::IndexConfig { reason }
}

impl Indexes {
    /// Resolves names through the schema (aliases such as `surname` become `sn`) and
    /// checks each kind against the attribute's matching rules.
    pub fn resolve(schema: &Schema, cfg: &IndexConfig) -> Result<Indexes, StoreError> {
        let mut by_oid: BTreeMap<String, BTreeSet<IndexKind>> = BTreeMap::new();
        let defaults: BTreeSet<IndexKind> = cfg
            .attrs
            .iter()
            .filter(|(a, _)| a.eq_ignore_ascii_case("default"))
            .flat_map(|(_, k)| k.iter().copied())
            .collect();
        for (name, kinds) in cfg
            .attrs
            .iter()
            .filter(|(a, _)| !a.eq_ignore_ascii_case("default"))
        {
            // Messages as slaptest's (slapd 2.5 `slap_index2prefix` checks).
            let at = schema
                .attribute_type(name)
                .ok_or_else(|| config_error(format!("index attribute {name:?} undefined")))?;
            // Attributes the store computes on read have no stored values to index
            // (slapd refuses them too: "index of attribute ... disallowed").
            if [
                "entryDN",
                "hasSubordinates",
                "subschemaSubentry",
                "contextCSN",
            ]
            .iter()
            .any(|c| at.name().eq_ignore_ascii_case(c))
            {
                return Err(config_error(format!(
                    "index of attribute {name:?} disallowed: its values are computed, not stored"
                )));
            }
            let kinds = if kinds.is_empty() { &defaults } else { kinds };
            for k in kinds {
                let ok = match k {
                    IndexKind::Equality => at.equality_rule().is_some(),
                    IndexKind::Presence => true,
                    IndexKind::Substrings => at.substr_rule().is_some(),
                    IndexKind::Approx => approx_rule(at).is_some(),
                };
                // slapd (back-mdb's index configuration) refuses an approx index on an
                // attribute without an approximate rule: "approx index of attribute ...
                // disallowed".
                if *k == IndexKind::Approx && !ok {
                    return Err(config_error(format!(
                        "approx index of attribute {name:?} disallowed: attribute type {} \
                         has no approximate matching rule",
                        at.name()
                    )));
                }
                if !ok {
                    let (kind, rule) = match k {
                        IndexKind::Equality => ("equality", "equality"),
                        IndexKind::Approx => ("approx", "equality"),
                        IndexKind::Substrings => ("substr", "substrings"),
                        IndexKind::Presence => ("presence", "any"),
                    };
                    return Err(config_error(format!(
                        "{kind} index of attribute {name:?} disallowed: {} has no {rule} \
                         matching rule",
                        at.name(),
                    )));
                }
            }
            by_oid
                .entry(at.oid.clone())
                .or_default()
                .extend(kinds.iter().copied());
        }
        let t = &cfg.substr;
        if t.if_minlen == 0 || t.if_minlen > t.if_maxlen || t.any_len == 0 || t.any_step == 0 {
            return Err(config_error(format!(
                "invalid substring index tunables: index_substr_if_minlen {} must be at least 1 \
                 and at most index_substr_if_maxlen {}; any_len and any_step must be at least 1",
                t.if_minlen, t.if_maxlen
            )));
        }
        Ok(Indexes {
            by_oid,
            tunables: cfg.substr,
        })
    }

    /// A stable description of the resolved configuration and of the posting layout
    /// (the leading version: v2 was [`crate::postings`]' one-block chunks, v3 its chunks
    /// of whole blocks up to 1,024 ids, v4 the keys of string values of spaces only,
    /// which now normalize to one space instead of nothing, as slapd, v5 dense chunks
    /// in bitset form, which builds before it cannot read); when it changes the store
    /// rebuilds the index tree at open.
    pub fn fingerprint(&self) -> String {
        let mut s = format!(
            "v5 {} {} {} {};",
            self.tunables.if_minlen,
            self.tunables.if_maxlen,
            self.tunables.any_len,
            self.tunables.any_step
        );
        for (oid, kinds) in &self.by_oid {
            s.push_str(oid);
            for k in kinds {
                s.push(' ');
                s.push_str(kind_name(*k));
                // Approx keys were equality keys before they were phonetic codes; the
                // suffix makes a store indexed the old way rebuild at open.
                if *k == IndexKind::Approx {
                    s.push_str("/phonetic");
                }
            }
            s.push(';');
        }
        s
    }

    /// Whether any index is configured.
    pub fn is_empty(&self) -> bool {
        self.by_oid.is_empty()
    }

    fn kinds(&self, at: &AttributeType) -> Option<&BTreeSet<IndexKind>> {
        self.by_oid.get(&at.oid)
    }

    /// Every posting key (without the id) of `entry`.
    pub fn keys(&self, schema: &Schema, entry: &Entry) -> BTreeSet<Vec<u8>> {
        key_set(self.key_list(schema, entry))
    }

    /// The posting keys of `entry` as [`Indexes::keys`], unsorted and possibly repeated
    /// (two objectClass values may share a superclass key): for posting an added entry,
    /// where a repeated key posts the same id again, a no-op. Sorting an entry's hundred
    /// keys into a set cost a seed load ~6% of its instructions (issue 7).
    pub fn key_list(&self, schema: &Schema, entry: &Entry) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for a in &entry.attrs {
            let Some(at) = schema.attribute_type(&a.desc) else {
                continue;
            };
            if let Some(kinds) = self.kinds(at) {
                self.value_keys(schema, at, kinds, &a.values, true, &mut out);
            }
        }
        out
    }

    /// The posting keys of `entry` as [`Indexes::key_list`], written one after another
    /// into one buffer: a bulk load posts about a hundred keys per entry, most of them to
    /// lists that already exist, where a key of its own would be allocated only to be
    /// dropped (11 million allocations for 100,000 entries).
    pub(crate) fn key_buf(&self, schema: &Schema, entry: &Entry) -> KeyBuf {
        let mut out = KeyBuf::default();
        for a in &entry.attrs {
            let Some(at) = schema.attribute_type(&a.desc) else {
                continue;
            };
            if let Some(kinds) = self.kinds(at) {
                self.value_keys(schema, at, kinds, &a.values, true, &mut out);
            }
        }
        out
    }

    /// The posting keys that may differ between two versions of an entry: `(old, new)`
    /// such that removing `old − new` and adding `new − old` turns the postings of
    /// `before` into those of `after`.
    ///
    /// Attributes whose values did not change contribute nothing. An attribute with only
    /// equality and presence indexes contributes the keys of the values removed and added
    /// (an entry never holds two values equal under the equality rule, so a value's key
    /// belongs to that value alone); others (substrings and approx keys are shared between
    /// values, objectClass keys between classes) contribute all their keys. So
    /// adding one member to a 50,000-member group computes one key, not 100,000.
    pub fn changed_keys(
        &self,
        schema: &Schema,
        before: &Entry,
        after: &Entry,
    ) -> (BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>) {
        let (b, a) = (self.by_type(schema, before), self.by_type(schema, after));
        let (mut old, mut new) = (Vec::new(), Vec::new());
        let empty: Vec<&oxldap_proto::Attribute> = Vec::new();
        for oid in b.keys().chain(a.keys()).collect::<BTreeSet<_>>() {
            let bv = b.get(oid).unwrap_or(&empty);
            let av = a.get(oid).unwrap_or(&empty);
            if bv == av {
                continue;
            }
            let Some(at) = bv
                .first()
                .or(av.first())
                .and_then(|x| schema.attribute_type(&x.desc))
            else {
                continue;
            };
            let Some(kinds) = self.kinds(at) else {
                continue;
            };
            let per_value = !kinds.contains(&IndexKind::Substrings)
                && !kinds.contains(&IndexKind::Approx)
                && !at.name().eq_ignore_ascii_case("objectClass")
                && bv.len() <= 1
                && av.len() <= 1;
            if !per_value {
                for x in bv {
                    self.value_keys(schema, at, kinds, &x.values, true, &mut old);
                }
                for x in av {
                    self.value_keys(schema, at, kinds, &x.values, true, &mut new);
                }
                continue;
            }
            let none: &[Vec<u8>] = &[];
            let bvals = bv.first().map_or(none, |x| x.values.as_slice());
            let avals = av.first().map_or(none, |x| x.values.as_slice());
            let bset: rustc_hash::FxHashSet<&[u8]> = bvals.iter().map(Vec::as_slice).collect();
            let aset: rustc_hash::FxHashSet<&[u8]> = avals.iter().map(Vec::as_slice).collect();
            let removed: Vec<Vec<u8>> = bvals
                .iter()
                .filter(|v| !aset.contains(v.as_slice()))
                .cloned()
                .collect();
            let added: Vec<Vec<u8>> = avals
                .iter()
                .filter(|v| !bset.contains(v.as_slice()))
                .cloned()
                .collect();
            self.value_keys(schema, at, kinds, &removed, false, &mut old);
            self.value_keys(schema, at, kinds, &added, false, &mut new);
            if kinds.contains(&IndexKind::Presence) && bvals.is_empty() != avals.is_empty() {
                let side = if bvals.is_empty() { &mut new } else { &mut old };
                side.push(prefix(TAG_PRES, &at.oid, b""));
            }
        }
        (key_set(old), key_set(new))
    }

    /// The indexed attributes of `e`, grouped by attribute type OID.
    fn by_type<'e>(
        &self,
        schema: &Schema,
        e: &'e Entry,
    ) -> BTreeMap<String, Vec<&'e oxldap_proto::Attribute>> {
        let mut m: BTreeMap<String, Vec<&'e oxldap_proto::Attribute>> = BTreeMap::new();
        for a in &e.attrs {
            if let Some(at) = schema.attribute_type(&a.desc) {
                if self.kinds(at).is_some() {
                    m.entry(at.oid.clone()).or_default().push(a);
                }
            }
        }
        m
    }

    /// The keys of `values` of attribute type `at` for `kinds` (the presence key only
    /// when `presence`).
    fn value_keys(
        &self,
        schema: &Schema,
        at: &AttributeType,
        kinds: &BTreeSet<IndexKind>,
        values: &[Vec<u8>],
        presence: bool,
        out: &mut impl KeySink,
    ) {
        let oid = at.oid.as_str();
        // objectClass keys include every superclass, so (objectClass=person) finds
        // inetOrgPerson entries through the index, as the filter evaluator does.
        let expanded: Vec<Vec<u8>>;
        let values: &[Vec<u8>] = if at.name().eq_ignore_ascii_case("objectClass") {
            let mut v: BTreeSet<Vec<u8>> = BTreeSet::new();
            for val in values {
                if let Some(oc) = schema.object_class(&String::from_utf8_lossy(val)) {
                    v.insert(oc.name().as_bytes().to_vec());
                    for sup in schema.superclasses(oc) {
                        v.insert(sup.name().as_bytes().to_vec());
                    }
                } else {
                    v.insert(val.clone());
                }
            }
            expanded = v.into_iter().collect();
            &expanded
        } else {
            values
        };
        for k in kinds {
            match k {
                IndexKind::Presence => {
                    if presence {
                        out.push_key(TAG_PRES, oid, b"");
                    }
                }
                IndexKind::Equality => {
                    for v in values {
                        if let Ok(key) = schema.equality_key_of(at, v) {
                            out.push_key(TAG_EQ, oid, &key);
                        }
                    }
                }
                IndexKind::Approx => {
                    for v in values {
                        if let Ok(v) = std::str::from_utf8(v) {
                            for code in approx_keys(v) {
                                out.push_key(TAG_APPROX, oid, code.as_bytes());
                            }
                        }
                    }
                }
                IndexKind::Substrings => {
                    let Some(rule) = at.substr_rule() else {
                        continue;
                    };
                    for v in values {
                        let Ok(norm) = rule.normalize(schema, v) else {
                            continue;
                        };
                        self.substring_keys(oid, &norm, out);
                    }
                }
            }
        }
    }

    fn substring_keys(&self, oid: &str, v: &[u8], out: &mut impl KeySink) {
        let t = &self.tunables;
        for len in t.if_minlen..=t.if_maxlen.min(v.len()) {
            if let Some(p) = v.get(..len) {
                out.push_key(TAG_SUB_INITIAL, oid, p);
            }
            if let Some(s) = v.get(v.len() - len..) {
                out.push_key(TAG_SUB_FINAL, oid, s);
            }
        }
        if t.any_len > 0 {
            for w in v.windows(t.any_len) {
                out.push_key(TAG_SUB_ANY, oid, w);
            }
        }
    }
}

/// `keys` as a set: sorted and deduplicated first, so the set is built in bulk from
/// sorted input instead of key by key (an entry has about a hundred keys with long
/// common prefixes).
fn key_set(mut keys: Vec<Vec<u8>>) -> BTreeSet<Vec<u8>> {
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().collect()
}

/// `kind ‖ len(oid) ‖ oid ‖ len(key) ‖ key`: everything of a posting key but the id.
fn prefix(tag: u8, oid: &str, key: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(4 + oid.len() + key.len() + 8);
    write_prefix(&mut p, tag, oid, key);
    p
}

/// Appends [`prefix`]`(tag, oid, key)` to `out`.
fn write_prefix(out: &mut Vec<u8>, tag: u8, oid: &str, key: &[u8]) {
    let oid = oid.as_bytes();
    let klen = u16::try_from(key.len()).unwrap_or(u16::MAX);
    let key = key.get(..usize::from(klen)).unwrap_or(key);
    out.push(tag);
    out.push(u8::try_from(oid.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(oid);
    out.extend_from_slice(&klen.to_be_bytes());
    out.extend_from_slice(key);
}

/// Where [`Indexes`] puts the posting keys it makes.
trait KeySink {
    /// Takes the key [`prefix`]`(tag, oid, key)`.
    fn push_key(&mut self, tag: u8, oid: &str, key: &[u8]);
}

impl KeySink for Vec<Vec<u8>> {
    fn push_key(&mut self, tag: u8, oid: &str, key: &[u8]) {
        self.push(prefix(tag, oid, key));
    }
}

/// Posting keys (without the id) stored back to back in one buffer
/// ([`Indexes::key_buf`]).
#[derive(Debug, Default)]
pub(crate) struct KeyBuf {
    /// The keys, concatenated.
    bytes: Vec<u8>,
    /// Where each key ends in `bytes`.
    ends: Vec<usize>,
}

impl KeyBuf {
    /// The keys, in the order they were made (possibly repeated).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut from = 0;
        self.ends.iter().map(move |&end| {
            let key = self.bytes.get(from..end).unwrap_or_default();
            from = end;
            key
        })
    }

    /// How many keys it holds.
    pub(crate) fn count(&self) -> usize {
        self.ends.len()
    }
}

impl KeySink for KeyBuf {
    fn push_key(&mut self, tag: u8, oid: &str, key: &[u8]) {
        write_prefix(&mut self.bytes, tag, oid, key);
        self.ends.push(self.bytes.len());
    }
}

/// `key ‖ id`: one posting as a byte string (the form `verify` compares).
pub(crate) fn posting(key: &[u8], id: u64) -> Vec<u8> {
    let mut k = key.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The slapd name of an index kind.
pub fn kind_name(k: IndexKind) -> &'static str {
    match k {
        IndexKind::Equality => "eq",
        IndexKind::Presence => "pres",
        IndexKind::Substrings => "sub",
        IndexKind::Approx => "approx",
    }
}

/// How a filter was (or would be) answered, for `oxldap explain` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No index applies: every entry in scope is tested.
    Scan,
    /// Candidates from an index lookup (`attr kind`), with how many ids it gave.
    Index {
        /// `cn eq`, `mail sub`...
        what: String,
        /// Ids found.
        ids: u64,
    },
    /// Intersection of the children's candidates.
    And(Vec<Plan>),
    /// Union of the children's candidates.
    Or(Vec<Plan>),
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Nested as deep as the filter: one guarded level per `write!` of a part.
        oxldap_proto::stack::guard(|| self.write_level(f))
    }
}

impl Plan {
    /// One level of the `Display` form.
    fn write_level(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Plan::Scan => f.write_str("scan"),
            Plan::Index { what, ids } => write!(f, "index {what} ({ids} ids)"),
            Plan::And(v) | Plan::Or(v) => {
                f.write_str(if matches!(self, Plan::And(_)) {
                    "and("
                } else {
                    "or("
                })?;
                for (i, p) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{p}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// An AND whose candidates are down to this many probes its remaining plain lookup terms
/// chunk by chunk ([`PostingReader::retain_posted`]) rather than reading their lists.
pub const PROBE_LIMIT: u64 = 4096;

/// The order in which an AND plans its terms: equality on a type other than objectClass
/// is usually the most selective, then substrings and approximate terms, nested AND/OR,
/// and last the terms that usually match much of the directory (objectClass equality,
/// presence). Unindexed terms cost nothing to plan.
fn selectivity_rank(schema: &Schema, f: &Filter) -> u8 {
    let is_object_class = |d: &str| {
        schema
            .attribute_type(d)
            .is_some_and(|at| at.oid == OBJECT_CLASS_OID)
    };
    match f {
        Filter::Equality(d, _) if !is_object_class(d) => 0,
        Filter::Substrings(..) | Filter::Approx(..) => 1,
        Filter::And(_) | Filter::Or(_) => 2,
        Filter::Equality(..) | Filter::Present(_) => 3,
        _ => 4,
    }
}

/// The most filter nodes the planner visits; past them the rest of the filter is not
/// narrowed (a scan of the scope, or of what the terms before found).
///
/// High enough for any filter a request within the default 4 MiB PDU limit can carry
/// (about 470,000 nodes of `(cn=x)`): each node costs the planner at most one index
/// lookup, while the scan it would fall back to tests every entry in scope against the
/// whole filter. With 1,024, an anonymous OR of 2,000 indexed equality terms made a
/// 4,000-entry directory scan for 17 s (tester 12; slapd answers it from its indexes in
/// milliseconds). Depth is bounded elsewhere (`filter::MAX_DEPTH` and the stack guard).
pub const MAX_PLAN_NODES: usize = 1 << 20;

impl Indexes {
    /// The candidate ids for `filter` from the indexes, or None when the filter cannot be
    /// narrowed (every entry in scope is a candidate). Candidates are a superset of the
    /// matches: the caller re-checks the full filter on every entry.
    pub fn candidates(
        &self,
        schema: &Schema,
        src: &PostingReader<'_>,
        filter: &Filter,
        budget: &mut usize,
    ) -> Result<(Option<RoaringTreemap>, Plan), StoreError> {
        oxldap_proto::stack::guard(|| self.candidates_level(schema, src, filter, budget))
    }

    /// One level of [`Indexes::candidates`] (nested terms go through `candidates`).
    fn candidates_level(
        &self,
        schema: &Schema,
        src: &PostingReader<'_>,
        filter: &Filter,
        budget: &mut usize,
    ) -> Result<(Option<RoaringTreemap>, Plan), StoreError> {
        if *budget == 0 {
            return Ok((None, Plan::Scan));
        }
        *budget -= 1;
        match filter {
            Filter::And(children) => {
                // Selective terms first; once few candidates are left, a plain lookup term
                // is probed chunk by chunk instead of read whole (`objectClass=person`).
                let mut order: Vec<usize> = (0..children.len()).collect();
                order.sort_by_key(|&i| selectivity_rank(schema, &children[i]));
                let mut acc: Option<RoaringTreemap> = None;
                let mut plans: Vec<Option<Plan>> = children.iter().map(|_| None).collect();
                for i in order {
                    let Some(c) = children.get(i) else { continue };
                    if let Some(a) = acc.as_mut().filter(|a| a.len() <= PROBE_LIMIT) {
                        if let Some((key, what)) = self.lookup_key(schema, c) {
                            if *budget == 0 {
                                break;
                            }
                            *budget -= 1;
                            src.retain_posted(&key, a)?;
                            let ids = a.len();
                            if let Some(p) = plans.get_mut(i) {
                                *p = Some(Plan::Index {
                                    what: format!("{what}, probed"),
                                    ids,
                                });
                            }
                            continue;
                        }
                    }
                    let (ids, plan) = self.candidates(schema, src, c, budget)?;
                    if let Some(p) = plans.get_mut(i) {
                        *p = Some(plan);
                    }
                    if let Some(ids) = ids {
                        acc = Some(match acc {
                            Some(a) => a & ids,
                            None => ids,
                        });
                    }
                }
                let plans = plans.into_iter().map(|p| p.unwrap_or(Plan::Scan)).collect();
                Ok((acc, Plan::And(plans)))
            }
            Filter::Or(children) => {
                let mut acc = RoaringTreemap::new();
                let mut plans = Vec::new();
                for c in children {
                    let (ids, plan) = self.candidates(schema, src, c, budget)?;
                    plans.push(plan);
                    match ids {
                        Some(ids) => acc |= ids,
                        None => return Ok((None, Plan::Or(plans))),
                    }
                }
                Ok((Some(acc), Plan::Or(plans)))
            }
            Filter::Approx(desc, value)
                if schema.attribute_type(desc).and_then(approx_rule).is_some() =>
            {
                self.approx_candidates(schema, src, desc, value)
            }
            // An approximate item on a type without an approximate rule is an equality
            // item (slapd's filter evaluation and index lookup both fall back so).
            Filter::Equality(desc, value) | Filter::Approx(desc, value) => {
                let Some((at, _)) = self.indexed(schema, desc, IndexKind::Equality) else {
                    return Ok((None, Plan::Scan));
                };
                let ids = match schema.equality_key(at.name(), value) {
                    Ok(key) => lookup(src, &prefix(TAG_EQ, &at.oid, &key))?,
                    // An assertion invalid for the rule is Undefined: nothing matches.
                    Err(_) => RoaringTreemap::new(),
                };
                let what = format!("{} eq", at.name());
                let n = ids.len();
                Ok((Some(ids), Plan::Index { what, ids: n }))
            }
            Filter::Present(desc) => {
                let Some((at, _)) = self.indexed(schema, desc, IndexKind::Presence) else {
                    return Ok((None, Plan::Scan));
                };
                let ids = lookup(src, &prefix(TAG_PRES, &at.oid, b""))?;
                let what = format!("{} pres", at.name());
                let n = ids.len();
                Ok((Some(ids), Plan::Index { what, ids: n }))
            }
            Filter::Substrings(desc, sub) => {
                let Some((at, _)) = self.indexed(schema, desc, IndexKind::Substrings) else {
                    return Ok((None, Plan::Scan));
                };
                let Some(rule) = at.substr_rule() else {
                    return Ok((None, Plan::Scan));
                };
                let Ok(prepared) = rule.prepare_substrings(sub) else {
                    return Ok((
                        Some(RoaringTreemap::new()),
                        Plan::Index {
                            what: format!("{} sub", at.name()),
                            ids: 0,
                        },
                    ));
                };
                let (initial, any, final_) = prepared.parts();
                let t = &self.tunables;
                let mut acc: Option<RoaringTreemap> = None;
                let mut and = |ids: RoaringTreemap| {
                    acc = Some(match acc.take() {
                        Some(a) => a & ids,
                        None => ids,
                    });
                };
                if let Some(p) = initial.filter(|p| p.len() >= t.if_minlen) {
                    let k = p.get(..t.if_maxlen.min(p.len())).unwrap_or(p);
                    and(lookup(src, &prefix(TAG_SUB_INITIAL, &at.oid, k))?);
                }
                if let Some(p) = final_.filter(|p| p.len() >= t.if_minlen) {
                    let k = p.get(p.len() - t.if_maxlen.min(p.len())..).unwrap_or(p);
                    and(lookup(src, &prefix(TAG_SUB_FINAL, &at.oid, k))?);
                }
                // Any keys cover every piece at least any_len long, including the middle of
                // long initial and final pieces.
                let pieces = initial
                    .into_iter()
                    .chain(any.iter().map(Vec::as_slice))
                    .chain(final_);
                for p in pieces {
                    if t.any_len == 0 || p.len() < t.any_len {
                        continue;
                    }
                    let mut start = 0;
                    loop {
                        let end = (start + t.any_len).min(p.len());
                        let s = end - t.any_len;
                        if let Some(w) = p.get(s..end) {
                            and(lookup(src, &prefix(TAG_SUB_ANY, &at.oid, w))?);
                        }
                        if end == p.len() {
                            break;
                        }
                        start += t.any_step.max(1);
                    }
                }
                let what = format!("{} sub", at.name());
                match acc {
                    Some(ids) => {
                        let n = ids.len();
                        Ok((Some(ids), Plan::Index { what, ids: n }))
                    }
                    None => Ok((None, Plan::Scan)),
                }
            }
            Filter::Not(_)
            | Filter::GreaterOrEqual(..)
            | Filter::LessOrEqual(..)
            | Filter::Extensible { .. } => Ok((None, Plan::Scan)),
        }
    }

    /// Candidates of an approximate item on a type with an approximate rule: the entries
    /// posted under every non-empty phonetic code of the assertion's words (a matching
    /// value has a word of each code). A word with the empty code narrows nothing (no
    /// value is indexed under it; slapd looks it up anyway and so misses `3Com` for
    /// `~=9`), so an assertion made only of such words is answered by a scan. An
    /// assertion invalid for the equality rule, or without words, matches nothing.
    fn approx_candidates(
        &self,
        schema: &Schema,
        src: &PostingReader<'_>,
        desc: &str,
        value: &[u8],
    ) -> Result<(Option<RoaringTreemap>, Plan), StoreError> {
        let Some((at, _)) = self.indexed(schema, desc, IndexKind::Approx) else {
            return Ok((None, Plan::Scan));
        };
        let what = format!("{} approx", at.name());
        let assertion = schema
            .approx_assertion(at, value)
            .filter(ApproxAssertion::has_words);
        let Some(assertion) = assertion else {
            return Ok((Some(RoaringTreemap::new()), Plan::Index { what, ids: 0 }));
        };
        let mut acc: Option<RoaringTreemap> = None;
        for code in assertion.index_keys() {
            let ids = lookup(src, &prefix(TAG_APPROX, &at.oid, code.as_bytes()))?;
            let ids = match acc.take() {
                Some(a) => a & ids,
                None => ids,
            };
            let empty = ids.is_empty();
            acc = Some(ids);
            if empty {
                break;
            }
        }
        match acc {
            Some(ids) => {
                let n = ids.len();
                Ok((Some(ids), Plan::Index { what, ids: n }))
            }
            None => Ok((None, Plan::Scan)),
        }
    }

    /// The posting list prefix of a term answered by one index lookup (equality or
    /// presence on an indexed type), with its description for plans.
    fn lookup_key(&self, schema: &Schema, f: &Filter) -> Option<(Vec<u8>, String)> {
        match f {
            Filter::Equality(desc, value) => {
                let (at, _) = self.indexed(schema, desc, IndexKind::Equality)?;
                let key = schema.equality_key(at.name(), value).ok()?;
                Some((prefix(TAG_EQ, &at.oid, &key), format!("{} eq", at.name())))
            }
            Filter::Present(desc) => {
                let (at, _) = self.indexed(schema, desc, IndexKind::Presence)?;
                Some((
                    prefix(TAG_PRES, &at.oid, b""),
                    format!("{} pres", at.name()),
                ))
            }
            _ => None,
        }
    }

    /// The attribute type of a filter description when it is indexed for `kind`. A
    /// description with options is not indexed (its values are a subset).
    fn indexed<'a>(
        &self,
        schema: &'a Schema,
        desc: &str,
        kind: IndexKind,
    ) -> Option<(&'a AttributeType, ())> {
        if desc.contains(';') {
            return None;
        }
        let at = schema.attribute_type(desc)?;
        // A type with subtypes (name, cn's supertype) matches values of other types too,
        // which this type's keys do not cover.
        if schema.has_subtypes(at) {
            return None;
        }
        self.kinds(at)
            .filter(|k| k.contains(&kind))
            .map(|_| (at, ()))
    }
}

impl Indexes {
    /// Equality lookup of one value (refint and memberof find referrers with it); None when
    /// `desc` has no equality index.
    pub fn eq_lookup(
        &self,
        schema: &Schema,
        src: &PostingReader<'_>,
        desc: &str,
        value: &[u8],
    ) -> Result<Option<RoaringTreemap>, StoreError> {
        let Some(at) = schema.attribute_type(desc) else {
            return Ok(None);
        };
        if !self
            .kinds(at)
            .is_some_and(|k| k.contains(&IndexKind::Equality))
        {
            return Ok(None);
        }
        match schema.equality_key(at.name(), value) {
            Ok(key) => Ok(Some(lookup(src, &prefix(TAG_EQ, &at.oid, &key))?)),
            Err(_) => Ok(Some(RoaringTreemap::new())),
        }
    }

    /// [`Indexes::eq_lookup`] of a value naming the already normalized DN `dn`. Under
    /// distinguishedNameMatch (RFC 4517 §4.2.15) a value's equality key is its normalized
    /// DN's string, so the value is not parsed and normalized again (memberOf looks up
    /// every entry a bulk load adds); other rules normalize `dn`'s string as a value.
    ///
    /// Errors: as [`Indexes::eq_lookup`].
    pub fn eq_lookup_dn(
        &self,
        schema: &Schema,
        src: &PostingReader<'_>,
        desc: &str,
        dn: &oxldap_schema::NormDn,
    ) -> Result<Option<RoaringTreemap>, StoreError> {
        let Some(at) = schema.attribute_type(desc) else {
            return Ok(None);
        };
        let dn_match = at
            .equality_rule()
            .is_some_and(|r| r.name.eq_ignore_ascii_case("distinguishedNameMatch"));
        if !dn_match {
            return self.eq_lookup(schema, src, desc, dn.to_string().as_bytes());
        }
        if !self
            .kinds(at)
            .is_some_and(|k| k.contains(&IndexKind::Equality))
        {
            return Ok(None);
        }
        let key = dn.to_string();
        Ok(Some(lookup(src, &prefix(TAG_EQ, &at.oid, key.as_bytes()))?))
    }

    /// Whether attribute description `desc` has an equality index.
    pub(crate) fn has_equality(&self, schema: &Schema, desc: &str) -> bool {
        schema
            .attribute_type(desc)
            .and_then(|at| self.kinds(at))
            .is_some_and(|k| k.contains(&IndexKind::Equality))
    }

    /// Adds an equality index on `attr` if the configuration has none (overlays need one).
    pub fn ensure_equality(&mut self, schema: &Schema, attr: &str) {
        if let Some(at) = schema.attribute_type(attr) {
            self.by_oid
                .entry(at.oid.clone())
                .or_default()
                .insert(IndexKind::Equality);
        }
    }
}

/// The approximate rule of an attribute type: the one slapd associates with its equality
/// rule, if any.
fn approx_rule(at: &AttributeType) -> Option<ApproxRule> {
    at.equality_rule().and_then(ApproxRule::for_equality)
}

/// Every id posted under `key` (see [`crate::postings`] for the layout).
fn lookup(src: &PostingReader<'_>, key: &[u8]) -> Result<RoaringTreemap, StoreError> {
    src.lookup(key)
}
