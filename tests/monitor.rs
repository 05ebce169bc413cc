//! cn=Monitor (issue 9): counters move by exactly the operations done between two reads;
//! the database figures are there; only the rootdn may read it.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use ldap3::{LdapConn, Scope, SearchEntry};
use std::collections::{BTreeMap, HashSet};

/// DN -> attribute -> first value of every monitor entry (operational attributes asked
/// with `+`, as for slapd's monitor).
fn read(c: &mut LdapConn) -> BTreeMap<String, BTreeMap<String, String>> {
    let (entries, res) = c
        .search(
            "cn=Monitor",
            Scope::Subtree,
            "(objectClass=*)",
            vec!["*", "+"],
        )
        .unwrap()
        .success()
        .unwrap();
    let _ = res;
    entries
        .into_iter()
        .map(|e| {
            let e = SearchEntry::construct(e);
            let attrs = e
                .attrs
                .into_iter()
                .map(|(k, v)| (k, v.first().cloned().unwrap_or_default()))
                .collect();
            (e.dn, attrs)
        })
        .collect()
}

fn num(m: &BTreeMap<String, BTreeMap<String, String>>, dn: &str, attr: &str) -> i64 {
    m.get(dn)
        .and_then(|a| a.get(attr))
        .unwrap_or_else(|| panic!("{dn} has no {attr}: {m:#?}"))
        .parse()
        .unwrap()
}

#[test]
fn counters_move_by_exactly_the_operations_done() {
    let s = Server::memory();
    let mut c = LdapConn::new(&s.url).unwrap();
    c.simple_bind(ROOTDN, ROOTPW).unwrap().success().unwrap();
    let before = read(&mut c);
    assert_eq!(
        before["cn=Version,cn=Monitor"]["monitoredInfo"],
        format!("oxldap {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        num(
            &before,
            "cn=Current,cn=Connections,cn=Monitor",
            "monitorCounter"
        ),
        1
    );
    // The bootstrap layout: the suffix, o=localdomain, ou=Groups, ou=Users.
    assert_eq!(
        num(
            &before,
            "cn=Entries,cn=Database,cn=Monitor",
            "monitorCounter"
        ),
        4
    );
    assert!(num(&before, "cn=Size,cn=Database,cn=Monitor", "monitorCounter") > 0);
    assert_eq!(
        num(
            &before,
            "cn=Changelog,cn=Database,cn=Monitor",
            "monitorCounter"
        ),
        4
    );
    assert!(before["cn=Oldest,cn=Changelog,cn=Database,cn=Monitor"]["monitoredInfo"].contains('#'));
    // An index without postings has no entry yet.
    assert!(!before.contains_key("cn=mail eq,cn=Indexes,cn=Database,cn=Monitor"));
    assert_eq!(
        num(
            &before,
            "cn=ou eq,cn=Indexes,cn=Database,cn=Monitor",
            "monitorCounter"
        ),
        2
    );

    // Known work: 3 adds, 2 modifies, 1 delete, 4 searches, 2 compares, 1 Who am I?,
    // and one more connection that binds and unbinds.
    for i in 0..3 {
        c.add(
            &format!("uid=m{i},{USERS}"),
            vec![
                ("objectClass", HashSet::from(["inetOrgPerson"])),
                ("uid", HashSet::from([format!("m{i}").as_str()])),
                ("cn", HashSet::from(["M"])),
                ("sn", HashSet::from(["M"])),
                ("mail", HashSet::from([format!("m{i}@x.test").as_str()])),
            ],
        )
        .unwrap()
        .success()
        .unwrap();
    }
    for i in 0..2 {
        c.modify(
            &format!("uid=m{i},{USERS}"),
            vec![ldap3::Mod::Replace("sn", HashSet::from(["N"]))],
        )
        .unwrap()
        .success()
        .unwrap();
    }
    c.delete(&format!("uid=m2,{USERS}"))
        .unwrap()
        .success()
        .unwrap();
    for _ in 0..4 {
        c.search(BASE, Scope::Subtree, "(uid=m*)", vec!["uid"])
            .unwrap()
            .success()
            .unwrap();
    }
    for _ in 0..2 {
        c.compare(&format!("uid=m0,{USERS}"), "sn", "N").unwrap();
    }
    c.extended(ldap3::exop::WhoAmI).unwrap().success().unwrap();
    let mut other = LdapConn::new(&s.url).unwrap();
    other
        .simple_bind(ROOTDN, ROOTPW)
        .unwrap()
        .success()
        .unwrap();
    other.unbind().unwrap();
    // The server counts the unbind when it reads it: wait until the connection is gone.
    let mut after = read(&mut c);
    for _ in 0..100 {
        if num(
            &after,
            "cn=Current,cn=Connections,cn=Monitor",
            "monitorCounter",
        ) == 1
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        after = read(&mut c);
    }
    let extra_reads = {
        // Reads of cn=Monitor done by the wait loop above beyond the first.
        num(
            &after,
            "cn=Search,cn=Operations,cn=Monitor",
            "monitorOpInitiated",
        ) - num(
            &before,
            "cn=Search,cn=Operations,cn=Monitor",
            "monitorOpInitiated",
        ) - 4
            - 1
    };
    let delta = |dn: &str, attr: &str| num(&after, dn, attr) - num(&before, dn, attr);
    let ops = |kind: &str| format!("cn={kind},cn=Operations,cn=Monitor");
    for (kind, n) in [
        ("Add", 3),
        ("Modify", 2),
        ("Delete", 1),
        ("Compare", 2),
        ("Extended", 1),
        ("Bind", 1),
        ("Unbind", 1),
        ("Modrdn", 0),
        ("Abandon", 0),
    ] {
        assert_eq!(
            delta(&ops(kind), "monitorOpInitiated"),
            n,
            "{kind} initiated"
        );
        assert_eq!(
            delta(&ops(kind), "monitorOpCompleted"),
            n,
            "{kind} completed"
        );
    }
    // Searches: the 4, plus the reads of cn=Monitor; the read being answered is
    // initiated but not yet completed when the figures are taken.
    assert!(extra_reads >= 0);
    assert_eq!(
        delta(&ops("Search"), "monitorOpInitiated"),
        4 + 1 + extra_reads
    );
    assert_eq!(
        delta(&ops("Search"), "monitorOpCompleted"),
        4 + 1 + extra_reads
    );
    assert_eq!(
        delta("cn=Total,cn=Connections,cn=Monitor", "monitorCounter"),
        1
    );
    assert_eq!(
        delta("cn=Entries,cn=Database,cn=Monitor", "monitorCounter"),
        2
    );
    assert_eq!(
        delta("cn=Changelog,cn=Database,cn=Monitor", "monitorCounter"),
        6
    );
    assert!(delta("cn=Bytes,cn=Statistics,cn=Monitor", "monitorCounter") > 0);
    assert_eq!(
        num(
            &after,
            "cn=mail eq,cn=Indexes,cn=Database,cn=Monitor",
            "monitorCounter"
        ),
        2,
        "two entries with mail remain"
    );
    let newest = &after["cn=Newest,cn=Changelog,cn=Database,cn=Monitor"]["monitoredInfo"];
    let ctx = s.search_root(&["-b", BASE, "-s", "base", "contextCSN"]);
    assert_eq!(ctx.values("contextCSN"), vec![newest.clone()]);
    assert!(after["cn=Uptime,cn=Time,cn=Monitor"]["monitoredInfo"]
        .parse::<u64>()
        .is_ok());
}

