//! Overlays that run inside the write pipeline: referential integrity and memberOf, as
//! slapd's `refint` and `memberof` overlays (slapo-refint(5), slapo-memberof(5)), but
//! synchronous and atomic: they stage entry changes in the same [`Txn`] as the write
//! that caused them, so the write and every derived change commit together or not at all.
//!
//! The interface is [`WriteOverlay`]: after an operation has staged its own changes, each
//! overlay of the stack is called once with the [`Txn`] and may stage more entry changes
//! (never index postings or change-log records: those derive from the final images in
//! `Txn::commit`, which is where syncprov's part of the write path lives). Overlays run in
//! slapd's stack order, the reverse of their `overlay` lines in the configuration
//! (slapd.conf(5) "overlay": "they will execute in the reverse of the order in which they
//! were configured"), and each sees what the ones before it staged.
//!
//! Both overlays work from the touched entries' before/after images, so add, modify,
//! delete and modify DN are handled by one rule each instead of one path per operation,
//! and their rewrites are idempotent: refint and `memberof-refint` on the same attribute,
//! in either order, give the same result.

use crate::csn::Csn;
use crate::error::StoreError;
use crate::store::{Store, StoredEntry};
use crate::txn::Txn;
use oxldap_proto::{Attribute, Dn, Entry, ResultCode};
use oxldap_schema::NormDn;
use rustc_hash::FxHashSet;
use std::collections::{BTreeMap, BTreeSet};

/// One member's memberOf change in a write: group DNs to remove, group DNs to add, and
/// the CSN of the newest group change causing it.
/// Group DNs to add come with their normalized form, made once per group rather than
/// once per member (a bulk load's group adds thousands of members at once).
type MemberOfDelta = (Vec<NormDn>, Vec<(Dn, NormDn)>, Option<Csn>);

/// What memberof does with member DNs that name no entry (`memberof-dangling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dangling {
    /// Keep the value, maintain nothing (slapd default).
    #[default]
    Ignore,
    /// Remove the dangling value from the group.
    Drop,
    /// Refuse the write with `dangling_error`.
    Error,
}

/// memberof overlay settings (slapo-memberof(5) names).
#[derive(Debug, Clone)]
pub struct MemberOf {
    /// `memberof-group-oc`: the object class of groups (default groupOfNames).
    pub group_oc: String,
    /// `memberof-member-ad`: the membership attribute of groups (default member).
    pub member_ad: String,
    /// `memberof-memberof-ad`: the attribute maintained on members (default memberOf).
    pub memberof_ad: String,
    /// `memberof-dangling`.
    pub dangling: Dangling,
    /// `memberof-dangling-error`: the result code for [`Dangling::Error`]
    /// (default constraintViolation).
    pub dangling_error: ResultCode,
    /// `memberof-refint`: a deleted or renamed member leaves or follows into its groups.
    pub refint: bool,
    /// `memberof-dn`: the modifiersName of overlay writes (default: the rootdn).
    pub modifier: Dn,
}

impl MemberOf {
    /// The slapo-memberof(5) defaults: groups are `groupOfNames` with `member`, members
    /// get `memberOf`, dangling members are ignored (error code constraintViolation),
    /// `memberof-refint` is off; overlay writes are made as `modifier` (`memberof-dn`).
    pub fn slapd_defaults(modifier: Dn) -> MemberOf {
        MemberOf {
            group_oc: "groupOfNames".into(),
            member_ad: "member".into(),
            memberof_ad: "memberOf".into(),
            dangling: Dangling::Ignore,
            dangling_error: ResultCode::ConstraintViolation,
            refint: false,
            modifier,
        }
    }
}

/// refint overlay settings (slapo-refint(5)).
#[derive(Debug, Clone)]
pub struct Refint {
    /// `refint_attributes`: DN-valued attributes kept consistent.
    pub attributes: Vec<String>,
    /// `refint_nothing`: the value put in place of the last value of an attribute the
    /// entry must keep (e.g. groupOfNames' member), so the entry stays valid.
    pub nothing: Option<Dn>,
    /// `refint_modifiersName` (slapd default `cn=Referential Integrity Overlay`).
    pub modifier: Dn,
}

