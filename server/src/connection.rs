//! One client connection: a reader loop that decodes frames and dispatches operations, and
//! a writer task that owns the socket's write half (RFC 4511 §5.1).
//!
//! LDAP lets a client keep several operations outstanding (RFC 4511 §4.1.1.1), so every
//! operation but Bind, Unbind and Abandon runs as its own task and answers with its own
//! message id; Bind is handled in line so it is serialized (RFC 4511 §4.2.1). Small reads
//! (a small search, a compare) are answered in line too when the response queue has room
//! ([`inline`]): a task of their own cost more than they do.

use crate::directory::Directory;
use crate::error::{result_of, success, LdapError};
use crate::ops::{self, Found, Page, SearchEnd, PAGED_RESULTS_OID, SUPPORTED_CONTROLS};
use crate::session::{Identity, PagedState, Session};
use crate::sync::pacing;
use crate::tls::{check_security, Io, OpKind};
use futures::{SinkExt, StreamExt};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindResponse, LdapExtendedRequest, LdapExtendedResponse, LdapMsg, LdapOp,
    LdapPasswordModifyRequest, LdapPasswordModifyResponse, LdapResult, OID_PASSWORD_MODIFY,
    OID_WHOAMI,
};
use oxldap_proto::codec::{
    notice_of_disconnection, CodecError, Frame, Outgoing, RawControl, ServerCodec,
};
use oxldap_proto::entry_ber::EncodedMessages;
use oxldap_proto::ResultCode;
use std::sync::Arc;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

mod inline;

/// How many responses may queue for the writer before operations wait (back-pressure on
/// large searches to slow clients).
const RESPONSE_QUEUE: usize = 256;

/// The most operations one connection may have running at once. When a client pipelines
/// more, the server stops reading from it until one finishes, so one client cannot take
/// the blocking pool (and everyone's latency) or unbounded memory.
pub const MAX_IN_FLIGHT: usize = 32;

/// The most operations of one connection on the blocking pool at once (searches too large
/// for the connection's task, updates). A search whose client does not read holds its
/// thread while it waits for room in the response queue; without this bound one such
/// client pipelining searches held [`MAX_IN_FLIGHT`] threads, and 30 of them filled
/// tokio's pool of 512, stalling every other client's searches and writes (tester 14,
/// finding 4). The others wait for a slot without a thread. Two cores gain nothing from
/// more parallel work of one client.
pub const MAX_BLOCKING_PER_CONNECTION: usize = 4;

/// The reading side of a connection: frames decoded from the (plain or TLS) stream.
type Reader = FramedRead<ReadHalf<Io>, ServerCodec>;

/// The writing side of a connection, owned by the writer task.
type Writer = FramedWrite<WriteHalf<Io>, ServerCodec>;

/// Asks the writer task for the socket's write half (StartTLS): the writer first writes
/// every response already queued, hands its [`Writer`] back on `back`, then waits on
/// `resume` for the writer of the upgraded stream (dropped when the upgrade failed: the
/// writer task ends).
struct Handoff {
    back: oneshot::Sender<Writer>,
    resume: oneshot::Receiver<Writer>,
}

/// Serves one connection until the client unbinds or disconnects, or `shutdown` fires.
/// With `ldaps`, the connection starts with a TLS handshake (`ldaps://`).
pub async fn handle(
    stream: TcpStream,
    dir: Arc<Directory>,
    shutdown: CancellationToken,
    max_pdu: usize,
    conn_id: u64,
    ldaps: bool,
) {
    let peer = stream.peer_addr().ok();
    let span = tracing::info_span!("conn", id = conn_id, peer = ?peer);
    async move {
        tracing::debug!("accepted");
        crate::stats::accepted(conn_id, peer);
        let session = Arc::new(Session::default());
        // Bytes sent are counted on the socket itself (below TLS) for cn=Monitor.
        let mut io: Io = Box::new(crate::monitor::CountingWriter::new(
            stream,
            dir.monitor.clone(),
        ));
        if ldaps {
            let Some(tls) = dir.tls.clone() else {
                tracing::warn!("ldaps:// connection but no TLS certificate configured");
                return;
            };
            match tls.accept(io).await {
                Ok((stream, ssf)) => {
                    io = stream;
                    session.set_ssf(ssf);
                }
                Err(e) => {
                    tracing::info!(error = %e, "TLS handshake failed; closing");
                    return;
                }
            }
        }
        let (r, w) = tokio::io::split(io);
        // An anonymous connection reads smaller requests (slapd's `sockbuf_max_incoming`
        // against `sockbuf_max_incoming_auth`); a successful bind raises the limit.
        let limits = PduLimits::new(max_pdu);
        let mut reader: Reader = FramedRead::new(r, ServerCodec::new(limits.anonymous));
        let writer: Writer = FramedWrite::new(w, ServerCodec::new(max_pdu));
        let (tx, rx) = mpsc::channel::<Outgoing>(RESPONSE_QUEUE);
        let (ctl, ctl_rx) = mpsc::channel::<Handoff>(1);
        // Closing (Session::closing) drops the socket even while a write is stuck on a
        // client that does not read.
        let tap = crate::stats::ResultTap::new(conn_id);
        let write_task = tokio::spawn(write_loop(
            writer,
            rx,
            ctl_rx,
            session.closing(),
            tap,
            dir.limits().write_timeout,
        ));
        let closing = session.closing();
        let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        let blocking = Arc::new(tokio::sync::Semaphore::new(MAX_BLOCKING_PER_CONNECTION));
        loop {
            // Back-pressure: wait for a free operation slot before reading the next request
            // (taken without waiting when one is free, the usual case).
            let permit = match in_flight.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => tokio::select! {
                    p = in_flight.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    () = shutdown.cancelled() => {
                        let _ = tx.send(notice_of_disconnection(ResultCode::Unavailable, "server shutting down").into()).await;
                        break;
                    }
                    () = closing.cancelled() => break,
                },
            };
            let frame = tokio::select! {
                f = reader.next() => f,
                () = shutdown.cancelled() => {
                    let _ = tx.send(notice_of_disconnection(ResultCode::Unavailable, "server shutting down").into()).await;
                    break;
                }
                // An operation task panicked, or a persistent search's client does not
                // read: this connection ends (only this one).
                () = closing.cancelled() => break,
                // `idletimeout` (slapd.conf(5)): idle means no request read and no
                // operation outstanding for that long; slapd closes without a notice.
                () = idle_expired(&dir, &session) => {
                    tracing::info!("idle timeout; closing");
                    break;
                }
            };
            match frame {
                None => break,
                Some(Err(CodecError::TooLarge { size, max })) => {
                    tracing::warn!(size, max, "request larger than the maximum PDU size; closing");
                    let _ = tx
                        .send(notice_of_disconnection(ResultCode::ProtocolError, "request too large").into())
                        .await;
                    break;
                }
                Some(Err(e)) => {
                    tracing::info!(error = %e, "undecodable request; closing");
                    let _ = tx
                        .send(notice_of_disconnection(ResultCode::ProtocolError, "malformed request").into())
                        .await;
                    break;
                }
                Some(Ok(frame)) => {
                    if let Some(value) = start_tls_request(&frame) {
                        // StartTLS runs in line: the reader itself is upgraded.
                        drop(permit);
                        let outstanding = in_flight.available_permits() < MAX_IN_FLIGHT
                            || !reader.read_buffer().is_empty();
                        let up = StartTls {
                            msgid: frame.msgid,
                            value,
                            outstanding,
                            max_pdu,
                            read_max_pdu: reader.decoder().max_pdu(),
                        };
                        match up.run(&dir, &session, reader, &tx, &ctl).await {
                            Some(r) => reader = r,
                            None => break,
                        }
                        continue;
                    }
                    if let Ok(op) = &frame.op {
                        crate::stats::request(conn_id, frame.msgid, op);
                    }
                    let bind = matches!(frame.op, Ok(LdapOp::BindRequest(_)));
                    if !dispatch(frame, &dir, &session, &tx, permit, &blocking).await {
                        break;
                    }
                    // A bind runs in line: the identity is its outcome.
                    if bind {
                        let limit = limits.for_identity(&session.identity());
                        reader.decoder_mut().set_max_pdu(limit);
                    }
                }
            }
        }
        session.abandon_all();
        drop(tx);
        drop(ctl);
        let _ = write_task.await;
        tracing::debug!("closed");
        crate::stats::closed(conn_id);
    }
    .instrument(span)
    .await;
}

