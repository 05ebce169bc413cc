//! The core server driven by Debian's ldap-utils (ldapsearch, ldapadd, ldapmodify,
//! ldapmodrdn, ldapdelete, ldapcompare, ldapwhoami, ldappasswd) over the wire, against the
//! 1,000-user Axigen fixture. Expected answers are computed from the fixture by an
//! independent reader in `common`.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;

fn users_where(pred: impl Fn(&FixtureEntry) -> bool) -> Vec<String> {
    sorted(
        fixture_entries()
            .into_iter()
            .filter(|e| e.dn.ends_with(USERS) && e.dn != USERS)
            .filter(|e| pred(e))
            .map(|e| e.dn)
            .collect(),
    )
}

#[test]
fn scopes_base_one_sub() {
    let s = Server::with_fixture();
    let base = s.search_anon(&["-b", BASE, "-s", "base", "(objectClass=*)", "1.1"]);
    base.expect_code(0);
    assert_eq!(base.dns(), vec![BASE.to_string()]);

    let one = s.search_anon(&[
        "-b",
        "o=localdomain,dc=localdomain,dc=test",
        "-s",
        "one",
        "(objectClass=*)",
        "1.1",
    ]);
    assert_eq!(
        sorted(one.dns()),
        vec![GROUPS.to_string(), USERS.to_string()]
    );

    let sub = s.search_root(&["-b", USERS, "-s", "sub", "(objectClass=*)", "1.1"]);
    assert_eq!(sub.dns().len(), 1001, "ou=Users and its 1,000 users");
    // Parents come before children.
    assert_eq!(sub.dns()[0], USERS);

    let all = s.search_root(&["-b", BASE, "(objectClass=*)", "1.1"]);
    assert_eq!(all.dns().len(), fixture_entries().len());
}

