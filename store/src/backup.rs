//! Point-in-time copies of a live store for `oxldap backup`, and the last step of
//! `oxldap restore`.
//!
//! A consistent copy needs a moment where no write is half-applied across the trees: sled
//! has no snapshot spanning trees, but every write holds the store's write lock from
//! planning to commit, so the copy is taken under that lock. Only the raw bytes of the
//! entries (in DN order) and the contextCSN are copied while the lock is held; decoding
//! happens after it is released, so writers wait for a memory copy only (a few
//! milliseconds for the tens of thousands of entries of a small installation). Readers
//! never wait.
//!
//! It must not know LDIF or the wire: the server turns the copy into search results and the
//! `oxldap` binary writes the LDIF.

use crate::csn::Csn;
use crate::error::StoreError;
use crate::keys;
use crate::store::{Store, StoredEntry};
use oxldap_proto::Entry;

/// A consistent copy of a store's entries, taken by [`Store::consistent_copy`].
#[derive(Debug, Clone)]
pub struct BackupImage {
    /// The contextCSN the copy corresponds to: every entry's entryCSN is at most this, and
    /// every write with a greater CSN is absent. None for a store never written.
    pub csn: Option<Csn>,
    /// The entries as stored (user and stored operational attributes, entryUUID and
    /// entryCSN included; no computed attribute), in DN order, parents before children.
    pub entries: Vec<Entry>,
}

