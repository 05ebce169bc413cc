//! A write transaction being planned: the entries it touches (before and after images),
//! the DN-tree links it adds and removes, and its CSN. Planning reads through it, so
//! overlays see the primary change (read-your-writes); [`Txn::commit`] turns it into
//! batches and replays them in one sled transaction.

use crate::csn::Csn;
use crate::error::StoreError;
use crate::keys;
use crate::store::{Batches, Store, StoredEntry};
use oxldap_schema::NormDn;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One entry touched by a write.
#[derive(Debug, Clone)]
pub(crate) struct Touched {
    /// The committed image, None for an entry this write adds.
    pub before: Option<StoredEntry>,
    /// The new image, None for an entry this write deletes.
    pub after: Option<StoredEntry>,
}

/// An entry read for a change by [`Txn::get_for_update`]: the image to change and,
/// for an entry the write had not touched, the committed image it was copied from.
pub(crate) struct ForUpdate {
    /// The image to change and stage.
    pub entry: StoredEntry,
    /// The committed image (the before image), when the entry was not touched yet.
    committed: Option<StoredEntry>,
}

impl ForUpdate {
    /// An update of an entry read from the committed store (by the caller, under the
    /// write lock, before any [`Txn`] change to it): `committed` is both the before
    /// image and the start of the new one.
    pub fn of_committed(committed: StoredEntry) -> ForUpdate {
        ForUpdate {
            entry: committed.clone(),
            committed: Some(committed),
        }
    }
}

/// The index keys one touched entry changes, computed before the postings lock.
enum KeyDelta {
    /// An added entry's keys, unsorted, a key possibly repeated
    /// ([`crate::index::Indexes::key_buf`]).
    Added(u64, crate::index::KeyBuf),
    /// The keys to remove (`old − new`) and to add (`new − old`).
    Changed(u64, BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>),
}

/// A write being planned. Exists only under the store's write lock.
pub(crate) struct Txn<'s> {
    pub store: &'s Store,
    /// The CSN of this write, stamped on every entry it changes; in a multi-entry write
    /// (a bulk-load chunk, [`crate::bulk`]) the newest of its CSNs.
    pub csn: Csn,
    /// A multi-entry write's per-entry CSNs: entry id → the CSN of that entry's latest
    /// change in this write (its own add, or a later entry's overlay change to it).
    /// Empty for an ordinary write, whose entries all change at `csn`.
    csns: HashMap<u64, Csn>,
    /// Touched entries by id, in id order (deterministic batches).
    pub touched: BTreeMap<u64, Touched>,
    /// DN-tree links changed by this write: dn2id key → Some(id) added, None removed.
    links: HashMap<Vec<u8>, Option<u64>>,
    /// The normalized DNs of the entries this write adds ([`Txn::stage_new`]), so the
    /// overlays need not normalize them again ([`Txn::new_dn`]).
    new_dns: HashMap<u64, NormDn>,
    /// The entry a modify DN renamed, even to its own DN: refint rewrites the values
    /// naming it to its new spelling, as slapd's refint does after any rename.
    pub renamed: Option<u64>,
    /// The remaining tree updates.
    pub b: Batches,
}

