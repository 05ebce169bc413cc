//! The embedded test-harness API (`oxldap::Server`): several servers per process,
//! in-process operations equal to the wire, assertions, snapshots, the subprocess
//! fixture for other languages, and the Axigen example.
#![allow(clippy::unwrap_used, clippy::panic)]

use oxldap::{mods, Scope, Server};
use std::collections::BTreeMap;
use std::time::Duration;

#[path = "../examples/axigen_sync.rs"]
mod axigen_sync;

const BASE: &str = "dc=localdomain,dc=test";
const USERS: &str = "ou=Users,o=localdomain,dc=localdomain,dc=test";
const GROUPS: &str = "ou=Groups,o=localdomain,dc=localdomain,dc=test";

fn user(uid: &str) -> String {
    format!(
        "dn: uid={uid},{USERS}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n\
         mail: {uid}@localdomain.test\nuserPassword: pw-{uid}\n"
    )
}

#[test]
fn two_servers_in_one_test_are_isolated() {
    let a = Server::builder()
        .ldif(user("ana"))
        .start_blocking()
        .unwrap();
    let b = Server::builder().start_blocking().unwrap();
    assert_ne!(a.addr(), b.addr());
    a.assert_entry_exists(&format!("uid=ana,{USERS}"));
    b.assert_entry_missing(&format!("uid=ana,{USERS}"));
    b.add(user("bob").as_str()).unwrap();
    a.assert_entry_missing(&format!("uid=bob,{USERS}"));
    a.shutdown().unwrap();
    // b is still serving after a stopped.
    b.assert_search_dns(USERS, Scope::One, "(uid=*)", &[&format!("uid=bob,{USERS}")]);
}

#[test]
fn failing_assertions_say_what_differs() {
    let s = Server::builder()
        .ldif(user("ana"))
        .ldif(user("bob"))
        .start_blocking()
        .unwrap();
    let ana = format!("uid=ana,{USERS}");
    assert_eq!(
        s.check_search_dns(
            USERS,
            Scope::One,
            "(mail=*)",
            &[&ana, &format!("uid=carol,{USERS}")]
        )
        .unwrap_err()
        .to_string(),
        "search base ou=Users,o=localdomain,dc=localdomain,dc=test scope one filter (mail=*) \
         returned other entries\n  \
         missing: uid=carol,ou=Users,o=localdomain,dc=localdomain,dc=test\n  \
         unexpected: uid=bob,ou=Users,o=localdomain,dc=localdomain,dc=test"
    );
    // DNs compare normalized; values under the equality rule (cn is case-insensitive).
    s.check_search_dns(
        USERS,
        Scope::One,
        "(uid=ana)",
        &["UID=Ana, ou=users,o=localdomain,dc=localdomain,dc=test"],
    )
    .unwrap();
    s.check_attribute_values(&ana, "CN", &["ANA"]).unwrap();
    assert_eq!(
        s.check_attribute_values(&ana, "mail", &["ana@localdomain.test", "ana.pop@localdomain.test"])
            .unwrap_err()
            .to_string(),
        "attribute mail of uid=ana,ou=Users,o=localdomain,dc=localdomain,dc=test has other values\n  \
         expected: [\"ana@localdomain.test\", \"ana.pop@localdomain.test\"]\n  \
         actual:   [\"ana@localdomain.test\"]\n  \
         missing:    \"ana.pop@localdomain.test\""
    );
    assert_eq!(
        s.check_entry_exists(&format!("uid=zoe,{USERS}")).unwrap_err().to_string(),
        "expected entry uid=zoe,ou=Users,o=localdomain,dc=localdomain,dc=test to exist, but it \
         does not (noSuchObject (32): no such object (matched DN: ou=Users,o=localdomain,dc=localdomain,dc=test))"
    );
    assert_eq!(
        s.check_entry_missing(&ana).unwrap_err().to_string(),
        "expected entry uid=ana,ou=Users,o=localdomain,dc=localdomain,dc=test to be missing, but it exists"
    );
    // The panicking form carries the same message.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        s.assert_entry_missing(&ana);
    }))
    .unwrap_err();
    let text = caught.downcast_ref::<String>().unwrap();
    assert!(text.ends_with("to be missing, but it exists"), "{text}");
}

