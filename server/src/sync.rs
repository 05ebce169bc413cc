//! Content synchronization provider (RFC 4533): the Sync Request control on search, in
//! refreshOnly and refreshAndPersist modes, with slapd-style cookies.
//!
//! Refresh uses the present phase (RFC 4533 §3.3.1): entries changed after the cookie's
//! CSN are sent in full with a Sync State `add`, unchanged matching entries only by their
//! entryUUID in syncIdSet messages, and the consumer drops what was neither sent nor
//! present. This is what slapd does without a session log, and it is correct for any
//! cookie, so `e-syncRefreshRequired` is never needed. The persist phase follows the
//! store's committed writes (before and after images) through a bounded broadcast
//! channel: a consumer that falls behind by more than [`PERSIST_BUFFER`] writes gets
//! `e-syncRefreshRequired` (4096) and must refresh, so a slow consumer never slows writers.

use crate::directory::Directory;
use crate::error::{success, LdapError};
use crate::ops::{self, Page};
use crate::session::Identity;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapIntermediateResponse, LdapMsg, LdapOp, LdapResult, LdapSearchRequest,
    LdapSearchResultEntry, SyncRequestMode, SyncStateValue,
};
use oxldap_proto::codec::RawControl;
use oxldap_proto::{Entry, Filter, ResultCode};
use oxldap_store::{Committed, Csn};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The Sync Request control (RFC 4533 §2.2).
pub const SYNC_REQUEST_OID: &str = "1.3.6.1.4.1.4203.1.9.1.1";

/// How many committed writes a persistent search may fall behind before it is ended with
/// e-syncRefreshRequired.
pub const PERSIST_BUFFER: usize = 4096;

/// How many entryUUIDs go into one syncIdSet message.
const ID_SET_BATCH: usize = 256;

/// A parsed slapd cookie: `rid=NNN,sid=SSS,csn=CSN` (any part optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookie {
    /// The consumer's replica id, echoed back.
    pub rid: Option<String>,
    /// The provider's serverID.
    pub sid: Option<String>,
    /// The newest CSN the consumer has (the greatest when several are listed).
    pub csn: Option<Csn>,
}

impl Cookie {
    /// Parses a cookie; a malformed one is protocolError (RFC 4533 §3.1 leaves the format
    /// to the server; this is slapd's).
    pub fn parse(bytes: &[u8]) -> Result<Cookie, LdapError> {
        let bad = || LdapError::new(ResultCode::ProtocolError, "malformed sync cookie");
        let s = std::str::from_utf8(bytes).map_err(|_| bad())?;
        let mut c = Cookie::default();
        if s.is_empty() {
            return Ok(c);
        }
        for part in s.split(',') {
            let (k, v) = part.split_once('=').ok_or_else(bad)?;
            match k.trim() {
                "rid" => c.rid = Some(v.to_string()),
                "sid" => c.sid = Some(v.to_string()),
                "csn" => {
                    let mut best: Option<Csn> = None;
                    for one in v.split(';') {
                        let csn = Csn::parse(one).ok_or_else(bad)?;
                        best = Some(best.map_or(csn, |b| b.max(csn)));
                    }
                    c.csn = best;
                }
                "delcsn" => {}
                _ => return Err(bad()),
            }
        }
        Ok(c)
    }

    /// The cookie for CSN `csn`, echoing the consumer's rid, with our serverID.
    pub fn encode(&self, csn: Option<&Csn>, sid: u16) -> Vec<u8> {
        let mut parts = Vec::new();
        if let Some(rid) = &self.rid {
            parts.push(format!("rid={rid}"));
        }
        parts.push(format!("sid={sid:03x}"));
        if let Some(csn) = csn {
            parts.push(format!("csn={}", csn.to_ldap_string()));
        }
        parts.join(",").into_bytes()
    }
}

/// A sync search as requested.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// refreshOnly or refreshAndPersist.
    pub persist: bool,
    /// The consumer's cookie.
    pub cookie: Cookie,
}

