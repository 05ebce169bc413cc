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

/// How many bytes of entries (approximately: DNs, attribute names and values) may wait in
/// a persistent search's backlog before its connection is closed. The count bound alone
/// let a consumer that stopped reading hold 2.6 GB: 5,000 writes to a 5,000-member group
/// (tester finding, 2026-11-30). A single write larger than this is still queued when
/// nothing else waits.
pub const PERSIST_QUEUE_BYTES: usize = 64 << 20;

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
    /// `syncprov-queue-size`: how many bytes of entries may wait for it (default
    /// [`PERSIST_QUEUE_BYTES`]).
    pub queue_bytes: usize,
}

impl Default for SyncOptions {
    fn default() -> SyncOptions {
        SyncOptions {
            nopresent: false,
            reloadhint: false,
            queue_limit: PERSIST_QUEUE_LIMIT,
            queue_bytes: PERSIST_QUEUE_BYTES,
        }
    }
}

/// How many entryUUIDs go into one syncIdSet message.
const ID_SET_BATCH: usize = 256;

/// A parsed slapd cookie: `rid=NNN,sid=SSS,csn=CSN` (any part optional).
///
/// RFC 4533 §3.5 leaves the cookie's content to the server; this is slapd 2.5's, read
/// and written as slapd reads and writes it (`slap_parse_sync_cookie`,
/// `slap_compose_sync_cookie`, and syncprov's `syncprov_parseCtrl`), checked against
/// slapd 2.5 with python-ldap (`tests/syncrepl.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// The consumer's replica id as slapd read it, echoed back as `rid=%03d`. `None` is
    /// slapd's -1: a cookie without `rid=` (`csn=X` alone, `garbage`), which slapd
    /// treats as no state, answering with empty cookies.
    pub rid: Option<i64>,
    /// The provider's serverID the consumer named, if it was readable.
    pub sid: Option<i64>,
    /// The CSNs the consumer has, one per serverID (`csn=A;B`); empty when the cookie is
    /// not usable (no `rid=`, or a part slapd refuses), which asks for a full refresh.
    pub csns: Vec<Csn>,
}

impl Default for Cookie {
    /// A request without a cookie: slapd's zeroed `sync_control`, so rid 0 (the cookies
    /// sent back start `rid=000`) and no state.
    fn default() -> Cookie {
        Cookie {
            rid: Some(0),
            sid: None,
            csns: Vec::new(),
        }
    }
}

impl Cookie {
    /// Parses a cookie as slapd 2.5 does. Never fails: as slapd ("If parse fails,
    /// pretend no cookie was sent", syncprov.c), a cookie it cannot use carries no state
    /// (no CSNs, a full refresh) rather than an error. In detail (each checked against
    /// slapd 2.5):
    /// - a cookie of at most 4 bytes is unreadable and leaves rid 0;
    /// - the parts are found by scanning (`junk,rid=001,csn=X` works); `rid=` is a
    ///   decimal `strtol` that must end at `,` or the end and lie in 0–999, `sid=` a
    ///   hexadecimal one in 0–0xfff; a bad one voids the state but the rid read so far
    ///   is echoed (`rid=01x` gives `rid=001`, `rid=1000` gives `rid=1000`);
    /// - **no `rid=` at all voids the state too** (`csn=X` alone gets a full refresh)
    ///   and the cookies sent back are empty;
    /// - `csn=A;B` is read up to the first CSN that does not parse.
    pub fn parse(bytes: &[u8]) -> Cookie {
        // `syncprov_parseCtrl`: the state starts zeroed (rid 0); a failed parse or a
        // missing rid drops the CSNs.
        let mut c = Cookie::default();
        if bytes.len() <= "rid=".len() {
            return c;
        }
        c.rid = None;
        if !c.parse_parts(bytes) || c.rid.is_none() {
            c.csns.clear();
        }
        c
    }

