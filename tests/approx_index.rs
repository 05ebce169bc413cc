//! The `approx` index through the binary and the wire: built at open when the
//! configuration adds it, shown by `explain`, used by approximate searches over LDAP,
//! maintained by modify, modify DN and delete, checked by `verify` and rebuilt by
//! `oxldap index`; refused, as slapd refuses it, on an attribute without an approximate
//! matching rule. (`store/tests/approx_index.rs` is the property test that the index
//! never changes an answer; `tests/approx_vs_slapd.rs` compares the answers with slapd's.)
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The embedded default configuration, without its `index` lines when `extra` is None,
/// else with `extra` appended to them.
fn config(dir: &Path, name: &str, extra: Option<&str>) -> PathBuf {
    let default = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src/default.conf"),
    )
    .unwrap();
    let mut text: String = default
        .lines()
        .filter(|l| extra.is_some() || !l.starts_with("index"))
        .map(|l| format!("{l}\n"))
        .collect();
    if let Some(extra) = extra {
        text.push_str(extra);
        text.push('\n');
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const SVEN: &str = "uid=sven.horvat.1,ou=Users,o=localdomain,dc=localdomain,dc=test";

#[test]
fn approx_index_is_built_used_maintained_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    let d = data.to_str().unwrap();
    let noidx = config(tmp.path(), "noindex.conf", None);
    let approx = config(tmp.path(), "approx.conf", Some("index cn,sn,mail approx"));
    let a = approx.to_str().unwrap();
    let f = fixture();
    let (ok, _, err) = oxldap(&[
        "import",
        "-f",
        noidx.to_str().unwrap(),
        "--data-dir",
        d,
        f.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");

    // explain with the approx index configured refuses to build it (a read-only
    // command); `oxldap index` builds it, then explain uses it.
    let (ok, _, err) = oxldap(&["explain", "-f", a, "--data-dir", d, "(cn~=svenn horvatt)"]);
    assert!(!ok && err.contains("configured but not built"), "{err}");
    let (ok, _, err) = oxldap(&["index", "-f", a, "--data-dir", d]);
    assert!(ok && err.contains("indexed"), "{err}");
    let (ok, out, err) = oxldap(&["explain", "-f", a, "--data-dir", d, "(cn~=svenn horvatt)"]);
    assert!(ok, "{err}");
    assert!(out.contains("plan: index cn approx"), "{out}");
    let (_, out, _) = oxldap(&[
        "explain",
        "-f",
        a,
        "--data-dir",
        d,
        "(&(objectClass=inetOrgPerson)(sn~=horvath)(mail~=sven))",
    ]);
    assert!(
        out.contains("sn approx") && out.contains("mail approx"),
        "{out}"
    );
    // An attribute without an approx index is scanned; one without an approximate rule
    // uses its equality index.
    let (_, out, _) = oxldap(&["explain", "-f", a, "--data-dir", d, "(givenName~=sven)"]);
    assert!(out.contains("plan: scan"), "{out}");
    let (_, out, _) = oxldap(&["explain", "-f", a, "--data-dir", d, "(objectClass~=person)"]);
    assert!(out.contains("plan: index objectClass eq"), "{out}");

    let server = Server::start(&["-f", a, "--data-dir", d], None);
    let search = |filter: &str| -> Vec<String> {
        server
            .search_root(&["-b", BASE, "-s", "sub", filter, "1.1"])
            .expect_code(0)
            .dns()
    };
    let found = search("(cn~=svenn horvatt)");
    assert!(found.iter().any(|dn| dn == SVEN), "{found:?}");
    // Every entry found has a cn approximately "sven horvat" (SFN HRFT), so not just any.
    assert!(found.len() < 20, "{found:?}");
    assert!(search("(cn~=horvat sven)").iter().all(|dn| dn != SVEN));

    // Maintained on modify: the old name's codes no longer find the entry, the new ones do.
    server
        .modify_root(
            "ldapmodify",
            &format!(
                "dn: {SVEN}\nchangetype: modify\nreplace: cn\ncn: Zebulon Quixote\ncn: Zeb Smyth\n"
            ),
            &[],
        )
        .expect_code(0);
    assert!(search("(cn~=sven horvat)").iter().all(|dn| dn != SVEN));
    assert_eq!(search("(cn~=zebulun quixotte)"), [SVEN.to_string()]);
    assert!(search("(cn~=zeb smith)").contains(&SVEN.to_string()));
    // One of two values with a shared code removed: the other still finds the entry.
    server
        .modify_root(
            "ldapmodify",
            &format!("dn: {SVEN}\nchangetype: modify\ndelete: cn\ncn: Zebulon Quixote\n"),
            &[],
        )
        .expect_code(0);
    assert!(search("(cn~=zebulun)").is_empty());
    assert!(search("(cn~=zeb smith)").contains(&SVEN.to_string()));
    // Modify DN (the new RDN value is added to cn), then delete.
    server
        .modify_root(
            "ldapmodify",
            &format!(
                "dn: {SVEN}\nchangetype: modrdn\nnewrdn: cn=Xanthippe Phlox\ndeleteoldrdn: 0\n"
            ),
            &[],
        )
        .expect_code(0);
    let renamed = "cn=Xanthippe Phlox,ou=Users,o=localdomain,dc=localdomain,dc=test";
    assert_eq!(search("(cn~=zanthipe flocks)"), [renamed.to_string()]);
    server
        .modify_root("ldapdelete", "", &[renamed])
        .expect_code(0);
    assert!(search("(cn~=zanthipe flocks)").is_empty());
    drop(server.stop());

    let (ok, out, err) = oxldap(&["verify", "-f", a, "--data-dir", d]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("no inconsistency"), "{out}");
    let (ok, _, err) = oxldap(&["index", "-f", a, "--data-dir", d]);
    assert!(ok && err.contains("indexed"), "{err}");
    let (ok, out, err) = oxldap(&[
        "explain",
        "-f",
        a,
        "--data-dir",
        d,
        "(cn~=margaret angstrom)",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("plan: index cn approx") && !out.contains("matches: 0"),
        "{out}"
    );
}

#[test]
fn approx_index_without_an_approximate_rule_is_a_config_error() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("bad.conf");
    std::fs::write(
        &conf,
        "database mdb\nsuffix \"dc=localdomain,dc=test\"\nindex telephoneNumber approx\n",
    )
    .unwrap();
    let (ok, _, err) = oxldap(&["serve", "--memory", "-f", conf.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("approx index of attribute") && err.contains("telephoneNumber"),
        "{err}"
    );
}
