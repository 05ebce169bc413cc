//! Fan-out of committed writes to persistent sync searches (RFC 4533 §3.4), with the cost
//! of a write nearly independent of the number of consumers.
//!
//! One hub task per [`Directory`] drains the store's broadcast of committed writes. Open
//! persistent searches register with it; registrations with the same search (bound
//! identity, base, scope, filter, attribute list and typesOnly: everything that decides
//! what a consumer is sent) share a **group**. For each write the hub decides once per
//! group which touched entries the search covers before and after (add, modify or delete)
//! and builds their SearchResultEntry values once (an `Arc<Change>`). Only what differs per
//! consumer, its messageID and its cookie (which echoes the consumer's `rid`), is added per
//! member. This is slapd's split too: syncprov evaluates a write against each persistent
//! search's filter and queues the entry to every matching search (`syncprov_matchops`,
//! `syncprov_qresp`).
//!
//! The hub hands a member's messages straight to its connection's response queue when
//! that has room and nothing of the member waits (no task switch per consumer: profiling
//! the 16-consumer load showed thread wake-ups, not evaluation, as the main cost). Else the
//! change goes to the member's **backlog**, which the member's own task (`sync::persist`)
//! drains with back-pressure; the hub sends directly again once the backlog is empty. The
//! backlog also holds the writes that arrive while the member's refresh runs; they are
//! drained (skipping those the refresh covered, by CSN) once the refresh is done.
//!
//! It must not block writers: writers only put the write on the broadcast channel (after
//! the durable flush, `Store::wait_durable`); the hub never waits for a consumer. A member
//! whose backlog is full ([`super::PERSIST_QUEUE_LIMIT`] writes or
//! [`super::PERSIST_QUEUE_BYTES`] bytes of entries by default, or `syncprov-queue-limit`
//! and `syncprov-queue-size`, because its client reads too slowly) is dropped: its connection
//! is closed through its `closing` token, with a warning in the log. If the hub itself
//! falls more than [`super::PERSIST_BUFFER`] writes behind the broadcast, every member has
//! lost writes and every member's connection is closed.

use super::Cookie;
use crate::directory::Directory;
use crate::ops;
use crate::session::Identity;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapMsg, LdapOp, LdapResult, LdapSearchRequest, LdapSearchResultEntry, SyncStateValue,
};
use oxldap_proto::{Filter, Outgoing};
use oxldap_store::{Committed, Csn};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{broadcast, mpsc, Notify};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The persistent searches of one [`Directory`] and the hub task that feeds them.
#[derive(Debug, Default)]
pub struct Fanout {
    /// The groups of registered searches, and whether the hub task runs. A std Mutex: held
    /// by the hub while it evaluates one write (no `.await` inside) and by a registration
    /// for a push onto a Vec. Shared with each [`Subscription`], which removes its member
    /// when dropped (the member holds a sender of the connection's response queue, which
    /// must not outlive the search, or the connection's writer task would never end).
    hub: Arc<Mutex<Hub>>,
}

#[derive(Debug, Default)]
struct Hub {
    /// The hub task, once spawned. It runs as long as the Directory lives, or until the
    /// runtime it was spawned on shuts down (an embedded server stopped and started
    /// again): then the next registration spawns a new one.
    task: Option<tokio::task::JoinHandle<()>>,
    /// One group per distinct search; searched linearly (a handful in practice).
    groups: Vec<Group>,
}

#[derive(Debug)]
struct Group {
    /// Who searches, and the request with its limits zeroed (they do not change what a
    /// write means to the search): the group's identity.
    who: Identity,
    key: LdapSearchRequest,
    /// The parsed filter of `key`.
    filter: Filter,
    /// The searches of this group still open.
    members: Vec<Member>,
}

#[derive(Debug)]
struct Member {
    /// The search's messageID (of every message it is sent, and for the log line).
    msgid: i32,
    /// The consumer's cookie (its `rid` is echoed) and our serverID, for the cookies.
    cookie: Cookie,
    sid: u16,
    /// The connection's response queue.
    conn: mpsc::Sender<Outgoing>,
    /// Closes the member's connection (it reads too slowly).
    closing: CancellationToken,
    /// The most writes its backlog may hold.
    limit: usize,
    /// The most bytes of entries its backlog may hold ([`Change::bytes`]).
    limit_bytes: usize,
    /// The backlog, shared with the member's task.
    shared: Arc<Shared>,
}

/// What the hub and a member's task share.
#[derive(Debug, Default)]
struct Shared {
    /// A std Mutex: held to look at or push/pop the backlog, never across `.await`.
    state: Mutex<Backlog>,
    /// Wakes the member's task when the backlog gets work.
    wake: Notify,
}

