//! Regressions for the embedded-harness findings of issue 7 (`*_bug_07_*`): content sync
//! across `Server::restore`, restoring a snapshot of a differently configured server,
//! export output as a seed, a fixed clock across a restart, `await_search` errors, and the
//! smaller usability findings. Each test fails on the code before its fix; sync and
//! password behaviour are checked over the wire with ldap-utils.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::{run_tool, ROOTDN, ROOTPW};
use oxldap::{mods, ResultCode, Scope, Server};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BASE: &str = "dc=localdomain,dc=test";
const USERS: &str = "ou=Users,o=localdomain,dc=localdomain,dc=test";
const GROUPS: &str = "ou=Groups,o=localdomain,dc=localdomain,dc=test";

fn user(uid: &str) -> String {
    format!(
        "dn: uid={uid},{USERS}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n\
         userPassword: pw-{uid}\n"
    )
}

/// A refreshOnly sync search as ldapsearch prints it: entries sent in full (UUID → DN),
/// the syncIdSet UUIDs, whether an ID set was a delete set, and the final cookie.
#[derive(Debug, Default)]
struct Refresh {
    full: BTreeMap<String, String>,
    ids: BTreeSet<String>,
    deletes: bool,
    cookie: Option<String>,
}

fn refresh(url: &str, cookie: Option<&str>) -> Refresh {
    let e = match cookie {
        Some(c) => format!("sync=ro/{c}"),
        None => "sync=ro".to_string(),
    };
    let out = run_tool(
        "ldapsearch",
        url,
        &[
            "-D",
            ROOTDN,
            "-w",
            ROOTPW,
            "-o",
            "ldif-wrap=no",
            "-E",
            &e,
            "-b",
            BASE,
            "1.1",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let mut r = Refresh::default();
    let mut dn = String::new();
    let mut in_set = false;
    for line in out.stdout.lines() {
        if let Some(d) = line.strip_prefix("dn: ") {
            dn = d.to_string();
        }
        if let Some(rest) = line.strip_prefix("# SyncState control, UUID ") {
            r.full
                .insert(rest.split(' ').next().unwrap().to_string(), dn.clone());
            continue;
        }
        if line.starts_with("# SyncInfo Received: ID Set") {
            in_set = true;
            continue;
        }
        if in_set {
            if let Some(u) = line.strip_prefix("#\t") {
                r.ids.insert(u.trim().to_string());
                continue;
            }
            if line.starts_with("# refreshDeletes: TRUE") || line.contains("refreshDeletes") {
                r.deletes |= line.contains("TRUE");
                continue;
            }
            if line.starts_with("# syncUUIDs:") {
                continue;
            }
            in_set = false;
        }
        if let Some(c) = line.strip_prefix("# cookie: ") {
            r.cookie = Some(c.to_string());
        }
    }
    r
}

/// The entryUUID of every entry of the server, by DN (lowercased).
fn uuids(s: &Server) -> BTreeMap<String, String> {
    s.search(BASE, Scope::Sub, "(objectClass=*)", &["entryUUID"])
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.dn.to_string().to_ascii_lowercase(),
                e.first_str("entryUUID").unwrap().to_string(),
            )
        })
        .collect()
}

fn change_numbers(s: &Server) -> BTreeMap<u64, String> {
    s.search("cn=changelog", Scope::One, "(objectClass=*)", &["*"])
        .unwrap()
        .into_iter()
        .map(|e| {
            let n = e.first_str("changeNumber").unwrap().parse().unwrap();
            let what = format!(
                "{} {}",
                e.first_str("changeType").unwrap_or_default(),
                e.first_str("targetDN").unwrap_or_default()
            );
            (n, what)
        })
        .collect()
}