/// The writer task: writes queued responses in order; on a [`Handoff`] (StartTLS) writes
/// what is queued, gives the write half back and continues on the upgraded stream.
///
/// Messages already queued are encoded together and flushed once (one write syscall for a
/// burst, e.g. a write pushed to many persistent searches). A batch of only
/// persistent-search changes that follows the previous flush within
/// [`pacing::FLUSH_DELAY`] is held until then, collecting what comes meanwhile (see
/// [`crate::sync::pacing`]). When `closing` is cancelled the socket is dropped at once,
/// even while a write is stuck on a client that does not read. `tap` sees every message
/// that may carry a result (the `stats` log lines).
async fn write_loop(
    mut writer: Writer,
    mut rx: mpsc::Receiver<Outgoing>,
    mut ctl: mpsc::Receiver<Handoff>,
    closing: CancellationToken,
    mut tap: crate::stats::ResultTap,
    write_timeout: Option<std::time::Duration>,
) {
    let mut ctl_open = true;
    let mut pacer = pacing::Pacer::default();
    loop {
        tokio::select! {
            biased;
            () = closing.cancelled() => return,
            h = ctl.recv(), if ctl_open => match h {
                None => ctl_open = false,
                Some(h) => {
                    while let Ok(m) = rx.try_recv() {
                        tap.observe(&m);
                        if writer.send(m).await.is_err() {
                            return;
                        }
                    }
                    if h.back.send(writer).is_err() {
                        return;
                    }
                    match h.resume.await {
                        Ok(w) => writer = w,
                        Err(_) => return,
                    }
                }
            },
            m = rx.recv() => match m {
                Some(m) => {
                    // `writetimeout` (slapd.conf(5)) bounds each write that waits on the
                    // client: one that makes no progress for that long drops a client
                    // that does not read, which also ends its operations (their queue
                    // closes) instead of holding their threads.
                    let t = write_timeout;
                    let sent = tokio::select! {
                        r = async {
                            let mut hold = pacing::is_sync_change(&m);
                            tap.observe(&m);
                            bounded(t, writer.feed(m)).await?;
                            while let Ok(more) = rx.try_recv() {
                                hold &= pacing::is_sync_change(&more);
                                tap.observe(&more);
                                bounded(t, writer.feed(more)).await?;
                            }
                            if let Some(until) = pacer.hold_until(Instant::now()).filter(|_| hold) {
                                bounded(t, pacing::collect_until(&mut writer, &mut rx, until)).await?;
                            }
                            bounded(t, SinkExt::<Outgoing>::flush(&mut writer)).await?;
                            pacer.flushed(Instant::now());
                            Ok::<(), WriteFailed>(())
                        } => r,
                        () = closing.cancelled() => return,
                    };
                    let sent = match sent {
                        Ok(()) => true,
                        Err(WriteFailed::TimedOut) => {
                            tracing::info!("write timeout; closing");
                            closing.cancel();
                            return;
                        }
                        Err(WriteFailed::Codec(e)) => {
                            tracing::debug!(error = %e, "write failed; closing");
                            false
                        }
                    };
                    if !sent {
                        break;
                    }
                }
                None => break,
            },
        }
    }
    let _ = SinkExt::<Outgoing>::close(&mut writer).await;
}

/// The request value of a StartTLS extended request (RFC 4511 §4.14.1), if `frame` is
/// one without an unsupported critical control (those are answered by [`dispatch`]).
fn start_tls_request(frame: &Frame) -> Option<Option<Vec<u8>>> {
    match &frame.op {
        Ok(LdapOp::ExtendedRequest(r)) if r.name == crate::tls::START_TLS_OID => {
            let unsupported_critical = frame
                .controls
                .iter()
                .any(|c| c.critical && !SUPPORTED_CONTROLS.contains(&c.oid.as_str()));
            (!unsupported_critical).then(|| r.value.clone())
        }
        _ => None,
    }
}

