//! Paced flushes of persistent-search changes (server/src/sync/pacing.rs), through the wire.
//!
//! The connection writer holds a change that follows its previous flush within 1 ms, so
//! that a burst goes out in fewer socket writes. What must hold whatever the pacing does
//! (RFC 4533 §3.4): during a burst of writes from several concurrent writers a python-ldap
//! `SyncreplConsumer` in refreshAndPersist mode receives every change exactly once, in CSN
//! order; and a lone change after the burst, with nothing written after it, is still
//! delivered (a change is never held waiting for a next one). How soon is a timing figure
//! (printed here, measured by scripts/sync-load.sh), not something this test asserts; it
//! only allows a generous 10 s for the lone change to arrive at all.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PYTHON: &str = "/usr/bin/python3";

fn user(n: u32) -> String {
    format!("uid=pace{n},{USERS}")
}

/// The CSN of a cookie line "cookie rid=...,csn=CSN[,...]".
fn csn_of(line: &str) -> String {
    line.split("csn=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn burst_in_order_and_lone_change_delivered() {
    if !Path::new(PYTHON).exists() {
        println!("SKIPPED burst_in_order_and_lone_change_delivered: {PYTHON} is not installed");
        return;
    }
    const WRITERS: u32 = 4;
    const PER_WRITER: u32 = 100;
    const BURST: u32 = WRITERS * PER_WRITER;
    let (server, _conf) = reference_server_with_syncprov("");
    let ldif: String = (0..WRITERS)
        .map(|i| {
            format!(
                "dn: {}\nobjectClass: inetOrgPerson\nuid: pace{i}\ncn: Pace {i}\nsn: S{i}\n\n",
                user(i)
            )
        })
        .collect();
    server.modify_root("ldapadd", &ldif, &[]).expect_code(0);

    // The consumer: prints "persist", then "entry DN" and "cookie COOKIE" per change.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/syncrepl/persist.py");
    let mut consumer = Command::new(PYTHON)
        .arg(&script)
        .args([&server.url, USERS, ROOTDN, ROOTPW, &(BURST + 1).to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = consumer.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| -> String {
        lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no {what} from the consumer\n{}", server.log()))
    };
    assert_eq!(next("refresh end"), "persist");

    // The burst: WRITERS concurrent ldapmodify processes, each modifying its own entry.
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let server = &server;
            s.spawn(move || {
                let mods: String = (0..PER_WRITER)
                    .map(|i| {
                        format!(
                            "dn: {}\nchangetype: modify\nreplace: description\ndescription: {i}\n\n",
                            user(w)
                        )
                    })
                    .collect();
                server.modify_root("ldapmodify", &mods, &[]).expect_code(0);
            });
        }
    });
    let mut csns = Vec::new();
    let mut entries = 0;
    while csns.len() < BURST as usize {
        let line = next("burst change");
        if line.starts_with("entry ") {
            entries += 1;
        } else if let Some(c) = line.strip_prefix("cookie ") {
            csns.push(csn_of(c));
        } else {
            panic!("unexpected consumer line: {line}");
        }
    }
    assert_eq!(entries, BURST, "one entry per write");
    assert!(
        csns.windows(2).all(|w| w[0] < w[1]),
        "cookies not strictly increasing (a duplicate or out of CSN order): {csns:?}"
    );

    // A lone change after a quiet moment: delivered with nothing written after it.
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    server
        .modify_root(
            "ldapmodify",
            &format!(
                "dn: {}\nchangetype: modify\nreplace: description\ndescription: lone\n\n",
                user(0)
            ),
            &[],
        )
        .expect_code(0);
    let line = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("the lone change was not delivered (held waiting for another change?)");
    assert_eq!(line, format!("entry {}", user(0)));
    let cookie = lines.recv_timeout(Duration::from_secs(10)).unwrap();
    let lone = csn_of(cookie.strip_prefix("cookie ").unwrap());
    assert!(
        lone > *csns.last().unwrap(),
        "the lone change's CSN is newer"
    );
    println!(
        "lone change delivered {:?} after its ldapmodify started",
        started.elapsed()
    );
    assert!(consumer.wait().unwrap().success(), "the consumer failed");
}
