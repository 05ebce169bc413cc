//! Access control (slapd.access(5)) through the wire: the real `oxldap` binary started with
//! a slapd.conf holding `access` lines, driven by ldapsearch, ldapmodify, ldapadd,
//! ldapdelete, ldapmodrdn, ldapcompare, ldappasswd and ldapwhoami.
//!
//! The same script of operations and expected answers also runs against a real Debian
//! slapd 2.5 with the same access lines (`acl_matches_slapd`), so every expectation below
//! is slapd's behaviour, not only oxldap's.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "memberof_vs_slapd/slapd.rs"]
mod slapd;

use common::{run_tool, sorted, Server, ToolOutput, ROOTDN, ROOTPW};

const O: &str = "o=localdomain,dc=localdomain,dc=test";
const USERS: &str = "ou=Users,o=localdomain,dc=localdomain,dc=test";
const ALICE: &str = "uid=alice,ou=Users,o=localdomain,dc=localdomain,dc=test";
const BOB: &str = "uid=bob,ou=Users,o=localdomain,dc=localdomain,dc=test";
const CAROL: &str = "uid=carol,ou=Users,o=localdomain,dc=localdomain,dc=test";
const HIDDEN: &str = "ou=Hidden,o=localdomain,dc=localdomain,dc=test";
const SECRET: &str = "cn=secret,ou=Hidden,o=localdomain,dc=localdomain,dc=test";

/// The access lines under test (database level), in slapd.conf syntax with continuation
/// lines. carol is the only member of cn=admins.
///
/// The commented-out rule inside the first one is slapd.conf(5)'s "continuation of the
/// previous line (even if the previous line is a comment)": its indented `by * write`
/// and `by * none` belong to the comment, so the first rule ends at `by anonymous auth`
/// (then slapd's implicit `by * none`). Joined to the rule instead, `by * write` would
/// let bob set alice's password, which `check` refuses (tester 11).
const ACCESS: &str = r#"access to attrs=userPassword
    by self write
    by group.exact="cn=admins,ou=Groups,o=localdomain,dc=localdomain,dc=test" write
    by anonymous auth
# access to attrs=description
#    by users read
    by * write
    by * none
access to dn.subtree="ou=Hidden,o=localdomain,dc=localdomain,dc=test"
    by group.exact="cn=admins,ou=Groups,o=localdomain,dc=localdomain,dc=test" write
    by * none
access to attrs=employeeNumber
    by self read
    by users compare
    by * none
access to *
    by group/groupOfNames/member="cn=admins,ou=Groups,o=localdomain,dc=localdomain,dc=test" write
    by users read
    by anonymous read
"#;

/// The users and group the access rules name (shared with `tests/search_views.rs`).
const DATA: &str = include_str!("fixtures/acl-users.ldif");

/// The database directives shared by both servers' configurations (after `database`).
fn db_lines() -> String {
    format!(
        "suffix \"dc=localdomain,dc=test\"\nrootdn \"{ROOTDN}\"\nrootpw {ROOTPW}\n{ACCESS}overlay syncprov\n"
    )
}

/// oxldap with the same schema, database and access lines as the slapd of [`slapd`], and
/// userPassword stored as written (slapd without ppolicy's hash_cleartext does that;
/// oxldap hashes by default), so both answer the same values.
fn start_oxldap() -> (Server, tempfile::TempDir) {
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
             moduleload syncprov\n\
             password-hash {{CLEARTEXT}}\n\
             database mdb\n{}",
            db_lines()
        ),
    )
    .unwrap();
    let server = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    (server, dir)
}

