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