/// RFC 4511 §4.5.1.8: `1.1` alone selects no attributes; with other descriptions it is
/// ignored; an unknown name selects nothing, beside `*` it changes nothing.
#[test]
fn attribute_selection_with_1_1() {
    let s = Server::with_fixture();
    let ana = format!("uid=sven.horvat.1,{USERS}");
    let one = |attrs: &[&str]| {
        let mut args = vec!["-b", ana.as_str(), "-s", "base", "(objectClass=*)"];
        args.extend_from_slice(attrs);
        let out = s.search_root(&args);
        out.expect_code(0);
        assert_eq!(out.dns(), vec![ana.clone()]);
        let mut names: Vec<String> = out
            .stdout
            .lines()
            .filter(|l| !l.starts_with("dn:") && !l.starts_with(' ') && l.contains(':'))
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    assert!(one(&["1.1"]).is_empty());
    assert!(one(&["1.1", "noSuchAttribute"]).is_empty());
    assert_eq!(one(&["1.1", "uid"]), vec!["uid".to_string()]);
    let all = one(&[]);
    assert!(all.contains(&"cn".to_string()) && all.contains(&"mail".to_string()));
    assert!(
        !all.contains(&"entryUUID".to_string()),
        "no operational attributes"
    );
    assert_eq!(one(&["*", "noSuchAttribute"]), all);
    assert!(one(&["1.1", "+"]).contains(&"entryUUID".to_string()));
}

#[test]
fn every_filter_type() {
    let s = Server::with_fixture();
    let dns = |f: &str| sorted(s.search_root(&["-b", BASE, f, "1.1"]).expect_code(0).dns());

    // Equality, case-insensitive (caseIgnoreMatch).
    assert_eq!(
        dns("(uid=SVEN.HORVAT.1)"),
        vec![format!("uid=sven.horvat.1,{USERS}")]
    );
    // Substrings: initial, any, final.
    assert_eq!(
        dns("(cn=sven*)"),
        users_where(|e| e
            .get("cn")
            .iter()
            .any(|c| c.to_lowercase().starts_with("sven")))
    );
    assert_eq!(
        dns("(mail=*horvat*)"),
        users_where(|e| e
            .get("mail")
            .iter()
            .any(|c| c.to_lowercase().contains("horvat")))
    );
    assert_eq!(
        dns("(sn=*ng)"),
        users_where(|e| e.get("sn").iter().any(|c| c.to_lowercase().ends_with("ng")))
    );
    assert_eq!(
        dns("(cn=s*v*t)"),
        users_where(|e| e.get("cn").iter().any(|c| {
            let c = c.to_lowercase();
            c.starts_with('s')
                && c.ends_with('t')
                && c.len() >= 3
                && c[1..c.len() - 1].contains('v')
        }))
    );
    // Presence.
    assert_eq!(dns("(telephoneNumber=*)").len(), 1000);
    assert_eq!(dns("(description=*)").len(), 50);
    // Ordering on an attribute with an ordering rule.
    assert_eq!(
        dns("(createTimestamp>=19700101000000Z)").len(),
        fixture_entries().len()
    );
    assert!(dns("(createTimestamp<=19700101000000Z)").is_empty());
    // Ordering on an attribute without one is Undefined (RFC 4511 §4.5.1.7): no entries.
    assert!(dns("(uid>=a)").is_empty());
    // Approx: slapd's phonetic match (`tests/approx_vs_slapd.rs`); no other sn in the
    // fixture sounds like Horvat.
    assert_eq!(
        dns("(sn~=HORVAT)"),
        users_where(|e| e.get("sn").iter().any(|c| c.eq_ignore_ascii_case("horvat")))
    );
    // And, or, not.
    assert_eq!(
        dns("(&(objectClass=inetOrgPerson)(|(uid=sven.horvat.1)(uid=james.wang.3)))"),
        sorted(vec![
            format!("uid=james.wang.3,{USERS}"),
            format!("uid=sven.horvat.1,{USERS}")
        ])
    );
    assert_eq!(
        dns("(&(objectClass=groupOfNames)(!(description=*1000*)))").len(),
        49
    );
    // Extensible match: :dn: and an explicit matching rule.
    let under_users = dns("(ou:dn:=Users)");
    assert!(under_users.contains(&USERS.to_string()));
    assert_eq!(under_users.len(), 1001, "ou=Users and every user below it");
    assert_eq!(
        dns("(uid:caseExactMatch:=sven.horvat.1)"),
        vec![format!("uid=sven.horvat.1,{USERS}")]
    );
    assert!(dns("(uid:caseExactMatch:=SVEN.HORVAT.1)").is_empty());
    assert_eq!(
        dns("(uid:2.5.13.2:=SVEN.HORVAT.1)"),
        vec![format!("uid=sven.horvat.1,{USERS}")]
    );
    // Superclass matching: person matches inetOrgPerson entries.
    assert_eq!(dns("(objectClass=person)").len(), 1000);
    // Absolute true/false (RFC 4526).
    assert_eq!(dns("(&)").len(), fixture_entries().len());
    assert!(dns("(|)").is_empty());
    // UTF-8 values with case folding.
    let angstrom = users_where(|e| e.get("sn").contains(&"Ångström"));
    assert!(!angstrom.is_empty());
    assert_eq!(dns("(sn=ÅNGSTRÖM)"), angstrom);
}

#[test]
fn attribute_selection_and_operational_attributes() {
    let s = Server::with_fixture();
    let dn = format!("uid=sven.horvat.1,{USERS}");
    let user = s.search_anon(&["-b", &dn, "-s", "base", "(objectClass=*)"]);
    assert_eq!(user.values("uid"), vec!["sven.horvat.1"]);
    assert!(
        user.values("entryUUID").is_empty(),
        "operational attributes only when asked"
    );
    assert!(
        user.values("userPassword").is_empty(),
        "anonymous may not read userPassword"
    );

    let plus = s.search_anon(&["-b", &dn, "-s", "base", "(objectClass=*)", "+"]);
    assert!(plus.values("uid").is_empty());
    for attr in [
        "entryUUID",
        "entryCSN",
        "createTimestamp",
        "modifyTimestamp",
        "creatorsName",
        "modifiersName",
        "structuralObjectClass",
        "hasSubordinates",
        "entryDN",
        "subschemaSubentry",
    ] {
        assert_eq!(plus.values(attr).len(), 1, "{attr} in {}", plus.stdout);
    }
    assert_eq!(plus.values("structuralObjectClass"), vec!["inetOrgPerson"]);
    assert_eq!(plus.values("hasSubordinates"), vec!["FALSE"]);
    assert_eq!(plus.values("entryDN"), vec![dn.clone()]);

    // Names by alias, other case and OID come back under the schema's primary name.
    let named = s.search_anon(&[
        "-b",
        &dn,
        "-s",
        "base",
        "(objectClass=*)",
        "SURNAME",
        "2.5.4.42",
        "entryuuid",
    ]);
    assert_eq!(named.values("sn"), vec!["Horvat"]);
    assert_eq!(named.values("givenName"), vec!["Sven"]);
    assert_eq!(named.values("entryUUID").len(), 1);
    assert!(named.values("uid").is_empty());

    // 1.1 alone returns no attributes; typesOnly returns names without values.
    let none = s.search_anon(&["-b", &dn, "-s", "base", "(objectClass=*)", "1.1"]);
    assert_eq!(none.stdout.trim(), format!("dn: {dn}"));
    let types = s.search_anon(&["-A", "-b", &dn, "-s", "base", "(objectClass=*)", "uid"]);
    assert!(
        types.stdout.lines().any(|l| l.trim() == "uid:"),
        "{}",
        types.stdout
    );

    // The rootdn reads userPassword.
    let root = s.search_root(&["-b", &dn, "-s", "base", "(objectClass=*)", "userPassword"]);
    assert_eq!(root.values("userPassword").len(), 1);
}

#[test]
fn missing_base_is_no_such_object_with_matched_dn() {
    let s = Server::with_fixture();
    let out = s.tool(
        "ldapsearch",
        &["-b", &format!("uid=nobody,{USERS}"), "(objectClass=*)"],
        None,
    );
    out.expect_code(32);
    assert!(
        out.stdout.contains(&format!("matchedDN: {USERS}")),
        "{}",
        out.stdout
    );
    let bad = s.tool("ldapsearch", &["-b", "not a dn", "(objectClass=*)"], None);
    bad.expect_code(34);
}

#[test]
fn size_limit_returns_entries_so_far() {
    let s = Server::with_fixture();
    let out = s.search_anon(&[
        "-z",
        "5",
        "-b",
        USERS,
        "-s",
        "one",
        "(objectClass=*)",
        "1.1",
    ]);
    out.expect_code(4);
    assert_eq!(out.dns().len(), 5);
    // The server's default sizelimit (500, as slapd) applies to everyone but the rootdn.
    let anon = s.search_anon(&["-b", USERS, "-s", "one", "(objectClass=*)", "1.1"]);
    anon.expect_code(4);
    assert_eq!(anon.dns().len(), 500);
    let root = s.search_root(&["-b", USERS, "-s", "one", "(objectClass=*)", "1.1"]);
    root.expect_code(0);
    assert_eq!(root.dns().len(), 1000);
}

#[test]
fn root_dse() {
    let s = Server::memory();
    let dse = s.search_anon(&["-b", "", "-s", "base", "(objectClass=*)", "+", "*"]);
    dse.expect_code(0);
    assert_eq!(dse.values("namingContexts"), vec![BASE]);
    assert_eq!(dse.values("subschemaSubentry"), vec!["cn=Subschema"]);
    assert_eq!(dse.values("supportedLDAPVersion"), vec!["3"]);
    assert!(dse
        .values("supportedExtension")
        .contains(&"1.3.6.1.4.1.4203.1.11.3".to_string()));
    assert!(dse
        .values("supportedExtension")
        .contains(&"1.3.6.1.4.1.4203.1.11.1".to_string()));
    assert_eq!(
        sorted(dse.values("objectClass")),
        vec!["OpenLDAProotDSE", "top"]
    );
    let default = s.search_anon(&["-b", "", "-s", "base", "(objectClass=*)"]);
    assert!(default.values("namingContexts").is_empty());
    // No default search base: scope one/sub under the empty DN is noSuchObject (slapd).
    s.tool(
        "ldapsearch",
        &["-b", "", "-s", "sub", "(objectClass=*)"],
        None,
    )
    .expect_code(32);
}

#[test]
fn default_layout_is_created_on_an_empty_database() {
    let s = Server::memory();
    let out = s.search_anon(&["-b", BASE, "(objectClass=*)", "1.1"]);
    assert_eq!(
        sorted(out.dns()),
        sorted(vec![
            BASE.to_string(),
            "o=localdomain,dc=localdomain,dc=test".into(),
            GROUPS.to_string(),
            USERS.to_string()
        ])
    );
}

#[test]
fn add_modify_delete_with_ldap_utils() {
    let s = Server::memory();
    let dn = format!("uid=ana,{USERS}");
    let add = format!(
        "dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: inetLocalMailRecipient\nobjectClass: extensibleObject\nuid: ana\ncn: Ana Pop\nsn: Pop\nmail: ana@localdomain.test\nmailHost: mx.localdomain.test\nuserPassword: pw-ana\n"
    );
    s.modify_root("ldapadd", &add, &[]).expect_code(0);
    s.modify_root("ldapadd", &add, &[]).expect_code(68);
    // Anonymous cannot write: slapd refuses anonymous updates with strongerAuthRequired
    // (8) before access control unless `allow update_anon` (pinned against slapd in
    // tests/acl.rs).
    s.tool(
        "ldapadd",
        &[],
        Some(
            &add.replace("uid=ana", "uid=ana2")
                .replace("uid: ana", "uid: ana2"),
        ),
    )
    .expect_code(8);

    // Every modify type; the whole request applies or nothing does.
    let mods = format!(
        "dn: {dn}\nchangetype: modify\nadd: mail\nmail: ana.pop@localdomain.test\n-\ndelete: mail\nmail: ana@localdomain.test\n-\nreplace: cn\ncn: Ana Maria Pop\ncn: Ana Pop\n-\nadd: telephoneNumber\ntelephoneNumber: 1\n-\nadd: uidNumber\nuidNumber: 41\n-\nincrement: uidNumber\nuidNumber: 1\n-\ndelete: telephoneNumber\n"
    );
    s.modify_root("ldapmodify", &mods, &[]).expect_code(0);
    let got = s.search_root(&["-b", &dn, "-s", "base", "(objectClass=*)"]);
    assert_eq!(got.values("mail"), vec!["ana.pop@localdomain.test"]);
    assert_eq!(sorted(got.values("cn")), vec!["Ana Maria Pop", "Ana Pop"]);
    assert_eq!(got.values("uidNumber"), vec!["42"]);
    assert!(got.values("telephoneNumber").is_empty());

    // Adding an existing value (20) fails the whole request: the first change is not applied.
    let atomic = format!("dn: {dn}\nchangetype: modify\nadd: description\ndescription: first\n-\nadd: mail\nmail: ANA.POP@localdomain.test\n");
    s.modify_root("ldapmodify", &atomic, &[]).expect_code(20);
    let got = s.search_root(&["-b", &dn, "-s", "base", "(objectClass=*)", "description"]);
    assert!(
        got.values("description").is_empty(),
        "half-applied modify: {}",
        got.stdout
    );
    // Deleting a value that is not there (16); a missing entry (32).
    let missing = format!("dn: {dn}\nchangetype: modify\ndelete: mail\nmail: nobody@x\n");
    s.modify_root("ldapmodify", &missing, &[]).expect_code(16);
    let noentry = format!("dn: uid=ghost,{USERS}\nchangetype: modify\nreplace: cn\ncn: x\n");
    s.modify_root("ldapmodify", &noentry, &[]).expect_code(32);
    // Operational attributes are not writable (19); unknown types are refused (17).
    let op = format!("dn: {dn}\nchangetype: modify\nreplace: entryUUID\nentryUUID: 00000000-0000-0000-0000-000000000000\n");
    s.modify_root("ldapmodify", &op, &[]).expect_code(19);
    let undef = format!("dn: {dn}\nchangetype: modify\nadd: fooBarBaz\nfooBarBaz: 1\n");
    s.modify_root("ldapmodify", &undef, &[]).expect_code(17);

    // modifiersName and modifyTimestamp follow the writer.
    let ops = s.search_root(&[
        "-b",
        &dn,
        "-s",
        "base",
        "(objectClass=*)",
        "modifiersName",
        "creatorsName",
    ]);
    assert_eq!(ops.values("modifiersName"), vec![ROOTDN]);

    // Delete: non-leaf refused (66), leaf deleted, then gone (32).
    s.modify_root("ldapdelete", "", &[USERS]).expect_code(66);
    s.modify_root("ldapdelete", "", &[&dn]).expect_code(0);
    s.modify_root("ldapdelete", "", &[&dn]).expect_code(32);
    s.search_anon(&["-b", &dn, "-s", "base"]).expect_code(32);
}

#[test]
fn modrdn_rename_and_move_subtree() {
    let s = Server::memory();
    let ldif = format!(
        "dn: ou=Sales,{USERS}\nobjectClass: organizationalUnit\nou: Sales\n\n\
         dn: uid=bob,ou=Sales,{USERS}\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob\nsn: B\n\n\
         dn: uid=eve,ou=Sales,{USERS}\nobjectClass: inetOrgPerson\nuid: eve\ncn: Eve\nsn: E\n"
    );
    s.modify_root("ldapadd", &ldif, &[]).expect_code(0);
    // Rename keeping the old RDN value (no -r).
    s.modify_root(
        "ldapmodrdn",
        "",
        &[&format!("uid=bob,ou=Sales,{USERS}"), "uid=robert"],
    )
    .expect_code(0);
    let r = s.search_root(&[
        "-b",
        &format!("uid=robert,ou=Sales,{USERS}"),
        "-s",
        "base",
        "(objectClass=*)",
        "uid",
    ]);
    assert_eq!(sorted(r.values("uid")), vec!["bob", "robert"]);
    // Rename deleting the old RDN value (-r).
    s.modify_root(
        "ldapmodrdn",
        "",
        &["-r", &format!("uid=robert,ou=Sales,{USERS}"), "uid=rob"],
    )
    .expect_code(0);
    let r = s.search_root(&[
        "-b",
        &format!("uid=rob,ou=Sales,{USERS}"),
        "-s",
        "base",
        "(objectClass=*)",
        "uid",
    ]);
    assert_eq!(sorted(r.values("uid")), vec!["bob", "rob"]);
    // Move the whole subtree with -s newSuperior.
    s.modify_root(
        "ldapmodrdn",
        "",
        &["-s", GROUPS, &format!("ou=Sales,{USERS}"), "ou=Sales"],
    )
    .expect_code(0);
    let moved = s.search_root(&[
        "-b",
        &format!("ou=Sales,{GROUPS}"),
        "(objectClass=*)",
        "1.1",
    ]);
    assert_eq!(
        sorted(moved.dns()),
        sorted(vec![
            format!("ou=Sales,{GROUPS}"),
            format!("uid=eve,ou=Sales,{GROUPS}"),
            format!("uid=rob,ou=Sales,{GROUPS}")
        ])
    );
    s.search_anon(&["-b", &format!("uid=eve,ou=Sales,{USERS}"), "-s", "base"])
        .expect_code(32);
    // Descendants keep working under their new DN.
    let eve = s.search_anon(&[
        "-b",
        &format!("uid=eve,ou=Sales,{GROUPS}"),
        "-s",
        "base",
        "(uid=eve)",
        "entryDN",
    ]);
    assert_eq!(
        eve.values("entryDN"),
        vec![format!("uid=eve,ou=Sales,{GROUPS}")]
    );
    // Refuse moving an entry under itself, onto an existing DN, or under a missing parent.
    s.modify_root(
        "ldapmodrdn",
        "",
        &[
            "-s",
            &format!("uid=eve,ou=Sales,{GROUPS}"),
            &format!("ou=Sales,{GROUPS}"),
            "ou=Sales",
        ],
    )
    .expect_code(53);
    s.modify_root(
        "ldapmodrdn",
        "",
        &[&format!("uid=eve,ou=Sales,{GROUPS}"), "uid=rob"],
    )
    .expect_code(68);
    s.modify_root(
        "ldapmodrdn",
        "",
        &[
            "-s",
            &format!("ou=Nowhere,{BASE}"),
            &format!("uid=eve,ou=Sales,{GROUPS}"),
            "uid=eve",
        ],
    )
    .expect_code(32);
    // Out of the naming context (a new superior outside the suffix, or a rename of the
    // suffix entry): affectsMultipleDSAs (71), as slapd's "cannot rename between DSAs".
    s.modify_root(
        "ldapmodrdn",
        "",
        &[
            "-s",
            "dc=other",
            &format!("uid=eve,ou=Sales,{GROUPS}"),
            "uid=eve",
        ],
    )
    .expect_code(71);
    s.modify_root("ldapmodrdn", "", &[BASE, "dc=other"])
        .expect_code(71);
}

/// An attribute description with an empty option (`cn;`) selects nothing, as in slapd
/// (RFC 4512 §2.5: an option has at least one character); oxldap returned cn.
#[test]
fn empty_option_in_attribute_list_bug_10() {
    let s = Server::with_fixture();
    let dn = format!("uid=sven.horvat.1,{USERS}");
    let base = ["-b", dn.as_str(), "-s", "base", "(objectClass=*)"];
    let out = s.search_root(&[&base[..], &["cn;"]].concat());
    out.expect_code(0);
    assert_eq!(out.dns().len(), 1);
    assert!(out.values("cn").is_empty(), "{}", out.stdout);
    let out = s.search_root(&[&base[..], &["cn;", "sn", "cn;;x"]].concat());
    assert!(out.values("cn").is_empty(), "{}", out.stdout);
    assert_eq!(out.values("sn").len(), 1, "{}", out.stdout);
    let out = s.search_root(&[&base[..], &["cn"]].concat());
    assert!(!out.values("cn").is_empty(), "{}", out.stdout);
}

#[test]
fn compare_whoami_passwd_and_binds() {
    let s = Server::with_fixture();
    let dn = format!("uid=sven.horvat.1,{USERS}");
    // Compare: TRUE (6), FALSE (5), no such attribute (16), no such entry (32).
    s.tool("ldapcompare", &[&dn, "sn:HORVAT"], None)
        .expect_code(6);
    s.tool("ldapcompare", &[&dn, "sn:Smith"], None)
        .expect_code(5);
    s.tool("ldapcompare", &[&dn, "description:x"], None)
        .expect_code(16);
    // An empty value: invalid for a Directory String assertion (cn, RFC 4517 §3.3.6: 21,
    // as slapd), a valid IA5 String that matches nothing (mail: FALSE).
    s.tool("ldapcompare", &[&dn, "cn:"], None).expect_code(21);
    s.tool("ldapcompare", &[&dn, "mail:"], None).expect_code(5);
    s.tool(
        "ldapcompare",
        &[&format!("uid=nobody,{USERS}"), "sn:x"],
        None,
    )
    .expect_code(32);

    // Who am I? anonymous, rootdn, and a user bound with its {SSHA} password.
    let anon = s.tool("ldapwhoami", &[], None);
    anon.expect_code(0);
    assert_eq!(anon.stdout.trim(), "anonymous");
    let root = s.tool("ldapwhoami", &["-D", ROOTDN, "-w", ROOTPW], None);
    assert_eq!(root.stdout.trim(), format!("dn:{}", ROOTDN));
    let user = s.tool("ldapwhoami", &["-D", &dn, "-w", "pw-sven.horvat.1"], None);
    user.expect_code(0);
    assert_eq!(user.stdout.trim(), format!("dn:{dn}"));
    // As slapd: a user is named by its entry's DN as stored, however it spelled the bind
    // DN; the rootdn by the DN as spelled (pretty form: types by name, values as written).
    let shouted = format!("UID=SVEN.HORVAT.1, {}", USERS.to_uppercase());
    let user = s.tool(
        "ldapwhoami",
        &["-D", &shouted, "-w", "pw-sven.horvat.1"],
        None,
    );
    assert_eq!(user.stdout.trim(), format!("dn:{dn}"), "{}", user.stderr);
    let root = s.tool(
        "ldapwhoami",
        &["-D", "CN=Admin , DC=LocalDomain,dc=test", "-w", ROOTPW],
        None,
    );
    assert_eq!(root.stdout.trim(), "dn:cn=Admin,dc=LocalDomain,dc=test");
    // Wrong password and unknown DN give the same answer (49); DN without password is 53.
    s.tool("ldapwhoami", &["-D", &dn, "-w", "wrong"], None)
        .expect_code(49);
    s.tool(
        "ldapwhoami",
        &["-D", &format!("uid=nobody,{USERS}"), "-w", "x"],
        None,
    )
    .expect_code(49);
    s.tool(
        "ldapsearch",
        &["-D", &dn, "-w", "", "-b", BASE, "-s", "base"],
        None,
    )
    .expect_code(53);

    // ldappasswd: a user changes its own password (old one checked); the rootdn sets one
    // and a generated password is returned when none is given.
    s.tool(
        "ldappasswd",
        &[
            "-D",
            &dn,
            "-w",
            "pw-sven.horvat.1",
            "-a",
            "pw-sven.horvat.1",
            "-s",
            "n3w",
        ],
        None,
    )
    .expect_code(0);
    s.tool("ldapwhoami", &["-D", &dn, "-w", "n3w"], None)
        .expect_code(0);
    s.tool("ldapwhoami", &["-D", &dn, "-w", "pw-sven.horvat.1"], None)
        .expect_code(49);
    // A wrong old password: slapd 2.5 answers 53 "unwilling to verify old password".
    let wrong_old = s.tool(
        "ldappasswd",
        &["-D", &dn, "-w", "n3w", "-a", "not-it", "-s", "x"],
        None,
    );
    assert!(
        wrong_old.stdout.contains("unwilling to perform (53)")
            && wrong_old
                .stdout
                .contains("unwilling to verify old password"),
        "{}{}",
        wrong_old.stdout,
        wrong_old.stderr
    );
    s.tool("ldapwhoami", &["-D", &dn, "-w", "n3w"], None)
        .expect_code(0);
    let stored = s.search_root(&["-b", &dn, "-s", "base", "(objectClass=*)", "userPassword"]);
    assert!(
        stored.values("userPassword")[0].starts_with("{SSHA}"),
        "{}",
        stored.stdout
    );
    let other = format!("uid=james.wang.3,{USERS}");
    // ldappasswd exits 1 on any error and prints the result code.
    let denied = s.tool(
        "ldappasswd",
        &["-D", &dn, "-w", "n3w", "-s", "x", &other],
        None,
    );
    assert!(
        denied.code != 0 && denied.stdout.contains("(50)"),
        "{denied:?}"
    );
    // A userIdentity that is not a DN: 21 "Invalid DN", as slapd.
    let not_dn = s.tool(
        "ldappasswd",
        &["-D", ROOTDN, "-w", ROOTPW, "-s", "x", "u:sven"],
        None,
    );
    assert!(
        not_dn.code != 0 && not_dn.stdout.contains("(21)"),
        "{not_dn:?}"
    );
    let gen = s.tool("ldappasswd", &["-D", ROOTDN, "-w", ROOTPW, &other], None);
    gen.expect_code(0);
    let newpw = gen
        .stdout
        .trim()
        .strip_prefix("New password: ")
        .unwrap()
        .to_string();
    s.tool("ldapwhoami", &["-D", &other, "-w", &newpw], None)
        .expect_code(0);
    // A user may also replace its own userPassword by modify, but nothing else.
    let own =
        format!("dn: {other}\nchangetype: modify\nreplace: userPassword\nuserPassword: mine\n");
    s.tool("ldapmodify", &["-D", &other, "-w", &newpw], Some(&own))
        .expect_code(0);
    let other_attr = format!("dn: {other}\nchangetype: modify\nreplace: sn\nsn: X\n");
    s.tool(
        "ldapmodify",
        &["-D", &other, "-w", "mine"],
        Some(&other_attr),
    )
    .expect_code(50);
}

#[test]
fn ldap_v2_bind_follows_allow_bind_v2() {
    let s = Server::memory();
    // The embedded default has `allow bind_v2`.
    s.tool(
        "ldapsearch",
        &["-P", "2", "-b", BASE, "-s", "base", "1.1"],
        None,
    )
    .expect_code(0);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("v3only.conf");
    std::fs::write(
        &conf,
        "database mdb\nsuffix \"dc=localdomain,dc=test\"\nrootdn \"cn=admin,dc=localdomain,dc=test\"\nrootpw secret\n",
    )
    .unwrap();
    let v3 = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    v3.tool(
        "ldapsearch",
        &["-P", "2", "-b", BASE, "-s", "base", "1.1"],
        None,
    )
    .expect_code(2);
    v3.tool(
        "ldapsearch",
        &["-P", "3", "-b", BASE, "-s", "base", "1.1"],
        None,
    )
    .expect_code(0);
}

#[test]
fn paged_results_walk_the_whole_result() {
    let s = Server::with_fixture();
    // ldapsearch follows the cookies itself with -E pr=N/noprompt (RFC 2696).
    let out = s.search_root(&[
        "-E",
        "pr=7/noprompt",
        "-b",
        USERS,
        "-s",
        "one",
        "(objectClass=inetOrgPerson)",
        "1.1",
    ]);
    out.expect_code(0);
    let dns = out.dns();
    assert_eq!(dns.len(), 1000);
    assert_eq!(
        sorted(dns.clone()).len(),
        sorted(dns)
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    // The size limit counts the whole paged search: anonymous gets 500 (sizelimit).
    let anon = s.search_anon(&[
        "-E",
        "pr=100/noprompt",
        "-b",
        USERS,
        "-s",
        "one",
        "(objectClass=inetOrgPerson)",
        "1.1",
    ]);
    anon.expect_code(4);
    assert_eq!(anon.dns().len(), 500);
    // A critical paged control is supported, so it is not refused.
    s.search_root(&[
        "-E",
        "!pr=50/noprompt",
        "-b",
        GROUPS,
        "-s",
        "one",
        "(objectClass=*)",
        "1.1",
    ])
    .expect_code(0);
}

#[test]
fn object_class_attribute_lists() {
    // RFC 4529: `@class` asks for every attribute the class (and its superclasses) allows.
    let s = Server::with_fixture();
    let dn = format!("uid=sven.horvat.1,{USERS}");
    let out = s.search_anon(&[
        "-b",
        &dn,
        "-s",
        "base",
        "(objectClass=*)",
        "@organizationalPerson",
    ]);
    out.expect_code(0);
    assert_eq!(out.values("sn"), vec!["Horvat"]);
    assert_eq!(out.values("telephoneNumber").len(), 1);
    assert!(
        out.values("uid").is_empty(),
        "uid is not an organizationalPerson attribute"
    );
    assert!(out.values("mail").is_empty());
    let dse = s.search_anon(&[
        "-b",
        "",
        "-s",
        "base",
        "(objectClass=*)",
        "supportedFeatures",
    ]);
    assert!(dse
        .values("supportedFeatures")
        .contains(&"1.3.6.1.4.1.4203.1.5.2".to_string()));
}

/// An entry's DN above its RDN is spelled as its parent's stored DN, on add and on a modify
/// DN with a new superior, whatever spelling the request used: slapd's back-mdb builds an
/// entry's name from its RDN and its parent's name.
#[test]
fn entry_dn_takes_the_parent_spelling() {
    let s = Server::memory();
    let shouting = "uid=B,OU=USERS,O=LOCALDOMAIN,DC=LOCALDOMAIN,DC=TEST";
    s.modify_root(
        "ldapadd",
        &format!("dn: {shouting}\nobjectClass: inetOrgPerson\nuid: B\ncn: B\nsn: B\n"),
        &[],
    )
    .expect_code(0);
    let found = s.search_root(&["-b", BASE, "(uid=b)", "entryDN"]);
    assert_eq!(
        found.dns(),
        vec![format!("uid=B,{USERS}")],
        "{}",
        found.stdout
    );
    assert_eq!(found.values("entryDN"), vec![format!("uid=B,{USERS}")]);
    // The new RDN keeps the request's spelling; the new superior takes the stored one.
    s.modify_root(
        "ldapmodrdn",
        "",
        &[
            "-s",
            &GROUPS.to_uppercase(),
            &format!("uid=b,{}", USERS.to_lowercase()),
            "UID=b",
        ],
    )
    .expect_code(0);
    let moved = s.search_root(&["-b", BASE, "(uid=b)", "1.1"]);
    assert_eq!(
        moved.dns(),
        vec![format!("uid=b,{GROUPS}")],
        "{}",
        moved.stdout
    );
}

/// Language tags and ranges (RFC 3866): `cn;lang-en` selects only that tag, a range
/// `cn;lang-en-` every tag it prefixes at a subtag boundary, `cn;lang-` every tagged value;
/// filters follow the same rule. Answers as slapd 2.5's.
#[test]
fn language_ranges_select_and_match() {
    let s = Server::memory();
    let dn = format!("uid=L,{USERS}");
    s.modify_root(
        "ldapadd",
        &format!(
            "dn: {dn}\nobjectClass: inetOrgPerson\nuid: L\ncn: Plain\ncn;lang-en: English\n\
             cn;lang-en-us: American\ncn;lang-eng: Other\ncn;lang-de: Deutsch\nsn: L\n"
        ),
        &[],
    )
    .expect_code(0);
    let select = |desc: &str| {
        let out = s.search_root(&["-b", &dn, "-s", "base", "(objectClass=*)", desc]);
        out.expect_code(0);
        let mut lines: Vec<String> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("cn"))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(select("cn;lang-en"), ["cn;lang-en: English"]);
    assert_eq!(
        select("cn;lang-en-"),
        ["cn;lang-en-us: American", "cn;lang-en: English"]
    );
    assert_eq!(select("cn;lang-").len(), 4);
    assert_eq!(select("cn").len(), 5);
    let matches = |filter: &str| s.search_root(&["-b", BASE, filter, "1.1"]).dns().len();
    assert_eq!(matches("(cn;lang-en-=American)"), 1);
    assert_eq!(matches("(cn;lang-en=American)"), 0);
    assert_eq!(matches("(cn;lang-en-=Other)"), 0);
    assert_eq!(matches("(cn;lang-=Deutsch)"), 1);
}

/// `disallow bind_anon bind_simple` and `readonly on` are enforced as slapd enforces
/// them: an anonymous Bind is 48 "anonymous bind disallowed", a simple Bind 53 "unwilling
/// to perform simple authentication", and with `readonly on` every update is 53
/// "operation restricted" while reads go on.
#[test]
fn disallow_and_readonly_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let db = "database mdb\nsuffix \"dc=localdomain,dc=test\"\n\
              rootdn \"cn=admin,dc=localdomain,dc=test\"\nrootpw secret\n";
    let conf = dir.path().join("disallow.conf");
    std::fs::write(&conf, format!("disallow bind_anon bind_simple\n{db}")).unwrap();
    let s = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    let anon = s.tool("ldapwhoami", &[], None);
    anon.expect_code(48);
    assert!(
        anon.stderr.contains("anonymous bind disallowed"),
        "{anon:?}"
    );
    let simple = s.tool("ldapwhoami", &["-D", ROOTDN, "-w", ROOTPW], None);
    simple.expect_code(53);
    assert!(
        simple
            .stderr
            .contains("unwilling to perform simple authentication"),
        "{simple:?}"
    );
    drop(s);

    let conf = dir.path().join("readonly.conf");
    std::fs::write(&conf, format!("{db}readonly on\n")).unwrap();
    let s = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    let modify = format!("dn: {BASE}\nchangetype: modify\nreplace: o\no: changed\n");
    let refused = s.modify_root("ldapmodify", &modify, &[]);
    refused.expect_code(53);
    assert!(
        refused.stderr.contains("operation restricted"),
        "{refused:?}"
    );
    s.modify_root("ldapdelete", "", &[USERS]).expect_code(53);
    let passwd = s.tool(
        "ldappasswd",
        &[
            "-D",
            ROOTDN,
            "-w",
            ROOTPW,
            "-s",
            "x",
            &format!("uid=nobody,{USERS}"),
        ],
        None,
    );
    assert!(passwd.stdout.contains("(53)"), "{passwd:?}");
    let read = s.search_root(&["-b", BASE, "-s", "base", "o"]);
    read.expect_code(0);
    assert_ne!(read.values("o"), vec!["changed".to_string()]);
}

/// Tester 12, finding 2: an RDN naming objectClass changes the entry's classes, so a
/// modify DN to `objectClass=person` would change an inetOrgPerson's structural class;
/// RFC 4512 §2.4.2 forbids it and slapd answers objectClassModsProhibited (69) with
/// "structural object class modification from 'inetOrgPerson' to 'person' not allowed".
/// oxldap answered success (objectClass person, structuralObjectClass inetOrgPerson).
#[test]
fn modify_dn_cannot_change_the_structural_object_class() {
    let s = Server::memory();
    let dn = format!("objectClass=inetOrgPerson,{USERS}");
    s.modify_root(
        "ldapadd",
        &format!("dn: {dn}\nobjectClass: inetOrgPerson\ncn: c\nsn: s\n"),
        &[],
    )
    .expect_code(0);
    let out = s.modify_root("ldapmodrdn", "", &["-r", &dn, "objectClass=person"]);
    out.expect_code(69);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains(
            "structural object class modification from 'inetOrgPerson' to 'person' not allowed"
        ),
        "{said}"
    );
    // Nothing changed; a modify DN keeping the structural class still works (without
    // deleteoldrdn: deleting the old RDN's value would leave no objectClass, 65).
    let found = s.search_root(&["-b", &dn, "-s", "base", "(objectClass=*)", "objectClass"]);
    assert_eq!(found.values("objectClass"), vec!["inetOrgPerson"]);
    s.modify_root("ldapmodrdn", "", &["-r", &dn, "cn=renamed"])
        .expect_code(65);
    s.modify_root("ldapmodrdn", "", &[&dn, "cn=renamed"])
        .expect_code(0);
}
