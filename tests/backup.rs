//! Online backup and restore (issue 9): `oxldap backup` copies a running server while
//! several clients keep writing; the copy restored into a second instance equals the
//! source as of the backup's contextCSN, and a content-sync consumer holding an older
//! cookie converges against the restored server. Also: the offline path, `restore`
//! refusing to overwrite, and `export` on a folder a server holds.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oxldap"))
}

/// Runs `oxldap ARGS`, asserting success; returns stderr.
fn oxldap(args: &[&str]) -> String {
    let out = bin().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "oxldap {args:?} failed:\n{err}");
    err
}

/// The backup file's contextCSN header.
fn header_csn(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# contextCSN: "))
        .expect("the backup has a contextCSN header")
        .to_string()
}

/// DN → every attribute line (user and operational) of the whole subtree, sorted;
/// contextCSN left out (the restored server's is the backup's by design, compared apart).
fn content(s: &Server) -> BTreeMap<String, Vec<String>> {
    let out = s.search_root(&["-b", BASE, "*", "+"]);
    out.expect_code(0);
    let mut m = BTreeMap::new();
    for block in out.stdout.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut lines = block.lines();
        let dn = lines.next().unwrap().to_string();
        let mut attrs: Vec<String> = lines
            .filter(|l| !l.starts_with("contextCSN:"))
            .map(str::to_string)
            .collect();
        attrs.sort();
        m.insert(dn, attrs);
    }
    m
}

fn csn_of(attrs: &[String]) -> String {
    attrs
        .iter()
        .find_map(|l| l.strip_prefix("entryCSN: "))
        .unwrap()
        .to_string()
}

/// Adds `uid=PREFIX-N` entries with the `ldap3` crate until `stop`, counting them.
fn writer(url: String, prefix: String, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    let mut c = ldap3::LdapConn::new(&url).unwrap();
    c.simple_bind(ROOTDN, ROOTPW).unwrap().success().unwrap();
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let uid = format!("{prefix}-{n}");
        let dn = format!("uid={uid},{USERS}");
        c.add(
            &dn,
            vec![
                ("objectClass", HashSet::from(["inetOrgPerson"])),
                ("uid", HashSet::from([uid.as_str()])),
                ("cn", HashSet::from([uid.as_str()])),
                ("sn", HashSet::from(["Writer"])),
            ],
        )
        .unwrap()
        .success()
        .unwrap();
        done.fetch_add(1, Ordering::Relaxed);
        n += 1;
    }
}

/// One entry of a sync refresh as ldapsearch prints it: the UUID and whether it came in
/// full; plus the syncIdSet UUIDs and the final cookie.
#[derive(Debug, Default)]
struct Refresh {
    full: BTreeMap<String, String>,
    present: BTreeSet<String>,
    cookie: Option<String>,
}

fn sync_refresh(s: &Server, cookie: Option<&str>) -> Refresh {
    let out = s.sync_search("ro", cookie, &["-b", BASE, "entryUUID"]);
    out.expect_code(0);
    let mut r = Refresh::default();
    let mut dn = String::new();
    let mut in_set = false;
    for line in out.stdout.lines() {
        if let Some(d) = line.strip_prefix("dn: ") {
            dn = d.to_string();
        }
        if let Some(rest) = line.strip_prefix("# SyncState control, UUID ") {
            let uuid = rest.split(' ').next().unwrap().to_string();
            r.full.insert(uuid, dn.clone());
            continue;
        }
        if line.starts_with("# SyncInfo Received: ID Set") {
            in_set = true;
            continue;
        }
        if in_set {
            if let Some(u) = line.strip_prefix("#\t") {
                r.present.insert(u.trim().to_string());
                continue;
            }
            if line.starts_with("# syncUUIDs:") || line.starts_with("# refreshDeletes") {
                continue;
            }
            in_set = false;
        }
        if let Some(c) = line.strip_prefix("# cookie: ") {
            r.cookie = Some(c.to_string());
        }
    }
    r
}

