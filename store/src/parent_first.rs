//! Parents before children in a bulk load whose input lists a child first (tester
//! finding 4): [`ParentFirst`] sits in front of the queue of a [`crate::BulkAdd`] made
//! with [`crate::BulkAdd::parent_first`] and holds back an entry whose parent is neither
//! stored nor added earlier in the same load, until that parent is added.
//!
//! Why: slapcat writes entries in entry-id order, and an entry moved (modrdn with
//! newSuperior) below a parent created after it keeps its smaller id, so slapcat output
//! of a directory that has seen subtree moves lists that child before its new parent.
//! slapadd loads such a file (back-mdb's tool mode puts a placeholder for the missing
//! parent and fills it when the parent comes, `mdb_tool_next_id`); RFC 2849 says nothing
//! about order. A plain per-record load would refuse the child with noSuchObject (32).
//!
//! What it does, per content record in input order:
//! - An entry that is a naming context, lies outside every naming context, or has a DN
//!   the schema cannot normalize is passed on at once: the store gives its answer.
//! - An entry whose parent was passed on earlier in this load, or is stored, is passed on,
//!   and right after it every entry held back for it (keyed by its normalized DN),
//!   recursively (depth first, each level in input order).
//! - Otherwise it is held back, keyed by its parent's normalized DN.
//!
//! At the end ([`ParentFirst::release_all`]) each group still held whose parent now exists
//! (added by a change record of the same input, say) is passed on; the rest are passed
//! on in input order, and the store refuses them with noSuchObject (32) and their own tag
//! (their LDIF line), as a load without reordering would have, also in continue mode.
//! Input order is otherwise kept, so a well-ordered file loads exactly as before.
//!
//! Stamps: a held-back entry is added later than its input position, so the values the
//! load draws for it (its CSN, and so entryCSN, createTimestamp and modifyTimestamp when
//! the input has none, its change-log record and changeNumber, its entry id) come after
//! its parent's, in the order of the adds. Values the input gives (slapcat output carries
//! entryCSN, entryUUID and the timestamps) are kept as given, as for every entry of an
//! import.
//!
//! Memory: only held-back records are buffered (with their normalized DN). To know which
//! parents this load has added, it keeps one 64-bit hash per entry passed on, not the
//! DNs; a hash collision can only make it pass on an entry whose parent is missing, which
//! the store then refuses (32) as it would have without reordering.
//!
//! This module must not know how entries are stored; it asks the store only whether a DN
//! exists.

use crate::error::StoreError;
use crate::store::Store;
use oxldap_proto::Entry;
use oxldap_schema::NormDn;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

/// Reorders a load's content records so that each entry comes after its parent (see the
/// module documentation). `T` is the caller's tag of a record (its LDIF line and DN).
pub(crate) struct ParentFirst<T> {
    /// Hashes of the normalized DNs passed on so far, and of parents found stored.
    seen: HashSet<u64>,
    /// Hashes `seen` with; one per load, so the hashes are comparable.
    hasher: RandomState,
    /// Entries held back, by their parent's normalized DN, each group in input order.
    held: HashMap<NormDn, Vec<Held<T>>>,
    /// Input position of the next record offered (orders the groups at the end).
    next_seq: u64,
    /// Entries held back now.
    held_count: usize,
}

/// One held-back record.
struct Held<T> {
    /// Its position in the input.
    seq: u64,
    /// Its normalized DN (the key of the entries held back for it).
    norm: NormDn,
    tag: T,
    entry: Entry,
}

impl<T> std::fmt::Debug for ParentFirst<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParentFirst")
            .field("seen", &self.seen.len())
            .field("held", &self.held_count)
            .finish_non_exhaustive()
    }
}

impl<T> ParentFirst<T> {
    /// An empty reorderer for one load.
    pub(crate) fn new() -> Self {
        ParentFirst {
            seen: HashSet::new(),
            hasher: RandomState::new(),
            held: HashMap::new(),
            next_seq: 0,
            held_count: 0,
        }
    }

