//! Fail-stop after a failed write to disk (tester11 finding 2: a full disk).
//!
//! What sled 0.34 does when a write to its log fails (ENOSPC, EIO): the io thread that
//! wrote the buffer stores the error as the database's *global error*
//! (`Config::set_global_error`), and from then on every log reservation (any insert,
//! transaction or flush) returns that error. The global error is reset only when the
//! database is opened again (`PageCache::start`). The writes applied before the failure
//! stay in sled's in-memory trees: a transaction that was applied but whose flush failed
//! (answered `other`, 80) is still returned by reads, and disappears at the next open,
//! because it never reached the log. sled has no rollback, and writing an undo would need
//! the log that just failed. (sled 0.34.7 also forgot to wake flushes waiting for the
//! failed buffer, which hung every later write and the shutdown; `vendor/sled` fixes that.)
//!
//! So a store that saw a write or flush fail cannot serve a consistent state until it is
//! reopened. It enters a fail-stop state instead: the cause is logged once, and every
//! later read or write of the store answers [`StoreError::Failed`] (unavailable, 52,
//! with a message saying a restart is needed) without touching sled; `Store::flush` (the
//! shutdown's) returns the same error, so `oxldap serve` still shuts down promptly and
//! then exits non-zero. What was acknowledged was flushed before it was acknowledged
//! and is there after the restart. slapd (back-mdb) instead keeps serving reads and
//! accepts writes again once space is freed, because LMDB aborts the failed transaction;
//! oxldap needs a restart for that. The server stays up answering 52 rather than exiting
//! by itself, so that clients get a clear answer (and fail over) and the root DSE and
//! cn=Monitor still answer, until the administrator frees space and restarts it.

use crate::error::StoreError;
use crate::store::Store;

impl Store {
    /// Why the store is in the fail-stop state (a write or flush failed), if it is.
    pub fn failure(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    /// Errors with [`StoreError::Failed`] once the store is in the fail-stop state; every
    /// read and write path checks it before touching sled.
    pub(crate) fn usable(&self) -> Result<(), StoreError> {
        match self.failed.get() {
            None => Ok(()),
            Some(_) => Err(StoreError::Failed),
        }
    }

    /// Passes `out` through, entering the fail-stop state first when it is a failure of
    /// sled on the write path (a commit or a flush).
    pub(crate) fn fail_on_storage<T>(&self, out: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Storage(e)) = &out {
            let reason = e.to_string();
            if self.failed.set(reason.clone()).is_ok() {
                tracing::error!(
                    error = %reason,
                    "writing to the database failed (disk full?): the store refuses every \
                     operation from now on (unavailable, 52) and oxldap must be restarted; \
                     writes acknowledged before are on disk, the failed one is not"
                );
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use crate::test_support::{add, store};
    use crate::StoreError;
    use oxldap_proto::{Dn, ResultCode};

    #[test]
    fn a_failed_write_stops_every_later_operation() {
        let s = store();
        add(&s, "dc=example,dc=com", "domain");
        let dn = Dn::parse("dc=example,dc=com").unwrap();
        assert!(s.get(&dn).unwrap().is_some());
        // Any other error passes through without changing the state.
        let e = s.fail_on_storage::<()>(Err(StoreError::NoObjectClass));
        assert!(matches!(e, Err(StoreError::NoObjectClass)));
        assert!(s.failure().is_none());
        let enospc = std::io::Error::other("No space left on device");
        let e = s.fail_on_storage::<()>(Err(StoreError::Storage(sled::Error::Io(enospc))));
        assert!(matches!(e, Err(StoreError::Storage(_))));
        assert!(s.failure().unwrap().contains("No space left"));
        for e in [
            s.get(&dn).map(|_| ()),
            s.contains(&dn).map(|_| ()),
            s.flush(),
            s.delete(&dn, &crate::WriteCtx::default()),
        ] {
            let e = e.unwrap_err();
            assert!(matches!(e, StoreError::Failed), "{e}");
            assert_eq!(e.code(), ResultCode::Unavailable);
            assert!(!e.is_failure());
            assert!(e.to_string().contains("restarted"));
        }
    }
}
