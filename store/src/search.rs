//! Search: scope walking over the DN trees and a full filter check on every candidate
//! (RFC 4511 §4.5). Indexes and a planner come later (issue 4); this walks the scope.

use crate::entry_cache::CachedEntry;
use crate::error::StoreError;
use crate::index::{Plan, MAX_PLAN_NODES};
use crate::keys;
use crate::store::{Store, StoredEntry};
use crate::view::EntryView;
use oxldap_proto::{Dn, Entry, Filter};
use oxldap_schema::NormDn;
use roaring::RoaringTreemap;
use std::sync::atomic::Ordering;

/// Up to this many index candidates are fetched directly; more make the search walk the
/// scope and test candidate membership instead.
pub const CANDIDATES_FETCH_LIMIT: u64 = 4096;

/// The search scope (RFC 4511 §4.5.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only the base entry.
    Base,
    /// Only the immediate subordinates of the base.
    One,
    /// The base and all its subordinates.
    Sub,
    /// All subordinates of the base, not the base itself (draft-sermersheim-ldap-subordinate-scope).
    Children,
}

/// Whether a filter names an attribute the store computes on read.
fn mentions_computed(f: &Filter) -> bool {
    oxldap_proto::stack::guard(|| mentions_computed_level(f))
}

/// One level of [`mentions_computed`].
fn mentions_computed_level(f: &Filter) -> bool {
    const COMPUTED: &[&str] = &[
        "hasSubordinates",
        "entryDN",
        "subschemaSubentry",
        "contextCSN",
    ];
    let named = |d: &str| {
        let t = d.split(';').next().unwrap_or(d);
        COMPUTED.iter().any(|c| c.eq_ignore_ascii_case(t))
            || [
                "2.5.18.9",
                "1.3.6.1.1.20",
                "2.5.18.10",
                "1.3.6.1.4.1.4203.666.1.25",
            ]
            .contains(&t)
    };
    match f {
        Filter::And(v) | Filter::Or(v) => v.iter().any(mentions_computed),
        Filter::Not(x) => mentions_computed(x),
        Filter::Equality(d, _)
        | Filter::Substrings(d, _)
        | Filter::GreaterOrEqual(d, _)
        | Filter::LessOrEqual(d, _)
        | Filter::Present(d)
        | Filter::Approx(d, _) => named(d),
        // Extensible matches may look at every attribute (no type given) or the DN.
        Filter::Extensible { attr, .. } => attr.as_deref().is_none_or(named),
    }
}

/// What the callback of [`Store::search`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchControl {
    /// Keep sending entries.
    Continue,
    /// Stop the search (size limit reached, abandoned, client gone).
    Stop,
}

/// Whether a search adds the computed operational attributes (hasSubordinates, entryDN,
/// subschemaSubentry, contextCSN; see `Store::present`) to the entries it hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// Add them to every entry handed out.
    Add,
    /// Leave them out: the caller returns no operational attribute the store computes, so
    /// a result costs one read and one decode. The filter still sees them when it names one.
    Omit,
}

impl Store {
    /// Calls `each` with every entry in `scope` of `base` that matches `filter`, with
    /// computed operational attributes, in DN order. The base must exist.
    ///
    /// Errors: noSuchObject (32) with matchedDN when the base does not exist (or lies outside
    /// the naming contexts), invalidDNSyntax (34), storage failures.
    pub fn search(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &Filter,
        each: impl FnMut(Entry) -> SearchControl,
    ) -> Result<(), StoreError> {
        self.search_with(base, scope, filter, Computed::Add, each)
    }

    /// An upper bound on how many entries a search of `scope` under `base` with `filter`
    /// reads: 1 for a base search, the size of the index candidate set otherwise, None when
    /// the filter is not indexed (the search scans its scope) or `base` lies outside the
    /// naming contexts. Costs the index lookups of the plan; the search plans again.
    ///
    /// Errors: invalidDNSyntax (34), storage failures.
    pub fn search_cost(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &Filter,
    ) -> Result<Option<u64>, StoreError> {
        let norm = self.normalize_dn(base)?;
        if !self.holds(&norm) {
            return Ok(None);
        }
        BaseMemo::keep(self, base, norm);
        if scope == Scope::Base {
            return Ok(Some(1));
        }
        let epoch = self.write_epoch.load(Ordering::Acquire);
        let (ids, plan) = self.plan(filter)?;
        let cost = ids.as_ref().map(|ids| ids.len());
        PlanMemo::keep(self, epoch, filter, ids, plan);
        Ok(cost)
    }