#[test]
fn bytes_sent_counts_what_the_client_receives() {
    let s = Server::memory();
    let mut c = LdapConn::new(&s.url).unwrap();
    c.simple_bind(ROOTDN, ROOTPW).unwrap().success().unwrap();
    let bytes = |c: &mut LdapConn| {
        num(
            &read(c),
            "cn=Bytes,cn=Statistics,cn=Monitor",
            "monitorCounter",
        )
    };
    let b0 = bytes(&mut c);
    let b1 = bytes(&mut c);
    // The second read's figure includes the whole answer to the first read.
    let first_answer = b1 - b0;
    let b2 = bytes(&mut c);
    // Answers to identical reads differ only by the digits of the counters.
    assert!((b2 - b1 - first_answer).abs() < 64, "{b0} {b1} {b2}");
    assert!(first_answer > 500);
}

#[test]
fn only_the_rootdn_reads_the_monitor() {
    let s = Server::memory();
    s.search_anon(&["-b", "cn=Monitor", "-s", "base"])
        .expect_code(50);
    let out = s.search_root(&["-b", "cn=Monitor", "-s", "base", "monitoredInfo"]);
    out.expect_code(0);
    assert_eq!(
        out.values("monitoredInfo"),
        vec![format!("oxldap {}", env!("CARGO_PKG_VERSION"))]
    );
    s.search_root(&["-b", "cn=Nothing,cn=Monitor", "-s", "base"])
        .expect_code(32);
    // Read-only: writes are refused (outside the naming context).
    s.modify_root(
        "ldapmodify",
        "dn: cn=Monitor\nchangetype: modify\nreplace: description\ndescription: x\n",
        &[],
    );
    let again = s.search_root(&["-b", "cn=Monitor", "-s", "base", "description"]);
    assert!(again.values("description").is_empty());
}
