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
//! through a bounded broadcast channel that never blocks writers, drained by one hub task
//! ([`fanout`]) that evaluates each write once per distinct search and queues the shared
//! result to every persistent search of that search; a client that does not read fast
//! enough is disconnected once [`PERSIST_QUEUE_LIMIT`] writes wait for it (with a warning
//! in the log), so a slow consumer never slows writers or holds unbounded memory.

pub mod fanout;
pub mod pacing;
pub use fanout::Fanout;

use crate::directory::Directory;
use crate::error::{success, LdapError};
use crate::ops::{self, SearchEnd};
use crate::session::Identity;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapIntermediateResponse, LdapMsg, LdapOp, LdapResult, LdapSearchRequest,
    LdapSearchResultEntry, SyncRequestMode, SyncStateValue,
};
use oxldap_proto::codec::{Outgoing, RawControl};
use oxldap_proto::{Entry, Filter, ResultCode};
use oxldap_store::Csn;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The Sync Request control (RFC 4533 §2.2).
pub const SYNC_REQUEST_OID: &str = "1.3.6.1.4.1.4203.1.9.1.1";

/// The capacity of the broadcast channel of committed writes: how far the fan-out hub
/// ([`fanout`]) may fall behind in draining it (it queues each write to the searches at
/// once, so this is only reached when the hub itself is starved); beyond it every
/// persistent search's connection is closed.
pub const PERSIST_BUFFER: usize = 4096;

/// How many writes a persistent search may have waiting for a client that reads them too
/// slowly before its connection is closed (the entries of a write are shared among the
/// searches that get them; about 1 KiB per typical entry).
pub const PERSIST_QUEUE_LIMIT: usize = 16_384;

/// slapo-syncprov(5) options that change how a refresh is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// `syncprov-nopresent`: never answer with a present phase (a cookie the change log
    /// cannot serve gets a full reload, or e-syncRefreshRequired, see `reloadhint`).
    pub nopresent: bool,
    /// `syncprov-reloadhint`: when a reload is needed and the consumer did not set
    /// reloadHint (RFC 4533 §2.2), answer e-syncRefreshRequired instead of reloading.
    pub reloadhint: bool,
    /// `syncprov-queue-limit`: how many writes may wait for a persistent search's client
    /// before its connection is closed (default [`PERSIST_QUEUE_LIMIT`]).
    pub queue_limit: usize,
}

impl Default for SyncOptions {
    fn default() -> SyncOptions {
        SyncOptions {
            nopresent: false,
            reloadhint: false,
            queue_limit: PERSIST_QUEUE_LIMIT,
        }
    }
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
    /// Parses a cookie the way slapd 2.5 does (`slap_parse_sync_cookie`; RFC 4533 §3.1
    /// leaves the format to the server). Never fails: as slapd ("If parse fails, pretend no
    /// cookie was sent", servers/slapd/controls.c), a cookie it cannot read is treated as
    /// no cookie, so the consumer gets a full refresh rather than an error. In detail, as
    /// checked against slapd 2.5: a non-UTF-8 cookie, a `rid=` that is not a decimal
    /// number up to 999 or a `sid=` that is not a hexadecimal number up to 0xfff make the
    /// whole cookie unusable; parts slapd does not know (`junk=1`, `garbage`) are ignored;
    /// a CSN that does not parse is skipped (`csn=A;garbage` keeps A).
    pub fn parse(bytes: &[u8]) -> Cookie {
        Cookie::parse_strict(bytes).unwrap_or_default()
    }