    /// [`Store::search`], choosing whether the entries carry the computed attributes.
    ///
    /// Errors: as [`Store::search`].
    pub fn search_with(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &Filter,
        computed: Computed,
        mut each: impl FnMut(Entry) -> SearchControl,
    ) -> Result<(), StoreError> {
        let (norm, base_id, candidates) = self.search_start(base, scope, filter)?;
        // The computed attributes (hasSubordinates, entryDN, ...) cost lookups: add them
        // before matching only when the filter names one, else only to entries that match.
        let needs_computed = mentions_computed(filter);
        // Descriptions resolved and assertion values normalized once, not per candidate.
        let prepared = self.schema.prepare(filter);
        // `stored` is the entry when the caller already loaded it (scope check).
        let mut visit_loaded = |id: u64, stored: StoredEntry| -> SearchControl {
            if needs_computed {
                let entry = self.present(id, stored);
                if prepared.matches(&self.schema, &entry) {
                    return each(entry);
                }
            } else if prepared.matches(&self.schema, &stored.entry) {
                return each(match computed {
                    Computed::Add => self.present(id, stored),
                    Computed::Omit => stored.entry,
                });
            }
            SearchControl::Continue
        };
        if let Some(ids) = candidates {
            // Few candidates: fetch them and check the scope; many: walk the scope and
            // skip ids that are not candidates (cheap bitmap test, no entry decode).
            if ids.len() <= CANDIDATES_FETCH_LIMIT {
                // An entry may have vanished since its id was read (no cross-tree
                // snapshot); each is read once for the scope test and the filter.
                for (id, parsed) in self.read_between_renames(&ids)? {
                    let stored = StoredEntry::decode(parsed.stored())?;
                    if !self.in_scope(id, &stored, base_id, &norm, scope) {
                        continue;
                    }
                    if visit_loaded(id, stored) == SearchControl::Stop {
                        break;
                    }
                }
                return Ok(());
            }
            let mut visit_if = |id: u64| -> Result<SearchControl, StoreError> {
                if !ids.contains(id) {
                    return Ok(SearchControl::Continue);
                }
                Ok(match self.load(id)? {
                    Some((_, stored)) => visit_loaded(id, stored),
                    None => SearchControl::Continue,
                })
            };
            return self.walk_scope(base_id, &norm, scope, &mut visit_if);
        }
        let mut visit = |id: u64| -> Result<SearchControl, StoreError> {
            Ok(match self.load(id)? {
                Some((_, stored)) => visit_loaded(id, stored),
                None => SearchControl::Continue,
            })
        };
        self.walk_scope(base_id, &norm, scope, &mut visit)
    }

