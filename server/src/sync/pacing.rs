//! Paced flushes of persistent-search changes on a connection: fewer socket writes, and
//! fewer wake-ups of the consumer, when changes come in bursts.
//!
//! Every committed write that a persistent search covers is one or more SearchResultEntry
//! messages with a Sync State control (RFC 4533 §3.4) on that search's connection. Written
//! one write syscall per change, each change wakes the consumer process once: with 16
//! consumers on loopback, profiling the load of `scripts/sync-load.sh` showed about a third
//! of the time in context switches and socket wake-ups, not in oxldap's own work.
//!
//! The connection's writer task therefore paces its flushes of such messages: a change
//! that arrives when the connection has not flushed for [`FLUSH_DELAY`] is written at once
//! (a lone change is never held); a change that arrives sooner after the previous flush is
//! held until that flush is [`FLUSH_DELAY`] old, and whatever else arrives meanwhile goes
//! out in the same write. So the extra delay of any change is at most [`FLUSH_DELAY`]
//! (rounded up to the Tokio timer's 1 ms tick), and a connection writes persistent-search
//! changes at most about once per [`FLUSH_DELAY`]. Any other message (a response to an
//! operation, an intermediate response, the refresh's end) ends the hold at once, so
//! request/response traffic is never delayed. slapd writes each change as it is queued
//! (`syncprov_qplay`); the order of the messages is unchanged either way (one queue, one
//! writer), only how many go in one write.

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{LdapMsg, LdapOp};
use std::time::Duration;
use tokio::time::Instant;

/// The longest a persistent-search change is held back to share a socket write with the
/// changes that follow it (the timer rounds up to its 1 ms tick).
pub const FLUSH_DELAY: Duration = Duration::from_millis(1);

/// Whether `m` is a change pushed by a search with the Sync Request control: a
/// SearchResultEntry carrying a Sync State control (RFC 4533 §2.3). Only these are held.
pub fn is_sync_change(m: &LdapMsg) -> bool {
    matches!(m.op, LdapOp::SearchResultEntry(_))
        && m.ctrl
            .iter()
            .any(|c| matches!(c, LdapControl::SyncState { .. }))
}

/// When one connection last flushed, to decide whether a change may be held.
#[derive(Debug, Default)]
pub struct Pacer {
    /// The end of the last flush, if any.
    last: Option<Instant>,
}

impl Pacer {
    /// Until when a batch of only Sync State messages, ready at `now`, is to be held:
    /// None when it is to be written at once (no flush within [`FLUSH_DELAY`]), else
    /// the previous flush plus [`FLUSH_DELAY`] (never later than `now` + FLUSH_DELAY).
    pub fn hold_until(&self, now: Instant) -> Option<Instant> {
        let until = self.last? + FLUSH_DELAY;
        (until > now).then_some(until)
    }

    /// Records a flush that ended at `now`.
    pub fn flushed(&mut self, now: Instant) {
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::proto::{LdapSearchResultEntry, SyncStateValue};

    fn entry(ctrl: Vec<LdapControl>) -> LdapMsg {
        LdapMsg::new_with_ctrls(
            2,
            LdapOp::SearchResultEntry(LdapSearchResultEntry {
                dn: "uid=a,dc=test".into(),
                attributes: Vec::new(),
            }),
            ctrl,
        )
    }

    fn sync_state() -> LdapControl {
        LdapControl::SyncState {
            state: SyncStateValue::Modify,
            entry_uuid: uuid::Uuid::nil(),
            cookie: None,
        }
    }

    #[test]
    fn only_entries_with_a_sync_state_are_held() {
        assert!(is_sync_change(&entry(vec![sync_state()])));
        assert!(!is_sync_change(&entry(Vec::new())));
        let done = LdapMsg::new_with_ctrls(
            2,
            LdapOp::SearchResultDone(crate::error::success()),
            vec![sync_state()],
        );
        assert!(!is_sync_change(&done));
    }

    #[test]
    fn lone_change_goes_at_once_burst_is_held_at_most_the_delay() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        // Nothing flushed yet: at once.
        assert_eq!(p.hold_until(t0), None);
        p.flushed(t0);
        // Within the delay after a flush: held until the flush is FLUSH_DELAY old.
        let soon = t0 + FLUSH_DELAY / 4;
        assert_eq!(p.hold_until(soon), Some(t0 + FLUSH_DELAY));
        assert!(p
            .hold_until(soon)
            .is_some_and(|until| until - soon <= FLUSH_DELAY));
        // At or after the delay: at once again.
        assert_eq!(p.hold_until(t0 + FLUSH_DELAY), None);
        assert_eq!(p.hold_until(t0 + FLUSH_DELAY * 5), None);
    }
}
