//! `oxldap import` (a bulk load: `Store::bulk`) gives the same directory as the same
//! entries added one by one over the wire, and an entry that fails in the middle of an
//! import is reported with its line, DN and result code while everything before it stays
//! whole and nothing of it is written.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{fixture, Server, BASE, GROUPS, USERS};
use std::collections::BTreeMap;
use std::process::Command;

/// Operational attributes whose values differ between two loads of the same LDIF (fresh
/// UUIDs, the clock), compared only for presence.
const VOLATILE: &[&str] = &[
    "entryUUID",
    "entryCSN",
    "createTimestamp",
    "modifyTimestamp",
    "contextCSN",
];

/// Every entry of the server's directory (user and operational attributes), DN → sorted
/// `attr: value` lines, with volatile values replaced by a marker.
fn dump(s: &Server) -> BTreeMap<String, Vec<String>> {
    let out = s.search_root(&["-b", BASE, "(objectClass=*)", "*", "+"]);
    out.expect_code(0);
    let mut entries = BTreeMap::new();
    for block in out.stdout.split("\n\n") {
        let mut lines: Vec<String> = block
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if lines.is_empty() {
            continue;
        }
        let dn = lines.remove(0);
        for l in &mut lines {
            let name = l.split(':').next().unwrap_or_default();
            if VOLATILE.contains(&name) {
                *l = format!("{name}: <volatile>");
            }
        }
        lines.sort();
        entries.insert(dn, lines);
    }
    entries
}

fn import(data: &std::path::Path, file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["import", "--data-dir", data.to_str().unwrap()])
        .arg(file)
        .output()
        .unwrap()
}

