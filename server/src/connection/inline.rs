//! Small reads answered on the connection's reader task (issue 4: a point search's fixed
//! cost at one connection).
//!
//! A search that reads a few entries (what [`ops::is_small_search`] calls small: a base
//! search, a small index candidate set) and a compare (one entry) take microseconds, less
//! than a task of their own costs in hand-offs. The reader answers them itself, before it
//! reads the next request, when a slot of the response queue is free for the answer
//! ([`tokio::sync::mpsc::Sender::try_reserve`]), so answering never waits on a slow client;
//! when the queue is full the operation runs as its own task, as every other one.
//!
//! What the connection guarantees does not change:
//! - Back-pressure: the answer takes a reserved queue slot; nothing here awaits.
//! - Abandon and Cancel (RFC 4511 §4.11, RFC 3909): an Abandon or Cancel naming the
//!   operation is read only after it was answered, so it finds a finished operation
//!   (Abandon: nothing; Cancel: noSuchOperation, 119, as slapd for an operation that
//!   already completed). So the operation is not registered with the session as running
//!   (`Session::start`), and its cancellation token is never cancelled.
//! - Order: requests are answered in the order they are read when all are small (RFC 4511
//!   §4.1.1.1 allows any order; nothing relied on one).
//! - Identity: the operation runs as the identity taken when it was read (the caller's).
//! - A panic closes only this connection: it is caught here, logged, and
//!   `Session::closing` is cancelled, as for an operation task.
//!
//! It must not know how searches are planned or run: [`ops::is_small_search`] decides,
//! and the search itself is the one the operation task runs (`super::small_search`).

use super::{panic_message, response_for_op, small_search};
use crate::directory::Directory;
use crate::error::LdapError;
use crate::ops;
use crate::session::{Identity, Session};
use crate::tls::{check_security, OpKind};
use ldap3_proto::proto::{LdapCompareRequest, LdapMsg, LdapOp, LdapResult};
use oxldap_proto::codec::{Outgoing, RawControl};
use oxldap_proto::ResultCode;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Whether `op` is a kind the reader may answer itself: a search without a content-sync
/// control (RFC 4533: a refresh can be long and a persistent search never ends) or a
/// compare. Cheap: reads only the request.
pub(super) fn is_candidate(op: &LdapOp, controls: &[RawControl]) -> bool {
    match op {
        LdapOp::SearchRequest(_) => crate::sync::request_of(controls).is_none(),
        LdapOp::CompareRequest(_) => true,
        _ => false,
    }
}

/// Whether a candidate is small enough to answer in line (a compare always is; a search
/// when [`ops::is_small_search`] says so, which leaves its plan for the search that
/// follows on this thread). None for other operations.
pub(super) fn is_small(dir: &Directory, op: &LdapOp) -> Option<bool> {
    match op {
        LdapOp::SearchRequest(req) => Some(ops::is_small_search(dir, req)),
        LdapOp::CompareRequest(_) => Some(true),
        _ => None,
    }
}

/// Answers a small read into `slot`. Returns false when the connection must close (the
/// operation panicked, or its answer could not be encoded).
pub(super) fn answer(
    msgid: i32,
    op: LdapOp,
    who: &Identity,
    controls: &[RawControl],
    dir: &Directory,
    session: &Session,
    slot: mpsc::Permit<'_, Outgoing>,
) -> bool {
    // Never cancelled: the operation is not registered with the session (`Session::start`),
    // as no Abandon or Cancel can be read before it is answered.
    let token = CancellationToken::new();
    let run =
        std::panic::AssertUnwindSafe(|| respond(msgid, op, who, controls, dir, session, &token));
    match std::panic::catch_unwind(run) {
        Ok(Some(m)) => slot.send(m),
        Ok(None) => {}
        Err(p) => {
            tracing::error!(msgid, panic = %panic_message(&p), "operation panicked; closing the connection");
            session.closing.cancel();
        }
    }
    !session.closing.is_cancelled()
}

/// The answer to a small read, as `super::run_op` gives it: the security check (RFC 4513
/// §6, `security`), the request controls, then the operation. None when nothing is to be
/// sent (the connection is closing).
fn respond(
    msgid: i32,
    op: LdapOp,
    who: &Identity,
    controls: &[RawControl],
    dir: &Directory,
    session: &Session,
    token: &CancellationToken,
) -> Option<Outgoing> {
    let refuse = |op: &LdapOp, res: LdapResult| -> Option<Outgoing> {
        response_for_op(op, res).map(|r| LdapMsg::new(msgid, r).into())
    };
    if let Err(e) = check_security(
        &dir.security,
        dir.simple_bind_ssf,
        session.ssf(),
        OpKind::Read,
    ) {
        return refuse(&op, e.to_result());
    }
    let mut op_ctrls = match crate::controls::OpControls::parse(&op, controls) {
        Ok(c) => c,
        Err(e) => return refuse(&op, e.to_result()),
    };
    match op {
        // Not abandoned or cancelled while it runs (see the module's doc), so `stopped`
        // cannot be set and no Cancel waits for it.
        LdapOp::SearchRequest(req) => small_search(
            msgid,
            &req,
            who,
            controls,
            &mut op_ctrls,
            dir,
            session,
            token,
        )
        .map(|(m, _)| m),
        LdapOp::CompareRequest(req) => {
            let res = compare_result(dir, who, req, &op_ctrls);
            Some(LdapMsg::new(msgid, LdapOp::CompareResult(res)).into())
        }
        // `is_candidate` lets no other operation through.
        other => refuse(
            &other,
            LdapError::new(ResultCode::ProtocolError, "unexpected operation").to_result(),
        ),
    }
}

/// The result of a compare (RFC 4511 §4.10): compareTrue (6), compareFalse (5) or the
/// error, with the assertion control (RFC 4528) tested first.
pub(super) fn compare_result(
    dir: &Directory,
    who: &Identity,
    req: LdapCompareRequest,
    op_ctrls: &crate::controls::OpControls,
) -> LdapResult {
    match crate::controls::compare(dir, who, req, op_ctrls) {
        Ok(true) => LdapError::new(ResultCode::CompareTrue, "").to_result(),
        Ok(false) => LdapError::new(ResultCode::CompareFalse, "").to_result(),
        Err(e) => e.to_result(),
    }
}
