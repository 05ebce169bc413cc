//! Indexes and the planner: an index may only make a search faster, never change its
//! answer. The same filters go to a server with the Axigen indexes and to one without any
//! index, both holding the 1,000-user fixture, and must return the same entries. The
//! offline tools (`explain`, `index`, `verify`) are driven through the binary.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::process::Command;

/// The embedded default configuration without its `index` lines.
fn unindexed_config(dir: &std::path::Path) -> std::path::PathBuf {
    let text: String = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src/default.conf"),
    )
    .unwrap()
    .lines()
    .filter(|l| !l.starts_with("index"))
    .map(|l| format!("{l}\n"))
    .collect();
    let p = dir.join("noindex.conf");
    std::fs::write(&p, text).unwrap();
    p
}

const FILTERS: &[&str] = &[
    "(uid=sven.horvat.1)",
    "(cn=Sven Horvat)",
    "(cn=  sven   HORVAT )",
    "(sn=ÅNGSTRÖM)",
    "(objectClass=person)",
    "(objectClass=groupOfNames)",
    "(mail=*)",
    "(cn=s*)",
    "(cn=sv*)",
    "(cn=sve*)",
    "(cn=sven hor*)",
    "(cn=*rvat)",
    "(cn=*t)",
    "(cn=*ng str*)",
    "(mail=*horvat*)",
    "(mail=*.1@*)",
    "(cn=s*n*h*t)",
    "(givenName=ma*)",
    "(ou=Support)",
    "(&(objectClass=inetOrgPerson)(sn=H*))",
    "(|(cn=Sven Horvat)(uid=james.wang.3))",
    "(|(cn=Sven Horvat)(description=*))",
    "(&(mail=*@localdomain.test)(!(ou=Support)))",
    "(!(cn=*a*))",
    "(sn~=horvat)",
    "(name=Sven Horvat)",
    "(cn;lang-en=x)",
    "(member=uid=sven.horvat.1,ou=Users,o=localdomain,dc=localdomain,dc=test)",
    "(entryUUID=00000000-0000-0000-0000-000000000000)",
    "(&)",
];

#[test]
fn indexes_never_change_an_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = unindexed_config(tmp.path());
    let f = fixture();
    let indexed = Server::with_fixture();
    let plain = Server::start(
        &[
            "--memory",
            "--no-layout",
            "-f",
            conf.to_str().unwrap(),
            "--ldif",
            f.to_str().unwrap(),
        ],
        None,
    );
    for filter in FILTERS {
        for (base, scope) in [(BASE, "sub"), (USERS, "one"), (GROUPS, "sub")] {
            let a = indexed.search_root(&["-b", base, "-s", scope, filter, "1.1"]);
            let b = plain.search_root(&["-b", base, "-s", scope, filter, "1.1"]);
            assert_eq!(a.code, b.code, "{filter} {base} {scope}");
            assert_eq!(
                sorted(a.dns()),
                sorted(b.dns()),
                "{filter} under {base} scope {scope}"
            );
        }
    }
    // And after writes that move values in and out of the indexes.
    for s in [&indexed, &plain] {
        let dn = format!("uid=sven.horvat.1,{USERS}");
        s.modify_root("ldapmodify", &format!("dn: {dn}\nchangetype: modify\nreplace: cn\ncn: Sven Nowak\n-\nreplace: sn\nsn: Nowak\n-\ndelete: mail\n"), &[]).expect_code(0);
        s.modify_root(
            "ldapmodrdn",
            "",
            &["-r", &format!("uid=james.wang.3,{USERS}"), "uid=jw3"],
        )
        .expect_code(0);
        s.modify_root(
            "ldapdelete",
            "",
            &[&format!("uid=margaret.angstrom.2,{USERS}")],
        )
        .expect_code(0);
    }
    for filter in [
        "(cn=Sven Horvat)",
        "(cn=sven*)",
        "(sn=Nowak)",
        "(cn=*nowak)",
        "(uid=jw3)",
        "(uid=james.wang.3)",
        "(mail=sven*)",
        "(sn=ÅNGSTRÖM)",
    ] {
        let a = indexed.search_root(&["-b", BASE, filter, "1.1"]);
        let b = plain.search_root(&["-b", BASE, filter, "1.1"]);
        assert_eq!(sorted(a.dns()), sorted(b.dns()), "{filter} after writes");
    }
}

fn oxldap(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explain_index_and_verify_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    let d = data.to_str().unwrap();
    let noidx = unindexed_config(tmp.path());
    let f = fixture();
    // Load without indexes, then open with the Axigen indexes: they are built at open
    // (by any command but explain).
    let (ok, _, err) = oxldap(&[
        "import",
        "-f",
        noidx.to_str().unwrap(),
        "--data-dir",
        d,
        f.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // explain does not build them (a read-only command); verify opens the folder and
    // builds them at open.
    let (ok, _, err) = oxldap(&["explain", "--data-dir", d, "(cn=Sven Horvat)"]);
    assert!(!ok && err.contains("configured but not built"), "{err}");
    let (ok, _, err) = oxldap(&["verify", "--data-dir", d]);
    assert!(ok, "{err}");
    assert!(err.contains("indexes rebuilt"), "{err}");
    let (ok, out, err) = oxldap(&["explain", "--data-dir", d, "(cn=Sven Horvat)"]);
    assert!(ok, "{err}");
    assert!(out.contains("plan: index cn eq (1 ids)"), "{out}");
    assert!(out.contains("matches: 1"), "{out}");
    let (_, out, _) = oxldap(&[
        "explain",
        "--data-dir",
        d,
        "(&(objectClass=inetOrgPerson)(mail=sven*))",
    ]);
    assert!(
        out.contains("objectClass eq") && out.contains("mail sub"),
        "{out}"
    );
    let (_, out, _) = oxldap(&["explain", "--data-dir", d, "(uid=sven.horvat.1)"]);
    assert!(
        out.contains("plan: scan") && out.contains("matches: 1"),
        "{out}"
    );
    let (ok, out, err) = oxldap(&["verify", "--data-dir", d]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("no inconsistency"), "{out}");
    let (ok, _, err) = oxldap(&["index", "--data-dir", d]);
    assert!(ok && err.contains("indexed 1054 entries"), "{err}");
}

#[test]
fn sub_index_on_an_attribute_without_substrings_rule_is_a_config_error() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("bad.conf");
    std::fs::write(
        &conf,
        "database mdb\nsuffix \"dc=localdomain,dc=test\"\nindex member sub\n",
    )
    .unwrap();
    let (ok, _, err) = oxldap(&["serve", "--memory", "-f", conf.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("member") && err.contains("substrings"),
        "{err}"
    );
}
