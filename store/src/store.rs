//! The [`Store`]: opening the sled database, reading entries, committing write batches.

use crate::csn::{Csn, CsnClock};
use crate::error::StoreError;
use crate::keys::{self, ROOT_ID};
use oxldap_proto::{Dn, Entry};
use oxldap_schema::{NormDn, Schema};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The naming contexts (database suffixes) this store holds, as configured.
    pub suffixes: Vec<Dn>,
    /// The serverID stamped into CSNs (slapd `serverID`, 0..=4095).
    pub server_id: u16,
    /// Flush to disk before a write is acknowledged, so that no acknowledged write is lost
    /// on a crash. Off only for temporary (in-memory) stores.
    pub durable: bool,
    /// A fixed clock (microseconds since the epoch) for reproducible CSNs and timestamps.
    pub fixed_clock: Option<i64>,
    /// The overlays run inside every write (memberof, refint).
    pub overlays: crate::overlay::Overlays,
    /// The attribute indexes (slapd `index`).
    pub indexes: crate::index::IndexConfig,
    /// How many change log records to keep (slapd `syncprov-sessionlog`); None for
    /// [`crate::DEFAULT_CHANGELOG_LIMIT`].
    pub changelog_limit: Option<usize>,
}

/// What is stored under an entry id: the id of its parent and the entry itself, with user
/// and stored operational attributes under the schema's primary names. hasSubordinates,
/// entryDN and subschemaSubentry are computed on read, never stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredEntry {
    /// The parent's id; [`ROOT_ID`] for a suffix entry.
    pub parent: u64,
    /// The entry, its DN in "pretty" form (schema primary names, values as written).
    pub entry: Entry,
}

impl StoredEntry {
    pub(crate) fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let mut out = vec![keys::FORMAT_VERSION];
        bincode::serialize_into(&mut out, self)
            .map_err(|_| StoreError::Corrupt { tree: "entries" })?;
        Ok(out)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<StoredEntry, StoreError> {
        match bytes.split_first() {
            Some((&keys::FORMAT_VERSION, rest)) => {
                bincode::deserialize(rest).map_err(|_| StoreError::Corrupt { tree: "entries" })
            }
            _ => Err(StoreError::Corrupt { tree: "entries" }),
        }
    }
}

/// The sled trees of one database. See ARCHITECTURE.md "Storage layout".
#[derive(Debug, Clone)]
pub(crate) struct Trees {
    /// `id (u64 BE)` → version byte + bincode [`StoredEntry`].
    pub entries: sled::Tree,
    /// [`keys::dn_key`] of the normalized DN → `id (u64 BE)`.
    pub dn2id: sled::Tree,
    /// `parent id ‖ child id` (both u64 BE) → empty.
    pub children: sled::Tree,
    /// Counters and format markers ([`keys::META_NEXT_ID`], [`keys::META_LAST_CSN`]).
    pub meta: sled::Tree,
    /// Index postings, see [`crate::index`].
    pub index: sled::Tree,
    /// Change records, see [`crate::changelog`].
    pub changelog: sled::Tree,
}

/// A precomputed set of tree updates, replayed inside one sled transaction.
#[derive(Debug, Default)]
pub(crate) struct Batches {
    pub entries: EntryWrites,
    pub dn2id: sled::Batch,
    pub children: sled::Batch,
    pub meta: sled::Batch,
    pub index: sled::Batch,
    pub changelog: sled::Batch,
}

/// The `entries` tree's part of [`Batches`]: the sled batch and the ids it writes, which
/// the entry cache forgets when the write commits ([`crate::entry_cache`]).
#[derive(Debug, Default)]
pub(crate) struct EntryWrites {
    batch: sled::Batch,
    ids: Vec<u64>,
}

impl EntryWrites {
    /// Stores `bytes` (an encoded [`StoredEntry`]) as entry `id`.
    pub(crate) fn insert(&mut self, id: u64, bytes: Vec<u8>) {
        self.batch.insert(&keys::id_key(id), bytes);
        self.ids.push(id);
    }

    /// Deletes entry `id`.
    pub(crate) fn remove(&mut self, id: u64) {
        self.batch.remove(&keys::id_key(id));
        self.ids.push(id);
    }
}

/// An entry store on one sled database. Cheap to share behind an `Arc`; reads run
/// concurrently, writes are serialized by an internal lock.
pub struct Store {
    /// The sled database; kept to flush it.
    pub(crate) db: sled::Db,
    pub(crate) trees: Trees,
    pub(crate) schema: Arc<Schema>,
    /// The normalized suffixes, to tell which DNs this store may hold.
    pub(crate) suffixes: Vec<NormDn>,
    /// The suffixes as configured, each beside its normalized form in `suffixes`.
    suffix_dns: Vec<Dn>,
    pub(crate) clock: CsnClock,
    /// The overlays run inside every write.
    pub(crate) overlays: crate::overlay::Overlays,
    /// The resolved attribute indexes.
    pub(crate) indexes: crate::index::Indexes,
    /// Serializes writers: planning reads the committed state and must not race another
    /// writer (Architecture Invariant in lib.rs).
    write_lock: Mutex<()>,
    /// Odd while a writer holds the write lock, bumped on taking and on releasing it: a
    /// plan read while it is even and unchanged saw no write (see `search::PlanMemo`).
    pub(crate) write_epoch: std::sync::atomic::AtomicU64,
    /// Odd while a write that moves `dn2id` keys (a modify DN, a snapshot restore, a
    /// clear) runs, bumped at its start and end: a subtree scan that saw it even and
    /// unchanged saw no entry under two names or under none ([`Store::subtree_ids`]).
    pub(crate) rename_epoch: std::sync::atomic::AtomicU64,
    /// Unique among the stores of this process (tells a memo which store it is for).
    pub(crate) instance: u64,
    /// Flush before acknowledging each write (see [`StoreOptions::durable`]).
    durable: bool,
    /// Bulk load in progress: writes are not flushed one by one (see [`Store::bulk`]).
    bulk: std::sync::atomic::AtomicBool,
    /// During a bulk load, the posting changes of every write so far, written to the
    /// index tree once at the end (index reads meanwhile add them to what the tree
    /// holds); None otherwise.
    pending_postings: Mutex<Option<PendingPostings>>,
    /// During a bulk load, the change-log records not written yet (only those the bounded
    /// log keeps are, at the end: `crate::bulk_log`); None otherwise. Taken by writers
    /// only, under the write lock.
    held_log: Mutex<Option<crate::bulk_log::HeldLog>>,
    /// Shares one flush among the writers that committed while the previous one ran.
    group: crate::group_commit::GroupCommit,
    /// The change log bound.
    pub(crate) changelog_limit: usize,
    /// Writes since the change log was last trimmed (trimming is batched).
    since_trim: std::sync::atomic::AtomicUsize,
    /// Who is told about each committed write (persistent searches), if anyone.
    observer: std::sync::RwLock<Option<Box<dyn crate::changelog::CommitObserver>>>,
    /// Committed writes the observer has not been told about yet, with their commit
    /// sequence numbers: told once they are durable ([`Store::wait_durable`]).
    notes: Mutex<std::collections::VecDeque<(u64, crate::changelog::Committed)>>,
    /// Set (with sled's error, for the log) when a write or flush failed: the fail-stop
    /// state of `crate::failstop`. Never cleared; only a reopen recovers.
    pub(crate) failed: std::sync::OnceLock<String>,
    /// Recently read entries' stored bytes ([`crate::entry_cache`]).
    pub(crate) entry_cache: crate::entry_cache::EntryCache,
}