#[derive(Debug, Default)]
struct Backlog {
    /// The refresh is done and the task drained what waited: the hub may send directly
    /// while `queue` is empty and `draining` is false.
    live: bool,
    /// The member's task has taken a change off `queue` and is sending it: the hub must
    /// queue, or it would overtake it.
    draining: bool,
    /// The CSN of the newest change accepted for the member (queued or sent), or that its
    /// refresh answered up to: changes at or before it are skipped.
    context: Option<Csn>,
    /// Changes not yet handed to the connection, in commit order, each with the index of
    /// its next entry to send.
    queue: VecDeque<(Arc<Change>, usize)>,
    /// The sum of [`Change::bytes`] over `queue`.
    queued_bytes: usize,
    /// The search was abandoned or ended: send it nothing more.
    gone: bool,
    /// The directory's content was replaced without change records (a snapshot restore
    /// or clear, [`Fanout::require_refresh`]): the search ends with e-syncRefreshRequired.
    refresh_required: bool,
}

/// What one committed write means to one group's search.
#[derive(Debug)]
pub struct Change {
    /// The write's CSN (the member skips writes its refresh already covered).
    pub csn: Csn,
    /// The entries to send, in the write's order: the SearchResultEntry (attributes
    /// selected for the group's identity and attribute list), its Sync State and entryUUID.
    /// Never empty (a write the search does not cover is not queued).
    pub entries: Vec<(LdapSearchResultEntry, SyncStateValue, Uuid)>,
    /// About how much memory the entries hold, in bytes: DNs, attribute descriptions and
    /// values, and 64 bytes per entry, attribute and value for the rest. Bounds what a
    /// backlog holds (`syncprov-queue-size`).
    pub bytes: usize,
}

impl Change {
    /// A change of the write with `csn` sending `entries` (see [`Change::bytes`]).
    pub fn new(csn: Csn, entries: Vec<(LdapSearchResultEntry, SyncStateValue, Uuid)>) -> Change {
        let bytes = entries
            .iter()
            .map(|(e, _, _)| {
                64 + e.dn.len()
                    + e.attributes
                        .iter()
                        .map(|a| {
                            64 + a.atype.len() + a.vals.iter().map(|v| 64 + v.len()).sum::<usize>()
                        })
                        .sum::<usize>()
            })
            .sum();
        Change {
            csn,
            entries,
            bytes,
        }
    }
}

/// A registered persistent search, held by its task. Dropping it unregisters the search.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<Mutex<Hub>>,
    shared: Arc<Shared>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Lock order: the hub, then a member's state (as `Fanout::deliver`).
        let mut hub = self.hub.lock().unwrap_or_else(|p| p.into_inner());
        {
            let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
            st.gone = true;
            st.queue.clear();
        }
        hub.groups.retain_mut(|g| {
            g.members.retain(|m| !Arc::ptr_eq(&m.shared, &self.shared));
            !g.members.is_empty()
        });
    }
}

impl Subscription {
    /// The persist phase of the member's task (RFC 4533 §3.4): once the refresh (up to
    /// `context`) is done and its end sent, drains the backlog into the connection's
    /// queue `tx`, waiting for room (the client's pace), until the search is abandoned
    /// (`token`) or the connection closes (`closing`, e.g. cut off by the hub). Returns
    /// None: a persistent search ends without a SearchResultDone.
    #[allow(clippy::too_many_arguments)]
    pub async fn persist(
        &mut self,
        context: Option<Csn>,
        msgid: i32,
        cookie: &Cookie,
        sid: u16,
        token: &CancellationToken,
        closing: &CancellationToken,
        tx: &mpsc::Sender<Outgoing>,
    ) -> Option<(LdapResult, Vec<LdapControl>)> {
        {
            // What waited while the refresh ran and the refresh already covered.
            let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
            if st.refresh_required {
                return Some(refresh_required());
            }
            st.queue.retain(|(c, _)| context.is_none_or(|k| c.csn > k));
            st.queued_bytes = st.queue.iter().map(|(c, _)| c.bytes).sum();
            st.context = st.context.max(context);
        }
        loop {
            // Take the next change off the backlog, or go live when it is empty.
            let next = {
                let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
                if st.refresh_required {
                    return Some(refresh_required());
                }
                let next = st.queue.pop_front();
                if let Some((c, _)) = &next {
                    st.queued_bytes = st.queued_bytes.saturating_sub(c.bytes);
                }
                st.draining = next.is_some();
                st.live = true;
                next
            };
            let Some((change, from)) = next else {
                tokio::select! {
                    () = token.cancelled() => return None,
                    () = closing.cancelled() => return None,
                    () = self.shared.wake.notified() => continue,
                }
            };
            for msg in messages(&change, from, msgid, cookie, sid) {
                tokio::select! {
                    r = tx.send(msg.into()) => r.ok()?,
                    () = token.cancelled() => return None,
                    () = closing.cancelled() => return None,
                }
            }
        }
    }
}