/// Runs `tool` bound as `who` (`None`: anonymous) with `-x -H url`.
fn as_user(
    url: &str,
    who: Option<(&str, &str)>,
    tool: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> ToolOutput {
    let mut a: Vec<&str> = Vec::new();
    if let Some((dn, pw)) = who {
        a.extend(["-D", dn, "-w", pw]);
    }
    a.extend_from_slice(args);
    run_tool(tool, url, &a, stdin)
}

fn search(
    url: &str,
    who: Option<(&str, &str)>,
    base: &str,
    scope: &str,
    filter: &str,
    attrs: &[&str],
) -> ToolOutput {
    let mut a = vec![
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-b",
        base,
        "-s",
        scope,
        filter,
    ];
    a.extend_from_slice(attrs);
    as_user(url, who, "ldapsearch", &a, None)
}

/// The result code of an extended operation: ldappasswd exits 1 on any failure and
/// prints `Result: <text> (<code>)`.
fn exop(out: &ToolOutput) -> i32 {
    if out.code == 0 {
        return 0;
    }
    let text = format!("{}\n{}", out.stdout, out.stderr);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Result: "))
        .and_then(|r| r.rsplit_once('('))
        .and_then(|(_, c)| c.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no result in {text:?}"))
}

fn modify(url: &str, who: Option<(&str, &str)>, ldif: &str) -> i32 {
    as_user(url, who, "ldapmodify", &[], Some(ldif)).code
}

/// The script: every step asserts slapd's answer. `label` names the server in messages.
fn check(url: &str, label: &str) {
    let slapd = label == "slapd";
    let root = Some((ROOTDN, ROOTPW));
    let load = as_user(url, root, "ldapadd", &[], Some(DATA));
    assert_eq!(load.code, 0, "{label}: loading data: {}", load.stderr);
    let alice = Some((ALICE, "alicepw"));
    let bob = Some((BOB, "bobpw"));
    let carol = Some((CAROL, "carolpw"));

    // Anonymous: reads entries, never userPassword; can bind (auth).
    let out = search(url, None, ALICE, "base", "(objectClass=*)", &["*"]);
    out.expect_code(0);
    assert_eq!(out.values("cn"), ["Alice"], "{label}");
    assert!(
        out.values("userPassword").is_empty(),
        "{label}: anonymous read userPassword"
    );
    let who = as_user(url, alice, "ldapwhoami", &[], None);
    assert_eq!(who.code, 0, "{label}: alice bind: {}", who.stderr);
    assert_eq!(
        who.stdout.trim().to_ascii_lowercase(),
        format!("dn:{}", ALICE.to_ascii_lowercase()),
        "{label}"
    );
    // A wrong password is still 49.
    assert_eq!(
        as_user(url, Some((ALICE, "nope")), "ldapwhoami", &[], None).code,
        49,
        "{label}"
    );

    // Users read others' entries but not their userPassword; self reads its own.
    let out = search(
        url,
        bob,
        ALICE,
        "base",
        "(objectClass=*)",
        &["cn", "userPassword"],
    );
    out.expect_code(0);
    assert_eq!(out.values("cn"), ["Alice"], "{label}");
    assert!(
        out.values("userPassword").is_empty(),
        "{label}: bob read alice's userPassword"
    );
    let out = search(
        url,
        alice,
        ALICE,
        "base",
        "(objectClass=*)",
        &["userPassword"],
    );
    assert_eq!(
        out.values("userPassword"),
        ["alicepw"],
        "{label}: self read userPassword"
    );
    // The rootdn bypasses everything.
    let out = search(
        url,
        root,
        ALICE,
        "base",
        "(objectClass=*)",
        &["userPassword"],
    );
    assert_eq!(out.values("userPassword"), ["alicepw"], "{label}: rootdn");

    // Users read but do not write, not even their own entry (only userPassword).
    let desc = |dn: &str, v: &str| {
        format!("dn: {dn}\nchangetype: modify\nreplace: description\ndescription: {v}\n")
    };
    assert_eq!(
        modify(url, bob, &desc(ALICE, "by bob")),
        50,
        "{label}: bob writes alice"
    );
    assert_eq!(
        modify(url, bob, &desc(BOB, "by bob")),
        50,
        "{label}: bob writes himself"
    );
    // slapd refuses anonymous updates before access control (no `allow update_anon`).
    assert_eq!(
        modify(url, None, &desc(ALICE, "anon")),
        8,
        "{label}: anonymous writes"
    );
    // Group-based write for cn=admins.
    assert_eq!(
        modify(url, carol, &desc(ALICE, "by carol")),
        0,
        "{label}: carol writes alice"
    );
    let out = search(url, bob, ALICE, "base", "(objectClass=*)", &["description"]);
    assert_eq!(out.values("description"), ["by carol"], "{label}");
    let dave =
        format!("dn: uid=dave,{USERS}\nobjectClass: inetOrgPerson\nuid: dave\ncn: Dave\nsn: D\n");
    let eve =
        format!("dn: uid=eve,{USERS}\nobjectClass: inetOrgPerson\nuid: eve\ncn: Eve\nsn: E\n");
    assert_eq!(
        as_user(url, bob, "ldapadd", &[], Some(&eve)).code,
        50,
        "{label}: bob adds"
    );
    assert_eq!(
        as_user(url, carol, "ldapadd", &[], Some(&dave)).code,
        0,
        "{label}: carol adds"
    );
    // A missing parent is noSuchObject for everyone, before access is checked.
    let orphan =
        format!("dn: uid=o,ou=Nowhere,{USERS}\nobjectClass: inetOrgPerson\nuid: o\ncn: O\nsn: O\n");
    for who in [bob, carol] {
        assert_eq!(
            as_user(url, who, "ldapadd", &[], Some(&orphan)).code,
            32,
            "{label}: orphan add"
        );
    }
    let dave_dn = format!("uid=dave,{USERS}");
    assert_eq!(
        as_user(url, bob, "ldapmodrdn", &[&dave_dn, "uid=dave2"], None).code,
        50,
        "{label}: bob renames"
    );
    assert_eq!(
        as_user(
            url,
            carol,
            "ldapmodrdn",
            &["-r", &dave_dn, "uid=dave2"],
            None
        )
        .code,
        0,
        "{label}: carol renames"
    );
    let dave2 = format!("uid=dave2,{USERS}");
    assert_eq!(
        as_user(url, bob, "ldapdelete", &[&dave2], None).code,
        50,
        "{label}: bob deletes"
    );
    assert_eq!(
        as_user(url, carol, "ldapdelete", &[&dave2], None).code,
        0,
        "{label}: carol deletes"
    );

    // Passwords: self may change its own, not others'; admins may change anyone's.
    let pw = |dn: &str, v: &str| {
        format!("dn: {dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {v}\n")
    };
    assert_eq!(
        modify(url, bob, &pw(ALICE, "x")),
        50,
        "{label}: bob sets alice's password"
    );
    assert_eq!(
        modify(url, alice, &pw(ALICE, "alice2")),
        0,
        "{label}: alice sets her password"
    );
    let alice = Some((ALICE, "alice2"));
    assert_eq!(
        as_user(url, alice, "ldapwhoami", &[], None).code,
        0,
        "{label}: new password binds"
    );
    assert_eq!(
        exop(&as_user(url, alice, "ldappasswd", &["-s", "x", BOB], None)),
        50,
        "{label}: alice exop for bob"
    );
    assert_eq!(
        exop(&as_user(url, bob, "ldappasswd", &["-s", "bob2"], None)),
        0,
        "{label}: bob exop for himself"
    );
    let bob = Some((BOB, "bob2"));
    assert_eq!(
        as_user(url, bob, "ldapwhoami", &[], None).code,
        0,
        "{label}: bob2 binds"
    );
    assert_eq!(
        exop(&as_user(
            url,
            carol,
            "ldappasswd",
            &["-s", "bob3", BOB],
            None
        )),
        0,
        "{label}: carol exop for bob"
    );
    let bob = Some((BOB, "bob3"));
    assert_eq!(
        as_user(url, bob, "ldapwhoami", &[], None).code,
        0,
        "{label}: bob3 binds"
    );

    // A hidden subtree: noSuchObject (not 50) for search bases and compares, and its
    // entries never show up in wider searches.
    for who in [None, bob] {
        assert_eq!(
            search(url, who, HIDDEN, "base", "(objectClass=*)", &[]).code,
            32,
            "{label}: hidden base"
        );
        assert_eq!(
            search(url, who, SECRET, "sub", "(objectClass=*)", &[]).code,
            32,
            "{label}: hidden sub base"
        );
        assert_eq!(
            as_user(url, who, "ldapcompare", &[SECRET, "cn:secret"], None).code,
            32,
            "{label}: hidden compare"
        );
        let out = search(url, who, O, "sub", "(objectClass=*)", &["1.1"]);
        out.expect_code(0);
        assert!(
            !out.dns().iter().any(|d| d.contains("Hidden")),
            "{label}: hidden in subtree: {:?}",
            out.dns()
        );
    }
    // Deviation: slapd 2.5's back-mdb answers 50 to writes on an entry the client may not
    // even disclose, which tells it the entry exists; oxldap answers noSuchObject, as
    // issue 8 requires ("an entry the client may not disclose gives noSuchObject").
    let hidden_write = if slapd { 50 } else { 32 };
    // A missing name below the hidden subtree does not name it as matchedDN.
    let below = format!("cn=nothere,{SECRET}");
    let out = search(url, bob, &below, "base", "(objectClass=*)", &[]);
    assert_eq!(out.code, 32, "{label}: below hidden");
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("Hidden"),
        "{label}: matchedDN disclosed: {}",
        out.stderr
    );
    let out = search(url, carol, &below, "base", "(objectClass=*)", &[]);
    assert!(
        out.stderr.contains("Matched DN: cn=secret"),
        "{label}: carol gets the matchedDN: {}",
        out.stderr
    );
    assert_eq!(
        as_user(url, bob, "ldapdelete", &[SECRET], None).code,
        hidden_write,
        "{label}: hidden delete"
    );
    assert_eq!(
        modify(url, bob, &desc(SECRET, "x")),
        hidden_write,
        "{label}: hidden modify"
    );
    let out = search(url, carol, O, "sub", "(objectClass=*)", &["1.1"]);
    assert!(
        out.dns().iter().any(|d| d == SECRET),
        "{label}: carol sees the hidden entry"
    );
    assert_eq!(
        as_user(url, carol, "ldapcompare", &[SECRET, "cn:secret"], None).code,
        6,
        "{label}: carol compares"
    );

    // No disclosure by filter: bob may compare employeeNumber but not search it.
    let out = search(url, bob, USERS, "one", "(employeeNumber=1234)", &["1.1"]);
    out.expect_code(0);
    assert!(
        out.dns().is_empty(),
        "{label}: bob's filter disclosed {:?}",
        out.dns()
    );
    // NOT of Undefined is Undefined: only bob's own entry (self read) is False, so True.
    let out = search(url, bob, USERS, "one", "(!(employeeNumber=1234))", &["1.1"]);
    assert_eq!(out.dns(), [BOB], "{label}: NOT of Undefined is Undefined");
    let out = search(
        url,
        bob,
        USERS,
        "one",
        "(|(employeeNumber=1234)(uid=alice))",
        &["1.1"],
    );
    assert_eq!(out.dns(), [ALICE], "{label}: OR with an Undefined part");
    let out = search(
        url,
        alice,
        USERS,
        "one",
        "(employeeNumber=*)",
        &["employeeNumber"],
    );
    assert_eq!(
        out.dns(),
        [ALICE],
        "{label}: self searches its own employeeNumber"
    );
    let out = search(
        url,
        bob,
        ALICE,
        "base",
        "(objectClass=*)",
        &["employeeNumber"],
    );
    assert!(
        out.values("employeeNumber").is_empty(),
        "{label}: compare is not read"
    );
    assert_eq!(
        as_user(
            url,
            bob,
            "ldapcompare",
            &[ALICE, "employeeNumber:1234"],
            None
        )
        .code,
        6,
        "{label}: bob compares"
    );
    assert_eq!(
        as_user(
            url,
            None,
            "ldapcompare",
            &[ALICE, "employeeNumber:1234"],
            None
        )
        .code,
        50,
        "{label}: anonymous compares"
    );

    // Content sync (RFC 4533) refresh sends only what a search would.
    let out = search(
        url,
        bob,
        O,
        "sub",
        "(objectClass=*)",
        &["-E", "sync=ro", "cn", "userPassword"],
    );
    assert_eq!(out.code, 0, "{label}: sync: {}", out.stderr);
    let dns = sorted(out.dns());
    assert!(
        dns.iter().any(|d| d == ALICE),
        "{label}: sync sends alice: {dns:?}"
    );
    assert!(
        !dns.iter().any(|d| d.contains("Hidden")),
        "{label}: sync sends hidden: {dns:?}"
    );
    // Persist (refreshAndPersist): later changes reach bob only where he may read.
    persist_sees_only_readable(url, label, bob, carol);

    // Only bob's own userPassword (self write includes read), not alice's or carol's.
    assert_eq!(
        out.values("userPassword").len(),
        1,
        "{label}: sync sends userPassword"
    );
}

/// Runs a refreshAndPersist search as `reader` while `writer` adds an entry to the hidden
/// subtree and changes alice; only alice's change may reach the reader.
fn persist_sees_only_readable(
    url: &str,
    label: &str,
    reader: Option<(&str, &str)>,
    writer: Option<(&str, &str)>,
) {
    let (dn, pw) = reader.unwrap();
    let child = std::process::Command::new("ldapsearch")
        .args([
            "-x",
            "-H",
            url,
            "-D",
            dn,
            "-w",
            pw,
            "-LLL",
            "-o",
            "ldif-wrap=no",
        ])
        .args([
            "-E",
            "sync=rp",
            "-b",
            O,
            "-s",
            "sub",
            "(objectClass=*)",
            "description",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let hidden = format!("dn: cn=new,{HIDDEN}\nobjectClass: person\ncn: new\nsn: N\n");
    assert_eq!(
        as_user(url, writer, "ldapadd", &[], Some(&hidden)).code,
        0,
        "{label}"
    );
    let change =
        format!("dn: {ALICE}\nchangetype: modify\nreplace: description\ndescription: persisted\n");
    assert_eq!(modify(url, writer, &change), 0, "{label}");
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("description: persisted"),
        "{label}: persist missed alice: {text}"
    );
    assert!(
        !text.contains("cn=new"),
        "{label}: persist sent the hidden entry: {text}"
    );
}

#[test]
fn access_lines_are_enforced() {
    let (server, _conf) = start_oxldap();
    check(&server.url, "oxldap");
}

#[test]
fn acl_matches_slapd() {
    if !std::path::Path::new(slapd::SLAPD).exists() {
        eprintln!("skipping: {} is not installed", slapd::SLAPD);
        return;
    }
    let s = slapd::Slapd::start(&format!("{ACCESS}moduleload syncprov\noverlay syncprov\n"));
    check(&s.url, "slapd");
}

/// Without access lines: slapd's default read for all, plus the userPassword rule
/// (`access to attrs=userPassword by self write by anonymous auth by * none`).
#[test]
fn default_policy() {
    let server = Server::memory();
    let root = Some((ROOTDN, ROOTPW));
    let data = format!(
        "dn: uid=u1,{USERS}\nobjectClass: inetOrgPerson\nuid: u1\ncn: U1\nsn: U\nuserPassword: pw1\n\n\
         dn: uid=u2,{USERS}\nobjectClass: inetOrgPerson\nuid: u2\ncn: U2\nsn: U\nuserPassword: pw2\n"
    );
    assert_eq!(
        as_user(&server.url, root, "ldapadd", &[], Some(&data)).code,
        0
    );
    let u1 = format!("uid=u1,{USERS}");
    let u2 = format!("uid=u2,{USERS}");
    let me = Some((u1.as_str(), "pw1"));
    let out = search(
        &server.url,
        None,
        &u1,
        "base",
        "(objectClass=*)",
        &["cn", "userPassword"],
    );
    assert_eq!(out.values("cn"), ["U1"]);
    assert!(out.values("userPassword").is_empty());
    // userPassword cannot even be searched by others (no disclosure by filter).
    let out = search(
        &server.url,
        Some((u2.as_str(), "pw2")),
        USERS,
        "one",
        "(userPassword=pw1)",
        &["1.1"],
    );
    assert!(out.dns().is_empty(), "{:?}", out.dns());
    assert_eq!(as_user(&server.url, me, "ldapwhoami", &[], None).code, 0);
    let out = search(
        &server.url,
        me,
        &u1,
        "base",
        "(objectClass=*)",
        &["userPassword"],
    );
    // The owner reads its own password: stored hashed ({SSHA}, the default password-hash).
    let own = out.values("userPassword");
    assert_eq!(own.len(), 1, "{own:?}");
    assert!(own[0].starts_with("{SSHA}"), "{own:?}");
    let cn = format!("dn: {u1}\nchangetype: modify\nreplace: cn\ncn: X\n");
    assert_eq!(modify(&server.url, me, &cn), 50);
    let pw = format!("dn: {u1}\nchangetype: modify\nreplace: userPassword\nuserPassword: new1\n");
    assert_eq!(modify(&server.url, me, &pw), 0);
    let pw2 = format!("dn: {u2}\nchangetype: modify\nreplace: userPassword\nuserPassword: x\n");
    assert_eq!(modify(&server.url, Some((u1.as_str(), "new1")), &pw2), 50);
}

/// A malformed or unsupported access line stops the server from starting, naming the line.
#[test]
fn bad_access_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("slapd.conf");
    std::fs::write(
        &conf,
        "database mdb\nsuffix \"dc=localdomain,dc=test\"\naccess to * by dnattr=owner write\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["serve", "--memory", "-h", "ldap://127.0.0.1:0/", "-f"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":3:") && err.contains("dnattr"), "{err}");
}

/// The embedded builder takes access lines as slapd syntax, with or without `access`.
#[test]
fn embedded_builder_accepts_access_rules() {
    let ana = format!(
        "dn: uid=ana,{USERS}\nobjectClass: inetOrgPerson\nuid: ana\ncn: Ana\nsn: A\nmail: ana@x.test\n"
    );
    let s = oxldap::Server::builder()
        .ldif(ana)
        .access("access to attrs=mail by self read by * none")
        .access("to * by * read")
        .start_blocking()
        .unwrap();
    let dn = format!("uid=ana,{USERS}");
    let out = search(
        s.url(),
        None,
        &dn,
        "base",
        "(objectClass=*)",
        &["cn", "mail"],
    );
    out.expect_code(0);
    assert_eq!(out.values("cn"), ["Ana"]);
    assert!(out.values("mail").is_empty(), "{}", out.stdout);
    // In-process operations run as the rootdn and see everything.
    let e = s.get(&dn).unwrap().unwrap();
    assert_eq!(e.first_str("mail"), Some("ana@x.test"));
    let bad = oxldap::Server::builder()
        .access("to * by dnattr=owner write")
        .start_blocking();
    assert!(bad.is_err());
}

/// Global lines apply after the database's (`break` reaches them), and alone to the root
/// DSE, which is in no database.
#[test]
fn global_rules_follow_database_rules() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "access to attrs=userPassword by anonymous auth\n\
             access to dn.base=\"\" by * read\n\
             access to * by users read by * none\n\
             database mdb\nsuffix \"dc=localdomain,dc=test\"\nrootdn \"{ROOTDN}\"\nrootpw {ROOTPW}\n\
             access to attrs=description by * none break\n\
             access to attrs=ou by * none\n"
        ),
    )
    .unwrap();
    let server = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    let root = Some((ROOTDN, ROOTPW));
    let desc = format!("dn: {USERS}\nchangetype: modify\nadd: description\ndescription: people\n");
    assert_eq!(modify(&server.url, root, &desc), 0);
    // The root DSE: the global dn.base="" rule.
    let out = search(
        &server.url,
        None,
        "",
        "base",
        "(objectClass=*)",
        &["namingContexts"],
    );
    assert_eq!(out.values("namingContexts"), ["dc=localdomain,dc=test"]);
    // Anonymous: the global "by * none" hides the database.
    assert_eq!(
        search(&server.url, None, USERS, "base", "(objectClass=*)", &[]).code,
        32
    );
    // A user; binding needs the global userPassword rule (anonymous auth).
    let u = format!("uid=u,{USERS}");
    let add =
        format!("dn: {u}\nobjectClass: inetOrgPerson\nuid: u\ncn: U\nsn: U\nuserPassword: pw\n");
    assert_eq!(
        as_user(&server.url, root, "ldapadd", &[], Some(&add)).code,
        0
    );
    let me = Some((u.as_str(), "pw"));
    let out = search(
        &server.url,
        me,
        USERS,
        "base",
        "(objectClass=*)",
        &["description", "ou"],
    );
    out.expect_code(0);
    // description: "none break" goes on to the global "users read"; ou: "none" stops.
    assert_eq!(out.values("description"), ["people"]);
    assert!(out.values("ou").is_empty(), "{}", out.stdout);
}
