//! Posting lists: the ids an index key holds, stored as chunked bitmaps in the `index`
//! tree, and the deltas a write (or a bulk load) applies to them.
//!
//! Layout (one sled key per index key and chunk, the IDL of slapd's back-mdb in spirit):
//!
//! ```text
//! key   = prefix ‖ start        prefix = kind ‖ len(oid) ‖ oid ‖ len(value) ‖ value
//!                               start  = the chunk's first block (id >> BLOCK_BITS), u64 BE
//! value = the set of offsets (id − (start << BLOCK_BITS)), in the smaller of two forms:
//!         a RoaringBitmap in its portable serialization (first byte 0x3A or 0x3B, the
//!         low byte of its cookie), or BITSET_TAG (0x01) ‖ a bitset of the offsets,
//!         least significant bit first, up to the byte of the greatest offset
//! ```
//!
//! A chunk covers whole blocks of 1,024 ids, from its `start` up to the next chunk's
//! `start` of the same prefix (the chunks of a list partition the id space; ids below the
//! first chunk's start have none yet). It holds at most [`MAX_CHUNK_IDS`] ids, so a value
//! is at most 2 KiB: a write rewrites no more than that. A dense list (objectClass,
//! presence) has a chunk per block, as the fixed one-block chunks of layout v2 had; a list
//! of a few hundred ids spread over 100,000 entries (most substring keys) has one chunk
//! instead of one per block it touches, which cut a 100,000-entry load's index keys from
//! 944,000 to about 350,000 (sled costs ~10–16 k instructions per key written).
//! Layout v2 (every chunk one block) is a valid instance of this one; the index
//! fingerprint says `v3` all the same, so that an older build re-indexes a store written
//! by this one instead of misreading its chunks.
//!
//! Why chunks: a lookup reads one value per 1,024 ids at most instead of one key per id,
//! while a write rewrites at most one 2 KiB value per key it touches. A prefix never
//! collides with a longer key's prefix because `len(value)` precedes the value.
//!
//! Why two value forms: roaring keeps a chunk of 1,024 ids as an array of 1,024 u16s
//! (2 KiB), where a bitset of its block takes 128 bytes. sled is log-structured: every
//! rewrite of a value appends it to the log, and the space is reclaimed only when its
//! segment is cleaned, so an add that rewrote some 30 dense chunks (objectClass, presence,
//! the substrings every mail shares) appended about 60 KiB, and a data folder of 57 MiB
//! grew to 2.2 GiB under a minute of adds and deletes. The bitset form cuts those
//! rewrites sixteenfold; sparse chunks keep the roaring form. Both forms decode (chunks
//! written before the bitset form existed are roaring); the index fingerprint says
//! `v5` so that an older build, which cannot read bitsets, re-indexes such a store.
//!
//! This module knows nothing of schema or filters; `index` computes the keys.

use crate::error::StoreError;
use roaring::{RoaringBitmap, RoaringTreemap};
use rustc_hash::{FxHashMap, FxHashSet};

/// Ids per block, as a power of two: 2^10 = 1,024. Chunks start and end on block bounds.
pub const BLOCK_BITS: u32 = 10;

/// The most ids a chunk holds (a chunk of one block holds at most this many anyway), so a
/// value is at most 2 KiB (an array container of 1,024 u16s). A write that grows a chunk
/// past it splits the chunk on block bounds.
pub const MAX_CHUNK_IDS: u64 = 1 << BLOCK_BITS;

/// The most blocks one chunk spans: its ids' offsets from the chunk's base fit a u32.
const MAX_SPAN_BLOCKS: u64 = 1 << (32 - BLOCK_BITS);

/// The sled key of `prefix`'s chunk starting at block `start`.
fn chunk_key(prefix: &[u8], start: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&start.to_be_bytes());
    k
}

/// The block of `id`.
fn block(id: u64) -> u64 {
    id >> BLOCK_BITS
}

/// The first id of block `start`.
fn base(start: u64) -> u64 {
    start << BLOCK_BITS
}

