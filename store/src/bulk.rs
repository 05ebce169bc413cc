//! Chunked adds for bulk loads (`oxldap import`, `serve --ldif`, the embedded harness's
//! seed LDIF; issues 4 and 7): [`BulkAdd`] stages up to [`BULK_CHUNK`] adds in one
//! [`Txn`] and commits them as one write, so the write lock, the id and change-number
//! counters, the overlay pass and the sled transaction are paid once per chunk instead of
//! once per entry.
//!
//! Each add is the same two halves as [`Store::add`]: [`Store::prepare_add`] (the schema
//! half, run for the whole chunk before the write lock is taken, split over two threads
//! by [`par_map`]) and [`Store::place_add`] (the DN-tree half, against the chunk's
//! [`Txn`], so an entry sees its parent staged earlier in the same chunk). The chunk's
//! index keys are computed on two threads too (`Txn::commit`). What stays per entry:
//! - Its own CSN, drawn in input order when it is placed: entryCSN, createTimestamp and
//!   the change-log record key are those of the entry's add, as when each add was its own
//!   write ([`Txn::set_csn`]). An overlay change to an entry of the chunk (memberOf on a
//!   member added before its group) is stamped with the CSN of the later of the two adds,
//!   which is the CSN the separate writes gave it. The change log holds one add record
//!   per entry with its final image (memberOf included) instead of an add and a memberOf
//!   modify, as a consumer that had synced after the chunk would have seen.
//! - Its outcome: the first failing entry of a chunk stops the load with its own error
//!   (outcomes in the order of [`Store::add`]); the entries before it
//!   in the chunk are committed, those after it are not, so the load ends exactly where
//!   a per-entry load would have. In continue mode ([`BulkAdd::keep_going`], slapadd's
//!   `-c`) a refused entry is set aside instead and the rest of the chunk goes on.
//!
//! memberOf is derived once per chunk over all its entries: a group and its members in
//! the same chunk, in either order, get the values separate writes would have given them.
//! With `memberof-dangling drop` or `error` a member listed before it exists is judged at
//! the group's add, which only separate writes reproduce, so those stores load one entry
//! per write.

use crate::error::StoreError;
use crate::keys;
use crate::ops::{PreparedAdd, WriteCtx};
use crate::overlay::Dangling;
use crate::parent_first::ParentFirst;
use crate::store::{Store, StoredEntry};
use crate::txn::Txn;
use oxldap_proto::Entry;
use oxldap_schema::NormDn;

/// Entries a [`BulkAdd`] stages per write. A chunk's planning state (entries, DN links,
/// batches) is a few KiB per entry, so a few MiB at the most; the per-write costs (lock,
/// counters, sled transaction, overlay pass) are then paid once per thousand entries.
/// Not tuned: 1,024 is the middle of the 256–4,096 range considered (measuring sizes
/// against each other needs a quieter machine than the shared one).
pub const BULK_CHUNK: usize = 1024;

/// An entry a bulk add refused (or whose chunk failed to commit): the caller's tag for it
/// (its LDIF line, say) and the error, with the result code [`Store::add`] would give.
#[derive(Debug)]
pub struct BulkAddError<T> {
    /// The tag pushed with the entry.
    pub tag: T,
    /// Why it was refused.
    pub error: StoreError,
}

