//! Posting lists: the ids an index key holds, stored as chunked bitmaps in the `index`
//! tree, and the deltas a write (or a bulk load) applies to them.
//!
//! Layout (one sled key per index key and id chunk, the IDL of slapd's back-mdb in spirit):
//!
//! ```text
//! key   = prefix ‖ chunk        prefix = kind ‖ len(oid) ‖ oid ‖ len(value) ‖ value
//!                               chunk  = (id >> CHUNK_BITS) as u64, big-endian
//! value = RoaringBitmap of (id & CHUNK_MASK), portable serialization
//! ```
//!
//! Why chunks: a lookup reads one value per 1,024 ids instead of one key per id (a
//! presence lookup over 50,000 entries reads 49 values), while a write rewrites at most
//! one 2 KiB value per key it touches. A prefix never collides with a longer key's prefix
//! because `len(value)` precedes the value.
//!
//! This module knows nothing of schema or filters; `index` computes the keys.

use crate::error::StoreError;
use roaring::{RoaringBitmap, RoaringTreemap};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Ids per chunk, as a power of two: 2^10 = 1,024 ids, so a chunk's value is at most
/// 2 KiB (an array container of 1,024 u16s) and a write rewrites no more than that.
pub const CHUNK_BITS: u32 = 10;

/// The id bits kept inside a chunk's bitmap.
const CHUNK_MASK: u64 = (1 << CHUNK_BITS) - 1;

/// The sled key of `prefix`'s chunk holding `id`.
fn chunk_key(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&(id >> CHUNK_BITS).to_be_bytes());
    k
}

/// Decodes a stored chunk value into its bitmap.
fn decode(value: &[u8]) -> Result<RoaringBitmap, StoreError> {
    RoaringBitmap::deserialize_from(value).map_err(|_| StoreError::Corrupt { tree: "index" })
}

/// The number of ids in a stored chunk value.
///
/// Errors: [`StoreError::Corrupt`] when the value does not decode.
pub fn chunk_len(value: &[u8]) -> Result<u64, StoreError> {
    Ok(decode(value)?.len())
}

/// Encodes a chunk bitmap for storage.
fn encode(bits: &RoaringBitmap) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(bits.serialized_size());
    bits.serialize_into(&mut out)
        .map_err(|_| StoreError::Corrupt { tree: "index" })?;
    Ok(out)
}

/// The low bits of `id` kept in its chunk (always < 2^CHUNK_BITS, so it fits a u32).
fn low(id: u64) -> u32 {
    u32::try_from(id & CHUNK_MASK).unwrap_or(0)
}

/// Every id posted under `prefix` (all its chunks).
///
/// Errors: [`StoreError::Storage`] on a sled failure, [`StoreError::Corrupt`] when a
/// chunk value does not decode.
pub fn lookup(tree: &sled::Tree, prefix: &[u8]) -> Result<RoaringTreemap, StoreError> {
    let mut ids = RoaringTreemap::new();
    for kv in tree.scan_prefix(prefix) {
        let (k, v) = kv?;
        if k.len() != prefix.len() + 8 {
            continue;
        }
        let Some(chunk) = k.get(prefix.len()..).and_then(crate::keys::decode_id) else {
            continue;
        };
        let base = chunk << CHUNK_BITS;
        let bits = decode(&v)?;
        // Chunks come in ascending key (big-endian chunk number) order, so their ids
        // ascend and append in bulk; insert one by one should that ever not hold.
        if ids
            .append(bits.iter().map(|low| base | u64::from(low)))
            .is_err()
        {
            for low in &bits {
                ids.insert(base | u64::from(low));
            }
        }
    }
    Ok(ids)
}

/// Reads posting lists: the stored chunks, adjusted by the postings a bulk load has
/// collected but not yet written (so a read during a bulk load sees every earlier write).
#[derive(Debug, Clone, Copy)]
pub struct PostingReader<'a> {
    /// The `index` tree.
    pub tree: &'a sled::Tree,
    /// The bulk load's unwritten postings, if one runs.
    pub pending: Option<&'a PostingDelta>,
}