#[test]
fn directory_equals_ldif_shows_a_line_diff() {
    let layout_and_ana = format!(
        "dn: {BASE}\nobjectClass: organization\nobjectClass: dcObject\no: localdomain.test\ndc: localdomain\n\n\
         dn: o=localdomain,{BASE}\nobjectClass: organization\no: localdomain\n\n\
         dn: {GROUPS}\nobjectClass: organizationalUnit\nou: Groups\n\n\
         dn: {USERS}\nobjectClass: organizationalUnit\nou: Users\n\n{}",
        user("ana")
    );
    let s = Server::builder()
        .ldif(user("ana"))
        .start_blocking()
        .unwrap();
    s.assert_directory_equals_ldif(&layout_and_ana);
    s.modify(
        &format!("uid=ana,{USERS}"),
        [mods::replace("mail", ["ana.pop@localdomain.test"])],
    )
    .unwrap();
    // Loaded, not added: an in-process add hashes userPassword (salted) as the wire does.
    s.load_ldif(&user("bob")).unwrap();
    let err = s.check_directory_equals_ldif(&layout_and_ana).unwrap_err();
    assert_eq!(
        err.to_string(),
        "directory differs from the expected LDIF (- expected, + actual):\n  \
         dn: uid=ana,ou=Users,o=localdomain,dc=localdomain,dc=test\n  \
         cn: ana\n\
         - mail: ana@localdomain.test\n\
         + mail: ana.pop@localdomain.test\n  \
         objectClass: inetOrgPerson\n  \
         sn: ana\n  \
         uid: ana\n  \
         userPassword: pw-ana\n\
         + dn: uid=bob,ou=Users,o=localdomain,dc=localdomain,dc=test\n\
         + cn: bob\n\
         + mail: bob@localdomain.test\n\
         + objectClass: inetOrgPerson\n\
         + sn: bob\n\
         + uid: bob\n\
         + userPassword: pw-bob"
    );
}

#[test]
fn snapshot_and_restore_between_writes() {
    let s = Server::builder()
        .ldif(user("ana"))
        .start_blocking()
        .unwrap();
    let clean = s.snapshot().unwrap();
    let before = s.export_ldif().unwrap();
    for round in 0..3 {
        s.add(user(&format!("tmp{round}")).as_str()).unwrap();
        s.modify(
            &format!("uid=ana,{USERS}"),
            [mods::add("description", ["dirty"])],
        )
        .unwrap();
        s.delete(&format!("uid=ana,{USERS}")).unwrap();
        s.restore(&clean).unwrap();
        assert_eq!(s.export_ldif().unwrap(), before, "round {round}");
        s.assert_search_dns(
            USERS,
            Scope::One,
            "(objectClass=*)",
            &[&format!("uid=ana,{USERS}")],
        );
    }
    // Writes after a restore work (ids and CSNs go on), and a snapshot restores into
    // another server with the same configuration.
    s.add(user("bob").as_str()).unwrap();
    let other = Server::builder().layout(false).start_blocking().unwrap();
    other.restore(&clean).unwrap();
    assert_eq!(other.export_ldif().unwrap(), before);
    s.clear().unwrap();
    assert!(s.entries().unwrap().is_empty());
    assert!(s.bootstrap_layout().unwrap());
    s.assert_entry_exists(USERS);
}

#[test]
fn in_process_results_equal_the_wire() {
    let s = Server::builder()
        .ldif(user("ana"))
        .ldif(user("bob"))
        .ldif(format!(
            "dn: cn=sales,{GROUPS}\nobjectClass: groupOfNames\ncn: sales\nmember: uid=ana,{USERS}\n"
        ))
        .start_blocking()
        .unwrap();
    let mut conn = ldap3::LdapConn::new(s.url()).unwrap();
    conn.simple_bind(&s.rootdn(), s.rootpw())
        .unwrap()
        .success()
        .unwrap();
    type Flat = BTreeMap<String, BTreeMap<String, Vec<Vec<u8>>>>;
    let cases: &[(&str, Scope, ldap3::Scope, &str, &[&str])] = &[
        (
            BASE,
            Scope::Sub,
            ldap3::Scope::Subtree,
            "(objectClass=*)",
            &["*", "+"],
        ),
        (
            USERS,
            Scope::One,
            ldap3::Scope::OneLevel,
            "(|(uid=ana)(cn=B*))",
            &["cn", "memberOf"],
        ),
        (
            GROUPS,
            Scope::Sub,
            ldap3::Scope::Subtree,
            "(member=uid=ana,ou=users,o=localdomain,dc=localdomain,dc=test)",
            &[],
        ),
    ];
    for (base, scope, wscope, filter, attrs) in cases {
        let mut api: Flat = BTreeMap::new();
        for e in s.search(base, *scope, filter, attrs).unwrap() {
            let mut m: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
            for a in e.attrs {
                m.entry(a.desc).or_default().extend(a.values);
            }
            api.insert(e.dn.to_string(), m);
        }
        let (rows, _) = conn
            .search(base, *wscope, filter, attrs.to_vec())
            .unwrap()
            .success()
            .unwrap();
        let mut wire: Flat = BTreeMap::new();
        for r in rows {
            let e = ldap3::SearchEntry::construct(r);
            let mut m: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
            for (k, v) in e.attrs {
                m.entry(k)
                    .or_default()
                    .extend(v.into_iter().map(String::into_bytes));
            }
            for (k, v) in e.bin_attrs {
                m.entry(k).or_default().extend(v);
            }
            wire.insert(e.dn, m);
        }
        assert!(!api.is_empty(), "{filter}");
        assert_eq!(api, wire, "{base} {filter}");
    }
    // Errors too: result code, matchedDN, message.
    let api = s.delete(&format!("uid=zoe,{USERS}")).unwrap_err();
    let wire = conn.delete(&format!("uid=zoe,{USERS}")).unwrap();
    assert_eq!(api.code.code(), wire.rc);
    assert_eq!(api.matched, wire.matched);
    assert_eq!(api.message, wire.text);
    let api = s.add(user("ana").as_str()).unwrap_err();
    assert_eq!(api.code, oxldap::ResultCode::EntryAlreadyExists);
    conn.unbind().unwrap();
}