#[test]
fn restore_invalidates_sync_cookies_bug_07_1() {
    let s = Server::builder()
        .ldif(format!("{}\n{}", user("ana"), user("bob")))
        .start_blocking()
        .unwrap();
    let snap = s.snapshot().unwrap();
    let r0 = refresh(s.url(), None);
    let c0 = r0.cookie.unwrap();
    // After the snapshot: an add and a modify the consumer sees.
    s.add(user("tmp")).unwrap();
    let ana = format!("uid=ana,{USERS}");
    s.modify(&ana, [mods::replace("cn", ["Ana Changed"])])
        .unwrap();
    let r1 = refresh(s.url(), Some(&c0));
    let tmp_uuid = uuids(&s)[&format!("uid=tmp,{USERS}").to_ascii_lowercase()].clone();
    assert!(r1.full.contains_key(&tmp_uuid), "{r1:?}");
    let c1 = r1.cookie.unwrap();
    let numbers_before = change_numbers(&s);

    s.restore(&snap).unwrap();
    s.modify(GROUPS, [mods::replace("description", ["unrelated write"])])
        .unwrap();

    // The consumer at c1 must converge: every entry the server holds is sent (in full or
    // as present), tmp is not, and the reverted entry comes in full (its entryCSN went
    // back, so "present" would leave the consumer with "Ana Changed").
    let now = uuids(&s);
    let ana_uuid = now[&ana.to_ascii_lowercase()].clone();
    for cookie in [&c1, &c0] {
        let r2 = refresh(s.url(), Some(cookie));
        assert!(
            !r2.deletes,
            "a delete phase cannot express the restore: {r2:?}"
        );
        let sent: BTreeSet<&String> = r2.full.keys().chain(r2.ids.iter()).collect();
        let want: BTreeSet<&String> = now.values().collect();
        assert_eq!(sent, want, "cookie {cookie}: {r2:?}");
        assert!(!sent.contains(&tmp_uuid));
        assert!(r2.full.contains_key(&ana_uuid), "{r2:?}");
        // The new cookie then works as usual (a delete phase from the log).
        let r3 = refresh(s.url(), r2.cookie.as_deref());
        assert!(r3.full.is_empty(), "{r3:?}");
    }

    // Change numbers are never given twice: the write after the restore numbers after
    // every number handed out before it.
    let after = change_numbers(&s);
    let newest_before = *numbers_before.keys().max().unwrap();
    let (n, what) = after.iter().next_back().unwrap();
    assert!(*n > newest_before, "{after:?} vs {numbers_before:?}");
    assert!(what.contains("ou=Groups"), "{what}");
    for (n, what) in &after {
        if let Some(old) = numbers_before.get(n) {
            assert_eq!(old, what, "changeNumber {n} reused");
        }
    }
}

#[test]
fn restore_ends_persistent_searches_bug_07_1() {
    let s = Server::builder().start_blocking().unwrap();
    let snap = s.snapshot().unwrap();
    // ldapsearch keeps waiting after the SearchResultDone of a refreshAndPersist
    // search, so python-ldap drives it and prints how it ended.
    let script = r#"
import sys, ldap
from ldap.syncrepl import SyncRequestControl
c = ldap.initialize(sys.argv[1])
c.simple_bind_s(sys.argv[2], sys.argv[3])
msgid = c.search_ext(sys.argv[4], ldap.SCOPE_SUBTREE, '(objectClass=*)', ['1.1'],
                     serverctrls=[SyncRequestControl(mode='refreshAndPersist')])
try:
    while True:
        rtype, rdata, rmsgid, ctrls, n, v = c.result4(msgid, all=0, timeout=20)
        if rtype == ldap.RES_SEARCH_RESULT:
            print('RESULT 0'); break
except ldap.LDAPError as e:
    print('RESULT', e.args[0].get('result'), e.args[0].get('info', b''))
"#;
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script, s.url(), ROOTDN, ROOTPW, BASE])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    s.wait_for(Duration::from_secs(10), "the persistent search", |s| {
        s.directory().fanout.counts().1 == 1
    })
    .unwrap();
    s.add(user("tmp")).unwrap();
    s.restore(&snap).unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            panic!("the persistent search did not end after the restore");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(out.starts_with("RESULT 4096"), "{out}{err}");
}

fn conf_with(replace: &str, with: &str) -> tempfile::NamedTempFile {
    let conf = include_str!("../server/src/default.conf");
    assert!(conf.contains(replace));
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), conf.replace(replace, with)).unwrap();
    f
}

