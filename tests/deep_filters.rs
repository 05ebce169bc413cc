//! Filters nested as deep as slapd allows, through every path that walks a filter.
//!
//! slapd 2.5 takes 1,000 nested `(&`, `(|` or `(!` around an item and answers 1,001 with
//! protocolError (`SLAPD_MAX_FILTER_DEPTH`, servers/slapd/filter.c); checked against
//! Debian's slapd with /work/tester10-report/repro/deepfilters.py. The server runs as a
//! debug build here, the worst case for stack use: before `oxldap_proto::stack`, a
//! 255-deep `(&...)` overflowed a tokio worker's 2 MiB stack and aborted the server.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `levels` operators `op` around `item`, as an RFC 4515 string.
fn nest(op: char, levels: usize, item: &str) -> String {
    format!(
        "{}{item}{}",
        format!("({op}").repeat(levels),
        ")".repeat(levels)
    )
}

#[test]
fn filters_1000_deep_are_evaluated_and_1001_refused_as_slapd() {
    let s = Server::memory();
    let item = "(objectClass=organizationalUnit)";
    for op in ['&', '|', '!'] {
        // An even number of `!` gives the item back.
        let f = nest(op, 1000, item);
        let out = s.search_root(&["-b", USERS, "-s", "base", &f, "1.1"]);
        out.expect_code(0);
        assert_eq!(out.dns(), vec![USERS.to_string()], "{op} x1000");
        let f = nest(op, 999, item);
        let out = s.search_root(&["-b", USERS, "-s", "base", &f, "1.1"]);
        out.expect_code(0);
        let want: Vec<String> = if op == '!' {
            vec![]
        } else {
            vec![USERS.to_string()]
        };
        assert_eq!(out.dns(), want, "{op} x999");
        // slapd: protocolError (2) for 1,001 levels.
        let f = nest(op, 1001, item);
        s.search_root(&["-b", USERS, "-s", "base", &f, "1.1"])
            .expect_code(2);
    }
    // Unindexed subtree scans (planned, logged, evaluated entry by entry).
    let f = nest('&', 1000, "(ou=Users)");
    let out = s.search_root(&["-b", BASE, &f, "1.1"]);
    out.expect_code(0);
    assert_eq!(out.dns(), vec![USERS.to_string()]);
}

#[test]
fn filters_1000_deep_through_controls_sync_and_changelog() {
    let s = Server::memory();
    let f = nest('|', 1000, "(ou=Users)");
    // Server-side sort (RFC 2891) and paged results (RFC 2696).
    let out = s.search_root(&[
        "-b",
        BASE,
        "-E",
        "sss=ou:2.5.13.3",
        "-E",
        "pr=2/noprompt",
        &f,
        "1.1",
    ]);
    out.expect_code(0);
    assert_eq!(out.dns(), vec![USERS.to_string()]);
    // An assertion control (RFC 4528) whose filter is 1,000 deep.
    let assert_ok = format!("assert={}", nest('!', 1000, "(ou=Users)"));
    let out = s.search_root(&["-b", USERS, "-s", "base", "-e", &assert_ok, "1.1"]);
    out.expect_code(0);
    assert_eq!(out.dns(), vec![USERS.to_string()]);
    let assert_no = format!("assert={}", nest('!', 999, "(ou=Users)"));
    s.search_root(&["-b", USERS, "-s", "base", "-e", &assert_no, "1.1"])
        .expect_code(122); // assertionFailed
                           // Content sync refresh (RFC 4533).
    let out = s.sync_search("ro", None, &["-b", BASE, &f, "1.1"]);
    out.expect_code(0);
    assert!(out.stdout.contains(USERS), "{}", out.stdout);
    // A persistent search with the deep filter sees a later change.
    let pf = nest('&', 1000, "(ou=deep)");
    let mut ps = Command::new("ldapsearch")
        .args(["-x", "-H", &s.url, "-D", ROOTDN, "-w", ROOTPW, "-LLL"])
        .args(["-E", "sync=rp", "-b", BASE, &pf, "1.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let dn = format!("ou=deep,{BASE}");
    s.modify_root(
        "ldapadd",
        &format!("dn: {dn}\nobjectClass: organizationalUnit\nou: deep\n"),
        &[],
    )
    .expect_code(0);
    std::thread::sleep(Duration::from_millis(1000));
    let _ = ps.kill();
    let mut got = String::new();
    ps.stdout.take().unwrap().read_to_string(&mut got).unwrap();
    let _ = ps.wait();
    assert!(
        got.contains(&format!("dn: {dn}")),
        "persistent search: {got}"
    );
    // The change log view (rootdn only).
    let cf = nest('&', 1000, &format!("(targetDN={dn})"));
    let out = s.search_root(&["-b", "cn=changelog", "-s", "one", &cf, "targetDN"]);
    out.expect_code(0);
    assert_eq!(out.values("targetDN"), vec![dn.clone()]);
    // Still serving.
    s.search_root(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
}

/// BER TLV with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 128 {
        v.push(n as u8);
    } else {
        let b = (n as u64).to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        v.push(0x80 | (8 - skip) as u8);
        v.extend_from_slice(&b[skip..]);
    }
    v.extend_from_slice(content);
    v
}

#[test]
fn filter_nested_100000_deep_is_refused_cleanly() {
    let s = Server::memory();
    // (&(&(...(objectClass=*)...))) 100,000 deep: 0xa0 is `and`, 0x87 `present`.
    let mut filter = tlv(0x87, b"objectClass");
    for _ in 0..100_000 {
        filter = tlv(0xa0, &filter);
    }
    let mut req = tlv(0x04, BASE.as_bytes());
    req.extend(tlv(0x0a, &[2])); // wholeSubtree
    req.extend(tlv(0x0a, &[0]));
    req.extend(tlv(0x02, &[0]));
    req.extend(tlv(0x02, &[0]));
    req.extend(tlv(0x01, &[0]));
    req.extend(filter);
    req.extend(tlv(0x30, &[]));
    let mut msg = tlv(0x02, &[5]);
    msg.extend(tlv(0x63, &req));
    let pdu = tlv(0x30, &msg);
    let addr = s.url.trim_start_matches("ldap://").trim_end_matches('/');
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(&pdu).unwrap();
    // SearchResultDone (0x65) for message 5 with protocolError (2).
    let mut head = [0u8; 64];
    let n = c.read(&mut head).unwrap();
    let done = &head[..n];
    assert!(
        done.windows(3).any(|w| w == [0x0a, 0x01, 0x02]) && done.contains(&0x65),
        "protocolError SearchResultDone, got {done:02x?}"
    );
    s.search_root(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
}