/// The store's write lock, held: the write epoch is odd until it is dropped.
pub(crate) struct WriteGuard<'s> {
    // Fields drop in order: the epoch is bumped back to even before the mutex is released.
    _epoch: OddEpoch<'s>,
    _guard: MutexGuard<'s, ()>,
}

/// An epoch counter made odd for the guard's life: bumped when it is made and when it is
/// dropped. The write epoch ([`Store::lock_writes`]) and the rename epoch
/// ([`Store::renaming`]) are both read this way: a reader that saw the counter even and
/// unchanged across its reads saw no such write.
pub(crate) struct OddEpoch<'s>(&'s std::sync::atomic::AtomicU64);

impl<'s> OddEpoch<'s> {
    fn enter(epoch: &'s std::sync::atomic::AtomicU64) -> OddEpoch<'s> {
        epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        OddEpoch(epoch)
    }
}

impl Drop for OddEpoch<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Postings a rebuild collects in memory before writing them (bounds its memory: the
/// collected bitmaps take a few bytes per posting, so about 20 MiB; the 100,000-entry
/// generated directory has about 6 million postings, written in a few rounds).
const REINDEX_BATCH_POSTINGS: usize = 2_000_000;

/// Entries a rebuild decodes and keys at a time (on two threads, as a bulk-load chunk).
const REINDEX_BATCH_ENTRIES: usize = 1024;

/// sled's log segment size for temporary stores (sled's default is 512 KiB), in bytes.
const TEMPORARY_SEGMENT_SIZE: usize = 8 << 20;

/// The postings a bulk load has collected (see [`Store::bulk`]).
#[derive(Debug, Default)]
struct PendingPostings {
    /// The posting changes of every write of the load so far.
    delta: crate::postings::PostingDelta,
    /// The lists the index tree held when the load began, when it held few keys
    /// (`postings::stored_lists`; empty for an empty tree): nothing writes to the tree
    /// until the load ends, so the collected postings of any other list are written
    /// without reading chunks back. None: every list is read back.
    stored: Option<rustc_hash::FxHashSet<Vec<u8>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("suffixes", &self.suffixes)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store in directory `path`.
    ///
    /// Errors: [`StoreError::Locked`] when another process (a running server) holds the
    /// folder, [`StoreError::Format`] when the database was written in another storage
    /// format, [`StoreError::Storage`] when sled cannot open the folder otherwise,
    /// [`StoreError::Schema`] when a suffix does not normalize.
    pub fn open(path: &Path, schema: Arc<Schema>, opts: StoreOptions) -> Result<Store, StoreError> {
        // sled 0.34 panics on some damaged files while it recovers them ("tried to
        // serialize Uninitialized" after one blob was overwritten; tester11 finding 3)
        // instead of returning an error: catch that and report the folder as damaged.
        // Nothing of the half-opened database is used afterwards, so the state the panic
        // left is dropped unobserved.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sled::Config::new().path(path).open()
        }))
        .map_err(|panic| StoreError::Damaged {
            path: path.display().to_string(),
            cause: panic_message(panic.as_ref()),
        })?;
        let db = opened.map_err(|e| {
            // sled takes an exclusive file lock: another process (a running server) holds
            // the folder. Say so instead of a bare IO error (see `oxldap backup`).
            if e.to_string().contains("could not acquire lock") {
                StoreError::Locked {
                    path: path.display().to_string(),
                }
            } else {
                StoreError::Storage(e)
            }
        })?;
        Store::with_db(db, schema, opts)
    }

    /// Opens a temporary store that lives in memory and vanishes when dropped
    /// (`oxldap serve --memory`, tests).
    ///
    /// Nothing of it must survive, so sled's background flusher is off (its log still
    /// goes to a temporary file, which nothing reads back), and segments are
    /// [`TEMPORARY_SEGMENT_SIZE`] so a seed load rolls over fewer of them: together about
    /// 15% off a 1,000-entry seeded start (issue 7).
    pub fn open_temporary(schema: Arc<Schema>, opts: StoreOptions) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(temporary_path())
            .temporary(true)
            .flush_every_ms(None)
            .segment_size(TEMPORARY_SEGMENT_SIZE)
            .open()?;
        Store::with_db(
            db,
            schema,
            StoreOptions {
                durable: false,
                ..opts
            },
        )
    }

    fn with_db(db: sled::Db, schema: Arc<Schema>, opts: StoreOptions) -> Result<Store, StoreError> {
        let trees = Trees {
            entries: db.open_tree("entries")?,
            dn2id: db.open_tree("dn2id")?,
            children: db.open_tree("children")?,
            meta: db.open_tree("meta")?,
            index: db.open_tree("index")?,
            changelog: db.open_tree("changelog")?,
        };
        match trees.meta.get(keys::META_FORMAT)? {
            None => {
                trees
                    .meta
                    .insert(keys::META_FORMAT, &[keys::FORMAT_VERSION])?;
            }
            Some(v) if v.as_ref() == [keys::FORMAT_VERSION] => {}
            // Format 1 is the first; a future format bump adds its migration here, after
            // the newer binary made a backup. Until then, any other value is refused.
            Some(v) => {
                return Err(StoreError::Format {
                    found: v.first().copied().unwrap_or(0),
                    supported: keys::FORMAT_VERSION,
                })
            }
        }
        let suffixes = opts
            .suffixes
            .iter()
            .map(|s| schema.normalize_dn(s))
            .collect::<Result<Vec<_>, _>>()?;
        check_suffixes(&trees, &suffixes)?;
        let last_csn = trees
            .meta
            .get(keys::META_LAST_CSN)?
            .and_then(|v| std::str::from_utf8(&v).ok().and_then(Csn::parse));
        let sid = opts.server_id;
        let clock = match opts.fixed_clock {
            Some(micros) => CsnClock::fixed(sid, micros, last_csn),
            None => CsnClock::new(sid, last_csn),
        };
        let mut indexes = crate::index::Indexes::resolve(&schema, &opts.indexes)?;
        // The overlays look referrers up by value: keep an equality index on the
        // attributes they follow (slapo-memberof(5) and slapo-refint(5) recommend one).
        if let Some(mo) = &opts.overlays.memberof {
            indexes.ensure_equality(&schema, &mo.member_ad);
        }
        if let Some(r) = &opts.overlays.refint {
            for a in &r.attributes {
                indexes.ensure_equality(&schema, a);
            }
        }
        let store = Store {
            db,
            trees,
            schema,
            suffixes,
            suffix_dns: opts.suffixes.clone(),
            clock,
            overlays: opts.overlays,
            indexes,
            write_lock: Mutex::new(()),
            write_epoch: std::sync::atomic::AtomicU64::new(0),
            rename_epoch: std::sync::atomic::AtomicU64::new(0),
            instance: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
            durable: opts.durable,
            bulk: std::sync::atomic::AtomicBool::new(false),
            pending_postings: Mutex::new(None),
            held_log: Mutex::new(None),
            group: crate::group_commit::GroupCommit::default(),
            changelog_limit: opts
                .changelog_limit
                .unwrap_or(crate::changelog::DEFAULT_CHANGELOG_LIMIT),
            since_trim: std::sync::atomic::AtomicUsize::new(0),
            observer: std::sync::RwLock::new(None),
            notes: Mutex::new(std::collections::VecDeque::new()),
            failed: std::sync::OnceLock::new(),
            entry_cache: crate::entry_cache::EntryCache::new(crate::entry_cache::ENTRY_CACHE_BYTES),
        };
        if store.trees.meta.contains_key(keys::META_RESTORING)?
            && !crate::open_read_only::interrupted_restore_opens()
        {
            return Err(StoreError::RestoreInterrupted);
        }
        let fingerprint = store.indexes.fingerprint();
        let stored = store.trees.meta.get(keys::META_INDEXES)?;
        if stored.as_deref() != Some(fingerprint.as_bytes()) {
            if !crate::open_read_only::reindex_allowed() {
                return Err(crate::open_read_only::outdated(
                    stored.as_deref(),
                    &fingerprint,
                ));
            }
            let n = store.reindex()?;
            if n > 0 {
                tracing::info!(entries = n, "index configuration changed: indexes rebuilt");
            }
        }
        Ok(store)
    }

    /// Rebuilds every index from the entries (slapindex); returns the number of entries.
    /// Runs under the write lock.
    pub fn reindex(&self) -> Result<u64, StoreError> {
        self.reindex_with(&mut |done, total| {
            if done % 10_000 == 0 || done == total {
                tracing::info!(done, total, "indexing");
            }
        })
    }

    /// [`Store::reindex`], calling `progress(done, total)` after each entry.
    pub fn reindex_with(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, StoreError> {
        let _guard = self.lock_writes();
        // Forget which configuration the postings match first: if the rebuild is cut
        // short, the next open rebuilds again, so an incomplete index is never used.
        self.trees.meta.remove(keys::META_INDEXES)?;
        self.db.flush()?;
        self.trees.index.clear()?;
        let total = tree_len(&self.trees.entries) as u64;
        let mut n = 0u64;
        let mut delta = crate::postings::PostingDelta::default();
        let mut pending = 0usize;
        // The tree was just cleared: the first round writes its chunks without reading
        // them back; later rounds extend what earlier ones wrote.
        let mut first = true;
        // Not atomic (the fingerprint is stored only after the last round), in key order.
        let mut write = |delta: crate::postings::PostingDelta| -> Result<(), StoreError> {
            let tree = (!std::mem::take(&mut first)).then_some(&self.trees.index);
            crate::postings::apply_sorted(&self.trees.index, delta.changes(tree)?)
        };
        // Entries are decoded and keyed a batch at a time on two threads
        // (`bulk::par_map`); their keys are posted in id order on this one. A key listed
        // twice for an entry posts the same id twice, which changes nothing.
        let mut entries = self.trees.entries.iter();
        loop {
            let batch = entries
                .by_ref()
                .take(REINDEX_BATCH_ENTRIES)
                .collect::<Result<Vec<_>, sled::Error>>()?;
            if batch.is_empty() {
                break;
            }
            let keyed = crate::bulk::par_map(batch, |(k, v)| {
                let id = keys::decode_id(&k).ok_or(StoreError::Corrupt { tree: "entries" })?;
                let stored = StoredEntry::decode(&v)?;
                Ok::<_, StoreError>((id, self.indexes.key_buf(&self.schema, &stored.entry)))
            });
            for item in keyed {
                let (id, keys) = item?;
                pending += keys.count();
                for key in keys.iter() {
                    delta.add(key, id);
                }
                n += 1;
                progress(n, total);
            }
            // Bounds the memory of the rebuild; chunks are read back and extended.
            if pending > REINDEX_BATCH_POSTINGS {
                write(std::mem::take(&mut delta))?;
                pending = 0;
            }
        }
        write(delta)?;
        self.trees
            .meta
            .insert(keys::META_INDEXES, self.indexes.fingerprint().as_bytes())?;
        self.db.flush()?;
        Ok(n)
    }

    /// The schema this store normalizes and matches with.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// `dn` normalized ([`Schema::normalize_dn`]); a suffix written as configured (the
    /// usual search base) is looked up instead of normalized again.
    ///
    /// Errors: invalidDNSyntax (34) as [`Schema::normalize_dn`].
    pub(crate) fn normalize_dn(&self, dn: &Dn) -> Result<NormDn, StoreError> {
        match self.suffix_dns.iter().position(|s| s == dn) {
            Some(i) => Ok(self.suffixes[i].clone()),
            None => Ok(self.schema.normalize_dn(dn)?),
        }
    }

    /// The normalized naming contexts.
    pub fn suffixes(&self) -> &[NormDn] {
        &self.suffixes
    }

    /// Whether `dn` is a suffix or lies below one.
    pub fn holds(&self, dn: &NormDn) -> bool {
        self.suffixes
            .iter()
            .any(|s| dn == s || dn.is_descendant_of(s))
    }

    /// Whether `dn` is the store's only suffix (then every entry lies under it).
    pub fn is_only_suffix(&self, dn: &NormDn) -> bool {
        matches!(self.suffixes.as_slice(), [only] if only == dn)
    }

    /// Whether `dn` is one of the suffixes.
    pub fn is_suffix(&self, dn: &NormDn) -> bool {
        self.suffixes.iter().any(|s| dn == s)
    }

    /// The number of entries stored.
    /// Counted up to the first read error ([`tree_len`]), so a damaged database gives a
    /// smaller number here and its error where the entries are read.
    pub fn len(&self) -> usize {
        tree_len(&self.trees.entries)
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.trees.entries.is_empty()
    }

    /// The newest CSN committed, if any (the basis of contextCSN).
    pub fn last_csn(&self) -> Result<Option<Csn>, StoreError> {
        Ok(self
            .trees
            .meta
            .get(keys::META_LAST_CSN)?
            .and_then(|v| std::str::from_utf8(&v).ok().and_then(Csn::parse)))
    }

    /// Flushes every pending write to disk.
    ///
    /// Errors: [`StoreError::Failed`] in the fail-stop state (`crate::failstop`), without
    /// touching sled; a failing flush enters that state.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.usable()?;
        self.fail_on_storage(self.db.flush().map_err(StoreError::from))?;
        Ok(())
    }

    /// Reads the entry with DN `dn`, with computed operational attributes added.
    pub fn get(&self, dn: &Dn) -> Result<Option<Entry>, StoreError> {
        let norm = self.schema.normalize_dn(dn)?;
        match self.id_of(&norm)? {
            Some(id) => Ok(self.load(id)?.map(|(_, stored)| self.present(id, stored))),
            None => Ok(None),
        }
    }

    /// Whether an entry with DN `dn` exists, without reading it (a suffix DN takes its
    /// stored normalized form).
    pub fn contains(&self, dn: &Dn) -> Result<bool, StoreError> {
        Ok(self.id_of(&self.normalize_dn(dn)?)?.is_some())
    }

    /// Reads the entry with DN `dn` like [`Store::get`], but a missing entry is
    /// noSuchObject with matchedDN (RFC 4511 §4.1.9), or unwillingToPerform outside the
    /// naming contexts.
    pub fn lookup(&self, dn: &Dn) -> Result<Entry, StoreError> {
        let norm = self.schema.normalize_dn(dn)?;
        if let Some(id) = self.id_of(&norm)? {
            if let Some((_, stored)) = self.load(id)? {
                return Ok(self.present(id, stored));
            }
        }
        if !self.holds(&norm) {
            return Err(StoreError::NoSuchObject { matched: None });
        }
        Err(StoreError::NoSuchObject {
            matched: self.matched(&norm)?,
        })
    }

    /// Every entry in DN order from the root down (parents before children), as stored
    /// (no computed attributes).
    pub fn iter_entries(&self) -> impl Iterator<Item = Result<Entry, StoreError>> + '_ {
        self.iter_stored().map(|s| s.map(|s| s.entry))
    }

    /// [`Store::iter_entries`] as slapcat writes them (`oxldap export`): a suffix entry also
    /// carries the contextCSN, which slapd's syncprov stores there and oxldap computes,
    /// so that an export loaded elsewhere keeps the point in time that content-sync
    /// cookies are compared with (tester 13, finding 6).
    pub fn export_entries(&self) -> impl Iterator<Item = Result<Entry, StoreError>> + '_ {
        let csn = self.last_csn().ok().flatten().map(|c| c.to_ldap_string());
        self.iter_stored().map(move |s| {
            let s = s?;
            let mut entry = s.entry;
            if let (ROOT_ID, Some(csn)) = (s.parent, &csn) {
                merge_context_csn(&mut entry, csn.clone());
            }
            Ok(entry)
        })
    }

    /// The stored entries in DN order from the root down.
    fn iter_stored(&self) -> impl Iterator<Item = Result<StoredEntry, StoreError>> + '_ {
        self.trees.dn2id.iter().filter_map(move |kv| {
            let (_, idb) = match kv {
                Ok(kv) => kv,
                Err(e) => return Some(Err(StoreError::from(e))),
            };
            let id = keys::decode_id(&idb)?;
            match self.load(id) {
                Ok(Some((_, s))) => Some(Ok(s)),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        })
    }

    pub(crate) fn id_of(&self, dn: &NormDn) -> Result<Option<u64>, StoreError> {
        self.usable()?;
        Ok(self
            .trees
            .dn2id
            .get(keys::dn_key(dn))?
            .and_then(|v| keys::decode_id(&v)))
    }

    pub(crate) fn load(&self, id: u64) -> Result<Option<(u64, StoredEntry)>, StoreError> {
        match self.read_entry(id)? {
            Some(parsed) => Ok(Some((id, StoredEntry::decode(parsed.stored())?))),
            None => Ok(None),
        }
    }

    /// Entry `id` parsed (None: no such entry), from the entry cache or else read from
    /// sled, parsed, then cached ([`crate::entry_cache`]).
    ///
    /// Errors: the fail-stop state ([`Store::usable`]), storage failures;
    /// [`StoreError::Corrupt`] for a stored value that is not a well-formed entry.
    pub(crate) fn read_entry(
        &self,
        id: u64,
    ) -> Result<Option<crate::entry_cache::CachedEntry>, StoreError> {
        self.usable()?;
        if let Some(parsed) = self.entry_cache.get(id) {
            return Ok(Some(parsed));
        }
        let seen = self.write_epoch.load(std::sync::atomic::Ordering::Acquire);
        let Some(stored) = self.trees.entries.get(keys::id_key(id))? else {
            return Ok(None);
        };
        let parsed = crate::view::ParsedEntry::parse(&stored)
            .ok_or(StoreError::Corrupt { tree: "entries" })?;
        let parsed = std::sync::Arc::new(parsed);
        self.entry_cache.fill(id, &parsed, seen, &self.write_epoch);
        Ok(Some(parsed))
    }

    /// The DN of the stored entry `id`, read in place ([`crate::view::EntryView::dn`])
    /// without decoding its attributes.
    pub(crate) fn load_dn(&self, id: u64) -> Result<Option<Dn>, StoreError> {
        match self.read_entry(id)? {
            Some(parsed) => Ok(Some(parsed.view().dn())),
            None => Ok(None),
        }
    }

    pub(crate) fn has_children(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self
            .trees
            .children
            .scan_prefix(id.to_be_bytes())
            .next()
            .transpose()?
            .is_some())
    }

    pub(crate) fn child_ids(&self, id: u64) -> impl Iterator<Item = Result<u64, StoreError>> + '_ {
        self.trees
            .children
            .scan_prefix(id.to_be_bytes())
            .keys()
            .map(|k| {
                let k = k?;
                k.get(8..16)
                    .and_then(keys::decode_id)
                    .ok_or(StoreError::Corrupt { tree: "children" })
            })
    }

    /// Adds the computed operational attributes (hasSubordinates, entryDN,
    /// subschemaSubentry; RFC 4512 §3.4, X.501, RFC 5020; and contextCSN on a suffix entry,
    /// as slapd's syncprov) to a stored entry.
    pub(crate) fn present(&self, id: u64, stored: StoredEntry) -> Entry {
        let is_suffix = stored.parent == ROOT_ID;
        let mut entry = stored.entry;
        if is_suffix {
            if let Ok(Some(csn)) = self.last_csn() {
                merge_context_csn(&mut entry, csn.to_ldap_string());
            }
        }
        let subs = self.has_children(id).unwrap_or(false);
        entry.push_value(
            "hasSubordinates",
            if subs {
                b"TRUE".to_vec()
            } else {
                b"FALSE".to_vec()
            },
        );
        let dn = entry.dn.to_string().into_bytes();
        entry.push_value("entryDN", dn);
        entry.push_value("subschemaSubentry", b"cn=Subschema".to_vec());
        entry
    }

    /// The longest existing ancestor of `dn` (for matchedDN), or None; see
    /// [`crate::ops::matched_in`].
    pub(crate) fn matched(&self, dn: &NormDn) -> Result<Option<Dn>, StoreError> {
        crate::ops::matched_in(self, dn, self.naming_depth())
    }

    /// The depth (number of RDNs) of the deepest suffix this store holds.
    pub(crate) fn naming_depth(&self) -> usize {
        self.suffixes.iter().map(NormDn::depth).max().unwrap_or(0)
    }

    /// Takes the write lock; every write path holds it from planning to commit.
    pub(crate) fn lock_writes(&self) -> WriteGuard<'_> {
        let guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        WriteGuard {
            _epoch: OddEpoch::enter(&self.write_epoch),
            _guard: guard,
        }
    }

    /// Marks a write that moves `dn2id` keys (taken under the write lock, after its
    /// guard, so it ends first): see [`Store::subtree_ids`].
    pub(crate) fn renaming(&self) -> OddEpoch<'_> {
        OddEpoch::enter(&self.rename_epoch)
    }

    /// Allocates `n` fresh entry ids (under the write lock), returning the first; the new
    /// counter value goes into `batches.meta` so it commits with the write.
    pub(crate) fn alloc_ids(&self, n: u64, batches: &mut Batches) -> Result<u64, StoreError> {
        let next = self.next_id()?;
        batches
            .meta
            .insert(keys::META_NEXT_ID, &(next + n).to_be_bytes());
        Ok(next)
    }

    /// The next free entry id (committed counter; read under the write lock).
    pub(crate) fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self
            .trees
            .meta
            .get(keys::META_NEXT_ID)?
            .and_then(|v| keys::decode_id(&v))
            .unwrap_or(ROOT_ID + 1))
    }

    /// Replays `batches` in one transaction across all trees; returns the write's commit
    /// sequence number. The caller then waits for the write to be durable
    /// ([`Store::wait_durable`]) once it has released the write lock.
    pub(crate) fn commit(&self, batches: Batches, csn: Csn) -> Result<u64, StoreError> {
        let Batches {
            entries,
            dn2id,
            children,
            mut meta,
            index,
            changelog,
        } = batches;
        meta.insert(keys::META_LAST_CSN, csn.to_ldap_string().as_bytes());
        let t = &self.trees;
        let committed = (
            &t.entries,
            &t.dn2id,
            &t.children,
            &t.meta,
            &t.index,
            &t.changelog,
        )
            .transaction(
                |(te, td, tc, tm, ti, tl): &(
                    TransactionalTree,
                    TransactionalTree,
                    TransactionalTree,
                    TransactionalTree,
                    TransactionalTree,
                    TransactionalTree,
                )| {
                    te.apply_batch(&entries.batch)?;
                    td.apply_batch(&dn2id)?;
                    tc.apply_batch(&children)?;
                    tm.apply_batch(&meta)?;
                    ti.apply_batch(&index)?;
                    tl.apply_batch(&changelog)?;
                    Ok::<(), ConflictableTransactionError<StoreError>>(())
                },
            )
            .map_err(StoreError::from);
        // Whether or not it committed, under the write lock (crate::entry_cache).
        self.entry_cache.forget(&entries.ids);
        committed?;
        // Durability comes after the write lock is released (`wait_durable`), so that
        // writers committing meanwhile share the next flush.
        let seq = self.group.committed();
        // Trimming is idempotent and need not be atomic with the write: batch it. A bulk
        // load trims once at its end (counting the log costs a scan of it).
        if !self.bulk.load(std::sync::atomic::Ordering::Relaxed)
            && self
                .since_trim
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                % 64
                == 63
        {
            self.trim_changelog()?;
        }
        Ok(seq)
    }

    /// Whether a bulk load collects the postings of writes ([`Store::bulk`]): a write's
    /// postings then go to the pending postings, not into its transaction.
    pub(crate) fn collecting(&self) -> bool {
        self.bulk.load(std::sync::atomic::Ordering::Acquire)
    }

    /// [`Store::commit`] for a bulk-load chunk (issue 7): `fill` records the write's
    /// postings into the load's pending postings on this thread while a helper thread
    /// replays `batches` in the sled transaction, so the two (a few milliseconds each for
    /// a chunk of 1,024 entries) overlap on two cores. The pending postings' lock is
    /// taken before the transaction starts and released after both are done, so a
    /// reader that looks at the postings after the entries are committed waits for their
    /// postings (as when they were collected first). When no load collects postings,
    /// they are written into the transaction as [`Store::stage_postings`] does.
    ///
    /// Errors: as [`Store::commit`]; a failed transaction leaves its postings collected,
    /// which readers skip as ids whose entry is missing (as before this split).
    pub(crate) fn commit_staging(
        &self,
        mut batches: Batches,
        csn: Csn,
        fill: impl FnOnce(&mut crate::postings::PostingDelta),
    ) -> Result<u64, StoreError> {
        let mut pending = self.pending_lock();
        let Some(p) = pending.as_mut() else {
            drop(pending);
            let mut delta = crate::postings::PostingDelta::default();
            fill(&mut delta);
            delta.write_into(&self.trees.index, &mut batches.index)?;
            return self.commit(batches, csn);
        };
        std::thread::scope(|s| {
            let helper = s.spawn(move || self.commit(batches, csn));
            fill(&mut p.delta);
            match helper.join() {
                Ok(seq) => seq,
                // The transaction panicked on the helper thread: the same panic here.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        })
    }

    /// The outcome of a write made under the write lock, once it is durable: a
    /// successful write waits for [`Store::wait_durable`] (after the lock is released, so
    /// writers share a flush), a failed one returns at once.
    ///
    /// A failure of sled in either step enters the fail-stop state (`crate::failstop`).
    pub(crate) fn durable(&self, out: Result<(), StoreError>) -> Result<(), StoreError> {
        self.fail_on_storage(out)?;
        self.wait_durable()
    }

    /// Returns once every write committed so far is on disk (when the store is durable and
    /// no bulk load runs): the flush that group commit shares (see `group_commit`).
    ///
    /// Then tells the observer (persistent searches) about every write that is now
    /// durable, in commit order, so a consumer never sees a write a crash could lose (as
    /// slapd's syncprov, which answers after the commit is synced).
    pub(crate) fn wait_durable(&self) -> Result<(), StoreError> {
        let durable = self.durable && !self.bulk.load(std::sync::atomic::Ordering::Relaxed);
        if durable {
            self.usable()?;
            self.fail_on_storage(
                self.group
                    .wait(|| self.db.flush().map(|_| ()))
                    .map_err(StoreError::from),
            )?;
        }
        self.deliver_notes(if durable {
            self.group.flushed()
        } else {
            u64::MAX
        });
        Ok(())
    }

    /// Queues the observer's note about the write with sequence number `seq` (called under
    /// the write lock, so the queue is in commit order).
    pub(crate) fn queue_note(&self, seq: u64, note: crate::changelog::Committed) {
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back((seq, note));
    }

    /// Tells the observer about queued writes up to sequence number `upto`, in order. The
    /// queue's lock is held while telling, so two writers never interleave their notes.
    fn deliver_notes(&self, upto: u64) {
        let mut notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        while notes.front().is_some_and(|(seq, _)| *seq <= upto) {
            if let Some((_, note)) = notes.pop_front() {
                self.notify(&note);
            }
        }
    }

    /// Sets the observer told about every committed write (replacing any earlier one).
    pub fn set_observer(&self, observer: Option<Box<dyn crate::changelog::CommitObserver>>) {
        *self.observer.write().unwrap_or_else(|p| p.into_inner()) = observer;
    }

    /// Whether an observer is set (so the write path builds [`crate::Committed`] values).
    pub(crate) fn observed(&self) -> bool {
        self.observer
            .read()
            .map(|o| o.as_ref().is_some_and(|o| o.wanted()))
            .unwrap_or(false)
    }

    /// Tells the observer about a committed write.
    pub(crate) fn notify(&self, committed: &crate::changelog::Committed) {
        if let Ok(o) = self.observer.read() {
            if let Some(f) = o.as_ref() {
                f.committed(committed);
            }
        }
    }

    /// Runs `load` with per-write flushing off (offline import, like slapadd's quick
    /// mode), then flushes once (a durable store: see [`StoreOptions::durable`]). Each
    /// write still commits its entries, DN links and
    /// change-log counters as one transaction, but index postings are collected in memory and
    /// written once at the end (or before anything reads the index), so a load rewrites
    /// each posting chunk once instead of once per entry. A crash during the load may lose
    /// its most recent writes and leave postings missing; the index fingerprint is removed
    /// for the duration, so the next open rebuilds the indexes (as slapindex would).
    /// Change-log records are held too, and only those the log's bound keeps are written
    /// at the end (`crate::bulk_log`; `meta.log_trimmed` says meanwhile that they are
    /// missing).
    ///
    /// Errors: [`StoreError::Storage`] when the final writes or the flush fail.
    pub fn bulk<T>(&self, load: impl FnOnce() -> T) -> Result<T, StoreError> {
        self.bulk_holding(Some(crate::bulk_log::HELD_LOG_BYTES), load)
    }

    /// [`Store::bulk`] holding at most `held_log_bytes` of change-log images in memory
    /// (`crate::bulk_log`), or, for None, writing every record with its write and
    /// trimming the log at the end (the bulk load before `bulk_log`, which its tests
    /// compare with).
    pub(crate) fn bulk_holding<T>(
        &self,
        held_log_bytes: Option<usize>,
        load: impl FnOnce() -> T,
    ) -> Result<T, StoreError> {
        let fingerprint = self.trees.meta.remove(keys::META_INDEXES)?;
        // Only the change-log records the bounded log keeps are written, at the end.
        if let Some(bytes) = held_log_bytes {
            self.begin_held_log(bytes)?;
        }
        // Collecting starts before readers look for it and ends (written) before they
        // stop looking, so a reader never misses a posting. Under the write lock, so a
        // concurrent write's postings are either in the tree (and the copy) or collected.
        {
            let _guard = self.lock_writes();
            *self.pending_lock() = Some(PendingPostings {
                delta: crate::postings::PostingDelta::default(),
                // A failed listing only costs the read-backs (which meet the error again).
                stored: crate::postings::stored_lists(&self.trees.index)
                    .ok()
                    .flatten(),
            });
            self.bulk.store(true, std::sync::atomic::Ordering::Release);
        }
        let out = load();
        let (written, logged) = {
            let _guard = self.lock_writes();
            (self.write_pending_postings(), self.finish_held_log())
        };
        self.bulk.store(false, std::sync::atomic::Ordering::Release);
        written?;
        logged?;
        if let Some(f) = fingerprint {
            self.trees.meta.insert(keys::META_INDEXES, f)?;
        }
        // A temporary store is never flushed (`StoreOptions::durable`): its files go
        // with it, so the flush bought nothing but a seeded start's wait for it.
        if self.durable {
            self.db.flush()?;
        }
        Ok(out)
    }

    pub(crate) fn held_log_lock(&self) -> MutexGuard<'_, Option<crate::bulk_log::HeldLog>> {
        self.held_log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending_lock(&self) -> MutexGuard<'_, Option<PendingPostings>> {
        self.pending_postings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the postings a bulk load collected and ends the collecting. Runs under the
    /// write lock of the last bulk write's caller's thread; readers meanwhile see the
    /// tree without the collected postings only after they are written.
    fn write_pending_postings(&self) -> Result<(), StoreError> {
        // The lock is held until the postings are in the tree, so a reader never sees
        // them neither collected nor written.
        let mut pending = self.pending_lock();
        if let Some(p) = pending.take().filter(|p| !p.delta.is_empty()) {
            // Only lists the tree held when the load began are read back. The writes
            // need not be atomic: the fingerprint is restored only after them (a crash
            // before makes the next open rebuild the index), and readers wait on the
            // pending lock held here.
            let changes = p
                .delta
                .changes_known(Some(&self.trees.index), p.stored.as_ref())?;
            crate::postings::apply_sorted(&self.trees.index, changes)?;
        }
        Ok(())
    }

    /// Runs `read` with a reader of the current posting lists: the index tree, plus,
    /// during a bulk load, the postings collected so far (so an index read never misses
    /// an earlier write). Outside a bulk load no lock is taken.
    pub(crate) fn with_postings<T>(
        &self,
        read: impl FnOnce(&crate::postings::PostingReader<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.usable()?;
        if !self.bulk.load(std::sync::atomic::Ordering::Acquire) {
            return read(&crate::postings::PostingReader {
                tree: &self.trees.index,
                pending: None,
            });
        }
        let pending = self.pending_lock();
        read(&crate::postings::PostingReader {
            tree: &self.trees.index,
            pending: pending.as_ref().map(|p| &p.delta),
        })
    }

    /// Stages a write's posting changes, which `fill` records into the delta it is
    /// given: the bulk load's collected postings when one runs (no per-write delta to
    /// merge), else a delta of its own turned into `batch` (read against the current
    /// chunks; the caller holds the write lock until the batch commits).
    pub(crate) fn stage_postings(
        &self,
        fill: impl FnOnce(&mut crate::postings::PostingDelta),
        batch: &mut sled::Batch,
    ) -> Result<(), StoreError> {
        let mut pending = self.pending_lock();
        match pending.as_mut() {
            Some(p) => {
                fill(&mut p.delta);
                Ok(())
            }
            None => {
                drop(pending);
                let mut delta = crate::postings::PostingDelta::default();
                fill(&mut delta);
                delta.write_into(&self.trees.index, batch)
            }
        }
    }
}

/// The suffixes as one text: each normalized suffix, joined by " | " (how
/// [`StoreError::SuffixMismatch`] and [`StoreError::SnapshotMismatch`] show them).
pub(crate) fn suffix_list(suffixes: &[NormDn]) -> String {
    suffixes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Refuses a database written for other suffixes than `suffixes` (tester11 finding 7:
/// a folder holding dc=localdomain,dc=test served under dc=example,dc=com kept its
/// entries readable and writable outside the naming context). The suffixes are recorded
/// in `meta` ([`keys::META_SUFFIXES`]) at the first open, including of folders written
/// before this check existed; a folder without entries takes the new suffixes (slapd
/// keeps no such record; its back-mdb serves whatever the folder holds).
///
/// Errors: [`StoreError::SuffixMismatch`] naming both sides; nothing is written then.
fn check_suffixes(trees: &Trees, suffixes: &[NormDn]) -> Result<(), StoreError> {
    if suffixes.is_empty() {
        return Ok(());
    }
    let here = suffix_list(suffixes);
    match trees.meta.get(keys::META_SUFFIXES)? {
        Some(v) if v.as_ref() == here.as_bytes() => Ok(()),
        Some(v) if !trees.entries.is_empty() => Err(StoreError::SuffixMismatch {
            stored: String::from_utf8_lossy(&v).into_owned(),
            configured: here,
        }),
        _ => {
            trees.meta.insert(keys::META_SUFFIXES, here.as_bytes())?;
            Ok(())
        }
    }
}

/// The message of a caught panic (a `&str` or `String` payload, as `panic!` makes).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "sled panicked".to_string())
}

/// The number of records in `tree`, counted up to the first read error.
///
/// sled 0.34's `Tree::len` is `iter().count()`, and its iterator returns the same error
/// again on every `next` when a page cannot be read (a damaged blob: "failed crc check"),
/// so `len` never ends (tester11 finding 3: `oxldap export` spun forever). The error
/// itself surfaces where the records are then read.
pub(crate) fn tree_len(tree: &sled::Tree) -> usize {
    tree.iter().take_while(Result::is_ok).count()
}

/// Where temporary stores live: `/dev/shm` (memory) when it is there, as sled's own
/// default, else the system's temporary folder.
fn temporary_root() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A fresh folder name for a temporary store, `oxldap-PID-N` under [`temporary_root`].
///
/// sled deletes a temporary store when it is dropped, so one whose process was killed
/// (SIGKILL of `oxldap serve --memory`, a test harness killing its fixture) stayed behind,
/// in memory under `/dev/shm`, until reboot: 23 GiB of them had piled up on the
/// development machine. Naming the folder after the process lets every new temporary
/// store first remove the folders of processes that are gone (checked in `/proc`; where
/// there is no `/proc`, nothing is removed).
fn temporary_path() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let root = temporary_root();
    sweep_temporary(&root);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    root.join(format!("oxldap-{}-{n}", std::process::id()))
}

/// Removes the `oxldap-PID-N` folders under `root` whose process no longer runs.
fn sweep_temporary(root: &std::path::Path) {
    let proc_fs = std::path::Path::new("/proc");
    if !proc_fs.join("self").exists() {
        return;
    }
    let Ok(dir) = std::fs::read_dir(root) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("oxldap-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, n)| n.parse::<u64>().ok().and(pid.parse::<u32>().ok()))
        else {
            continue;
        };
        if !process_runs(proc_fs, pid) {
            // Best effort: another process may be sweeping the same folder.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether process `pid` runs: it has a `/proc` entry whose state (the field after the
/// command name in `/proc/PID/stat`, proc(5)) is not Z (a zombie: killed, not yet reaped).
fn process_runs(proc_fs: &std::path::Path, pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(proc_fs.join(pid.to_string()).join("stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 1..))
        .and_then(|rest| rest.split_whitespace().next());
    state != Some("Z")
}

/// Adds the store's contextCSN `ours` to a suffix entry, one value per serverID (RFC 4533
/// §2.5 keeps one CSN per replica): a stored contextCSN of the same serverID (an import
/// of slapcat output carries slapd's) gives way to ours, unless it is newer.
fn merge_context_csn(entry: &mut Entry, ours: String) {
    let sid = |csn: &[u8]| csn.split(|b| *b == b'#').nth(2).map(<[u8]>::to_vec);
    let our_sid = sid(ours.as_bytes());
    let mut newest = ours.into_bytes();
    if let Some(a) = entry.get_mut("contextCSN") {
        a.values.retain(|v| {
            if sid(v) != our_sid {
                return true;
            }
            if *v > newest {
                newest = v.clone();
            }
            false
        });
    }
    entry.push_value("contextCSN", newest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(suffix: &str) -> StoreOptions {
        StoreOptions {
            suffixes: vec![Dn::parse(suffix).expect("dn")],
            server_id: 1,
            durable: true,
            fixed_clock: None,
            overlays: Default::default(),
            indexes: Default::default(),
            changelog_limit: None,
        }
    }

    fn open(dir: &Path, suffix: &str) -> Result<Store, StoreError> {
        Store::open(dir, Arc::new(Schema::builtin()), opts(suffix))
    }

    #[test]
    fn a_database_is_refused_under_another_suffix() {
        let dir = tempfile::tempdir().expect("tempdir");
        // An empty folder takes whatever suffix it is opened with.
        drop(open(dir.path(), "dc=other").expect("empty folder"));
        let s = open(dir.path(), "dc=example,dc=com").expect("still empty");
        crate::test_support::add(&s, "dc=example,dc=com", "domain");
        drop(s);
        let e = open(dir.path(), "dc=other").expect_err("mismatch");
        assert!(
            matches!(&e, StoreError::SuffixMismatch { stored, configured }
                if stored == "dc=example,dc=com" && configured == "dc=other"),
            "{e}"
        );
        // The same suffix spelled differently normalizes alike.
        drop(open(dir.path(), "DC=Example, dc=COM").expect("same suffix"));
        // A folder written before the record existed opens, and gets it.
        let s = open(dir.path(), "dc=example,dc=com").expect("reopen");
        s.trees.meta.remove(keys::META_SUFFIXES).expect("remove");
        drop(s);
        let s = open(dir.path(), "dc=example,dc=com").expect("legacy folder");
        assert!(s
            .trees
            .meta
            .get(keys::META_SUFFIXES)
            .expect("get")
            .is_some());
        drop(s);
        assert!(open(dir.path(), "dc=other").is_err());
    }

    #[test]
    fn sweep_removes_only_folders_of_gone_processes() {
        let root = tempfile::tempdir().expect("tempdir");
        // Linux pids stay below 2^22, so this process cannot exist.
        let gone = root.path().join("oxldap-4294967294-0");
        let mine = root.path().join(format!("oxldap-{}-7", std::process::id()));
        let other = root.path().join("oxldap-notes");
        for d in [&gone, &mine, &other] {
            std::fs::create_dir_all(d.join("blobs")).expect("mkdir");
        }
        sweep_temporary(root.path());
        assert!(!gone.exists());
        assert!(mine.exists());
        assert!(other.exists());
    }
}
