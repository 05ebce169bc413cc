//! Content synchronization provider (RFC 4533): the Sync Request control on search, in
//! refreshOnly and refreshAndPersist modes, with slapd-style cookies.
//!
//! A refresh with a cookie is answered as slapd's syncprov does (`syncprov_op_search`):
//! - nothing changed since the cookie's CSN: no entry, and the refresh ends as a delete
//!   phase without a new cookie;
//! - the change log (bounded by `syncprov-sessionlog`) still holds every change since the
//!   cookie: the **delete phase** (RFC 4533 §3.3.2, slapd `syncprov_play_sessionlog`):
//!   entries deleted since, or modified/renamed out of the search's scope or filter, go
//!   out as entryUUIDs in syncIdSet messages with refreshDeletes TRUE; entries added or
//!   changed since that still match are sent in full with a Sync State `add`; entries both
//!   added and gone since the cookie are not mentioned (the consumer never had them);
//! - otherwise the **present phase** (§3.3.1): entries changed since the cookie are sent
//!   in full, unchanged matching entries as entryUUIDs in syncIdSet messages, and the
//!   consumer drops what was neither sent nor present. With `syncprov-nopresent` no
//!   present phase is sent: the refresh becomes a full reload, or, with
//!   `syncprov-reloadhint` and a consumer that did not set reloadHint, the search ends with
//!   `e-syncRefreshRequired` (4096, "sync cookie is stale"), as slapd's stale-cookie case.
//!
//! The persist phase follows the store's committed writes (before and after images)
//! through a bounded broadcast channel that never blocks writers. Each persistent search
//! drains it into its own queue of outgoing messages; a client that does not read them
//! fast enough is disconnected once [`PERSIST_QUEUE_LIMIT`] messages wait (with a warning
//! in the log), so a slow consumer never slows writers or holds unbounded memory.

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

/// The capacity of the broadcast channel of committed writes: how far a persistent
/// search task may fall behind in draining it (it drains it into its own queue, so this is
/// only reached when the task itself is starved); beyond it the connection is closed.
pub const PERSIST_BUFFER: usize = 4096;

/// How many messages a persistent search may have waiting for a client that reads them
/// too slowly before its connection is closed (about 1 KiB each for a typical entry).
pub const PERSIST_QUEUE_LIMIT: usize = 16_384;

/// slapo-syncprov(5) options that change how a refresh is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// `syncprov-nopresent`: never answer with a present phase (a cookie the change log
    /// cannot serve gets a full reload, or e-syncRefreshRequired, see `reloadhint`).
    pub nopresent: bool,
    /// `syncprov-reloadhint`: when a reload is needed and the consumer did not set
    /// reloadHint (RFC 4533 §2.2), answer e-syncRefreshRequired instead of reloading.
    pub reloadhint: bool,
}

/// How many entryUUIDs go into one syncIdSet message.
const ID_SET_BATCH: usize = 256;

/// A parsed slapd cookie: `rid=NNN,sid=SSS,csn=CSN` (any part optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookie {
    /// The consumer's replica id, echoed back.
    pub rid: Option<String>,
    /// The provider's serverID.
    pub sid: Option<String>,
    /// The CSNs the consumer has, one per serverID (`csn=A;B`).
    pub csns: Vec<Csn>,
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
                    for one in v.split(';') {
                        c.csns.push(Csn::parse(one).ok_or_else(bad)?);
                    }
                }
                "delcsn" => {}
                _ => return Err(bad()),
            }
        }
        Ok(c)
    }

    /// The consumer's CSN for serverID `sid`. slapd ignores CSNs of serverIDs it does
    /// not track; a cookie without ours carries no usable state (a full refresh).
    pub fn csn_for(&self, sid: u16) -> Option<Csn> {
        self.csns.iter().filter(|c| c.sid == sid).max().copied()
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
    /// reloadHint (RFC 4533 §2.2): the consumer accepts a full reload rather than
    /// e-syncRefreshRequired.
    pub reload_hint: bool,
}

