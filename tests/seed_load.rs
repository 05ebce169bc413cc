//! Seed loads (issue 7): `serve --memory --ldif` and the embedded builder with a seed that
//! starts with the suffix entry (the output of gen-directory.py, `oxldap export`, slapcat)
//! define the tree themselves instead of failing with entryAlreadyExists against the
//! default layout; seeds load through the store's chunked bulk path, and a refused entry in
//! the middle of a chunk is reported with its line while the entries before it stay and
//! nothing of it or after it is visible.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{fixture, Server, BASE, GROUPS, USERS};
use oxldap::ResultCode;

/// The fixture's number of entries (suffix, layout, users, groups).
fn fixture_entries() -> usize {
    std::fs::read_to_string(fixture())
        .unwrap()
        .matches("\ndn: ")
        .count()
        + 1
}

#[test]
fn serve_ldif_starting_with_the_suffix_defines_the_tree() {
    // Without --no-layout: the seed's first record is the suffix entry.
    let f = fixture();
    let s = Server::start(&["--memory", "--ldif", f.to_str().unwrap()], None);
    let all = s.search_root(&["-b", BASE, "(objectClass=*)", "1.1"]);
    all.expect_code(0);
    assert_eq!(all.dns().len(), fixture_entries());
    // The suffix entry is the seed's (its `o` value), not the layout's.
    let suffix = s.search_root(&["-b", BASE, "-s", "base", "(objectClass=*)", "o"]);
    suffix.expect_code(0);
    let want: Vec<String> = std::fs::read_to_string(fixture())
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("o: ").map(str::to_string))
        .collect();
    assert_eq!(suffix.values("o"), want);
    // memberOf came from the overlay during the load, and the index answers.
    let members = s.search_root(&["-b", USERS, "(memberOf=*)", "1.1"]);
    members.expect_code(0);
    assert!(!members.dns().is_empty());
    let groups = s.search_root(&[
        "-b",
        GROUPS,
        "-s",
        "one",
        "(objectClass=groupOfNames)",
        "1.1",
    ]);
    assert_eq!(groups.dns().len(), 50);
}

#[test]
fn serve_ldif_without_the_suffix_still_gets_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("users.ldif");
    std::fs::write(
        &f,
        format!(
            "dn: uid=solo,{USERS}\nobjectClass: inetOrgPerson\nuid: solo\ncn: Solo\nsn: Solo\n"
        ),
    )
    .unwrap();
    let s = Server::start(&["--memory", "--ldif", f.to_str().unwrap()], None);
    let out = s.search_root(&["-b", BASE, "(objectClass=*)", "1.1"]);
    out.expect_code(0);
    // suffix, o=localdomain, ou=Groups, ou=Users, the user.
    assert_eq!(out.dns().len(), 5);
}

/// A seed loaded after the default layout: the bulk load starts over a small index (the
/// layout's postings), copies it and writes the seed's postings against the copy
/// (issue 7). Keys the layout and the seed share (chunk 0 holds both) must keep both
/// sides' ids; keys only the layout has must stay.
#[test]
fn serve_ldif_after_the_layout_keeps_the_layouts_postings() {
    let text = std::fs::read_to_string(fixture()).unwrap();
    let records: Vec<&str> = text
        .split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .collect();
    // Without the suffix and the three layout entries: the layout is created first.
    let seed: Vec<&str> = records.get(4..).unwrap().to_vec();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("seed.ldif");
    std::fs::write(&f, seed.join("\n\n") + "\n").unwrap();
    let s = Server::start(&["--memory", "--ldif", f.to_str().unwrap()], None);
    let count = |filter: &str| {
        let out = s.search_root(&["-b", BASE, filter, "1.1"]);
        out.expect_code(0);
        out.dns().len()
    };
    let seed_with = |line: &str| seed.iter().filter(|r| r.contains(line)).count();
    // Only the layout's: the suffix and o=localdomain.
    assert_eq!(count("(objectClass=organization)"), 2);
    // Shared by layout (ou=Groups, ou=Users) and seed (users' ou values).
    assert_eq!(count("(ou=*)"), 2 + seed_with("\nou: "));
    assert_eq!(count("(ou=Users)"), 1);
    assert_eq!(count("(objectClass=organizationalUnit)"), 2);
    assert_eq!(
        count("(objectClass=inetOrgPerson)"),
        seed_with("objectClass: inetOrgPerson")
    );
    assert_eq!(count("(objectClass=*)"), 4 + seed.len());
}