    /// [`Store::search_with`] without the computed attributes ([`Computed::Omit`]),
    /// handing `each` a view of every matching entry that borrows the stored bytes
    /// ([`EntryView`]): the filter is tested on the view and nothing is decoded into
    /// owned values. Returns Ok(false), having done nothing, when the filter names a
    /// computed attribute (the view has none); the caller then uses `search_with`.
    ///
    /// Errors: as [`Store::search`]; a stored value that is not a well-formed entry is
    /// [`StoreError::Corrupt`].
    pub fn search_views(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &Filter,
        mut each: impl FnMut(&EntryView<'_>) -> SearchControl,
    ) -> Result<bool, StoreError> {
        if mentions_computed(filter) {
            return Ok(false);
        }
        let (norm, base_id, candidates) = self.search_start(base, scope, filter)?;
        let prepared = self.schema.prepare(filter);
        // Hands entry `id` on if it matches; `check_scope` when the id did not come from
        // walking the scope.
        let mut visit_parsed = |id: u64, parsed: &CachedEntry, check_scope: bool| {
            let view = parsed.view();
            if check_scope && !self.view_in_scope(id, &view, base_id, &norm, scope) {
                return Ok(SearchControl::Continue);
            }
            if !prepared.matches(&self.schema, &view) {
                return Ok(SearchControl::Continue);
            }
            Ok(each(&view))
        };
        if let Some(ids) = candidates
            .as_ref()
            .filter(|c| c.len() <= CANDIDATES_FETCH_LIMIT)
        {
            for (id, parsed) in self.read_between_renames(ids)? {
                if visit_parsed(id, &parsed, true)? == SearchControl::Stop {
                    break;
                }
            }
            return Ok(true);
        }
        // Reads entry `id` (None when it vanished) and visits it.
        let mut visit = |id: u64, check_scope: bool| -> Result<SearchControl, StoreError> {
            match self.read_entry(id)? {
                Some(parsed) => visit_parsed(id, &parsed, check_scope),
                None => Ok(SearchControl::Continue),
            }
        };
        if let Some(ids) = candidates {
            let mut visit_if = |id: u64| -> Result<SearchControl, StoreError> {
                if !ids.contains(id) {
                    return Ok(SearchControl::Continue);
                }
                visit(id, false)
            };
            self.walk_scope(base_id, &norm, scope, &mut visit_if)?;
            return Ok(true);
        }
        self.walk_scope(base_id, &norm, scope, &mut |id| visit(id, false))?;
        Ok(true)
    }

    /// [`Store::in_scope`] for a view: the parent id answers most scopes; the DN is
    /// decoded only for a subtree under one of several suffixes.
    fn view_in_scope(
        &self,
        id: u64,
        view: &EntryView<'_>,
        base_id: u64,
        base: &NormDn,
        scope: Scope,
    ) -> bool {
        self.in_scope_of(id, view.parent(), base_id, base, scope, || {
            view.to_stored()
                .and_then(|s| self.schema.normalize_dn(&s.entry.dn).ok())
        })
    }

    /// The start of every search: the base's normalized DN and id, and the candidate set
    /// from the indexes (None: walk the scope). A base search is not planned (it touches
    /// one entry; index lookups would cost more). Logs slapd's "not indexed" notice when
    /// a subtree or one-level search must test every entry in scope.
    ///
    /// Errors: noSuchObject (with matchedDN inside a naming context) when the base is
    /// absent; storage errors.
    fn search_start(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &Filter,
    ) -> Result<(NormDn, u64, Option<RoaringTreemap>), StoreError> {
        let norm = match BaseMemo::take(self, base) {
            Some(norm) => norm,
            None => self.normalize_dn(base)?,
        };
        let Some(base_id) = self.id_of(&norm)? else {
            let matched = if self.holds(&norm) {
                self.matched(&norm)?
            } else {
                None
            };
            return Err(StoreError::NoSuchObject { matched });
        };
        let (candidates, _) = if scope == Scope::Base {
            (None, Plan::Scan)
        } else if let Some(planned) = PlanMemo::take(self, filter) {
            planned
        } else {
            self.plan(filter)?
        };
        if candidates.is_none() && scope != Scope::Base && !self.indexes.is_empty() {
            tracing::info!(filter = %filter, base = %norm, "search not indexed: scanning the scope");
        }
        Ok((norm, base_id, candidates))
    }

    /// The candidate ids for `filter` from the indexes (None: every entry in scope) and
    /// how they were found.
    pub fn plan(&self, filter: &Filter) -> Result<(Option<RoaringTreemap>, Plan), StoreError> {
        if self.indexes.is_empty() {
            return Ok((None, Plan::Scan));
        }
        let mut budget = MAX_PLAN_NODES;
        self.with_postings(|src| {
            self.indexes
                .candidates(&self.schema, src, filter, &mut budget)
        })
    }

    /// Whether entry `id` (`stored`) lies in `scope` of the base (`base_id`, normalized
    /// `base`).
    fn in_scope(
        &self,
        id: u64,
        stored: &StoredEntry,
        base_id: u64,
        base: &NormDn,
        scope: Scope,
    ) -> bool {
        self.in_scope_of(id, stored.parent, base_id, base, scope, || {
            self.schema.normalize_dn(&stored.entry.dn).ok()
        })
    }

    /// Whether entry `id`, child of `parent`, lies in `scope` of the base: by ids alone
    /// where they decide, else by the entry's normalized DN (`dn`, computed only then;
    /// None counts as out of scope).
    fn in_scope_of(
        &self,
        id: u64,
        parent: u64,
        base_id: u64,
        base: &NormDn,
        scope: Scope,
        dn: impl FnOnce() -> Option<NormDn>,
    ) -> bool {
        match scope {
            Scope::Base => id == base_id,
            Scope::One => parent == base_id,
            Scope::Sub if id == base_id => true,
            Scope::Children if id == base_id => false,
            // With one suffix, everything the store holds lies under it.
            Scope::Sub | Scope::Children if self.is_only_suffix(base) => true,
            Scope::Sub | Scope::Children => dn().is_some_and(|n| n.is_descendant_of(base)),
        }
    }

    /// Calls `visit` with every id in `scope` of the base, parents before children.
    fn walk_scope(
        &self,
        base_id: u64,
        norm: &NormDn,
        scope: Scope,
        visit: &mut dyn FnMut(u64) -> Result<SearchControl, StoreError>,
    ) -> Result<(), StoreError> {
        match scope {
            Scope::Base => {
                visit(base_id)?;
            }
            Scope::One => {
                for child in self.child_ids(base_id) {
                    if visit(child?)? == SearchControl::Stop {
                        break;
                    }
                }
            }
            Scope::Sub | Scope::Children => {
                for id in self.subtree_ids(norm)? {
                    if scope == Scope::Children && id == base_id {
                        continue;
                    }
                    if visit(id)? == SearchControl::Stop {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// The ids of the entry `norm` and of every entry under it, parents first, as of one
    /// moment. A sled scan of `dn2id` is not isolated from a concurrent modify DN, which
    /// replaces the keys of the subtree it moves: streamed, a scan could meet a moved
    /// entry under its old and its new name, or under neither (tester 13, finding 1). So
    /// the ids are collected (8 bytes each) by [`Store::between_renames`].
    ///
    /// Errors: storage failures; a `dn2id` value that is not an id is
    /// [`StoreError::Corrupt`].
    fn subtree_ids(&self, norm: &NormDn) -> Result<Vec<u64>, StoreError> {
        self.between_renames(|| {
            self.trees
                .dn2id
                .scan_prefix(keys::dn_key(norm))
                .values()
                .map(|v| keys::decode_id(&v?).ok_or(StoreError::Corrupt { tree: "dn2id" }))
                .collect()
        })
    }

    /// The entries `ids` (those that exist), read as of one moment with respect to
    /// renames. Read one by one while a modify DN moved a subtree, a search's answer
    /// mixed entries under the old parent with entries under the new one (tester 14,
    /// finding 3: 176 of 40,000 searches); slapd reads one MVCC snapshot. For candidate
    /// sets (at most [`CANDIDATES_FETCH_LIMIT`] ids); the entries are shared with the
    /// entry cache or read from sled.
    ///
    /// Errors: as [`Store::read_entry`].
    fn read_between_renames(
        &self,
        ids: &RoaringTreemap,
    ) -> Result<Vec<(u64, CachedEntry)>, StoreError> {
        self.between_renames(|| {
            let mut out = Vec::with_capacity(usize::try_from(ids.len()).unwrap_or(0));
            for id in ids.iter() {
                if let Some(e) = self.read_entry(id)? {
                    out.push((id, e));
                }
            }
            Ok(out)
        })
    }

    /// Runs `read` and keeps its result only if no write that renames entries (modify
    /// DN, snapshot restore, clear: [`Store::renaming`]) ran meanwhile: the rename epoch
    /// was even before and has not moved. After [`RENAME_FREE_TRIES`] tries that met
    /// one, `read` runs under the write lock.
    fn between_renames<T>(
        &self,
        read: impl Fn() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        for _ in 0..RENAME_FREE_TRIES {
            let before = self.rename_epoch.load(Ordering::Acquire);
            if before.is_multiple_of(2) {
                let got = read()?;
                if self.rename_epoch.load(Ordering::Acquire) == before {
                    return Ok(got);
                }
            }
            std::thread::yield_now();
        }
        let _guard = self.lock_writes();
        read()
    }
}

/// Lock-free reads tried before one under the write lock ([`Store::between_renames`]).
const RENAME_FREE_TRIES: usize = 3;

/// The plan [`Store::search_cost`] made, kept on its thread for the search that follows
/// it there (a small search runs on the thread that costed it, with no await between),
/// so the filter is planned once. Used only if no write ran since: the store's write
/// epoch was even (no writer) when planning began and is unchanged, so planning again
/// would read the same postings.
struct PlanMemo {
    /// The store it was made on ([`Store::instance`]).
    store: u64,
    epoch: u64,
    filter: Filter,
    planned: (Option<RoaringTreemap>, Plan),
}

thread_local! {
    static LAST_PLAN: std::cell::RefCell<Option<PlanMemo>> = const { std::cell::RefCell::new(None) };
}

/// The base DN [`Store::search_cost`] normalized, kept for the search that follows on the
/// same thread so the base is normalized once (for a base search of an entry, the
/// normalization cost as much as the rest of the search). Normalizing is a pure function
/// of the DN and the store's schema, so the memo holds only if it is the same store and
/// an equal DN.
struct BaseMemo {
    /// The store it was made on ([`Store::instance`]).
    store: u64,
    dn: Dn,
    norm: NormDn,
}

thread_local! {
    static LAST_BASE: std::cell::RefCell<Option<BaseMemo>> = const { std::cell::RefCell::new(None) };
}

impl BaseMemo {
    fn keep(store: &Store, dn: &Dn, norm: NormDn) {
        let memo = BaseMemo {
            store: store.instance,
            dn: dn.clone(),
            norm,
        };
        LAST_BASE.with(|m| *m.borrow_mut() = Some(memo));
    }

    fn take(store: &Store, dn: &Dn) -> Option<NormDn> {
        let memo = LAST_BASE.with(|m| m.borrow_mut().take())?;
        (memo.store == store.instance && memo.dn == *dn).then_some(memo.norm)
    }
}

impl PlanMemo {
    fn keep(store: &Store, epoch: u64, filter: &Filter, ids: Option<RoaringTreemap>, plan: Plan) {
        let memo = (epoch.is_multiple_of(2) && store.write_epoch.load(Ordering::Acquire) == epoch)
            .then(|| PlanMemo {
                store: store.instance,
                epoch,
                filter: filter.clone(),
                planned: (ids, plan),
            });
        LAST_PLAN.with(|m| *m.borrow_mut() = memo);
    }

    fn take(store: &Store, filter: &Filter) -> Option<(Option<RoaringTreemap>, Plan)> {
        let memo = LAST_PLAN.with(|m| m.borrow_mut().take())?;
        (memo.store == store.instance
            && memo.epoch == store.write_epoch.load(Ordering::Acquire)
            && memo.filter == *filter)
            .then_some(memo.planned)
    }
}

/// What [`Store::search_cost`] left on its thread for the search that follows (the
/// normalized base and the costed plan), taken off that thread so that the search can
/// run on another one (the blocking pool) without normalizing and planning again: a
/// search of 250 candidates planned twice paid for its index lookups twice. Both parts
/// keep their checks where they are used again (the same store, an equal base or filter,
/// no write since the plan), so handing them to the wrong search only costs the reuse.
pub struct CostedSearch {
    base: Option<BaseMemo>,
    plan: Option<PlanMemo>,
}

impl CostedSearch {
    /// Takes what the last [`Store::search_cost`] on this thread left (empty when
    /// nothing, or when a search already used it).
    pub fn take() -> CostedSearch {
        CostedSearch {
            base: LAST_BASE.with(|m| m.borrow_mut().take()),
            plan: LAST_PLAN.with(|m| m.borrow_mut().take()),
        }
    }

    /// Leaves it on this thread for the next search made here.
    pub fn resume(self) {
        LAST_BASE.with(|m| *m.borrow_mut() = self.base);
        LAST_PLAN.with(|m| *m.borrow_mut() = self.plan);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::index::{IndexConfig, IndexKind};
    use crate::{Computed, Mod, ModOp};

    fn indexed_store() -> Store {
        crate::test_support::store_with(IndexConfig {
            attrs: vec![("cn".into(), [IndexKind::Equality].into_iter().collect())],
            ..Default::default()
        })
    }

    fn dns(s: &Store, filter: &Filter) -> Vec<String> {
        let mut out = Vec::new();
        let base = Dn::parse("dc=example,dc=com").unwrap();
        s.search_with(&base, Scope::Sub, filter, Computed::Omit, |e| {
            out.push(e.dn.to_string());
            SearchControl::Continue
        })
        .unwrap();
        out
    }

    /// What `search_views` (read through the entry cache) finds for `filter`: the DN and
    /// the `sn` values of each match.
    fn viewed(s: &Store, filter: &str) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let base = Dn::parse("dc=example,dc=com").unwrap();
        let filter = Filter::parse(filter).unwrap();
        s.search_views(&base, Scope::Sub, &filter, |v| {
            let dn = v.dn_text().to_string();
            let sn = v
                .attrs()
                .filter(|(d, _)| *d == "sn")
                .flat_map(|(_, vals)| vals.map(|x| String::from_utf8_lossy(x).into_owned()))
                .collect();
            out.push((dn, sn));
            SearchControl::Continue
        })
        .unwrap();
        out
    }

    #[test]
    fn no_write_leaves_a_stale_entry_in_the_entry_cache() {
        let s = indexed_store();
        crate::test_support::add(&s, "dc=example,dc=com", "domain");
        let mut e = Entry::new(Dn::parse("cn=a,dc=example,dc=com").unwrap());
        e.push_value("objectClass", b"person".to_vec());
        e.push_value("sn", b"one".to_vec());
        s.add(e, &Default::default()).unwrap();
        let ctx = Default::default();
        let dn = Dn::parse("cn=a,dc=example,dc=com").unwrap();
        let one = |dn: &str, sn: &str| vec![(dn.to_string(), vec![sn.to_string()])];
        // Each search reads the entry (and caches it); each write must be seen next.
        assert_eq!(viewed(&s, "(cn=a)"), one("cn=a,dc=example,dc=com", "one"));
        let snap = s.snapshot().unwrap();
        let replace = |v: &str| Mod {
            op: ModOp::Replace,
            attr: oxldap_proto::Attribute::new("sn".to_string(), vec![v.as_bytes().to_vec()]),
        };
        s.modify(&dn, vec![replace("two")], &ctx).unwrap();
        assert_eq!(viewed(&s, "(cn=a)"), one("cn=a,dc=example,dc=com", "two"));
        let rdn = Dn::parse("cn=b").unwrap().rdns.remove(0);
        s.modify_dn(&dn, &rdn, true, None, &ctx).unwrap();
        assert_eq!(viewed(&s, "(cn=b)"), one("cn=b,dc=example,dc=com", "two"));
        assert_eq!(viewed(&s, "(sn=two)"), one("cn=b,dc=example,dc=com", "two"));
        // The snapshot restore rewrites the trees: the old entry is back, under its id.
        s.restore(&snap).unwrap();
        assert_eq!(viewed(&s, "(sn=*)"), one("cn=a,dc=example,dc=com", "one"));
        s.delete(&dn, &ctx).unwrap();
        assert_eq!(viewed(&s, "(sn=*)"), vec![]);
        s.restore(&snap).unwrap();
        assert_eq!(viewed(&s, "(sn=*)"), one("cn=a,dc=example,dc=com", "one"));
        s.clear().unwrap();
        assert!(s.load(2).unwrap().is_none() && s.load(3).unwrap().is_none());
    }

    /// Readers racing a writer never see an entry older than the last acknowledged
    /// write (a fill of bytes read before a write must not outlive the write's forget).
    #[test]
    fn readers_racing_writes_never_keep_a_stale_entry() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let s = std::sync::Arc::new(indexed_store());
        crate::test_support::add(&s, "dc=example,dc=com", "domain");
        let mut e = Entry::new(Dn::parse("cn=a,dc=example,dc=com").unwrap());
        e.push_value("objectClass", b"person".to_vec());
        e.push_value("sn", b"0".to_vec());
        s.add(e, &Default::default()).unwrap();
        let acked = std::sync::Arc::new(AtomicU64::new(0));
        const WRITES: u64 = 300;
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (s, acked) = (s.clone(), acked.clone());
                std::thread::spawn(move || loop {
                    let floor = acked.load(Ordering::Acquire);
                    let got = viewed(&s, "(cn=a)");
                    let sn: u64 = got[0].1[0].parse().unwrap();
                    assert!(
                        sn >= floor,
                        "read sn={sn} after write {floor} was acknowledged"
                    );
                    if floor == WRITES {
                        break;
                    }
                })
            })
            .collect();
        let dn = Dn::parse("cn=a,dc=example,dc=com").unwrap();
        for k in 1..=WRITES {
            let m = Mod {
                op: ModOp::Replace,
                attr: oxldap_proto::Attribute::new(
                    "sn".to_string(),
                    vec![k.to_string().into_bytes()],
                ),
            };
            s.modify(&dn, vec![m], &Default::default()).unwrap();
            acked.store(k, Ordering::Release);
        }
        for r in readers {
            r.join().unwrap();
        }
    }

    #[test]
    fn a_suffix_base_normalizes_as_the_schema_does() {
        let s = indexed_store();
        for dn in [
            "dc=example,dc=com",
            "DC=Example, dc=COM",
            "cn=x,dc=example,dc=com",
        ] {
            let dn = Dn::parse(dn).unwrap();
            assert_eq!(
                s.normalize_dn(&dn).unwrap(),
                s.schema.normalize_dn(&dn).unwrap()
            );
        }
    }

    #[test]
    fn a_costed_plan_is_reused_only_while_nothing_was_written() {
        let s = indexed_store();
        crate::test_support::add(&s, "dc=example,dc=com", "domain");
        let person = |cn: &str| {
            let mut e = Entry::new(Dn::parse(&format!("cn={cn},dc=example,dc=com")).unwrap());
            e.push_value("objectClass", b"person".to_vec());
            e.push_value("sn", b"x".to_vec());
            e
        };
        s.add(person("a"), &Default::default()).unwrap();
        let filter = Filter::parse("(cn=b)").unwrap();
        let base = Dn::parse("dc=example,dc=com").unwrap();
        // Costed with no match, then the entry is added: the search must plan again.
        assert_eq!(s.search_cost(&base, Scope::Sub, &filter).unwrap(), Some(0));
        s.add(person("b"), &Default::default()).unwrap();
        assert_eq!(dns(&s, &filter), vec!["cn=b,dc=example,dc=com"]);
        // Costed with nothing written since: the memo is taken and gives the same answer.
        assert_eq!(s.search_cost(&base, Scope::Sub, &filter).unwrap(), Some(1));
        assert!(LAST_PLAN.with(|m| m.borrow().is_some()));
        assert_eq!(dns(&s, &filter), vec!["cn=b,dc=example,dc=com"]);
        assert!(LAST_PLAN.with(|m| m.borrow().is_none()));
        // Another filter does not take it.
        assert_eq!(s.search_cost(&base, Scope::Sub, &filter).unwrap(), Some(1));
        assert!(dns(&s, &Filter::parse("(cn=a)").unwrap()) == vec!["cn=a,dc=example,dc=com"]);
    }

    #[test]
    fn a_normalized_base_is_reused_only_for_an_equal_base() {
        let s = indexed_store();
        crate::test_support::add(&s, "dc=example,dc=com", "domain");
        let mut e = Entry::new(Dn::parse("cn=A B,dc=example,dc=com").unwrap());
        e.push_value("objectClass", b"person".to_vec());
        e.push_value("sn", b"x".to_vec());
        s.add(e, &Default::default()).unwrap();
        let all = Filter::parse("(objectClass=*)").unwrap();
        let base_dns = |base: &Dn| {
            let mut out = Vec::new();
            s.search_with(base, Scope::Base, &all, Computed::Omit, |e| {
                out.push(e.dn.to_string());
                SearchControl::Continue
            })
            .unwrap();
            out
        };
        let a = Dn::parse("CN=a b,DC=Example,dc=com").unwrap();
        let suffix = Dn::parse("dc=example,dc=com").unwrap();
        // Costed, then searched with the same base: the memo is taken.
        assert_eq!(s.search_cost(&a, Scope::Base, &all).unwrap(), Some(1));
        assert!(LAST_BASE.with(|m| m.borrow().is_some()));
        assert_eq!(base_dns(&a), vec!["cn=A B,dc=example,dc=com"]);
        assert!(LAST_BASE.with(|m| m.borrow().is_none()));
        // Costed with one base, searched with another: the other's own form is used.
        assert_eq!(s.search_cost(&a, Scope::Base, &all).unwrap(), Some(1));
        assert_eq!(base_dns(&suffix), vec!["dc=example,dc=com"]);
        assert!(LAST_BASE.with(|m| m.borrow().is_none()));
        assert_eq!(base_dns(&a), vec!["cn=A B,dc=example,dc=com"]);
    }
}