/// `id`'s offset in the chunk starting at block `start`, if the chunk can hold it (it is
/// not before the chunk and fits a u32).
fn offset(start: u64, id: u64) -> Option<u32> {
    id.checked_sub(base(start))
        .and_then(|o| u32::try_from(o).ok())
}

/// The start block of a chunk key of `prefix`; None for a key of another shape.
fn key_start(prefix: &[u8], key: &[u8]) -> Option<u64> {
    if key.len() != prefix.len() + 8 || !key.starts_with(prefix) {
        return None;
    }
    key.get(prefix.len()..).and_then(crate::keys::decode_id)
}

/// The most keys [`stored_lists`] reads to learn which lists an index holds: a tree with
/// more is read back list by list at the end of a bulk load, as before. 4,096 keys take
/// about a millisecond to list; the default layout's index holds a few dozen.
pub(crate) const STORED_LISTS_MAX_KEYS: usize = 4096;

/// The prefixes of the posting lists `tree` holds (each stored key less its 8-byte
/// start block), or None when it holds more than [`STORED_LISTS_MAX_KEYS`] keys. Taken
/// when a bulk load begins: the tree is not written until the load's end (every write
/// meanwhile collects its postings), so the set stays true until then.
///
/// Errors: [`StoreError::Storage`] on a sled failure, [`StoreError::Corrupt`] for a key
/// shorter than a start block.
pub(crate) fn stored_lists(tree: &sled::Tree) -> Result<Option<FxHashSet<Vec<u8>>>, StoreError> {
    let mut lists = FxHashSet::default();
    for (n, key) in tree.iter().keys().enumerate() {
        if n >= STORED_LISTS_MAX_KEYS {
            return Ok(None);
        }
        let key = key?;
        let prefix = key
            .len()
            .checked_sub(8)
            .and_then(|end| key.get(..end))
            .ok_or(StoreError::Corrupt { tree: "index" })?;
        lists.insert(prefix.to_vec());
    }
    Ok(Some(lists))
}

/// The first byte of a chunk value in bitset form (see the module documentation). A
/// roaring portable serialization starts with the low byte of its cookie, 0x3A (12346)
/// or 0x3B (12347) (RoaringFormatSpec), so the forms cannot be mistaken for each other.
const BITSET_TAG: u8 = 0x01;

/// Decodes a stored chunk value (either form) into its bitmap.
///
/// Errors: [`StoreError::Corrupt`] when the value is neither form, or a bitset longer
/// than 2^32 bits.
fn decode(value: &[u8]) -> Result<RoaringBitmap, StoreError> {
    match value.split_first() {
        Some((&BITSET_TAG, bits)) if bits.len() <= (1 << 29) => {
            Ok(RoaringBitmap::from_lsb0_bytes(0, bits))
        }
        _ => RoaringBitmap::deserialize_from(value)
            .map_err(|_| StoreError::Corrupt { tree: "index" }),
    }
}

/// The number of ids in a stored chunk value.
///
/// Errors: [`StoreError::Corrupt`] when the value does not decode.
pub fn chunk_len(value: &[u8]) -> Result<u64, StoreError> {
    Ok(decode(value)?.len())
}

/// Encodes a chunk bitmap for storage, in the smaller form: a bitset when the offsets
/// are dense (128 bytes for a full block instead of 2 KiB), else roaring.
fn encode(bits: &RoaringBitmap) -> Result<Vec<u8>, StoreError> {
    let roaring_len = bits.serialized_size();
    if let Some(max) = bits.max() {
        // usize is at least 32 bits on every target sled supports.
        let bitset_len = 1 + max as usize / 8 + 1;
        if bitset_len < roaring_len {
            let mut out = vec![0u8; bitset_len];
            out[0] = BITSET_TAG;
            for o in bits {
                out[1 + o as usize / 8] |= 1 << (o % 8);
            }
            return Ok(out);
        }
    }
    let mut out = Vec::with_capacity(roaring_len);
    bits.serialize_into(&mut out)
        .map_err(|_| StoreError::Corrupt { tree: "index" })?;
    Ok(out)
}