impl PostingReader<'_> {
    /// Keeps in `ids` only the ids posted under `prefix` (an intersection with that
    /// posting list), reading just the chunks that hold one of `ids`: one point read per
    /// distinct chunk, instead of materializing a list that may hold every entry (an AND
    /// of a selective term with `objectClass=inetOrgPerson`).
    ///
    /// Errors: as [`lookup`].
    pub fn retain_posted(&self, prefix: &[u8], ids: &mut RoaringTreemap) -> Result<(), StoreError> {
        if self.pending.is_some() {
            // A bulk load's unwritten postings adjust whole lists: intersect the slow way.
            *ids &= self.lookup(prefix)?;
            return Ok(());
        }
        let mut kept = RoaringTreemap::new();
        let mut chunk: Option<(u64, Option<RoaringBitmap>)> = None;
        for id in ids.iter() {
            let c = id >> CHUNK_BITS;
            if chunk.as_ref().is_none_or(|(have, _)| *have != c) {
                let bits = match self.tree.get(chunk_key(prefix, id))? {
                    Some(v) => Some(decode(&v)?),
                    None => None,
                };
                chunk = Some((c, bits));
            }
            if chunk
                .as_ref()
                .and_then(|(_, b)| b.as_ref())
                .is_some_and(|b| b.contains(low(id)))
            {
                // Ids ascend, so they append in bulk.
                kept.push(id);
            }
        }
        *ids = kept;
        Ok(())
    }

    /// Every id posted under `prefix`.
    ///
    /// Errors: as [`lookup`].
    pub fn lookup(&self, prefix: &[u8]) -> Result<RoaringTreemap, StoreError> {
        let mut ids = lookup(self.tree, prefix)?;
        if let Some(p) = self.pending {
            p.adjust(prefix, &mut ids);
        }
        Ok(ids)
    }
}

/// Every (prefix, id) posting stored in `tree`, as `prefix ‖ id` byte strings (the form
/// `verify` compares against what the entries imply).
pub fn all_postings(tree: &sled::Tree) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut out = Vec::new();
    for kv in tree.iter() {
        let (k, v) = kv?;
        let split = k.len().saturating_sub(8);
        let (prefix, chunk) = k.split_at(split);
        let chunk = crate::keys::decode_id(chunk).ok_or(StoreError::Corrupt { tree: "index" })?;
        for low in decode(&v)? {
            let mut p = prefix.to_vec();
            p.extend_from_slice(&((chunk << CHUNK_BITS) | u64::from(low)).to_be_bytes());
            out.push(p);
        }
    }
    Ok(out)
}

/// A list's pending additions (or removals) above this many ids are kept in a bitmap.
const FEW_IDS: usize = 32;

/// The ids of one list's pending additions or removals.
///
/// Most lists of a bulk load hold few ids (an equality key is usually one entry's
/// value): those are a sorted `Vec`, one allocation and no pointer chasing, which makes
/// posting an id a third cheaper than a [`RoaringTreemap`] (a map node, a container
/// vector and a container per list). Longer lists become a bitmap.
#[derive(Debug)]
enum Ids {
    /// At most [`FEW_IDS`] ids, ascending, no duplicates.
    Few(Vec<u64>),
    /// More.
    Many(RoaringTreemap),
}

impl Default for Ids {
    fn default() -> Self {
        Ids::Few(Vec::new())
    }
}

impl Ids {
    fn insert(&mut self, id: u64) {
        match self {
            Ids::Few(v) => {
                match v.last() {
                    // Ids of a bulk load come in increasing order: an append.
                    Some(last) if *last >= id => {
                        if let Err(at) = v.binary_search(&id) {
                            v.insert(at, id);
                        }
                    }
                    _ => v.push(id),
                }
                if v.len() > FEW_IDS {
                    *self = Ids::Many(v.iter().copied().collect());
                }
            }
            // `insert`, not `push` then `insert`: roaring's `push` first finds the
            // bitmap's maximum, which for a bitmap container (a list past 4,096 ids of
            // one 65,536-id range) scans its 1,024 words from the top down; for the long
            // lists of a bulk load (objectClass, presence) that scan was 6% of a 10,000-
            // entry import's instructions. `insert` sets the bit directly.
            Ids::Many(t) => {
                t.insert(id);
            }
        }
    }

    fn remove(&mut self, id: u64) {
        match self {
            Ids::Few(v) => {
                if let Ok(at) = v.binary_search(&id) {
                    v.remove(at);
                }
            }
            Ids::Many(t) => {
                t.remove(id);
            }
        }
    }

    /// The ids, ascending.
    fn iter(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            Ids::Few(v) => Box::new(v.iter().copied()),
            Ids::Many(t) => Box::new(t.iter()),
        }
    }
}

/// Changes to posting lists not yet written: per index key (the chunk key's prefix), the
/// ids to add and to remove.
///
/// The later operation on an id wins, so a bulk load collects every write's changes in
/// one delta and applies them once. Keyed by hash, not order: adding a
/// posting costs one hash lookup and an append (a bulk load adds ids in increasing
/// order), and a read during a bulk load looks its key up directly.
#[derive(Debug, Default)]
pub struct PostingDelta {
    /// Index key → (ids to add, ids to remove); an id is never in both.
    lists: FxHashMap<Vec<u8>, (Ids, Ids)>,
}