/// Which overlay an `overlay` line configured (for [`Overlays::configured`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayKind {
    /// `overlay memberof`.
    MemberOf,
    /// `overlay refint`.
    Refint,
}

/// One overlay of the write path (slapd.overlays(5) in spirit): called once per write,
/// after the operation's own changes and those of the overlays that ran before it are
/// staged in `t`, it may stage more entry changes through `t`.
///
/// Errors: an error fails the whole write (nothing of it commits), with the error's
/// result code.
pub(crate) trait WriteOverlay {
    /// The overlay's name in the configuration (for logs).
    fn name(&self) -> &'static str;
    /// Stages this overlay's changes for the write in `t`.
    fn apply(&self, store: &Store, t: &mut Txn<'_>) -> Result<(), StoreError>;
}

impl WriteOverlay for MemberOf {
    fn name(&self) -> &'static str {
        "memberof"
    }
    fn apply(&self, store: &Store, t: &mut Txn<'_>) -> Result<(), StoreError> {
        if self.refint {
            store.refint(t, &[(self.member_ad.clone(), None, self.modifier.clone())])?;
        }
        store.memberof(t, self)
    }
}

impl WriteOverlay for Refint {
    fn name(&self) -> &'static str {
        "refint"
    }
    fn apply(&self, store: &Store, t: &mut Txn<'_>) -> Result<(), StoreError> {
        let targets: Vec<_> = self
            .attributes
            .iter()
            .map(|a| (a.clone(), self.nothing.clone(), self.modifier.clone()))
            .collect();
        store.refint(t, &targets)
    }
}

/// The overlays configured on a store.
#[derive(Debug, Clone, Default)]
pub struct Overlays {
    /// The memberof overlay, if configured.
    pub memberof: Option<MemberOf>,
    /// The refint overlay, if configured.
    pub refint: Option<Refint>,
    /// The order of the `overlay` lines in the configuration. Overlays that are set but
    /// not listed here are taken as configured after the listed ones, refint before
    /// memberof (so memberof runs first, as with `overlay refint` then `overlay memberof`).
    pub configured: Vec<OverlayKind>,
}

impl Overlays {
    /// The overlays in execution order: the reverse of the configuration (slapd's stack).
    pub(crate) fn stack(&self) -> Vec<&dyn WriteOverlay> {
        let mut order = self.configured.clone();
        for k in [OverlayKind::Refint, OverlayKind::MemberOf] {
            if !order.contains(&k) {
                order.push(k);
            }
        }
        order
            .iter()
            .rev()
            .filter_map(|k| match k {
                OverlayKind::MemberOf => self.memberof.as_ref().map(|m| m as &dyn WriteOverlay),
                OverlayKind::Refint => self.refint.as_ref().map(|r| r as &dyn WriteOverlay),
            })
            .collect()
    }
}

impl Store {
    /// Runs the configured overlays over the changes staged in `t`.
    pub(crate) fn run_overlays(&self, t: &mut Txn<'_>) -> Result<(), StoreError> {
        for overlay in self.overlays.stack() {
            overlay.apply(self, t).inspect_err(|e| {
                tracing::debug!(overlay = overlay.name(), error = %e, "overlay refused the write");
            })?;
        }
        Ok(())
    }

