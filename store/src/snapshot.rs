//! Snapshots of a whole store for test harnesses: [`Store::snapshot`] copies the key/value
//! pairs of every sled tree (entries, DN trees, meta, indexes and the change log), [`Store::restore`] puts them back, [`Store::clear`] empties
//! the store.
//!
//! A restore is cheap when little changed: a snapshot subscribes to the changes of every
//! tree of the store it was taken from (sled's `watch_prefix`), and restoring into that
//! store rewrites only the keys written since the snapshot (or since its last restore).
//! When that is unknown (another store, too many changes), each tree is merged with the
//! copy and only the differences are written.
//!
//! A snapshot remembers the configuration of its store (suffixes, index fingerprint,
//! schema) and refuses to be restored into a store configured differently
//! ([`StoreError::SnapshotMismatch`]): its entries would lie outside the served naming
//! contexts, or its postings would not be those of the configured indexes.
//!
//! Content sync and the change log across a restore (RFC 4533 §3.3/§3.4): a restore (or a
//! clear) replaces entries without writing change-log records, so a cookie issued before
//! it describes a state the log does not lead from (an entry added after the snapshot and
//! reverted would never be reported deleted). Each restore and clear therefore stamps a
//! fresh CSN from the clock as the contextCSN and as `meta.restored_at`
//! ([`Store::restored_at`]); the sync provider answers any older cookie with a full
//! present phase (every entry sent, the consumer drops the others), as for a cookie the
//! log does not cover. The change numbers of `cn=changelog` keep counting from where
//! they were before the restore (`meta.next_change` is not put back), so a number is
//! never given to two different changes; the restored log holds the snapshot's records,
//! whose numbers and content are what they were when the snapshot was taken.
//!
//! Restore and clear hold the write lock, so no write interleaves with them, but sled
//! trees cannot be swapped atomically: a concurrent reader may see a partial state while a
//! restore or clear runs. This is meant for test harnesses that reset between tests.

use crate::error::StoreError;
use crate::keys;
use crate::store::Store;
use sled::IVec;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// The number of sled trees of a store (entries, dn2id, children, meta, index, changelog).
const TREES: usize = 6;

/// A frozen copy of every tree of a [`Store`], taken by [`Store::snapshot`] and put back
/// by [`Store::restore`]. Cloning is cheap (the copy is shared).
#[derive(Clone)]
pub struct Snapshot {
    data: Arc<[Vec<(IVec, IVec)>; TREES]>,
    tracker: Option<Arc<Tracker>>,
    /// The configuration of the store it was taken from, checked on restore.
    origin: Origin,
}

/// What a store's content depends on besides itself: restoring a snapshot into a store
/// that differs in any of these is refused.
#[derive(Clone)]
struct Origin {
    /// The naming contexts as configured, normalized (RFC 4514 spellings compare equal).
    suffixes: Vec<String>,
    /// [`crate::index::Indexes::fingerprint`] of the resolved index configuration.
    indexes: String,
    /// The schema; compared by pointer first, then by [`schema_digest`].
    schema: Arc<oxldap_schema::Schema>,
}

impl Origin {
    fn of(store: &Store) -> Origin {
        Origin {
            suffixes: store.suffixes.iter().map(ToString::to_string).collect(),
            indexes: store.indexes.fingerprint(),
            schema: store.schema.clone(),
        }
    }

    /// Errors: [`StoreError::SnapshotMismatch`] naming the first difference from `store`.
    fn check(&self, store: &Store) -> Result<(), StoreError> {
        let here = crate::store::suffix_list(&store.suffixes);
        let snapshot = self.suffixes.join(" | ");
        if here != snapshot {
            return Err(StoreError::SnapshotMismatch {
                what: "suffixes",
                snapshot,
                store: here,
            });
        }
        let indexes = store.indexes.fingerprint();
        if indexes != self.indexes {
            return Err(StoreError::SnapshotMismatch {
                what: "index configurations",
                snapshot: self.indexes.clone(),
                store: indexes,
            });
        }
        if !Arc::ptr_eq(&self.schema, &store.schema) {
            let (a, b) = (schema_digest(&self.schema), schema_digest(&store.schema));
            if a != b {
                return Err(StoreError::SnapshotMismatch {
                    what: "schemas",
                    snapshot: format!("{} definitions, digest {:016x}", a.0, a.1),
                    store: format!("{} definitions, digest {:016x}", b.0, b.1),
                });
            }
        }
        Ok(())
    }
}

