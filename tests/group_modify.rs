//! The group-modify write path over the wire (issue #4's workload): adding a member to
//! and removing it from a large group, on a durable (on-disk) store, with ldapmodify.
//! Each change must update exactly the member's memberOf, log exactly two change records
//! (the group's one-value change and the member's memberOf change, not the whole group),
//! and survive a restart. It drives the write path that stages an entry read once for
//! both its before and after images (`Txn::get_for_update`) and the vendored sled whose
//! io threadpool wakes one worker per log write (vendor/README.md).
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;

/// Users in the directory; the first `MEMBERS` are members of the big group.
const USERS_N: usize = 300;
/// Members of the big group: more than the store's 64-value threshold, above which a
/// member add is checked through the equality index instead of every present value.
const MEMBERS: usize = 200;

fn u(i: usize) -> String {
    format!("uid=gm{i},{USERS}")
}

fn g(cn: &str) -> String {
    format!("cn={cn},{GROUPS}")
}

fn memberof(s: &Server, dn: &str) -> Vec<String> {
    sorted(
        s.search_root(&["-b", dn, "-s", "base", "(objectClass=*)", "memberOf"])
            .values("memberOf"),
    )
}

fn member_count(s: &Server, cn: &str) -> usize {
    let out = s.search_root(&["-b", &g(cn), "-s", "base", "(objectClass=*)", "member"]);
    out.expect_code(0);
    out.values("member").len()
}

/// The change records numbered `from` and later: (changeType, targetDN, changes).
fn records_from(s: &Server, from: u64) -> Vec<(String, String, String)> {
    let out = s.search_root(&[
        "-b",
        "cn=changelog",
        "-s",
        "one",
        &format!("(changeNumber>={from})"),
    ]);
    out.expect_code(0);
    let mut recs: Vec<(u64, String, String, String)> = Vec::new();
    for block in out.entries() {
        let one = |a: &str| block.values(a).first().cloned().unwrap_or_default();
        recs.push((
            one("changeNumber").parse().unwrap(),
            one("changeType"),
            one("targetDN"),
            one("changes"),
        ));
    }
    // The records of one write are numbered in entry-id order: compare them by DN.
    let mut recs: Vec<(String, String, String)> =
        recs.into_iter().map(|(_, t, d, c)| (t, d, c)).collect();
    recs.sort_by(|a, b| a.1.cmp(&b.1));
    recs
}

/// The changeNumber the next record gets.
fn next_number(s: &Server) -> u64 {
    let out = s.search_root(&["-b", "cn=changelog", "-s", "one", "(changeNumber>=1)"]);
    out.expect_code(0);
    out.values("changeNumber")
        .iter()
        .map(|n| n.parse::<u64>().unwrap())
        .max()
        .map_or(1, |n| n + 1)
}

fn ldapmodify(s: &Server, ldif: &str) -> ToolOutput {
    s.modify_root("ldapmodify", ldif, &[])
}

fn member_change(group: &str, op: &str, dn: &str) -> String {
    format!(
        "dn: {}\nchangetype: modify\n{op}: member\nmember: {dn}\n-\n",
        g(group)
    )
}

fn setup(s: &Server) {
    let mut ldif = String::new();
    for i in 0..USERS_N {
        ldif.push_str(&format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: gm{i}\ncn: gm {i}\nsn: gm{i}\n\n",
            u(i)
        ));
    }
    ldif.push_str(&format!(
        "dn: {}\nobjectClass: groupOfNames\ncn: big\n",
        g("big")
    ));
    for i in 0..MEMBERS {
        ldif.push_str(&format!("member: {}\n", u(i)));
    }
    ldif.push_str(&format!(
        "\ndn: {}\nobjectClass: groupOfNames\ncn: small\nmember: {}\n",
        g("small"),
        u(5)
    ));
    s.modify_root("ldapadd", &ldif, &[]).expect_code(0);
}

#[test]
fn member_add_and_remove_on_a_big_group_change_only_that_member() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::on_disk(data);
    setup(&s);
    assert_eq!(member_count(&s, "big"), MEMBERS);
    assert_eq!(memberof(&s, &u(5)), vec![g("big"), g("small")]);

    // A non-member joins, named in another spelling (stored in the pretty form): its
    // memberOf gets the group, the group one value, and the log one record for each,
    // holding only that change.
    let joiner = u(MEMBERS + 7);
    let spelled = joiner.replace("uid=", "UID=").replace(",ou=", ", ou=");
    let from = next_number(&s);
    ldapmodify(&s, &member_change("big", "add", &spelled)).expect_code(0);
    assert_eq!(member_count(&s, "big"), MEMBERS + 1);
    assert_eq!(memberof(&s, &joiner), vec![g("big")]);
    let recs = records_from(&s, from);
    assert_eq!(
        recs,
        vec![
            (
                "modify".to_string(),
                g("big"),
                format!("add: member\nmember: {joiner}\n-\n")
            ),
            (
                "modify".to_string(),
                joiner.clone(),
                format!("add: memberOf\nmemberOf: {}\n-\n", g("big"))
            ),
        ]
    );
    // Its neighbours are untouched.
    assert!(memberof(&s, &u(MEMBERS + 8)).is_empty());
    assert_eq!(memberof(&s, &u(0)), vec![g("big")]);

    // Adding it again is refused (20) and logs nothing.
    let from = next_number(&s);
    ldapmodify(&s, &member_change("big", "add", &joiner)).expect_code(20);
    assert!(records_from(&s, from).is_empty());

    // It leaves again: memberOf goes, the log holds the two deletes.
    let from = next_number(&s);
    ldapmodify(&s, &member_change("big", "delete", &spelled)).expect_code(0);
    assert_eq!(member_count(&s, "big"), MEMBERS);
    assert!(memberof(&s, &joiner).is_empty());
    let recs = records_from(&s, from);
    assert_eq!(
        recs,
        vec![
            (
                "modify".to_string(),
                g("big"),
                format!("delete: member\nmember: {joiner}\n-\n")
            ),
            (
                "modify".to_string(),
                joiner.clone(),
                "delete: memberOf\n-\n".to_string()
            ),
        ]
    );

    // A member of two groups leaves one: the other stays in its memberOf.
    ldapmodify(&s, &member_change("big", "delete", &u(5))).expect_code(0);
    assert_eq!(memberof(&s, &u(5)), vec![g("small")]);

    // Several changes in a row (the benchmark's loop), then a restart: every answered
    // change was durable, and memberOf matches the groups.
    for i in MEMBERS..MEMBERS + 20 {
        ldapmodify(&s, &member_change("big", "add", &u(i))).expect_code(0);
    }
    for i in (MEMBERS..MEMBERS + 20).step_by(2) {
        ldapmodify(&s, &member_change("big", "delete", &u(i))).expect_code(0);
    }
    let data = s.stop().unwrap();
    let s = Server::on_disk(data);
    assert_eq!(member_count(&s, "big"), MEMBERS - 1 + 10);
    for i in MEMBERS..MEMBERS + 20 {
        let want = if i % 2 == 1 {
            vec![g("big")]
        } else {
            Vec::new()
        };
        assert_eq!(memberof(&s, &u(i)), want, "{}", u(i));
    }
    assert_eq!(memberof(&s, &u(5)), vec![g("small")]);
    let by_filter = s.search_root(&["-b", USERS, &format!("(memberOf={})", g("big")), "1.1"]);
    by_filter.expect_code(0);
    assert_eq!(by_filter.dns().len(), MEMBERS - 1 + 10);
}