/// The chunk of `prefix` covering block `b`: the one with the greatest start ≤ `b`, as
/// (start, bitmap); None when no chunk starts at or before `b`. A point read first (a
/// dense list has a chunk starting at every block), else one reverse seek.
///
/// Errors: [`StoreError::Storage`] on a sled failure, [`StoreError::Corrupt`] when the
/// chunk does not decode.
fn locate(
    tree: &sled::Tree,
    prefix: &[u8],
    b: u64,
) -> Result<Option<(u64, RoaringBitmap)>, StoreError> {
    if let Some(v) = tree.get(chunk_key(prefix, b))? {
        return Ok(Some((b, decode(&v)?)));
    }
    let Some(kv) = tree
        .range(chunk_key(prefix, 0)..=chunk_key(prefix, b))
        .next_back()
    else {
        return Ok(None);
    };
    let (k, v) = kv?;
    match key_start(prefix, &k) {
        Some(start) => Ok(Some((start, decode(&v)?))),
        None => Err(StoreError::Corrupt { tree: "index" }),
    }
}

/// The start of `prefix`'s first chunk after block `b`, if any (where the chunk covering
/// `b` ends).
///
/// Errors: [`StoreError::Storage`] on a sled failure.
fn next_start(tree: &sled::Tree, prefix: &[u8], b: u64) -> Result<Option<u64>, StoreError> {
    let Some(from) = b.checked_add(1) else {
        return Ok(None);
    };
    match tree
        .range(chunk_key(prefix, from)..=chunk_key(prefix, u64::MAX))
        .next()
    {
        Some(kv) => Ok(key_start(prefix, &kv?.0)),
        None => Ok(None),
    }
}

