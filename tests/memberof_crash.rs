//! Crash consistency of the memberof overlay: a burst of group modifications, `kill -9`
//! of the server in the middle, a restart on the same data folder, then `oxldap verify`
//! must report no inconsistency (memberOf on every member of every group and nothing
//! else, indexes and DN trees intact): a write and its overlay changes are one
//! transaction, so a crash keeps all of it or none.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONF: &str = "database mdb\nsuffix \"dc=localdomain,dc=test\"\nrootdn \"cn=admin,dc=localdomain,dc=test\"\nrootpw secret\nindex memberOf eq\noverlay memberof\nmemberof-refint true\n";

fn u(k: usize) -> String {
    format!("uid=u{k},{USERS}")
}

fn g(j: usize) -> String {
    format!("cn=g{j},{GROUPS}")
}

/// The pids of processes whose command line contains `needle` (our server only: the
/// data folder is a fresh temporary directory).
fn pids_with(needle: &str) -> Vec<String> {
    let out = Command::new("pgrep").args(["-f", needle]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The burst: members join and leave groups (every group keeps u0, so no group loses
/// its last member and no member is dangling).
fn burst_ldif(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let (j, k) = (i % 5, 1 + (i / 5) % 19);
        s.push_str(&format!(
            "dn: {}\nchangetype: modify\nadd: member\nmember: {}\n\n",
            g(j),
            u(k)
        ));
        s.push_str(&format!(
            "dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n\n",
            g((j + 2) % 5),
            u(k)
        ));
        if i % 11 == 0 {
            s.push_str(&format!(
                "dn: {}\nchangetype: modify\nreplace: member\nmember: {}\nmember: {}\nmember: {}\n\n",
                g((j + 1) % 5),
                u(0),
                u(k),
                u(1 + (k + 3) % 19)
            ));
        }
    }
    s
}

#[test]
fn kill_9_mid_burst_leaves_memberof_consistent() {
    let cfgdir = tempfile::tempdir().unwrap();
    let conf = cfgdir.path().join("crash.conf");
    std::fs::write(&conf, CONF).unwrap();
    let conf = conf.to_str().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let args = ["-f", conf.as_str(), "--data-dir", dir.as_str()];

    let mut s = Server::start(&args, Some(data));
    let mut setup = String::new();
    for k in 0..20 {
        setup.push_str(&format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: u{k}\ncn: u{k}\nsn: u{k}\n\n",
            u(k)
        ));
    }
    for j in 0..5 {
        setup.push_str(&format!(
            "dn: {}\nobjectClass: groupOfNames\ncn: g{j}\nmember: {}\n\n",
            g(j),
            u(0)
        ));
    }
    s.modify_root("ldapadd", &setup, &[]).expect_code(0);

    // The burst runs in ldapmodify (one connection, -c) fed from a thread.
    let mut child = Command::new("ldapmodify")
        .args(["-x", "-c", "-H", &s.url, "-D", ROOTDN, "-w", ROOTPW])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // Fails with a broken pipe once the server is gone; that is expected.
        let _ = stdin.write_all(burst_ldif(5000).as_bytes());
    });
    // Let the burst get going, then kill the server without warning.
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the burst ended before the kill; make it longer"
    );
    let pids = pids_with(&dir);
    assert!(!pids.is_empty(), "no process runs on {dir}");
    for pid in &pids {
        Command::new("kill").args(["-9", pid]).status().unwrap();
    }
    let start = Instant::now();
    while !pids_with(&dir).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "server survived kill -9"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // ldapmodify sees the connection drop and exits; bounded wait, then kill it.
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    feeder.join().unwrap();
    let data = s.data.take().unwrap();
    drop(s);

    // Restart on the same folder: it opens, answers, and the memberOf index is usable.
    let s = Server::start(&args, Some(data));
    let out = s.search_root(&["-b", BASE, &format!("(memberOf={})", g(0)), "1.1"]);
    out.expect_code(0);
    assert!(out.dns().contains(&u(0)), "{}", out.stdout);
    let data = s.stop().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["verify", "-f", &conf, "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("no inconsistency"),
        "verify after kill -9:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