impl PostingDelta {
    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Posts `id` under `prefix`.
    pub fn add(&mut self, prefix: &[u8], id: u64) {
        if let Some((add, remove)) = self.lists.get_mut(prefix) {
            remove.remove(id);
            add.insert(id);
            return;
        }
        self.add_owned(prefix.to_vec(), id);
    }

    /// Posts `id` under `prefix`, taking the key (no copy of it when the list is new:
    /// a bulk load posts each of its entries' keys this way).
    pub fn add_owned(&mut self, prefix: Vec<u8>, id: u64) {
        let (add, remove) = self.lists.entry(prefix).or_default();
        remove.remove(id);
        add.insert(id);
    }

    /// Removes `id` from `prefix`'s list.
    pub fn remove(&mut self, prefix: &[u8], id: u64) {
        if let Some((add, remove)) = self.lists.get_mut(prefix) {
            add.remove(id);
            remove.insert(id);
            return;
        }
        let mut remove = Ids::default();
        remove.insert(id);
        self.lists.insert(prefix.to_vec(), (Ids::default(), remove));
    }

    /// Applies this delta's changes under `prefix` to `ids` (read from the tree).
    fn adjust(&self, prefix: &[u8], ids: &mut RoaringTreemap) {
        if let Some((add, remove)) = self.lists.get(prefix) {
            match remove {
                Ids::Many(t) => *ids -= t,
                Ids::Few(v) => v.iter().for_each(|id| {
                    ids.remove(*id);
                }),
            }
            match add {
                Ids::Many(t) => *ids |= t,
                Ids::Few(v) => v.iter().for_each(|id| {
                    ids.insert(*id);
                }),
            }
        }
    }

