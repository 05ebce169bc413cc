//! The change log: one record per entry changed by a write, keyed by CSN, written in the
//! same sled transaction as the change (so a crash keeps both or neither). It serves
//! "what changed since CSN X" to in-process users and to content synchronization
//! (RFC 4533), and its length is bounded like slapd's `syncprov-sessionlog`.
//!
//! Committed changes are also handed, with their before and after images, to an optional
//! observer (the server's persistent searches) right after the commit.

use crate::csn::Csn;
use crate::error::StoreError;
use crate::store::Store;
use oxldap_proto::Entry;
use serde::{Deserialize, Serialize};

/// What a write did to one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeKind {
    /// The entry was added.
    Add,
    /// The entry's attributes changed.
    Modify,
    /// The entry was deleted.
    Delete,
    /// The entry was renamed or moved (its attributes may also have changed).
    ModDn,
}

/// One change log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The CSN of the write (slapd string form).
    pub csn: String,
    /// The entry's entryUUID (hyphenated).
    pub entry_uuid: String,
    /// What happened.
    pub kind: ChangeKind,
    /// The entry's DN after the change (before it, for a delete).
    pub dn: String,
    /// The DN before a rename or move.
    pub old_dn: Option<String>,
}

/// A committed write as the observer sees it: its CSN and, per entry, the before and
/// after images (None for add and delete respectively) with computed attributes.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The write's CSN.
    pub csn: Csn,
    /// `(before, after)` per touched entry.
    pub changes: Vec<(Option<Entry>, Option<Entry>)>,
}

/// Receives every committed write, after the commit, on the writer's thread: it must not
/// block (the server forwards into a bounded channel and drops lagging consumers).
pub trait CommitObserver: Send + Sync {
    /// Whether anyone listens now; when not, the write path skips building [`Committed`]
    /// (cloning the touched entries) altogether.
    fn wanted(&self) -> bool;
    /// Called once per committed write, in commit order.
    fn committed(&self, change: &Committed);
}

/// Default bound of the change log when `syncprov-sessionlog` is not configured.
pub const DEFAULT_CHANGELOG_LIMIT: usize = 10_000;

/// The change log key of a record: the CSN string (fixed width, sorts in time order) and
/// the entry id, so one write can log several entries.
pub(crate) fn record_key(csn: &Csn, id: u64) -> Vec<u8> {
    let mut k = csn.to_ldap_string().into_bytes();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The record for one touched entry; None when nothing user-visible changed.
pub(crate) fn record(
    csn: &Csn,
    before: Option<&Entry>,
    after: Option<&Entry>,
) -> Option<ChangeRecord> {
    let uuid = |e: &Entry| e.first_str("entryUUID").unwrap_or_default().to_string();
    let (kind, e, old) = match (before, after) {
        (None, Some(a)) => (ChangeKind::Add, a, None),
        (Some(b), None) => (ChangeKind::Delete, b, None),
        (Some(b), Some(a)) if a.dn != b.dn => (ChangeKind::ModDn, a, Some(b.dn.to_string())),
        (Some(_), Some(a)) => (ChangeKind::Modify, a, None),
        (None, None) => return None,
    };
    Some(ChangeRecord {
        csn: csn.to_ldap_string(),
        entry_uuid: uuid(e),
        kind,
        dn: e.dn.to_string(),
        old_dn: old,
    })
}

impl Store {
    /// Change records with a CSN greater than `since` (all of them for None), oldest
    /// first. `covers` of the result says whether the log still holds every change since
    /// `since` (false once older records were dropped by the size bound).
    pub fn changes_since(&self, since: Option<&Csn>) -> Result<ChangesSince, StoreError> {
        let start = since.map(|c| {
            let mut k = c.to_ldap_string().into_bytes();
            k.extend_from_slice(&u64::MAX.to_be_bytes());
            k
        });
        let mut records = Vec::new();
        let mut ids = Vec::new();
        let iter = match &start {
            Some(s) => self.trees.changelog.range(s.clone()..),
            None => self.trees.changelog.range::<Vec<u8>, _>(..),
        };
        for kv in iter {
            let (k, v) = kv?;
            let r: ChangeRecord =
                bincode::deserialize(&v).map_err(|_| StoreError::Corrupt { tree: "changelog" })?;
            let id = k
                .len()
                .checked_sub(8)
                .and_then(|at| k.get(at..))
                .and_then(crate::keys::decode_id)
                .ok_or(StoreError::Corrupt { tree: "changelog" })?;
            records.push(r);
            ids.push(id);
        }
        let trimmed = self
            .trees
            .meta
            .get(crate::keys::META_LOG_TRIMMED)?
            .and_then(|v| std::str::from_utf8(&v).ok().and_then(Csn::parse));
        let covers = match (since, trimmed) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(s), Some(t)) => t <= *s,
        };
        Ok(ChangesSince {
            records,
            ids,
            covers,
        })
    }

    /// The entry with store id `id` as it is now, with computed operational attributes;
    /// None when it was deleted. Ids come from [`ChangesSince::ids`].
    pub fn entry_by_id(&self, id: u64) -> Result<Option<Entry>, StoreError> {
        Ok(self.load(id)?.map(|(_, stored)| self.present(id, stored)))
    }

    /// Drops the oldest records beyond the bound; remembers the newest CSN dropped.
    pub(crate) fn trim_changelog(&self) -> Result<(), StoreError> {
        let len = self.trees.changelog.len();
        if len <= self.changelog_limit {
            return Ok(());
        }
        let mut newest_dropped = None;
        for k in self
            .trees
            .changelog
            .iter()
            .keys()
            .take(len - self.changelog_limit)
        {
            let k = k?;
            self.trees.changelog.remove(&k)?;
            newest_dropped = Some(k);
        }
        if let Some(k) = newest_dropped {
            let csn = k.get(..k.len().saturating_sub(8)).unwrap_or_default();
            self.trees.meta.insert(crate::keys::META_LOG_TRIMMED, csn)?;
        }
        Ok(())
    }
}

/// The answer of [`Store::changes_since`].
#[derive(Debug, Clone)]
pub struct ChangesSince {
    /// The records, oldest first.
    pub records: Vec<ChangeRecord>,
    /// The store id of each record's entry (same order as `records`), for
    /// [`Store::entry_by_id`]: ids never change, across renames and moves.
    pub ids: Vec<u64>,
    /// Whether no record newer than the asked CSN was dropped.
    pub covers: bool,
}