#[test]
fn serve_ldif_reports_the_refused_entry_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.ldif");
    let mut text = String::new();
    for i in 0..20 {
        text.push_str(&format!(
            "dn: uid=u{i},{USERS}\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: U{i}\nsn: S\n\n"
        ));
    }
    let line = text.lines().count() + 1;
    text.push_str(&format!(
        "dn: uid=bad,{USERS}\nobjectClass: inetOrgPerson\nuid: bad\ncn: Bad\n\n"
    ));
    std::fs::write(&f, &text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["serve", "--memory", "-h", "ldap://127.0.0.1:0/", "--ldif"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("bad.ldif:{line}: uid=bad,{USERS}")),
        "{err}"
    );
    assert!(err.contains("(65)"), "{err}");
}

#[test]
fn builder_seed_starting_with_the_suffix_needs_no_layout_switch() {
    let s = oxldap::Server::builder()
        .ldif_file(fixture())
        .start_blocking()
        .unwrap();
    assert_eq!(s.entries().unwrap().len(), fixture_entries());
    let mut conn = ldap3::LdapConn::new(s.url()).unwrap();
    conn.simple_bind(&s.rootdn(), s.rootpw())
        .unwrap()
        .success()
        .unwrap();
    let (found, _) = conn
        .search(USERS, ldap3::Scope::OneLevel, "(memberOf=*)", vec!["1.1"])
        .unwrap()
        .success()
        .unwrap();
    assert!(!found.is_empty());
    conn.unbind().unwrap();
}

/// Users u0..u{n}, then a group of u1 and u2 and a user refused by the schema (no sn),
/// then one more user; returns the text and the refused record's line.
fn seed_with_a_bad_entry(n: usize) -> (String, usize) {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "dn: uid=u{i},{USERS}\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: U{i}\nsn: S\n\n"
        ));
    }
    text.push_str(&format!(
        "dn: cn=g,{GROUPS}\nobjectClass: groupOfNames\ncn: g\nmember: uid=u1,{USERS}\nmember: uid=u2,{USERS}\n\n"
    ));
    let line = text.lines().count() + 1;
    text.push_str(&format!(
        "dn: uid=bad,{USERS}\nobjectClass: inetOrgPerson\nuid: bad\ncn: Bad\n\n\
         dn: uid=after,{USERS}\nobjectClass: inetOrgPerson\nuid: after\ncn: After\nsn: S\n\n"
    ));
    (text, line)
}

#[test]
fn builder_seed_with_a_bad_entry_names_its_line() {
    let (text, line) = seed_with_a_bad_entry(30);
    let err = oxldap::Server::builder()
        .ldif(text)
        .start_blocking()
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("line {line}: uid=bad,{USERS}")),
        "{msg}"
    );
    assert!(msg.contains("objectClassViolation"), "{msg}");
}

#[test]
fn load_ldif_stops_at_the_bad_entry_mid_chunk_with_nothing_of_it_visible() {
    let s = oxldap::Server::builder().start_blocking().unwrap();
    let before = s.entries().unwrap().len();
    let (text, line) = seed_with_a_bad_entry(30);
    let err = s.load_ldif(&text).unwrap_err();
    assert_eq!(err.code, ResultCode::ObjectClassViolation);
    assert!(
        err.message
            .contains(&format!("line {line}: uid=bad,{USERS}")),
        "{}",
        err.message
    );
    // The 30 users and the group are there, with memberOf; the bad entry and the one
    // after it are not.
    assert_eq!(s.entries().unwrap().len(), before + 31);
    assert!(s.get(&format!("uid=bad,{USERS}")).unwrap().is_none());
    assert!(s.get(&format!("uid=after,{USERS}")).unwrap().is_none());
    let u1 = s.get(&format!("uid=u1,{USERS}")).unwrap().unwrap();
    assert_eq!(
        u1.get("memberOf").map(|a| a.values.clone()),
        Some(vec![format!("cn=g,{GROUPS}").into_bytes()])
    );
    // A change record after adds sees them (the queued adds are written first).
    let n = s
        .load_ldif(&format!(
            "dn: uid=x,{USERS}\nobjectClass: inetOrgPerson\nuid: x\ncn: X\nsn: S\n\n\
             dn: cn=g,{GROUPS}\nchangetype: modify\nadd: member\nmember: uid=x,{USERS}\n-\n"
        ))
        .unwrap();
    assert_eq!(n, 2);
    let x = s.get(&format!("uid=x,{USERS}")).unwrap().unwrap();
    assert!(x.get("memberOf").is_some());
}