/// Adds entries in chunks (see the module documentation); get one with
/// [`Store::bulk_add`]. Entries are written when a chunk is full, on
/// [`BulkAdd::flush`] and on [`BulkAdd::finish`]; dropping it discards the entries pushed
/// since the last of those. Best used inside [`Store::bulk`], which also defers the index
/// postings and the change-log trimming.
#[must_use = "entries are only written by flush() and finish()"]
pub struct BulkAdd<'s, T> {
    store: &'s Store,
    ctx: WriteCtx,
    /// Entries not yet written, in input order, with their normalized DN when the
    /// reordering below already computed it.
    pending: Vec<(T, Entry, Option<NormDn>)>,
    /// Parents before children ([`BulkAdd::parent_first`]): entries pass through it
    /// before they are queued. None: queued in input order.
    order: Option<ParentFirst<T>>,
    /// Entries per write: [`BULK_CHUNK`], or 1 when the overlays need separate writes.
    chunk: usize,
    /// Entries written so far.
    added: u64,
    /// slapadd's continue mode (`-c`, [`BulkAdd::keep_going`]): a refused entry is set
    /// aside in `skipped` and the load goes on with the next one.
    keep_going: bool,
    /// Entries refused in continue mode and not yet taken by [`BulkAdd::take_skipped`],
    /// in input order.
    skipped: Vec<BulkAddError<T>>,
}

impl<T> std::fmt::Debug for BulkAdd<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkAdd")
            .field("pending", &self.pending.len())
            .field("added", &self.added)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A chunked adder for a bulk load, adding as `ctx` (see [`BulkAdd`]).
    pub fn bulk_add<T>(&self, ctx: WriteCtx) -> BulkAdd<'_, T> {
        self.bulk_add_chunked(ctx, BULK_CHUNK)
    }

    /// [`Store::bulk_add`] with `chunk` entries per write (at least 1); for tests of
    /// chunk boundaries.
    pub fn bulk_add_chunked<T>(&self, ctx: WriteCtx, chunk: usize) -> BulkAdd<'_, T> {
        let separate = self
            .overlays
            .memberof
            .as_ref()
            .is_some_and(|m| m.dangling != Dangling::Ignore);
        let chunk = if separate { 1 } else { chunk.max(1) };
        BulkAdd {
            store: self,
            ctx,
            pending: Vec::with_capacity(chunk),
            order: None,
            chunk,
            added: 0,
            keep_going: false,
            skipped: Vec::new(),
        }
    }
}

