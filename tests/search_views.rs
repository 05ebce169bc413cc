//! Entries read in place (`oxldap_store::EntryView`, encoded straight from the stored
//! bytes) must go on the wire exactly as entries decoded into owned values. A filter that
//! names a computed attribute (entryDN) makes the store decline the view path, so the same
//! search with `(entryDN=*)` ANDed in takes the owned path and must print the same LDIF.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;

/// Entries whose DNs need RFC 4514 escapes, a multi-valued RDN and binary values.
const TRICKY: &str = "dn: cn=Smith\\, John+sn=Smith,ou=Users,o=localdomain,dc=localdomain,dc=test
objectClass: inetOrgPerson
cn: Smith, John
sn: Smith
jpegPhoto:: AAECA/8=
mail: john.smith@localdomain.test

dn: cn=\\#hash \\<x\\>,ou=Users,o=localdomain,dc=localdomain,dc=test
objectClass: inetOrgPerson
cn: #hash <x>
sn: Hash
description: trailing space kept
";

/// The entries of -LLL output as sorted blocks (the two paths may walk candidates in
/// different orders).
fn blocks(out: &ToolOutput) -> Vec<String> {
    let mut b: Vec<String> = out
        .stdout
        .split("\n\n")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    b.sort();
    b
}

#[test]
fn entries_read_in_place_print_as_decoded_entries() {
    let s = Server::with_fixture();
    s.modify_root("ldapadd", TRICKY, &[]).expect_code(0);
    let selections: &[&[&str]] = &[
        &[],
        &["*"],
        &["1.1"],
        &["cn", "mail", "jpegPhoto", "description"],
        &["objectClass", "sn;x-unknown"],
        &["-A"],
        &["-A", "cn", "jpegPhoto"],
    ];
    for sel in selections {
        let (flags, attrs): (Vec<&str>, Vec<&str>) = sel.iter().partition(|a| a.starts_with('-'));
        let run = |filter: &str| {
            let mut args = flags.clone();
            args.extend(["-b", BASE, filter]);
            args.extend(attrs.iter().copied());
            let out = s.search_root(&args);
            assert_eq!(out.code, 0, "{sel:?} {filter}: {}", out.stderr);
            out
        };
        let viewed = run("(objectClass=*)");
        let decoded = run("(&(objectClass=*)(entryDN=*))");
        let (v, d) = (blocks(&viewed), blocks(&decoded));
        assert!(v.len() > 10, "{sel:?}: too few entries: {}", viewed.stdout);
        assert_eq!(v, d, "{sel:?}: view and owned paths differ");
    }
    // The escaped DN and the binary value come out as written.
    let out = s.search_root(&["-b", USERS, "(sn=Smith)", "jpegPhoto"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "dn: cn=Smith\\2C John+sn=Smith,ou=Users,o=localdomain,dc=localdomain,dc=test"
        ) && out.stdout.contains("jpegPhoto:: AAECA/8="),
        "{}",
        out.stdout
    );
}

