//! Durability: writes survive SIGTERM and restart on the same data folder; import and
//! export round-trip through the same `-f` defaults.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::process::Command;

#[test]
fn writes_survive_a_restart() {
    let s = Server::on_disk(tempfile::tempdir().unwrap());
    let dn = format!("uid=keep,{USERS}");
    s.modify_root(
        "ldapadd",
        &format!("dn: {dn}\nobjectClass: inetOrgPerson\nuid: keep\ncn: Keep\nsn: K\n"),
        &[],
    )
    .expect_code(0);
    let before = s.search_root(&[
        "-b",
        &dn,
        "-s",
        "base",
        "(objectClass=*)",
        "entryUUID",
        "entryCSN",
    ]);
    let data = s.stop().unwrap();

    let s = Server::on_disk(data);
    let after = s.search_root(&[
        "-b",
        &dn,
        "-s",
        "base",
        "(objectClass=*)",
        "entryUUID",
        "entryCSN",
    ]);
    assert_eq!(after.values("entryUUID"), before.values("entryUUID"));
    assert_eq!(after.values("entryCSN"), before.values("entryCSN"));
    // The layout is not created twice and new CSNs keep increasing after the restart.
    s.modify_root(
        "ldapmodify",
        &format!("dn: {dn}\nchangetype: modify\nreplace: sn\nsn: K2\n"),
        &[],
    )
    .expect_code(0);
    let again = s.search_root(&["-b", &dn, "-s", "base", "(objectClass=*)", "entryCSN"]);
    assert!(again.values("entryCSN")[0] > before.values("entryCSN")[0]);
}

#[test]
fn import_then_export_round_trips() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_oxldap");
    import_ok(d, &fixture());
    let exp = Command::new(bin)
        .args(["export", "--data-dir", d])
        .output()
        .unwrap();
    assert!(
        exp.status.success(),
        "{}",
        String::from_utf8_lossy(&exp.stderr)
    );
    let text = String::from_utf8(exp.stdout).unwrap();
    assert_eq!(
        text.matches("\ndn: ").count() + usize::from(text.starts_with("dn: ")),
        fixture_entries().len() - text.matches("dn:: ").count()
    );
    // Re-importing the export into a fresh folder gives the same export (entryUUIDs and
    // CSNs are kept by import, like slapadd).
    let out = tempfile::tempdir().unwrap();
    let f = out.path().join("dump.ldif");
    std::fs::write(&f, &text).unwrap();
    let data2 = tempfile::tempdir().unwrap();
    let d2 = data2.path().to_str().unwrap();
    import_ok(d2, &f);
    let exp2 = Command::new(bin)
        .args(["export", "--data-dir", d2])
        .output()
        .unwrap();
    // As slapcat, the suffix entry carries the contextCSN (tester 13, finding 6): the
    // second folder's is its own newest CSN (its import wrote later than the first).
    let text2 = String::from_utf8(exp2.stdout).unwrap();
    let without_context_csn = |t: &str| -> String {
        let first = t.split("\n\n").next().unwrap();
        assert!(first.starts_with(&format!("dn: {BASE}\n")), "{first}");
        assert_eq!(t.matches("\ncontextCSN: ").count(), 1);
        assert_eq!(first.matches("\ncontextCSN: ").count(), 1, "{first}");
        t.lines()
            .filter(|l| !l.starts_with("contextCSN: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_context_csn(&text2), without_context_csn(&text));

    // The server then serves the imported data.
    let s = Server::on_disk(data);
    let all = s.search_root(&["-b", BASE, "(objectClass=*)", "1.1"]);
    assert_eq!(all.dns().len(), fixture_entries().len());
}

#[test]
fn import_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.ldif");
    std::fs::write(&f, "dn: dc=localdomain,dc=test\nobjectClass: organization\nobjectClass: dcObject\no: x\ndc: localdomain\n\ndn: cn=x,dc=localdomain,dc=test\nobjectClass: person\ncn: x\nsn: y\nnoSuchAttr: 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args([
            "import",
            "--data-dir",
            dir.path().join("db").to_str().unwrap(),
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.ldif:7"), "{err}");
    assert!(err.contains("noSuchAttr"), "{err}");
    assert!(
        err.contains("entries imported before it (they stay): 1"),
        "{err}"
    );
}

#[test]
fn bad_configuration_names_file_line_and_directive() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "allow bind_v2\nfrobnicate yes\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["serve", "--memory", "-f", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf:2") && err.contains("frobnicate"),
        "{err}"
    );
}