/// Every id posted under `prefix` (all its chunks).
///
/// Errors: [`StoreError::Storage`] on a sled failure, [`StoreError::Corrupt`] when a
/// chunk value does not decode.
pub fn lookup(tree: &sled::Tree, prefix: &[u8]) -> Result<RoaringTreemap, StoreError> {
    let mut ids = RoaringTreemap::new();
    for kv in tree.scan_prefix(prefix) {
        let (k, v) = kv?;
        let Some(start) = key_start(prefix, &k) else {
            continue;
        };
        let first = base(start);
        let bits = decode(&v)?;
        // Chunks come in ascending start order and each holds only ids below the next
        // one's start, so their ids ascend and append in bulk; insert one by one should
        // that ever not hold.
        if ids
            .append(bits.iter().map(|o| first + u64::from(o)))
            .is_err()
        {
            for o in &bits {
                ids.insert(first + u64::from(o));
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
        // The chunk read last: its start, bitmap, and (once asked) where it ends.
        let mut chunk: Option<(u64, RoaringBitmap, Option<Option<u64>>)> = None;
        for id in ids.iter() {
            let b = block(id);
            let covered = match &mut chunk {
                Some((start, _, end)) if *start <= b => {
                    if end.is_none() {
                        *end = Some(next_start(self.tree, prefix, *start)?);
                    }
                    end.flatten().is_none_or(|e| b < e)
                }
                _ => false,
            };
            if !covered {
                chunk = locate(self.tree, prefix, b)?.map(|(s, bits)| (s, bits, None));
            }
            let posted = chunk.as_ref().is_some_and(|(start, bits, _)| {
                offset(*start, id).is_some_and(|o| bits.contains(o))
            });
            if posted {
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
        let (prefix, start) = k.split_at(split);
        let start = crate::keys::decode_id(start).ok_or(StoreError::Corrupt { tree: "index" })?;
        for o in decode(&v)? {
            let mut p = prefix.to_vec();
            p.extend_from_slice(&(base(start) + u64::from(o)).to_be_bytes());
            out.push(p);
        }
    }
    Ok(out)
}

/// A list's pending additions (or removals) above this many ids are kept in a bitmap.
/// Up to it a list is a sorted `Vec` of at most 32 KiB (8 bytes an id; 4,096 ids are
/// also where roaring's array containers end).
const FEW_IDS: usize = 4096;

/// The ids of one list's pending additions or removals.
///
/// Most lists of a bulk load hold few ids (an equality key is usually one entry's
/// value) or a few hundred (most substring keys): those are a sorted `Vec`, one
/// allocation and no pointer chasing. Posting an id then touches the list's last
/// element only, where a [`RoaringTreemap`] touches a map node, a container vector and a
/// container, each a cache miss in a load of 100,000 entries with 340,000 lists
/// (`RoaringTreemap::insert` was 13% of such an import's CPU with a bound of 32 ids).
/// Longer lists (objectClass, presence: few, and hot in the cache) become a bitmap.
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
    ///
    /// The lists are packed, encoded and sorted on two threads for a large delta (a bulk
    /// load's end: ~10,000 lists for the 1,000-user seed, ~130 M instructions on one
    /// thread before; issue 7), each half of them into a sorted vector of its own; the
    /// two are then merged on this thread.
    pub fn changes(self, tree: Option<&sled::Tree>) -> Result<Vec<Change>, StoreError> {
        self.changes_known(tree, None)
    }

    /// [`PostingDelta::changes`] knowing which lists `tree` holds (`stored`, from
    /// [`stored_lists`] when the load began; None: not known): a list not among them is
    /// packed into fresh chunks without reading the tree, as into an empty tree. A seed
    /// loaded after the default layout (`serve --ldif`) then reads back the layout's few
    /// lists, not one range seek per list of the seed (~10,000 for the 1,000-user
    /// fixture, ~70 M instructions; issue 7).
    ///
    /// Errors: as [`PostingDelta::changes`].
    pub fn changes_known(
        self,
        tree: Option<&sled::Tree>,
        stored: Option<&FxHashSet<Vec<u8>>>,
    ) -> Result<Vec<Change>, StoreError> {
        let lists: Vec<(Vec<u8>, (Ids, Ids))> = self.lists.into_iter().collect();
        let parts = crate::bulk::par_split(lists, |part| {
            let mut out = Vec::with_capacity(part.len());
            for (prefix, (add, remove)) in part {
                match tree {
                    Some(tree) if stored.is_none_or(|s| s.contains(&prefix)) => {
                        change_chunks(tree, &prefix, &add, &remove, &mut out)?;
                    }
                    // Nothing stored, nothing to remove: the ids packed into fresh chunks.
                    _ => {
                        for (start, bits) in pack(add.iter(), None) {
                            out.push((chunk_key(&prefix, start), Some(encode(&bits)?)));
                        }
                    }
                }
            }
            out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            Ok::<_, StoreError>(out)
        });
        let mut out = Vec::new();
        for part in parts {
            out = merge_sorted(out, part?);
        }
        Ok(out)
    }
}

/// The changes of `a` and `b`, each sorted by key and with no key in both, in key order.
fn merge_sorted(a: Vec<Change>, b: Vec<Change>) -> Vec<Change> {
    if a.is_empty() {
        return b;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let from_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.0 <= y.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if let Some(c) = if from_a { a.next() } else { b.next() } {
            out.push(c);
        }
    }
    out
}

/// Packs ascending `ids` into chunks of whole blocks, each of at most [`MAX_CHUNK_IDS`]
/// ids (a block is never split, and one block holds no more than that) and spanning
/// fewer than [`MAX_SPAN_BLOCKS`]: (start block, offsets). A chunk starts at its first
/// id's block, the first one at `first` instead when given (a split chunk keeps its key).
fn pack(ids: impl Iterator<Item = u64>, first: Option<u64>) -> Vec<(u64, RoaringBitmap)> {
    let mut chunks: Vec<(u64, RoaringBitmap)> = Vec::new();
    let mut ids = ids.peekable();
    let mut run: Vec<u64> = Vec::new();
    while let Some(id) = ids.next() {
        let b = block(id);
        run.clear();
        run.push(id);
        while let Some(next) = ids.next_if(|n| block(*n) == b) {
            run.push(next);
        }
        let len = u64::try_from(run.len()).unwrap_or(u64::MAX);
        let fits = chunks.last().is_some_and(|(start, bits)| {
            bits.len().saturating_add(len) <= MAX_CHUNK_IDS && b - start < MAX_SPAN_BLOCKS
        });
        if !fits {
            let start = match first {
                Some(f) if chunks.is_empty() && f <= b && b - f < MAX_SPAN_BLOCKS => f,
                _ => b,
            };
            chunks.push((start, RoaringBitmap::new()));
        }
        if let Some((start, bits)) = chunks.last_mut() {
            for id in &run {
                if let Some(o) = offset(*start, *id) {
                    // Ascending: an append; insert should that ever not hold.
                    if !bits.push(o) {
                        bits.insert(o);
                    }
                }
            }
        }
    }
    chunks
}

/// A stored (or new) chunk a delta changes.
struct Touched {
    /// Its start block.
    start: u64,
    /// Whether it is stored (else the delta creates it).
    stored: bool,
    /// Its ids' offsets, changed.
    bits: RoaringBitmap,
    /// Where it ends (the next chunk's start; None: no next chunk), once asked.
    end: Option<Option<u64>>,
}

/// The writes that apply `add` and `remove` to `prefix`'s stored chunks: each touched
/// chunk is read, changed and written back (removed when emptied, split on block bounds
/// when it grew past [`MAX_CHUNK_IDS`]); an id no chunk covers starts a chunk at its
/// block.
///
/// Errors: [`StoreError::Storage`] on a sled failure, [`StoreError::Corrupt`] when a
/// stored chunk does not decode or a bitmap does not encode.
fn change_chunks(
    tree: &sled::Tree,
    prefix: &[u8],
    add: &Ids,
    remove: &Ids,
    out: &mut Vec<Change>,
) -> Result<(), StoreError> {
    // An id is never in both: one pass in id order.
    let mut ops: Vec<(u64, bool)> = add
        .iter()
        .map(|id| (id, true))
        .chain(remove.iter().map(|id| (id, false)))
        .collect();
    ops.sort_unstable_by_key(|(id, _)| *id);
    let mut touched: Vec<Touched> = Vec::new();
    for (id, is_add) in ops {
        let b = block(id);
        let covered = match touched.last_mut() {
            Some(t) if t.start <= b => {
                if t.end.is_none() {
                    t.end = Some(next_start(tree, prefix, t.start)?);
                }
                t.end.flatten().is_none_or(|e| b < e)
            }
            _ => false,
        };
        if !covered {
            let (start, stored, bits) = match locate(tree, prefix, b)? {
                Some((start, bits)) => (start, true, bits),
                None => (b, false, RoaringBitmap::new()),
            };
            touched.push(Touched {
                start,
                stored,
                bits,
                end: None,
            });
        }
        let Some(t) = touched.last_mut() else {
            continue;
        };
        let o = match offset(t.start, id) {
            Some(o) => o,
            None => {
                // Beyond what the chunk's offsets reach (4 G ids on): a chunk of its own.
                let end = t.end;
                t.end = Some(Some(b));
                touched.push(Touched {
                    start: b,
                    stored: false,
                    bits: RoaringBitmap::new(),
                    end,
                });
                offset(b, id).unwrap_or_default()
            }
        };
        if let Some(t) = touched.last_mut() {
            if is_add {
                t.bits.insert(o);
            } else {
                t.bits.remove(o);
            }
        }
    }
    for t in touched {
        let key = chunk_key(prefix, t.start);
        if t.bits.is_empty() {
            if t.stored {
                out.push((key, None));
            }
        } else if t.bits.len() <= MAX_CHUNK_IDS {
            out.push((key, Some(encode(&t.bits)?)));
        } else {
            let parts = pack(
                t.bits.iter().map(|o| base(t.start) + u64::from(o)),
                Some(t.start),
            );
            if t.stored && parts.first().map(|(s, _)| *s) != Some(t.start) {
                out.push((key, None));
            }
            for (start, bits) in parts {
                out.push((chunk_key(prefix, start), Some(encode(&bits)?)));
            }
        }
    }
    Ok(())
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
    use std::collections::BTreeMap;

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

    /// A bulk load's end that knows the stored lists (`changes_known`, issue 7) reads the
    /// same lists as one that reads every list back: lists the tree held are changed in
    /// place (one emptied, so removed), the others packed fresh. With enough lists the
    /// changes are built on two threads and merged in key order.
    #[test]
    fn changes_knowing_the_stored_lists_read_as_read_back_changes() {
        let seed = |t: &sled::Tree| {
            let mut d = PostingDelta::default();
            for id in [1u64, 2, 3000] {
                d.add(b"k1", id);
            }
            d.add(b"k2", 5);
            apply(t, d);
        };
        let delta = || {
            let mut d = PostingDelta::default();
            d.add(b"k1", 4);
            d.add(b"k1", 2048);
            d.remove(b"k2", 5);
            d.remove(b"gone", 9);
            for n in 0..200u64 {
                for id in [n, n * 1000 + 7, n * 70_000 + 1] {
                    d.add(format!("new{n}").as_bytes(), id);
                }
            }
            d
        };
        let (a, b) = (tree(), tree());
        seed(&a);
        seed(&b);
        let stored = stored_lists(&b).expect("list").expect("few keys");
        assert_eq!(stored.len(), 2);
        let changes = delta().changes(Some(&a)).expect("changes");
        assert!(changes.windows(2).all(|w| w[0].0 < w[1].0), "key order");
        apply_sorted(&a, changes).expect("apply");
        let changes = delta()
            .changes_known(Some(&b), Some(&stored))
            .expect("changes");
        assert!(changes.windows(2).all(|w| w[0].0 < w[1].0), "key order");
        apply_sorted(&b, changes).expect("apply");
        let mut prefixes: Vec<Vec<u8>> = (0..200).map(|n| format!("new{n}").into_bytes()).collect();
        prefixes.extend([b"k1".to_vec(), b"k2".to_vec(), b"gone".to_vec()]);
        for p in &prefixes {
            let got_a: Vec<u64> = lookup(&a, p).expect("lookup").iter().collect();
            let got_b: Vec<u64> = lookup(&b, p).expect("lookup").iter().collect();
            assert_eq!(got_a, got_b, "{}", String::from_utf8_lossy(p));
        }
        let k1: Vec<u64> = lookup(&b, b"k1").expect("lookup").iter().collect();
        assert_eq!(k1, vec![1, 2, 4, 2048, 3000]);
        assert!(lookup(&b, b"k2").expect("lookup").is_empty());
        assert_eq!(
            all_postings(&a).expect("all"),
            all_postings(&b).expect("all")
        );
    }

    /// Past `STORED_LISTS_MAX_KEYS` keys the stored lists are not listed (every list is
    /// then read back).
    #[test]
    fn stored_lists_of_a_large_index_are_not_listed() {
        let t = tree();
        let mut d = PostingDelta::default();
        for n in 0..=STORED_LISTS_MAX_KEYS {
            d.add(format!("k{n}").as_bytes(), 1);
        }
        apply(&t, d);
        assert!(stored_lists(&t).expect("list").is_none());
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
            let t = tree();
            let mut model: BTreeMap<Vec<u8>, std::collections::BTreeSet<u64>> = BTreeMap::new();
            let key = |p: u8| vec![b'k'; usize::from(p) + 1];
            let mut d = PostingDelta::default();
            for (p, id) in base {
                d.add(&key(p), id);
                model.entry(key(p)).or_default().insert(id);
            }
            apply(&t, d);
            let mut d = PostingDelta::default();
            for (add, p, id) in ops {
                let set = model.entry(key(p)).or_default();
                if add {
                    if id % 2 == 0 {
                        d.add(&key(p), id);
                    } else {
                        d.add_owned(key(p), id);
                    }
                    set.insert(id);
                } else {
                    d.remove(&key(p), id);
                    set.remove(&id);
                }
            }
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

    /// A full block is stored as a 128-byte bitset, not a 2 KiB roaring array; a sparse
    /// chunk keeps the roaring form; both read back as written, and so does a chunk
    /// written in roaring form before the bitset form existed.
    #[test]
    fn dense_chunks_are_bitsets_and_every_form_reads_back() {
        let full: RoaringBitmap = (0..1024).collect();
        let v = encode(&full).expect("encode");
        assert_eq!(v.len(), 1 + 128);
        assert_eq!(v[0], BITSET_TAG);
        assert_eq!(decode(&v).expect("decode"), full);
        let sparse: RoaringBitmap = [0u32, 5000, 1 << 20, u32::MAX].into_iter().collect();
        let v = encode(&sparse).expect("encode");
        assert!(
            v[0] == 0x3A || v[0] == 0x3B,
            "roaring form, first byte {:#x}",
            v[0]
        );
        assert_eq!(decode(&v).expect("decode"), sparse);
        let mut old = Vec::new();
        full.serialize_into(&mut old).expect("serialize");
        assert_eq!(decode(&old).expect("decode"), full);
        assert_eq!(chunk_len(&old).expect("len"), 1024);
    }

    /// A value in neither form is reported as a corrupt index, never a panic.
    #[test]
    fn values_in_neither_form_are_corrupt() {
        for v in [&[][..], &[0x02, 1, 2][..], &[0x3A, 0x30][..]] {
            assert!(
                matches!(decode(v), Err(StoreError::Corrupt { .. })),
                "{v:?}"
            );
        }
        assert_eq!(
            decode(&[BITSET_TAG]).expect("empty bitset"),
            RoaringBitmap::new()
        );
    }

    proptest::proptest! {
        /// Any set of offsets round-trips, in whichever form is smaller.
        #[test]
        fn chunk_values_round_trip_in_the_smaller_form(
            offsets in proptest::collection::btree_set(
                proptest::prop_oneof![0u32..1024, 0u32..70_000, proptest::num::u32::ANY],
                0..1200,
            ),
        ) {
            let bits: RoaringBitmap = offsets.iter().copied().collect();
            let v = encode(&bits).expect("encode");
            proptest::prop_assert_eq!(decode(&v).expect("decode"), bits.clone());
            proptest::prop_assert!(v.len() <= bits.serialized_size());
        }
    }

    /// Every chunk of `prefix` in `t`: (start, number of ids), checked to hold only
    /// ids below the next chunk's start and at most [`MAX_CHUNK_IDS`].
    fn chunks_of(t: &sled::Tree, prefix: &[u8]) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut last_max: Option<u64> = None;
        for kv in t.scan_prefix(prefix) {
            let (k, v) = kv.expect("kv");
            let start = key_start(prefix, &k).expect("chunk key");
            let bits = decode(&v).expect("decode");
            assert!(!bits.is_empty(), "an empty chunk is removed");
            assert!(bits.len() <= MAX_CHUNK_IDS, "chunk of {} ids", bits.len());
            if let Some(m) = last_max {
                assert!(m < base(start), "chunk {start} overlaps the one before");
            }
            last_max = bits.max().map(|o| base(start) + u64::from(o));
            out.push((start, bits.len()));
        }
        out
    }

    /// A sparse list is one chunk, not one per block; a dense one a chunk per block.
    #[test]
    fn sparse_lists_share_a_chunk_and_dense_ones_fill_blocks() {
        let t = tree();
        let mut d = PostingDelta::default();
        for id in (0..100_000u64).step_by(331) {
            d.add(b"sparse", id);
        }
        for id in 0..5_000u64 {
            d.add(b"dense", id);
        }
        apply_sorted(&t, d.changes(None).expect("changes")).expect("apply");
        assert_eq!(chunks_of(&t, b"sparse"), vec![(0, 303)]);
        let dense = chunks_of(&t, b"dense");
        assert_eq!(dense.len(), 5, "{dense:?}");
        assert_eq!(lookup(&t, b"dense").expect("lookup").len(), 5_000);
    }

    /// Ordinary writes into packed chunks: ids land in the chunk covering their block,
    /// a chunk grown past the bound splits on block bounds, emptied chunks vanish, and
    /// ids before the first chunk start one; lookups and probes agree with a model.
    #[test]
    fn chunks_split_and_vanish_under_writes() {
        let t = tree();
        let mut model = std::collections::BTreeSet::new();
        let mut d = PostingDelta::default();
        for id in (5_000..400_000u64).step_by(397) {
            d.add(b"k", id);
            model.insert(id);
        }
        apply_sorted(&t, d.changes(None).expect("changes")).expect("apply");
        // Grow past the bound in one write, across the whole range and before it.
        let mut d = PostingDelta::default();
        for id in (0..420_000u64).step_by(173) {
            d.add(b"k", id);
            model.insert(id);
        }
        apply(&t, d);
        let chunks = chunks_of(&t, b"k");
        assert!(chunks.len() >= 3, "{chunks:?}");
        // Remove everything in the first chunk, and a scattering elsewhere.
        let first_end = chunks.get(1).map(|c| base(c.0)).expect("two chunks");
        let mut d = PostingDelta::default();
        for id in model
            .iter()
            .copied()
            .filter(|id| *id < first_end || id % 5 == 0)
            .collect::<Vec<_>>()
        {
            d.remove(b"k", id);
            model.remove(&id);
        }
        // Single ids one write each, as ordinary adds.
        for id in [3u64, 250_001, 419_999, 1 << 33] {
            let mut one = PostingDelta::default();
            one.add(b"k", id);
            apply(&t, one);
            model.insert(id);
        }
        apply(&t, d);
        chunks_of(&t, b"k");
        let want: Vec<u64> = model.iter().copied().collect();
        let got: Vec<u64> = lookup(&t, b"k").expect("lookup").iter().collect();
        assert_eq!(got, want);
        assert_eq!(all_postings(&t).expect("all").len(), want.len());
        let reader = PostingReader {
            tree: &t,
            pending: None,
        };
        let asked: RoaringTreemap = (0..420_000u64)
            .step_by(7)
            .chain([1 << 33, (1 << 33) + 1])
            .collect();
        let mut probed = asked.clone();
        reader.retain_posted(b"k", &mut probed).expect("probe");
        let expected: Vec<u64> = asked.iter().filter(|id| model.contains(id)).collect();
        assert_eq!(probed.iter().collect::<Vec<_>>(), expected);
    }

    proptest::proptest! {
        /// Random writes over a wide id range (chunks spanning many blocks, splitting and
        /// emptying) read back as the model, through lookups and probes.
        #[test]
        fn wide_deltas_match_a_model(
            rounds in proptest::collection::vec(
                proptest::collection::vec((proptest::bool::ANY, 0u64..40_000), 0..1500),
                1..4,
            ),
        ) {
            let t = tree();
            let mut model = std::collections::BTreeSet::new();
            for (i, ops) in rounds.into_iter().enumerate() {
                let mut d = PostingDelta::default();
                for (add, id) in ops {
                    if add {
                        d.add(b"w", id);
                        model.insert(id);
                    } else {
                        d.remove(b"w", id);
                        model.remove(&id);
                    }
                }
                let fresh = i == 0;
                apply_sorted(&t, d.changes((!fresh).then_some(&t)).expect("changes")).expect("apply");
                chunks_of(&t, b"w");
                let got: Vec<u64> = lookup(&t, b"w").expect("lookup").iter().collect();
                proptest::prop_assert_eq!(&got, &model.iter().copied().collect::<Vec<_>>());
                let reader = PostingReader { tree: &t, pending: None };
                let mut probed: RoaringTreemap = (0..40_000u64).step_by(13).collect();
                let want: Vec<u64> = probed.iter().filter(|id| model.contains(id)).collect();
                reader.retain_posted(b"w", &mut probed).expect("probe");
                proptest::prop_assert_eq!(probed.iter().collect::<Vec<_>>(), want);
            }
        }
    }
}
