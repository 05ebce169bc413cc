//! The Cancel extended operation (RFC 3909), built on the Abandon machinery of
//! [`crate::session::Session`].
//!
//! `cancelRequestValue ::= SEQUENCE { cancelID MessageID }` names an outstanding operation
//! of the same connection. As slapd 2.5 (servers/slapd/cancel.c) answers:
//! * no such operation running (never sent, already finished, the Cancel itself, or one
//!   already cancelled or abandoned) → noSuchOperation (119);
//! * another Cancel → cannotCancel (121) (Bind, Unbind and Abandon are never outstanding
//!   here: they run in line on the connection's reader, so they are already done);
//! * otherwise the operation's cancellation token is cancelled as for Abandon, and the
//!   Cancel waits until the operation ends. An operation that stops because of it (a
//!   search, a content-sync search in its refresh or persist phase) answers `canceled`
//!   (118) instead of staying silent as an abandoned one does (RFC 3909 §2), and the Cancel
//!   then answers success (0), after that response. An operation that completes anyway
//!   (an update, a compare, a search already finished) answers as usual and the Cancel
//!   answers tooLate (120).
//! * a missing or malformed request value → protocolError (2).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use ldap3_proto::proto::{LdapExtendedRequest, LdapExtendedResponse, LdapMsg, LdapOp};
use oxldap_proto::codec::Outgoing;
use oxldap_proto::ResultCode;
use tokio::sync::{mpsc, oneshot};

use crate::error::{success, LdapError};
use crate::session::Session;

/// The Cancel extended operation's requestName and the OID advertised in the root DSE's
/// `supportedExtension` (RFC 3909 §2).
pub const CANCEL_OID: &str = "1.3.6.1.1.8";

/// The Cancel state of one connection, kept in its [`Session`].
#[derive(Debug, Default)]
pub struct CancelState {
    /// Cancel requests waiting for the operation they name to end, by that operation's
    /// message id; the sender reports whether it answered `canceled` (true) or completed
    /// anyway (false).
    waiting: Mutex<HashMap<i32, oneshot::Sender<bool>>>,
    /// Message ids of running Cancel operations (they cannot be cancelled).
    cancels: Mutex<HashSet<i32>>,
}

/// Decodes `SEQUENCE { cancelID INTEGER (0 .. maxInt) }` (BER, definite lengths).
fn decode_cancel_id(v: &[u8]) -> Option<i32> {
    fn header(v: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&t, rest) = v.split_first()?;
        if t != tag {
            return None;
        }
        let (&l, rest) = rest.split_first()?;
        let (len, rest) = if l < 0x80 {
            (usize::from(l), rest)
        } else {
            let n = usize::from(l & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some(rest.split_at(len))
    }
    let (seq, after) = header(v, 0x30)?;
    if !after.is_empty() {
        return None;
    }
    let (int, after) = header(seq, 0x02)?;
    if !after.is_empty() || int.is_empty() || int.len() > 5 {
        return None;
    }
    // Two's complement; MessageID is 0 .. maxInt (RFC 4511 §4.1.1).
    if int[0] & 0x80 != 0 {
        return None;
    }
    let n = int.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
    i32::try_from(n).ok()
}

fn response(code: ResultCode, message: &'static str) -> LdapExtendedResponse {
    let res = if code == ResultCode::Success {
        success()
    } else {
        LdapError::new(code, message).to_result()
    };
    LdapExtendedResponse {
        res,
        name: None,
        value: None,
    }
}

/// Runs a Cancel request (message id `msgid`) to its response; see the module docs.
/// Waits for the cancelled operation to end.
pub async fn run(session: &Session, msgid: i32, req: &LdapExtendedRequest) -> LdapExtendedResponse {
    let Some(target) = req.value.as_deref().and_then(decode_cancel_id) else {
        return response(ResultCode::ProtocolError, "malformed cancel request");
    };
    let rx = {
        let state = &session.cancel;
        let mut waiting = state.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if target == msgid || !session.is_running(target) || waiting.contains_key(&target) {
            return response(ResultCode::NoSuchOperation, "no such operation");
        }
        if state
            .cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&target)
        {
            return response(ResultCode::CannotCancel, "cannot cancel a cancel operation");
        }
        let (tx, rx) = oneshot::channel();
        waiting.insert(target, tx);
        state
            .cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(msgid);
        rx
    };
    tracing::debug!(msgid, target, "cancel");
    session.abandon(target);
    let outcome = rx.await;
    session
        .cancel
        .cancels
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&msgid);
    match outcome {
        Ok(true) => response(ResultCode::Success, ""),
        // Completed anyway, or its task ended without a word (connection closing).
        Ok(false) | Err(_) => response(ResultCode::TooLate, "too late to cancel"),
    }
}

/// Called by an operation that stops because its token was cancelled: when a Cancel asked
/// for it, returns the sender to report with after the operation has queued its
/// `canceled` (118) response (see [`canceled_done`]); None for a plain Abandon (no
/// response at all).
pub fn take_waiting(session: &Session, msgid: i32) -> Option<oneshot::Sender<bool>> {
    session
        .cancel
        .waiting
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&msgid)
}

/// The SearchResultDone a cancelled search ends with (RFC 3909 §2: `canceled`, 118).
pub fn canceled_search_done(msgid: i32) -> LdapMsg {
    LdapMsg::new(
        msgid,
        LdapOp::SearchResultDone(
            LdapError::new(ResultCode::Canceled, "operation cancelled").to_result(),
        ),
    )
}

/// Queues the `canceled` SearchResultDone of a search that a Cancel stopped, then lets the
/// Cancel answer success (after it, on the same queue).
pub async fn canceled_done(
    msgid: i32,
    waiting: oneshot::Sender<bool>,
    tx: &mpsc::Sender<Outgoing>,
) {
    let _ = tx.send(canceled_search_done(msgid).into()).await;
    let _ = waiting.send(true);
}

/// Called when an operation's task ends: a Cancel still waiting for it gets tooLate (the
/// operation answered as usual).
pub fn finished(session: &Session, msgid: i32) {
    if let Some(w) = take_waiting(session, msgid) {
        let _ = w.send(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_cancel_ids() {
        assert_eq!(decode_cancel_id(&[0x30, 0x03, 0x02, 0x01, 0x05]), Some(5));
        assert_eq!(
            decode_cancel_id(&[0x30, 0x81, 0x04, 0x02, 0x02, 0x01, 0x00]),
            Some(256)
        );
        assert_eq!(decode_cancel_id(&[0x30, 0x03, 0x02, 0x01, 0xff]), None);
        assert_eq!(decode_cancel_id(&[0x30, 0x02, 0x02, 0x00]), None);
        assert_eq!(decode_cancel_id(&[0x30, 0x03, 0x04, 0x01, 0x05]), None);
        assert_eq!(decode_cancel_id(&[0x30, 0x03, 0x02, 0x01]), None);
        assert_eq!(
            decode_cancel_id(&[0x30, 0x03, 0x02, 0x01, 0x05, 0x00]),
            None
        );
        assert_eq!(decode_cancel_id(&[]), None);
    }
}