#[test]
fn restore_refuses_other_configurations_bug_07_2() {
    let target = Server::builder()
        .ldif(user("ana"))
        .start_blocking()
        .unwrap();
    let before = target.export_ldif().unwrap();

    let other_suffix = Server::builder()
        .suffix("dc=other,dc=test")
        .start_blocking()
        .unwrap();
    let err = target
        .restore(&other_suffix.snapshot().unwrap())
        .unwrap_err();
    assert_eq!(err.code, ResultCode::UnwillingToPerform, "{err:?}");
    assert!(err.message.contains("suffixes differ"), "{}", err.message);
    assert!(err.message.contains("dc=other"), "{}", err.message);

    let conf = conf_with("index           entryUUID,entryCSN eq", "index uid eq");
    let other_index = Server::builder()
        .config_file(conf.path())
        .start_blocking()
        .unwrap();
    let err = target
        .restore(&other_index.snapshot().unwrap())
        .unwrap_err();
    assert!(
        err.message.contains("index configurations differ"),
        "{}",
        err.message
    );

    let conf = conf_with(
        "index           objectClass eq,pres",
        "attributetype ( 1.3.6.1.4.1.99999.1 NAME 'oxTestAttr' SUP name )\n\
         index           objectClass eq,pres",
    );
    let other_schema = Server::builder()
        .config_file(conf.path())
        .start_blocking()
        .unwrap();
    let err = target
        .restore(&other_schema.snapshot().unwrap())
        .unwrap_err();
    assert!(err.message.contains("schemas differ"), "{}", err.message);
    // Nothing was written by the refused restores.
    assert_eq!(target.export_ldif().unwrap(), before);

    // The same configuration on another server still restores.
    let same = Server::builder()
        .ldif(user("bob"))
        .start_blocking()
        .unwrap();
    target.restore(&same.snapshot().unwrap()).unwrap();
    target.assert_entry_exists(&format!("uid=bob,{USERS}"));
    target.assert_entry_missing(&format!("uid=ana,{USERS}"));
}

#[test]
fn export_output_seeds_another_server_bug_07_3() {
    let a = Server::builder()
        .ldif(format!("{}\n{}", user("ana"), user("bob")))
        .start_blocking()
        .unwrap();
    a.add(format!(
        "dn: cn=staff,{GROUPS}\nobjectClass: groupOfNames\ncn: staff\nmember: uid=ana,{USERS}\n"
    ))
    .unwrap();
    let exported = a.export_ldif().unwrap();
    assert!(exported.contains("entryUUID: "), "{exported}");
    assert!(exported.contains("memberOf: "), "{exported}");
    let b = Server::builder()
        .ldif(exported.clone())
        .start_blocking()
        .unwrap();
    assert_eq!(b.export_ldif().unwrap(), exported);
    assert_eq!(uuids(&a), uuids(&b));

    // The same with the binary: `oxldap export` output as a `serve --ldif` seed.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &exported).unwrap();
    let served =
        common::Server::start(&["--memory", "--ldif", file.path().to_str().unwrap()], None);
    let out = served.search_root(&["-b", BASE, "(uid=ana)", "entryUUID"]);
    out.expect_code(0);
    assert_eq!(
        out.values("entryUUID"),
        vec![uuids(&a)[&format!("uid=ana,{USERS}").to_ascii_lowercase()].clone()]
    );
}

#[test]
fn fixed_clock_csns_increase_across_restarts_bug_07_4() {
    let data = tempfile::tempdir().unwrap();
    let start = || {
        Server::builder()
            .data_dir(data.path())
            .fixed_clock(1_700_000_000_000_000)
            .start_blocking()
            .unwrap()
    };
    let csn_of = |s: &Server, uid: &str| {
        s.get(&format!("uid={uid},{USERS}"))
            .unwrap()
            .unwrap()
            .first_str("entryCSN")
            .unwrap()
            .to_string()
    };
    let s = start();
    s.add(user("first")).unwrap();
    let first = csn_of(&s, "first");
    s.shutdown().unwrap();
    let s = start();
    s.add(user("second")).unwrap();
    let second = csn_of(&s, "second");
    assert!(second > first, "{second} after {first}");
    s.shutdown().unwrap();

    // A fresh store still gets the same, reproducible CSNs.
    let fresh = |dir: &std::path::Path| {
        let s = Server::builder()
            .data_dir(dir)
            .fixed_clock(1_700_000_000_000_000)
            .start_blocking()
            .unwrap();
        s.add(user("first")).unwrap();
        csn_of(&s, "first")
    };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(fresh(d1.path()), fresh(d2.path()));
}