/// The request size limits of one connection: `max_pdu` (`--max-pdu`, 4 MiB by default,
/// slapd's `sockbuf_max_incoming_auth`) once bound, the smaller of it and
/// [`oxldap_proto::codec::ANONYMOUS_MAX_PDU`] (slapd's `sockbuf_max_incoming`) while
/// anonymous (tester finding, 2026-11-30: an anonymous client's 0.8 MB OR filter cost 33
/// CPU-seconds, where slapd drops the connection). A larger request closes the
/// connection with a Notice of Disconnection (protocolError).
#[derive(Debug, Clone, Copy)]
struct PduLimits {
    anonymous: usize,
    bound: usize,
}

impl PduLimits {
    fn new(max_pdu: usize) -> PduLimits {
        PduLimits {
            anonymous: max_pdu.min(oxldap_proto::codec::ANONYMOUS_MAX_PDU),
            bound: max_pdu,
        }
    }

    /// The limit for requests read as `who`.
    fn for_identity(&self, who: &Identity) -> usize {
        match who {
            Identity::Anonymous => self.anonymous,
            Identity::Root { .. } | Identity::User { .. } => self.bound,
        }
    }
}

/// One StartTLS request (RFC 4511 §4.14, RFC 4513 §3) being answered.
struct StartTls {
    msgid: i32,
    /// The request value; StartTLS has none.
    value: Option<Vec<u8>>,
    /// Other operations were running, or more requests were already buffered.
    outstanding: bool,
    /// The largest response PDU (the writer's codec).
    max_pdu: usize,
    /// The largest request PDU the connection reads now (anonymous or bound).
    read_max_pdu: usize,
}

impl StartTls {
    /// Answers the request and, on success, upgrades the connection: the success
    /// response is the last message written in clear (§4.14.2), then the TLS handshake
    /// runs on the same socket. Returns the reader to continue with (the same one when the
    /// request is refused), or None when the connection must close (handshake failed).
    ///
    /// Refusals, in slapd's order (starttls.c): a request value is protocolError; TLS
    /// already active or outstanding operations are operationsError (§4.14.1.1); no
    /// certificate configured is protocolError (§4.14.1: TLS not supported "by current
    /// configuration"; slapd 2.5 answers "unsupported extended operation").
    async fn run(
        self,
        dir: &Directory,
        session: &Session,
        reader: Reader,
        tx: &mpsc::Sender<Outgoing>,
        ctl: &mpsc::Sender<Handoff>,
    ) -> Option<Reader> {
        let response = |res: LdapResult, name: Option<String>| {
            LdapMsg::new(
                self.msgid,
                LdapOp::ExtendedResponse(LdapExtendedResponse {
                    res,
                    name,
                    value: None,
                }),
            )
        };
        let refusal = if self.value.is_some() {
            Some((ResultCode::ProtocolError, "no request data expected"))
        } else if session.tls_active() {
            Some((ResultCode::OperationsError, "TLS already started"))
        } else if self.outstanding {
            Some((
                ResultCode::OperationsError,
                "cannot start TLS when operations are outstanding",
            ))
        } else if dir.tls.is_none() {
            // RFC 4511 §4.14.1 and slapd: TLS not configured is protocolError.
            Some((ResultCode::ProtocolError, "unsupported extended operation"))
        } else {
            None
        };
        let tls = match (refusal, dir.tls.clone()) {
            (None, Some(tls)) => tls,
            (refusal, _) => {
                let (code, msg) = refusal
                    .unwrap_or((ResultCode::ProtocolError, "unsupported extended operation"));
                let res = LdapError::new(code, msg).to_result();
                tx.send(response(res, None).into()).await.ok()?;
                return Some(reader);
            }
        };
        let (back, back_rx) = oneshot::channel();
        let (resume_tx, resume) = oneshot::channel();
        ctl.send(Handoff { back, resume }).await.ok()?;
        let mut writer = back_rx.await.ok()?;
        let ok = response(success(), Some(crate::tls::START_TLS_OID.to_string()));
        writer.send(Outgoing::from(ok)).await.ok()?;
        // Invariant: both halves come from the one `tokio::io::split` of this connection,
        // so `unsplit` cannot fail. The read buffer is empty (checked as "outstanding").
        let io = reader.into_inner().unsplit(writer.into_inner());
        match tls.accept(io).await {
            Ok((io, ssf)) => {
                session.set_ssf(ssf);
                tracing::debug!(ssf, "StartTLS: TLS established");
                let (r, w) = tokio::io::split(io);
                resume_tx
                    .send(FramedWrite::new(w, ServerCodec::new(self.max_pdu)))
                    .ok()?;
                Some(FramedRead::new(r, ServerCodec::new(self.read_max_pdu)))
            }
            Err(e) => {
                tracing::info!(error = %e, "StartTLS handshake failed; closing");
                None
            }
        }
    }
}

/// Why the writer stopped writing a batch.
enum WriteFailed {
    /// The socket or the codec failed: the connection is gone.
    Codec(CodecError),
    /// One write made no progress for `writetimeout`.
    TimedOut,
}

/// `write` within `timeout` (no bound without one).
async fn bounded<T>(
    timeout: Option<std::time::Duration>,
    write: impl std::future::Future<Output = Result<T, CodecError>>,
) -> Result<T, WriteFailed> {
    match timeout {
        Some(t) => tokio::time::timeout(t, write)
            .await
            .map_err(|_| WriteFailed::TimedOut)?
            .map_err(WriteFailed::Codec),
        None => write.await.map_err(WriteFailed::Codec),
    }
}

/// Resolves once the connection has been idle for `idletimeout` (never without one). A
/// connection with operations outstanding (a persistent search, a long search) is not idle.
async fn idle_expired(dir: &Directory, session: &Session) {
    let Some(idle) = dir.limits().idle_timeout else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(idle).await;
        if session.running() == 0 {
            return;
        }
    }
}

/// The text of a caught panic's payload, for the log.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string())
}