impl<'s> Txn<'s> {
    pub fn new(store: &'s Store) -> Txn<'s> {
        Txn::at(store, store.clock.next())
    }

    /// A write at `csn` (drawn by the caller from the store's clock).
    pub fn at(store: &'s Store, csn: Csn) -> Txn<'s> {
        Txn {
            store,
            csn,
            touched: BTreeMap::new(),
            csns: HashMap::new(),
            links: HashMap::new(),
            new_dns: HashMap::new(),
            renamed: None,
            b: Batches::default(),
        }
    }

    /// The CSN of entry `id`'s latest change in this write.
    pub fn csn_of(&self, id: u64) -> Csn {
        self.csns.get(&id).copied().unwrap_or(self.csn)
    }

    /// The CSN of entry `id`'s own change in a multi-entry write, if it has one; None in
    /// an ordinary write and for entries only overlays changed.
    pub fn own_csn(&self, id: u64) -> Option<Csn> {
        self.csns.get(&id).copied()
    }

    /// Records that entry `id` changed at `csn` in a multi-entry write, and makes `csn`
    /// the write's CSN when it is the newest. Only the bulk path calls this directly.
    pub fn set_csn(&mut self, id: u64, csn: Csn) {
        self.csns.insert(id, csn);
        self.csn = self.csn.max(csn);
    }

    /// Records an overlay's change of entry `id` at `csn` (see [`Txn::csn_of`]); a no-op
    /// in an ordinary write, where every entry changes at the write's CSN.
    pub fn restamp(&mut self, id: u64, csn: Csn) {
        if !self.csns.is_empty() {
            self.csns.insert(id, csn);
        }
    }

    /// The current image of entry `id`: staged if touched, else committed.
    pub fn get(&self, id: u64) -> Result<Option<StoredEntry>, StoreError> {
        match self.touched.get(&id) {
            Some(t) => Ok(t.after.clone()),
            None => Ok(self.store.load(id)?.map(|(_, s)| s)),
        }
    }

    /// The DN of entry `id` as this write sees it. Reads only the DN: every add of a
    /// bulk chunk asks for its parent's, and a copy of the whole parent (a group with
    /// its members, say) was most of the cost of placing an entry (issue 7).
    pub fn dn_of(&self, id: u64) -> Result<Option<oxldap_proto::Dn>, StoreError> {
        match self.touched.get(&id) {
            Some(t) => Ok(t.after.as_ref().map(|s| s.entry.dn.clone())),
            None => self.store.load_dn(id),
        }
    }

    /// The id of the entry with normalized DN `dn`, seeing this write's own renames.
    pub fn id_of(&self, dn: &NormDn) -> Result<Option<u64>, StoreError> {
        let key = keys::dn_key(dn);
        match self.links.get(&key) {
            Some(staged) => Ok(*staged),
            None => self.store.id_of(dn),
        }
    }

    fn touch(&mut self, id: u64) -> Result<&mut Touched, StoreError> {
        if !self.touched.contains_key(&id) {
            let before = self.store.load(id)?.map(|(_, s)| s);
            self.touched.insert(
                id,
                Touched {
                    after: before.clone(),
                    before,
                },
            );
        }
        self.touched
            .get_mut(&id)
            .ok_or(StoreError::Corrupt { tree: "entries" })
    }

    /// Stages the new image of entry `id`.
    pub fn put(&mut self, id: u64, entry: StoredEntry) -> Result<(), StoreError> {
        self.touch(id)?.after = Some(entry);
        Ok(())
    }

    /// The current image of entry `id` (None when it does not exist), to be changed and
    /// staged with [`Txn::put_update`]. An entry this write has not touched yet is read
    /// and decoded once, for both its before image and the copy to change, where
    /// [`Txn::get`] then [`Txn::put`] decoded it twice (a write's largest entry is often
    /// a group with thousands of member values).
    pub fn get_for_update(&self, id: u64) -> Result<Option<ForUpdate>, StoreError> {
        match self.touched.get(&id) {
            Some(t) => Ok(t.after.clone().map(|entry| ForUpdate {
                entry,
                committed: None,
            })),
            None => Ok(self.store.load(id)?.map(|(_, committed)| ForUpdate {
                entry: committed.clone(),
                committed: Some(committed),
            })),
        }
    }

    /// Stages `update.entry` as the new image of entry `id`, with the committed image
    /// read by [`Txn::get_for_update`] as its before image when the write had not
    /// touched the entry yet.
    pub fn put_update(&mut self, id: u64, update: ForUpdate) -> Result<(), StoreError> {
        match update.committed {
            Some(before) if !self.touched.contains_key(&id) => {
                self.touched.insert(
                    id,
                    Touched {
                        before: Some(before),
                        after: Some(update.entry),
                    },
                );
                Ok(())
            }
            _ => self.put(id, update.entry),
        }
    }

    /// Stages the deletion of entry `id`.
    pub fn remove(&mut self, id: u64) -> Result<(), StoreError> {
        self.touch(id)?.after = None;
        Ok(())
    }

    /// Stages a brand-new entry (no before image).
    pub fn insert_new(&mut self, id: u64, entry: StoredEntry) {
        self.touched.insert(
            id,
            Touched {
                before: None,
                after: Some(entry),
            },
        );
    }

    /// Stages a brand-new entry at normalized DN `norm`: the entry, its DN link and its
    /// parent's child link.
    pub fn stage_new(&mut self, norm: &NormDn, id: u64, entry: StoredEntry) {
        self.b
            .children
            .insert(&keys::child_key(entry.parent, id), &[]);
        self.insert_new(id, entry);
        self.link(keys::dn_key(norm), id);
        self.new_dns.insert(id, norm.clone());
    }

    /// The normalized DN of entry `id` if this write added it with [`Txn::stage_new`].
    pub fn new_dn(&self, id: u64) -> Option<&NormDn> {
        self.new_dns.get(&id)
    }

    /// Links `dn_key` to `id` in dn2id.
    pub fn link(&mut self, dn_key: Vec<u8>, id: u64) {
        self.b.dn2id.insert(dn_key.clone(), &keys::id_key(id));
        self.links.insert(dn_key, Some(id));
    }

    /// Removes `dn_key` from dn2id.
    pub fn unlink(&mut self, dn_key: Vec<u8>) {
        self.b.dn2id.remove(dn_key.clone());
        self.links.insert(dn_key, None);
    }

    /// Writes every touched entry and commits all trees in one sled transaction.
    ///
    /// In a bulk-load chunk (issue 7) the work is spread over two cores: each touched
    /// entry is encoded together with its index keys on two threads (both pure functions
    /// of its images), and the chunk's postings are collected into the load's pending
    /// postings on this thread while a helper replays the batches in the sled
    /// transaction (see `Store::commit_staging`).
    pub fn commit(mut self) -> Result<(), StoreError> {
        let store = self.store;
        // Encodings and index deltas from the before and after images (the only index
        // writer). Both are pure functions of the images: computed before the postings
        // lock is taken, on two threads for a bulk-load chunk.
        let images: Vec<(u64, &Touched)> = self.touched.iter().map(|(id, t)| (*id, t)).collect();
        let encoded = crate::bulk::par_map(images, |(id, t)| {
            let bytes = t.after.as_ref().map(StoredEntry::encode).transpose();
            let keys_of = |s: &Option<StoredEntry>| {
                s.as_ref()
                    .map(|s| store.indexes.keys(&store.schema, &s.entry))
                    .unwrap_or_default()
            };
            let delta = match (&t.before, &t.after) {
                // An added entry (every entry of a bulk load): its keys need no set, as
                // nothing is subtracted from them.
                (None, Some(a)) => {
                    KeyDelta::Added(id, store.indexes.key_buf(&store.schema, &a.entry))
                }
                (Some(b), Some(a)) => {
                    let (old, new) = store
                        .indexes
                        .changed_keys(&store.schema, &b.entry, &a.entry);
                    KeyDelta::Changed(id, old, new)
                }
                _ => KeyDelta::Changed(id, keys_of(&t.before), keys_of(&t.after)),
            };
            (id, bytes, delta)
        });
        let mut deltas = Vec::with_capacity(encoded.len());
        for (id, bytes, delta) in encoded {
            match bytes? {
                Some(bytes) => self.b.entries.insert(id, bytes),
                None => self.b.entries.remove(id),
            }
            deltas.push(delta);
        }
        let fill = |postings: &mut crate::postings::PostingDelta| {
            for delta in deltas {
                let (id, old, new) = match delta {
                    KeyDelta::Added(id, keys) => {
                        // A key is copied only for a list the delta does not hold
                        // yet; a key listed twice posts the same id twice, which
                        // changes nothing.
                        for k in keys.iter() {
                            postings.add(k, id);
                        }
                        continue;
                    }
                    KeyDelta::Changed(id, old, new) => (id, old, new),
                };
                for k in old.difference(&new) {
                    postings.remove(k, id);
                }
                for k in new.difference(&old) {
                    postings.add(k, id);
                }
            }
        };
        // A bulk load's chunk: its postings go to the load's pending postings while the
        // sled transaction runs (below). Otherwise they are part of the transaction.
        let split = crate::bulk::worth_splitting(self.touched.len()) && store.collecting();
        let mut fill = Some(fill);
        if !split {
            if let Some(fill) = fill.take() {
                store.stage_postings(fill, &mut self.b.index)?;
            }
        }
        // Change numbers continue from the committed counter: the write lock is held, so
        // no other writer reads it before this transaction stores the new value. They
        // follow the records' key order (CSN, then id), which in a multi-entry write is
        // not the id order.
        let mut records: Vec<(Vec<u8>, Csn, u64)> = self
            .touched
            .keys()
            .map(|id| {
                let csn = self.csn_of(*id);
                (crate::changelog::record_key(&csn, *id), csn, *id)
            })
            .collect();
        if !self.csns.is_empty() {
            records.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        let mut number = store.next_change_number()?;
        let first = number;
        // In a bulk load the records are held, not written (`crate::bulk_log`): numbered
        // and counted here all the same, made from the images only if the log keeps them.
        let holding = store.holds_log();
        // Held records (key, CSN, id, number): their images are taken from the write once
        // it has committed (moved, not copied, unless a persistent search needs them too).
        let mut held = Vec::new();
        for (key, csn, id) in records {
            let Some(t) = self.touched.get(&id) else {
                continue;
            };
            if t.before.is_none() && t.after.is_none() {
                // No image, no record (as `changelog::record`).
                continue;
            }
            if holding {
                held.push((key, csn, id, number));
                number += 1;
                continue;
            }
            let before = t.before.as_ref().map(|s| &s.entry);
            let after = t.after.as_ref().map(|s| &s.entry);
            if let Some(r) = crate::changelog::record(&csn, number, before, after) {
                number += 1;
                self.b.changelog.insert(key, r.encode()?);
            }
        }
        if number != first {
            self.b
                .meta
                .insert(keys::META_NEXT_CHANGE, &number.to_be_bytes());
        }
        if holding {
            // Committed with the write: the log says it lacks the records held so far.
            if let Some(csn) = store.log_marker(held.iter().map(|(k, ..)| k).max()) {
                self.b.meta.insert(keys::META_LOG_TRIMMED, csn);
            }
        }
        let Txn {
            store,
            csn,
            b,
            mut touched,
            ..
        } = self;
        let seq = match fill {
            Some(fill) => store.commit_staging(b, csn, fill)?,
            None => store.commit(b, csn)?,
        };
        // Asked after the commit: a persistent search that subscribes before this point is
        // told; one that subscribes later reads the committed state in its refresh.
        let observed = store.observed();
        if holding {
            let mut records = Vec::with_capacity(held.len());
            for (key, csn, id, number) in held {
                let images = if observed {
                    touched
                        .get(&id)
                        .map(|t| (t.before.clone(), t.after.clone()))
                } else {
                    touched.remove(&id).map(|t| (t.before, t.after))
                };
                let Some((before, after)) = images else {
                    continue;
                };
                let (before, after) = (before.map(|s| s.entry), after.map(|s| s.entry));
                if let Some(r) = crate::bulk_log::HeldRecord::new(csn, number, before, after) {
                    records.push((key, r));
                }
            }
            store.hold_records(records);
        }
        if observed {
            let committed = crate::changelog::Committed {
                csn,
                changes: touched
                    .into_iter()
                    .map(|(id, t)| {
                        (
                            t.before.map(|s| store.present(id, s)),
                            t.after.map(|s| store.present(id, s)),
                        )
                    })
                    .collect(),
            };
            // Told once the write is durable (`Store::wait_durable`), in commit order.
            store.queue_note(seq, committed);
        }
        Ok(())
    }
}