impl Store {
    /// Copies every entry and the contextCSN at one point in time (under the write lock;
    /// see the module documentation).
    ///
    /// Errors: [`StoreError::Storage`] when a tree cannot be read, [`StoreError::Corrupt`]
    /// when a stored entry does not decode.
    pub fn consistent_copy(&self) -> Result<BackupImage, StoreError> {
        let (csn, raw) = {
            let _guard = self.lock_writes();
            let csn = self.last_csn()?;
            let mut raw = Vec::with_capacity(crate::store::tree_len(&self.trees.entries));
            for kv in self.trees.dn2id.iter() {
                let (_, idb) = kv?;
                let id = keys::decode_id(&idb).ok_or(StoreError::Corrupt { tree: "dn2id" })?;
                if let Some(bytes) = self.trees.entries.get(keys::id_key(id))? {
                    raw.push(bytes);
                }
            }
            (csn, raw)
        };
        let entries = raw
            .iter()
            .map(|b| StoredEntry::decode(b).map(|s| s.entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BackupImage { csn, entries })
    }

    /// Starts a restore (`oxldap restore`, before the database is cleared and the backup
    /// loaded): marks the folder, durably, as holding an interrupted restore until
    /// [`Store::finish_restore`] removes the mark, so that a restore cut off part-way (killed,
    /// a crash, a full disk) leaves a folder that is not served or exported as if it were
    /// whole (see [`crate::for_restore`]).
    ///
    /// Errors: [`StoreError::Storage`] when the mark cannot be written.
    pub fn begin_restore(&self) -> Result<(), StoreError> {
        let _guard = self.lock_writes();
        self.trees.meta.insert(keys::META_RESTORING, &b"1"[..])?;
        self.flush()
    }

    /// Ends a restore (`oxldap restore`, after the backup's entries were imported with
    /// their entryUUID and entryCSN): the change log is emptied (the imports are not
    /// changes any consumer missed) and marked as covering nothing before `csn`, and the
    /// contextCSN is set to `csn`, the point in time of the backup, so that content-sync
    /// cookies taken from the original server compare correctly. CSNs of later writes
    /// still increase: the clock starts from the greater of the stored CSN and now.
    ///
    /// Errors: [`StoreError::Storage`] when a tree cannot be written.
    pub fn finish_restore(&self, csn: Option<&Csn>) -> Result<(), StoreError> {
        let _guard = self.lock_writes();
        self.trees.changelog.clear()?;
        match csn {
            Some(c) => {
                let s = c.to_ldap_string();
                self.trees.meta.insert(keys::META_LAST_CSN, s.as_bytes())?;
                self.trees
                    .meta
                    .insert(keys::META_LOG_TRIMMED, s.as_bytes())?;
            }
            None => {
                self.trees.meta.remove(keys::META_LAST_CSN)?;
                self.trees.meta.remove(keys::META_LOG_TRIMMED)?;
            }
        }
        self.trees.meta.remove(keys::META_RESTORING)?;
        self.flush()
    }

    /// The on-disk size of the database folder in bytes (sled's own estimate), for
    /// cn=Monitor.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Posting counts per index, as `(index kind name, attribute OID, postings)` in key
    /// order, for cn=Monitor. Walks the whole index tree: meant for a small database.
    ///
    /// Errors: [`StoreError::Storage`] when the tree cannot be read.
    pub fn index_sizes(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut out: Vec<(String, String, u64)> = Vec::new();
        for kv in self.trees.index.iter() {
            let (k, v) = kv?;
            let Some((kind, oid)) = posting_index(&k) else {
                return Err(StoreError::Corrupt { tree: "index" });
            };
            // Each value is a chunk of ids (crate::postings): count the ids.
            let ids = crate::postings::chunk_len(&v)?;
            match out.last_mut() {
                Some((lk, lo, n)) if *lk == kind && *lo == oid => *n += ids,
                _ => out.push((kind, oid, ids)),
            }
        }
        Ok(out)
    }

    /// The oldest and newest CSN in the change log, for cn=Monitor.
    ///
    /// Errors: [`StoreError::Storage`] when the tree cannot be read.
    pub fn changelog_bounds(&self) -> Result<(Option<String>, Option<String>, usize), StoreError> {
        let csn_of = |k: sled::IVec| {
            k.get(..k.len().saturating_sub(8))
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(str::to_string)
        };
        let first = self.trees.changelog.first()?.and_then(|(k, _)| csn_of(k));
        let last = self.trees.changelog.last()?.and_then(|(k, _)| csn_of(k));
        Ok((first, last, crate::store::tree_len(&self.trees.changelog)))
    }
}

/// The index kind (slapd name; the three substring kinds apart) and attribute OID of a
/// posting key `kind ‖ len(oid) ‖ oid ‖ …` (see [`crate::index`]).
fn posting_index(key: &[u8]) -> Option<(String, String)> {
    use crate::index::{TAG_APPROX, TAG_EQ, TAG_PRES, TAG_SUB_ANY, TAG_SUB_FINAL, TAG_SUB_INITIAL};
    let (&tag, rest) = key.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let oid = std::str::from_utf8(rest.get(..usize::from(len))?).ok()?;
    let kind = match tag {
        TAG_EQ => "eq",
        TAG_PRES => "pres",
        TAG_SUB_INITIAL => "subinitial",
        TAG_SUB_ANY => "subany",
        TAG_SUB_FINAL => "subfinal",
        TAG_APPROX => "approx",
        _ => return None,
    };
    Some((kind.to_string(), oid.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::test_support::{add, store};

    #[test]
    fn copy_is_in_dn_order_with_the_context_csn() {
        let s = store();
        add(&s, "dc=example,dc=com", "domain");
        add(&s, "ou=b,dc=example,dc=com", "organizationalUnit");
        add(&s, "ou=a,dc=example,dc=com", "organizationalUnit");
        let img = s.consistent_copy().unwrap();
        assert_eq!(img.entries.len(), 3);
        assert_eq!(img.entries[0].dn.to_string(), "dc=example,dc=com");
        let newest = img
            .entries
            .iter()
            .filter_map(|e| e.first_str("entryCSN"))
            .max()
            .unwrap()
            .to_string();
        assert_eq!(img.csn.unwrap().to_ldap_string(), newest);
        let (oldest, last, n) = s.changelog_bounds().unwrap();
        assert_eq!(n, 3);
        assert!(oldest.unwrap() < last.clone().unwrap());
        assert_eq!(last.unwrap(), newest);
    }
}