fn verify(data: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["verify", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap()
}

/// Filters answered through the indexes (equality, presence, substrings, memberOf).
const FILTERS: &[&str] = &[
    "(objectClass=inetOrgPerson)",
    "(objectClass=groupOfNames)",
    "(cn=*horvat*)",
    "(sn=Horvat)",
    "(mail=*@localdomain.test)",
    "(givenName=sv*)",
    "(memberOf=*)",
    "(&(objectClass=inetOrgPerson)(cn=*a*)(memberOf=*))",
    "(entryUUID=*)",
];

/// The fixture's first 300 records and all its groups (members beyond the first users
/// dangle, which memberof ignores in both paths): big enough to span index chunks of
/// several keys, small enough for adds one by one in a debug build.
fn subset() -> String {
    let text = std::fs::read_to_string(fixture()).unwrap();
    let blocks: Vec<&str> = text.split("\n\n").filter(|b| b.contains("dn:")).collect();
    let mut out = String::new();
    for (i, b) in blocks.iter().enumerate() {
        if i < 300 || b.contains("objectClass: groupOfNames") {
            out.push_str(b.trim_matches('\n'));
            out.push_str("\n\n");
        }
    }
    out
}

#[test]
fn import_gives_the_directory_that_adds_over_the_wire_give() {
    let data = tempfile::tempdir().unwrap();
    let text = subset();
    let file = data.path().join("subset.ldif");
    std::fs::write(&file, &text).unwrap();
    let data_dir = data.path().join("db");
    let imp = import(&data_dir, &file);
    assert!(
        imp.status.success(),
        "{}",
        String::from_utf8_lossy(&imp.stderr)
    );
    let v = verify(&data_dir);
    assert!(
        v.status.success(),
        "verify after import: {}",
        String::from_utf8_lossy(&v.stdout)
    );
    let bulk = Server::start(&["--data-dir", data_dir.to_str().unwrap()], None);

    let one_by_one = Server::start(&["--memory", "--no-layout"], None);
    one_by_one.modify_root("ldapadd", &text, &[]).expect_code(0);

    let (a, b) = (dump(&bulk), dump(&one_by_one));
    assert_eq!(a.len(), b.len());
    assert_eq!(a.len(), text.matches("dn: ").count());
    for (dn, attrs) in &a {
        assert_eq!(Some(attrs), b.get(dn), "{dn}");
    }
    // memberOf came out of the overlay in both (the fixture carries none).
    assert!(a.values().flatten().any(|l| l.starts_with("memberOf: ")));
    for f in FILTERS {
        let q = |s: &Server| {
            let out = s.search_root(&["-b", BASE, f, "1.1"]);
            out.expect_code(0);
            common::sorted(out.dns())
        };
        let got = q(&bulk);
        assert!(!got.is_empty(), "{f} matched nothing");
        assert_eq!(got, q(&one_by_one), "{f}");
    }
    // One CSN per write (a group's add stamps its members with its own), in both.
    let distinct = |s: &Server| {
        s.search_root(&["-b", BASE, "(objectClass=*)", "entryCSN"])
            .values("entryCSN")
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    assert_eq!(distinct(&bulk), distinct(&one_by_one));
}

#[test]
fn a_failing_entry_mid_import_is_reported_and_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mid.ldif");
    let mut text = String::from(
        "dn: dc=localdomain,dc=test\nobjectClass: organization\nobjectClass: dcObject\no: x\ndc: localdomain\n\n\
         dn: o=localdomain,dc=localdomain,dc=test\nobjectClass: organization\no: localdomain\n\n\
         dn: ou=Users,o=localdomain,dc=localdomain,dc=test\nobjectClass: organizationalUnit\nou: Users\n\n\
         dn: ou=Groups,o=localdomain,dc=localdomain,dc=test\nobjectClass: organizationalUnit\nou: Groups\n\n",
    );
    for i in 0..50 {
        text.push_str(&format!(
            "dn: uid=u{i},{USERS}\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: User {i}\nsn: Zyxwv\nmail: u{i}@localdomain.test\n\n"
        ));
    }
    text.push_str(&format!(
        "dn: cn=staff,{GROUPS}\nobjectClass: groupOfNames\ncn: staff\nmember: uid=u1,{USERS}\nmember: uid=u2,{USERS}\n\n"
    ));
    // Line of the failing record: inetOrgPerson requires sn (objectClassViolation, 65).
    let bad_line = text.lines().count() + 1;
    text.push_str(&format!(
        "dn: uid=broken,{USERS}\nobjectClass: inetOrgPerson\nuid: broken\ncn: Qqbroken\nmail: broken@localdomain.test\n\n"
    ));
    text.push_str(&format!(
        "dn: uid=after,{USERS}\nobjectClass: inetOrgPerson\nuid: after\ncn: After\nsn: Zyxwv\n\n"
    ));
    std::fs::write(&f, &text).unwrap();
    let data = dir.path().join("db");
    let out = import(&data, &f);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("mid.ldif:{bad_line}:")), "{err}");
    assert!(err.contains(&format!("uid=broken,{USERS}")), "{err}");
    assert!(err.contains("(65)"), "{err}");

    let v = verify(&data);
    assert!(
        v.status.success(),
        "verify after a failed import: {}",
        String::from_utf8_lossy(&v.stdout)
    );
    let s = Server::start(&["--data-dir", data.to_str().unwrap()], None);
    // Everything before the failing entry is there, whole and indexed; nothing of it or
    // after it.
    let users = s.search_root(&["-b", USERS, "-s", "one", "(sn=zyxwv)", "1.1"]);
    assert_eq!(users.dns().len(), 50);
    let subs = s.search_root(&["-b", BASE, "(cn=*er 4*)", "1.1"]);
    assert_eq!(subs.dns().len(), 11);
    for f in [
        "(uid=broken)",
        "(cn=*qqbroken*)",
        "(mail=broken*)",
        "(uid=after)",
    ] {
        let hits = s.search_root(&["-b", BASE, f, "1.1"]);
        hits.expect_code(0);
        assert!(hits.dns().is_empty(), "{f}: {:?}", hits.dns());
    }
    let staff = s.search_root(&["-b", USERS, &format!("(memberOf=cn=staff,{GROUPS})"), "1.1"]);
    assert_eq!(
        common::sorted(staff.dns()),
        vec![format!("uid=u1,{USERS}"), format!("uid=u2,{USERS}")]
    );
}