/// Finds and parses the Sync Request control among a request's controls.
pub fn request_of(controls: &[RawControl]) -> Option<Result<SyncRequest, LdapError>> {
    let raw = controls.iter().find(|c| c.oid == SYNC_REQUEST_OID)?;
    Some(match raw.to_ldap3() {
        Some(LdapControl::SyncRequest { mode, cookie, .. }) => {
            let cookie = match cookie {
                Some(c) => Cookie::parse(&c),
                None => Ok(Cookie::default()),
            };
            cookie.map(|cookie| SyncRequest {
                persist: mode == SyncRequestMode::RefreshAndPersist,
                cookie,
            })
        }
        _ => Err(LdapError::new(
            ResultCode::ProtocolError,
            "malformed sync request control",
        )),
    })
}

fn uuid_of(e: &Entry) -> Uuid {
    e.first_str("entryUUID")
        .and_then(|u| Uuid::parse_str(u).ok())
        .unwrap_or_default()
}

fn state(state: SyncStateValue, uuid: Uuid, cookie: Option<Vec<u8>>) -> Vec<LdapControl> {
    vec![LdapControl::SyncState {
        state,
        entry_uuid: uuid,
        cookie,
    }]
}

/// Runs a sync search to completion (refreshOnly) or until abandoned (persist). Returns
/// the final SearchResultDone and its controls, or None when there is nothing more to
/// send (abandoned or the client is gone).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    dir: Arc<Directory>,
    who: Identity,
    req: LdapSearchRequest,
    sync: SyncRequest,
    msgid: i32,
    token: CancellationToken,
    tx: mpsc::Sender<LdapMsg>,
) -> Option<(LdapResult, Vec<LdapControl>)> {
    // Subscribe before reading, so no write between the refresh and the persist phase is
    // missed; changes already covered by the refresh are skipped by CSN.
    let mut events = sync.persist.then(|| dir.events.subscribe());
    let sid = dir.server_id;
    let since = sync.cookie.csn;
    let d = dir.clone();
    let w = who.clone();
    let r = req.clone();
    let t = token.clone();
    let etx = tx.clone();
    let refresh = tokio::task::spawn_blocking(move || -> Result<(Option<Csn>, bool), LdapError> {
        let context = d.store.last_csn().map_err(LdapError::from)?;
        let mut present: Vec<Uuid> = Vec::new();
        let mut alive = true;
        let cancelled = || t.is_cancelled();
        let mut send = |e: LdapSearchResultEntry, ctrl: Vec<LdapControl>| {
            alive = alive
                && etx
                    .blocking_send(LdapMsg::new_with_ctrls(
                        msgid,
                        LdapOp::SearchResultEntry(e),
                        ctrl,
                    ))
                    .is_ok();
            alive
        };
        let end = ops::search_entries(&d, &w, &r, None::<Page>, &cancelled, &mut |st, out| {
            let uuid = st
                .uuid
                .as_deref()
                .and_then(|u| Uuid::parse_str(u).ok())
                .unwrap_or_default();
            let changed = match (since, st.csn.as_deref().and_then(Csn::parse)) {
                (Some(s), Some(c)) => c > s,
                _ => true,
            };
            if changed {
                send(out, state(SyncStateValue::Add, uuid, None))
            } else {
                present.push(uuid);
                true
            }
        })?;
        if end == ops::SearchEnd::Cancelled || !alive {
            return Ok((context, false));
        }
        if since.is_some() {
            for chunk in present.chunks(ID_SET_BATCH) {
                let msg = LdapMsg::new(
                    msgid,
                    LdapOp::IntermediateResponse(LdapIntermediateResponse::SyncInfoIdSet {
                        cookie: None,
                        refresh_deletes: false,
                        syncuuids: chunk.to_vec(),
                    }),
                );
                if etx.blocking_send(msg).is_err() {
                    return Ok((context, false));
                }
            }
        }
        Ok((context, true))
    })
    .await;
    let (context, alive) = match refresh {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Some((e.to_result(), Vec::new())),
        Err(_) => {
            return Some((
                LdapError::new(ResultCode::Other, "sync refresh failed").to_result(),
                Vec::new(),
            ))
        }
    };
    if !alive {
        return None;
    }
    let cookie = sync.cookie.encode(context.as_ref().or(since.as_ref()), sid);
    let Some(events) = events.as_mut() else {
        let done = LdapControl::SyncDone {
            cookie: Some(cookie),
            refresh_deletes: false,
        };
        return Some((success(), vec![done]));
    };
    // refreshAndPersist: the refresh ends with a refreshPresent syncInfo (RFC 4533 §3.4).
    let info = LdapMsg::new(
        msgid,
        LdapOp::IntermediateResponse(LdapIntermediateResponse::SyncInfoRefreshPresent {
            cookie: Some(cookie),
            done: true,
        }),
    );
    if tx.send(info).await.is_err() {
        return None;
    }
    persist(
        &dir,
        &who,
        &req,
        &sync.cookie,
        context,
        msgid,
        &token,
        &tx,
        events,
    )
    .await
}