    /// Referential integrity: in each `(attribute, placeholder, modifier)` target, every
    /// value naming an entry this write deleted is removed, and every value naming an
    /// entry it renamed is rewritten (slapo-refint(5); memberof-refint for `member`).
    fn refint(
        &self,
        t: &mut Txn<'_>,
        targets: &[(String, Option<Dn>, Dn)],
    ) -> Result<(), StoreError> {
        if targets.is_empty() {
            return Ok(());
        }
        // old normalized DN → new pretty DN (None: deleted).
        let mut moved: BTreeMap<NormDn, Option<Dn>> = BTreeMap::new();
        for (id, tch) in &t.touched {
            let Some(before) = &tch.before else { continue };
            let old = self.schema.normalize_dn(&before.entry.dn)?;
            match &tch.after {
                None => {
                    moved.insert(old, None);
                }
                Some(after) => {
                    if after.entry.dn != before.entry.dn || t.renamed == Some(*id) {
                        moved.insert(old, Some(after.entry.dn.clone()));
                    }
                }
            }
        }
        if moved.is_empty() {
            return Ok(());
        }
        for (attr, nothing, modifier) in targets {
            let Some(desc) = self.schema.canonical_desc(attr) else {
                continue;
            };
            for id in self.referrers(t, &desc, &moved)? {
                let Some(mut update) = t.get_for_update(id)? else {
                    continue;
                };
                let stored = &mut update.entry;
                let Some(a) = stored.entry.get_mut(&desc) else {
                    continue;
                };
                let mut changed = false;
                let mut values = Vec::with_capacity(a.values.len());
                // A value rewritten to a DN the attribute already holds is dropped, so the
                // entry never holds two equal values (slapd's refint would fail that
                // modify with 20 and leave the stale value).
                let mut seen: BTreeSet<NormDn> = BTreeSet::new();
                for v in a.values.drain(..) {
                    let norm = self.norm_value(&v);
                    match norm.as_ref().and_then(|n| moved.get(n)) {
                        Some(Some(new_dn)) => {
                            changed = true;
                            if let Ok(n) = self.schema.normalize_dn(new_dn) {
                                if !seen.insert(n) {
                                    continue;
                                }
                            }
                            values.push(new_dn.to_string().into_bytes());
                        }
                        Some(None) => changed = true,
                        None => {
                            if let Some(n) = norm {
                                if !seen.insert(n) {
                                    changed = true;
                                    continue;
                                }
                            }
                            values.push(v);
                        }
                    }
                }
                if !changed {
                    continue;
                }
                if values.is_empty() {
                    match nothing {
                        Some(n) => values.push(n.to_string().into_bytes()),
                        None => {
                            // Without refint_nothing, a value the entry must keep (the last
                            // member of a groupOfNames) stays, dangling, as slapd leaves it.
                            let mut probe = stored.entry.clone();
                            probe.remove(&desc);
                            if self.schema.check_entry(&probe).is_err() {
                                continue;
                            }
                            stored.entry.remove(&desc);
                        }
                    }
                }
                if let Some(a) = stored.entry.get_mut(&desc) {
                    a.values = values;
                }
                let csn = t.csn;
                self.stamp_overlay(&mut stored.entry, csn, modifier);
                t.restamp(id, csn);
                t.put_update(id, update)?;
            }
        }
        Ok(())
    }

    /// Ids of entries (other than deleted ones) whose `desc` values name a DN in `moved`.
    fn referrers(
        &self,
        t: &Txn<'_>,
        desc: &str,
        moved: &BTreeMap<NormDn, Option<Dn>>,
    ) -> Result<Vec<u64>, StoreError> {
        let mut out = BTreeSet::new();
        // With an equality index on the attribute (always there for memberof's member
        // attribute), the committed referrers are index lookups; otherwise a scan.
        let mut indexed = true;
        for old in moved.keys() {
            // By the normalized DN itself: its printed form need not parse as a value
            // (`cn=` for a value that maps to nothing, such as a lone soft hyphen).
            let found =
                self.with_postings(|src| self.indexes.eq_lookup_dn(&self.schema, src, desc, old))?;
            match found {
                Some(ids) => out.extend(ids.iter().filter(|id| !t.touched.contains_key(id))),
                None => {
                    indexed = false;
                    break;
                }
            }
        }
        let mut check = |id: u64, e: &StoredEntry| {
            if e.entry
                .values(desc)
                .iter()
                .any(|v| self.norm_value(v).is_some_and(|n| moved.contains_key(&n)))
            {
                out.insert(id);
            }
        };
        if !indexed {
            for kv in self.trees.entries.iter() {
                let (k, v) = kv?;
                let Some(id) = crate::keys::decode_id(&k) else {
                    continue;
                };
                if t.touched.contains_key(&id) {
                    continue;
                }
                check(id, &StoredEntry::decode(&v)?);
            }
        }
        for (id, tch) in &t.touched {
            if let Some(after) = &tch.after {
                check(*id, after);
            }
        }
        Ok(out.into_iter().collect())
    }

