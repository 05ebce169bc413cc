//! The consistency checker behind `oxldap verify`: every derived structure (DN trees,
//! index postings, memberOf values, change-log records) must equal what the entries imply.

use crate::error::StoreError;
use crate::keys;
use crate::store::{Store, StoredEntry};
use std::collections::{BTreeMap, BTreeSet};

/// entryUUID is unique (RFC 4530 §2.1: "the UUID of the entry", one per entry); content
/// synchronization (RFC 4533) names entries by it, so two entries sharing one would be
/// confused by every consumer. One line per UUID held by more than one entry, naming the
/// entry ids (compared as uuidMatch does: case-insensitively).
fn duplicate_uuids(stamps: &BTreeMap<u64, Option<String>>) -> Vec<String> {
    let mut by_uuid: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (id, uuid) in stamps {
        if let Some(u) = uuid {
            by_uuid.entry(u.to_ascii_lowercase()).or_default().push(*id);
        }
    }
    by_uuid
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(u, ids)| {
            let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
            format!("entryUUID {u} is shared by entries {}", ids.join(", "))
        })
        .collect()
}

impl Store {
    /// Checks the whole database; returns one line per inconsistency (empty when sound).
    /// Reads only; run it on a quiet database (offline, or between tests).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut expected_index: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut ids = BTreeSet::new();
        // id → entryUUID, for the change-log check.
        let mut stamps: BTreeMap<u64, Option<String>> = BTreeMap::new();
        for kv in self.trees.entries.iter() {
            let (k, v) = kv?;
            let Some(id) = keys::decode_id(&k) else {
                problems.push("entries: malformed key".to_string());
                continue;
            };
            ids.insert(id);
            let stored = match StoredEntry::decode(&v) {
                Ok(s) => s,
                Err(_) => {
                    problems.push(format!("entry {id}: cannot be decoded"));
                    continue;
                }
            };
            let dn = stored.entry.dn.to_string();
            stamps.insert(id, stored.entry.first_str("entryUUID").map(str::to_string));
            match self.schema.normalize_dn(&stored.entry.dn) {
                Ok(norm) => {
                    if self.id_of(&norm)? != Some(id) {
                        problems.push(format!("{dn}: dn2id does not point to entry {id}"));
                    }
                }
                Err(e) => problems.push(format!("{dn}: DN does not normalize: {e}")),
            }
            if self
                .trees
                .children
                .get(keys::child_key(stored.parent, id))?
                .is_none()
            {
                problems.push(format!("{dn}: missing from its parent's children"));
            }
            if let Err(e) = self.schema.check_entry(&stored.entry) {
                problems.push(format!("{dn}: schema: {e}"));
            }
            // A structuralObjectClass that is not the entry's structural class (an
            // import before tester finding 11 kept it as given).
            if let Err(e) = self.check_given_structural_class(&stored.entry) {
                problems.push(format!("{dn}: schema: {e}"));
            }
            for key in self.indexes.keys(&self.schema, &stored.entry) {
                expected_index.insert(crate::index::posting(&key, id));
            }
        }
        for kv in self.trees.dn2id.iter() {
            let (_, v) = kv?;
            match keys::decode_id(&v) {
                Some(id) if ids.contains(&id) => {}
                _ => problems.push("dn2id: a DN points to no entry".to_string()),
            }
        }
        for k in self.trees.children.iter().keys() {
            let k = k?;
            let child = k.get(8..16).and_then(keys::decode_id);
            if !child.is_some_and(|c| ids.contains(&c)) {
                problems.push("children: a link points to no entry".to_string());
            }
        }
        let mut actual_index = BTreeSet::new();
        for p in crate::postings::all_postings(&self.trees.index)? {
            actual_index.insert(p);
        }
        let missing = expected_index.difference(&actual_index).count();
        let extra = actual_index.difference(&expected_index).count();
        if missing > 0 {
            problems.push(format!(
                "index: {missing} postings missing (run oxldap index)"
            ));
        }
        if extra > 0 {
            problems.push(format!("index: {extra} stale postings (run oxldap index)"));
        }
        problems.extend(duplicate_uuids(&stamps));
        problems.extend(self.verify_memberof()?);
        problems.extend(self.verify_changelog(&stamps)?);
        Ok(problems)
    }

    /// Change-log records (key `CSN ‖ id`) against the entries: each decodes, names the CSN
    /// of its key, and agrees with the entry it names: a live entry has the record's
    /// entryUUID; a delete names no live entry (ids are never reused). CSN order against
    /// entryCSN and the contextCSN is not checked: a subtree rename does not restamp the
    /// descendants (as slapd), and a fixed test clock restarts its count on reopen.
    fn verify_changelog(
        &self,
        stamps: &BTreeMap<u64, Option<String>>,
    ) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        for kv in self.trees.changelog.iter() {
            let (k, v) = kv?;
            let Some(split) = k.len().checked_sub(8) else {
                problems.push("changelog: malformed key".to_string());
                continue;
            };
            let (csn, id) = k.split_at(split);
            let csn = String::from_utf8_lossy(csn).into_owned();
            let Some(id) = keys::decode_id(id) else {
                problems.push(format!("changelog {csn}: malformed key"));
                continue;
            };
            let Ok(rec) = crate::ChangeRecord::decode(&v) else {
                problems.push(format!("changelog {csn}: record cannot be decoded"));
                continue;
            };
            if rec.csn != csn {
                problems.push(format!("changelog {csn}: record says CSN {}", rec.csn));
            }
            match (rec.kind, stamps.get(&id)) {
                (crate::ChangeKind::Delete, Some(_)) => problems.push(format!(
                    "changelog {csn}: delete of {} but entry {id} exists",
                    rec.dn
                )),
                (crate::ChangeKind::Delete, None) | (_, None) => {}
                (_, Some(uuid)) => {
                    if uuid.as_deref() != Some(rec.entry_uuid.as_str()) {
                        problems.push(format!(
                            "changelog {csn}: entryUUID {} differs from entry {id}'s",
                            rec.entry_uuid
                        ));
                    }
                }
            }
        }
        Ok(problems)
    }
}
