//! Configuration errors found after parsing (those that need the schema: index types
//! against matching rules, unknown attributes in `index`, ACL attribute names, overlay
//! options) name the file and line of the directive at fault, and the same line as
//! `slaptest -f` on the same file, with slaptest's wording where slapd has one.
//! Each case is a slapd.conf both programs read (oxldap accepts slapd's module lines);
//! oxldap opens it through `oxldap import` of an empty LDIF, which opens the directory
//! and stops there.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::run_combined;

use std::path::Path;
use std::process::Command;

const SLAPTEST: &str = "/usr/sbin/slaptest";

/// The configuration, with `extra` after the database directives.
fn conf(dir: &Path, extra: &str) -> String {
    format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         include /etc/ldap/schema/misc.schema\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         moduleload memberof\n\
         moduleload refint\n\
         database mdb\n\
         suffix \"dc=localdomain,dc=test\"\n\
         rootdn \"cn=admin,dc=localdomain,dc=test\"\n\
         rootpw secret\n\
         directory {}\n\
         index objectClass eq,pres\n\
         {extra}\n",
        dir.join("db").display()
    )
}

/// (exit status, stderr) of oxldap opening `file`.
fn oxldap(dir: &Path, file: &Path) -> (bool, String) {
    let empty = dir.join("empty.ldif");
    std::fs::write(&empty, "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["import", "-f", file.to_str().unwrap(), "--data-dir"])
        .arg(dir.join("oxdata"))
        .arg(&empty)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (exit status, stdout and stderr) of `slaptest -u -f file`.
fn slaptest(file: &Path) -> (bool, String) {
    run_combined(Command::new(SLAPTEST).args(["-u", "-f", file.to_str().unwrap()]))
}

#[test]
fn post_parse_errors_name_the_line_slaptest_names() {
    if !Path::new(SLAPTEST).exists() {
        println!("SKIPPED: {SLAPTEST} is not installed");
        return;
    }
    // (the directives, the message oxldap gives after "FILE:LINE: \"directive\": ",
    // whether slaptest names the line: for memberof-group-oc it only says "bad
    // configuration file!").
    let cases: &[(&str, &str, bool)] = &[
        (
            "index cn,nosuchattr eq",
            "index attribute \"nosuchattr\" undefined",
            true,
        ),
        (
            "index objectClass sub",
            "substr index of attribute \"objectClass\" disallowed",
            true,
        ),
        (
            "index audio eq",
            "equality index of attribute \"audio\" disallowed",
            true,
        ),
        ("index cn", "no indexes selected", true),
        (
            "access to * by * read\naccess to attrs=cn,nosuch by * read",
            "unknown attr \"nosuch\" in to clause",
            true,
        ),
        (
            "overlay memberof\nmemberof-group-oc nosuchclass",
            "<memberof-group-oc> unable to find objectClass \"nosuchclass\"",
            false,
        ),
        (
            "overlay memberof\nmemberof-member-ad nosuchattr",
            "<memberof-member-ad> invalid AttributeDescription",
            true,
        ),
        (
            "overlay memberof\nmemberof-memberof-ad nosuchattr",
            "<memberof-memberof-ad> invalid AttributeDescription",
            true,
        ),
        (
            "overlay refint\nrefint_attributes member nosuchattr",
            "refint_attributes <nosuchattr>: attribute type undefined",
            true,
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slapd.conf");
    // The base configuration is accepted by both.
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    std::fs::write(&file, conf(dir.path(), "index default eq\nindex cn,mail")).unwrap();
    let (ok, text) = slaptest(&file);
    assert!(ok, "slaptest: {text}");
    let (ok, text) = oxldap(dir.path(), &file);
    assert!(ok, "oxldap: {text}");

    for (extra, message, slaptest_names_line) in cases {
        let text = conf(dir.path(), extra);
        std::fs::write(&file, &text).unwrap();
        // The last line is the directive at fault.
        let line = text.lines().count();
        let (ok, sl) = slaptest(&file);
        assert!(!ok, "slaptest accepted {extra:?}");
        if *slaptest_names_line {
            assert!(
                sl.contains(&format!("slapd.conf: line {line}: ")),
                "{extra:?}: slaptest: {sl}"
            );
        }
        let (ok, ox) = oxldap(dir.path(), &file);
        assert!(!ok, "oxldap accepted {extra:?}");
        let directive = extra
            .lines()
            .last()
            .and_then(|l| l.split_whitespace().next())
            .unwrap();
        let want = format!("{}:{line}: \"{directive}\": {message}", file.display());
        assert!(ox.contains(&want), "{extra:?}: want {want:?} in: {ox}");
    }
}

/// slapd serves every `database` section; oxldap serves one and refuses a second one with
/// its line, instead of parsing it and serving only the first (tester 11: the second
/// database's rootdn got 49 and its suffix was missing from the root DSE).
#[test]
fn a_second_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slapd.conf");
    let text = conf(
        dir.path(),
        "database mdb\nsuffix \"dc=example,dc=com\"\nrootdn \"cn=admin,dc=example,dc=com\"",
    );
    std::fs::write(&file, &text).unwrap();
    let line = text.lines().position(|l| l == "database mdb").unwrap();
    let second = text
        .lines()
        .skip(line + 1)
        .position(|l| l == "database mdb")
        .unwrap()
        + line
        + 2;
    let (ok, ox) = oxldap(dir.path(), &file);
    assert!(!ok, "oxldap accepted two databases");
    assert!(
        ox.contains(&format!(
            "slapd.conf:{second}: \"database\": oxldap serves one database"
        )),
        "{ox}"
    );
}

/// slapd.conf(5): an indented line continues the previous line "even if the previous line
/// is a comment". slaptest accepts this file (the `20` belongs to the comment), and so
/// does oxldap (it read `20` as a second argument of `sizelimit` before).
#[test]
fn a_comment_swallows_its_continuation_lines_as_slaptest_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slapd.conf");
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    std::fs::write(
        &file,
        conf(
            dir.path(),
            "sizelimit 10\n# a note\n  20\n# access to *\n\tby * write",
        ),
    )
    .unwrap();
    if Path::new(SLAPTEST).exists() {
        let (ok, sl) = slaptest(&file);
        assert!(ok, "slaptest: {sl}");
    } else {
        println!("slaptest not installed: checking oxldap only");
    }
    let (ok, ox) = oxldap(dir.path(), &file);
    assert!(ok, "oxldap: {ox}");
}
