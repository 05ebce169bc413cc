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

use futures::{Sink, SinkExt};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::LdapOp;
use oxldap_proto::Outgoing;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The longest a persistent-search change is held back to share a socket write with the
/// changes that follow it (the timer rounds up to its 1 ms tick).
pub const FLUSH_DELAY: Duration = Duration::from_millis(1);

/// Whether `m` is a change pushed by a search with the Sync Request control: a
/// SearchResultEntry carrying a Sync State control (RFC 4533 §2.3). Only these are held;
/// messages encoded by their operation (a search's entries) never are.
pub fn is_sync_change(m: &Outgoing) -> bool {
    match m {
        Outgoing::Msg(m) => {
            matches!(m.op, LdapOp::SearchResultEntry(_))
                && m.ctrl
                    .iter()
                    .any(|c| matches!(c, LdapControl::SyncState { .. }))
        }
        Outgoing::Encoded(_) => false,
    }
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

/// Feeds `sink` (the connection's encoder, not flushed here) with the messages that arrive
/// on `rx` until `until`, or until a message that is not a Sync State change (fed too) or
/// the end of `rx`, whichever comes first. Errors are the sink's (the connection ends).
pub async fn collect_until<S>(
    sink: &mut S,
    rx: &mut mpsc::Receiver<Outgoing>,
    until: Instant,
) -> Result<(), S::Error>
where
    S: Sink<Outgoing> + Unpin,
{
    let sleep = tokio::time::sleep_until(until);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return Ok(()),
            more = rx.recv() => {
                let Some(more) = more else { return Ok(()) };
                let change = is_sync_change(&more);
                sink.feed(more).await?;
                if !change {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::proto::{LdapMsg, LdapSearchResultEntry, SyncStateValue};

    fn entry(ctrl: Vec<LdapControl>) -> Outgoing {
        LdapMsg::new_with_ctrls(
            2,
            LdapOp::SearchResultEntry(LdapSearchResultEntry {
                dn: "uid=a,dc=test".into(),
                attributes: Vec::new(),
            }),
            ctrl,
        )
        .into()
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
        assert!(!is_sync_change(&done.into()));
        let mut encoded = oxldap_proto::entry_ber::EncodedMessages::default();
        encoded.push(
            2,
            &LdapSearchResultEntry {
                dn: "uid=a,dc=test".into(),
                attributes: Vec::new(),
            },
        );
        assert!(!is_sync_change(&encoded.take()));
    }

    /// Runs [`collect_until`] into `sink` on a current-thread runtime with timers; true
    /// when it ended by itself (without error) within 10 s.
    fn hold(sink: &mut Vec<Outgoing>, rx: &mut mpsc::Receiver<Outgoing>, until: Instant) -> bool {
        let r = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("invariant: a current-thread runtime builds")
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(10), collect_until(sink, rx, until)).await
            });
        matches!(r, Ok(Ok(())))
    }

    #[test]
    fn collecting_ends_at_a_message_that_is_not_a_change() {
        let (tx, mut rx) = mpsc::channel(8);
        tx.try_send(entry(vec![sync_state()])).expect("room");
        tx.try_send(entry(Vec::new())).expect("room");
        tx.try_send(entry(vec![sync_state()])).expect("room");
        let mut sink: Vec<Outgoing> = Vec::new();
        // A deadline far away: only the plain entry may end the hold.
        let far = Instant::now() + Duration::from_secs(3600);
        assert!(hold(&mut sink, &mut rx, far), "the hold did not end");
        // Both fed, in order; the change after the plain entry waits for the next batch.
        assert_eq!(sink.len(), 2);
        assert!(is_sync_change(&sink[0]) && !is_sync_change(&sink[1]));
        assert!(rx.try_recv().is_ok_and(|m| is_sync_change(&m)));
    }

    #[test]
    fn collecting_ends_at_the_deadline_or_when_the_queue_closes() {
        let (tx, mut rx) = mpsc::channel(8);
        tx.try_send(entry(vec![sync_state()])).expect("room");
        let mut sink: Vec<Outgoing> = Vec::new();
        assert!(
            hold(&mut sink, &mut rx, Instant::now() + FLUSH_DELAY),
            "the hold outlived its deadline"
        );
        assert_eq!(sink.len(), 1);
        drop(tx);
        let far = Instant::now() + Duration::from_secs(3600);
        assert!(
            hold(&mut sink, &mut rx, far),
            "a closed queue did not end the hold"
        );
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
