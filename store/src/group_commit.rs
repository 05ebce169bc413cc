//! Group commit: writers that commit while a flush runs share the next one.
//!
//! A write is acknowledged only once it is on disk (issue 8 §6; slapd with back-mdb syncs
//! each transaction unless `dbnosync`). An fsync costs milliseconds, so flushing under the
//! write lock would cap writes at one per fsync. Instead a writer commits its sled
//! transaction under the write lock, counts itself (`committed`), releases the lock and
//! then waits here: the first waiter becomes the leader and flushes everything committed
//! so far (sled's flush covers every write applied before it starts); writers that commit
//! meanwhile wait for the leader and, if their write came too late for its flush, one of
//! them leads the next. N concurrent writers thus cost about two flushes, not N.
//!
//! It knows nothing of sled: the flush is a closure.

use std::sync::{Condvar, Mutex};

/// Counts committed and flushed writes and elects the flushing leader.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    /// Counters and the leader flag. A std Mutex: held only to read or bump them, never
    /// across the flush.
    state: Mutex<State>,
    /// Signalled when a flush ends (successfully or not), to wake waiting followers.
    flushed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Writes committed to sled so far (bumped under the store's write lock, so in
    /// commit order).
    committed: u64,
    /// Writes known to be on disk: every write numbered up to this one.
    flushed: u64,
    /// A leader is flushing now.
    flushing: bool,
}

impl GroupCommit {
    /// Records one committed write (call after the sled transaction, under the write lock)
    /// and returns its sequence number (1, 2, ... in commit order).
    pub(crate) fn committed(&self) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.committed += 1;
        st.committed
    }

    /// The sequence number up to which every committed write is on disk.
    pub(crate) fn flushed(&self) -> u64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).flushed
    }

    /// Returns once every write committed before the call is on disk, running `flush`
    /// as the leader when no flush is running. A failed flush is returned to its leader;
    /// the followers then elect a new leader that tries again.
    pub(crate) fn wait<E>(&self, flush: impl Fn() -> Result<(), E>) -> Result<(), E> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let target = st.committed;
        loop {
            if st.flushed >= target {
                return Ok(());
            }
            if st.flushing {
                st = self.flushed.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.flushing = true;
            let upto = st.committed;
            drop(st);
            let outcome = flush();
            st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.flushing = false;
            if outcome.is_ok() {
                st.flushed = st.flushed.max(upto);
            }
            self.flushed.notify_all();
            outcome?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn concurrent_writers_share_flushes() {
        let g = Arc::new(GroupCommit::default());
        let flushes = Arc::new(AtomicUsize::new(0));
        let writers = 16;
        let threads: Vec<_> = (0..writers)
            .map(|_| {
                let g = g.clone();
                let flushes = flushes.clone();
                std::thread::spawn(move || {
                    g.committed();
                    g.wait(|| {
                        flushes.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        Ok::<(), ()>(())
                    })
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().expect("thread"), Ok(()));
        }
        let st = g.state.lock().expect("lock");
        assert_eq!(st.flushed, writers);
        // Every writer's wait ended with its write flushed, with fewer flushes than writers.
        assert!(flushes.load(Ordering::SeqCst) < 16);
    }

    #[test]
    fn a_failed_flush_is_reported_and_retried_by_the_next_writer() {
        let g = GroupCommit::default();
        g.committed();
        assert_eq!(g.wait(|| Err("disk full")), Err("disk full"));
        // Nothing was marked durable: the next wait flushes again.
        let calls = AtomicUsize::new(0);
        g.wait(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<(), &str>(())
        })
        .expect("flushes");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // With everything flushed, waiting costs no flush.
        g.wait(|| Err("not called")).expect("already durable");
    }
}