/// The end of a persistent search whose directory was restored or cleared: RFC 4533
/// §3.4 lets the provider end the persist phase with e-syncRefreshRequired (§2.5,
/// 4096), after which the consumer refreshes again with its cookie (answered then with
/// every entry, `sync::plan`).
fn refresh_required() -> (LdapResult, Vec<LdapControl>) {
    (
        crate::error::LdapError::new(
            oxldap_proto::ResultCode::SyncRefreshRequired,
            "the directory was restored from a snapshot or cleared; refresh again",
        )
        .to_result(),
        Vec::new(),
    )
}

/// The messages of `change` from its entry `from` on, for the member with `msgid` and
/// `cookie`: each entry with its Sync State control, the last one carrying the write's
/// cookie (RFC 4533 §3.4).
fn messages<'a>(
    change: &'a Change,
    from: usize,
    msgid: i32,
    cookie: &Cookie,
    sid: u16,
) -> impl Iterator<Item = LdapMsg> + 'a {
    let n = change.entries.len();
    let next = cookie.encode(Some(&change.csn), sid);
    change
        .entries
        .iter()
        .enumerate()
        .skip(from)
        .map(move |(i, (out, st, uuid))| {
            let ck = (i + 1 == n).then(|| next.clone());
            LdapMsg::new_with_ctrls(
                msgid,
                LdapOp::SearchResultEntry(out.clone()),
                super::state(st.clone(), *uuid, ck),
            )
        })
}

impl Fanout {
    /// Registers a persistent search of `who` with `req` and `filter`, whose messages
    /// (with `msgid` and cookies built from `cookie`) go to the connection queue `conn`;
    /// the connection is closed through `closing` if the search falls
    /// `syncprov-queue-limit` writes behind. Starts the hub on first use (must run inside
    /// the Tokio runtime). Every write notified after this call returns reaches the
    /// subscription (the hub subscribes to the broadcast before the first member is
    /// added); until [`Subscription::persist`] runs, writes wait in the backlog.
    #[allow(clippy::too_many_arguments)]
    pub fn register(
        dir: &Arc<Directory>,
        who: &Identity,
        req: &LdapSearchRequest,
        filter: Filter,
        msgid: i32,
        cookie: &Cookie,
        conn: mpsc::Sender<Outgoing>,
        closing: CancellationToken,
    ) -> Subscription {
        let shared = Arc::new(Shared::default());
        let member = Member {
            msgid,
            cookie: cookie.clone(),
            sid: dir.server_id,
            conn,
            closing,
            limit: dir.sync_options.queue_limit.max(1),
            limit_bytes: dir.sync_options.queue_bytes.max(1),
            shared: shared.clone(),
        };
        let mut key = req.clone();
        key.sizelimit = 0;
        key.timelimit = 0;
        let mut hub = dir.fanout.hub.lock().unwrap_or_else(|p| p.into_inner());
        if hub
            .task
            .as_ref()
            .is_none_or(tokio::task::JoinHandle::is_finished)
        {
            hub.task = Some(tokio::spawn(run_hub(
                Arc::downgrade(dir),
                dir.events.subscribe(),
            )));
        }
        match hub
            .groups
            .iter_mut()
            .find(|g| g.who == *who && g.key == key)
        {
            Some(g) => g.members.push(member),
            None => hub.groups.push(Group {
                who: who.clone(),
                key,
                filter,
                members: vec![member],
            }),
        }
        Subscription {
            hub: dir.fanout.hub.clone(),
            shared,
        }
    }

    /// Ends every registered persistent search with e-syncRefreshRequired (RFC 4533
    /// §3.4): called after the directory's content was replaced without change records
    /// (`Server::restore`, `Server::clear` of the embedded harness), which the persist
    /// phase cannot express. A search still in its refresh ends so when the refresh is
    /// done. Returns how many searches were told.
    pub fn require_refresh(&self) -> usize {
        let mut hub = self.hub.lock().unwrap_or_else(|p| p.into_inner());
        let mut told = 0;
        for g in hub.groups.drain(..) {
            for m in g.members {
                {
                    let mut st = m.shared.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.refresh_required = true;
                    st.queue.clear();
                }
                // Stores a permit when the task is not waiting yet.
                m.shared.wake.notify_one();
                told += 1;
            }
        }
        told
    }