    fn parse_strict(bytes: &[u8]) -> Option<Cookie> {
        let s = std::str::from_utf8(bytes).ok()?;
        let mut c = Cookie::default();
        for part in s.split(',') {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            match k.trim() {
                "rid" => {
                    let ok = !v.is_empty()
                        && v.bytes().all(|b| b.is_ascii_digit())
                        && v.parse::<u32>().is_ok_and(|n| n <= 999);
                    if !ok {
                        return None;
                    }
                    c.rid = Some(v.to_string());
                }
                "sid" => {
                    let ok = !v.is_empty()
                        && v.bytes().all(|b| b.is_ascii_hexdigit())
                        && u32::from_str_radix(v, 16).is_ok_and(|n| n <= 0xfff);
                    if !ok {
                        return None;
                    }
                    c.sid = Some(v.to_string());
                }
                "csn" => c.csns.extend(v.split(';').filter_map(Csn::parse)),
                _ => {}
            }
        }
        Some(c)
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
            let cookie = cookie.map(|c| Cookie::parse(&c)).unwrap_or_default();
            Ok(SyncRequest {
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
    // A cookie from before a snapshot restore or clear (`Store::restored_at`): the change
    // log does not say what the restore reverted, and entries it put back carry their old
    // entryCSN, so neither the log nor a present phase since the cookie is correct: every
    // entry is sent (a present phase from nothing; the consumer drops the rest).
    let stale = dir.store.restored_at()?.is_some_and(|r| since < r);
    if !stale && dir.store.changes_since(Some(&since))?.covers {
        return Ok(Plan::Log(since));
    }
    if !dir.sync_options.nopresent {
        return Ok(if stale {
            Plan::Full
        } else {
            Plan::Present(since)
        });
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
    tx: mpsc::Sender<Outgoing>,
) -> Option<(LdapResult, Vec<LdapControl>)> {
    // Register before reading, so no write between the refresh and the persist phase is
    // missed; changes already covered by the refresh are skipped by CSN. A filter that does
    // not parse is answered by the refresh.
    let mut sub = if sync.persist {
        Filter::try_from(&req.filter).ok().map(|f| {
            Fanout::register(
                &dir,
                &who,
                &req,
                f,
                msgid,
                &sync.cookie,
                tx.clone(),
                closing.clone(),
            )
        })
    } else {
        None
    };
    let sid = dir.server_id;
    let d = dir.clone();
    let w = who.clone();
    let r = req.clone();
    let t = token.clone();
    let etx = tx.clone();
    let s = sync.clone();
    let refresh = tokio::task::spawn_blocking(
        move || -> Result<(SearchEnd, Option<Csn>, Phase), LdapError> {
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
            let (end, phase) = match plan {
                Plan::Unchanged => (SearchEnd::Done, Phase::Unchanged),
                Plan::Log(since) => {
                    let deadline = deadline(&d, &w, &r);
                    let end = delete_phase(
                        &d, &w, &r, since, context, msgid, deadline, &cancelled, &etx,
                    )?;
                    (end, Phase::Delete)
                }
                Plan::Present(since) => (
                    present_phase(&d, &w, &r, Some(since), msgid, &cancelled, &etx)?,
                    Phase::Present,
                ),
                Plan::Full => (
                    present_phase(&d, &w, &r, None, msgid, &cancelled, &etx)?,
                    Phase::Present,
                ),
            };
            Ok((end, context, phase))
        },
    )
    .await;
    let (context, phase) = match refresh {
        Ok(Ok((SearchEnd::Done, context, phase))) => (context, phase),
        Ok(Ok((SearchEnd::Cancelled | SearchEnd::PageFull, ..))) => return None,
        // slapd ends an unfinished refresh with the limit's result code and no Sync Done
        // control (no cookie: the consumer's state is not complete), in both modes.
        Ok(Ok((SearchEnd::SizeLimit, ..))) => {
            return Some((
                LdapError::new(ResultCode::SizeLimitExceeded, "").to_result(),
                Vec::new(),
            ))
        }
        Ok(Ok((SearchEnd::TimeLimit, ..))) => {
            return Some((
                LdapError::new(ResultCode::TimeLimitExceeded, "").to_result(),
                Vec::new(),
            ))
        }
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
    if !sync.persist {
        let done = LdapControl::SyncDone {
            cookie,
            refresh_deletes: phase != Phase::Present,
        };
        return Some((success(), vec![done]));
    }
    let Some(sub) = sub.as_mut() else {
        return Some((
            LdapError::new(ResultCode::ProtocolError, "invalid search filter").to_result(),
            Vec::new(),
        ));
    };
    // refreshAndPersist: the refresh ends with a syncInfo refreshPresent or refreshDelete
    // with refreshDone TRUE (RFC 4533 §3.4, slapd `syncprov_search_response`).
    let info = if phase == Phase::Present {
        LdapIntermediateResponse::SyncInfoRefreshPresent { cookie, done: true }
    } else {
        LdapIntermediateResponse::SyncInfoRefreshDelete { cookie, done: true }
    };
    if tx
        .send(LdapMsg::new(msgid, LdapOp::IntermediateResponse(info)).into())
        .await
        .is_err()
    {
        return None;
    }
    sub.persist(context, msgid, &sync.cookie, sid, &token, &closing, &tx)
        .await
}

/// The present phase (RFC 4533 §3.3.1), or a full reload when `since` is None: entries
/// changed after `since` in full with a Sync State `add`, the others as syncIdSet
/// messages of entryUUIDs. Returns how it ended: Cancelled when the search was abandoned
/// or the client left; SizeLimit or TimeLimit when a limit stopped it.
///
/// The size limit (RFC 4511 §4.5.1.4, as `limits::effective` computes it) counts the
/// entries sent in full only, not the entryUUIDs reported present: slapd's syncprov
/// answers those from its response callback, before `send_search_entry` counts. When it
/// is reached the refresh stops without its syncIdSet messages (the consumer's content is
/// incomplete anyway; the search ends with sizeLimitExceeded and no cookie).
fn present_phase(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    since: Option<Csn>,
    msgid: i32,
    cancelled: &dyn Fn() -> bool,
    tx: &mpsc::Sender<Outgoing>,
) -> Result<SearchEnd, LdapError> {
    let mut present: Vec<Uuid> = Vec::new();
    let mut alive = true;
    let limit = size_limit(dir, who, req);
    let mut sent: u64 = 0;
    let mut over = false;
    let end = ops::search_entries_uncounted(dir, who, req, cancelled, &mut |st, out| {
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
            if limit.is_some_and(|l| sent >= l) {
                over = true;
                return false;
            }
            sent += 1;
            alive = alive && send_entry(tx, msgid, out, SyncStateValue::Add, uuid, None);
            alive
        } else {
            present.push(uuid);
            true
        }
    })?;
    if over {
        return Ok(SearchEnd::SizeLimit);
    }
    if end != SearchEnd::Done || !alive {
        return Ok(if alive { end } else { SearchEnd::Cancelled });
    }
    Ok(if send_id_sets(tx, msgid, &present, false) {
        SearchEnd::Done
    } else {
        SearchEnd::Cancelled
    })
}

/// The size limit of a refresh for `who`: the client's, the configured soft limit, capped
/// by the hard limit, none for the rootdn unless it asks (slapd.conf(5) `limits`).
fn size_limit(dir: &Directory, who: &Identity, req: &LdapSearchRequest) -> Option<u64> {
    let limits = dir.limits();
    crate::limits::effective(req.sizelimit, who.is_root(), limits.size, limits.size_hard)
        .map(u64::from)
}

/// When a refresh that starts now must end, by the time limit computed as the size limit
/// (in seconds; none for the rootdn unless it asks). The present phase gets the same from
/// [`ops::search_entries_uncounted`].
fn deadline(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
) -> Option<std::time::Instant> {
    let limits = dir.limits();
    crate::limits::effective(req.timelimit, who.is_root(), limits.time, limits.time_hard)
        .map(|s| std::time::Instant::now() + std::time::Duration::from_secs(u64::from(s)))
}

/// The delete phase (RFC 4533 §3.3.2) from the change log, as slapd's
/// `syncprov_play_sessionlog`: every entry the log says changed after `since` (up to
/// `context`, the CSN the refresh ends at) is looked up as it is now. Still in the
/// search's scope and filter: sent in full (Sync State `add`, the current entry). Deleted,
/// or renamed/modified out of scope or filter: its entryUUID goes into a syncIdSet with
/// refreshDeletes TRUE, unless the entry was also added after `since` (the consumer never
/// had it). Deletes go first (so a DN freed by a delete can be taken by a later add), then
/// the entries in the order of their last change. Returns how it ended (Cancelled when
/// cancelled or gone).
///
/// As in slapd, the deleted entryUUIDs do not count against the size limit (they go out
/// first, as syncIdSet messages); the entries sent in full do, and reaching the limit ends
/// the refresh with sizeLimitExceeded (checked against /usr/sbin/slapd with
/// `ldapsearch -E sync=ro/COOKIE -z N`). The time limit is checked per logged entry and
/// per entry sent: running out ends the refresh with timeLimitExceeded.
#[allow(clippy::too_many_arguments)]
fn delete_phase(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    since: Csn,
    context: Option<Csn>,
    msgid: i32,
    deadline: Option<std::time::Instant>,
    cancelled: &dyn Fn() -> bool,
    tx: &mpsc::Sender<Outgoing>,
) -> Result<SearchEnd, LdapError> {
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
    let over_time = || deadline.is_some_and(|d| std::time::Instant::now() >= d);
    let mut deletes: Vec<Uuid> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for (_, id, added, uuid) in order {
        if cancelled() {
            return Ok(SearchEnd::Cancelled);
        }
        if over_time() {
            return Ok(SearchEnd::TimeLimit);
        }
        match dir.store.entry_by_id(id)? {
            Some(e) if ops::covers(dir, who, req, &filter, &e) => entries.push(e),
            _ if added => {}
            _ => deletes.push(Uuid::parse_str(&uuid).unwrap_or_default()),
        }
    }
    if !send_id_sets(tx, msgid, &deletes, true) {
        return Ok(SearchEnd::Cancelled);
    }
    let limit = size_limit(dir, who, req);
    for (sent, e) in (0u64..).zip(entries) {
        if cancelled() {
            return Ok(SearchEnd::Cancelled);
        }
        if limit.is_some_and(|l| sent >= l) {
            return Ok(SearchEnd::SizeLimit);
        }
        if over_time() {
            return Ok(SearchEnd::TimeLimit);
        }
        let uuid = uuid_of(&e);
        let out = ops::result_entry(dir, who, e, req);
        if !send_entry(tx, msgid, out, SyncStateValue::Add, uuid, None) {
            return Ok(SearchEnd::Cancelled);
        }
    }
    Ok(SearchEnd::Done)
}

/// Sends one entry with its Sync State control from a blocking thread.
fn send_entry(
    tx: &mpsc::Sender<Outgoing>,
    msgid: i32,
    out: LdapSearchResultEntry,
    st: SyncStateValue,
    uuid: Uuid,
    cookie: Option<Vec<u8>>,
) -> bool {
    tx.blocking_send(
        LdapMsg::new_with_ctrls(
            msgid,
            LdapOp::SearchResultEntry(out),
            state(st, uuid, cookie),
        )
        .into(),
    )
    .is_ok()
}

/// Sends `uuids` as syncIdSet messages of at most [`ID_SET_BATCH`] each (RFC 4533 §2.5.3)
/// from a blocking thread; false when the client is gone.
fn send_id_sets(
    tx: &mpsc::Sender<Outgoing>,
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
        tx.blocking_send(msg.into()).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::directory::OpenOptions;
    use ldap3_proto::proto::{LdapDerefAliases, LdapFilter, LdapSearchScope};
    use oxldap_proto::{Attribute, Dn};

    #[test]
    fn unreadable_cookies_are_no_cookie() {
        let csn = "20261130044800.953542Z#000000#000#000000";
        let c = Cookie::parse(format!("rid=001,sid=000,csn={csn}").as_bytes());
        assert_eq!(c.rid.as_deref(), Some("001"));
        assert_eq!(c.csns.len(), 1);
        for bad in [
            "garbage".to_string(),
            "csn=garbage".to_string(),
            format!("rid=abc,csn={csn}"),
            format!("rid=1000,csn={csn}"),
            format!("sid=zz,csn={csn}"),
            format!("sid=1000,csn={csn}"),
        ] {
            assert!(Cookie::parse(bad.as_bytes()).csns.is_empty(), "{bad}");
        }
        assert_eq!(Cookie::parse(&[0xff, 0xfe]), Cookie::default());
        // Unknown parts are ignored, unreadable CSNs skipped.
        let c = Cookie::parse(format!("rid=001,csn={csn};garbage,junk=1,delcsn=x").as_bytes());
        assert_eq!(c.csns.len(), 1);
        assert_eq!(c.rid.as_deref(), Some("001"));
    }

    fn entry(dn: &str, attrs: &[(&str, &str)]) -> Entry {
        let mut e = Entry::new(Dn::parse(dn).expect("dn"));
        e.attrs = attrs
            .iter()
            .map(|(d, v)| Attribute {
                desc: (*d).into(),
                values: vec![v.as_bytes().to_vec()],
            })
            .collect();
        e
    }

    /// Runs the delete phase from `since` and returns how it ended and the messages sent.
    fn run_delete_phase(
        dir: &Directory,
        since: Csn,
        deadline: Option<std::time::Instant>,
    ) -> (SearchEnd, Vec<oxldap_proto::Outgoing>) {
        let root = Identity::Root {
            dn: Dn::default(),
            norm: Default::default(),
        };
        let req = LdapSearchRequest {
            base: "dc=localdomain,dc=test".into(),
            scope: LdapSearchScope::Subtree,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".into()),
            attrs: vec!["1.1".into()],
        };
        let (tx, mut rx) = mpsc::channel(64);
        let context = dir.store.last_csn().expect("csn");
        let end = delete_phase(
            dir,
            &root,
            &req,
            since,
            context,
            1,
            deadline,
            &|| false,
            &tx,
        )
        .expect("delete phase");
        drop(tx);
        let mut sent = Vec::new();
        while let Ok(m) = rx.try_recv() {
            sent.push(m);
        }
        (end, sent)
    }

    #[test]
    fn delete_phase_stops_at_the_time_limit() {
        let cfg = Config::default_embedded();
        let opts = OpenOptions {
            memory: true,
            ..Default::default()
        };
        let dir = Directory::open(&cfg, &opts).expect("directory");
        let ctx = oxldap_store::WriteCtx::default();
        let top = entry(
            "dc=localdomain,dc=test",
            &[("objectClass", "domain"), ("dc", "localdomain")],
        );
        dir.store.add(top, &ctx).expect("suffix");
        let since = dir
            .store
            .last_csn()
            .expect("csn")
            .expect("a CSN after a write");
        for n in 0..3 {
            let dn = format!("cn=u{n},dc=localdomain,dc=test");
            let cn = format!("u{n}");
            let e = entry(&dn, &[("objectClass", "person"), ("cn", &cn), ("sn", "x")]);
            dir.store.add(e, &ctx).expect("add");
        }
        // No limit: the three entries added since the cookie go out in full.
        let (end, sent) = run_delete_phase(&dir, since, None);
        assert_eq!((end, sent.len()), (SearchEnd::Done, 3));
        // A deadline already passed: the refresh ends with timeLimitExceeded, having sent
        // nothing.
        let (end, sent) = run_delete_phase(&dir, since, Some(std::time::Instant::now()));
        assert_eq!((end, sent.len()), (SearchEnd::TimeLimit, 0));
    }
}
