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

/// One change log record. Stored as [`RECORD_V2`] followed by its bincode; records
/// written before the format carried `number` and the change detail (format 1: bincode
/// of the first five fields only) still decode, with `number` 0 and no detail.
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
    /// The changeNumber (draft-good-ldap-changelog): 1, 2, 3... in commit order, never
    /// reused (kept in `meta.next_change`, written in the same transaction); 0 for a
    /// format-1 record.
    pub number: u64,
    /// For add and modify (and the attribute changes of a modDN): the changes as RFC 2849
    /// LDIF lines (an add: the entry's attributes; a modify: `add:`/`delete:`/`replace:`
    /// sections separated by `-`). Attributes the server stamps on every write
    /// ([`STAMPED`]) are left out.
    pub changes: Option<String>,
    /// For a modDN: the new RDN.
    pub new_rdn: Option<String>,
    /// For a modDN: whether the old RDN values were removed from the entry.
    pub delete_old_rdn: Option<bool>,
    /// For a modDN that moved the entry: its new parent.
    pub new_superior: Option<String>,
}

/// The leading byte of a format-2 change record (a format-1 record starts with the
/// little-endian length of its CSN string, 36, so the two cannot be confused).
pub const RECORD_V2: u8 = 2;

/// Attributes stamped by the server on every write, left out of [`ChangeRecord::changes`].
pub const STAMPED: &[&str] = &[
    "entryCSN",
    "entryUUID",
    "modifyTimestamp",
    "modifiersName",
    "createTimestamp",
    "creatorsName",
];

/// The format-1 record (before change numbers), for decoding old logs.
#[derive(Deserialize)]
struct ChangeRecordV1 {
    csn: String,
    entry_uuid: String,
    kind: ChangeKind,
    dn: String,
    old_dn: Option<String>,
}

impl ChangeRecord {
    /// The stored form: [`RECORD_V2`] then bincode.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let mut v = vec![RECORD_V2];
        bincode::serialize_into(&mut v, self)
            .map_err(|_| StoreError::Corrupt { tree: "changelog" })?;
        Ok(v)
    }

    /// Decodes either stored format.
    pub(crate) fn decode(bytes: &[u8]) -> Result<ChangeRecord, StoreError> {
        let corrupt = || StoreError::Corrupt { tree: "changelog" };
        match bytes.split_first() {
            Some((&RECORD_V2, rest)) => bincode::deserialize(rest).map_err(|_| corrupt()),
            _ => {
                let v1: ChangeRecordV1 = bincode::deserialize(bytes).map_err(|_| corrupt())?;
                Ok(ChangeRecord {
                    csn: v1.csn,
                    entry_uuid: v1.entry_uuid,
                    kind: v1.kind,
                    dn: v1.dn,
                    old_dn: v1.old_dn,
                    number: 0,
                    changes: None,
                    new_rdn: None,
                    delete_old_rdn: None,
                    new_superior: None,
                })
            }
        }
    }
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

/// The record for one touched entry, numbered `number`; None when nothing changed.
pub(crate) fn record(
    csn: &Csn,
    number: u64,
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
    let mut r = ChangeRecord {
        csn: csn.to_ldap_string(),
        entry_uuid: uuid(e),
        kind,
        dn: e.dn.to_string(),
        old_dn: old,
        number,
        changes: None,
        new_rdn: None,
        delete_old_rdn: None,
        new_superior: None,
    };
    match (before, after) {
        (None, Some(a)) => r.changes = Some(add_ldif(a)),
        (Some(b), Some(a)) => {
            let diff = modify_ldif(b, a);
            r.changes = (!diff.is_empty()).then_some(diff);
            if kind == ChangeKind::ModDn {
                r.new_rdn = a.dn.rdn().map(ToString::to_string);
                // deleteOldRDN: some value of the old RDN is no longer in the entry.
                r.delete_old_rdn = b.dn.rdn().map(|old| {
                    old.avas.iter().any(|ava| {
                        !a.values(&ava.attr)
                            .iter()
                            .any(|v| v.eq_ignore_ascii_case(&ava.value))
                    })
                });
                let (pa, pb) = (a.dn.parent(), b.dn.parent());
                if pa != pb {
                    r.new_superior = pa.map(|p| p.to_string());
                }
            }
        }
        _ => {}
    }
    Some(r)
}

fn stamped(desc: &str) -> bool {
    STAMPED.iter().any(|s| s.eq_ignore_ascii_case(desc))
}

