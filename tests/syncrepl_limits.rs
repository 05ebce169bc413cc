//! Content synchronization (RFC 4533) under limits, through the wire:
//!
//! - `slow_consumer_is_cut_off`: a persistent search whose client never reads (a raw
//!   socket) is disconnected once `syncprov-queue-limit` writes wait for it, with a log
//!   line saying so, while the writes go on and complete, and a python-ldap
//!   `SyncreplConsumer` that keeps reading receives every change once, in CSN order.
//! - `slow_consumer_is_cut_off_by_the_size_of_its_backlog`: the same with
//!   `syncprov-queue-size` bytes of entries waiting.
//! - `refresh_counts_size_limit_like_slapd`: `ldapsearch -E sync=ro -z N` against a full
//!   reload, a delete phase and a present phase. As /usr/sbin/slapd (2.5, syncprov, checked
//!   by hand with the Axigen-style configuration of tools/slapd-anchor): only entries
//!   sent in full count against the size limit, not the entryUUIDs of syncIdSet messages
//!   (deleted or present); reaching it ends the refresh with sizeLimitExceeded (4) and no
//!   Sync Done control; a refresh within the limit ends normally with its cookie.
//! - `refresh_honours_the_assertion_control`: the assertion control is tested on the base
//!   first, as slapd: false fails the sync search with assertionFailed (122).
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PYTHON: &str = "/usr/bin/python3";

fn user(n: u32) -> String {
    format!("uid=lim{n},{USERS}")
}

fn add_users(server: &Server, n: u32) {
    let ldif: String = (0..n)
        .map(|i| {
            format!(
                "dn: {}\nobjectClass: inetOrgPerson\nuid: lim{i}\ncn: Lim {i}\nsn: S{i}\n\n",
                user(i)
            )
        })
        .collect();
    server.modify_root("ldapadd", &ldif, &[]).expect_code(0);
}

// ---- a raw LDAP client that never reads (BER by hand, RFC 4511 §4.1.1, X.690) ----

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap());
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap());
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// LDAPMessage ::= SEQUENCE { messageID, protocolOp, controls [0] OPTIONAL }.
fn message(id: u8, op: Vec<u8>, controls: Option<Vec<u8>>) -> Vec<u8> {
    let mut body = tlv(0x02, &[id]);
    body.extend(op);
    if let Some(c) = controls {
        body.extend(tlv(0xa0, &c));
    }
    tlv(0x30, &body)
}

/// A simple bind as the rootdn (RFC 4511 §4.2).
fn bind_request() -> Vec<u8> {
    let mut b = tlv(0x02, &[3]);
    b.extend(tlv(0x04, ROOTDN.as_bytes()));
    b.extend(tlv(0x80, ROOTPW.as_bytes()));
    message(1, tlv(0x60, &b), None)
}

/// A subtree search of `base` for (objectClass=*) returning "*", with the Sync Request
/// control in refreshAndPersist mode (RFC 4533 §2.2: SEQUENCE { mode ENUMERATED (3) }).
fn persist_search(base: &str) -> Vec<u8> {
    let mut s = tlv(0x04, base.as_bytes());
    s.extend(tlv(0x0a, &[2])); // wholeSubtree
    s.extend(tlv(0x0a, &[0])); // neverDerefAliases
    s.extend(tlv(0x02, &[0])); // sizeLimit
    s.extend(tlv(0x02, &[0])); // timeLimit
    s.extend(tlv(0x01, &[0])); // typesOnly FALSE
    s.extend(tlv(0x87, b"objectClass")); // present filter
    s.extend(tlv(0x30, &tlv(0x04, b"*")));
    let mut control = tlv(0x04, b"1.3.6.1.4.1.4203.1.9.1.1");
    control.extend(tlv(0x04, &tlv(0x30, &tlv(0x0a, &[3]))));
    message(2, tlv(0x63, &s), Some(tlv(0x30, &control)))
}

/// Waits up to `secs` for `cond`.
fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