    /// memberOf: for every touched group, members that left lose the group's old DN and
    /// members that joined gain its new DN (slapo-memberof(5); no transitive expansion).
    fn memberof(&self, t: &mut Txn<'_>, mo: &MemberOf) -> Result<(), StoreError> {
        let Some(member_ad) = self.schema.canonical_desc(&mo.member_ad) else {
            return Ok(());
        };
        let Some(memberof_ad) = self.schema.canonical_desc(&mo.memberof_ad) else {
            return Ok(());
        };
        // Member entry id → (group DNs to remove, group DNs to add). Old member values name
        // entries in the committed namespace, new ones in the staged one (a member moved
        // by this same write is found either way).
        // The CSN is that of the newest change causing the update: in a multi-entry write
        // (bulk load) a member's memberOf changes when the later of it and its group is
        // added, as it did when each entry was its own write.
        let mut delta: BTreeMap<u64, MemberOfDelta> = BTreeMap::new();
        let groups: Vec<u64> = t.touched.keys().copied().collect();
        let namespace_moved = t
            .touched
            .values()
            .any(|tch| match (&tch.before, &tch.after) {
                (Some(b), Some(a)) => b.entry.dn != a.entry.dn,
                _ => true,
            });
        for gid in groups {
            // Only groups (before or after) are looked at: a bulk-load chunk touches a
            // thousand entries, most of them not groups, which would change nothing here.
            let Some(tch) = t.touched.get(&gid) else {
                continue;
            };
            let is_group =
                |s: &Option<StoredEntry>| s.as_ref().is_some_and(|s| self.is_group(&s.entry, mo));
            let (was_group, is_group) = (is_group(&tch.before), is_group(&tch.after));
            if !was_group && !is_group {
                continue;
            }
            // The images are borrowed, not cloned (a group may hold thousands of
            // values); only a group losing dangling members is copied, to change it.
            let before = tch.before.as_ref().filter(|_| was_group);
            let after = tch.after.as_ref().filter(|_| is_group);
            let old_dn = before
                .map(|b| self.schema.normalize_dn(&b.entry.dn))
                .transpose()?;
            let new_dn = after.as_ref().map(|a| a.entry.dn.clone());
            let same_name = match (&old_dn, &new_dn) {
                (Some(o), Some(n)) => self.schema.normalize_dn(n).ok().as_ref() == Some(o),
                _ => false,
            };
            // The member values to judge. When no entry appeared, vanished or moved in
            // this write, a group that keeps its name only needs the values this write
            // removed or added (compared as bytes first: an entry never holds two values
            // equal under the equality rule, so an unchanged value names the same entry,
            // or none, before and after). Adding one member to a 50,000-member group then
            // normalizes one DN, not 100,000. (When entries move, an unchanged value may
            // name an entry that just arrived under it: every value is judged.)
            let (old, new) = {
                let none: &[Vec<u8>] = &[];
                let bv = before.map_or(none, |b| b.entry.values(&member_ad));
                let av = after.map_or(none, |a| a.entry.values(&member_ad));
                if same_name && !namespace_moved {
                    let bs: FxHashSet<&[u8]> = bv.iter().map(Vec::as_slice).collect();
                    let afs: FxHashSet<&[u8]> = av.iter().map(Vec::as_slice).collect();
                    (
                        self.members_in(bv.iter().filter(|v| !afs.contains(v.as_slice()))),
                        self.members_in(av.iter().filter(|v| !bs.contains(v.as_slice()))),
                    )
                } else {
                    (self.members_in(bv.iter()), self.members_in(av.iter()))
                }
            };
            let old: BTreeMap<NormDn, ()> = old.into_iter().map(|m| (m, ())).collect();
            // The added group's own name, normalized once (not once per member).
            let added_as = if before.is_none() {
                new_dn
                    .as_ref()
                    .and_then(|d| self.schema.normalize_dn(d).ok())
            } else {
                None
            };
            // Dangling members: only values this write adds are judged.
            let mut dropped = BTreeSet::new();
            for m in &new {
                if old.contains_key(m) && same_name {
                    continue;
                }
                // A group being added that lists itself names an entry that does not exist
                // yet when its members are judged: slapd treats it as dangling.
                let self_on_add = added_as.as_ref() == Some(m);
                if (self_on_add || t.id_of(m)?.is_none()) && Some(m) != old_dn.as_ref() {
                    if old.contains_key(m) {
                        continue;
                    }
                    match mo.dangling {
                        Dangling::Ignore => {}
                        Dangling::Drop => {
                            dropped.insert(m.clone());
                        }
                        Dangling::Error => {
                            return Err(StoreError::DanglingMember {
                                attr: member_ad.clone(),
                                code: mo.dangling_error,
                            })
                        }
                    }
                }
            }
            let group_added = before.is_none();
            let mut without_dropped = None;
            if !dropped.is_empty() {
                if let Some(a) = after {
                    let mut a = a.clone();
                    if let Some(attr) = a.entry.get_mut(&member_ad) {
                        attr.values
                            .retain(|v| self.norm_value(v).is_none_or(|n| !dropped.contains(&n)));
                        if attr.values.is_empty() {
                            a.entry.remove(&member_ad);
                        }
                    }
                    // Dropping every member leaves a group its class does not allow
                    // (slapd: objectClassViolation).
                    self.schema.check_entry(&a.entry)?;
                    without_dropped = Some(a);
                }
            }
            if let Some(a) = without_dropped {
                t.put(gid, a)?;
            }
            // Members are compared as entries (ids), not as DN strings: a member renamed
            // by this write is the same member under both names. Old member values name
            // entries of the committed namespace, new ones of the staged one.
            let mut old_ids = BTreeSet::new();
            for m in old.keys() {
                if let Some(id) = self.id_of(m)? {
                    old_ids.insert(id);
                }
            }
            let mut new_ids = BTreeSet::new();
            if let Some(n) = &new_dn {
                // A group added with itself as member: that value is dangling when judged
                // (the entry does not exist yet), so it gets no memberOf, as in slapd; a
                // group that adds itself later does.
                let self_norm = self.schema.normalize_dn(n).ok();
                for m in new.iter().filter(|m| !dropped.contains(m)) {
                    if group_added && Some(m) == self_norm.as_ref() {
                        continue;
                    }
                    if let Some(id) = t.id_of(m)? {
                        new_ids.insert(id);
                    }
                }
            }
            // Remove the group's old DN from every old member and add its new DN to every
            // new member; for a member in both with an unchanged group name nothing moves.
            if let Some(o) = &old_dn {
                for id in old_ids
                    .iter()
                    .filter(|id| !(same_name && new_ids.contains(id)))
                {
                    let d = delta.entry(*id).or_default();
                    d.0.push(o.clone());
                    d.2 = d.2.max(Some(t.csn_of(gid)));
                }
            }
            if let Some(n) = &new_dn {
                let norm = match &added_as {
                    Some(norm) => norm.clone(),
                    None => self.schema.normalize_dn(n)?,
                };
                for id in new_ids
                    .iter()
                    .filter(|id| !(same_name && old_ids.contains(id)))
                {
                    let d = delta.entry(*id).or_default();
                    d.1.push((n.clone(), norm.clone()));
                    d.2 = d.2.max(Some(t.csn_of(gid)));
                }
            }
        }
        // Entries that appear under a DN some (untouched) group already lists: added, or
        // renamed or moved there. They get that group's DN, so that "X in G's member ⇔ G
        // in X's memberOf" holds for every existing X.
        let arrivals: Vec<(u64, NormDn)> = t
            .touched
            .iter()
            .filter_map(|(id, tch)| {
                let after = tch.after.as_ref()?;
                let moved = tch
                    .before
                    .as_ref()
                    .is_none_or(|b| b.entry.dn != after.entry.dn);
                moved.then(|| match t.new_dn(*id) {
                    // An added entry's DN was normalized when it was placed.
                    Some(n) if tch.before.is_none() => Some((*id, n.clone())),
                    _ => self
                        .schema
                        .normalize_dn(&after.entry.dn)
                        .ok()
                        .map(|n| (*id, n)),
                })?
            })
            .collect();
        for (id, dn) in arrivals {
            let found = self.with_postings(|src| {
                self.indexes
                    .eq_lookup_dn(&self.schema, src, &member_ad, &dn)
            })?;
            let Some(groups) = found else {
                break;
            };
            for gid in groups.iter().filter(|g| !t.touched.contains_key(g)) {
                let Some((_, g)) = self.load(gid)? else {
                    continue;
                };
                if gid != id && self.is_group(&g.entry, mo) {
                    let norm = self.schema.normalize_dn(&g.entry.dn)?;
                    delta.entry(id).or_default().1.push((g.entry.dn, norm));
                }
            }
        }
        for (id, (remove, add, cause)) in delta {
            let Some(mut update) = t.get_for_update(id)? else {
                continue;
            };
            let stored = &mut update.entry;
            let before = stored.entry.values(&memberof_ad).to_vec();
            // Each present value is normalized once: a user in 2,000 groups that joins
            // 2,000 more in one write costs 4,000 normalizations, not 2,000².
            let remove: BTreeSet<NormDn> = remove.into_iter().collect();
            let mut present: BTreeSet<NormDn> = BTreeSet::new();
            let mut values: Vec<Vec<u8>> = Vec::with_capacity(before.len() + add.len());
            for v in &before {
                match self.norm_value(v) {
                    Some(n) if remove.contains(&n) => continue,
                    Some(n) => {
                        present.insert(n);
                    }
                    None => {}
                }
                values.push(v.clone());
            }
            for (g, norm) in add {
                if present.insert(norm) {
                    values.push(g.to_string().into_bytes());
                }
            }
            if values == before {
                continue;
            }
            stored.entry.remove(&memberof_ad);
            if !values.is_empty() {
                stored.entry.attrs.push(Attribute {
                    desc: memberof_ad.clone(),
                    values,
                });
            }
            // The later of the causing group's change and the member's own (an entry the
            // write did not otherwise change has none: the cause alone).
            let csn = cause.max(t.own_csn(id)).unwrap_or_else(|| t.csn_of(id));
            self.stamp_overlay(&mut stored.entry, csn, &mo.modifier);
            t.restamp(id, csn);
            t.put_update(id, update)?;
        }
        Ok(())
    }