/// The attributes of an added entry as LDIF lines.
fn add_ldif(e: &Entry) -> String {
    let mut out = Vec::new();
    for a in e.attrs.iter().filter(|a| !stamped(&a.desc)) {
        for v in &a.values {
            let _ = oxldap_proto::ldif::write_attr_line(&mut out, &a.desc, v);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The modification from `b` to `a` as LDIF `add:`/`delete:`/`replace:` sections: values
/// only added become `add`, only removed `delete`, both `replace` (values compared as
/// stored bytes).
fn modify_ldif(b: &Entry, a: &Entry) -> String {
    let mut descs: Vec<&str> = Vec::new();
    for at in b.attrs.iter().chain(&a.attrs) {
        if !stamped(&at.desc) && !descs.iter().any(|d| d.eq_ignore_ascii_case(&at.desc)) {
            descs.push(&at.desc);
        }
    }
    let mut out = Vec::new();
    for d in descs {
        let (old, new) = (b.values(d), a.values(d));
        if old == new {
            continue;
        }
        // Sets, not list searches: a 50,000-member group's record must not cost 50,000².
        let old_set: rustc_hash::FxHashSet<&[u8]> = old.iter().map(Vec::as_slice).collect();
        let new_set: rustc_hash::FxHashSet<&[u8]> = new.iter().map(Vec::as_slice).collect();
        let added: Vec<&Vec<u8>> = new
            .iter()
            .filter(|v| !old_set.contains(v.as_slice()))
            .collect();
        let removed: Vec<&Vec<u8>> = old
            .iter()
            .filter(|v| !new_set.contains(v.as_slice()))
            .collect();
        let (op, values): (&str, Vec<&Vec<u8>>) = match (added.is_empty(), removed.is_empty()) {
            (true, true) => continue,
            (false, true) => ("add", added),
            (true, false) if new.is_empty() => ("delete", Vec::new()),
            (true, false) => ("delete", removed),
            (false, false) => ("replace", new.iter().collect()),
        };
        out.extend_from_slice(format!("{op}: {d}\n").as_bytes());
        for v in values {
            let _ = oxldap_proto::ldif::write_attr_line(&mut out, d, v);
        }
        out.extend_from_slice(b"-\n");
    }
    String::from_utf8_lossy(&out).into_owned()
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
            let r = ChangeRecord::decode(&v)?;
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

    /// The changeNumber the next change log record gets (1 for a new store).
    pub(crate) fn next_change_number(&self) -> Result<u64, StoreError> {
        Ok(self
            .trees
            .meta
            .get(crate::keys::META_NEXT_CHANGE)?
            .and_then(|v| crate::keys::decode_id(&v))
            .unwrap_or(1))
    }

    /// The entry with store id `id` as it is now, with computed operational attributes;
    /// None when it was deleted. Ids come from [`ChangesSince::ids`].
    pub fn entry_by_id(&self, id: u64) -> Result<Option<Entry>, StoreError> {
        Ok(self.load(id)?.map(|(_, stored)| self.present(id, stored)))
    }

    /// Drops the oldest records beyond the bound; remembers the newest CSN dropped.
    ///
    /// The length comes from the change numbers, not from `sled::Tree::len` (a scan of
    /// the whole log, 10,000 records by default, which every 64th write paid: about a
    /// tenth of a modify's instructions): numbers are given in key order without gaps
    /// (`Txn::commit`, under the write lock) and the oldest records go first, so the log
    /// holds exactly the numbers from its first record's up to `meta.next_change`.
    /// A log still starting with format-1 records (number 0) is counted by the scan.
    pub(crate) fn trim_changelog(&self) -> Result<(), StoreError> {
        let len = match self.trees.changelog.first()? {
            None => return Ok(()),
            Some((_, oldest)) => match ChangeRecord::decode(&oldest)?.number {
                0 => crate::store::tree_len(&self.trees.changelog),
                first => {
                    let span = self.next_change_number()?.saturating_sub(first);
                    usize::try_from(span).unwrap_or(usize::MAX)
                }
            },
        };
        if let Some(k) = self.drop_oldest_records(len)? {
            let csn = k.get(..k.len().saturating_sub(8)).unwrap_or_default();
            self.trees.meta.insert(crate::keys::META_LOG_TRIMMED, csn)?;
        }
        Ok(())
    }

    /// Drops the oldest records of a log holding `len` records beyond the bound; returns
    /// the key of the newest one dropped (None when the log is within its bound). The end
    /// of a bulk load counts `len` with a scan: its held log may have written old records
    /// and dropped newer ones unbuilt, so the numbers there have gaps.
    pub(crate) fn drop_oldest_records(&self, len: usize) -> Result<Option<sled::IVec>, StoreError> {
        if len <= self.changelog_limit {
            return Ok(None);
        }
        let mut newest_dropped = None;
        // One batch: a bulk load trims tens of thousands of records at its end.
        let mut batch = sled::Batch::default();
        for k in self
            .trees
            .changelog
            .iter()
            .keys()
            .take(len - self.changelog_limit)
        {
            let k = k?;
            batch.remove(k.clone());
            newest_dropped = Some(k);
        }
        self.trees.changelog.apply_batch(batch)?;
        Ok(newest_dropped)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use oxldap_proto::Dn;

    /// A record written before the format carried change numbers still decodes.
    #[test]
    fn format_1_records_decode() {
        #[derive(Serialize)]
        struct V1<'a>(&'a str, &'a str, ChangeKind, &'a str, Option<&'a str>);
        let csn = "20261129163817.669945Z#000000#000#000000";
        let v1 = bincode::serialize(&V1(csn, "u", ChangeKind::Modify, "cn=a", None)).unwrap();
        let r = ChangeRecord::decode(&v1).unwrap();
        assert_eq!(
            (r.csn.as_str(), r.kind, r.number),
            (csn, ChangeKind::Modify, 0)
        );
        let r2 = ChangeRecord { number: 7, ..r };
        assert_eq!(ChangeRecord::decode(&r2.encode().unwrap()).unwrap(), r2);
    }

    /// An in-memory store keeping `limit` change records, with `n` entries added (one
    /// write, so one record, each).
    fn store_with_writes(limit: usize, n: usize) -> Store {
        let opts = crate::StoreOptions {
            suffixes: vec![Dn::parse("dc=example,dc=com").unwrap()],
            server_id: 1,
            durable: false,
            fixed_clock: None,
            overlays: Default::default(),
            indexes: Default::default(),
            changelog_limit: Some(limit),
        };
        let s = Store::open_temporary(std::sync::Arc::new(oxldap_schema::Schema::builtin()), opts)
            .unwrap();
        crate::test_support::add(&s, "dc=example,dc=com", "domain");
        for i in 1..n {
            let dn = format!("ou=u{i},dc=example,dc=com");
            crate::test_support::add(&s, &dn, "organizationalUnit");
        }
        s
    }

    /// The log is trimmed to its bound by change numbers (no scan of the log): exactly
    /// the newest `limit` records stay, and the newest dropped CSN is remembered.
    #[test]
    fn trim_keeps_the_newest_records_by_number() {
        // 100 writes: the periodic trim (every 64th write) ran once, at write 64.
        let s = store_with_writes(10, 100);
        assert_eq!(s.trees.changelog.len(), 10 + (100 - 64));
        s.trim_changelog().unwrap();
        let all = s.changes_since(None).unwrap();
        let numbers: Vec<u64> = all.records.iter().map(|r| r.number).collect();
        assert_eq!(numbers, (91..=100).collect::<Vec<u64>>());
        assert!(!all.covers, "older records were dropped");
        // Trimming a log within its bound changes nothing.
        s.trim_changelog().unwrap();
        assert_eq!(s.trees.changelog.len(), 10);
        // A cookie at the oldest kept record's predecessor is still covered.
        let kept = Csn::parse(&all.records[0].csn).unwrap();
        assert!(s.changes_since(Some(&kept)).unwrap().covers);
    }

    /// A log that still starts with format-1 records (no change numbers) is counted by
    /// a scan, and its old records go first.
    #[test]
    fn trim_counts_a_log_with_format_1_records() {
        let s = store_with_writes(5, 8);
        #[derive(Serialize)]
        struct V1<'a>(&'a str, &'a str, ChangeKind, &'a str, Option<&'a str>);
        // Older than every record of the store (CSNs sort by time).
        let old = Csn::parse("20000101000000.000000Z#000000#000#000000").unwrap();
        for id in [1u64, 2] {
            let v1 = bincode::serialize(&V1(
                &old.to_ldap_string(),
                "u",
                ChangeKind::Modify,
                "cn=a",
                None,
            ))
            .unwrap();
            s.trees.changelog.insert(record_key(&old, id), v1).unwrap();
        }
        assert_eq!(s.trees.changelog.len(), 10);
        s.trim_changelog().unwrap();
        let numbers: Vec<u64> = s
            .changes_since(None)
            .unwrap()
            .records
            .iter()
            .map(|r| r.number)
            .collect();
        assert_eq!(numbers, vec![4, 5, 6, 7, 8]);
    }

    fn entry(dn: &str, attrs: &[(&str, &str)]) -> Entry {
        let mut e = Entry::new(Dn::parse(dn).unwrap());
        for (d, v) in attrs {
            e.push_value(d, v.as_bytes().to_vec());
        }
        e
    }

    #[test]
    fn modify_and_moddn_detail() {
        let b = entry(
            "uid=a,ou=x,dc=t",
            &[
                ("uid", "a"),
                ("sn", "Old"),
                ("mail", "m1"),
                ("entryCSN", "1"),
            ],
        );
        let a = entry(
            "uid=b,ou=y,dc=t",
            &[
                ("uid", "b"),
                ("sn", "Old"),
                ("mail", "m1"),
                ("mail", "m2"),
                ("entryCSN", "2"),
            ],
        );
        let csn = Csn::parse("20261129163817.669945Z#000000#000#000000").unwrap();
        let r = record(&csn, 3, Some(&b), Some(&a)).unwrap();
        assert_eq!(r.kind, ChangeKind::ModDn);
        assert_eq!(r.number, 3);
        assert_eq!(
            r.changes.as_deref(),
            Some("replace: uid\nuid: b\n-\nadd: mail\nmail: m2\n-\n")
        );
        assert_eq!(r.new_rdn.as_deref(), Some("uid=b"));
        assert_eq!(r.delete_old_rdn, Some(true));
        assert_eq!(r.new_superior.as_deref(), Some("ou=y,dc=t"));
    }
}