    /// `slap_parse_sync_cookie`'s scan over `bytes`; false where slapd returns -1.
    fn parse_parts(&mut self, bytes: &[u8]) -> bool {
        let mut next = 0;
        while next < bytes.len() {
            let rest = bytes.get(next..).unwrap_or_default();
            if let Some(value) = rest.strip_prefix(b"rid=") {
                let (rid, used) = strtol(value, 10);
                self.rid = Some(rid);
                next += 4 + used;
                if !ends_part(bytes, next) || !(0..=999).contains(&rid) {
                    return false;
                }
                next += usize::from(bytes.get(next) == Some(&b','));
            } else if let Some(value) = rest.strip_prefix(b"sid=") {
                let (sid, used) = strtol(value, 16);
                self.sid = Some(sid);
                next += 4 + used;
                if !ends_part(bytes, next) || !(0..=0xfff).contains(&sid) {
                    return false;
                }
                next += usize::from(bytes.get(next) == Some(&b','));
            } else if rest.starts_with(b"csn=") {
                next = self.parse_csns(bytes, next + 4, true);
            } else if rest.starts_with(b"delcsn=") {
                next = self.parse_csns(bytes, next + 7, false);
            } else {
                next += 1;
            }
        }
        true
    }

    /// Reads `A;B;...` from `at` (or, for `delcsn=`, one CSN, not kept) up to the first
    /// that does not parse; returns where the scan goes on.
    fn parse_csns(&mut self, bytes: &[u8], mut at: usize, keep: bool) -> usize {
        while at < bytes.len() {
            let rest = bytes.get(at..).unwrap_or_default();
            let Some(hash) = rest.iter().position(|&b| b == b'#') else {
                break;
            };
            let after_hash = rest.get(hash..).unwrap_or_default();
            let stop = after_hash
                .iter()
                .position(|&b| b == b';')
                .or_else(|| after_hash.iter().position(|&b| b == b','))
                .map(|p| hash + p);
            let stamp = rest.get(..stop.unwrap_or(rest.len())).unwrap_or_default();
            let Some(csn) = std::str::from_utf8(stamp).ok().and_then(Csn::parse) else {
                break;
            };
            if keep {
                self.csns.push(csn);
            }
            match stop {
                Some(p) if keep && rest.get(p) == Some(&b';') => at += p + 1,
                Some(p) => return at + p + 1,
                None => return bytes.len(),
            }
        }
        at
    }

    /// The consumer's CSN for serverID `sid`. slapd ignores CSNs of serverIDs it does
    /// not track; a cookie without ours carries no usable state (a full refresh).
    pub fn csn_for(&self, sid: u16) -> Option<Csn> {
        self.csns.iter().filter(|c| c.sid == sid).max().copied()
    }

    /// The cookie for CSN `csn`, echoing the consumer's rid, with our serverID, as
    /// slapd's `slap_compose_sync_cookie`: `rid=%03d,sid=%03x,csn=CSN`, without `sid=`
    /// when no serverID is configured (0; syncprov passes -1 then), and empty when the
    /// consumer's cookie had no `rid=`.
    pub fn encode(&self, csn: Option<&Csn>, sid: u16) -> Vec<u8> {
        let Some(rid) = self.rid else {
            return Vec::new();
        };
        let mut s = format!("rid={rid:03}");
        if sid != 0 {
            s.push_str(&format!(",sid={sid:03x}"));
        }
        if let Some(csn) = csn {
            s.push_str(",csn=");
            s.push_str(&csn.to_ldap_string());
        }
        s.into_bytes()
    }
}

/// Whether a number read up to `at` ends its part, as slapd's `*next && *next != ','`
/// test (the end of the cookie counts as its NUL).
fn ends_part(bytes: &[u8], at: usize) -> bool {
    matches!(bytes.get(at), None | Some(b',' | 0))
}