/// The number of attribute type and object class definitions of `schema` and a hash of
/// their RFC 4512 descriptions (in OID order). Only compared within one process.
fn schema_digest(schema: &oxldap_schema::Schema) -> (usize, u64) {
    use std::hash::{Hash, Hasher};
    let mut defs: Vec<String> = schema
        .attribute_types()
        .map(|a| a.to_description())
        .chain(schema.object_classes().map(|o| o.to_description()))
        .collect();
    defs.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    defs.hash(&mut h);
    (defs.len(), h.finish())
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("entries", &self.len())
            .field("keys", &self.key_count())
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// The number of entries in the snapshot.
    pub fn len(&self) -> usize {
        self.data[0].len()
    }

    /// Whether the snapshot holds no entry.
    pub fn is_empty(&self) -> bool {
        self.data[0].is_empty()
    }

    /// The number of key/value pairs over all trees (entries, DN trees, meta, indexes).
    pub fn key_count(&self) -> usize {
        self.data.iter().map(Vec::len).sum()
    }
}

/// Records which keys of the store a snapshot came from have been written since.
struct Tracker {
    /// The address of the store, to recognise it on restore.
    store: usize,
    /// One subscriber per tree, in [`Store::tree_list`] order.
    subs: [Mutex<Option<sled::Subscriber>>; TREES],
    /// The keys written since the snapshot or its last restore, per tree.
    dirty: Mutex<[BTreeSet<IVec>; TREES]>,
    /// Too many keys were written, or the store went away: restore in full.
    overflow: AtomicBool,
    /// The store's database is gone: the drainer can stop.
    closed: AtomicBool,
    /// Past this many dirty keys, a full restore is as cheap; stop recording.
    limit: usize,
}