#[test]
fn the_shipped_example_configuration_runs() {
    let ex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/axigen-slapd.conf");
    let s = Server::start(&["--memory", "-f", ex.to_str().unwrap()], None);
    s.search_root(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
}

#[test]
fn axigen_schema_is_loaded_when_present_and_stood_in_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    // Without the vendor file: the stand-in, and one warning.
    let missing = dir.path().join("missing.conf");
    std::fs::write(
        &missing,
        format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\ninclude /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/misc.schema\ninclude {}/nowhere/axigen.schema\ndatabase mdb\nsuffix \"dc=localdomain,dc=test\"\nrootdn \"cn=admin,dc=localdomain,dc=test\"\nrootpw secret\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let s = Server::start(&["--memory", "-f", missing.to_str().unwrap()], None);
    s.search_root(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
    assert_eq!(
        s.log().matches("axigen.schema not found").count(),
        1,
        "{}",
        s.log()
    );
    // With a file present (a made-up vendor attribute): it is loaded like any other.
    let schema = dir.path().join("axigen.schema");
    std::fs::write(
        &schema,
        "objectidentifier AxigenOID 1.3.6.1.4.1.99999\nattributetype ( AxigenOID:1 NAME 'axiTestQuota'\n  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )\nobjectclass ( AxigenOID:2 NAME 'axiTestAccount' SUP top AUXILIARY MAY axiTestQuota )\n",
    )
    .unwrap();
    let present = dir.path().join("present.conf");
    std::fs::write(
        &present,
        std::fs::read_to_string(&missing).unwrap().replace(
            &format!("{}/nowhere/axigen.schema", dir.path().display()),
            schema.to_str().unwrap(),
        ),
    )
    .unwrap();
    let s = Server::start(&["--memory", "-f", present.to_str().unwrap()], None);
    assert!(!s.log().contains("axigen.schema not found"), "{}", s.log());
    let add = format!("dn: uid=q,{USERS}\nobjectClass: inetOrgPerson\nobjectClass: axiTestAccount\nuid: q\ncn: q\nsn: q\naxiTestQuota: 100\n");
    s.modify_root("ldapadd", &add, &[]).expect_code(0);
    let got = s.search_root(&[
        "-b",
        &format!("uid=q,{USERS}"),
        "-s",
        "base",
        "(axiTestQuota=100)",
        "axiTestQuota",
    ]);
    assert_eq!(got.values("axiTestQuota"), vec!["100"]);
}

/// `export -s SUBTREE -a FILTER -l FILE` writes what slapcat's options select: the
/// entries of the subtree that the filter matches, parents first, into the file.
#[test]
fn export_selects_a_subtree_and_a_filter_like_slapcat() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_oxldap");
    import_ok(d, &fixture());
    let out_dir = tempfile::tempdir().unwrap();
    let export = |args: &[&str]| -> Vec<String> {
        let f = out_dir.path().join("out.ldif");
        let run = Command::new(bin)
            .args(["export", "--data-dir", d, "-l", f.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(run.stdout.is_empty(), "-l writes nothing to stdout");
        let text = std::fs::read_to_string(&f).unwrap();
        text.lines()
            .filter_map(|l| l.strip_prefix("dn: "))
            .map(str::to_string)
            .collect()
    };
    let fx = fixture_entries();
    let under = |base: &str| {
        fx.iter()
            .filter(|e| e.dn.to_lowercase().ends_with(&base.to_lowercase()))
            .collect::<Vec<_>>()
    };
    let groups = export(&["-s", &GROUPS.to_uppercase()]);
    assert_eq!(groups.len(), under(GROUPS).len());
    assert_eq!(groups[0], GROUPS, "the subtree's base comes first");
    let group_entries = fx
        .iter()
        .filter(|e| e.get("objectClass").contains(&"groupOfNames"))
        .count();
    assert!(group_entries > 0);
    assert_eq!(
        export(&["-a", "(objectClass=groupOfNames)"]).len(),
        group_entries
    );
    assert!(export(&["-s", USERS, "-a", "(objectClass=groupOfNames)"]).is_empty());
    // Operational attributes are part of the stored entry the filter sees.
    assert_eq!(export(&["-a", "(entryUUID=*)"]).len(), fx.len());
    // A bad filter is refused with its reason and nothing is written.
    let bad = Command::new(bin)
        .args(["export", "--data-dir", d, "-a", "(cn=x"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("-a \"(cn=x\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// The commands that read a database refuse a data folder that does not exist or holds
/// none (slapcat: "invalid path"), and create nothing there: a mistyped `--data-dir`
/// must not look like an empty directory (an empty backup restored with --force would
/// wipe the real one).
#[test]
fn reading_commands_refuse_a_missing_database() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-dir");
    let m = missing.to_str().unwrap();
    let backup_file = tmp.path().join("b.ldif");
    let runs: Vec<Vec<&str>> = vec![
        vec!["export", "--data-dir", m],
        vec!["verify", "--data-dir", m],
        vec!["index", "--data-dir", m],
        vec!["explain", "--data-dir", m, "(cn=x)"],
        vec!["backup", "--data-dir", m, backup_file.to_str().unwrap()],
    ];
    for args in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_oxldap"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains("no database in"), "{args:?}: {err}");
        assert!(!missing.exists(), "{args:?} created {m}");
    }
    assert!(!backup_file.exists());
}

/// slapcat output carries slapd's contextCSN on the suffix entry: after an import the
/// suffix shows one contextCSN per serverID (RFC 4533 §2.5), the newer of slapd's and
/// oxldap's for serverID 0, and keeps other serverIDs' values.
#[test]
fn imported_context_csn_is_one_value_per_server_id() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let ldif = data.path().join("slapcat.ldif");
    let future = "29991231235959.000000Z#000000#000#000000";
    let other = "20200101000000.000000Z#000000#001#000000";
    std::fs::write(
        &ldif,
        format!(
            "dn: {BASE}\nobjectClass: organization\nobjectClass: dcObject\no: x\ndc: localdomain\n\
             entryCSN: 20200101000000.000000Z#000000#000#000000\n\
             contextCSN: 20200101000000.000000Z#000000#000#000000\ncontextCSN: {other}\n"
        ),
    )
    .unwrap();
    let db = tempfile::tempdir().unwrap();
    import_ok(d, &ldif);
    let s = Server::on_disk(data);
    let csns = s
        .search_root(&["-b", BASE, "-s", "base", "(objectClass=*)", "contextCSN"])
        .values("contextCSN");
    assert_eq!(csns.len(), 2, "{csns:?}");
    assert!(csns.contains(&other.to_string()), "{csns:?}");
    assert!(
        csns.iter()
            .any(|c| c.contains("#000#") && c.as_str() > "2020"),
        "{csns:?}"
    );
    drop(s);
    // A stored value of serverID 0 newer than the store's own CSN is the one shown.
    let files = tempfile::tempdir().unwrap();
    let ldif2 = files.path().join("future.ldif");
    std::fs::write(
        &ldif2,
        format!(
            "dn: {BASE}\nobjectClass: organization\nobjectClass: dcObject\no: x\ndc: localdomain\n\
             contextCSN: {future}\n"
        ),
    )
    .unwrap();
    import_ok(db.path().to_str().unwrap(), &ldif2);
    let s = Server::on_disk(db);
    let csns = s
        .search_root(&["-b", BASE, "-s", "base", "(objectClass=*)", "contextCSN"])
        .values("contextCSN");
    assert_eq!(csns, vec![future.to_string()]);
}