/// Handles one frame; returns false when the connection must close.
async fn dispatch(
    frame: Frame,
    dir: &Arc<Directory>,
    session: &Arc<Session>,
    tx: &mpsc::Sender<Outgoing>,
    permit: tokio::sync::OwnedSemaphorePermit,
    blocking: &Arc<tokio::sync::Semaphore>,
) -> bool {
    let msgid = frame.msgid;
    let op = match frame.op {
        Ok(op) => op,
        Err(bad) => {
            tracing::info!(msgid, reason = %bad.reason, "malformed operation");
            let code = if bad.invalid_dn {
                ResultCode::InvalidDnSyntax
            } else {
                ResultCode::ProtocolError
            };
            let res = LdapError::new(code, bad.reason.clone()).to_result();
            return match bad.op_tag.and_then(|t| response_for_tag(t, res)) {
                Some(op) => tx.send(LdapMsg::new(msgid, op).into()).await.is_ok(),
                None => {
                    let _ = tx
                        .send(
                            notice_of_disconnection(ResultCode::ProtocolError, "malformed request")
                                .into(),
                        )
                        .await;
                    false
                }
            };
        }
    };
    // RFC 4511 §4.1.1: a PDU whose protocolOp is not a request (a response, a search
    // result, an intermediate response) cannot be answered: end the session with a
    // Notice of Disconnection, as slapd does ("unknown LDAP request", protocolError).
    if !is_request(&op) {
        tracing::info!(msgid, "a response PDU sent as a request; closing");
        let _ = tx
            .send(notice_of_disconnection(ResultCode::ProtocolError, "unknown LDAP request").into())
            .await;
        return false;
    }
    // Counted as completed when dropped: after the response is queued.
    let counted = dir.monitor.op_started(&op);
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
            return tx.send(LdapMsg::new(msgid, resp).into()).await.is_ok();
        }
        return true;
    }
    // Bind runs in line, so the controls of crate::controls are checked here: none
    // applies to Bind, so a critical one is unavailableCriticalExtension (as slapd).
    if let LdapOp::BindRequest(_) = &op {
        if let Err(e) = crate::controls::OpControls::parse(&op, &frame.controls) {
            let res = LdapOp::BindResponse(LdapBindResponse {
                res: e.to_result(),
                saslcreds: None,
            });
            return tx.send(LdapMsg::new(msgid, res).into()).await.is_ok();
        }
    }
    match op {
        LdapOp::UnbindRequest => false,
        LdapOp::AbandonRequest(id) => {
            session.abandon(id);
            true
        }
        LdapOp::BindRequest(req) => {
            let res = bind(dir, session, req, frame.version, frame.bind_password).await;
            tx.send(
                LdapMsg::new(
                    msgid,
                    LdapOp::BindResponse(LdapBindResponse {
                        res,
                        saslcreds: None,
                    }),
                )
                .into(),
            )
            .await
            .is_ok()
        }
        op => {
            if let LdapOp::ExtendedRequest(req) = &op {
                crate::testhook::maybe_panic_in_connection(&req.name);
            }
            // The identity is taken now, in the order the requests arrived: a Bind read
            // after this request must not change who it runs as, though the Bind may be
            // done first (RFC 4511 §4.2.1: operations before a Bind complete as they
            // were; slapd abandons them instead).
            let who = session.identity();
            // A small read answers here, on the reader task, when a queue slot is free for
            // its answer (see `inline`): no task of its own, no hop to another thread. It
            // is not registered as running: nothing can abandon it before it is answered.
            let mut small = None;
            if inline::is_candidate(&op, &frame.controls) {
                if let Ok(slot) = tx.try_reserve() {
                    small = inline::is_small(dir, &op);
                    if small == Some(true) {
                        let answered =
                            inline::answer(msgid, op, &who, &frame.controls, dir, session, slot);
                        drop(counted);
                        drop(permit);
                        return answered;
                    }
                }
            }
            let token = session.start(msgid);
            let dir = dir.clone();
            let session = session.clone();
            let tx = tx.clone();
            let increments = frame.increments;
            let controls = frame.controls;
            let blocking = blocking.clone();
            tokio::spawn(
                async move {
                    let run = std::panic::AssertUnwindSafe(run_op(
                        msgid,
                        op,
                        who,
                        small,
                        &increments,
                        controls,
                        dir,
                        &session,
                        token,
                        tx,
                        blocking,
                    ));
                    if let Err(p) = futures::FutureExt::catch_unwind(run).await {
                        tracing::error!(msgid, panic = %panic_message(&p), "operation panicked; closing the connection");
                        session.closing.cancel();
                    }
                    session.finish(msgid);
                    crate::cancel::finished(&session, msgid);
                    drop(counted);
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
    raw_password: Option<Vec<u8>>,
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
    // A password that is not UTF-8 arrives beside the request (`Frame::bind_password`).
    let password: Vec<u8> = match req.cred {
        LdapBindCred::Simple(p) => raw_password.unwrap_or_else(|| p.into_bytes()),
        LdapBindCred::SASL(_) => {
            return LdapError::new(ResultCode::AuthMethodNotSupported, "SASL is not supported")
                .to_result()
        }
    };
    // slapd's fe_op_bind, for a Bind without a DN or without a password: a password
    // without a DN is invalidCredentials (49) unless `allow bind_anon_cred`, a DN without
    // a password unwillingToPerform (53) unless `allow bind_anon_dn` (RFC 4513 §5.1.2),
    // then `disallow bind_anon` makes the anonymous Bind inappropriateAuthentication (48).
    // `disallow bind_simple` refuses a Bind with both.
    if req.dn.is_empty() || password.is_empty() {
        if !req.dn.is_empty() {
            if let Err(e) = oxldap_proto::Dn::parse(&req.dn) {
                return LdapError::from(e).to_result();
            }
        }
        let refusal = if !password.is_empty() && !dir.allow_bind_anon_cred {
            Some(LdapError::new(ResultCode::InvalidCredentials, ""))
        } else if !req.dn.is_empty() && !dir.allow_bind_anon_dn {
            Some(LdapError::new(
                ResultCode::UnwillingToPerform,
                "unauthenticated bind (DN with no password) disallowed",
            ))
        } else if dir.disallow_bind_anon {
            Some(LdapError::new(
                ResultCode::InappropriateAuthentication,
                "anonymous bind disallowed",
            ))
        } else {
            None
        };
        if let Some(e) = refusal {
            return e.to_result();
        }
    } else if dir.disallow_bind_simple {
        return LdapError::new(
            ResultCode::UnwillingToPerform,
            "unwilling to perform simple authentication",
        )
        .to_result();
    }
    let kind = if req.dn.is_empty() || password.is_empty() {
        OpKind::AnonymousBind
    } else {
        OpKind::SimpleBind
    };
    if let Err(e) = check_security(&dir.security, dir.simple_bind_ssf, session.ssf(), kind) {
        tracing::info!(dn = %req.dn, reason = %e.message, "bind refused");
        return e.to_result();
    }
    if req.dn.is_empty() || password.is_empty() {
        // An anonymous Bind the checks above let through: the session stays anonymous.
        return success();
    }
    // The lookup is a read or two; comparing a slow hash ({PBKDF2}, {ARGON2}, {CRYPT})
    // runs on the blocking pool so it does not stall the other connections.
    let outcome = match ops::lookup_simple_bind(dir, &req.dn, &password) {
        Ok(ops::SimpleBind::Pending(p)) if !p.is_cheap() => {
            tokio::task::spawn_blocking(move || p.finish())
                .await
                .unwrap_or_else(|_| Err(LdapError::new(ResultCode::Other, "bind failed")))
        }
        Ok(ops::SimpleBind::Pending(p)) => p.finish(),
        Ok(ops::SimpleBind::Decided(who)) => Ok(who),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(id) => {
            session.set_identity(id);
            success()
        }
        Err(e) => e.to_result(),
    }
}

/// Runs one operation to completion and sends its response(s). `small`: whether a search
/// was already found small or not ([`inline::is_small`]; None: not asked yet).
#[allow(clippy::too_many_arguments)]
async fn run_op(
    msgid: i32,
    op: LdapOp,
    who: Identity,
    small: Option<bool>,
    increments: &[usize],
    controls: Vec<RawControl>,
    dir: Arc<Directory>,
    session: &Arc<Session>,
    token: CancellationToken,
    tx: mpsc::Sender<Outgoing>,
    blocking: Arc<tokio::sync::Semaphore>,
) {
    let kind = match &op {
        LdapOp::AddRequest(_)
        | LdapOp::ModifyRequest(_)
        | LdapOp::DelRequest(_)
        | LdapOp::ModifyDNRequest(_) => OpKind::Update,
        LdapOp::ExtendedRequest(r) if r.name == OID_PASSWORD_MODIFY => OpKind::Update,
        _ => OpKind::Read,
    };
    if let Err(e) = check_security(&dir.security, dir.simple_bind_ssf, session.ssf(), kind) {
        if let Some(resp) = response_for_op(&op, e.to_result()) {
            let _ = tx.send(LdapMsg::new(msgid, resp).into()).await;
        }
        return;
    }
    // Assertion, pre/post-read and matched values (RFC 4528, 4527, 3876).
    let mut op_ctrls = match crate::controls::OpControls::parse(&op, &controls) {
        Ok(c) => c,
        Err(e) => {
            if let Some(resp) = response_for_op(&op, e.to_result()) {
                let _ = tx.send(LdapMsg::new(msgid, resp).into()).await;
            }
            return;
        }
    };
    // Cancel (RFC 3909) waits for the operation it cancels, on this task.
    if let LdapOp::ExtendedRequest(req) = &op {
        if req.name == crate::cancel::CANCEL_OID {
            let resp = crate::cancel::run(session, msgid, req).await;
            let _ = tx
                .send(LdapMsg::new(msgid, LdapOp::ExtendedResponse(resp)).into())
                .await;
            return;
        }
    }
    if let LdapOp::SearchRequest(req) = &op {
        if let Some(sync) = crate::sync::request_of(&controls) {
            // The assertion is tested on the base entry first (RFC 4528 §3), as slapd
            // does for a content-sync search (assertionFailed, 122).
            let sync = sync.and_then(|s| {
                crate::controls::check_search_base(&dir, &who, req, &op_ctrls).map(|()| s)
            });
            let out = match sync {
                Ok(sync) => {
                    let closing = session.closing();
                    // Matched values (RFC 3876) apply to the refresh's entries.
                    let mv = crate::controls::ValuesReturn::take(&mut op_ctrls, req);
                    crate::sync::run(
                        dir,
                        who,
                        req.clone(),
                        sync,
                        mv,
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
                    .send(
                        LdapMsg::new_with_ctrls(msgid, LdapOp::SearchResultDone(res), ctrl).into(),
                    )
                    .await;
            } else if let Some(w) = crate::cancel::take_waiting(session, msgid) {
                crate::cancel::canceled_done(msgid, w, &tx).await;
            }
            return;
        }
    }
    if let LdapOp::SearchRequest(req) = &op {
        // A search that reads a few entries (a base search, a small index candidate set)
        // runs on this task: handing it to the blocking pool costs more than the search.
        if small.unwrap_or_else(|| ops::is_small_search(&dir, req)) {
            let Some((answer, stopped)) = small_search(
                msgid,
                req,
                &who,
                &controls,
                &mut op_ctrls,
                &dir,
                session,
                &token,
            ) else {
                return;
            };
            let cancel = if stopped {
                crate::cancel::take_waiting(session, msgid)
            } else {
                None
            };
            let _ = tx.send(answer).await;
            if let Some(w) = cancel {
                crate::cancel::canceled_done(msgid, w, &tx).await;
            }
            return;
        }
    }
    let increments = increments.to_vec();
    // A search costed above (`is_small_search`) but too large for this task: its plan
    // goes with it to the blocking pool.
    let costed = matches!(op, LdapOp::SearchRequest(_)).then(oxldap_store::CostedSearch::take);
    let etx = tx.clone();
    let closing = session.closing.clone();
    let session = session.clone();
    let cut = closing.clone();
    // A slot on the blocking pool (MAX_BLOCKING_PER_CONNECTION); the semaphore is never
    // closed. Abandoned or closing meanwhile: the operation stops at its first check.
    let Ok(slot) = blocking.acquire_owned().await else {
        return;
    };
    let blocking = tokio::task::spawn_blocking(move || -> Option<(LdapOp, Vec<LdapControl>)> {
        let _slot = slot;
        use crate::controls as c;
        // Response controls of updates (pre-read, post-read).
        let mut rc = Vec::new();
        let op = match op {
            LdapOp::SearchRequest(req) => {
                if let Some(costed) = costed {
                    costed.resume();
                }
                let mut batch = EntryBatch::new(msgid, &etx);
                let done = search_with_controls(
                    &dir,
                    &who,
                    &session,
                    &req,
                    &controls,
                    &mut op_ctrls,
                    &token,
                    |e| batch.push(e),
                );
                // The SearchResultDone goes out with the last burst.
                let stopped = done.is_none();
                if let Some((res, ctrls)) = done {
                    let m = LdapMsg::new_with_ctrls(msgid, LdapOp::SearchResultDone(res), ctrls);
                    if let Err(e) = batch.held.push_message(m) {
                        tracing::warn!(error = %e, "cannot encode a search result; closing");
                        cut.cancel();
                        return None;
                    }
                }
                batch.flush();
                if stopped {
                    if let Some(w) = crate::cancel::take_waiting(&session, msgid) {
                        let _ =
                            etx.blocking_send(crate::cancel::canceled_search_done(msgid).into());
                        let _ = w.send(true);
                    }
                }
                return None;
            }
            LdapOp::AddRequest(mut req) => Some(LdapOp::AddResponse(result_of(
                &ops::hash_passwords_in_add(&dir, &mut req)
                    .and_then(|()| c::add(&dir, &who, req, &op_ctrls, &mut rc)),
            ))),
            LdapOp::ModifyRequest(mut req) => Some(LdapOp::ModifyResponse(result_of(
                &ops::hash_passwords_in_modify(&dir, &mut req)
                    .and_then(|()| c::modify(&dir, &who, req, &increments, &op_ctrls, &mut rc)),
            ))),
            LdapOp::DelRequest(dn) => Some(LdapOp::DelResponse(result_of(&c::delete(
                &dir, &who, &dn, &op_ctrls, &mut rc,
            )))),
            LdapOp::ModifyDNRequest(req) => Some(LdapOp::ModifyDNResponse(result_of(
                &c::modify_dn(&dir, &who, req, &op_ctrls, &mut rc),
            ))),
            LdapOp::CompareRequest(req) => Some(LdapOp::CompareResult(inline::compare_result(
                &dir, &who, req, &op_ctrls,
            ))),
            LdapOp::ExtendedRequest(req) => {
                crate::testhook::maybe_panic(&req.name);
                Some(LdapOp::ExtendedResponse(extended(&dir, &who, &req)))
            }
            // Responses and requests handled elsewhere: a client must not send these.
            other => {
                let res =
                    LdapError::new(ResultCode::ProtocolError, "unexpected operation").to_result();
                response_for_op(&other, res)
            }
        };
        op.map(|op| (op, rc))
    });
    match blocking.await {
        Ok(Some((resp, ctrl))) => {
            let _ = tx
                .send(LdapMsg::new_with_ctrls(msgid, resp, ctrl).into())
                .await;
        }
        Ok(None) => {}
        // A panic on the blocking pool: close this connection (the client cannot know
        // what state the operation left), keep serving the others.
        Err(e) => match e.try_into_panic() {
            Ok(p) => {
                tracing::error!(msgid, panic = %panic_message(&p), "operation panicked; closing the connection");
                closing.cancel();
            }
            Err(e) => tracing::error!(error = %e, "operation task failed"),
        },
    }
}

/// A small search (a base search, a small index candidate set) run to its end where it is
/// called: its entries are encoded as they are found and the SearchResultDone joins them,
/// so the whole answer is one queue message (one hand-off to the writer). Also returns
/// whether the search stopped without a result (abandoned or cancelled: the answer then
/// holds only the entries sent before). None when the result cannot be encoded: the
/// connection is closing (`Session::closing`), as the writer's codec would fail alike.
#[allow(clippy::too_many_arguments)]
fn small_search(
    msgid: i32,
    req: &ldap3_proto::proto::LdapSearchRequest,
    who: &Identity,
    controls: &[RawControl],
    op_ctrls: &mut crate::controls::OpControls,
    dir: &Directory,
    session: &Session,
    token: &CancellationToken,
) -> Option<(Outgoing, bool)> {
    let mut entries = EncodedMessages::default();
    let done = search_with_controls(dir, who, session, req, controls, op_ctrls, token, |e| {
        e.encode(msgid, &mut entries);
        true
    });
    let stopped = done.is_none();
    if let Some((res, ctrls)) = done {
        let m = LdapMsg::new_with_ctrls(msgid, LdapOp::SearchResultDone(res), ctrls);
        if let Err(e) = entries.push_message(m) {
            tracing::warn!(error = %e, "cannot encode a search result; closing");
            session.closing().cancel();
            return None;
        }
    }
    Some((entries.take(), stopped))
}

/// Search result entries on their way from the blocking pool to the writer task, queued
/// in bursts: one entry at a time, the writer woke and made a write syscall per entry
/// (half the server's CPU for a 150-entry search on one connection). A burst goes out at
/// [`EntryBatch::MAX`] entries or [`EntryBatch::MAX_BYTES`] bytes, or with the first entry
/// found [`EntryBatch::MAX_WAIT`] or more after the last burst, so a slow search still
/// streams (an entry is held at most until the next one is found or the search ends).
///
/// Entries are BER-encoded here, on the search's thread, as they are found
/// ([`EncodedMessages`]): the writer task receives ready bytes, and each entry is freed on
/// the thread that decoded it.
struct EntryBatch<'a> {
    /// The search's messageID, carried by every entry.
    msgid: i32,
    /// The connection's response queue.
    tx: &'a mpsc::Sender<Outgoing>,
    /// The encoded entries of the burst being collected.
    held: EncodedMessages,
    /// When the last burst went out (or the search started).
    last_burst: std::time::Instant,
}

impl<'a> EntryBatch<'a> {
    /// Entries per burst.
    const MAX: usize = 32;
    /// Bytes per burst: a burst takes one slot of the response queue, so this bounds
    /// what a connection whose client does not read can hold (with [`RESPONSE_QUEUE`]
    /// slots, about 16 MiB, plus one entry per slot).
    const MAX_BYTES: usize = 64 * 1024;
    /// The longest an entry waits for its burst.
    const MAX_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

    fn new(msgid: i32, tx: &'a mpsc::Sender<Outgoing>) -> EntryBatch<'a> {
        EntryBatch {
            msgid,
            tx,
            held: EncodedMessages::default(),
            last_burst: std::time::Instant::now(),
        }
    }

    /// Queues an entry; false when the client is gone.
    fn push(&mut self, e: Found<'_>) -> bool {
        e.encode(self.msgid, &mut self.held);
        if self.held.len() >= Self::MAX
            || self.held.byte_len() >= Self::MAX_BYTES
            || self.last_burst.elapsed() >= Self::MAX_WAIT
        {
            return self.flush();
        }
        true
    }

    /// Sends the held entries (blocking: call on the blocking pool); false when the client
    /// is gone.
    fn flush(&mut self) -> bool {
        self.last_burst = std::time::Instant::now();
        if self.held.is_empty() {
            return true;
        }
        self.tx.blocking_send(self.held.take()).is_ok()
    }
}

/// A search with the assertion (RFC 4528, tested on the base) and matched values (RFC
/// 3876, applied to each entry) controls, then as [`search`].
#[allow(clippy::too_many_arguments)]
fn search_with_controls(
    dir: &Directory,
    who: &Identity,
    session: &Session,
    req: &ldap3_proto::proto::LdapSearchRequest,
    controls: &[RawControl],
    op_ctrls: &mut crate::controls::OpControls,
    token: &CancellationToken,
    mut send: impl FnMut(Found<'_>) -> bool,
) -> Option<(LdapResult, Vec<LdapControl>)> {
    if let Err(e) = crate::controls::check_search_base(dir, who, req, op_ctrls) {
        return Some((e.to_result(), Vec::new()));
    }
    let mv = crate::controls::ValuesReturn::take(op_ctrls, req);
    search(dir, who, session, req, controls, token, |e| {
        if mv.is_active() {
            send(Found::Entry(mv.apply(dir, e.into_entry())))
        } else {
            send(e)
        }
    })
}

/// A search, sorted when the request carries the sort control (RFC 2891, see
/// [`crate::sort`]), paged when it carries the Simple Paged Results control (RFC 2696).
/// Returns the SearchResultDone result and its controls, or None when abandoned.
fn search(
    dir: &Directory,
    who: &Identity,
    session: &Session,
    req: &ldap3_proto::proto::LdapSearchRequest,
    controls: &[RawControl],
    token: &CancellationToken,
    mut send: impl FnMut(Found<'_>) -> bool,
) -> Option<(LdapResult, Vec<LdapControl>)> {
    use crate::sort;
    // slapd (controls.c, parsePagedResults): a second paged results control is a
    // protocolError, critical or not.
    if controls
        .iter()
        .filter(|c| c.oid == PAGED_RESULTS_OID)
        .count()
        > 1
    {
        let e = LdapError::new(
            ResultCode::ProtocolError,
            "paged results control specified multiple times",
        );
        return Some((e.to_result(), Vec::new()));
    }
    let Some((critical, keys)) = sort::request_of(controls) else {
        return search_unsorted(dir, who, session, req, controls, token, send);
    };
    let Ok(keys) = keys else {
        let e = LdapError::new(ResultCode::ProtocolError, "malformed sort control");
        return Some((e.to_result(), Vec::new()));
    };
    let keys = match sort::resolve(dir, &keys) {
        Ok(k) => k,
        Err(code) => {
            let e = LdapError::new(code, "cannot sort by the requested keys");
            return Some((e.to_result(), Vec::new()));
        }
    };
    // Not sorted: a critical request fails with `code`; otherwise the search runs unsorted
    // and the response control carries `code` (RFC 2891 §1.2).
    let mut unsorted = |code: ResultCode, why: &'static str| {
        if critical {
            let e = LdapError::new(code, why);
            return Some((e.to_result(), vec![sort::response(code)]));
        }
        let mut out = search_unsorted(dir, who, session, req, controls, token, &mut send)?;
        out.1.push(sort::response(code));
        Some(out)
    };
    // Sorted and paged (as slapd's sssvlv): the first page sorts the whole result and
    // keeps the rest for the cookie; later pages only read what was kept.
    let paged = match paged_request(controls) {
        Ok(p) => p,
        Err(res) => return Some((res, Vec::new())),
    };
    // The cookie is bound to the request but not to the sort keys: as sssvlv, a cookie
    // sent back with other keys continues the list it was given for.
    let key = paged.as_ref().map(|_| paged_key(req, "sorted"));
    if let (Some((size, cookie)), Some(key)) = (&paged, &key) {
        // A cookie this connection holds for this request continues it; as sssvlv, an
        // unknown or stale cookie starts the sorted search again from its first page.
        let held = match session.take_paged(cookie) {
            Some(state) if !cookie.is_empty() && &state.request == key => {
                state.sorted.map(|rest| (state.returned, rest))
            }
            _ => None,
        };
        if let Some((returned, rest)) = held {
            if *size == 0 {
                // Size 0 with a cookie abandons the paged search (RFC 2696 §3); sssvlv
                // answers success with no response control.
                return Some((success(), Vec::new()));
            }
            return send_sorted_page(session, key.clone(), returned, *size, rest, &mut send);
        }
    }
    // As sssvlv: the whole candidate set is sorted, then the size limit applies to the
    // sorted result (the first `limit` entries of the order), page by page when paged.
    let cancelled = || token.is_cancelled();
    let mut sorter = sort::Sorter::new(dir, &keys, ops::size_limit(dir, who, req));
    let mut over = false;
    let end = ops::search_found_unsized(dir, who, req, &cancelled, &mut |e| {
        over = !sorter.push(e.into_entry());
        !over
    });
    if over {
        return unsorted(ResultCode::AdminLimitExceeded, "too many entries to sort");
    }
    let end = match end {
        Ok(end) => end,
        Err(e) => return Some((e.to_result(), Vec::new())),
    };
    let (sorted, cut) = sorter.finish();
    let end = match end {
        SearchEnd::Done if cut => SearchEnd::SizeLimit,
        end => end,
    };
    if let (Some((size, _)), Some(key)) = (paged, key) {
        let rest = crate::session::SortedRest {
            entries: sorted.into(),
            end,
        };
        return send_sorted_page(session, key, 0, size, rest, &mut send);
    }
    for e in sorted {
        if !send(Found::Entry(e)) {
            return None;
        }
    }
    Some((end_result(end)?, vec![sort::response(ResultCode::Success)]))
}

/// [`search`] without sorting.
fn search_unsorted(
    dir: &Directory,
    who: &Identity,
    session: &Session,
    req: &ldap3_proto::proto::LdapSearchRequest,
    controls: &[RawControl],
    token: &CancellationToken,
    mut send: impl FnMut(Found<'_>) -> bool,
) -> Option<(LdapResult, Vec<LdapControl>)> {
    let cancelled = || token.is_cancelled();
    let paged = match paged_request(controls) {
        Ok(p) => p,
        Err(res) => return Some((res, Vec::new())),
    };
    let Some((size, cookie)) = paged else {
        let res = match ops::search_found(dir, who, req, None, &cancelled, &mut send) {
            Ok(end) => end_result(end)?,
            Err(e) => e.to_result(),
        };
        return Some((res, Vec::new()));
    };
    let key = paged_key(req, "");
    let control = |cookie: Vec<u8>| vec![paged_control(cookie)];
    let returned = if cookie.is_empty() {
        0
    } else {
        match session.take_paged(&cookie) {
            Some(state) if state.request == key => state.returned,
            _ => return Some(invalid_cookie(&cookie)),
        }
    };
    if size == 0 {
        // Size 0: a fresh request gets a cookie and no entries (slapd); with a cookie it
        // abandons the paged search (RFC 2696 §3).
        let next = if cookie.is_empty() {
            session.put_paged(PagedState {
                request: key,
                returned,
                sorted: None,
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
    let outcome = ops::search_found(dir, who, req, Some(page), &cancelled, &mut |e| {
        sent += 1;
        send(e)
    });
    match outcome {
        Ok(SearchEnd::PageFull) => {
            let next = session.put_paged(PagedState {
                request: key,
                returned: returned + sent,
                sorted: None,
            });
            Some((success(), control(next)))
        }
        Ok(end) => Some((end_result(end)?, control(Vec::new()))),
        Err(e) => Some((e.to_result(), control(Vec::new()))),
    }
}

/// The Simple Paged Results control of a search (RFC 2696 §2): None without one, else its
/// size and cookie. Err: the protocolError answer for a malformed control or a negative
/// size (`size INTEGER (0..maxInt)`).
fn paged_request(controls: &[RawControl]) -> Result<Option<(i64, Vec<u8>)>, LdapResult> {
    let Some(c) = controls.iter().find(|c| c.oid == PAGED_RESULTS_OID) else {
        return Ok(None);
    };
    let negative = || {
        LdapError::new(
            ResultCode::ProtocolError,
            "paged results size must not be negative",
        )
        .to_result()
    };
    // ldap3_proto reads the size as unsigned; a negative size is a protocol error.
    if c.value.as_deref().is_some_and(paged_size_is_negative) {
        return Err(negative());
    }
    match c.to_ldap3() {
        Some(LdapControl::SimplePagedResults { size, .. }) if size < 0 => Err(negative()),
        Some(LdapControl::SimplePagedResults { size, cookie }) => Ok(Some((size, cookie))),
        _ => Err(
            LdapError::new(ResultCode::ProtocolError, "malformed paged results control")
                .to_result(),
        ),
    }
}

/// What a paged-results cookie is bound to (RFC 2696 §3: a cookie belongs to one search
/// and may only be sent back with the same request): base, scope, filter, attributes,
/// typesOnly and size limit, plus `sort` (marks a sorted paged search).
fn paged_key(req: &ldap3_proto::proto::LdapSearchRequest, sort: &str) -> String {
    format!(
        "{}|{:?}|{:?}|{:?}|{}|{}|{sort}",
        req.base, req.scope, req.filter, req.attrs, req.typesonly, req.sizelimit
    )
}

/// The paged results response control carrying `cookie` (empty: the search is over).
fn paged_control(cookie: Vec<u8>) -> LdapControl {
    LdapControl::SimplePagedResults { size: 0, cookie }
}

/// The answer to a cookie this connection did not hand out for this request, as slapd
/// (`parsePagedResults` and back-mdb): a cookie that cannot be one of ours (ours are 8
/// octets) is protocolError, "paged results cookie is invalid"; a well-formed one that is
/// unknown, stale or for another request is unwillingToPerform, "... invalid or old".
/// Both with an empty cookie.
fn invalid_cookie(cookie: &[u8]) -> (LdapResult, Vec<LdapControl>) {
    let e = if cookie.len() == 8 {
        LdapError::new(
            ResultCode::UnwillingToPerform,
            "paged results cookie is invalid or old",
        )
    } else {
        LdapError::new(ResultCode::ProtocolError, "paged results cookie is invalid")
    };
    (e.to_result(), vec![paged_control(Vec::new())])
}

/// Sends the next `size` entries of a sorted paged search (RFC 2891 with RFC 2696, as
/// slapd's sssvlv): the page's result carries the paged results control (with a cookie
/// while entries remain) and the sort response control. The last page reports how the
/// collecting search ended. None when the client went away.
fn send_sorted_page(
    session: &Session,
    request: String,
    returned: u64,
    size: i64,
    mut rest: crate::session::SortedRest,
    send: &mut impl FnMut(Found<'_>) -> bool,
) -> Option<(LdapResult, Vec<LdapControl>)> {
    let sorted = crate::sort::response(ResultCode::Success);
    let take = usize::try_from(size).unwrap_or(0).min(rest.entries.len());
    for e in rest.entries.drain(..take) {
        if !send(Found::Entry(e)) {
            return None;
        }
    }
    if rest.entries.is_empty() {
        return Some((
            end_result(rest.end)?,
            vec![paged_control(Vec::new()), sorted],
        ));
    }
    let next = session.put_paged(PagedState {
        request,
        returned: returned + take as u64,
        sorted: Some(rest),
    });
    Some((success(), vec![paged_control(next), sorted]))
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
                Ok(Some(generated)) => LdapPasswordModifyResponse {
                    res: success(),
                    gen_password: Some(generated),
                }
                .into(),
                // RFC 3062 §2 and slapd: no generated password, no responseValue (an
                // empty SEQUENCE made ldappasswd print "ber_scanf: Success").
                Ok(None) => LdapExtendedResponse {
                    res: success(),
                    name: None,
                    value: None,
                },
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

/// Whether `op` is one of the requests of RFC 4511 §4.2–§4.12 a client may send.
fn is_request(op: &LdapOp) -> bool {
    matches!(
        op,
        LdapOp::BindRequest(_)
            | LdapOp::UnbindRequest
            | LdapOp::SearchRequest(_)
            | LdapOp::ModifyRequest(_)
            | LdapOp::AddRequest(_)
            | LdapOp::DelRequest(_)
            | LdapOp::ModifyDNRequest(_)
            | LdapOp::CompareRequest(_)
            | LdapOp::AbandonRequest(_)
            | LdapOp::ExtendedRequest(_)
    )
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