    fn is_group(&self, e: &Entry, mo: &MemberOf) -> bool {
        let Some(group) = self.schema.object_class(&mo.group_oc) else {
            return false;
        };
        e.values("objectClass").iter().any(|v| {
            let name = String::from_utf8_lossy(v);
            self.schema.object_class(&name).is_some_and(|oc| {
                oc.oid == group.oid
                    || self
                        .schema
                        .superclasses(oc)
                        .iter()
                        .any(|s| s.oid == group.oid)
            })
        })
    }

    /// The normalized member DNs of a group (invalid values are skipped).
    fn members(&self, e: &Entry, member_ad: &str) -> Vec<NormDn> {
        self.members_in(e.values(member_ad).iter())
    }

    /// The distinct normalized DNs among `values`, in order (non-DN values skipped).
    fn members_in<'v>(&self, values: impl Iterator<Item = &'v Vec<u8>>) -> Vec<NormDn> {
        let mut out: Vec<NormDn> = Vec::new();
        // A set beside the list: a 50,000-member group must not cost 50,000² compares.
        let mut seen: BTreeSet<NormDn> = BTreeSet::new();
        for v in values {
            if let Some(n) = self.norm_value(v) {
                if seen.insert(n.clone()) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The ids of committed entries whose `desc` has a value equal to `value` under the
    /// attribute's equality rule, from its equality index; None when it is not indexed.
    pub(crate) fn eq_lookup(
        &self,
        desc: &str,
        value: &[u8],
    ) -> Result<Option<roaring::RoaringTreemap>, StoreError> {
        self.with_postings(|src| self.indexes.eq_lookup(&self.schema, src, desc, value))
    }

    /// The normalized DN in a DN-syntax value, if it is one.
    pub(crate) fn norm_value(&self, v: &[u8]) -> Option<NormDn> {
        let s = std::str::from_utf8(v).ok()?;
        let dn = Dn::parse(s).ok()?;
        self.schema.normalize_dn(&dn).ok()
    }

    /// Stamps an overlay write at `csn`: new entryCSN, modifyTimestamp and modifiersName.
    fn stamp_overlay(&self, entry: &mut Entry, csn: Csn, modifier: &Dn) {
        for (desc, value) in [
            ("entryCSN", csn.to_ldap_string().into_bytes()),
            ("modifyTimestamp", csn.to_generalized_time().into_bytes()),
            ("modifiersName", modifier.to_string().into_bytes()),
        ] {
            entry.remove(desc);
            entry.push_value(desc, value);
        }
    }
}

impl Store {
    /// memberOf consistency: every existing member of every group carries the group's DN
    /// in memberOf, and every memberOf value names a group that lists the entry.
    pub(crate) fn verify_memberof(&self) -> Result<Vec<String>, StoreError> {
        let Some(mo) = &self.overlays.memberof else {
            return Ok(Vec::new());
        };
        let (Some(member_ad), Some(memberof_ad)) = (
            self.schema.canonical_desc(&mo.member_ad),
            self.schema.canonical_desc(&mo.memberof_ad),
        ) else {
            return Ok(Vec::new());
        };
        let mut expected: BTreeSet<(NormDn, NormDn)> = BTreeSet::new();
        let mut actual: BTreeSet<(NormDn, NormDn)> = BTreeSet::new();
        let mut exists: BTreeSet<NormDn> = BTreeSet::new();
        for kv in self.trees.entries.iter() {
            let (_, v) = kv?;
            let stored = StoredEntry::decode(&v)?;
            let Ok(dn) = self.schema.normalize_dn(&stored.entry.dn) else {
                continue;
            };
            exists.insert(dn.clone());
            if self.is_group(&stored.entry, mo) {
                // Self-membership is left out of the check: a group added with itself
                // as member has no memberOf of itself, one that adds itself later has
                // (both as slapd).
                for m in self
                    .members(&stored.entry, &member_ad)
                    .into_iter()
                    .filter(|m| *m != dn)
                {
                    expected.insert((m, dn.clone()));
                }
            }
            for v in stored.entry.values(&memberof_ad) {
                if let Some(g) = self.norm_value(v).filter(|g| *g != dn) {
                    actual.insert((dn.clone(), g));
                }
            }
        }
        expected.retain(|(m, _)| exists.contains(m));
        let mut out = Vec::new();
        for (m, g) in expected.difference(&actual) {
            out.push(format!(
                "memberOf: {m} is a member of {g} but lacks memberOf"
            ));
        }
        for (m, g) in actual.difference(&expected) {
            out.push(format!(
                "memberOf: {m} has memberOf {g} but is not a member"
            ));
        }
        Ok(out)
    }
}
