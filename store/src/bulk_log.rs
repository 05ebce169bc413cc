//! The change log of a bulk load (issue 4): only the records the bounded log keeps are
//! written.
//!
//! A bulk load ([`Store::bulk`]) of N entries makes at least N change-log records, and
//! the log keeps only the newest `changelog_limit` of them (slapd's
//! `syncprov-sessionlog`; 10,000 by default). Writing all N in the chunks' transactions and
//! trimming N − 10,000 at the end cost about 5% of a 100,000-entry import. Instead each
//! chunk's records are *held* in memory ([`HeldLog`], keyed like the log) with the entry
//! images they are made from; a record pushed out of the newest `changelog_limit` is
//! dropped unbuilt, and the records still held at the end are built and written then.
//! The change numbers and `meta.next_change` are assigned and committed per chunk as
//! before, so the log, its counters and `meta.log_trimmed` end up byte for byte what
//! writing every record and trimming at the end gives (`tests` below compare the trees).
//!
//! What is held is bounded twice: by the log's bound (records beyond it are dropped, as
//! the trim would), and by [`HELD_LOG_BYTES`] of entry images (past it the oldest held
//! records are written out at once, as an ordinary load would have; the trim at the end
//! then removes those beyond the bound).
//!
//! Crash safety: every chunk's transaction also sets `meta.log_trimmed` to the CSN of the
//! newest record not yet written. After a crash mid-load (entries whole, a prefix of the
//! input, as before), the log misses the held records but says so: a content-sync cookie
//! older than them is not "covered" (RFC 4533 §3.4 delete phase) and gets the present
//! phase instead, as after an ordinary trim. The same holds for a reader during the load
//! (none exists in practice: loads run before the server listens).
//!
//! This module must not know the LDIF reader or the chunking: it sees only committed
//! writes' records.

use crate::csn::Csn;
use crate::error::StoreError;
use crate::keys;
use crate::store::Store;
use oxldap_proto::Entry;
use std::collections::BTreeMap;

/// The most entry-image bytes (as estimated by [`image_bytes`]) a bulk load holds for its
/// change log before writing the oldest held records out. The default log bound holds
/// 10,000 records, about 15 MiB of images for the generated Axigen directory; a bound
/// raised to millions (`syncprov-sessionlog`) then costs at most this much memory.
pub(crate) const HELD_LOG_BYTES: usize = 64 << 20;

/// A change-log record not written yet: the images it is made from and its number.
#[derive(Debug)]
pub(crate) struct HeldRecord {
    /// The CSN of the change (the record's key starts with it).
    csn: Csn,
    /// Its changeNumber, already counted in `meta.next_change`.
    number: u64,
    /// The entry before the write (None for an add).
    before: Option<Entry>,
    /// The entry after the write (None for a delete).
    after: Option<Entry>,
    /// [`image_bytes`] of both images, for the [`HELD_LOG_BYTES`] bound.
    bytes: usize,
}

impl HeldRecord {
    /// The record of a change to `before`/`after` at `csn`, numbered `number`; None when
    /// there is no change (no image: an entry added and removed by the same write), as
    /// [`crate::changelog::record`]. The images are taken, not copied: a committed
    /// write's images move here (`Txn::commit`), so a record the bounded log drops later
    /// (90% of a 100,000-entry load's) costs no copy of its entry.
    pub(crate) fn new(
        csn: Csn,
        number: u64,
        before: Option<Entry>,
        after: Option<Entry>,
    ) -> Option<HeldRecord> {
        if before.is_none() && after.is_none() {
            return None;
        }
        let bytes = before.as_ref().map_or(0, image_bytes) + after.as_ref().map_or(0, image_bytes);
        Some(HeldRecord {
            csn,
            number,
            before,
            after,
            bytes,
        })
    }

    /// The stored record, as the write would have stored it.
    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        crate::changelog::record(
            &self.csn,
            self.number,
            self.before.as_ref(),
            self.after.as_ref(),
        )
        .ok_or(StoreError::Corrupt { tree: "changelog" })?
        .encode()
    }
}

/// An estimate of the memory an entry image takes, in bytes: its values and names plus
/// a fixed allowance per value and attribute for the vectors holding them.
fn image_bytes(e: &Entry) -> usize {
    e.attrs
        .iter()
        .map(|a| 48 + a.desc.len() + a.values.iter().map(|v| 24 + v.len()).sum::<usize>())
        .sum::<usize>()
        + 64
}

