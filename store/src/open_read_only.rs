//! Opening a store without writing to it, for commands that only read (`oxldap explain`;
//! tester finding 13): [`without_reindex_at_open`] makes [`crate::Store::open`] refuse a
//! data folder whose index postings were built for another index configuration, instead
//! of rebuilding them (which writes the whole index tree).
//!
//! A thread-local switch rather than a [`crate::StoreOptions`] field, so the many places
//! that build options stay as they are: the read-only command opens its directory on the
//! calling thread, inside the closure.

use std::cell::Cell;

thread_local! {
    /// Whether [`crate::Store::open`] on this thread may rebuild outdated indexes.
    static REINDEX_AT_OPEN: Cell<bool> = const { Cell::new(true) };
}

/// Runs `f` with [`crate::Store::open`] on this thread refusing (with
/// [`crate::StoreError::IndexConfig`], naming the indexes that differ) a folder whose
/// indexes do not match the configuration, instead of rebuilding them.
pub fn without_reindex_at_open<R>(f: impl FnOnce() -> R) -> R {
    with_switch(&REINDEX_AT_OPEN, false, f)
}

/// Runs `f` with the thread-local `switch` set to `value`, then puts it back.
fn with_switch<R>(
    switch: &'static std::thread::LocalKey<Cell<bool>>,
    value: bool,
    f: impl FnOnce() -> R,
) -> R {
    let before = switch.with(|c| c.replace(value));
    let out = f();
    switch.with(|c| c.set(before));
    out
}

/// Whether [`crate::Store::open`] may rebuild outdated indexes on this thread.
pub(crate) fn reindex_allowed() -> bool {
    REINDEX_AT_OPEN.with(Cell::get)
}

thread_local! {
    /// Whether [`crate::Store::open`] on this thread opens a folder that holds an
    /// interrupted restore ([`crate::keys::META_RESTORING`]).
    static INTERRUPTED_RESTORE_OPENS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with [`crate::Store::open`] on this thread opening a folder that holds an
/// interrupted restore, which it otherwise refuses with
/// [`crate::StoreError::RestoreInterrupted`]: for `oxldap restore`, which replaces it.
pub fn for_restore<R>(f: impl FnOnce() -> R) -> R {
    with_switch(&INTERRUPTED_RESTORE_OPENS, true, f)
}

/// Whether [`crate::Store::open`] may open a folder holding an interrupted restore.
pub(crate) fn interrupted_restore_opens() -> bool {
    INTERRUPTED_RESTORE_OPENS.with(Cell::get)
}

/// The refusal of a read-only open: which indexes the configuration names that the folder
/// lacks, and the reverse, from the two fingerprints (`v4 tunables;OID kind...;...`).
pub(crate) fn outdated(stored: Option<&[u8]>, configured: &str) -> crate::StoreError {
    let parts = |s: &str| -> Vec<String> {
        s.split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let stored = stored
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    let (have, want) = (parts(&stored), parts(configured));
    let missing: Vec<&str> = want
        .iter()
        .filter(|p| !have.contains(p))
        .map(String::as_str)
        .collect();
    let extra: Vec<&str> = have
        .iter()
        .filter(|p| !want.contains(p))
        .map(String::as_str)
        .collect();
    let list = |v: &[&str]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join("; ")
        }
    };
    crate::StoreError::IndexConfig {
        reason: format!(
            "the data folder's indexes were built for another index configuration \
             (configured but not built: {}; built but not configured: {}); this command \
             does not modify the folder: run `oxldap index` (or start the server) to \
             rebuild them",
            list(&missing),
            list(&extra)
        ),
    }
}
