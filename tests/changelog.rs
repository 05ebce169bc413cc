//! The read-only change log view (`cn=changelog`, draft-good-ldap-changelog form) over
//! the wire with ldapsearch: the root DSE names it, each write appears as
//! `changeNumber=N,cn=changelog` records with changeType, targetDN, changes (LDIF),
//! newRDN/deleteOldRDN/newSuperior, targetEntryUUID and entryCSN, searchable by
//! `(changeNumber>=N)` and by `(entryCSN>=CSN)`, and only the rootdn may read it.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;

/// The records with changeNumber ≥ `from`, as the rootdn sees them: (changeNumber,
/// changeType, targetDN) in order, and the whole output.
fn records(server: &Server, filter: &str) -> (Vec<(u64, String, String)>, ToolOutput) {
    let out = server.search_root(&["-b", "cn=changelog", "-s", "one", filter]);
    out.expect_code(0);
    let mut recs = Vec::new();
    for block in out.entries() {
        let one = |a: &str| block.values(a).first().cloned().unwrap_or_default();
        recs.push((
            one("changeNumber").parse().unwrap(),
            one("changeType"),
            one("targetDN"),
        ));
    }
    recs.sort();
    (recs, out)
}

#[test]
fn changelog_view() {
    let server = Server::start(&["--memory"], None);

    // The root DSE advertises it.
    let dse = server.search_root(&["-s", "base", "-b", "", "changelog"]);
    dse.expect_code(0);
    assert_eq!(dse.values("changelog"), vec!["cn=changelog".to_string()]);

    // The container.
    let c = server.search_root(&["-s", "base", "-b", "cn=changelog"]);
    c.expect_code(0);
    assert_eq!(c.dns(), vec!["cn=changelog".to_string()]);

    let (before, _) = records(&server, "(changeNumber>=1)");
    let next = before.last().map_or(1, |r| r.0 + 1);

    let dn = format!("uid=cl1,{USERS}");
    let renamed = format!("uid=cl1r,{USERS}");
    let ldif = format!(
        "dn: {dn}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: cl1\ncn: CL One\nsn: Old\n\n\
         dn: {dn}\nchangetype: modify\nreplace: sn\nsn: New\n-\nadd: description\ndescription: hello\n\n\
         dn: {dn}\nchangetype: modrdn\nnewrdn: uid=cl1r\ndeleteoldrdn: 1\n\n\
         dn: {renamed}\nchangetype: delete\n\n"
    );
    let out = server.modify_root("ldapmodify", &ldif, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    let (recs, out) = records(&server, &format!("(changeNumber>={next})"));
    assert_eq!(
        recs,
        vec![
            (next, "add".to_string(), dn.clone()),
            (next + 1, "modify".to_string(), dn.clone()),
            (next + 2, "modrdn".to_string(), dn.clone()),
            (next + 3, "delete".to_string(), renamed.clone()),
        ],
        "{}",
        out.stdout
    );
    let changes = out.values("changes");
    assert_eq!(
        changes.len(),
        3,
        "add, modify and modrdn carry changes:\n{}",
        out.stdout
    );
    assert!(
        changes[0].contains("uid: cl1\n") && changes[0].contains("sn: Old\n"),
        "{changes:?}"
    );
    assert!(
        changes[1].contains("replace: sn\nsn: New\n-\n")
            && changes[1].contains("add: description\ndescription: hello\n-\n"),
        "{changes:?}"
    );
    assert!(changes[2].contains("uid: cl1r"), "{changes:?}");
    assert_eq!(out.values("newRDN"), vec!["uid=cl1r".to_string()]);
    assert_eq!(out.values("deleteOldRDN"), vec!["TRUE".to_string()]);
    assert!(out.values("newSuperior").is_empty(), "a rename in place");
    let uuids = out.values("targetEntryUUID");
    assert_eq!(uuids.len(), 4);
    assert!(uuids.iter().all(|u| u == &uuids[0]), "one entry: {uuids:?}");
    let csns = out.values("entryCSN");
    assert_eq!(csns.len(), 4);
    assert!(csns.windows(2).all(|w| w[0] < w[1]), "{csns:?}");

    // By CSN: the modify and what followed.
    let (by_csn, out) = records(&server, &format!("(entryCSN>={})", csns[1]));
    assert_eq!(
        by_csn.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![next + 1, next + 2, next + 3],
        "{}",
        out.stdout
    );
    // One record by DN.
    let one = server.search_root(&[
        "-s",
        "base",
        "-b",
        &format!("changeNumber={next},cn=changelog"),
    ]);
    one.expect_code(0);
    assert_eq!(one.values("changeType"), vec!["add".to_string()]);
    let none = server.search_root(&["-s", "base", "-b", "changeNumber=999999,cn=changelog"]);
    none.expect_code(32);

    // Only the rootdn reads it.
    let anon = server.search_anon(&["-b", "cn=changelog", "(changeNumber>=1)"]);
    anon.expect_code(50);
}
