//! RFC 4533 cookies the way slapd 2.5's syncprov reads and writes them (§3.5 leaves the
//! format to the server): `tests/sync_cookies/cookies.py` (python-ldap) sends the same
//! refreshOnly searches with hand-made cookies (none, empty, without `rid=`, with a bad
//! `rid=` or `sid=`, with unknown or unreadable parts) to a throwaway slapd with syncprov
//! and to oxldap with the reference configuration, and the transcripts (how many
//! entries each refresh sent, the Sync Done cookie with CSNs masked) must be equal.
//!
//! In particular a cookie without `rid=` (`csn=X` alone) carries no state for slapd: a
//! full refresh, answered with an empty cookie.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "memberof_vs_slapd/slapd.rs"]
mod slapd;

use common::Server;
use std::path::Path;
use std::process::Command;

const PYTHON: &str = "/usr/bin/python3";

fn transcript(server: &str, url: &str) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sync_cookies/cookies.py");
    let out = Command::new(PYTHON)
        .arg(script)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} (install python3-ldap): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "cookies.py against {server} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_string).collect()
}

#[test]
fn cookies_are_read_and_answered_as_slapd_does() {
    if !Path::new(slapd::SLAPD).exists() {
        println!("SKIPPED: {} is not installed", slapd::SLAPD);
        return;
    }
    let reference =
        slapd::Slapd::start("moduleload syncprov\noverlay syncprov\nsyncprov-sessionlog 100\n");
    let want = transcript("slapd", &reference.url);
    drop(reference);
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/oxldap-reference.conf");
    let ox = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    let got = transcript("oxldap", &ox.url);
    // The transcript must show both outcomes, not only agree.
    for needle in [
        "'csn={csn}': entries=4 cookie=''",
        "'rid=001,csn={csn}': entries=1 cookie='rid=001,csn=<csn>'",
        "None: entries=4 cookie='rid=000,csn=<csn>'",
    ] {
        assert!(
            want.iter().any(|l| l == needle),
            "slapd: no {needle:?} in\n{}",
            want.join("\n")
        );
    }
    assert_eq!(want.len(), got.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(
            w,
            g,
            "slapd:\n{}\noxldap:\n{}",
            want.join("\n"),
            got.join("\n")
        );
    }
}

/// The `dn:`, `cn:` and `mail:` lines of a content-sync search with a matched values
/// filter on `url`: refreshAndPersist, with one change made while it persists (stopped
/// by `timeout` after it).
fn sync_with_matched_values(url: &str) -> Vec<String> {
    use std::process::Stdio;
    let base = "dc=localdomain,dc=test";
    let bind = [
        "-x",
        "-H",
        url,
        "-D",
        "cn=admin,dc=localdomain,dc=test",
        "-w",
        "secret",
    ];
    let user = format!("uid=mv1,ou=Users,o=localdomain,{base}");
    let add = Command::new("ldapadd")
        .args(bind)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    add.stdin.as_ref().unwrap().write_all(
        format!("dn: {user}\nobjectClass: inetOrgPerson\nuid: mv1\ncn: mv one\nsn: one\nmail: a@x.test\nmail: b@y.test\n").as_bytes(),
    ).unwrap();
    assert!(add.wait_with_output().unwrap().status.success());
    let search = Command::new("timeout")
        .args(["4", "ldapsearch", "-LLL", "-o", "ldif-wrap=no"])
        .args(bind)
        .args([
            "-b",
            base,
            "-E",
            "sync=rp",
            "-E",
            "!mv=(mail=a@x.test)",
            "(uid=mv1)",
            "mail",
            "cn",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let modify = Command::new("ldapmodify")
        .args(bind)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    modify
        .stdin
        .as_ref()
        .unwrap()
        .write_all(
            format!("dn: {user}\nchangetype: modify\nadd: mail\nmail: c@x.test\n").as_bytes(),
        )
        .unwrap();
    assert!(modify.wait_with_output().unwrap().status.success());
    let out = search.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| ["dn: ", "cn: ", "mail: "].iter().any(|p| l.starts_with(p)))
        .map(str::to_string)
        .collect()
}

#[test]
fn matched_values_apply_to_the_refresh_as_slapd_does() {
    if !Path::new(slapd::SLAPD).exists() {
        println!("SKIPPED: {} is not installed", slapd::SLAPD);
        return;
    }
    let reference = slapd::Slapd::start("moduleload syncprov\noverlay syncprov\n");
    let want = sync_with_matched_values(&reference.url);
    drop(reference);
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/oxldap-reference.conf");
    let ox = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    let got = sync_with_matched_values(&ox.url);
    let dn = "dn: uid=mv1,ou=Users,o=localdomain,dc=localdomain,dc=test";
    // The refresh: only the matching value; the persisted change: the whole entry (as
    // slapd 2.5 sends it).
    assert_eq!(
        want,
        [
            dn,
            "mail: a@x.test",
            dn,
            "cn: mv one",
            "mail: a@x.test",
            "mail: b@y.test",
            "mail: c@x.test"
        ],
        "slapd"
    );
    assert_eq!(got, want, "oxldap");
}
