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

/// An index tree key and its encoded value (see [`PostingDelta::new_chunks`]).
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Changes to posting lists not yet written: per index key (the chunk key's prefix), the
/// ids to add and to remove.
///
/// The later operation on an id wins, so a bulk load collects every write's changes in
/// one delta and applies them once. Keyed by hash, not order: adding a
/// posting costs one hash lookup and an append to a bitmap (a bulk load adds ids in
/// increasing order), and a read during a bulk load looks its key up directly.
#[derive(Debug, Default)]
pub struct PostingDelta {
    /// Index key → (ids to add, ids to remove); an id is never in both.
    lists: FxHashMap<Vec<u8>, (RoaringTreemap, RoaringTreemap)>,
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
        let mut add = RoaringTreemap::new();
        add.insert(id);
        self.lists
            .insert(prefix.to_vec(), (add, RoaringTreemap::new()));
    }

    /// Removes `id` from `prefix`'s list.
    pub fn remove(&mut self, prefix: &[u8], id: u64) {
        if let Some((add, remove)) = self.lists.get_mut(prefix) {
            add.remove(id);
            remove.insert(id);
            return;
        }
        let mut remove = RoaringTreemap::new();
        remove.insert(id);
        self.lists
            .insert(prefix.to_vec(), (RoaringTreemap::new(), remove));
    }

    /// Applies this delta's changes under `prefix` to `ids` (read from the tree).
    fn adjust(&self, prefix: &[u8], ids: &mut RoaringTreemap) {
        if let Some((add, remove)) = self.lists.get(prefix) {
            *ids -= remove;
            *ids |= add;
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
        self.write_chunks(Some(tree), batch)
    }

    /// Turns the delta into writes for an index tree known to hold none of its keys (a
    /// bulk load into an empty index): no chunk is read back.
    ///
    /// Errors: [`StoreError::Corrupt`] when a bitmap does not encode.
    pub fn write_new_into(self, batch: &mut sled::Batch) -> Result<(), StoreError> {
        self.write_chunks(None, batch)
    }

    /// The chunk values of a delta for an index tree known to hold none of its keys, as
    /// (key, encoded bitmap) pairs, for writers that insert them themselves
    /// ([`crate::Store::bulk`] inserts them from two threads).
    ///
    /// Errors: [`StoreError::Corrupt`] when a bitmap does not encode.
    pub fn new_chunks(self) -> Result<Vec<KeyValue>, StoreError> {
        let mut out = Vec::with_capacity(self.lists.len());
        for (prefix, (add, _)) in self.lists {
            let mut chunks: BTreeMap<u64, RoaringBitmap> = BTreeMap::new();
            for id in add.iter() {
                chunks.entry(id >> CHUNK_BITS).or_default().insert(low(id));
            }
            for (chunk, bits) in chunks {
                if !bits.is_empty() {
                    out.push((chunk_key(&prefix, chunk << CHUNK_BITS), encode(&bits)?));
                }
            }
        }
        Ok(out)
    }

    fn write_chunks(
        self,
        tree: Option<&sled::Tree>,
        batch: &mut sled::Batch,
    ) -> Result<(), StoreError> {
        for (prefix, (add, remove)) in self.lists {
            // Chunk → (low bits to add, low bits to remove), in chunk order.
            let mut chunks: BTreeMap<u64, (RoaringBitmap, RoaringBitmap)> = BTreeMap::new();
            for id in add.iter() {
                chunks
                    .entry(id >> CHUNK_BITS)
                    .or_default()
                    .0
                    .insert(low(id));
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
                let mut bits = match tree.map(|t| t.get(&k)).transpose()?.flatten() {
                    Some(v) => decode(&v)?,
                    None => RoaringBitmap::new(),
                };
                bits -= remove;
                bits |= add;
                if bits.is_empty() {
                    if tree.is_some() {
                        batch.remove(k);
                    }
                } else {
                    batch.insert(k, encode(&bits)?);
                }
            }
        }
        Ok(())
    }
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
        let mut batch = sled::Batch::default();
        fresh.write_new_into(&mut batch).expect("write");
        b.apply_batch(batch).expect("apply");
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
