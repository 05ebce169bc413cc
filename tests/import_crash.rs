//! An `oxldap import` killed with SIGKILL in the middle of its chunked bulk load leaves a
//! usable folder: every chunk is one sled transaction, so the folder holds a prefix of
//! whole entries, and the index fingerprint removed for the load makes the next open
//! rebuild the indexes. `oxldap verify` finds nothing wrong, the server answers
//! indexed searches for exactly the entries that made it, and its change log (which a
//! bulk load writes at its end) does not claim to cover the entries it lacks.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{Server, BASE, USERS};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The suffix, the layout and `n` users.
fn directory(n: usize) -> String {
    let mut text = String::from(
        "dn: dc=localdomain,dc=test\nobjectClass: organization\nobjectClass: dcObject\no: x\ndc: localdomain\n\n\
         dn: o=localdomain,dc=localdomain,dc=test\nobjectClass: organization\no: localdomain\n\n\
         dn: ou=Users,o=localdomain,dc=localdomain,dc=test\nobjectClass: organizationalUnit\nou: Users\n\n\
         dn: ou=Groups,o=localdomain,dc=localdomain,dc=test\nobjectClass: organizationalUnit\nou: Groups\n\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "dn: uid=u{i},{USERS}\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: User {i}\nsn: Crashtest\nmail: u{i}@localdomain.test\n\n"
        ));
    }
    text
}

/// The size of the files below `dir`, in bytes.
fn size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn an_import_killed_mid_load_leaves_a_usable_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.ldif");
    let total = 20_000;
    std::fs::write(&file, directory(total)).unwrap();
    let data = dir.path().join("db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["import", "--data-dir", data.to_str().unwrap()])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some chunks are on their way to disk (sled's log grows past its first
    // megabytes), or whenever the import ends first: the checks below hold either way.
    let start = Instant::now();
    while size(&data) < 4 << 20 && start.elapsed() < Duration::from_secs(60) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();

    let v = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["verify", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "verify after a killed import: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    let s = Server::start(&["--data-dir", data.to_str().unwrap()], None);
    // Whatever made it is whole and indexed: the indexed and the unindexed filter find
    // the same users, ids u0..u{k} without a hole.
    let indexed = s.search_root(&["-b", USERS, "-s", "one", "(sn=crashtest)", "uid"]);
    indexed.expect_code(0);
    let scanned = s.search_root(&["-b", USERS, "-s", "one", "(uid=*)", "uid"]);
    scanned.expect_code(0);
    let mut uids: Vec<usize> = indexed
        .values("uid")
        .iter()
        .map(|u| u.trim_start_matches('u').parse().unwrap())
        .collect();
    uids.sort_unstable();
    assert_eq!(uids.len(), scanned.values("uid").len());
    eprintln!("{} of {total} users survived the kill", uids.len());
    assert!(uids.len() <= total);
    assert_eq!(
        uids,
        (0..uids.len()).collect::<Vec<_>>(),
        "a prefix of the input"
    );
    let all = s.search_root(&["-b", BASE, "(objectClass=*)", "1.1"]);
    all.expect_code(0);
    // A bulk load writes only the change-log records its bound keeps, at its end, so
    // after the kill the log lacks records of entries that are there; it must say so
    // (`meta.log_trimmed`): a content-sync consumer whose cookie predates the import gets
    // every entry (RFC 4533 present phase), not just the logged ones (a delete phase).
    let sync = s.sync_search(
        "ro",
        Some("rid=001,csn=20000101000000.000000Z#000000#000#000000"),
        &["-b", BASE, "(objectClass=*)", "1.1"],
    );
    sync.expect_code(0);
    let dns = |text: &str| text.lines().filter(|l| l.starts_with("dn: ")).count();
    assert_eq!(
        dns(&sync.stdout),
        dns(&all.stdout),
        "entries sent to a consumer with a cookie older than the import"
    );
}