impl<T: Send> BulkAdd<'_, T> {
    /// Queues `entry`; writes the chunk when it is full. A refused entry is reported
    /// when its chunk is written, after the entries before it are committed. With
    /// [`BulkAdd::parent_first`], an entry whose parent is not there yet is held back
    /// until its parent is queued, or until [`BulkAdd::release_held`] or
    /// [`BulkAdd::finish`].
    ///
    /// Errors: the first refused entry of the chunk written by this call, as
    /// [`Store::add`] reports it, or a failure of the store while looking a parent up.
    pub fn push(&mut self, tag: T, entry: Entry) -> Result<(), BulkAddError<T>> {
        match self.order.take() {
            None => self.enqueue(tag, entry, None),
            Some(mut order) => {
                let store = self.store;
                let r = order.offer(store, tag, entry, &mut |t, e, n| self.enqueue(t, e, n));
                self.order = Some(order);
                r
            }
        }
    }

    /// Queues one entry (after the reordering); writes the chunk when it is full.
    fn enqueue(
        &mut self,
        tag: T,
        entry: Entry,
        norm: Option<NormDn>,
    ) -> Result<(), BulkAddError<T>> {
        self.pending.push((tag, entry, norm));
        if self.pending.len() >= self.chunk {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Parents before children, as slapadd loads slapcat output after subtree moves: an
    /// entry whose parent is neither stored nor pushed earlier is held back until that
    /// parent is pushed (the store's `parent_first` module); at the end the entries whose
    /// parent never came are refused (noSuchObject, 32), each with its own tag. Without
    /// it, entries are added in push order and such a child is refused at once.
    pub fn parent_first(mut self) -> Self {
        self.order = Some(ParentFirst::new());
        self
    }

    /// Queues the entries still held back by [`BulkAdd::parent_first`]: first those
    /// whose parent now exists (added meanwhile by a change record, say), then the rest
    /// in push order, which the store refuses. [`BulkAdd::finish`] does this itself;
    /// call it before to see those refusals in [`BulkAdd::take_skipped`] before the
    /// final write's count. Does nothing without `parent_first`.
    ///
    /// Errors: as [`BulkAdd::push`].
    pub fn release_held(&mut self) -> Result<(), BulkAddError<T>> {
        let Some(mut order) = self.order.take() else {
            return Ok(());
        };
        let store = self.store;
        let r = order.release_all(store, &mut |t, e, n| self.enqueue(t, e, n));
        self.order = Some(order);
        r
    }

    /// Writes the queued entries (one write), e.g. before an operation that must see them.
    ///
    /// Errors: the first refused entry; the entries before it are committed, it and the
    /// ones after it are not.
    pub fn flush(&mut self) -> Result<(), BulkAddError<T>> {
        let items = std::mem::take(&mut self.pending);
        if items.is_empty() {
            return Ok(());
        }
        let store = self.store;
        // The schema half of every add, without the lock and on two cores.
        let ctx = &self.ctx;
        let items = par_map(items, |(tag, entry, norm)| {
            (tag, store.prepare_add(entry, norm, ctx))
        });
        let (written, last, outcome) = {
            let _guard = store.lock_writes();
            self.write_locked(items)
        };
        self.added += written;
        // Outside the lock, as every write (group commit; no flush inside Store::bulk).
        if let Some(tag) = last {
            if let Err(error) = store.wait_durable() {
                // A refusal after the committed entries is reported first; the next
                // write meets the storage error again.
                return outcome.and(Err(BulkAddError { tag, error }));
            }
        }
        outcome
    }

    /// Queues what is held back ([`BulkAdd::release_held`]), writes the queued entries
    /// and returns how many entries this adder wrote in all.
    ///
    /// Errors: as [`BulkAdd::flush`] and [`BulkAdd::release_held`].
    pub fn finish(mut self) -> Result<u64, BulkAddError<T>> {
        self.release_held()?;
        self.flush()?;
        Ok(self.added)
    }

    /// Entries written so far.
    pub fn added(&self) -> u64 {
        self.added
    }

    /// Continue mode, as slapadd's `-c`: an entry the store refuses with an LDAP outcome
    /// (a schema violation, an existing DN, a missing parent, ...) is set aside for
    /// [`BulkAdd::take_skipped`] and the entries after it are still added, in the same
    /// chunk write; only a failure of the store itself ([`StoreError::is_failure`])
    /// still stops the load. Skipping changes nothing for the entries that are added:
    /// a refused entry is never staged, so the indexes, memberOf and the change log see
    /// exactly the entries written, and one that needed it (a child of a refused entry)
    /// is refused in turn (noSuchObject).
    pub fn keep_going(mut self) -> Self {
        self.keep_going = true;
        self
    }

    /// The entries refused in continue mode since the last call, in input order. They
    /// are known once their chunk is written (after [`BulkAdd::push`] wrote it,
    /// [`BulkAdd::flush`]), so call this after those to report them as they come.
    pub fn take_skipped(&mut self) -> Vec<BulkAddError<T>> {
        std::mem::take(&mut self.skipped)
    }

    /// Places, stamps and stages `items` in one [`Txn`] and commits it, under the write
    /// lock. Returns how many entries were committed, the tag of the last of them, and
    /// the first refusal (in continue mode, outcomes go to `skipped` instead and only a
    /// failure of the store is returned).
    fn write_locked(
        &mut self,
        items: Vec<(T, PreparedAdd)>,
    ) -> (u64, Option<T>, Result<(), BulkAddError<T>>) {
        let store = self.store;
        let mut next_id = match store.next_id() {
            Ok(id) => id,
            Err(error) => {
                return match items.into_iter().next() {
                    Some((tag, _)) => (0, None, Err(BulkAddError { tag, error })),
                    None => (0, None, Ok(())),
                }
            }
        };
        let mut t: Option<Txn<'_>> = None;
        let mut staged = 0u64;
        let mut last: Option<T> = None;
        let mut refused = None;
        for (tag, prepared) in items {
            // The first entry is placed against the committed entries: its CSN is drawn
            // only once it is accepted, so a refused entry leaves the clock as it was.
            let placed = match &t {
                None => store.place_add(store, prepared),
                Some(t) => store.place_add(t, prepared),
            };
            let (norm, parent, mut entry) = match placed {
                Ok(p) => p,
                Err(error) if self.keep_going && !error.is_failure() => {
                    self.skipped.push(BulkAddError { tag, error });
                    continue;
                }
                Err(error) => {
                    refused = Some(BulkAddError { tag, error });
                    break;
                }
            };
            let csn = store.clock.next();
            let t = t.get_or_insert_with(|| Txn::at(store, csn));
            store.stamp(&mut entry, &self.ctx, csn, true);
            let id = next_id;
            next_id += 1;
            t.set_csn(id, csn);
            t.stage_new(&norm, id, StoredEntry { parent, entry });
            staged += 1;
            last = Some(tag);
        }
        let (Some(mut t), Some(last)) = (t, last) else {
            return (0, None, refused.map_or(Ok(()), Err));
        };
        t.b.meta.insert(keys::META_NEXT_ID, &next_id.to_be_bytes());
        // With `memberof-dangling ignore` (the only mode chunked) the overlays cannot
        // refuse an add: an error here is a storage error, reported against the chunk's
        // last entry, and nothing of the chunk is committed.
        if let Err(error) = store.run_overlays(&mut t).and_then(|()| t.commit()) {
            return (0, None, Err(BulkAddError { tag: last, error }));
        }
        (staged, Some(last), refused.map_or(Ok(()), Err))
    }
}

/// Below this many items [`par_map`] stays on the calling thread (a thread start costs
/// tens of microseconds; a prepared add or an entry's index keys a few).
const PAR_MIN_ITEMS: usize = 64;

/// The most threads [`par_map`] uses (the calling one included). Bulk loads run where
/// other work waits (a test suite, the server start), so they take at most two cores.
const PAR_MAX_THREADS: usize = 2;

/// Whether work on `items` items is worth splitting over two threads: enough items
/// ([`PAR_MIN_ITEMS`]) and more than one core. The size test comes first:
/// `available_parallelism` reads cgroup files (system calls on every call), and an
/// ordinary write, with one or two entries, is never split.
pub(crate) fn worth_splitting(items: usize) -> bool {
    items >= PAR_MIN_ITEMS
        && std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(PAR_MAX_THREADS)
            >= 2
}

/// Maps `items` with `f`, in order, splitting the work between the calling thread and
/// a scoped helper thread when there are enough items and more than one core. `f` must
/// be pure (prepared adds, index keys), so the split changes nothing but the time.
pub(crate) fn par_map<I: Send, O: Send>(items: Vec<I>, f: impl Fn(I) -> O + Sync) -> Vec<O> {
    par_split(items, |part| part.into_iter().map(&f).collect::<Vec<O>>())
        .into_iter()
        .flatten()
        .collect()
}

/// Runs `f` on the first and the second half of `items` (in input order) on two threads
/// when [`worth_splitting`], else once on all of them on the calling thread; returns the
/// outputs in order (one or two). For work that builds one output per half (a vector of
/// encoded posting chunks, say) rather than one per item. `f` must be pure, as for
/// [`par_map`].
pub(crate) fn par_split<I: Send, O: Send>(
    mut items: Vec<I>,
    f: impl Fn(Vec<I>) -> O + Sync,
) -> Vec<O> {
    if !worth_splitting(items.len()) {
        return vec![f(items)];
    }
    let second = items.split_off(items.len() / 2);
    let f = &f;
    std::thread::scope(|s| {
        let helper = s.spawn(move || f(second));
        let first = f(items);
        match helper.join() {
            Ok(rest) => vec![first, rest],
            // `f` panicked on the helper thread: the same panic as on this one.
            Err(payload) => std::panic::resume_unwind(payload),
        }
    })
}
