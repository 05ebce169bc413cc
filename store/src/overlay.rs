//! Overlays that run inside the write pipeline: referential integrity and memberOf, as
//! slapd's `refint` and `memberof` overlays (slapo-refint(5), slapo-memberof(5)), but
//! synchronous and atomic: they stage entry changes in the same [`Txn`] as the write
//! that caused them, so the write and every derived change commit together or not at all.
//!
//! Order (fixed): refint first, so memberOf sees the rewritten `member` values; then
//! memberOf, which derives members' memberOf from each touched group's before and after
//! images. Both work from the touched entries' before/after images, so add, modify,
//! delete and modify DN are handled by one rule each instead of one path per operation.

use crate::error::StoreError;
use crate::store::{Store, StoredEntry};
use crate::txn::Txn;
use oxldap_proto::{Attribute, Dn, Entry, ResultCode};
use oxldap_schema::NormDn;
use std::collections::{BTreeMap, BTreeSet};

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

/// The overlays configured on a store.
#[derive(Debug, Clone, Default)]
pub struct Overlays {
    /// The memberof overlay, if configured.
    pub memberof: Option<MemberOf>,
    /// The refint overlay, if configured.
    pub refint: Option<Refint>,
}

impl Store {
    /// Runs the configured overlays over the changes staged in `t`.
    pub(crate) fn run_overlays(&self, t: &mut Txn<'_>) -> Result<(), StoreError> {
        self.refint(t)?;
        if let Some(mo) = &self.overlays.memberof {
            self.memberof(t, mo)?;
        }
        Ok(())
    }

    /// The DN-valued attributes kept consistent on delete and rename, with the modifier
    /// and placeholder to use.
    fn refint_targets(&self) -> Vec<(String, Option<Dn>, Dn)> {
        let mut out = Vec::new();
        if let Some(r) = &self.overlays.refint {
            for a in &r.attributes {
                out.push((a.clone(), r.nothing.clone(), r.modifier.clone()));
            }
        }
        if let Some(mo) = self.overlays.memberof.as_ref().filter(|m| m.refint) {
            if !out
                .iter()
                .any(|(a, _, _)| a.eq_ignore_ascii_case(&mo.member_ad))
            {
                out.push((mo.member_ad.clone(), None, mo.modifier.clone()));
            }
        }
        out
    }