#[test]
fn await_entry_sees_a_write_from_another_thread() {
    let s = std::sync::Arc::new(Server::builder().start_blocking().unwrap());
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            s.add(user("late").as_str()).unwrap();
        })
    };
    let e = s
        .await_entry(&format!("uid=late,{USERS}"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(e.first_str("uid"), Some("late"));
    writer.join().unwrap();
    let found = s
        .await_search(USERS, "(uid=late)", 1, Duration::from_secs(1))
        .unwrap();
    assert_eq!(found.len(), 1);
    let err = s
        .await_search(USERS, "(uid=never)", 1, Duration::from_millis(20))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("timed out after 20ms waiting for 1 entries under"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_servers_in_parallel() {
    const N: usize = 24;
    let mut starting = Vec::new();
    for i in 0..N {
        starting.push(tokio::spawn(async move {
            let s = Server::builder()
                .ldif(user(&format!("u{i}")))
                .start()
                .await
                .unwrap();
            // Over the wire, from a blocking client on the blocking pool.
            let url = s.url().to_string();
            let uid = format!("u{i}");
            let n = tokio::task::spawn_blocking(move || {
                let mut c = ldap3::LdapConn::new(&url).unwrap();
                let (rows, _) = c
                    .search(USERS, ldap3::Scope::OneLevel, "(uid=*)", vec!["uid"])
                    .unwrap()
                    .success()
                    .unwrap();
                let e = ldap3::SearchEntry::construct(rows.into_iter().next().unwrap());
                assert_eq!(e.attrs["uid"], vec![uid]);
                c.unbind().unwrap();
                1
            })
            .await
            .unwrap();
            s.assert_search_dns(
                USERS,
                Scope::One,
                "(uid=*)",
                &[&format!("uid=u{i},{USERS}")],
            );
            let addr = s.addr();
            s.shutdown().await.unwrap();
            (n, addr)
        }));
    }
    let mut addrs = std::collections::BTreeSet::new();
    for t in starting {
        let (n, addr) = t.await.unwrap();
        assert_eq!(n, 1);
        addrs.insert(addr);
    }
    assert_eq!(addrs.len(), N);
}

#[test]
fn axigen_example_scenario() {
    let s = Server::builder().start_blocking().unwrap();
    let r = axigen_sync::run(&s).unwrap();
    assert_eq!(
        r.ana_groups,
        vec![format!("cn=sales,{GROUPS}"), format!("cn=staff,{GROUPS}")]
    );
    assert!(!r.uuid_before.is_empty());
    assert_eq!(r.uuid_before, r.uuid_after);
    assert_eq!(
        r.sales_members_after_delete,
        vec![format!("uid=ana.pop,{USERS}")]
    );
    // The renamed account keeps its groups, and its {SSHA} password binds over the wire.
    s.assert_attribute_values(
        &format!("uid=ana.pop,{USERS}"),
        "memberOf",
        &[&format!("cn=sales,{GROUPS}"), &format!("cn=staff,{GROUPS}")],
    );
    let pw = s.get(&format!("uid=carol,{USERS}")).unwrap().unwrap();
    assert!(pw.first_str("userPassword").unwrap().starts_with("{SSHA}"));
    let mut conn = ldap3::LdapConn::new(s.url()).unwrap();
    conn.simple_bind(&format!("uid=carol,{USERS}"), "pw-carol")
        .unwrap()
        .success()
        .unwrap();
    conn.unbind().unwrap();
}

#[test]
fn serve_prints_the_url_first_and_writes_the_ready_file() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args([
            "serve",
            "--memory",
            "-h",
            "ldap://127.0.0.1:0/",
            "--print-url",
            "--ready-file",
        ])
        .arg(&ready)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim_end().to_string();
    assert!(
        url.starts_with("ldap://127.0.0.1:") && url.ends_with('/'),
        "{line:?}"
    );
    assert_eq!(std::fs::read_to_string(&ready).unwrap(), format!("{url}\n"));
    let mut conn = ldap3::LdapConn::new(&url).unwrap();
    conn.simple_bind("", "").unwrap().success().unwrap();
    // A clean shutdown removes the ready file.
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!ready.exists(), "the ready file outlived a clean shutdown");

    // A ready file left by an earlier run is removed at start, so a script waiting for it
    // never reads a dead URL (here the start then fails: no seed file).
    std::fs::write(&ready, "ldap://127.0.0.1:1/\n").unwrap();
    let failed = std::process::Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["serve", "--memory", "-h", "ldap://127.0.0.1:0/", "--ldif"])
        .arg(dir.path().join("missing.ldif"))
        .arg("--ready-file")
        .arg(&ready)
        .output()
        .unwrap();
    assert!(!failed.status.success());
    assert!(!ready.exists(), "a stale ready file survived a new start");
}