    /// Offers the next content record of the input: passes `entry` to `push` now (then
    /// every entry held back for it, recursively) or holds it back until its parent is
    /// passed on. `push` gets each entry with its normalized DN (None when the schema
    /// cannot normalize it: the store then gives its answer), so the add need not
    /// normalize it again.
    ///
    /// Errors: the first error of `push` (the records not yet passed on stay held), or
    /// a failure of the store while looking the parent up.
    pub(crate) fn offer<E>(
        &mut self,
        store: &Store,
        tag: T,
        entry: Entry,
        push: &mut impl FnMut(T, Entry, Option<NormDn>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<(T, StoreError)>,
    {
        let seq = self.next_seq;
        self.next_seq += 1;
        let Ok(norm) = store.normalize_dn(&entry.dn) else {
            return push(tag, entry, None);
        };
        let parent = match norm.parent() {
            Some(p) if !store.is_suffix(&norm) && store.holds(&p) => p,
            // A naming context, the root, or outside the naming contexts: no parent
            // to wait for; the store answers.
            _ => return self.pass(norm, tag, entry, push),
        };
        if !self.seen.contains(&self.hasher.hash_one(&parent)) {
            match store.id_of(&parent) {
                Ok(Some(_)) => {
                    self.seen.insert(self.hasher.hash_one(&parent));
                }
                Ok(None) => {
                    self.held_count += 1;
                    self.held.entry(parent).or_default().push(Held {
                        seq,
                        norm,
                        tag,
                        entry,
                    });
                    return Ok(());
                }
                Err(e) => return Err(E::from((tag, e))),
            }
        }
        self.pass(norm, tag, entry, push)
    }

    /// Passes on the entries still held back (see the module documentation): first the
    /// groups whose parent now exists, then the rest in input order, which the store
    /// refuses (noSuchObject). Nothing is held afterwards.
    ///
    /// Errors: the first error of `push`, or a failure of the store while looking a
    /// parent up.
    pub(crate) fn release_all<E>(
        &mut self,
        store: &Store,
        push: &mut impl FnMut(T, Entry, Option<NormDn>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<(T, StoreError)>,
    {
        let mut groups: Vec<(u64, NormDn)> = self
            .held
            .iter()
            .map(|(parent, g)| (g.first().map_or(0, |h| h.seq), parent.clone()))
            .collect();
        groups.sort_unstable();
        for (_, parent) in groups {
            // Released meanwhile as part of an earlier group's subtree.
            if !self.held.contains_key(&parent) {
                continue;
            }
            let exists = self.seen.contains(&self.hasher.hash_one(&parent)) || {
                match store.id_of(&parent) {
                    Ok(found) => found.is_some(),
                    Err(e) => {
                        let first = self.held.remove(&parent).and_then(|g| g.into_iter().next());
                        return match first {
                            Some(h) => Err(E::from((h.tag, e))),
                            None => Ok(()),
                        };
                    }
                }
            };
            if exists {
                self.release(parent, push)?;
            }
        }
        // Parents that never came: every remaining entry in input order; the store
        // refuses each with noSuchObject and its own tag.
        let mut rest: Vec<Held<T>> = self.held.drain().flat_map(|(_, g)| g).collect();
        self.held_count = 0;
        rest.sort_unstable_by_key(|h| h.seq);
        for h in rest {
            push(h.tag, h.entry, Some(h.norm))?;
        }
        Ok(())
    }

    /// Passes `entry` on and then everything held back below it.
    fn pass<E>(
        &mut self,
        norm: NormDn,
        tag: T,
        entry: Entry,
        push: &mut impl FnMut(T, Entry, Option<NormDn>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.seen.insert(self.hasher.hash_one(&norm));
        if self.held.contains_key(&norm) {
            push(tag, entry, Some(norm.clone()))?;
            self.release(norm, push)
        } else {
            push(tag, entry, Some(norm))
        }
    }

    /// Passes on the entries held back for `parent`, depth first: each one followed by
    /// those held back for it, each level in input order. An explicit stack, as an
    /// input may nest deeply.
    fn release<E>(
        &mut self,
        parent: NormDn,
        push: &mut impl FnMut(T, Entry, Option<NormDn>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stack: Vec<Held<T>> = Vec::new();
        let take = |this: &mut Self, key: &NormDn, stack: &mut Vec<Held<T>>| {
            if let Some(group) = this.held.remove(key) {
                this.held_count -= group.len();
                // Reversed, so the first in input order is popped first.
                stack.extend(group.into_iter().rev());
            }
        };
        take(self, &parent, &mut stack);
        while let Some(h) = stack.pop() {
            self.seen.insert(self.hasher.hash_one(&h.norm));
            // Its own waiting entries go on the stack first; they are popped after it.
            take(self, &h.norm, &mut stack);
            push(h.tag, h.entry, Some(h.norm))?;
        }
        Ok(())
    }
}

impl<T> From<(T, StoreError)> for crate::BulkAddError<T> {
    fn from((tag, error): (T, StoreError)) -> Self {
        crate::BulkAddError { tag, error }
    }
}