/// The change-log records a bulk load holds back (see the module documentation).
#[derive(Debug)]
pub(crate) struct HeldLog {
    /// The log's bound: at most this many of the newest records are held.
    limit: usize,
    /// The most image bytes held before the oldest records are written out.
    max_bytes: usize,
    /// Held records by log key ([`crate::changelog::record_key`]), oldest first.
    held: BTreeMap<Vec<u8>, HeldRecord>,
    /// The sum of the held records' `bytes`.
    held_bytes: usize,
    /// The newest key of a record dropped unwritten (beyond the bound).
    newest_dropped: Option<Vec<u8>>,
    /// `meta.log_trimmed` when the load began, restored at the end when nothing was
    /// dropped (the per-chunk markers overwrite it).
    trimmed_before: Option<sled::IVec>,
}

impl HeldLog {
    /// The newest key not written to the tree (held or dropped), if any.
    fn newest_unwritten(&self) -> Option<&Vec<u8>> {
        let held = self.held.keys().next_back();
        match (held, self.newest_dropped.as_ref()) {
            (Some(h), Some(d)) => Some(h.max(d)),
            (h, d) => h.or(d),
        }
    }

    /// The CSN part of a log key.
    fn key_csn(key: &[u8]) -> &[u8] {
        key.get(..key.len().saturating_sub(8)).unwrap_or_default()
    }

    /// Takes a committed write's records; returns the records to write now (the oldest
    /// held ones past [`HeldLog::max_bytes`]), in key order. Records beyond the bound are
    /// dropped.
    fn hold(&mut self, records: Vec<(Vec<u8>, HeldRecord)>) -> Vec<(Vec<u8>, HeldRecord)> {
        for (k, r) in records {
            self.held_bytes += r.bytes;
            if let Some(old) = self.held.insert(k, r) {
                // Keys are unique (CSN ‖ id); keep the sum right should one repeat.
                self.held_bytes -= old.bytes;
            }
        }
        while self.held.len() > self.limit {
            let Some((k, r)) = self.held.pop_first() else {
                break;
            };
            self.held_bytes -= r.bytes;
            match &self.newest_dropped {
                Some(d) if *d >= k => {}
                _ => self.newest_dropped = Some(k),
            }
        }
        let mut out = Vec::new();
        while self.held_bytes > self.max_bytes {
            let Some((k, r)) = self.held.pop_first() else {
                break;
            };
            self.held_bytes -= r.bytes;
            out.push((k, r));
        }
        out
    }
}

impl Store {
    /// Starts holding the change log for a bulk load, with at most `max_bytes` of images.
    pub(crate) fn begin_held_log(&self, max_bytes: usize) -> Result<(), StoreError> {
        let trimmed_before = self.trees.meta.get(keys::META_LOG_TRIMMED)?;
        *self.held_log_lock() = Some(HeldLog {
            limit: self.changelog_limit,
            max_bytes,
            held: BTreeMap::new(),
            held_bytes: 0,
            newest_dropped: None,
            trimmed_before,
        });
        Ok(())
    }

    /// Whether a bulk load holds the change log (then [`Store::log_marker`] and
    /// [`Store::hold_records`] take a write's records).
    pub(crate) fn holds_log(&self) -> bool {
        self.held_log_lock().is_some()
    }

    /// The `meta.log_trimmed` value a write holding `newest` (its newest record key) must
    /// commit: the CSN of the newest record not written once it is held.
    pub(crate) fn log_marker(&self, newest: Option<&Vec<u8>>) -> Option<Vec<u8>> {
        let held = self.held_log_lock();
        let h = held.as_ref()?;
        let unwritten = match (h.newest_unwritten(), newest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }?;
        Some(HeldLog::key_csn(unwritten).to_vec())
    }

    /// Holds a committed write's records (after its transaction succeeded, so a failed
    /// write leaves nothing held) and writes out those past the memory bound. Should that
    /// write fail, they are held again (the write is committed; its caller must not hear
    /// otherwise), and the next write or the end of the load tries again.
    pub(crate) fn hold_records(&self, records: Vec<(Vec<u8>, HeldRecord)>) {
        let out = match self.held_log_lock().as_mut() {
            Some(h) => h.hold(records),
            None => records,
        };
        if let Err(e) = self.write_records(&out) {
            tracing::error!(error = %e, records = out.len(), "change-log records not written; held again");
            if let Some(h) = self.held_log_lock().as_mut() {
                for (k, r) in out {
                    h.held_bytes += r.bytes;
                    h.held.insert(k, r);
                }
            }
        }
    }

    /// Builds and writes `records` (in key order) to the log tree, not atomically: a
    /// record missing after a crash is older than the `meta.log_trimmed` marker the
    /// chunks committed, so the log never claims to hold it.
    ///
    /// Errors: [`StoreError::Storage`] on a sled failure (some records may be written).
    fn write_records(&self, records: &[(Vec<u8>, HeldRecord)]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let built = crate::bulk::par_map(records.iter().collect(), |(k, r)| {
            r.encode().map(|v| (k.clone(), Some(v)))
        });
        let changes = built.into_iter().collect::<Result<Vec<_>, _>>()?;
        crate::postings::apply_sorted(&self.trees.changelog, changes)
    }