#[test]
fn python_fixture_drives_the_binary() {
    let py = |args: &[&str]| {
        std::process::Command::new("/usr/bin/python3")
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !py(&["-c", "import ldap"]) {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3-ldap is missing (scripts/test.sh installs it)"
        );
        eprintln!("skipped: python3-ldap is not installed (scripts/test.sh installs it)");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pytest/test_fixture.py");
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    if py(&["-c", "import pytest"]) {
        cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", script]);
    } else {
        cmd.arg(script);
    }
    let out = cmd
        .env("OXLDAP_BIN", env!("CARGO_BIN_EXE_oxldap"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python fixture tests failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The README's two shell examples ("Use it from any language") run as written, with
/// `oxldap` on the PATH and a seed.ldif beside them, and their ldapsearch finds the seed.
#[test]
fn readme_shell_examples_run() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Use it from any language")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    // The indented blocks that start oxldap serve from a shell.
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in section.lines() {
        if let Some(code) = line.strip_prefix("    ") {
            current.push(code);
        } else if !line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(current.join("\n"));
            }
            current.clear();
        }
    }
    if !current.is_empty() {
        blocks.push(current.join("\n"));
    }
    let shell: Vec<&String> = blocks
        .iter()
        .filter(|b| b.contains("oxldap serve") && b.contains("ldapsearch"))
        .collect();
    assert_eq!(shell.len(), 2, "{blocks:#?}");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_oxldap"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for script in shell {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("seed.ldif"),
            format!(
                "dn: uid=readme,{USERS}\nobjectClass: inetOrgPerson\nuid: readme\ncn: R\nsn: R\n"
            ),
        )
        .unwrap();
        // A stale ready file from an earlier run must not be read.
        std::fs::write(dir.path().join("ox.url"), "ldap://127.0.0.1:1/\n").unwrap();
        let out = std::process::Command::new("timeout")
            .args(["60", "bash", "-e", "-c", script])
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{script}\nstdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("dn: {USERS}")),
            "{script}\n{stdout}"
        );
        if script.contains("seed.ldif") {
            assert!(stdout.contains("dn: uid=readme,"), "{script}\n{stdout}");
        }
        // The example's `kill` stopped its server: no process is left in its folder.
        let left = processes_in(dir.path());
        for p in &left {
            let pid = p.split(':').next().unwrap_or_default();
            let _ = std::process::Command::new("kill").arg(pid).status();
        }
        assert!(left.is_empty(), "{script}\nstill running: {left:?}");
    }
}

/// The processes whose working directory is `dir` (a script's servers inherit it), as
/// `pid: command line`, once they had a moment to exit after being killed.
fn processes_in(dir: &std::path::Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap();
    let scan = || {
        let mut found = Vec::new();
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let cwd = std::fs::read_link(p.path().join("cwd"));
            if cwd.is_ok_and(|c| c == dir) {
                let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                found.push(format!(
                    "{}: {}",
                    p.file_name().to_string_lossy(),
                    String::from_utf8_lossy(&cmd).replace('\0', " ")
                ));
            }
        }
        found
    };
    for _ in 0..100 {
        if scan().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    scan()
}