/// The persist phase: every later write that touches an entry the search covers, before
/// or after, is pushed as add, modify or delete (RFC 4533 §3.4).
#[allow(clippy::too_many_arguments)]
async fn persist(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    cookie: &Cookie,
    mut context: Option<Csn>,
    msgid: i32,
    token: &CancellationToken,
    tx: &mpsc::Sender<LdapMsg>,
    events: &mut broadcast::Receiver<Arc<Committed>>,
) -> Option<(LdapResult, Vec<LdapControl>)> {
    let filter = match Filter::try_from(&req.filter) {
        Ok(f) => f,
        Err(e) => {
            return Some((
                LdapError::new(ResultCode::ProtocolError, e.to_string()).to_result(),
                Vec::new(),
            ))
        }
    };
    loop {
        let c = tokio::select! {
            () = token.cancelled() => return None,
            ev = events.recv() => match ev {
                Ok(c) => c,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(msgid, lagged = n, "persistent search fell behind; ending it with e-syncRefreshRequired");
                    let e = LdapError::new(ResultCode::SyncRefreshRequired, "consumer fell behind; refresh required");
                    return Some((e.to_result(), Vec::new()));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            },
        };
        if context.is_some_and(|k| c.csn <= k) {
            continue;
        }
        context = Some(c.csn);
        let next = cookie.encode(Some(&c.csn), dir.server_id);
        let mut out_msgs = Vec::new();
        for (before, after) in &c.changes {
            let was = before
                .as_ref()
                .is_some_and(|e| ops::covers(dir, who, req, &filter, e));
            let is = after
                .as_ref()
                .is_some_and(|e| ops::covers(dir, who, req, &filter, e));
            match (was, is, after, before) {
                (_, true, Some(a), _) => {
                    let st = if was {
                        SyncStateValue::Modify
                    } else {
                        SyncStateValue::Add
                    };
                    out_msgs.push((ops::result_entry(dir, who, a.clone(), req), st, uuid_of(a)));
                }
                (true, false, _, Some(b)) => {
                    let out = LdapSearchResultEntry {
                        dn: b.dn.to_string(),
                        attributes: Vec::new(),
                    };
                    out_msgs.push((out, SyncStateValue::Delete, uuid_of(b)));
                }
                _ => continue,
            }
        }
        let n = out_msgs.len();
        for (i, (out, st, u)) in out_msgs.into_iter().enumerate() {
            let ck = (i + 1 == n).then(|| next.clone());
            let msg =
                LdapMsg::new_with_ctrls(msgid, LdapOp::SearchResultEntry(out), state(st, u, ck));
            if tx.send(msg).await.is_err() {
                return None;
            }
        }
    }
}