/// C's `strtol(s, &end, base)` for base 10 or 16: leading white space, a sign, for base
/// 16 an optional `0x`, then digits; saturates instead of overflowing. Returns the value
/// and how many bytes it used (0 when there are no digits, as `end == s`).
fn strtol(s: &[u8], base: u32) -> (i64, usize) {
    let mut i = s
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    if base == 16
        && matches!(s.get(i..i + 2), Some(b"0x" | b"0X"))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
    }
    let digits = s
        .get(i..)
        .unwrap_or_default()
        .iter()
        .map_while(|&b| char::from(b).to_digit(base))
        .fold((0i64, 0usize), |(v, n), d| {
            (
                v.saturating_mul(i64::from(base))
                    .saturating_add(i64::from(d)),
                n + 1,
            )
        });
    if digits.1 == 0 {
        return (0, 0);
    }
    let value = if negative { -digits.0 } else { digits.0 };
    (value, i + digits.1)
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
///
/// `mv` (RFC 3876 matched values) reduces the values of the entries the refresh sends,
/// as slapd 2.5 does; the entries of the persist phase go out whole, as slapd sends
/// them (its syncprov queues them outside the search's response path, where the
/// valuesReturnFilter is applied; checked with `ldapsearch -E sync=rp -E mv=...`).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    dir: Arc<Directory>,
    who: Identity,
    req: LdapSearchRequest,
    sync: SyncRequest,
    mv: crate::controls::ValuesReturn,
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
                        &d, &w, &r, since, context, msgid, deadline, &cancelled, &etx, &mv,
                    )?;
                    (end, Phase::Delete)
                }
                Plan::Present(since) => (
                    present_phase(&d, &w, &r, Some(since), msgid, &cancelled, &etx, &mv)?,
                    Phase::Present,
                ),
                Plan::Full => (
                    present_phase(&d, &w, &r, None, msgid, &cancelled, &etx, &mv)?,
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
#[allow(clippy::too_many_arguments)]
fn present_phase(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    since: Option<Csn>,
    msgid: i32,
    cancelled: &dyn Fn() -> bool,
    tx: &mpsc::Sender<Outgoing>,
    mv: &crate::controls::ValuesReturn,
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
            let out = mv.apply(dir, out);
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
    let limits = dir.search_limits(who, &req.base);
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
    let limits = dir.search_limits(who, &req.base);
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
    mv: &crate::controls::ValuesReturn,
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
        let out = mv.apply(dir, ops::result_entry(dir, who, e, req));
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
    fn cookies_are_read_and_written_as_slapd_does() {
        let csn = "20261130044800.953542Z#000000#000#000000";
        let c = Cookie::parse(format!("rid=001,sid=000,csn={csn}").as_bytes());
        assert_eq!((c.rid, c.sid, c.csns.len()), (Some(1), Some(0), 1));
        // (cookie, whether its CSN is kept, the rid echoed back; None: empty cookies),
        // each as slapd 2.5 answered it (python-ldap, 2026-11-30).
        let cases: &[(String, bool, Option<i64>)] = &[
            (String::new(), false, Some(0)),
            ("abc".into(), false, Some(0)),
            ("rid=".into(), false, Some(0)),
            ("rid=5".into(), false, Some(5)),
            ("garbage".into(), false, None),
            (format!("csn={csn}"), false, None),
            (format!("sid=001,csn={csn}"), false, None),
            (format!("rid=1,csn={csn}"), true, Some(1)),
            (format!("rid=+1,csn={csn}"), true, Some(1)),
            (format!("rid= 1,csn={csn}"), true, Some(1)),
            (format!("junk,rid=001,csn={csn}"), true, Some(1)),
            (format!("csn={csn},rid=001"), true, Some(1)),
            (format!("rid=-5,csn={csn}"), false, Some(-5)),
            (format!("rid=abc,csn={csn}"), false, Some(0)),
            (format!("rid=01x,csn={csn}"), false, Some(1)),
            (format!("rid=001;csn={csn}"), false, Some(1)),
            (format!("rid=1000,csn={csn}"), false, Some(1000)),
            (format!("rid=001,sid=zz,csn={csn}"), false, Some(1)),
            (format!("rid=001,sid=1000,csn={csn}"), false, Some(1)),
            (
                format!("rid=001,csn={csn};garbage,junk=1,delcsn=x"),
                true,
                Some(1),
            ),
            (format!("rid=001,csn=garbage;{csn}"), false, Some(1)),
        ];
        for (cookie, kept, rid) in cases {
            let c = Cookie::parse(cookie.as_bytes());
            assert_eq!(c.csns.len(), usize::from(*kept), "{cookie:?}");
            assert_eq!(c.rid, *rid, "{cookie:?}");
        }
        assert_eq!(Cookie::parse(&[0xff, 0xfe]), Cookie::default());
        let at = Csn::parse(csn).expect("csn");
        assert_eq!(
            Cookie::parse(b"rid=1000").encode(Some(&at), 1),
            format!("rid=1000,sid=001,csn={csn}").into_bytes()
        );
        assert_eq!(
            Cookie::parse(b"rid=-5,csn=x").encode(Some(&at), 0x12),
            format!("rid=-05,sid=012,csn={csn}").into_bytes()
        );
        assert!(Cookie::parse(b"garbage").encode(Some(&at), 1).is_empty());
        assert_eq!(
            Cookie::default().encode(None, 1),
            b"rid=000,sid=001".to_vec()
        );
        assert_eq!(
            Cookie::default().encode(Some(&at), 0),
            format!("rid=000,csn={csn}").into_bytes()
        );
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
            &crate::controls::ValuesReturn::default(),
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
