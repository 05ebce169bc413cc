//! The entry cache: recently read entries, by id, in memory, as their stored bytes
//! already parsed ([`ParsedEntry`]).
//!
//! A search tests every candidate against its filter, so a 3-character substring search
//! of the 10,000-user directory reads about 250 entries; read from sled, each one cost a
//! descent of the `entries` tree and sled's page-cache bookkeeping, about a fifth of the
//! search's CPU. slapd's back-bdb and back-hdb kept such a cache (`cachesize`); back-mdb
//! needs none because it reads its memory-mapped file in place.
//!
//! It is never staler than a plain sled read, by two rules:
//! - every write removes the entries it wrote ([`EntryCache::forget`], from
//!   `Store::commit`) or the whole cache (a snapshot restore or a clear,
//!   [`EntryCache::clear`]) before it releases the store's write lock;
//! - a reader fills the cache only with bytes it read while no writer held the lock
//!   and none took it since ([`EntryCache::fill`] compares the store's write epoch under
//!   the shard's lock with the epoch seen before the read). A fill that raced a write is
//!   either refused (the writer took the lock before the fill) or removed again (the
//!   writer's forget takes the same shard lock after the fill).
//!
//! Bounded: [`ENTRY_CACHE_BYTES`] of entry bytes in all; a shard that would exceed its
//! share is emptied first (cheap, and a working set larger than the cache is read from
//! sled as before).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::view::ParsedEntry;

/// One entry as the cache holds it: what the `entries` tree holds under its id, parsed.
pub(crate) type CachedEntry = Arc<ParsedEntry>;

/// The memory the cached entries take at most, in bytes ([`ParsedEntry`]'s size: the
/// stored bytes and where their parts lie): the whole 10,000-user directory takes about
/// 18 MiB (13 MiB of stored bytes, 1.3 KB per entry).
pub const ENTRY_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Shards: readers on different threads rarely meet on one lock.
const SHARDS: usize = 32;

/// One shard: its entries and their total size in bytes.
#[derive(Default)]
struct Shard {
    entries: HashMap<u64, CachedEntry, rustc_hash::FxBuildHasher>,
    bytes: usize,
}

/// See the module documentation.
pub(crate) struct EntryCache {
    shards: Box<[Mutex<Shard>]>,
    /// The bytes one shard may hold.
    shard_budget: usize,
}

impl EntryCache {
    /// An empty cache holding at most `budget` bytes of entries.
    pub(crate) fn new(budget: usize) -> EntryCache {
        EntryCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_budget: budget / SHARDS,
        }
    }

    fn shard(&self, id: u64) -> MutexGuard<'_, Shard> {
        // Ids are allocated in sequence: the low bits spread them.
        let i = (id % SHARDS as u64) as usize;
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached entry `id`, if any.
    pub(crate) fn get(&self, id: u64) -> Option<CachedEntry> {
        self.shard(id).entries.get(&id).cloned()
    }

    /// Caches `entry` as entry `id`, read from sled after `seen` was loaded from the
    /// store's write `epoch`; refused unless `seen` is even (no writer then) and the epoch
    /// is still `seen` (no writer since).
    pub(crate) fn fill(&self, id: u64, entry: &CachedEntry, seen: u64, epoch: &AtomicU64) {
        if entry.size() > self.shard_budget {
            return;
        }
        let mut shard = self.shard(id);
        if !seen.is_multiple_of(2) || epoch.load(Ordering::Acquire) != seen {
            return;
        }
        if shard.bytes + entry.size() > self.shard_budget {
            shard.entries.clear();
            shard.bytes = 0;
        }
        if let Some(old) = shard.entries.insert(id, entry.clone()) {
            shard.bytes -= old.size();
        }
        shard.bytes += entry.size();
    }

    /// Removes the entries `ids` (a write changed or deleted them). Call before the
    /// write lock is released.
    pub(crate) fn forget(&self, ids: &[u64]) {
        for &id in ids {
            let mut shard = self.shard(id);
            if let Some(old) = shard.entries.remove(&id) {
                shard.bytes -= old.size();
            }
        }
    }

    /// Removes every entry. Call before the write lock is released.
    pub(crate) fn clear(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            shard.entries = HashMap::default();
            shard.bytes = 0;
        }
    }

    /// A guard that empties the cache when dropped: for writes that rewrite the
    /// `entries` tree wholesale, so that it is emptied even when they stop on an error.
    /// Declare it after the write lock's guard, so it drops first.
    pub(crate) fn clear_on_drop(&self) -> ClearOnDrop<'_> {
        ClearOnDrop(self)
    }
}

/// See [`EntryCache::clear_on_drop`].
pub(crate) struct ClearOnDrop<'c>(&'c EntryCache);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::StoredEntry;
    use oxldap_proto::{Attribute, Dn, Entry};

    /// A parsed entry whose `cn` is `value`.
    fn entry(value: &[u8]) -> CachedEntry {
        let stored = StoredEntry {
            parent: 1,
            entry: Entry {
                dn: Dn::default(),
                attrs: vec![Attribute::new("cn", vec![value.to_vec()])],
            },
        };
        Arc::new(ParsedEntry::parse(&stored.encode().unwrap()).unwrap())
    }

    /// The `cn` of a cached entry.
    fn cn(e: &CachedEntry) -> Vec<u8> {
        e.view().attrs().next().unwrap().1.next().unwrap().to_vec()
    }

    #[test]
    fn a_fill_that_raced_a_write_is_refused() {
        let cache = EntryCache::new(1 << 20);
        let epoch = AtomicU64::new(4);
        // Read while a writer held the lock (odd epoch): refused.
        cache.fill(1, &entry(b"old"), 5, &epoch);
        assert!(cache.get(1).is_none());
        // Read before a write that has taken the lock since: refused.
        epoch.store(5, Ordering::Release);
        cache.fill(1, &entry(b"old"), 4, &epoch);
        assert!(cache.get(1).is_none());
        // Read with no writer before or since: kept until a write forgets it.
        epoch.store(6, Ordering::Release);
        cache.fill(1, &entry(b"new"), 6, &epoch);
        assert_eq!(cache.get(1).map(|e| cn(&e)), Some(b"new".to_vec()));
        cache.forget(&[1]);
        assert!(cache.get(1).is_none());
    }

    #[test]
    fn the_cache_stays_within_its_budget() {
        let one = entry(&[7u8; 30]).size();
        let cache = EntryCache::new(SHARDS * one * 3);
        let epoch = AtomicU64::new(0);
        for id in 0..1_000u64 {
            cache.fill(id, &entry(&[7u8; 30]), 0, &epoch);
        }
        for shard in cache.shards.iter() {
            let shard = shard.lock().unwrap();
            assert!(shard.bytes <= one * 3);
            assert!(!shard.entries.is_empty());
            assert_eq!(
                shard.bytes,
                shard.entries.values().map(|b| b.size()).sum::<usize>()
            );
        }
        // An entry larger than a shard's share is not cached at all.
        cache.fill(5_000, &entry(&[1u8; 1_000]), 0, &epoch);
        assert!(cache.get(5_000).is_none());
        cache.clear();
        assert!((0..1_000).all(|id| cache.get(id).is_none()));
    }
}
