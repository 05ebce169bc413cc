//! LDIF loads as slapadd users expect (tester11 findings 4, 11, 12, 13), through the real
//! `oxldap` binary and, where it matters, against Debian's slapd/slapadd/slapcat:
//! - a child listed before its parent (slapcat output after a subtree move) loads in
//!   `import`, `import -c`, `serve --ldif` and the embedded builder's seeds; an entry whose
//!   parent never comes is refused at the end with noSuchObject (32) and its line;
//! - an imported structuralObjectClass contradicting objectClass is refused with 69 and
//!   slapadd's text;
//! - `file:name` and `file:./name` URL values are read relative to the current directory;
//! - a line without a colon says so; `export -s` outside the suffix fails ("no backend").
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{slapadd_conf, Server, BASE, USERS};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const O: &str = "o=localdomain,dc=localdomain,dc=test";

fn oxldap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The suffix, o= and ou=Users, as in the Axigen layout.
fn layout() -> String {
    format!(
        "dn: {BASE}\nobjectClass: organization\nobjectClass: dcObject\no: x\ndc: localdomain\n\n\
         dn: {O}\nobjectClass: organization\no: localdomain\n\n\
         dn: {USERS}\nobjectClass: organizationalUnit\nou: Users\n\n"
    )
}

fn person(dn: &str, uid: &str) -> String {
    format!("dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n\n")
}

fn ou(dn: &str, ou: &str) -> String {
    format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {ou}\n\n")
}

/// (lowercased DN, entryCSN, entryUUID) of every entry of an LDIF text, sorted by DN.
fn stamps(ldif: &str) -> Vec<(String, String, String)> {
    let unfolded = ldif.replace("\n ", "");
    let mut out: Vec<(String, String, String)> = unfolded
        .split("\n\n")
        .filter_map(|rec| {
            let get = |a: &str| {
                rec.lines()
                    .find_map(|l| l.strip_prefix(&format!("{a}: ")).map(str::to_string))
                    .unwrap_or_default()
            };
            let dn = get("dn");
            (!dn.is_empty()).then(|| (dn.to_lowercase(), get("entryCSN"), get("entryUUID")))
        })
        .collect();
    out.sort();
    out
}

/// The DNs of an LDIF text in order, lowercased.
fn dns(ldif: &str) -> Vec<String> {
    ldif.lines()
        .filter_map(|l| l.strip_prefix("dn: ").map(str::to_lowercase))
        .collect()
}

/// `oxldap import --data-dir DATA [ARGS] FILE` into a fresh folder under `dir`.
fn import(dir: &Path, name: &str, args: &[&str], file: &Path) -> (Output, String) {
    let data = dir.join(name);
    let data = data.to_str().unwrap().to_string();
    let mut all = vec!["import", "--data-dir", &data];
    all.extend_from_slice(args);
    all.push(file.to_str().unwrap());
    (oxldap(&all), data)
}