#[test]
fn limits_and_paging_count_entries_read_in_place() {
    let s = Server::with_fixture();
    // A size limit stops the view path after that many entries (sizeLimitExceeded, 4).
    let out = s.search_root(&["-z", "3", "-b", BASE, "(objectClass=*)", "1.1"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(out.dns().len(), 3);
    // Paged: every entry once, over several pages.
    let all = s.search_root(&["-b", BASE, "(objectClass=*)", "1.1"]);
    let paged = s.search_root(&["-E", "pr=4/noprompt", "-b", BASE, "(objectClass=*)", "1.1"]);
    assert_eq!(paged.code, 0, "{}", paged.stderr);
    assert_eq!(sorted(paged.dns()), sorted(all.dns()));
    // Sorted (the entries are collected as owned values). cn has no ORDERING rule, so
    // the request names one (as slapd requires).
    let by_cn = s.search_root(&[
        "-E",
        "sss=cn:caseIgnoreOrderingMatch",
        "-b",
        USERS,
        "(objectClass=inetOrgPerson)",
        "cn",
    ]);
    assert_eq!(by_cn.code, 0, "{}", by_cn.stderr);
    let plain = s.search_root(&["-b", USERS, "(objectClass=inetOrgPerson)", "cn"]);
    assert!(by_cn.dns().len() > 2);
    assert_eq!(sorted(by_cn.dns()), sorted(plain.dns()));
    assert_eq!(sorted(by_cn.values("cn")), sorted(plain.values("cn")));
}

/// Access lines for [`non_root_identities_see_the_same_through_either_path`]: a password
/// only its owner and a group may read, a subtree hidden from all but that group, an
/// attribute its owner may read and other users only compare (so filters on it are
/// Undefined for them), and read for everyone else.
const ACCESS: &str = r#"access to attrs=userPassword
    by self write
    by group.exact="cn=admins,ou=Groups,o=localdomain,dc=localdomain,dc=test" read
    by anonymous auth
    by * none
access to dn.subtree="ou=Hidden,o=localdomain,dc=localdomain,dc=test"
    by group.exact="cn=admins,ou=Groups,o=localdomain,dc=localdomain,dc=test" read
    by * none
access to attrs=employeeNumber
    by self read
    by users compare
    by * none
access to *
    by users read
    by anonymous read
"#;

const ALICE: &str = "uid=alice,ou=Users,o=localdomain,dc=localdomain,dc=test";
const BOB: &str = "uid=bob,ou=Users,o=localdomain,dc=localdomain,dc=test";
const CAROL: &str = "uid=carol,ou=Users,o=localdomain,dc=localdomain,dc=test";

/// The users and group of `tests/acl.rs`.
const ACL_DATA: &str = include_str!("fixtures/acl-users.ldif");

/// Searches by identities other than the rootdn read entries in place too, with access
/// control evaluated on the view: every identity, filter and selection must print what
/// the owned path (forced by ANDing `(entryDN=*)` in) prints, and a few answers are
/// pinned outright (masked filter items, unreadable attributes, the hidden subtree).
#[test]
fn non_root_identities_see_the_same_through_either_path() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             password-hash {{CLEARTEXT}}\n\
             database mdb\nsuffix \"{BASE}\"\nrootdn \"{ROOTDN}\"\nrootpw {ROOTPW}\n{ACCESS}"
        ),
    )
    .unwrap();
    let s = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    s.modify_root("ldapadd", ACL_DATA, &[]).expect_code(0);
    s.modify_root("ldapadd", TRICKY, &[]).expect_code(0);
    let identities: &[Option<(&str, &str)>] = &[
        None,
        Some((ALICE, "alicepw")),
        Some((BOB, "bobpw")),
        Some((CAROL, "carolpw")),
    ];
    let filters = [
        "(objectClass=*)",
        "(employeeNumber=1234)",
        "(|(employeeNumber=5678)(cn=Bob))",
        "(!(employeeNumber=1234))",
        "(&(objectClass=person)(!(userPassword=*)))",
        "(cn=secret)",
        "(uid=alice)",
    ];
    let selections: &[&[&str]] = &[
        &[],
        &["*"],
        &["1.1"],
        &["cn", "userPassword", "employeeNumber", "jpegPhoto"],
        &["-A"],
    ];
    let search = |who: Option<(&str, &str)>, args: &[&str]| {
        let mut a = vec!["-LLL", "-o", "ldif-wrap=no"];
        if let Some((dn, pw)) = who {
            a.extend(["-D", dn, "-w", pw]);
        }
        a.extend_from_slice(args);
        s.tool("ldapsearch", &a, None)
    };
    for who in identities {
        for filter in filters {
            for sel in selections {
                let (flags, attrs): (Vec<&str>, Vec<&str>) =
                    sel.iter().partition(|a| a.starts_with('-'));
                let run = |base: &str, scope: &str, filter: &str| {
                    let mut args = flags.clone();
                    args.extend(["-b", base, "-s", scope, filter]);
                    args.extend(attrs.iter().copied());
                    let out = search(*who, &args);
                    assert_eq!(out.code, 0, "{who:?} {sel:?} {filter}: {}", out.stderr);
                    out
                };
                let owned = format!("(&{filter}(entryDN=*))");
                for (base, scope) in [(BASE, "sub"), (ALICE, "base"), (USERS, "one")] {
                    let (v, d) = (run(base, scope, filter), run(base, scope, &owned));
                    assert_eq!(
                        blocks(&v),
                        blocks(&d),
                        "{who:?} {sel:?} {base} {scope} {filter}: view and owned paths differ"
                    );
                }
            }
        }
    }
    // Pinned: bob may only compare employeeNumber, so the item is Undefined for him;
    // alice may read her own.
    let bob = Some((BOB, "bobpw"));
    let alice = Some((ALICE, "alicepw"));
    let carol = Some((CAROL, "carolpw"));
    assert!(search(bob, &["-b", BASE, "(employeeNumber=1234)", "1.1"])
        .dns()
        .is_empty());
    assert_eq!(
        search(alice, &["-b", BASE, "(employeeNumber=1234)", "1.1"]).dns(),
        [ALICE]
    );
    // `(!(employeeNumber=1234))` is Undefined for bob on every entry but his own (slapd
    // checks access before looking at the values, so also where the attribute is absent).
    let not = search(bob, &["-b", USERS, "(!(employeeNumber=1234))", "1.1"]).dns();
    assert_eq!(not, [BOB]);
    // alice may search it on her own entry only.
    let own = search(alice, &["-b", USERS, "(employeeNumber=*)", "1.1"]).dns();
    assert_eq!(own, [ALICE]);
    // userPassword: its owner and the admins group read it, others do not.
    let pw = |who| {
        search(
            who,
            &["-b", ALICE, "-s", "base", "(objectClass=*)", "userPassword"],
        )
    };
    assert_eq!(pw(alice).values("userPassword"), ["alicepw"]);
    assert_eq!(pw(carol).values("userPassword"), ["alicepw"]);
    assert!(pw(bob).values("userPassword").is_empty());
    assert!(pw(None).values("userPassword").is_empty());
    // The hidden subtree: only the admins group sees it.
    let secret = |who| search(who, &["-b", BASE, "(cn=secret)", "1.1"]).dns();
    assert_eq!(secret(carol).len(), 1);
    assert!(secret(bob).is_empty() && secret(None).is_empty());
}