    /// Referential integrity: every value naming an entry this write deleted is removed,
    /// and every value naming an entry it renamed is rewritten (slapo-refint(5)).
    fn refint(&self, t: &mut Txn<'_>) -> Result<(), StoreError> {
        let targets = self.refint_targets();
        if targets.is_empty() {
            return Ok(());
        }
        // old normalized DN → new pretty DN (None: deleted).
        let mut moved: BTreeMap<NormDn, Option<Dn>> = BTreeMap::new();
        for tch in t.touched.values() {
            let Some(before) = &tch.before else { continue };
            let old = self.schema.normalize_dn(&before.entry.dn)?;
            match &tch.after {
                None => {
                    moved.insert(old, None);
                }
                Some(after) => {
                    if after.entry.dn != before.entry.dn {
                        moved.insert(old, Some(after.entry.dn.clone()));
                    }
                }
            }
        }
        if moved.is_empty() {
            return Ok(());
        }
        for (attr, nothing, modifier) in targets {
            let Some(desc) = self.schema.canonical_desc(&attr) else {
                continue;
            };
            for id in self.referrers(t, &desc, &moved)? {
                let Some(mut stored) = t.get(id)? else {
                    continue;
                };
                let Some(a) = stored.entry.get_mut(&desc) else {
                    continue;
                };
                let mut changed = false;
                let mut values = Vec::with_capacity(a.values.len());
                for v in a.values.drain(..) {
                    match self.norm_value(&v).and_then(|n| moved.get(&n)) {
                        Some(Some(new_dn)) => {
                            values.push(new_dn.to_string().into_bytes());
                            changed = true;
                        }
                        Some(None) => changed = true,
                        None => values.push(v),
                    }
                }
                if !changed {
                    continue;
                }
                if values.is_empty() {
                    match &nothing {
                        Some(n) => values.push(n.to_string().into_bytes()),
                        None => {
                            stored.entry.remove(&desc);
                        }
                    }
                }
                if let Some(a) = stored.entry.get_mut(&desc) {
                    a.values = values;
                }
                self.stamp_overlay(&mut stored.entry, t, &modifier);
                t.put(id, stored)?;
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
        let mut check = |id: u64, e: &StoredEntry| {
            if e.entry
                .values(desc)
                .iter()
                .any(|v| self.norm_value(v).is_some_and(|n| moved.contains_key(&n)))
            {
                out.insert(id);
            }
        };
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
        // member normalized DN → (group DNs to remove, group DNs to add).
        let mut delta: BTreeMap<NormDn, (Vec<NormDn>, Vec<Dn>)> = BTreeMap::new();
        let groups: Vec<u64> = t.touched.keys().copied().collect();
        for gid in groups {
            let Some(tch) = t.touched.get(&gid).cloned() else {
                continue;
            };
            let before = tch.before.as_ref().filter(|s| self.is_group(&s.entry, mo));
            let mut after = tch.after.clone().filter(|s| self.is_group(&s.entry, mo));
            let old: BTreeMap<NormDn, ()> = before
                .map(|b| {
                    self.members(&b.entry, &member_ad)
                        .into_iter()
                        .map(|m| (m, ()))
                        .collect()
                })
                .unwrap_or_default();
            let new: Vec<NormDn> = after
                .as_ref()
                .map(|a| self.members(&a.entry, &member_ad))
                .unwrap_or_default();
            let old_dn = before
                .map(|b| self.schema.normalize_dn(&b.entry.dn))
                .transpose()?;
            let new_dn = after.as_ref().map(|a| a.entry.dn.clone());
            let same_name = match (&old_dn, &new_dn) {
                (Some(o), Some(n)) => self.schema.normalize_dn(n).ok().as_ref() == Some(o),
                _ => false,
            };
            // Dangling members: only values this write adds are judged.
            let mut dropped = Vec::new();
            for m in &new {
                if old.contains_key(m) && same_name {
                    continue;
                }
                if t.id_of(m)?.is_none() && Some(m) != old_dn.as_ref() {
                    let self_member = new_dn
                        .as_ref()
                        .and_then(|d| self.schema.normalize_dn(d).ok())
                        .is_some_and(|d| &d == m);
                    if self_member || old.contains_key(m) {
                        continue;
                    }
                    match mo.dangling {
                        Dangling::Ignore => {}
                        Dangling::Drop => dropped.push(m.clone()),
                        Dangling::Error => {
                            return Err(StoreError::DanglingMember {
                                attr: member_ad.clone(),
                                code: mo.dangling_error,
                            })
                        }
                    }
                }
            }
            if !dropped.is_empty() {
                if let Some(a) = after.as_mut() {
                    if let Some(attr) = a.entry.get_mut(&member_ad) {
                        attr.values
                            .retain(|v| self.norm_value(v).is_none_or(|n| !dropped.contains(&n)));
                        if attr.values.is_empty() {
                            a.entry.remove(&member_ad);
                        }
                    }
                    t.put(gid, a.clone())?;
                }
            }
            if same_name {
                // Only membership changes matter.
                for m in old.keys().filter(|m| !new.contains(m)) {
                    if let Some(o) = &old_dn {
                        delta.entry(m.clone()).or_default().0.push(o.clone());
                    }
                }
                for m in new
                    .iter()
                    .filter(|m| !old.contains_key(*m) && !dropped.contains(m))
                {
                    if let Some(n) = &new_dn {
                        delta.entry(m.clone()).or_default().1.push(n.clone());
                    }
                }
            } else {
                if let Some(o) = &old_dn {
                    for m in old.keys() {
                        delta.entry(m.clone()).or_default().0.push(o.clone());
                    }
                }
                if let Some(n) = &new_dn {
                    for m in new.iter().filter(|m| !dropped.contains(m)) {
                        delta.entry(m.clone()).or_default().1.push(n.clone());
                    }
                }
            }
        }
        for (member, (remove, add)) in delta {
            let Some(id) = t.id_of(&member)? else {
                continue;
            };
            let Some(mut stored) = t.get(id)? else {
                continue;
            };
            let before = stored.entry.values(&memberof_ad).to_vec();
            let mut values: Vec<Vec<u8>> = before
                .iter()
                .filter(|v| self.norm_value(v).is_none_or(|n| !remove.contains(&n)))
                .cloned()
                .collect();
            for g in add {
                let gn = self.schema.normalize_dn(&g)?;
                // A group listing itself gets no memberOf of itself (slapd).
                if gn == member {
                    continue;
                }
                if !values
                    .iter()
                    .any(|v| self.norm_value(v).as_ref() == Some(&gn))
                {
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
            self.stamp_overlay(&mut stored.entry, t, &mo.modifier);
            t.put(id, stored)?;
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
        let mut out: Vec<NormDn> = Vec::new();
        for v in e.values(member_ad) {
            if let Some(n) = self.norm_value(v) {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The normalized DN in a DN-syntax value, if it is one.
    pub(crate) fn norm_value(&self, v: &[u8]) -> Option<NormDn> {
        let s = std::str::from_utf8(v).ok()?;
        let dn = Dn::parse(s).ok()?;
        self.schema.normalize_dn(&dn).ok()
    }

    /// Stamps an overlay write: new entryCSN, modifyTimestamp and modifiersName.
    fn stamp_overlay(&self, entry: &mut Entry, t: &Txn<'_>, modifier: &Dn) {
        for (desc, value) in [
            ("entryCSN", t.csn.to_ldap_string().into_bytes()),
            ("modifyTimestamp", t.csn.to_generalized_time().into_bytes()),
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
                for m in self.members(&stored.entry, &member_ad) {
                    expected.insert((m, dn.clone()));
                }
            }
            for v in stored.entry.values(&memberof_ad) {
                if let Some(g) = self.norm_value(v) {
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