fn export(data: &str) -> String {
    let out = oxldap(&["export", "--data-dir", data]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn verify_ok(data: &str) {
    let out = oxldap(&["verify", "--data-dir", data]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Tester finding 4, the real case: slapd moves an entry below a parent created after it,
/// slapcat lists the child first, and `oxldap import` of that output holds exactly the
/// entries slapcat listed (DNs, entryCSNs, entryUUIDs); `serve --ldif` serves them.
#[test]
fn slapcat_output_after_a_subtree_move_imports() {
    if !Path::new("/usr/sbin/slapd").exists() {
        eprintln!("skipped: /usr/sbin/slapd is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.ldif");
    std::fs::write(&seed, layout()).unwrap();
    let inst = dir.path().join("slapd");
    std::fs::create_dir_all(&inst).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/filters_vs_slapd/start-slapd.sh");
    let started = Command::new("timeout")
        .args(["120", "bash"])
        .arg(&script)
        .arg(port.to_string())
        .arg(&inst)
        .arg(&seed)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(started.status.success(), "{}", text(&started));
    let pid = std::fs::read_to_string(inst.join("slapd.pid")).unwrap();
    let url = format!("ldap://127.0.0.1:{port}/");
    let rootdn = format!("cn=admin,{BASE}");
    let a = format!("uid=a,{USERS}");
    let new = format!("ou=New,{O}");
    let run = |tool: &str, args: &[&str], stdin: &str| {
        let mut c = Command::new(tool)
            .args(["-x", "-H", &url, "-D", &rootdn, "-w", "secret"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{tool}: {}", text(&out));
    };
    run(
        "ldapadd",
        &[],
        &format!("{}{}", person(&a, "a"), ou(&new, "New")),
    );
    run("ldapmodrdn", &["-s", &new, &a, "uid=a"], "");
    Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    // slapd removes its pid file on exit; slapcat needs the database to itself.
    for _ in 0..300 {
        if !inst.join("slapd.pid").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let catted = dir.path().join("slapcat.ldif");
    let cat = Command::new("/usr/sbin/slapcat")
        .arg("-f")
        .arg(inst.join("slapd.conf"))
        .arg("-l")
        .arg(&catted)
        .output()
        .unwrap();
    assert!(cat.status.success(), "{}", text(&cat));
    let listed = std::fs::read_to_string(&catted).unwrap();
    let order = dns(&listed);
    let moved = format!("uid=a,{new}").to_lowercase();
    let child = order.iter().position(|d| *d == moved).unwrap();
    let parent = order.iter().position(|d| *d == new.to_lowercase()).unwrap();
    assert!(child < parent, "slapcat lists the parent first: {order:?}");

    let (out, data) = import(dir.path(), "ox", &[], &catted);
    assert!(out.status.success(), "{}", text(&out));
    verify_ok(&data);
    let exported = export(&data);
    assert_eq!(stamps(&exported), stamps(&listed));
    // The export lists parents first, so it imports again anywhere.
    let order = dns(&exported);
    let child = order.iter().position(|d| *d == moved).unwrap();
    let parent = order.iter().position(|d| *d == new.to_lowercase()).unwrap();
    assert!(parent < child, "{order:?}");

    let (out, _) = import(dir.path(), "ox-c", &["-c"], &catted);
    assert!(out.status.success(), "{}", text(&out));

    let s = Server::start(
        &[
            "--memory",
            "--no-layout",
            "--ldif",
            catted.to_str().unwrap(),
        ],
        None,
    );
    let found = s.search_root(&["-b", &new, "-s", "one", "(uid=a)", "1.1"]);
    found.expect_code(0);
    assert_eq!(found.dns().len(), 1);
}

/// Children (several levels, several per parent) listed before their parents load, each
/// added right after its parent: their CSNs come after their parent's, and a well-ordered
/// entry between them keeps its place.
#[test]
fn children_before_parents_load_after_their_parents() {
    let dir = tempfile::tempdir().unwrap();
    let d = format!("ou=D,{O}");
    let c = format!("ou=C,{d}");
    let mut ldif = layout();
    ldif.push_str(&person(&format!("uid=x,{c}"), "x"));
    ldif.push_str(&person(&format!("uid=y,{d}"), "y"));
    ldif.push_str(&ou(&c, "C"));
    ldif.push_str(&person(&format!("uid=plain,{USERS}"), "plain"));
    ldif.push_str(&ou(&d, "D"));
    ldif.push_str(&person(&format!("uid=after,{c}"), "after"));
    let file = dir.path().join("reversed.ldif");
    std::fs::write(&file, &ldif).unwrap();
    for (name, args) in [("plain", &[][..]), ("continue", &["-c"][..])] {
        let (out, data) = import(dir.path(), name, args, &file);
        assert!(out.status.success(), "{name}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("imported 9 entries"),
            "{}",
            text(&out)
        );
        verify_ok(&data);
        let exported = export(&data);
        let got = stamps(&exported);
        assert_eq!(got.len(), 9);
        let csn = |dn: &str| {
            got.iter()
                .find(|(d, _, _)| *d == dn.to_lowercase())
                .map(|(_, c, _)| c.clone())
                .unwrap_or_else(|| panic!("{dn} missing:\n{exported}"))
        };
        // Added in the order D, y (its input order under D), C, x, after; plain before D.
        let added = [
            format!("uid=plain,{USERS}"),
            d.clone(),
            format!("uid=y,{d}"),
            c.clone(),
            format!("uid=x,{c}"),
            format!("uid=after,{c}"),
        ];
        let csns: Vec<String> = added.iter().map(|dn| csn(dn)).collect();
        let mut sorted = csns.clone();
        sorted.sort();
        assert_eq!(
            csns, sorted,
            "{name}: entryCSNs not in add order: {added:?}"
        );
    }
    // The embedded builder's seed and serve --ldif load the same file.
    let s = oxldap::Server::builder()
        .ldif(ldif.clone())
        .start_blocking()
        .unwrap();
    assert!(s.get(&format!("uid=x,{c}")).unwrap().is_some());
    let served = Server::start(&["--memory", "--ldif", file.to_str().unwrap()], None);
    let found = served.search_root(&["-b", &d, "(uid=*)", "1.1"]);
    found.expect_code(0);
    assert_eq!(found.dns().len(), 3);
}

/// An entry whose parent never appears is refused at the end with noSuchObject (32) and
/// its own line; without -c the load stops there (the entries before stay), with -c it is
/// reported in slapadd's shape and the rest is loaded (exit status 1).
#[test]
fn a_parent_that_never_comes_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut ldif = layout();
    let line = ldif.lines().count() + 1;
    let orphan = format!("uid=o,ou=Nowhere,{O}");
    ldif.push_str(&person(&orphan, "o"));
    ldif.push_str(&person(&format!("uid=ok,{USERS}"), "ok"));
    let file = dir.path().join("orphan.ldif");
    std::fs::write(&file, &ldif).unwrap();

    let (out, data) = import(dir.path(), "plain", &[], &file);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(":{line}: {orphan}")),
        "{}",
        text(&out)
    );
    assert!(err.contains("noSuchObject (32)"), "{}", text(&out));
    // Held back until the end: the entry after it was loaded.
    let exported = export(&data);
    assert!(exported.contains("uid=ok,"), "{exported}");

    let (out, data) = import(dir.path(), "continue", &["-c"], &file);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "oxldap import: dn=\"{orphan}\" (line={line}): (32) "
        )),
        "{}",
        text(&out)
    );
    verify_ok(&data);
    assert_eq!(dns(&export(&data)).len(), 4);

    // The embedded builder reports it with its line too.
    let e = oxldap::Server::builder()
        .ldif(ldif)
        .start_blocking()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(&format!("line {line}: {orphan}")), "{e}");
}

/// Tester finding 11: slapadd refuses an entry whose structuralObjectClass is not the
/// structural class of its objectClass values: (69) "structural object class
/// modification from 'organizationalUnit' to 'inetOrgPerson' not allowed".
#[test]
fn a_contradicting_structural_object_class_is_refused_as_by_slapadd() {
    let dir = tempfile::tempdir().unwrap();
    let mut ldif = layout();
    let line = ldif.lines().count() + 1;
    let dn = format!("uid=op4,{USERS}");
    ldif.push_str(&format!(
        "dn: {dn}\nobjectClass: inetOrgPerson\nuid: op4\ncn: op4\nsn: op4\n\
         structuralObjectClass: organizationalUnit\n\n"
    ));
    // A consistent one is kept.
    ldif.push_str(&format!(
        "dn: uid=ok,{USERS}\nobjectClass: inetOrgPerson\nuid: ok\ncn: ok\nsn: ok\n\
         structuralObjectClass: inetOrgPerson\n\n"
    ));
    let file = dir.path().join("soc.ldif");
    std::fs::write(&file, &ldif).unwrap();
    let (out, data) = import(dir.path(), "c", &["-c"], &file);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let want = format!(
        "dn=\"{dn}\" (line={line}): (69) structural object class modification from \
         'organizationalUnit' to 'inetOrgPerson' not allowed"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&want),
        "{}",
        text(&out)
    );
    verify_ok(&data);
    if Path::new("/usr/sbin/slapadd").exists() {
        let conf = slapadd_conf(dir.path());
        let sa = Command::new("/usr/sbin/slapadd")
            .args(["-c", "-f", conf.to_str().unwrap(), "-l"])
            .arg(&file)
            .output()
            .unwrap();
        // (slapadd 2.5 -c exits 0 here; oxldap import -c exits 1 whenever it refused a
        // record, see src/import.rs.)
        assert!(
            String::from_utf8_lossy(&sa.stderr).contains(&want),
            "{}",
            text(&sa)
        );
    }
}

