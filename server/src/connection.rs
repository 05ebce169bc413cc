//! One client connection: a reader loop that decodes frames and dispatches operations, and
//! a writer task that owns the socket's write half (RFC 4511 §5.1).
//!
//! LDAP lets a client keep several operations outstanding (RFC 4511 §4.1.1.1), so every
//! operation but Bind, Unbind and Abandon runs as its own task and answers with its own
//! message id; Bind is handled in line so it is serialized (RFC 4511 §4.2.1).

use crate::directory::Directory;
use crate::error::{result_of, success, LdapError};
use crate::ops::{self, Page, SearchEnd, PAGED_RESULTS_OID, SUPPORTED_CONTROLS};
use crate::session::{Identity, PagedState, Session};
use futures::{SinkExt, StreamExt};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindResponse, LdapExtendedRequest, LdapExtendedResponse, LdapMsg, LdapOp,
    LdapPasswordModifyRequest, LdapPasswordModifyResponse, LdapResult, OID_PASSWORD_MODIFY,
    OID_WHOAMI,
};
use oxldap_proto::codec::{notice_of_disconnection, CodecError, Frame, RawControl, ServerCodec};
use oxldap_proto::ResultCode;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How many responses may queue for the writer before operations wait (back-pressure on
/// large searches to slow clients).
const RESPONSE_QUEUE: usize = 256;

/// The most operations one connection may have running at once. When a client pipelines
/// more, the server stops reading from it until one finishes, so one client cannot take
/// the blocking pool (and everyone's latency) or unbounded memory.
pub const MAX_IN_FLIGHT: usize = 32;

/// Serves one connection until the client unbinds or disconnects, or `shutdown` fires.
pub async fn handle(
    stream: TcpStream,
    dir: Arc<Directory>,
    shutdown: CancellationToken,
    max_pdu: usize,
    conn_id: u64,
) {
    let peer = stream.peer_addr().ok();
    let span = tracing::info_span!("conn", id = conn_id, peer = ?peer);
    async move {
        tracing::debug!("accepted");
        let (r, w) = stream.into_split();
        let mut reader = FramedRead::new(r, ServerCodec::new(max_pdu));
        let mut writer = FramedWrite::new(w, ServerCodec::new(max_pdu));
        let (tx, mut rx) = mpsc::channel::<LdapMsg>(RESPONSE_QUEUE);
        let session = Arc::new(Session::default());
        // Closing (Session::closing) drops the socket even while a write is stuck on a
        // client that does not read.
        let closing = session.closing();
        let write_task = tokio::spawn(async move {
            // Messages already queued are encoded together and flushed once (one write
            // syscall for a burst, e.g. a write pushed to many persistent searches).
            while let Some(msg) = tokio::select! { m = rx.recv() => m, () = closing.cancelled() => None } {
                let sent = tokio::select! {
                    r = async {
                        writer.feed(msg).await?;
                        while let Ok(more) = rx.try_recv() {
                            writer.feed(more).await?;
                        }
                        writer.flush().await
                    } => r.is_ok(),
                    () = closing.cancelled() => false,
                };
                if !sent {
                    break;
                }
            }
            if !closing.is_cancelled() {
                let _ = writer.close().await;
            }
        });
        let closing = session.closing();
        let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        loop {
            // Back-pressure: wait for a free operation slot before reading the next request.
            let permit = tokio::select! {
                p = in_flight.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                () = shutdown.cancelled() => {
                    let _ = tx.send(notice_of_disconnection(ResultCode::Unavailable, "server shutting down")).await;
                    break;
                }
                () = closing.cancelled() => break,
            };
            let frame = tokio::select! {
                f = reader.next() => f,
                () = shutdown.cancelled() => {
                    let _ = tx.send(notice_of_disconnection(ResultCode::Unavailable, "server shutting down")).await;
                    break;
                }
                () = closing.cancelled() => break,
            };
            match frame {
                None => break,
                Some(Err(CodecError::TooLarge { size, max })) => {
                    tracing::warn!(size, max, "request larger than the maximum PDU size; closing");
                    let _ = tx
                        .send(notice_of_disconnection(ResultCode::ProtocolError, "request too large"))
                        .await;
                    break;
                }
                Some(Err(e)) => {
                    tracing::info!(error = %e, "undecodable request; closing");
                    let _ = tx
                        .send(notice_of_disconnection(ResultCode::ProtocolError, "malformed request"))
                        .await;
                    break;
                }
                Some(Ok(frame)) => {
                    if !dispatch(frame, &dir, &session, &tx, permit).await {
                        break;
                    }
                }
            }
        }
        session.abandon_all();
        drop(tx);
        let _ = write_task.await;
        tracing::debug!("closed");
    }
    .instrument(span)
    .await;
}

/// Handles one frame; returns false when the connection must close.
async fn dispatch(
    frame: Frame,
    dir: &Arc<Directory>,
    session: &Arc<Session>,
    tx: &mpsc::Sender<LdapMsg>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> bool {
    let msgid = frame.msgid;
    let op = match frame.op {
        Ok(op) => op,
        Err(bad) => {
            tracing::info!(msgid, reason = %bad.reason, "malformed operation");
            let res = LdapError::new(ResultCode::ProtocolError, bad.reason.clone()).to_result();
            return match bad.op_tag.and_then(|t| response_for_tag(t, res)) {
                Some(op) => tx.send(LdapMsg::new(msgid, op)).await.is_ok(),
                None => {
                    let _ = tx
                        .send(notice_of_disconnection(
                            ResultCode::ProtocolError,
                            "malformed request",
                        ))
                        .await;
                    false
                }
            };
        }
    };
    // RFC 4511 §4.1.11: an unknown critical control fails the operation; unknown
    // non-critical controls are ignored.
    if let Some(c) = frame
        .controls
        .iter()
        .find(|c| c.critical && !SUPPORTED_CONTROLS.contains(&c.oid.as_str()))
    {
        let res = LdapError::new(
            ResultCode::UnavailableCriticalExtension,
            format!("critical control {} is not supported", c.oid),
        )
        .to_result();
        if let Some(resp) = response_for_op(&op, res) {
            return tx.send(LdapMsg::new(msgid, resp)).await.is_ok();
        }
        return true;
    }
    match op {
        LdapOp::UnbindRequest => false,
        LdapOp::AbandonRequest(id) => {
            session.abandon(id);
            true
        }
        LdapOp::BindRequest(req) => {
            let res = bind(dir, session, req, frame.version).await;
            tx.send(LdapMsg::new(
                msgid,
                LdapOp::BindResponse(LdapBindResponse {
                    res,
                    saslcreds: None,
                }),
            ))
            .await
            .is_ok()
        }
        op => {
            let token = session.start(msgid);
            let dir = dir.clone();
            let session = session.clone();
            let tx = tx.clone();
            let increments = frame.increments;
            let controls = frame.controls;
            tokio::spawn(
                async move {
                    run_op(msgid, op, &increments, controls, dir, &session, token, tx).await;
                    session.finish(msgid);
                    drop(permit);
                }
                .instrument(tracing::debug_span!("op", msgid)),
            );
            true
        }
    }
}

async fn bind(
    dir: &Arc<Directory>,
    session: &Session,
    req: ldap3_proto::proto::LdapBindRequest,
    version: Option<u8>,
) -> LdapResult {
    // A bind (even a failing one) first resets the connection to anonymous (§4.2.1).
    session.set_identity(Identity::Anonymous);
    if version == Some(2) && !dir.allow_bind_v2 {
        return LdapError::new(
            ResultCode::ProtocolError,
            "requested protocol version not allowed",
        )
        .to_result();
    }
    let password = match req.cred {
        LdapBindCred::Simple(p) => p,
        LdapBindCred::SASL(_) => {
            return LdapError::new(ResultCode::AuthMethodNotSupported, "SASL is not supported")
                .to_result()
        }
    };
    let d = dir.clone();
    let name = req.dn;
    let outcome =
        tokio::task::spawn_blocking(move || ops::simple_bind(&d, &name, password.as_bytes()))
            .await
            .unwrap_or_else(|_| Err(LdapError::new(ResultCode::Other, "bind failed")));
    match outcome {
        Ok(id) => {
            session.set_identity(id);
            success()
        }
        Err(e) => e.to_result(),
    }
}

/// Runs one operation to completion and sends its response(s).
#[allow(clippy::too_many_arguments)]
async fn run_op(
    msgid: i32,
    op: LdapOp,
    increments: &[usize],
    controls: Vec<RawControl>,
    dir: Arc<Directory>,
    session: &Arc<Session>,
    token: CancellationToken,
    tx: mpsc::Sender<LdapMsg>,
) {
    let who = session.identity();
    if let LdapOp::SearchRequest(req) = &op {
        if let Some(sync) = crate::sync::request_of(&controls) {
            let out = match sync {
                Ok(sync) => {
                    let closing = session.closing();
                    crate::sync::run(
                        dir,
                        who,
                        req.clone(),
                        sync,
                        msgid,
                        token,
                        closing,
                        tx.clone(),
                    )
                    .await
                }
                Err(e) => Some((e.to_result(), Vec::new())),
            };
            if let Some((res, ctrl)) = out {
                let _ = tx
                    .send(LdapMsg::new_with_ctrls(
                        msgid,
                        LdapOp::SearchResultDone(res),
                        ctrl,
                    ))
                    .await;
            }
            return;
        }
    }
    let increments = increments.to_vec();
    let etx = tx.clone();
    let session = session.clone();
    let blocking = tokio::task::spawn_blocking(move || -> Option<(LdapOp, Vec<LdapControl>)> {
        let op =
            match op {
                LdapOp::SearchRequest(req) => {
                    return search(&dir, &who, &session, &req, &controls, &token, |e| {
                        etx.blocking_send(LdapMsg::new(msgid, LdapOp::SearchResultEntry(e)))
                            .is_ok()
                    })
                    .map(|(res, ctrls)| (LdapOp::SearchResultDone(res), ctrls));
                }
                LdapOp::AddRequest(req) => {
                    Some(LdapOp::AddResponse(result_of(&ops::add(&dir, &who, req))))
                }
                LdapOp::ModifyRequest(req) => Some(LdapOp::ModifyResponse(result_of(
                    &ops::modify(&dir, &who, req, &increments),
                ))),
                LdapOp::DelRequest(dn) => Some(LdapOp::DelResponse(result_of(&ops::delete(
                    &dir, &who, &dn,
                )))),
                LdapOp::ModifyDNRequest(req) => Some(LdapOp::ModifyDNResponse(result_of(
                    &ops::modify_dn(&dir, &who, req),
                ))),
                LdapOp::CompareRequest(req) => {
                    Some(LdapOp::CompareResult(match ops::compare(&dir, &who, req) {
                        Ok(true) => LdapError::new(ResultCode::CompareTrue, "").to_result(),
                        Ok(false) => LdapError::new(ResultCode::CompareFalse, "").to_result(),
                        Err(e) => e.to_result(),
                    }))
                }
                LdapOp::ExtendedRequest(req) => {
                    Some(LdapOp::ExtendedResponse(extended(&dir, &who, &req)))
                }
                // Responses and requests handled elsewhere: a client must not send these.
                other => {
                    let res = LdapError::new(ResultCode::ProtocolError, "unexpected operation")
                        .to_result();
                    response_for_op(&other, res)
                }
            };
        op.map(|op| (op, Vec::new()))
    });
    match blocking.await {
        Ok(Some((resp, ctrl))) => {
            let _ = tx.send(LdapMsg::new_with_ctrls(msgid, resp, ctrl)).await;
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "operation task failed");
        }
    }
}

/// A search, paged when the request carries the Simple Paged Results control (RFC 2696).
/// Returns the SearchResultDone result and its controls, or None when abandoned.
fn search(
    dir: &Directory,
    who: &Identity,
    session: &Session,
    req: &ldap3_proto::proto::LdapSearchRequest,
    controls: &[RawControl],
    token: &CancellationToken,
    mut send: impl FnMut(ldap3_proto::proto::LdapSearchResultEntry) -> bool,
) -> Option<(LdapResult, Vec<LdapControl>)> {
    let cancelled = || token.is_cancelled();
    let paged = match controls.iter().find(|c| c.oid == PAGED_RESULTS_OID) {
        None => None,
        // ldap3_proto reads the size as unsigned; a negative size is a protocol error.
        Some(c) if c.value.as_deref().is_some_and(paged_size_is_negative) => {
            let e = LdapError::new(
                ResultCode::ProtocolError,
                "paged results size must not be negative",
            );
            return Some((e.to_result(), Vec::new()));
        }
        Some(c) => match c.to_ldap3() {
            Some(LdapControl::SimplePagedResults { size, cookie }) => Some((size, cookie)),
            _ => {
                let e =
                    LdapError::new(ResultCode::ProtocolError, "malformed paged results control");
                return Some((e.to_result(), Vec::new()));
            }
        },
    };
    let Some((size, cookie)) = paged else {
        let res = match ops::search(dir, who, req, None, &cancelled, &mut send) {
            Ok(end) => end_result(end)?,
            Err(e) => e.to_result(),
        };
        return Some((res, Vec::new()));
    };
    // RFC 2696 §3: the cookie belongs to one search; it is opaque and per connection.
    let key = format!(
        "{}|{:?}|{:?}|{:?}|{}|{}",
        req.base, req.scope, req.filter, req.attrs, req.typesonly, req.sizelimit
    );
    let control = |cookie: Vec<u8>| vec![LdapControl::SimplePagedResults { size: 0, cookie }];
    let returned = if cookie.is_empty() {
        0
    } else {
        match session.take_paged(&cookie) {
            Some(state) if state.request == key => state.returned,
            _ => {
                let e = LdapError::new(
                    ResultCode::UnwillingToPerform,
                    "paged results cookie is invalid",
                );
                return Some((e.to_result(), control(Vec::new())));
            }
        }
    };
    if size < 0 {
        let e = LdapError::new(
            ResultCode::ProtocolError,
            "paged results size must not be negative",
        );
        return Some((e.to_result(), Vec::new()));
    }
    if size == 0 {
        // Size 0: a fresh request gets a cookie and no entries (slapd); with a cookie it
        // abandons the paged search (RFC 2696 §3).
        let next = if cookie.is_empty() {
            session.put_paged(PagedState {
                request: key,
                returned,
            })
        } else {
            Vec::new()
        };
        return Some((success(), control(next)));
    }
    let page = Page {
        skip: returned,
        size: u64::try_from(size).unwrap_or(0),
    };
    let mut sent = 0u64;
    let outcome = ops::search(dir, who, req, Some(page), &cancelled, &mut |e| {
        sent += 1;
        send(e)
    });
    match outcome {
        Ok(SearchEnd::PageFull) => {
            let next = session.put_paged(PagedState {
                request: key,
                returned: returned + sent,
            });
            Some((success(), control(next)))
        }
        Ok(end) => Some((end_result(end)?, control(Vec::new()))),
        Err(e) => Some((e.to_result(), control(Vec::new()))),
    }
}

/// Whether the `size` INTEGER of a paged-results control value (RFC 2696:
/// `SEQUENCE { size INTEGER (0..maxInt), cookie OCTET STRING }`) is negative: its first
/// content octet has the sign bit set.
fn paged_size_is_negative(value: &[u8]) -> bool {
    // Skip the SEQUENCE header (tag, then a short or long definite length).
    let Some(&len0) = value.get(1) else {
        return false;
    };
    let start = if len0 & 0x80 == 0 {
        2
    } else {
        2 + usize::from(len0 & 0x7f)
    };
    match value.get(start..start + 3) {
        Some([0x02, n, first]) if *n > 0 => first & 0x80 != 0,
        _ => false,
    }
}

/// The SearchResultDone result for how a search ended; None when it was abandoned.
fn end_result(end: SearchEnd) -> Option<LdapResult> {
    Some(match end {
        SearchEnd::Done | SearchEnd::PageFull => success(),
        SearchEnd::SizeLimit => LdapError::new(ResultCode::SizeLimitExceeded, "").to_result(),
        SearchEnd::TimeLimit => LdapError::new(ResultCode::TimeLimitExceeded, "").to_result(),
        SearchEnd::Cancelled => return None,
    })
}

/// Extended operations (RFC 4511 §4.12): Who am I? (RFC 4532) and Password Modify (RFC 3062).
fn extended(dir: &Directory, who: &Identity, req: &LdapExtendedRequest) -> LdapExtendedResponse {
    match req.name.as_str() {
        // RFC 4532 §2: the request has no value.
        OID_WHOAMI if req.value.is_some() => LdapExtendedResponse {
            res: LdapError::new(
                ResultCode::ProtocolError,
                "Who am I? takes no request value",
            )
            .to_result(),
            name: None,
            value: None,
        },
        OID_WHOAMI => LdapExtendedResponse {
            res: success(),
            name: None,
            value: Some(who.authz_id().into_bytes()),
        },
        OID_PASSWORD_MODIFY => {
            let parsed = if req.value.is_none() {
                Ok(LdapPasswordModifyRequest {
                    user_identity: None,
                    old_password: None,
                    new_password: None,
                })
            } else {
                LdapPasswordModifyRequest::try_from(req)
            };
            let outcome = match parsed {
                Ok(p) => ops::password_modify(
                    dir,
                    who,
                    p.user_identity.as_deref(),
                    p.old_password.as_deref().map(str::as_bytes),
                    p.new_password.as_deref().map(str::as_bytes),
                ),
                Err(_) => Err(LdapError::new(
                    ResultCode::ProtocolError,
                    "malformed password modify request",
                )),
            };
            match outcome {
                Ok(gen_password) => LdapPasswordModifyResponse {
                    res: success(),
                    gen_password,
                }
                .into(),
                Err(e) => LdapExtendedResponse {
                    res: e.to_result(),
                    name: None,
                    value: None,
                },
            }
        }
        other => LdapExtendedResponse {
            res: LdapError::new(ResultCode::ProtocolError, format!("{other} not supported"))
                .to_result(),
            name: None,
            value: None,
        },
    }
}

/// The response op that answers a request op with `res`; None for ops without a response.
fn response_for_op(op: &LdapOp, res: LdapResult) -> Option<LdapOp> {
    Some(match op {
        LdapOp::BindRequest(_) => LdapOp::BindResponse(LdapBindResponse {
            res,
            saslcreds: None,
        }),
        LdapOp::SearchRequest(_) => LdapOp::SearchResultDone(res),
        LdapOp::ModifyRequest(_) => LdapOp::ModifyResponse(res),
        LdapOp::AddRequest(_) => LdapOp::AddResponse(res),
        LdapOp::DelRequest(_) => LdapOp::DelResponse(res),
        LdapOp::ModifyDNRequest(_) => LdapOp::ModifyDNResponse(res),
        LdapOp::CompareRequest(_) => LdapOp::CompareResult(res),
        LdapOp::ExtendedRequest(_) => LdapOp::ExtendedResponse(LdapExtendedResponse {
            res,
            name: None,
            value: None,
        }),
        _ => return None,
    })
}

/// The response op for a request's APPLICATION tag number (RFC 4511 §4.2–§4.12).
fn response_for_tag(tag: u64, res: LdapResult) -> Option<LdapOp> {
    Some(match tag {
        0 => LdapOp::BindResponse(LdapBindResponse {
            res,
            saslcreds: None,
        }),
        3 => LdapOp::SearchResultDone(res),
        6 => LdapOp::ModifyResponse(res),
        8 => LdapOp::AddResponse(res),
        10 => LdapOp::DelResponse(res),
        12 => LdapOp::ModifyDNResponse(res),
        14 => LdapOp::CompareResult(res),
        23 => LdapOp::ExtendedResponse(LdapExtendedResponse {
            res,
            name: None,
            value: None,
        }),
        _ => return None,
    })
}