/// Finds and parses the Sync Request control among a request's controls.
pub fn request_of(controls: &[RawControl]) -> Option<Result<SyncRequest, LdapError>> {
    let raw = controls.iter().find(|c| c.oid == SYNC_REQUEST_OID)?;
    Some(match raw.to_ldap3() {
        Some(LdapControl::SyncRequest {
            mode,
            cookie,
            reload_hint,
            ..
        }) => {
            let cookie = match cookie {
                Some(c) => Cookie::parse(&c),
                None => Ok(Cookie::default()),
            };
            cookie.map(|cookie| SyncRequest {
                persist: mode == SyncRequestMode::RefreshAndPersist,
                cookie,
                reload_hint,
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

/// How a refresh ended, for the message that closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing changed since the cookie: no new cookie, ends as a delete phase (slapd).
    Unchanged,
    /// Only changes were sent (RFC 4533 §3.3.2): ends with refreshDeletes TRUE.
    Delete,
    /// A present phase or a full reload (§3.3.1): ends with refreshDeletes FALSE.
    Present,
}

/// What the refresh decided to do with the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Unchanged,
    /// Replay the change log since this CSN.
    Log(Csn),
    /// Present phase since this CSN.
    Present(Csn),
    /// Every matching entry in full (no usable cookie).
    Full,
}

/// Chooses how to answer a cookie (slapd `syncprov_op_search`).
fn plan(dir: &Directory, sync: &SyncRequest, context: Option<Csn>) -> Result<Plan, LdapError> {
    let Some(since) = sync.cookie.csn_for(dir.server_id) else {
        return Ok(Plan::Full);
    };
    let Some(context) = context else {
        return Err(LdapError::new(
            ResultCode::UnwillingToPerform,
            "consumer has state info but provider doesn't!",
        ));
    };
    if since > context {
        return Err(LdapError::new(
            ResultCode::UnwillingToPerform,
            "consumer state is newer than provider!",
        ));
    }
    if since == context {
        return Ok(Plan::Unchanged);
    }
    if dir.store.changes_since(Some(&since))?.covers {
        return Ok(Plan::Log(since));
    }
    if !dir.sync_options.nopresent {
        return Ok(Plan::Present(since));
    }
    if dir.sync_options.reloadhint && !sync.reload_hint {
        return Err(LdapError::new(
            ResultCode::SyncRefreshRequired,
            "sync cookie is stale",
        ));
    }
    Ok(Plan::Full)
}

/// Runs a sync search to completion (refreshOnly) or until abandoned (persist). Returns
/// the final SearchResultDone and its controls, or None when there is nothing more to
/// send (abandoned, the client is gone, or its connection was closed for reading too
/// slowly through `closing`).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    dir: Arc<Directory>,
    who: Identity,
    req: LdapSearchRequest,
    sync: SyncRequest,
    msgid: i32,
    token: CancellationToken,
    closing: CancellationToken,
    tx: mpsc::Sender<LdapMsg>,
) -> Option<(LdapResult, Vec<LdapControl>)> {
    // Subscribe before reading, so no write between the refresh and the persist phase is
    // missed; changes already covered by the refresh are skipped by CSN.
    let mut events = sync.persist.then(|| dir.events.subscribe());
    let sid = dir.server_id;
    let d = dir.clone();
    let w = who.clone();
    let r = req.clone();
    let t = token.clone();
    let etx = tx.clone();
    let s = sync.clone();
    let refresh =
        tokio::task::spawn_blocking(move || -> Result<Option<(Option<Csn>, Phase)>, LdapError> {
            let context = d.store.last_csn().map_err(LdapError::from)?;
            let cancelled = || t.is_cancelled();
            let plan = plan(&d, &s, context)?;
            let how = match plan {
                Plan::Unchanged => "unchanged",
                Plan::Log(_) => "delete phase from the change log",
                Plan::Present(_) => "present phase (the change log does not reach the cookie)",
                Plan::Full => "full reload",
            };
            tracing::info!(msgid, persist = s.persist, "sync refresh: {how}");
            let (alive, phase) = match plan {
                Plan::Unchanged => (true, Phase::Unchanged),
                Plan::Log(since) => (
                    delete_phase(&d, &w, &r, since, context, msgid, &cancelled, &etx)?,
                    Phase::Delete,
                ),
                Plan::Present(since) => (
                    present_phase(&d, &w, &r, Some(since), msgid, &cancelled, &etx)?,
                    Phase::Present,
                ),
                Plan::Full => (
                    present_phase(&d, &w, &r, None, msgid, &cancelled, &etx)?,
                    Phase::Present,
                ),
            };
            Ok(alive.then_some((context, phase)))
        })
        .await;
    let (context, phase) = match refresh {
        Ok(Ok(Some(v))) => v,
        Ok(Ok(None)) => return None,
        Ok(Err(e)) => return Some((e.to_result(), Vec::new())),
        Err(_) => {
            return Some((
                LdapError::new(ResultCode::Other, "sync refresh failed").to_result(),
                Vec::new(),
            ))
        }
    };
    if token.is_cancelled() {
        return None;
    }
    // slapd sends no new cookie when nothing changed (the consumer's is current).
    let cookie = match (phase, context) {
        (Phase::Unchanged, _) | (_, None) => None,
        (_, Some(c)) => Some(sync.cookie.encode(Some(&c), sid)),
    };
    let Some(events) = events.as_mut() else {
        let done = LdapControl::SyncDone {
            cookie,
            refresh_deletes: phase != Phase::Present,
        };
        return Some((success(), vec![done]));
    };
    // refreshAndPersist: the refresh ends with a syncInfo refreshPresent or refreshDelete
    // with refreshDone TRUE (RFC 4533 §3.4, slapd `syncprov_search_response`).
    let info = if phase == Phase::Present {
        LdapIntermediateResponse::SyncInfoRefreshPresent { cookie, done: true }
    } else {
        LdapIntermediateResponse::SyncInfoRefreshDelete { cookie, done: true }
    };
    if tx
        .send(LdapMsg::new(msgid, LdapOp::IntermediateResponse(info)))
        .await
        .is_err()
    {
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
        &closing,
        &tx,
        events,
    )
    .await
}

/// The present phase (RFC 4533 §3.3.1), or a full reload when `since` is None: entries
/// changed after `since` in full with a Sync State `add`, the others as syncIdSet
/// messages of entryUUIDs. Returns false when the search was cancelled or the client left.
fn present_phase(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    since: Option<Csn>,
    msgid: i32,
    cancelled: &dyn Fn() -> bool,
    tx: &mpsc::Sender<LdapMsg>,
) -> Result<bool, LdapError> {
    let mut present: Vec<Uuid> = Vec::new();
    let mut alive = true;
    let end = ops::search_entries(dir, who, req, None::<Page>, cancelled, &mut |st, out| {
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
            alive = alive && send_entry(tx, msgid, out, SyncStateValue::Add, uuid, None);
            alive
        } else {
            present.push(uuid);
            true
        }
    })?;
    if end == ops::SearchEnd::Cancelled || !alive {
        return Ok(false);
    }
    Ok(send_id_sets(tx, msgid, &present, false))
}

/// The delete phase (RFC 4533 §3.3.2) from the change log, as slapd's
/// `syncprov_play_sessionlog`: every entry the log says changed after `since` (up to
/// `context`, the CSN the refresh ends at) is looked up as it is now. Still in the
/// search's scope and filter: sent in full (Sync State `add`, the current entry). Deleted,
/// or renamed/modified out of scope or filter: its entryUUID goes into a syncIdSet with
/// refreshDeletes TRUE, unless the entry was also added after `since` (the consumer never
/// had it). Deletes go first (so a DN freed by a delete can be taken by a later add), then
/// the entries in the order of their last change. Returns false when cancelled or gone.
#[allow(clippy::too_many_arguments)]
fn delete_phase(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    since: Csn,
    context: Option<Csn>,
    msgid: i32,
    cancelled: &dyn Fn() -> bool,
    tx: &mpsc::Sender<LdapMsg>,
) -> Result<bool, LdapError> {
    let filter = Filter::try_from(&req.filter)
        .map_err(|e| LdapError::new(ResultCode::ProtocolError, e.to_string()))?;
    let log = dir.store.changes_since(Some(&since))?;
    // Per entry id: whether its first logged change since the cookie was its add, its
    // entryUUID, and the position of its last change (for CSN order).
    let mut touched: std::collections::HashMap<u64, (bool, String, usize)> =
        std::collections::HashMap::new();
    for (pos, (rec, id)) in log.records.iter().zip(&log.ids).enumerate() {
        let csn = Csn::parse(&rec.csn);
        if csn.is_none_or(|c| context.is_some_and(|k| c > k)) {
            // Committed after the refresh's snapshot: the persist phase or the next
            // refresh sends it.
            continue;
        }
        let added = rec.kind == oxldap_store::ChangeKind::Add;
        touched.entry(*id).and_modify(|t| t.2 = pos).or_insert((
            added,
            rec.entry_uuid.clone(),
            pos,
        ));
    }
    let mut order: Vec<(usize, u64, bool, String)> = touched
        .into_iter()
        .map(|(id, (added, uuid, pos))| (pos, id, added, uuid))
        .collect();
    order.sort_unstable();
    let mut deletes: Vec<Uuid> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for (_, id, added, uuid) in order {
        if cancelled() {
            return Ok(false);
        }
        match dir.store.entry_by_id(id)? {
            Some(e) if ops::covers(dir, who, req, &filter, &e) => entries.push(e),
            _ if added => {}
            _ => deletes.push(Uuid::parse_str(&uuid).unwrap_or_default()),
        }
    }
    if !send_id_sets(tx, msgid, &deletes, true) {
        return Ok(false);
    }
    for e in entries {
        if cancelled() {
            return Ok(false);
        }
        let uuid = uuid_of(&e);
        let out = ops::result_entry(dir, who, e, req);
        if !send_entry(tx, msgid, out, SyncStateValue::Add, uuid, None) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Sends one entry with its Sync State control from a blocking thread.
fn send_entry(
    tx: &mpsc::Sender<LdapMsg>,
    msgid: i32,
    out: LdapSearchResultEntry,
    st: SyncStateValue,
    uuid: Uuid,
    cookie: Option<Vec<u8>>,
) -> bool {
    tx.blocking_send(LdapMsg::new_with_ctrls(
        msgid,
        LdapOp::SearchResultEntry(out),
        state(st, uuid, cookie),
    ))
    .is_ok()
}

/// Sends `uuids` as syncIdSet messages of at most [`ID_SET_BATCH`] each (RFC 4533 §2.5.3)
/// from a blocking thread; false when the client is gone.
fn send_id_sets(
    tx: &mpsc::Sender<LdapMsg>,
    msgid: i32,
    uuids: &[Uuid],
    refresh_deletes: bool,
) -> bool {
    uuids.chunks(ID_SET_BATCH).all(|chunk| {
        let msg = LdapMsg::new(
            msgid,
            LdapOp::IntermediateResponse(LdapIntermediateResponse::SyncInfoIdSet {
                cookie: None,
                refresh_deletes,
                syncuuids: chunk.to_vec(),
            }),
        );
        tx.blocking_send(msg).is_ok()
    })
}

/// The messages a committed write means for one persistent search: every touched entry
/// the search covers, before or after, as add, modify or delete (RFC 4533 §3.4); the last
/// carries the write's cookie.
fn messages_for(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    filter: &Filter,
    cookie: &Cookie,
    msgid: i32,
    c: &Committed,
) -> Vec<LdapMsg> {
    let next = cookie.encode(Some(&c.csn), dir.server_id);
    let mut out_msgs = Vec::new();
    for (before, after) in &c.changes {
        let was = before
            .as_ref()
            .is_some_and(|e| ops::covers(dir, who, req, filter, e));
        let is = after
            .as_ref()
            .is_some_and(|e| ops::covers(dir, who, req, filter, e));
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
    out_msgs
        .into_iter()
        .enumerate()
        .map(|(i, (out, st, u))| {
            let ck = (i + 1 == n).then(|| next.clone());
            LdapMsg::new_with_ctrls(msgid, LdapOp::SearchResultEntry(out), state(st, u, ck))
        })
        .collect()
}

/// The persist phase: every later write that touches an entry the search covers, before
/// or after, is pushed as add, modify or delete (RFC 4533 §3.4). The broadcast channel is
/// drained into a local queue as fast as writes arrive; the queue is sent as fast as the
/// client reads. When more than [`PERSIST_QUEUE_LIMIT`] messages wait (or the channel
/// overflowed), the client is too slow: the connection is closed through `closing` and
/// the reason logged, so writers never wait for a reader.
#[allow(clippy::too_many_arguments)]
async fn persist(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    cookie: &Cookie,
    mut context: Option<Csn>,
    msgid: i32,
    token: &CancellationToken,
    closing: &CancellationToken,
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
    let mut queue: std::collections::VecDeque<LdapMsg> = std::collections::VecDeque::new();
    let too_slow = |why: &str, waiting: usize| {
        tracing::warn!(
            msgid,
            waiting,
            limit = PERSIST_QUEUE_LIMIT,
            "persistent sync search: the consumer reads too slowly ({why}); closing its connection"
        );
        closing.cancel();
    };
    loop {
        tokio::select! {
            () = token.cancelled() => return None,
            () = closing.cancelled() => return None,
            ev = events.recv() => match ev {
                Ok(c) => {
                    if context.is_some_and(|k| c.csn <= k) {
                        continue;
                    }
                    context = Some(c.csn);
                    queue.extend(messages_for(dir, who, req, &filter, cookie, msgid, &c));
                    if queue.len() > PERSIST_QUEUE_LIMIT {
                        too_slow("queue limit reached", queue.len());
                        return None;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    too_slow(&format!("{n} writes lost from the broadcast channel"), queue.len());
                    return None;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            permit = tx.reserve(), if !queue.is_empty() => match permit {
                Ok(p) => {
                    if let Some(m) = queue.pop_front() {
                        p.send(m);
                    }
                    while !queue.is_empty() {
                        let Ok(p) = tx.try_reserve() else { break };
                        if let Some(m) = queue.pop_front() {
                            p.send(m);
                        }
                    }
                }
                Err(_) => return None,
            },
        }
    }
}
