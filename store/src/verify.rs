//! The consistency checker behind `oxldap verify`: every derived structure (DN trees,
//! index postings, memberOf values) must equal what the entries imply.

use crate::error::StoreError;
use crate::keys;
use crate::store::{Store, StoredEntry};
use std::collections::BTreeSet;

impl Store {
    /// Checks the whole database; returns one line per inconsistency (empty when sound).
    /// Reads only; run it on a quiet database (offline, or between tests).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut expected_index: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut ids = BTreeSet::new();
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
        problems.extend(self.verify_memberof()?);
        Ok(problems)
    }
}