    /// Turns the delta into writes against the current content of `tree`: each touched
    /// chunk is read, changed and written back (removed when it becomes empty).
    ///
    /// The caller must hold the store's write lock from here until `batch` is applied,
    /// so the chunks read are still current when the batch commits.
    ///
    /// Errors: [`StoreError::Storage`] on a sled failure, [`StoreError::Corrupt`] when a
    /// stored chunk does not decode.
    pub fn write_into(self, tree: &sled::Tree, batch: &mut sled::Batch) -> Result<(), StoreError> {
        for (k, v) in self.changes(Some(tree))? {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        Ok(())
    }

    /// The writes that apply the delta to `tree` (to an empty tree, read nothing back,
    /// when `tree` is `None`), in key order: (chunk key, new value, or `None` to remove
    /// the chunk). Each touched chunk is read, changed and written back.
    ///
    /// The caller must hold the store's write lock until the writes are applied, so the
    /// chunks read are still current then.
    ///
    /// Errors: [`StoreError::Storage`] on a sled failure, [`StoreError::Corrupt`] when a
    /// stored chunk does not decode or a bitmap does not encode.
    pub fn changes(self, tree: Option<&sled::Tree>) -> Result<Vec<Change>, StoreError> {
        match tree {
            Some(t) => self.changes_by(|k| Ok(t.get(k)?)),
            None => self.changes_by(|_| Ok(None)),
        }
    }

    /// [`PostingDelta::changes`] against `base`, a copy of the whole tree's content
    /// (taken when nothing could write the tree until these changes are applied): the
    /// chunks are looked up in memory instead of read back from sled (issue 7: a seed
    /// loaded after the default layout read back all of its ~10,000 chunks, each a sled
    /// miss of ~2,000 instructions).
    ///
    /// Errors: as [`PostingDelta::changes`].
    pub fn changes_over(
        self,
        base: &BTreeMap<Vec<u8>, sled::IVec>,
    ) -> Result<Vec<Change>, StoreError> {
        self.changes_by(|k| Ok(base.get(k).cloned()))
    }

    /// The writes of [`PostingDelta::changes`], with the stored chunks read by `stored`.
    /// A chunk left empty is removed only when `stored` had it.
    fn changes_by(
        self,
        stored: impl Fn(&[u8]) -> Result<Option<sled::IVec>, StoreError>,
    ) -> Result<Vec<Change>, StoreError> {
        let mut out = Vec::with_capacity(self.lists.len());
        for (prefix, (add, remove)) in self.lists {
            // Chunk → (low bits to add, low bits to remove), in chunk order.
            let mut chunks: BTreeMap<u64, (RoaringBitmap, RoaringBitmap)> = BTreeMap::new();
            for id in add.iter() {
                let c = &mut chunks.entry(id >> CHUNK_BITS).or_default().0;
                if !c.push(low(id)) {
                    c.insert(low(id));
                }
            }
            for id in remove.iter() {
                chunks
                    .entry(id >> CHUNK_BITS)
                    .or_default()
                    .1
                    .insert(low(id));
            }
            for (chunk, (add, remove)) in chunks {
                let k = chunk_key(&prefix, chunk << CHUNK_BITS);
                let (mut bits, had) = match stored(&k)? {
                    Some(v) => (decode(&v)? | add, true),
                    None => (add, false),
                };
                bits -= remove;
                if bits.is_empty() {
                    if had {
                        out.push((k, None));
                    }
                } else {
                    out.push((k, Some(encode(&bits)?)));
                }
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// One write of [`PostingDelta::changes`]: a chunk key and its new value (`None`: remove).
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// Applies `changes` (sorted by key, as [`PostingDelta::changes`] returns them) to
/// `tree` one key at a time, not atomically, for writers that need no atomicity: a bulk
/// load's final postings and an index rebuild, both run with the index fingerprint
/// removed, so a crash midway makes the next open rebuild the index.
///
/// In key order and from two threads, each taking one contiguous half of the keys: sled
/// then appends to the rightmost leaf of each half (hot in cache, split once when full)
/// instead of touching leaves all over the tree, and the two threads seldom meet in a
/// node. (A `sled::Batch` is a hash map, applied in no particular order, by one thread.)
/// The sort costs instructions (about 20 M for the 1,000-entry fixture's 20,000 chunks);
/// `oxldap index`, which wrote through batches before, got about 20% cheaper in CPU
/// (BENCHMARKS.md, run of 2026-11-30); the bulk-load end was not timed on its own.
///
/// Errors: [`StoreError::Storage`] on a sled failure (some changes may be applied).
pub fn apply_sorted(tree: &sled::Tree, changes: Vec<Change>) -> Result<(), StoreError> {
    let outcomes = crate::bulk::par_map(changes, |(k, v)| match v {
        Some(v) => tree.insert(k, v).map(|_| ()),
        None => tree.remove(k).map(|_| ()),
    });
    outcomes
        .into_iter()
        .collect::<Result<(), sled::Error>>()
        .map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> sled::Tree {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .expect("temporary db");
        db.open_tree("index").expect("tree")
    }

    fn apply(t: &sled::Tree, d: PostingDelta) {
        let mut b = sled::Batch::default();
        d.write_into(t, &mut b).expect("write");
        t.apply_batch(b).expect("apply");
    }

    #[test]
    fn ids_across_chunks_round_trip() {
        let t = tree();
        let mut d = PostingDelta::default();
        let ids = [1u64, 1023, 1024, 5000, 1 << 40];
        for id in ids {
            d.add(b"k", id);
        }
        d.add(b"kk", 7);
        apply(&t, d);
        let got: Vec<u64> = lookup(&t, b"k").expect("lookup").iter().collect();
        assert_eq!(got, ids.to_vec());
        assert_eq!(all_postings(&t).expect("all").len(), ids.len() + 1);
    }

    #[test]
    fn probing_chunks_equals_intersecting_lists() {
        let t = tree();
        let mut d = PostingDelta::default();
        let posted = [1u64, 1023, 1024, 2047, 5000, 9000, 1 << 40];
        for id in posted {
            d.add(b"k", id);
        }
        // Another list sharing a prefix must not leak into `k`'s chunks.
        d.add(b"kk", 2);
        apply(&t, d);
        let reader = PostingReader {
            tree: &t,
            pending: None,
        };
        let asked = [
            0u64,
            1,
            2,
            1023,
            1025,
            2047,
            4999,
            5000,
            9000,
            9001,
            1 << 40,
            (1 << 40) + 1,
        ];
        let mut ids: RoaringTreemap = asked.iter().copied().collect();
        let expected = ids.clone() & lookup(&t, b"k").expect("lookup");
        reader.retain_posted(b"k", &mut ids).expect("probe");
        assert_eq!(ids, expected);
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            vec![1, 1023, 2047, 5000, 9000, 1 << 40]
        );
        let mut none: RoaringTreemap = asked.iter().copied().collect();
        reader.retain_posted(b"absent", &mut none).expect("probe");
        assert!(none.is_empty());
    }

    #[test]
    fn a_fresh_write_equals_a_read_back_write_and_reads_see_pending_changes() {
        let ids = [2u64, 1023, 1024, 70_000];
        let mut read_back = PostingDelta::default();
        let mut fresh = PostingDelta::default();
        for id in ids {
            read_back.add(b"p", id);
            fresh.add(b"p", id);
        }
        let (a, b) = (tree(), tree());
        apply(&a, read_back);
        apply_sorted(&b, fresh.changes(None).expect("write")).expect("apply");
        let dump = |t: &sled::Tree| -> Vec<(Vec<u8>, Vec<u8>)> {
            t.iter()
                .map(|kv| {
                    let (k, v) = kv.expect("kv");
                    (k.to_vec(), v.to_vec())
                })
                .collect()
        };
        assert_eq!(dump(&a), dump(&b));
        let mut pending = PostingDelta::default();
        pending.remove(b"p", 1023);
        pending.add(b"p", 5);
        pending.add(b"pq", 6);
        let reader = PostingReader {
            tree: &a,
            pending: Some(&pending),
        };
        let got: Vec<u64> = reader.lookup(b"p").expect("lookup").iter().collect();
        assert_eq!(got, vec![2, 5, 1024, 70_000]);
    }

    proptest::proptest! {
        /// Any sequence of adds and removes over a stored base (ids in and out of order,
        /// lists crossing from few ids to a bitmap and chunks emptied) gives, read
        /// through the pending delta and once written, exactly the lists of a model.
        #[test]
        fn deltas_match_a_model(
            base in proptest::collection::vec((0u8..3, 0u64..3000), 0..80),
            ops in proptest::collection::vec((proptest::bool::ANY, 0u8..3, 0u64..3000), 0..300),
        ) {
            let (t, copy) = (tree(), tree());
            let mut model: BTreeMap<Vec<u8>, std::collections::BTreeSet<u64>> = BTreeMap::new();
            let key = |p: u8| vec![b'k'; usize::from(p) + 1];
            let (mut d, mut d2) = (PostingDelta::default(), PostingDelta::default());
            for (p, id) in base {
                d.add(&key(p), id);
                d2.add(&key(p), id);
                model.entry(key(p)).or_default().insert(id);
            }
            apply(&t, d);
            apply(&copy, d2);
            let (mut d, mut d2) = (PostingDelta::default(), PostingDelta::default());
            for (add, p, id) in ops {
                let set = model.entry(key(p)).or_default();
                if add {
                    if id % 2 == 0 {
                        d.add(&key(p), id);
                    } else {
                        d.add_owned(key(p), id);
                    }
                    d2.add(&key(p), id);
                    set.insert(id);
                } else {
                    d.remove(&key(p), id);
                    d2.remove(&key(p), id);
                    set.remove(&id);
                }
            }
            // Against an in-memory copy of the stored chunks: the same writes.
            let snapshot: BTreeMap<Vec<u8>, sled::IVec> = copy
                .iter()
                .map(|kv| kv.map(|(k, v)| (k.to_vec(), v)))
                .collect::<Result<_, _>>()
                .expect("copy");
            let over = d2.changes_over(&snapshot).expect("changes over");
            apply_sorted(&copy, over).expect("apply over");
            let reader = PostingReader { tree: &t, pending: Some(&d) };
            for (k, want) in &model {
                let got: Vec<u64> = reader.lookup(k).expect("lookup").iter().collect();
                proptest::prop_assert_eq!(&got, &want.iter().copied().collect::<Vec<_>>());
            }
            apply_sorted(&t, d.changes(Some(&t)).expect("changes")).expect("apply");
            for (k, want) in &model {
                let got: Vec<u64> = lookup(&t, k).expect("lookup").iter().collect();
                proptest::prop_assert_eq!(&got, &want.iter().copied().collect::<Vec<_>>());
            }
            let stored = all_postings(&t).expect("all").len();
            proptest::prop_assert_eq!(stored, model.values().map(|s| s.len()).sum::<usize>());
            let dump = |t: &sled::Tree| -> Vec<(Vec<u8>, Vec<u8>)> {
                t.iter().map(|kv| {
                    let (k, v) = kv.expect("kv");
                    (k.to_vec(), v.to_vec())
                }).collect()
            };
            proptest::prop_assert_eq!(dump(&t), dump(&copy));
        }
    }

    #[test]
    fn later_operation_wins_and_empty_chunks_vanish() {
        let t = tree();
        let mut d = PostingDelta::default();
        d.add(b"k", 3);
        d.add(b"k", 4);
        d.remove(b"k", 3);
        d.add(b"k", 5);
        apply(&t, d);
        let got: Vec<u64> = lookup(&t, b"k").expect("lookup").iter().collect();
        assert_eq!(got, vec![4, 5]);
        let mut d = PostingDelta::default();
        d.remove(b"k", 4);
        d.remove(b"k", 5);
        apply(&t, d);
        assert_eq!(t.len(), 0);
    }
}