#[test]
fn await_search_returns_errors_bug_07_5() {
    let s = Server::builder().start_blocking().unwrap();
    let t = Instant::now();
    let err = s
        .await_search(BASE, "(uid=*", 0, Duration::from_secs(5))
        .unwrap_err();
    assert_eq!(
        err.ldap_error().unwrap().code,
        ResultCode::ProtocolError,
        "{err}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "a bad filter does not wait"
    );
    let err = s
        .await_search(
            "ou=Nowhere,dc=localdomain,dc=test",
            "(uid=*)",
            0,
            Duration::from_millis(200),
        )
        .unwrap_err();
    assert_eq!(
        err.ldap_error().unwrap().code,
        ResultCode::NoSuchObject,
        "{err}"
    );
    // A plain mismatch stays a timeout without an LDAP error.
    let err = s
        .await_search(BASE, "(uid=nobody)", 1, Duration::from_millis(100))
        .unwrap_err();
    assert!(err.ldap_error().is_none());
    assert!(s
        .await_search(BASE, "(uid=nobody)", 0, Duration::from_secs(1))
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_search_async_returns_errors_bug_07_5() {
    let s = Server::builder().start().await.unwrap();
    let err = s
        .await_search(BASE, "(uid=*", 0, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(
        err.ldap_error().unwrap().code,
        ResultCode::ProtocolError,
        "{err}"
    );
}

#[test]
fn in_process_writes_hash_passwords_like_the_wire_bug_07_6() {
    let s = Server::builder().start_blocking().unwrap();
    s.add(user("ana")).unwrap();
    let stored = s.get(&format!("uid=ana,{USERS}")).unwrap().unwrap();
    let pw = stored.first_str("userPassword").unwrap().to_string();
    assert!(pw.starts_with("{SSHA}"), "{pw}");
    s.modify(
        &format!("uid=ana,{USERS}"),
        [mods::replace("userPassword", ["new-pw"])],
    )
    .unwrap();
    let stored = s.get(&format!("uid=ana,{USERS}")).unwrap().unwrap();
    assert!(stored
        .first_str("userPassword")
        .unwrap()
        .starts_with("{SSHA}"));
    // Binding with the cleartext works over the wire.
    let out = run_tool(
        "ldapwhoami",
        s.url(),
        &["-D", &format!("uid=ana,{USERS}"), "-w", "new-pw"],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Seeds load as `oxldap import` does: stored as written.
    let seeded = Server::builder()
        .ldif(user("bob"))
        .start_blocking()
        .unwrap();
    let bob = seeded.get(&format!("uid=bob,{USERS}")).unwrap().unwrap();
    assert_eq!(bob.first_str("userPassword"), Some("pw-bob"));
}

#[test]
fn check_attribute_values_refuses_duplicate_expectations_bug_07_6() {
    let s = Server::builder()
        .ldif(format!(
            "dn: uid=ana,{USERS}\nobjectClass: inetOrgPerson\nuid: ana\ncn: Ana Pop\nsn: Pop\n"
        ))
        .start_blocking()
        .unwrap();
    let dn = format!("uid=ana,{USERS}");
    s.check_attribute_values(&dn, "cn", &["ana pop"]).unwrap();
    let err = s
        .check_attribute_values(&dn, "cn", &["ana pop", "ANA POP"])
        .unwrap_err();
    assert!(err.message().contains("same value twice"), "{err}");
    assert!(err.message().contains("\"ANA POP\""), "{err}");
}

#[tokio::test]
async fn dropping_a_blocking_server_in_async_code_bug_07_6() {
    let s = tokio::task::spawn_blocking(|| Server::builder().start_blocking().unwrap())
        .await
        .unwrap();
    s.assert_entry_exists(BASE);
    // Used to panic: "Cannot drop a runtime in a context where blocking is not allowed".
    drop(s);
}

#[tokio::test]
async fn a_dropped_server_releases_its_data_dir_bug_07_6() {
    let data = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let s = Server::builder()
            .data_dir(data.path())
            .start()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        s.add(user(&format!("u{round}"))).unwrap();
        drop(s);
    }
    let s = Server::builder()
        .data_dir(data.path())
        .start()
        .await
        .unwrap();
    s.assert_entry_exists(&format!("uid=u2,{USERS}"));
    s.shutdown().await.unwrap();
}

#[test]
fn add_with_a_bad_dn_is_invalid_dn_syntax_bug_07_6() {
    let s = Server::builder().start_blocking().unwrap();
    let err = s
        .add("dn: uid=x,,ou=Users,o=localdomain,dc=localdomain,dc=test\nobjectClass: device\ncn: x\n")
        .unwrap_err();
    let wire = run_tool(
        "ldapadd",
        s.url(),
        &["-D", ROOTDN, "-w", ROOTPW],
        Some("dn: uid=x,,ou=Users,o=localdomain,dc=localdomain,dc=test\nobjectClass: device\ncn: x\n"),
    );
    assert_eq!(wire.code, 34, "{}", wire.stderr);
    assert_eq!(err.code, ResultCode::InvalidDnSyntax, "{err:?}");
}