    /// The number of distinct searches and of open persistent searches (for tests and
    /// cn=Monitor-style reporting).
    pub fn counts(&self) -> (usize, usize) {
        let hub = self.hub.lock().unwrap_or_else(|p| p.into_inner());
        let members = hub.groups.iter().map(|g| g.members.len()).sum();
        (hub.groups.len(), members)
    }

    /// Evaluates one committed write once per group and queues the result to each member.
    fn deliver(&self, dir: &Directory, c: &Committed) {
        let mut hub = self.hub.lock().unwrap_or_else(|p| p.into_inner());
        hub.groups.retain_mut(|g| {
            g.members.retain(|m| {
                !m.conn.is_closed()
                    && !m.closing.is_cancelled()
                    && !m
                        .shared
                        .state
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .gone
            });
            !g.members.is_empty()
        });
        for g in &mut hub.groups {
            let entries = evaluate(dir, &g.who, &g.key, &g.filter, c);
            if entries.is_empty() {
                continue;
            }
            let change = Arc::new(Change::new(c.csn, entries));
            g.members.retain(|m| hand(m, &change));
        }
    }

    /// The hub lost `lost` writes: every member missed them; close every connection.
    fn lagged(&self, lost: u64) {
        let mut hub = self.hub.lock().unwrap_or_else(|p| p.into_inner());
        for g in hub.groups.drain(..) {
            for m in g.members {
                too_slow(
                    &m,
                    &format!("{lost} writes lost from the broadcast channel"),
                );
            }
        }
    }
}

/// Gives `change` to member `m`: straight to its connection while it is live and nothing
/// of it waits, else (or for what does not fit) into its backlog. False when the member is
/// to be dropped (gone, or cut off for a full backlog).
fn hand(m: &Member, change: &Arc<Change>) -> bool {
    let mut st = m.shared.state.lock().unwrap_or_else(|p| p.into_inner());
    if st.gone {
        return false;
    }
    if st.context.is_some_and(|k| change.csn <= k) {
        return true;
    }
    st.context = Some(change.csn);
    let mut from = 0;
    if st.live && !st.draining && st.queue.is_empty() {
        for msg in messages(change, 0, m.msgid, &m.cookie, m.sid) {
            match m.conn.try_send(msg.into()) {
                Ok(()) => from += 1,
                Err(mpsc::error::TrySendError::Full(_)) => break,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
        if from == change.entries.len() {
            return true;
        }
    }
    if st.queue.len() >= m.limit {
        drop(st);
        too_slow(m, "queue limit reached");
        return false;
    }
    // A write larger than the bound still goes when nothing else waits.
    if !st.queue.is_empty() && st.queued_bytes.saturating_add(change.bytes) > m.limit_bytes {
        drop(st);
        too_slow(m, "queue size limit reached");
        return false;
    }
    st.queued_bytes = st.queued_bytes.saturating_add(change.bytes);
    st.queue.push_back((change.clone(), from));
    drop(st);
    m.shared.wake.notify_one();
    true
}

/// Logs why `m`'s consumer is cut off and closes its connection.
fn too_slow(m: &Member, why: &str) {
    tracing::warn!(
        msgid = m.msgid,
        limit = m.limit,
        limit_bytes = m.limit_bytes,
        "persistent sync search: the consumer reads too slowly ({why}); closing its connection"
    );
    m.closing.cancel();
}

/// The hub task: one per Directory, ends when the Directory (and its broadcast sender) is
/// dropped. Holds only a weak reference between writes, so it does not keep the Directory
/// alive.
async fn run_hub(dir: Weak<Directory>, mut events: broadcast::Receiver<Arc<Committed>>) {
    loop {
        let ev = events.recv().await;
        let Some(dir) = dir.upgrade() else { return };
        match ev {
            Ok(c) => dir.fanout.deliver(&dir, &c),
            Err(broadcast::error::RecvError::Lagged(n)) => dir.fanout.lagged(n),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The entries a committed write means for a search: every touched entry the search
/// covers, before or after, as add, modify or delete (RFC 4533 §3.4): covered after (and
/// before): modify, else add, with the entry as it is now; covered only before: delete,
/// with the DN it had and no attributes (slapd sends the old DN).
fn evaluate(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    filter: &Filter,
    c: &Committed,
) -> Vec<(LdapSearchResultEntry, SyncStateValue, Uuid)> {
    let mut out = Vec::new();
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
                out.push((
                    ops::result_entry(dir, who, a.clone(), req),
                    st,
                    super::uuid_of(a),
                ));
            }
            (true, false, _, Some(b)) => out.push((
                LdapSearchResultEntry {
                    dn: b.dn.to_string(),
                    attributes: Vec::new(),
                },
                SyncStateValue::Delete,
                super::uuid_of(b),
            )),
            _ => {}
        }
    }
    out
}