#[test]
fn slow_consumer_is_cut_off() {
    if !Path::new(PYTHON).exists() {
        println!("SKIPPED slow_consumer_is_cut_off: {PYTHON} is not installed");
        return;
    }
    const LIMIT: u32 = 40;
    const WRITES: u32 = 800;
    let (server, _conf) =
        reference_server_with_syncprov(&format!("syncprov-queue-limit {LIMIT}\n"));
    add_users(&server, 10);

    let mut raw = slow_consumer(&server);

    // The consumer that keeps reading.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/syncrepl/persist.py");
    let mut reader = Command::new(PYTHON)
        .arg(&script)
        .args([&server.url, USERS, ROOTDN, ROOTPW, &WRITES.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = reader.stdout.take().unwrap();
    let mut first = [0u8; 8];
    out.read_exact(&mut first).unwrap();
    assert_eq!(
        &first, b"persist\n",
        "the reading consumer's refresh did not end"
    );
    // Read its output as it comes (a full pipe would stall it).
    let collected = std::thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        text
    });

    big_writes(&server, WRITES);
    assert_cut_off(&server, &mut raw, "queue limit reached");

    // The reading consumer got every change exactly once, in CSN order.
    let status = reader.wait().unwrap();
    let text = collected.join().unwrap();
    let mut err = String::new();
    reader
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "reading consumer failed:\n{text}{err}");
    let entries = text.lines().filter(|l| l.starts_with("entry ")).count();
    let csns: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("cookie "))
        .map(|c| c.split("csn=").nth(1).unwrap().split(',').next().unwrap())
        .collect();
    assert_eq!(entries, WRITES as usize, "{text}");
    assert_eq!(csns.len(), WRITES as usize, "one cookie per write:\n{text}");
    assert!(
        csns.windows(2).all(|w| w[0] < w[1]),
        "cookies not strictly increasing"
    );
    // The server still serves.
    server
        .search_root(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
}

/// Tester finding (2026-11-30): a persistent search whose client stopped reading held
/// every write's entries until 16,384 writes waited (2.6 GB for writes to a 5,000-member
/// group). The backlog is also bounded in bytes (`syncprov-queue-size`, 64 MiB by
/// default): with 1 MiB and 32 KiB values, the slow consumer is cut off after a few
/// hundred writes, far below the write count bound, and the server goes on serving.
#[test]
fn slow_consumer_is_cut_off_by_the_size_of_its_backlog() {
    let (server, _conf) = reference_server_with_syncprov("syncprov-queue-size 1048576\n");
    add_users(&server, 10);
    let mut raw = slow_consumer(&server);
    big_writes(&server, 800);
    assert_cut_off(&server, &mut raw, "queue size limit reached");
    server
        .search_root(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
}

/// The slow consumer: binds, starts a persistent search of everything, never reads.
fn slow_consumer(server: &Server) -> TcpStream {
    let addr = server
        .url
        .trim_start_matches("ldap://")
        .trim_end_matches('/');
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.write_all(&bind_request()).unwrap();
    raw.write_all(&persist_search(BASE)).unwrap();
    raw
}

/// `writes` modifies with 32 KiB values, so that each write fills a slow client's socket
/// fast, spread over the ten users of `add_users`.
fn big_writes(server: &Server, writes: u32) {
    let big = "x".repeat(32 * 1024);
    let mods: String = (0..writes)
        .map(|i| {
            format!(
                "dn: {}\nchangetype: modify\nreplace: description\ndescription: {i} {big}\n\n",
                user(i % 10)
            )
        })
        .collect();
    let started = Instant::now();
    server.modify_root("ldapmodify", &mods, &[]).expect_code(0);
    println!("{writes} writes in {:?}", started.elapsed());
}

/// The slow consumer was cut off, with a log line giving `why`, and its socket is
/// closed: what was buffered drains, then EOF (or a reset).
fn assert_cut_off(server: &Server, raw: &mut TcpStream, why: &str) {
    let line = format!(
        "persistent sync search: the consumer reads too slowly ({why}); closing its connection"
    );
    assert!(
        wait_for(20, || server.log().contains(&line)),
        "no cut-off in the log:\n{}",
        server.log()
    );
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut drained = 0usize;
    loop {
        match raw.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => {
                panic!("the slow consumer's connection stayed open ({drained} bytes read): {e}")
            }
        }
    }
}

// ---- size limit ----

/// What `ldapsearch -E sync=...` printed: the DNs sent in full, the UUIDs of syncIdSet
/// messages, the result code, whether a Sync Done control came, and its cookie.
#[derive(Debug, Default)]
struct Refresh {
    entries: Vec<String>,
    id_set: usize,
    code: Option<u32>,
    done: bool,
    cookie: Option<String>,
}