/// Tester finding 12: `file:blob.bin` and `file:./sub/blob.bin` are read relative to the
/// current directory, as slapadd reads them; `file:///abs` is unchanged.
#[test]
fn relative_file_urls_are_read_from_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    let a: Vec<u8> = (0..=255u8).collect();
    let b: Vec<u8> = (0..=255u8).rev().collect();
    let c = b"absolute".to_vec();
    std::fs::write(dir.path().join("blob.bin"), &a).unwrap();
    std::fs::write(dir.path().join("sub/blob.bin"), &b).unwrap();
    let abs = dir.path().join("abs.bin");
    std::fs::write(&abs, &c).unwrap();
    let mut ldif = layout();
    for (uid, url) in [
        ("a", "file:blob.bin".to_string()),
        ("b", "file:./sub/blob.bin".to_string()),
        ("c", format!("file://{}", abs.display())),
    ] {
        ldif.push_str(&format!(
            "dn: uid={uid},{USERS}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n\
             jpegPhoto:< {url}\n\n"
        ));
    }
    std::fs::write(dir.path().join("in.ldif"), &ldif).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .current_dir(dir.path())
        .args(["import", "--data-dir", "data", "in.ldif"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let data = dir.path().join("data");
    let s = Server::start(&["--data-dir", data.to_str().unwrap()], None);
    for (uid, want) in [("a", &a), ("b", &b), ("c", &c)] {
        let got = s.search_root(&["-b", USERS, &format!("(uid={uid})"), "jpegPhoto"]);
        got.expect_code(0);
        use base64::Engine;
        let unfolded = got.stdout.replace("\n ", "");
        let decoded = unfolded
            .lines()
            .find_map(|l| l.strip_prefix("jpegPhoto:: "))
            .map(|v| base64::engine::general_purpose::STANDARD.decode(v).unwrap())
            .or_else(|| {
                unfolded
                    .lines()
                    .find_map(|l| l.strip_prefix("jpegPhoto: "))
                    .map(|v| v.as_bytes().to_vec())
            })
            .unwrap_or_default();
        assert_eq!(&decoded, want, "uid={uid}: {}", got.stdout);
    }
}

/// Tester finding 13: a line without a colon names the problem, not an attribute the
/// user never wrote; `export -s` outside the naming context fails as slapcat's "no
/// backend".
#[test]
fn usability_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut ldif = layout();
    let line = ldif.lines().count() + 3;
    ldif.push_str(&format!(
        "dn: uid=n,{USERS}\nobjectClass: inetOrgPerson\nbogusline\n\n"
    ));
    let file = dir.path().join("nocolon.ldif");
    std::fs::write(&file, &ldif).unwrap();
    let (out, data) = import(dir.path(), "d", &[], &file);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "line {line}: missing ':' after the attribute description"
        )),
        "{}",
        text(&out)
    );
    assert!(!err.contains("'description"), "{}", text(&out));

    let out = oxldap(&["export", "--data-dir", &data, "-s", "dc=other"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no backend"),
        "{}",
        text(&out)
    );
    let out = oxldap(&["export", "--data-dir", &data, "-s", USERS]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Tester finding 13: `oxldap explain` with a configuration whose index lines differ
/// from the folder's refuses, naming the indexes, and leaves the indexes as they were (it
/// used to rebuild them). sled itself writes its log and snapshot files at any open
/// (export and verify too); what must not change is the index state, which the second
/// explain, itself refusing any folder whose indexes differ, proves.
#[test]
fn explain_does_not_rebuild_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.ldif");
    let mut ldif = layout();
    ldif.push_str(&person(&format!("uid=a,{USERS}"), "a"));
    std::fs::write(&file, &ldif).unwrap();
    let (out, data) = import(dir.path(), "d", &[], &file);
    assert!(out.status.success(), "{}", text(&out));
    let default = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src/default.conf"),
    )
    .unwrap();
    let conf = dir.path().join("more-indexes.conf");
    std::fs::write(&conf, format!("{default}\nindex uid eq\n")).unwrap();
    let out = oxldap(&[
        "explain",
        "-f",
        conf.to_str().unwrap(),
        "--data-dir",
        &data,
        "(uid=a)",
    ]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("configured but not built: 0.9.2342.19200300.100.1.1 eq"),
        "{}",
        text(&out)
    );
    // With the folder's own index lines it plans and counts: the indexes are still
    // those of the import.
    let out = oxldap(&["explain", "--data-dir", &data, "(mail=*)"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("matches: 0"),
        "{}",
        text(&out)
    );
}
