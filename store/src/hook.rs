//! Per-write hooks run under the write lock: the LDAP controls that must see exactly the
//! images a write changes (RFC 4528 assertion, RFC 4527 pre-read and post-read).
//!
//! The store knows nothing of controls: it hands a [`WriteHook`] the target entry before
//! the change and after it, inside the same locked plan-and-commit as the write, so no other
//! write can come between what the hook saw and what is committed. A hook that refuses
//! aborts the write before anything is committed.

use oxldap_proto::{Entry, ResultCode};

/// Why a [`WriteHook`] refused a write; answered with `code` and `message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HookRefusal {
    /// The result code of the refused operation (e.g. assertionFailed, 122).
    pub code: ResultCode,
    /// The diagnosticMessage.
    pub message: String,
}

/// Sees the target entry of one update operation before and after the change, under the
/// write lock. Entries carry the computed operational attributes (entryDN,
/// hasSubordinates, subschemaSubentry) as a read would.
pub trait WriteHook {
    /// Whether the hook wants the images at all; when false the store skips building them
    /// (no copy of a large entry for writes without controls).
    fn wants(&self) -> bool;
    /// The target entry before the change: the stored entry for modify, delete and modify
    /// DN; for add, the entry as it will be stored (operational attributes stamped), which
    /// is what slapd's back-mdb tests an add's assertion against.
    fn before(&mut self, entry: &Entry) -> Result<(), HookRefusal>;
    /// The target entry as it will be committed (after overlays); not called for delete.
    fn after(&mut self, entry: &Entry) -> Result<(), HookRefusal>;
}

/// The hook of writes without controls: wants nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHook;

impl WriteHook for NoHook {
    fn wants(&self) -> bool {
        false
    }
    fn before(&mut self, _entry: &Entry) -> Result<(), HookRefusal> {
        Ok(())
    }
    fn after(&mut self, _entry: &Entry) -> Result<(), HookRefusal> {
        Ok(())
    }
}