#[test]
fn online_backup_under_writes_restores_equal_and_syncrepl_converges() {
    let src = Server::on_disk(tempfile::tempdir().unwrap());
    // Some content, then the cookie a consumer would hold from before the backup.
    for i in 0..20 {
        src.modify_root(
            "ldapadd",
            &format!(
                "dn: uid=u{i},{USERS}\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: U{i}\nsn: U\n"
            ),
            &[],
        )
        .expect_code(0);
    }
    // A group larger than one 32 KiB message, with memberOf on its members: both must
    // come back identical.
    let mut ldif = String::new();
    let mut group = format!("dn: cn=big,{GROUPS}\nobjectClass: groupOfNames\ncn: big\n");
    for i in 0..600 {
        ldif.push_str(&format!(
            "dn: uid=member-with-a-long-name-{i},{USERS}\nobjectClass: inetOrgPerson\nuid: member-with-a-long-name-{i}\ncn: M\nsn: M\n\n"
        ));
        group.push_str(&format!(
            "member: uid=member-with-a-long-name-{i},{USERS}\n"
        ));
    }
    ldif.push_str(&group);
    src.modify_root("ldapadd", &ldif, &[]).expect_code(0);
    let before = sync_refresh(&src, None);
    let old_cookie = before
        .cookie
        .clone()
        .expect("a full refresh gives a cookie");
    // The consumer's state at that cookie: UUID -> DN.
    let consumer: BTreeMap<String, String> = before.full.clone();
    // Changes the consumer has not seen yet: a modify (its entry is newer than the cookie).
    src.modify_root(
        "ldapmodify",
        &format!("dn: uid=u3,{USERS}\nchangetype: modify\nreplace: sn\nsn: Changed\n"),
        &[],
    )
    .expect_code(0);
    src.modify_root("ldapdelete", "", &[&format!("uid=u4,{USERS}")])
        .expect_code(0);

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (url, stop, done) = (src.url.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || writer(url, format!("w{w}"), stop, done))
        })
        .collect();
    while done.load(Ordering::Relaxed) < 30 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let at_backup_start = done.load(Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup.ldif");
    let err = oxldap(&["backup", "-H", &src.url, dest.to_str().unwrap()]);
    assert!(err.contains("backed up"), "{err}");
    // Writers kept going during and after the backup.
    let at_backup_end = done.load(Ordering::Relaxed);
    while done.load(Ordering::Relaxed) < at_backup_end + 30 {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(
        at_backup_end > at_backup_start,
        "writes went on during the backup"
    );
    let csn = header_csn(&dest);

    // The source as of the backup's CSN: adds only after the backup started, so exactly
    // the entries whose entryCSN is not newer than the backup's.
    let source = content(&src);
    let expected: BTreeMap<String, Vec<String>> = source
        .iter()
        .filter(|(_, a)| csn_of(a) <= csn)
        .map(|(d, a)| (d.clone(), a.clone()))
        .collect();
    assert!(
        expected.len() < source.len(),
        "some writes came after the backup"
    );
    assert!(
        expected.len() > 24,
        "some concurrent writes are in the backup"
    );

    // Restore into a second instance.
    let data2 = tempfile::tempdir().unwrap();
    let d2 = data2.path().to_str().unwrap().to_string();
    oxldap(&["restore", "--data-dir", &d2, dest.to_str().unwrap()]);
    let restored = Server::on_disk(data2);
    let got = content(&restored);
    assert_eq!(got.len(), expected.len());
    for (dn, attrs) in &expected {
        assert_eq!(got.get(dn), Some(attrs), "{dn} differs after restore");
    }
    let ctx = restored.search_root(&["-b", BASE, "-s", "base", "contextCSN"]);
    assert_eq!(ctx.values("contextCSN"), vec![csn.clone()]);

    // A consumer with the old cookie converges against the restored server.
    let inc = sync_refresh(&restored, Some(&old_cookie));
    let mut state = consumer;
    for (uuid, dn) in &inc.full {
        state.insert(uuid.clone(), dn.clone());
    }
    state.retain(|u, _| inc.full.contains_key(u) || inc.present.contains(u));
    let want = restored.search_root(&["-b", BASE, "entryUUID"]);
    let want: BTreeSet<String> = want.values("entryUUID").into_iter().collect();
    let have: BTreeSet<String> = state.keys().cloned().collect();
    assert_eq!(have, want, "the consumer converged to the restored content");
    // The modified entry came in full; unchanged ones only as present UUIDs.
    assert!(inc.full.values().any(|d| d.starts_with("uid=u3,")));
    assert!(!inc.full.values().any(|d| d.starts_with("uid=u5,")));
    assert!(inc.cookie.unwrap().contains(&csn));
}

#[test]
fn offline_backup_restore_refuses_to_overwrite_and_export_on_a_running_server() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap().to_string();
    let s = Server::on_disk(data);
    // The folder is held: export says so and how to back up instead.
    let out = bin().args(["export", "--data-dir", &d]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another process"), "{err}");
    assert!(err.contains("oxldap backup -H"), "{err}");
    let data = s.stop().unwrap();

    // Offline: straight from the folder.
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.ldif");
    let err = oxldap(&["backup", "--data-dir", &d, dest.to_str().unwrap()]);
    assert!(err.contains("backed up 4 entries"), "{err}");
    // Restoring over a non-empty database needs --force.
    let out = bin()
        .args(["restore", "--data-dir", &d, dest.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    oxldap(&[
        "restore",
        "--force",
        "--data-dir",
        &d,
        dest.to_str().unwrap(),
    ]);
    let s = Server::on_disk(data);
    assert_eq!(s.search_root(&["-b", BASE, "1.1"]).dns().len(), 4);
}

/// Imports the 1,000-user fixture into `work/db` and backs it up to `work/good.ldif`;
/// returns the folder and the backup.
fn fixture_backup(work: &std::path::Path) -> (String, std::path::PathBuf) {
    let d = work.join("db").to_str().unwrap().to_string();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/axigen-1000.ldif"
    );
    oxldap(&["import", "--data-dir", &d, fixture]);
    let good = work.join("good.ldif");
    let err = oxldap(&["backup", "--data-dir", &d, good.to_str().unwrap()]);
    assert!(err.contains("backed up 1054 entries"), "{err}");
    (d, good)
}

/// A backup cut short (a full disk, an interrupted copy) is refused before `restore`
/// changes anything: `--force` keeps the database it would have replaced, and a new
/// folder is not left holding a partial copy (tester finding, 2026-11-30).
#[test]
fn a_damaged_backup_is_refused_before_anything_changes() {
    let work = tempfile::tempdir().unwrap();
    let (d, good) = fixture_backup(work.path());
    let d = d.as_str();
    let text = std::fs::read(&good).unwrap();
    let count = |dir: &str| {
        let out = bin().args(["export", "--data-dir", dir]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("dn:"))
            .count()
    };
    // Cut between entries and in the middle of one.
    for cut in [6000, text.len() / 2] {
        let damaged = work.path().join(format!("cut-{cut}.ldif"));
        std::fs::write(&damaged, &text[..cut]).unwrap();
        let out = bin()
            .args([
                "restore",
                "--force",
                "--data-dir",
                d,
                damaged.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a cut backup was restored: {err}");
        assert!(err.contains("nothing was changed"), "{err}");
        assert_eq!(
            count(d),
            1054,
            "restore --force of a {cut}-byte cut changed the database"
        );
        let fresh = work.path().join(format!("fresh-{cut}"));
        let out = bin()
            .args([
                "restore",
                "--data-dir",
                fresh.to_str().unwrap(),
                damaged.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(!fresh.exists(), "a refused restore left a folder behind");
    }
    // The intact file still restores, over the database with --force.
    let err = oxldap(&[
        "restore",
        "--force",
        "--data-dir",
        d,
        good.to_str().unwrap(),
    ]);
    assert!(err.contains("restored 1054 entries"), "{err}");
    assert_eq!(count(d), 1054);
}

/// Tester 13, finding 2: a restore cut off part-way (here by an entry the
/// schema refuses half-way through the file; killed or crashed alike) left a partial
/// directory that `verify` called consistent and `serve` served. The folder is now marked
/// for the length of the restore: every command but another restore refuses it.
#[test]
fn an_interrupted_restore_is_refused_until_a_restore_completes() {
    let work = tempfile::tempdir().unwrap();
    let (d, good) = fixture_backup(work.path());
    let d = d.as_str();
    // The same file with one entry, past the middle, that the schema refuses: it parses
    // and holds the announced number of entries, so it is loaded until that entry.
    let text = std::fs::read_to_string(&good).unwrap();
    let at = text[text.len() / 2..].find("\nsn: ").unwrap() + text.len() / 2;
    let bad = work.path().join("bad.ldif");
    std::fs::write(
        &bad,
        format!("{}\nnoSuchAttribute: x{}", &text[..at], &text[at..]),
    )
    .unwrap();
    let fresh = work.path().join("fresh");
    let fresh = fresh.to_str().unwrap();
    for dir in [d, fresh] {
        let out = bin()
            .args([
                "restore",
                "--force",
                "--data-dir",
                dir,
                bad.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "the refused entry was restored");
        for cmd in [
            &["verify"][..],
            &["export"],
            &["serve", "-h", "ldap://127.0.0.1:0/"],
        ] {
            let out = bin().args(cmd).args(["--data-dir", dir]).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success(),
                "{cmd:?} accepted a partial restore: {err}"
            );
            assert!(err.contains("interrupted restore"), "{cmd:?}: {err}");
        }
        let err = oxldap(&[
            "restore",
            "--force",
            "--data-dir",
            dir,
            good.to_str().unwrap(),
        ]);
        assert!(err.contains("restored 1054 entries"), "{err}");
        let out = bin().args(["verify", "--data-dir", dir]).output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && said.contains("1054 entries"),
            "{said}"
        );
    }
}

#[test]
fn backup_search_is_for_the_rootdn_only() {
    let s = Server::memory();
    let out = s.search_anon(&["-b", "cn=Backup", "-s", "base"]);
    out.expect_code(50);
}
