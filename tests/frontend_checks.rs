//! The checks slapd's frontend makes on a write before the backend checks access
//! (`slap_mods_check`, then `slap_mods_no_user_mod_check`, in do_modify and do_add): a
//! user with only read access who writes `memberOf` gets constraintViolation (19), not
//! insufficientAccessRights (50); an operational type with options (`memberOf;lang-en`,
//! `entryCSN;x-a`) is undefinedAttributeType (17) "operational attribute with options
//! undefined", for the rootdn too. The same script runs against Debian's slapd 2.5 with
//! the same access lines (`frontend_checks_match_slapd`), so every expectation is slapd's.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "memberof_vs_slapd/slapd.rs"]
mod slapd;

use common::{run_tool, Server, ROOTDN, ROOTPW};

const ALICE: &str = "uid=alice,ou=Users,o=localdomain,dc=localdomain,dc=test";
const ADMINS: &str = "cn=admins,ou=Groups,o=localdomain,dc=localdomain,dc=test";

/// Users read `memberOf` and write their own entries otherwise (the tester's s2 setup).
const ACCESS: &str = r#"access to attrs=userPassword
    by self write
    by anonymous auth
    by * none
access to attrs=memberOf
    by users read
    by * none
access to *
    by self write
    by users read
    by anonymous read
"#;

const DATA: &str = include_str!("fixtures/acl-users.ldif");

/// Runs ldapmodify (or ldapadd with `add`) bound as `who` with `ldif`; the exit code
/// and the server's text (`additional info:`).
fn write(url: &str, who: (&str, &str), ldif: &str, add: bool) -> (i32, String) {
    let tool = if add { "ldapadd" } else { "ldapmodify" };
    let out = run_tool(tool, url, &["-D", who.0, "-w", who.1], Some(ldif));
    let info = out
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("additional info: "))
        .unwrap_or_default()
        .to_string();
    (out.code, info)
}

/// What a case does: label, who binds, the LDIF, whether it is an add, the expected exit
/// code and server text.
type Case<'a> = (&'a str, (&'a str, &'a str), String, bool, i32, &'a str);

fn check(url: &str, label: &str) {
    let root = (ROOTDN, ROOTPW);
    let alice = (ALICE, "alicepw");
    let (code, info) = write(url, root, DATA, true);
    assert_eq!(code, 0, "{label}: loading data: {info}");
    let modify = |attr: &str, op: &str, value: &str| {
        let mut l = format!("dn: {ALICE}\nchangetype: modify\n{op}: {attr}\n");
        if !value.is_empty() {
            l.push_str(&format!("{attr}: {value}\n"));
        }
        l
    };
    let cases: &[Case<'_>] = &[
        // NO-USER-MODIFICATION is checked before access: 19, not 50.
        (
            "self add memberOf",
            alice,
            modify("memberOf", "add", ADMINS),
            false,
            19,
            "memberOf: no user modification allowed",
        ),
        (
            "self replace memberOf",
            alice,
            modify("memberOf", "replace", ADMINS),
            false,
            19,
            "memberOf: no user modification allowed",
        ),
        (
            "self delete memberOf",
            alice,
            modify("memberOf", "delete", ""),
            false,
            19,
            "memberOf: no user modification allowed",
        ),
        (
            "self add memberOf;lang-en",
            alice,
            modify("memberOf;lang-en", "add", ADMINS),
            false,
            17,
            "memberOf;lang-en: operational attribute with options undefined",
        ),
        (
            "root add memberOf;lang-en",
            root,
            modify("memberOf;lang-en", "add", ADMINS),
            false,
            17,
            "memberOf;lang-en: operational attribute with options undefined",
        ),
        (
            "root add entryCSN;lang-en",
            root,
            modify("entryCSN;lang-en", "add", "x"),
            false,
            17,
            "entryCSN;lang-en: operational attribute with options undefined",
        ),
        (
            "root add memberOf;x-foo",
            root,
            modify("memberOf;x-foo", "add", ADMINS),
            false,
            17,
            "memberOf;x-foo: operational attribute with options undefined",
        ),
        (
            "root add memberOf",
            root,
            modify("memberOf", "add", ADMINS),
            false,
            19,
            "memberOf: no user modification allowed",
        ),
        (
            "root add entry with entryCSN;lang-en",
            root,
            "dn: uid=zz,ou=Users,o=localdomain,dc=localdomain,dc=test\nobjectClass: inetOrgPerson\n\
             uid: zz\ncn: c\nsn: s\nentryCSN;lang-en: x\n"
                .to_string(),
            true,
            17,
            "entryCSN;lang-en: operational attribute with options undefined",
        ),
        // A user attribute with an unknown option keeps its own error.
        (
            "self add cn;x-foo",
            alice,
            modify("cn;x-foo", "add", "x"),
            false,
            17,
            "cn;x-foo: unrecognized option",
        ),
        // Without write access to a user attribute, access decides.
        (
            "self add cn (allowed)",
            alice,
            modify("cn", "add", "Alice Two"),
            false,
            0,
            "",
        ),
    ];
    for (what, who, ldif, add, code, text) in cases {
        let (got, info) = write(url, *who, ldif, *add);
        assert_eq!((got, info.as_str()), (*code, *text), "{label}: {what}");
    }
}

#[test]
fn frontend_checks_before_access() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include /etc/ldap/schema/misc.schema\n\
             moduleload back_mdb\n\
             moduleload memberof\n\
             password-hash {{CLEARTEXT}}\n\
             database mdb\n\
             suffix \"dc=localdomain,dc=test\"\n\
             rootdn \"{ROOTDN}\"\n\
             rootpw {ROOTPW}\n\
             {ACCESS}overlay memberof\n"
        ),
    )
    .unwrap();
    let server = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    check(&server.url, "oxldap");
}

#[test]
fn frontend_checks_match_slapd() {
    if !std::path::Path::new(slapd::SLAPD).exists() {
        eprintln!("skipping: {} is not installed", slapd::SLAPD);
        return;
    }
    let s = slapd::Slapd::start(&format!("{ACCESS}overlay memberof\n"));
    check(&s.url, "slapd");
}
