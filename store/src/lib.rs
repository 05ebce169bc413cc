//! The sled-backed entry store of oxldap.
//!
//! This crate owns persistence: entries under stable numeric ids, the DN → id and
//! parent → children trees, operational attributes stamped on every write (RFC 4512 §3.4,
//! RFC 4530 entryUUID, OpenLDAP's entryCSN), CSN allocation, and the LDAP semantics of the
//! update operations (RFC 4511 §4.6–§4.9). Every write is planned outside sled, then
//! committed as one multi-tree sled transaction that only replays precomputed batches, so a
//! write is all-or-nothing and a retried closure has no side effects.
//!
//! It must not know sockets, sessions or tokio: it is synchronous because sled is. It knows
//! the schema only through `oxldap_schema` (names, matching rules, normalization).
//!
//! Architecture Invariant: exactly one write runs at a time per store (the write lock in
//! [`Store`]), so what the planner read is still true when the batch commits.
//! Architecture Invariant: readers re-check every candidate against the full filter and skip
//! ids whose entry vanished, because sled has no snapshot that spans trees.

mod backup;
mod bulk;
mod bulk_log;
mod changelog;
mod csn;
mod entry_cache;
mod error;
mod failstop;
mod group_commit;
mod hook;
mod index;
mod keys;
mod open_read_only;
mod ops;
mod overlay;
mod parent_first;
mod postings;
mod precheck;
mod search;
mod snapshot;
mod store;
#[cfg(test)]
mod test_support;
mod txn;
mod verify;
mod view;

pub use backup::BackupImage;
pub use bulk::{BulkAdd, BulkAddError, BULK_CHUNK};
pub use changelog::{
    ChangeKind, ChangeRecord, ChangesSince, CommitObserver, Committed, DEFAULT_CHANGELOG_LIMIT,
};
pub use csn::{Csn, CsnClock};
pub use entry_cache::ENTRY_CACHE_BYTES;
pub use error::StoreError;
pub use hook::{HookRefusal, NoHook, WriteHook};
pub use index::{kind_name, IndexConfig, IndexKind, Plan, SubstrTunables, MAX_PLAN_NODES};
pub use open_read_only::{for_restore, without_reindex_at_open};
pub use ops::{Mod, ModOp, WriteCtx};
pub use overlay::{Dangling, MemberOf, OverlayKind, Overlays, Refint};
pub use search::{Computed, CostedSearch, Scope, SearchControl};
pub use snapshot::Snapshot;
pub use store::{Store, StoreOptions};
pub use view::{AttrIter, EntryView, ValueIter};