    /// Ends the held log of a bulk load: writes the held records, trims the log to its
    /// bound and sets `meta.log_trimmed` to the newest record dropped either way (or back
    /// to its value before the load when none was).
    ///
    /// Errors: [`StoreError::Storage`] on a sled failure; the marker then still says the
    /// held records are missing.
    pub(crate) fn finish_held_log(&self) -> Result<(), StoreError> {
        let Some(h) = self.held_log_lock().take() else {
            return self.trim_changelog();
        };
        let HeldLog {
            held,
            newest_dropped,
            trimmed_before,
            ..
        } = h;
        self.write_records(&held.into_iter().collect::<Vec<_>>())?;
        let trimmed = self
            .drop_oldest_records(crate::store::tree_len(&self.trees.changelog))?
            .map(|k| k.to_vec());
        let newest = match (trimmed, newest_dropped) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        match (newest, trimmed_before) {
            (Some(k), _) => {
                self.trees
                    .meta
                    .insert(keys::META_LOG_TRIMMED, HeldLog::key_csn(&k))?;
            }
            (None, Some(v)) => {
                self.trees.meta.insert(keys::META_LOG_TRIMMED, v)?;
            }
            (None, None) => {
                self.trees.meta.remove(keys::META_LOG_TRIMMED)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::{IndexConfig, IndexKind, MemberOf, Overlays, StoreOptions, WriteCtx};
    use oxldap_proto::{Dn, LdifReader, LdifRecord};
    use oxldap_schema::Schema;
    use std::sync::Arc;

    const SUFFIX: &str = "dc=localdomain,dc=test";

    /// A temporary store with a fixed clock, memberof and a few indexes, keeping `limit`
    /// change-log records.
    fn open(limit: usize) -> Store {
        use IndexKind::*;
        let kinds = |ks: &[IndexKind]| ks.iter().copied().collect();
        Store::open_temporary(
            Arc::new(Schema::builtin()),
            StoreOptions {
                suffixes: vec![Dn::parse(SUFFIX).unwrap()],
                server_id: 1,
                durable: false,
                fixed_clock: Some(1_700_000_000_000_000),
                overlays: Overlays {
                    memberof: Some(MemberOf::slapd_defaults(
                        Dn::parse("cn=admin,dc=localdomain,dc=test").unwrap(),
                    )),
                    refint: None,
                    configured: Vec::new(),
                },
                indexes: IndexConfig {
                    attrs: vec![
                        ("objectClass".into(), kinds(&[Equality, Presence])),
                        ("cn".into(), kinds(&[Equality, Substrings])),
                    ],
                    substr: Default::default(),
                },
                changelog_limit: Some(limit),
            },
        )
        .unwrap()
    }

    /// The Axigen fixture's layout, its first `users` users and its groups (after the
    /// users: memberOf changes entries of earlier chunks), each entry with a fixed
    /// entryUUID so that two loads store the same bytes.
    fn entries(users: usize) -> Vec<Entry> {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/axigen-1000.ldif"
        ))
        .unwrap();
        let all: Vec<Entry> = LdifReader::new(text.as_bytes())
            .map(|r| match r.unwrap() {
                LdifRecord::Content { entry, .. } => entry,
                other => panic!("unexpected record {other:?}"),
            })
            .collect();
        let is_group = |e: &Entry| {
            e.get("objectClass")
                .is_some_and(|a| a.values.iter().any(|v| v == b"groupOfNames"))
        };
        let mut out: Vec<Entry> = all.iter().take(4).cloned().collect();
        out.extend(
            all.iter()
                .skip(4)
                .filter(|e| !is_group(e))
                .take(users)
                .cloned(),
        );
        out.extend(all.iter().filter(|e| is_group(e)).cloned());
        for (i, e) in out.iter_mut().enumerate() {
            let uuid = format!("00000000-0000-4000-8000-{i:012}");
            e.push_value("entryUUID", uuid.into_bytes());
        }
        out
    }

    fn ctx() -> WriteCtx {
        WriteCtx {
            import: true,
            ..WriteCtx::default()
        }
    }

    /// A tree's name and its keys and values, in key order.
    type TreeDump = (&'static str, Vec<(Vec<u8>, Vec<u8>)>);

    /// Every key and value of every tree.
    fn trees(store: &Store) -> Vec<TreeDump> {
        let t = &store.trees;
        [
            ("entries", &t.entries),
            ("dn2id", &t.dn2id),
            ("children", &t.children),
            ("meta", &t.meta),
            ("index", &t.index),
            ("changelog", &t.changelog),
        ]
        .into_iter()
        .map(|(name, tree)| {
            let kvs = tree
                .iter()
                .map(|kv| {
                    let (k, v) = kv.unwrap();
                    (k.to_vec(), v.to_vec())
                })
                .collect();
            (name, kvs)
        })
        .collect()
    }

    /// How a test load runs: the log bound, the first entries added one write each
    /// before the bulk load, a `meta.log_trimmed` value set before it, the chunk size
    /// and the held bytes (None: every record written with its write).
    struct Load {
        limit: usize,
        separate: usize,
        marker: Option<&'static str>,
        chunk: usize,
        held: Option<usize>,
    }

    fn load(how: &Load, entries: &[Entry]) -> Store {
        let store = open(how.limit);
        let (first, rest) = entries.split_at(how.separate);
        for e in first {
            store.add(e.clone(), &ctx()).unwrap();
        }
        if let Some(m) = how.marker {
            store
                .trees
                .meta
                .insert(keys::META_LOG_TRIMMED, m.as_bytes())
                .unwrap();
        }
        store
            .bulk_holding(how.held, || {
                let mut adder = store.bulk_add_chunked(ctx(), how.chunk);
                for (i, e) in rest.iter().enumerate() {
                    adder.push(i, e.clone()).unwrap();
                }
                adder.finish().unwrap();
            })
            .unwrap();
        store
    }

    /// Holding the log stores exactly what writing every record and trimming at the end
    /// stores, in every tree: records dropped beyond the bound (before and during the
    /// load), records written out past the memory bound, and nothing dropped at all
    /// (the marker from before the load stays).
    #[test]
    fn a_held_log_stores_what_a_written_and_trimmed_log_stores() {
        let entries = entries(150);
        let cases = [
            // Dropped during the load; the log was already trimmed before it (70 writes).
            (5, 70, None, 7, HELD_LOG_BYTES),
            // Every chunk writes its oldest records out (a tiny memory bound).
            (40, 0, None, 1024, 2_000),
            // Written out and dropped alike.
            (40, 0, None, 7, 30_000),
            // Nothing dropped: the marker set before the load is kept.
            (
                10_000,
                10,
                Some("20231114221320.000000Z#000000#001#000000"),
                64,
                HELD_LOG_BYTES,
            ),
            // Nothing dropped and no marker before: none after.
            (10_000, 0, None, 64, HELD_LOG_BYTES),
        ];
        for (limit, separate, marker, chunk, held) in cases {
            let mut how = Load {
                limit,
                separate,
                marker,
                chunk,
                held: None,
            };
            let want = trees(&load(&how, &entries));
            how.held = Some(held);
            let store = load(&how, &entries);
            let got = trees(&store);
            let case = format!("limit {limit}, chunk {chunk}, held {held} bytes");
            for ((name, want), (_, got)) in want.iter().zip(&got) {
                assert_eq!(want.len(), got.len(), "{case}: {name} length");
                assert!(want == got, "{case}: {name} differs");
            }
            let log = &got.iter().find(|(n, _)| *n == "changelog").unwrap().1;
            assert!(log.len() <= limit, "{case}: {} records", log.len());
            assert!(store.verify().unwrap().is_empty(), "{case}");
        }
    }

    /// Mid-load, the log lacks the held records and says so: a content-sync cookie older
    /// than them is not covered (so a crash then leaves no log claiming to be whole). At
    /// the end every record is there and the cookie is covered again.
    #[test]
    fn mid_load_the_log_admits_what_it_lacks() {
        let store = open(10_000);
        let entries = entries(60);
        let old = Csn::parse("20000101000000.000000Z#000000#000#000000").unwrap();
        store
            .bulk(|| {
                let mut adder = store.bulk_add_chunked(ctx(), 16);
                for (i, e) in entries.iter().take(40).enumerate() {
                    adder.push(i, e.clone()).unwrap();
                }
                // Two chunks of 16 committed, 8 entries queued.
                assert_eq!(adder.added(), 32);
                let mid = store.changes_since(Some(&old)).unwrap();
                assert!(!mid.covers, "the log must not claim the held records");
                assert_eq!(store.trees.changelog.len(), 0);
                adder.finish().unwrap();
            })
            .unwrap();
        let end = store.changes_since(Some(&old)).unwrap();
        assert!(end.covers);
        assert_eq!(end.records.len(), 40);
        let numbers: Vec<u64> = end.records.iter().map(|r| r.number).collect();
        assert_eq!(numbers, (1..=40).collect::<Vec<_>>());
    }
}