impl Tracker {
    /// Moves every completed event into the dirty set without blocking. Returns how many
    /// events were read. A closed subscription marks the tracker as overflowed.
    fn drain(&self) -> usize {
        let mut n = 0;
        for (i, sub) in self.subs.iter().enumerate() {
            let mut guard = sub.lock().unwrap_or_else(|p| p.into_inner());
            let Some(sub) = guard.as_mut() else {
                continue;
            };
            loop {
                match poll_event(sub) {
                    Polled::Event(key) => {
                        n += 1;
                        self.record(i, key);
                    }
                    Polled::Empty => break,
                    Polled::Closed => {
                        self.overflow.store(true, Ordering::Relaxed);
                        self.closed.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        n
    }

    fn record(&self, tree: usize, key: IVec) {
        if self.overflow.load(Ordering::Relaxed) {
            return;
        }
        let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        dirty[tree].insert(key);
        if dirty.iter().map(BTreeSet::len).sum::<usize>() > self.limit {
            self.overflow.store(true, Ordering::Relaxed);
            *dirty = Default::default();
        }
    }

    /// Forgets every recorded change (after a restore made the store equal the snapshot).
    fn reset(&self) {
        self.drain();
        *self.dirty.lock().unwrap_or_else(|p| p.into_inner()) = Default::default();
        let closed = self.closed.load(Ordering::Relaxed);
        self.overflow.store(closed, Ordering::Relaxed);
    }
}

/// What polling a subscription gave.
enum Polled {
    /// A completed write of this key.
    Event(IVec),
    /// Nothing completed yet.
    Empty,
    /// The database is gone.
    Closed,
}

/// A waker that does nothing: subscriptions are polled, never awaited.
struct NoopWake;

impl std::task::Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// Polls a subscription without blocking. sled's `next_timeout` cannot be used: it
/// reports a write that turned out to be a no-op as a disconnection, forever after.
fn poll_event(sub: &mut sled::Subscriber) -> Polled {
    use std::future::Future;
    let waker = std::task::Waker::from(Arc::new(NoopWake));
    let mut cx = std::task::Context::from_waker(&waker);
    match std::pin::Pin::new(sub).poll(&mut cx) {
        std::task::Poll::Ready(Some(ev)) => Polled::Event(ev.key().clone()),
        std::task::Poll::Ready(None) => Polled::Closed,
        std::task::Poll::Pending => Polled::Empty,
    }
}

/// Keeps a tracker's subscriptions drained, so that writers never block on a full sled
/// subscription channel (1,024 events); ends when the snapshot is dropped.
fn spawn_drainer(tracker: Weak<Tracker>) {
    let spawned = std::thread::Builder::new()
        .name("oxldap-snapshot".into())
        .spawn(move || {
            let mut idle = Duration::from_millis(1);
            while let Some(t) = tracker.upgrade() {
                let n = t.drain();
                let gone = t.closed.load(Ordering::Relaxed);
                drop(t);
                if gone {
                    break;
                }
                idle = if n > 0 {
                    Duration::from_millis(1)
                } else {
                    (idle * 2).min(Duration::from_millis(20))
                };
                std::thread::sleep(idle);
            }
        });
    if let Err(e) = spawned {
        // Without the drainer the subscriptions could fill up and block writers; the
        // snapshot is then restored in full (the tracker is dropped by the caller).
        tracing::warn!(error = %e, "cannot start the snapshot change tracker");
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        // sled's Subscriber::drop waits for writers that are blocked on a full
        // subscription channel: empty each channel right before dropping it.
        for sub in &self.subs {
            let mut guard = sub.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(mut s) = guard.take() {
                while let Polled::Event(_) = poll_event(&mut s) {}
                drop(s);
            }
        }
    }
}

/// Makes `tree` hold exactly `pairs` (sorted by key), writing only the differences: one
/// merge pass over the tree and the copy, then one batch.
fn sync_tree(tree: &sled::Tree, pairs: &[(IVec, IVec)]) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut want = pairs.iter().peekable();
    for kv in tree.iter() {
        let (k, v) = kv?;
        while let Some((wk, wv)) = want.next_if(|(wk, _)| *wk < k) {
            batch.insert(wk.clone(), wv.clone());
        }
        match want.next_if(|(wk, _)| *wk == k) {
            Some((_, wv)) if *wv != v => batch.insert(k, wv.clone()),
            Some(_) => {}
            None => batch.remove(k),
        }
    }
    for (wk, wv) in want {
        batch.insert(wk.clone(), wv.clone());
    }
    tree.apply_batch(batch)?;
    Ok(())
}

impl Store {
    /// The trees in snapshot order.
    fn tree_list(&self) -> [&sled::Tree; TREES] {
        [
            &self.trees.entries,
            &self.trees.dn2id,
            &self.trees.children,
            &self.trees.meta,
            &self.trees.index,
            &self.trees.changelog,
        ]
    }

    /// Copies every tree of the store (under the write lock, so the copy is consistent).
    ///
    /// The snapshot also records which keys are written afterwards, so that
    /// [`Store::restore`] into this store rewrites only those. A snapshot of a 1,000-entry
    /// store costs a few milliseconds; take it once and restore it many times.
    ///
    /// Errors: [`StoreError::Storage`] when a tree cannot be read.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let _guard = self.lock_writes();
        let trees = self.tree_list();
        let subs = trees.map(|t| Mutex::new(Some(t.watch_prefix(Vec::<u8>::new()))));
        let mut data: [Vec<(IVec, IVec)>; TREES] = Default::default();
        for (slot, tree) in data.iter_mut().zip(trees) {
            *slot = tree.iter().collect::<Result<Vec<_>, _>>()?;
        }
        let total: usize = data.iter().map(Vec::len).sum();
        let tracker = Arc::new(Tracker {
            store: self as *const Store as usize,
            subs,
            dirty: Mutex::new(Default::default()),
            overflow: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            limit: 1024 + total / 4,
        });
        spawn_drainer(Arc::downgrade(&tracker));
        Ok(Snapshot {
            data: Arc::new(data),
            tracker: Some(tracker),
            origin: Origin::of(self),
        })
    }

    /// Makes the store equal to `snap` again (under the write lock). `snap` may come from
    /// another store with the same configuration.
    ///
    /// Restoring into the store the snapshot came from rewrites only the keys written
    /// since the snapshot or its previous restore; otherwise (another store, or more
    /// changes than a quarter of the snapshot) each tree is compared with the copy in one
    /// merge pass and only the differences are written. Concurrent readers may see a partial state while it runs (sled trees
    /// cannot be swapped atomically). Nothing is flushed: call [`Store::flush`] for a
    /// durable store. The CSN clock keeps counting forward, so CSNs stay increasing.
    ///
    /// Content sync and the change log: see the module documentation (cookies issued
    /// before the restore get a full present phase; change numbers are not reused).
    ///
    /// Errors: [`StoreError::SnapshotMismatch`] (nothing written) when the snapshot comes
    /// from a store with other suffixes, indexes or schema; [`StoreError::Storage`] when
    /// a tree cannot be written; the store may then hold a mix of both states.
    pub fn restore(&self, snap: &Snapshot) -> Result<(), StoreError> {
        snap.origin.check(self)?;
        let _guard = self.lock_writes();
        // Rewrites the entries tree wholesale: the entry cache is emptied before the
        // lock is released, even on an error.
        let _cache = self.entry_cache.clear_on_drop();
        let _renaming = self.renaming();
        let next_change = self.next_change_number()?;
        let trees = self.tree_list();
        let tracker = snap
            .tracker
            .as_ref()
            .filter(|t| t.store == self as *const Store as usize);
        let incremental = tracker.map(|t| {
            t.drain();
            if t.overflow.load(Ordering::Relaxed) {
                None
            } else {
                Some(std::mem::take(
                    &mut *t.dirty.lock().unwrap_or_else(|p| p.into_inner()),
                ))
            }
        });
        match incremental.flatten() {
            Some(dirty) => {
                for ((tree, keys), pairs) in trees.iter().zip(dirty).zip(snap.data.iter()) {
                    if keys.is_empty() {
                        continue;
                    }
                    let mut batch = sled::Batch::default();
                    for key in keys {
                        match pairs.binary_search_by(|(k, _)| k.cmp(&key)) {
                            Ok(i) => batch.insert(key, pairs[i].1.clone()),
                            Err(_) => batch.remove(key),
                        }
                    }
                    tree.apply_batch(batch)?;
                }
            }
            None => {
                for (tree, pairs) in trees.iter().zip(snap.data.iter()) {
                    sync_tree(tree, pairs)?;
                }
            }
        }
        self.mark_reset(next_change)?;
        if let Some(t) = tracker {
            // The restore's own writes are not changes relative to the snapshot.
            t.reset();
        }
        Ok(())
    }

    /// After the entries were replaced (restore, clear; under the write lock): stamps a
    /// fresh CSN as the contextCSN and as `meta.restored_at`, and keeps the change numbers
    /// counting from `next_change` (the number the next change would have had before).
    fn mark_reset(&self, next_change: u64) -> Result<(), StoreError> {
        let now = self.clock.next().to_ldap_string();
        let next_change = next_change.max(self.next_change_number()?);
        let mut batch = sled::Batch::default();
        batch.insert(keys::META_LAST_CSN, now.as_bytes());
        batch.insert(keys::META_RESTORED, now.as_bytes());
        batch.insert(keys::META_NEXT_CHANGE, &next_change.to_be_bytes());
        self.trees.meta.apply_batch(batch)?;
        Ok(())
    }

    /// The CSN of the last snapshot restore or clear of this store, if any: a content-sync
    /// cookie older than it must be answered with every entry (a full present phase,
    /// RFC 4533 §3.3.1), since the change log does not record what the restore reverted.
    ///
    /// Errors: [`StoreError::Storage`] when the meta tree cannot be read.
    pub fn restored_at(&self) -> Result<Option<crate::Csn>, StoreError> {
        Ok(self
            .trees
            .meta
            .get(keys::META_RESTORED)?
            .and_then(|v| std::str::from_utf8(&v).ok().and_then(crate::Csn::parse)))
    }

    /// Removes every entry and the change log (under the write lock), keeping the format marker, the index
    /// fingerprint and the last CSN, so the store stays valid and CSNs stay increasing.
    /// Like a restore, it stamps a new contextCSN and `meta.restored_at` (older content-sync
    /// cookies get a full present phase) and keeps the change numbers counting.
    /// Concurrent readers may see a partial state while it runs.
    ///
    /// Errors: [`StoreError::Storage`] when a tree cannot be written.
    pub fn clear(&self) -> Result<(), StoreError> {
        let _guard = self.lock_writes();
        // Rewrites the entries tree wholesale: the entry cache is emptied before the
        // lock is released, even on an error.
        let _cache = self.entry_cache.clear_on_drop();
        let _renaming = self.renaming();
        let next_change = self.next_change_number()?;
        self.trees.entries.clear()?;
        self.trees.dn2id.clear()?;
        self.trees.children.clear()?;
        self.trees.index.clear()?;
        self.trees.changelog.clear()?;
        // A restore's marker too: a clear that starts a restore must not drop it.
        let keep: [&[u8]; 4] = [
            keys::META_FORMAT,
            keys::META_INDEXES,
            keys::META_LAST_CSN,
            keys::META_RESTORING,
        ];
        let mut batch = sled::Batch::default();
        for k in self.trees.meta.iter().keys() {
            let k = k?;
            if !keep.contains(&k.as_ref()) {
                batch.remove(k);
            }
        }
        self.trees.meta.apply_batch(batch)?;
        self.mark_reset(next_change)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::{add, store};
    use crate::WriteCtx;
    use oxldap_proto::Dn;

    fn dns(s: &Store) -> Vec<String> {
        s.iter_entries()
            .map(|e| e.unwrap().dn.to_string())
            .collect()
    }

    #[test]
    fn restore_undoes_writes_incrementally_and_in_full() {
        let s = store();
        add(&s, "dc=example,dc=com", "domain");
        add(&s, "ou=a,dc=example,dc=com", "organizationalUnit");
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.len(), 2);
        let before = dns(&s);
        for round in 0..3 {
            add(
                &s,
                &format!("ou=b{round},dc=example,dc=com"),
                "organizationalUnit",
            );
            s.delete(
                &Dn::parse("ou=a,dc=example,dc=com").unwrap(),
                &WriteCtx::default(),
            )
            .unwrap();
            s.restore(&snap).unwrap();
            assert_eq!(dns(&s), before);
        }
        // Into another store: a full restore.
        let other = store();
        other.restore(&snap).unwrap();
        assert_eq!(dns(&other), before);
        assert!(s.verify().unwrap().is_empty());
        // Many writes overflow the tracker (and must not block on the subscriptions).
        for i in 0..1500 {
            add(
                &s,
                &format!("ou=n{i},dc=example,dc=com"),
                "organizationalUnit",
            );
        }
        s.restore(&snap).unwrap();
        assert_eq!(dns(&s), before);
        s.clear().unwrap();
        assert!(s.is_empty());
        add(&s, "dc=example,dc=com", "domain");
        assert_eq!(s.len(), 1);
    }
}