fn refresh(server: &Server, cookie: Option<&str>, size: u32) -> Refresh {
    let z = size.to_string();
    let out = server.sync_search(
        "ro",
        cookie,
        &["-b", USERS, "-z", &z, "(uid=lim*)", "entryUUID"],
    );
    let mut r = Refresh::default();
    for line in out.stdout.lines() {
        if let Some(dn) = line.strip_prefix("dn: ") {
            r.entries.push(dn.to_string());
        } else if line.starts_with("#\t") {
            r.id_set += 1;
        } else if let Some(code) = line.strip_prefix("result: ") {
            r.code = code.split(' ').next().and_then(|c| c.parse().ok());
        } else if line.starts_with("# SyncDone control") {
            r.done = true;
        } else if let Some(c) = line.strip_prefix("# cookie: ") {
            if r.done {
                r.cookie = Some(c.to_string());
            }
        }
    }
    r
}

#[test]
fn refresh_counts_size_limit_like_slapd() {
    // A session log of 4 records (trimmed every 64 writes): 70 writes take a cookie out
    // of its reach (present phase); a few writes stay in it (delete phase).
    let (server, _conf) = reference_server_with_syncprov("syncprov-sessionlog 4\n");
    add_users(&server, 10);

    // Full reload: every entry counts.
    let r = refresh(&server, None, 3);
    assert_eq!(
        (r.entries.len(), r.code, r.done),
        (3, Some(4), false),
        "{r:?}"
    );
    let full = refresh(&server, None, 0);
    assert_eq!((full.entries.len(), full.code), (10, Some(0)), "{full:?}");
    let cookie = full.cookie.clone().unwrap();

    // Delete phase: 2 modified, 2 deleted. The deleted UUIDs go out whatever the limit;
    // the 2 modified entries count.
    let mut ldif = String::new();
    for i in [1, 2] {
        ldif += &format!(
            "dn: {}\nchangetype: modify\nreplace: sn\nsn: Changed\n\n",
            user(i)
        );
    }
    for i in [8, 9] {
        ldif += &format!("dn: {}\nchangetype: delete\n\n", user(i));
    }
    server.modify_root("ldapmodify", &ldif, &[]).expect_code(0);
    let r = refresh(&server, Some(&cookie), 1);
    assert_eq!(r.id_set, 2, "{r:?}");
    assert_eq!(
        (r.entries.len(), r.code, r.done),
        (1, Some(4), false),
        "{r:?}"
    );
    let r = refresh(&server, Some(&cookie), 2);
    assert_eq!(r.id_set, 2, "{r:?}");
    assert_eq!(
        (r.entries.len(), r.code, r.done),
        (2, Some(0), true),
        "{r:?}"
    );

    // Present phase: 70 writes to 3 entries; the 5 others are reported present by UUID
    // and do not count.
    let mods: String = (0..70)
        .map(|i| {
            format!(
                "dn: {}\nchangetype: modify\nreplace: description\ndescription: w{i}\n\n",
                user(i % 3)
            )
        })
        .collect();
    server.modify_root("ldapmodify", &mods, &[]).expect_code(0);
    let r = refresh(&server, Some(&cookie), 3);
    assert_eq!(
        (r.entries.len(), r.code, r.done),
        (3, Some(0), true),
        "{r:?}"
    );
    assert_eq!(r.id_set, 5, "{r:?}");
    let r = refresh(&server, Some(&cookie), 2);
    assert_eq!(
        (r.entries.len(), r.code, r.done),
        (2, Some(4), false),
        "{r:?}"
    );
    assert!(server.log().contains("present phase"), "{}", server.log());
}

#[test]
fn refresh_honours_the_assertion_control() {
    // As slapd (checked by hand against tools/slapd-anchor with `ldapsearch -E sync=ro
    // -e '!assert=(ou=nothing)'`): the assertion (RFC 4528) is tested on the search base
    // before the refresh; false is assertionFailed (122) with no entry and no cookie.
    let (server, _conf) = reference_server_with_syncprov("");
    add_users(&server, 3);
    let run = |assert: &str| {
        let a = format!("!assert={assert}");
        server.sync_search("ro", None, &["-e", &a, "-b", USERS, "(uid=lim*)", "1.1"])
    };
    let out = run("(ou=nothing)");
    assert_eq!(out.code, 122, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("dn: "), "{}", out.stdout);
    let out = run("(ou=Users)");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout.matches("dn: uid=lim").count(),
        3,
        "{}",
        out.stdout
    );
}
