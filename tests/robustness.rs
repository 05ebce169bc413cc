//! Bad input over raw TCP: malformed BER, a PDU over the limit, a filter nested 10,000
//! deep, invalid DNs, unknown critical controls. Each gets the right result code or a
//! clean disconnect, and the server keeps serving other connections.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn addr(s: &Server) -> String {
    s.url
        .trim_start_matches("ldap://")
        .trim_end_matches('/')
        .to_string()
}

fn connect(s: &Server) -> TcpStream {
    let c = TcpStream::connect(addr(s)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// BER length octets.
fn len(n: usize) -> Vec<u8> {
    if n < 128 {
        vec![n as u8]
    } else {
        let b = (n as u64).to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        let mut v = vec![0x80 | (8 - skip) as u8];
        v.extend_from_slice(&b[skip..]);
        v
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(len(content.len()));
    v.extend_from_slice(content);
    v
}

/// An LDAPMessage with `msgid` and a SearchRequest whose filter is `filter` (BER).
fn search_pdu(msgid: u8, base: &str, filter: &[u8], controls: Option<Vec<u8>>) -> Vec<u8> {
    search_pdu_limits(msgid, base, filter, controls, &[0], &[0])
}

/// [`search_pdu`] with the contents of the sizeLimit and timeLimit INTEGERs.
fn search_pdu_limits(
    msgid: u8,
    base: &str,
    filter: &[u8],
    controls: Option<Vec<u8>>,
    size: &[u8],
    time: &[u8],
) -> Vec<u8> {
    let mut req = Vec::new();
    req.extend(tlv(0x04, base.as_bytes()));
    req.extend(tlv(0x0a, &[2])); // scope sub
    req.extend(tlv(0x0a, &[0])); // deref never
    req.extend(tlv(0x02, size)); // size
    req.extend(tlv(0x02, time)); // time
    req.extend(tlv(0x01, &[0])); // typesOnly
    req.extend_from_slice(filter);
    req.extend(tlv(0x30, &[])); // attributes
    message(msgid, 0x63, &req, controls)
}

/// An LDAPMessage (RFC 4511 §4.1.1): `msgid`, the protocolOp with tag `op_tag` and
/// contents `op`, and the controls (`[0]`, their SEQUENCE contents) if any.
fn message(msgid: u8, op_tag: u8, op: &[u8], controls: Option<Vec<u8>>) -> Vec<u8> {
    let mut msg = tlv(0x02, &[msgid]);
    msg.extend(tlv(op_tag, op));
    if let Some(c) = controls {
        msg.extend(tlv(0xa0, &c));
    }
    tlv(0x30, &msg)
}

/// Adds the entry of `ldif` as the rootdn, which must succeed.
fn add_entry(s: &Server, ldif: &str) {
    s.modify_root("ldapadd", ldif, &[]).expect_code(0);
}

/// Reads one response PDU and returns (msgid, op tag, result code if any).
fn read_response(c: &mut TcpStream) -> Option<(u8, u8, Option<u8>)> {
    let mut head = [0u8; 2];
    c.read_exact(&mut head).ok()?;
    let mut n = usize::from(head[1]);
    if head[1] & 0x80 != 0 {
        let k = usize::from(head[1] & 0x7f);
        let mut b = vec![0u8; k];
        c.read_exact(&mut b).ok()?;
        n = b.iter().fold(0, |a, x| (a << 8) | usize::from(*x));
    }
    let mut body = vec![0u8; n];
    c.read_exact(&mut body).ok()?;
    // body: 02 01 <id> <optag> <len> [0a 01 <code> ...]
    let msgid = body[2];
    let op = body[3];
    let mut i = 4;
    if body[i] & 0x80 != 0 {
        i += 1 + usize::from(body[i] & 0x7f);
    } else {
        i += 1;
    }
    let code = (body.get(i) == Some(&0x0a)).then(|| body[i + 2]);
    Some((msgid, op, code))
}

fn still_serving(s: &Server) {
    s.search_anon(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
}

#[test]
fn filter_nested_10000_deep_gets_an_answer_not_a_crash() {
    let s = Server::memory();
    let mut filter = tlv(0x87, b"objectClass");
    for _ in 0..10_000 {
        filter = tlv(0xa2, &filter); // not
    }
    let mut c = connect(&s);
    c.write_all(&search_pdu(7, BASE, &filter, None)).unwrap();
    let (msgid, op, code) = read_response(&mut c).expect("a SearchResultDone");
    assert_eq!((msgid, op), (7, 0x65));
    assert_eq!(code, Some(2), "protocolError");
    // Same connection still works.
    c.write_all(&search_pdu(8, BASE, &tlv(0x87, b"objectClass"), None))
        .unwrap();
    let mut saw_done = false;
    while let Some((id, op, code)) = read_response(&mut c) {
        assert_eq!(id, 8);
        if op == 0x65 {
            assert_eq!(code, Some(0));
            saw_done = true;
            break;
        }
    }
    assert!(saw_done);
    still_serving(&s);
}

#[test]
fn pdu_over_the_limit_disconnects_cleanly() {
    let s = Server::start(&["--memory", "--max-pdu", "4096"], None);
    let mut c = connect(&s);
    // Announce a 1 MiB message; the server must refuse before the body arrives.
    let mut head = vec![0x30, 0x83, 0x10, 0x00, 0x00];
    head.extend(tlv(0x02, &[1]));
    c.write_all(&head).unwrap();
    // Expect a Notice of Disconnection (msgid 0, ExtendedResponse) then EOF.
    let (msgid, op, code) = read_response(&mut c).expect("notice of disconnection");
    assert_eq!((msgid, op, code), (0, 0x78, Some(2)));
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    still_serving(&s);
}

#[test]
fn malformed_ber_disconnects_and_others_keep_working() {
    let s = Server::memory();
    for garbage in [
        &b"\x30\x05\x02\x01"[..],
        b"\xff\xff\xff\xff\xff\xff",
        b"\x30\x80\x00\x00",
        b"\x30\x03\x04\x01\x00",
    ] {
        let mut c = connect(&s);
        c.write_all(garbage).unwrap();
        let _ = c.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
        still_serving(&s);
    }
}

#[test]
fn unknown_critical_control_is_unavailable_critical_extension() {
    let s = Server::memory();
    let mut ctrl = tlv(0x04, b"1.2.3.4.5.6.7");
    ctrl.extend(tlv(0x01, &[0xff]));
    let ctrls = tlv(0x30, &ctrl);
    let mut c = connect(&s);
    c.write_all(&search_pdu(
        3,
        BASE,
        &tlv(0x87, b"objectClass"),
        Some(ctrls),
    ))
    .unwrap();
    let (msgid, op, code) = read_response(&mut c).unwrap();
    assert_eq!((msgid, op, code), (3, 0x65, Some(12)));
    // Non-critical: ignored, the search runs.
    let mut ctrl = tlv(0x04, b"1.2.3.4.5.6.7");
    ctrl.extend(tlv(0x01, &[0x00]));
    let ctrls = tlv(0x30, &ctrl);
    c.write_all(&search_pdu(
        4,
        BASE,
        &tlv(0x87, b"objectClass"),
        Some(ctrls),
    ))
    .unwrap();
    let mut last = None;
    while let Some(r) = read_response(&mut c) {
        if r.1 == 0x65 {
            last = Some(r);
            break;
        }
    }
    assert_eq!(last, Some((4, 0x65, Some(0))));
    // Also through ldap-utils: the Tree Delete control, critical.
    s.modify_root("ldapdelete", "", &["-e", "!1.2.840.113556.1.4.805", USERS])
        .expect_code(12);
}

#[test]
fn invalid_dns_and_existing_entries() {
    let s = Server::memory();
    s.search_anon(&["-b", "cn=a,,dc=x", "(objectClass=*)"])
        .expect_code(34);
    // A NUL in a DN value would vanish in RFC 4518 preparation and alias `cn=ab`: 34, as
    // slapd answers, for an add and for a search base.
    s.modify_root(
        "ldapadd",
        &format!("dn: cn=a\\00b,{USERS}\nobjectClass: person\ncn: ab\nsn: x\n"),
        &[],
    )
    .expect_code(34);
    s.search_anon(&["-b", &format!("cn=a\\00b,{USERS}"), "(objectClass=*)"])
        .expect_code(34);
    // A value invalid in its attribute's syntax (an empty Directory String, a Country
    // String of three letters) makes the DN invalid too, as in slapd: 34, not 21 for an
    // add or 32 for a search base.
    for rdn in ["cn=", "c=USA"] {
        s.modify_root(
            "ldapadd",
            &format!("dn: {rdn},{USERS}\nobjectClass: person\ncn: x\nsn: y\n"),
            &[],
        )
        .expect_code(34);
        s.search_anon(&["-b", &format!("{rdn},{USERS}"), "(objectClass=*)"])
            .expect_code(34);
    }
    s.modify_root(
        "ldapadd",
        &format!("dn: {USERS}\nobjectClass: organizationalUnit\nou: Users\n"),
        &[],
    )
    .expect_code(68);
    s.modify_root(
        "ldapmodify",
        &format!("dn: uid=missing,{USERS}\nchangetype: modify\nreplace: cn\ncn: x\n"),
        &[],
    )
    .expect_code(32);
    s.modify_root(
        "ldapadd",
        "dn: cn=x,dc=elsewhere\nobjectClass: person\ncn: x\nsn: y\n",
        &[],
    )
    .expect_code(53);
    still_serving(&s);
}

#[test]
fn sasl_binds_whoami_values_and_negative_page_sizes_and_limits() {
    let s = Server::memory();
    // A SASL bind (mechanism FOO, no credentials): authMethodNotSupported (7).
    let mut sasl = tlv(0x04, b"FOO");
    sasl = tlv(0xa3, &sasl);
    let mut bind = tlv(0x02, &[3]);
    bind.extend(tlv(0x04, b""));
    bind.extend(sasl);
    let mut c = connect(&s);
    c.write_all(&message(1, 0x60, &bind, None)).unwrap();
    assert_eq!(read_response(&mut c), Some((1, 0x61, Some(7))));
    // Who am I? with a request value: protocolError (RFC 4532 §2).
    let mut ext = tlv(0x80, b"1.3.6.1.4.1.4203.1.11.3");
    ext.extend(tlv(0x81, b"\x30\x00"));
    c.write_all(&message(2, 0x77, &ext, None)).unwrap();
    assert_eq!(read_response(&mut c), Some((2, 0x78, Some(2))));
    // A paged-results control with a negative size: protocolError.
    let mut value = tlv(0x02, &[0xff]);
    value.extend(tlv(0x04, b""));
    let mut ctrl = tlv(0x04, b"1.2.840.113556.1.4.319");
    ctrl.extend(tlv(0x04, &tlv(0x30, &value)));
    c.write_all(&search_pdu(
        3,
        BASE,
        &tlv(0x87, b"objectClass"),
        Some(tlv(0x30, &ctrl)),
    ))
    .unwrap();
    assert_eq!(read_response(&mut c), Some((3, 0x65, Some(2))));
    // A negative size or time limit, or one beyond maxInt (RFC 4511 §4.5.1:
    // `INTEGER (0 .. maxInt)`): protocolError, as slapd ("invalid size limit"), not "no
    // limit". The connection stays open.
    let class = tlv(0x87, b"objectClass");
    let limits: [(&[u8], &[u8]); 4] = [
        (&[0xff], &[0]),
        (&[0], &[0xff]),
        (&[0x80, 0, 0, 0], &[0]),
        (&[0], &[0x00, 0x80, 0, 0, 0]),
    ];
    for (id, (size, time)) in (10u8..).zip(limits) {
        c.write_all(&search_pdu_limits(id, BASE, &class, None, size, time))
            .unwrap();
        assert_eq!(
            read_response(&mut c),
            Some((id, 0x65, Some(2))),
            "{size:?} {time:?}"
        );
    }
    c.write_all(&search_pdu_limits(20, BASE, &class, None, &[1], &[0x7f]))
        .unwrap();
    assert_eq!(read_response(&mut c).map(|r| r.1), Some(0x64));
    // Increment of an attribute that is not an integer: constraintViolation (19).
    let dn = format!("uid=n,{USERS}");
    add_entry(
        &s,
        &format!("dn: {dn}\nobjectClass: inetOrgPerson\nuid: n\ncn: n\nsn: n\nemployeeNumber: 5\n"),
    );
    s.modify_root(
        "ldapmodify",
        &format!("dn: {dn}\nchangetype: modify\nincrement: employeeNumber\nemployeeNumber: 1\n"),
        &[],
    )
    .expect_code(19);
    // An INTEGER attribute at the edge of 128 bits: the increment is refused
    // (constraintViolation, "out of range"), not wrapped; so is a valid delta too large.
    let max = i128::MAX.to_string();
    let ip = format!("cn=ip,{USERS}");
    add_entry(
        &s,
        &format!(
            "dn: {ip}\nobjectClass: pilotPerson\ncn: ip\nsn: p\nmailPreferenceOption: {max}\n"
        ),
    );
    for delta in ["1", "100000000000000000000000000000000000000000000000000"] {
        let out = s.modify_root(
            "ldapmodify",
            &format!("dn: {ip}\nchangetype: modify\nincrement: mailPreferenceOption\nmailPreferenceOption: {delta}\n"),
            &[],
        );
        assert_eq!(out.code, 19, "{}", out.stderr);
        assert!(out.stderr.contains("out of range"), "{}", out.stderr);
    }
    let out = s.search_root(&["-b", &ip, "-s", "base", "mailPreferenceOption"]);
    assert_eq!(out.values("mailPreferenceOption"), vec![max]);
    still_serving(&s);
}

/// A simple BindRequest (LDAPv3) with `msgid`.
fn bind_pdu(msgid: u8, dn: &str, pw: &str) -> Vec<u8> {
    let mut bind = tlv(0x02, &[3]);
    bind.extend(tlv(0x04, dn.as_bytes()));
    bind.extend(tlv(0x80, pw.as_bytes()));
    message(msgid, 0x60, &bind, None)
}

#[test]
fn requests_sent_before_a_bind_keep_their_identity() {
    // [anonymous bind][modify][rootdn bind] in one write (a pipelining client or a pool
    // that rebinds): the modify was sent anonymously and must run so, even if the second
    // Bind is processed before it (RFC 4511 §4.2.1). It used to run as the rootdn.
    let s = Server::memory();
    let dn = format!("uid=race,{USERS}");
    add_entry(
        &s,
        &format!("dn: {dn}\nobjectClass: inetOrgPerson\nuid: race\ncn: race\nsn: r\ndescription: before\n"),
    );
    let mut change = tlv(0x04, b"description");
    change.extend(tlv(0x31, &tlv(0x04, b"by-anonymous")));
    let mut m = tlv(0x0a, &[2]); // replace
    m.extend(tlv(0x30, &change));
    let mut req = tlv(0x04, dn.as_bytes());
    req.extend(tlv(0x30, &tlv(0x30, &m)));
    let mut burst = bind_pdu(1, "", "");
    burst.extend(message(2, 0x66, &req, None));
    burst.extend(bind_pdu(3, ROOTDN, ROOTPW));
    let mut c = connect(&s);
    c.write_all(&burst).unwrap();
    let mut codes = std::collections::BTreeMap::new();
    for _ in 0..3 {
        let (id, op, code) = read_response(&mut c).unwrap();
        codes.insert(id, (op, code));
    }
    assert_eq!(codes[&1], (0x61, Some(0)));
    assert_eq!(codes[&3], (0x61, Some(0)));
    let (op, code) = codes[&2];
    assert_eq!(op, 0x67);
    assert!(
        matches!(code, Some(8 | 50)),
        "anonymous modify answered {code:?}"
    );
    let out = s.search_root(&["-b", &dn, "-s", "base", "description"]);
    assert_eq!(out.values("description"), vec!["before".to_string()]);
}

#[test]
fn malformed_filters_are_protocol_errors() {
    // RFC 4511 §4.5.1: `not` holds exactly one Filter, and extensibleMatch has a
    // matchValue. Both used to be answered (the second child dropped; an empty value
    // matched); slapd treats them as decoding errors. Here: protocolError, connection open.
    let s = Server::memory();
    let mut c = connect(&s);
    let class = tlv(0x87, b"objectClass");
    let mut two = class.clone();
    two.extend(tlv(0x87, b"cn"));
    let cases = [
        (1u8, tlv(0xa2, &two)),
        (2, tlv(0xa2, &[])),
        (3, tlv(0xa9, &tlv(0x82, b"cn"))),
        (4, tlv(0xa0, &tlv(0xa2, &two))),
    ];
    for (id, filter) in cases {
        c.write_all(&search_pdu(id, BASE, &filter, None)).unwrap();
        assert_eq!(
            read_response(&mut c),
            Some((id, 0x65, Some(2))),
            "case {id}"
        );
    }
    // Well-formed ones still work: (!(cn=*)) and (cn:=x) on the suffix.
    let not_cn = tlv(0xa2, &tlv(0x87, b"cn"));
    c.write_all(&search_pdu(5, BASE, &not_cn, None)).unwrap();
    assert_eq!(read_response(&mut c).map(|r| r.1), Some(0x64));
    let mut ext = tlv(0x82, b"cn");
    ext.extend(tlv(0x83, b"x"));
    let mut c = connect(&s);
    c.write_all(&search_pdu(6, BASE, &tlv(0xa9, &ext), None))
        .unwrap();
    assert_eq!(read_response(&mut c), Some((6, 0x65, Some(0))));
    still_serving(&s);
}

/// Tester 12, finding 5: a substrings filter whose `substrings` SEQUENCE is empty (RFC
/// 4511 §4.5.1 requires SIZE (1..MAX); only raw BER can send it) matched like a presence
/// test, `(ou=<none>)` every entry with `ou` and its negation the rest. slapd answers
/// success with no entry for both; so does oxldap now (the item is Undefined).
#[test]
fn substrings_without_components_match_nothing() {
    let s = Server::memory();
    let mut c = connect(&s);
    let mut item = tlv(0x04, b"ou");
    item.extend(tlv(0x30, &[]));
    let empty = tlv(0xa4, &item);
    for (id, filter) in [(1u8, empty.clone()), (2, tlv(0xa2, &empty))] {
        c.write_all(&search_pdu(id, BASE, &filter, None)).unwrap();
        assert_eq!(
            read_response(&mut c),
            Some((id, 0x65, Some(0))),
            "case {id}"
        );
    }
    // A real substrings filter on the same attribute finds the layout's OUs.
    let mut item = tlv(0x04, b"ou");
    item.extend(tlv(0x30, &tlv(0x80, b"U")));
    c.write_all(&search_pdu(3, BASE, &tlv(0xa4, &item), None))
        .unwrap();
    assert_eq!(read_response(&mut c).map(|r| r.1), Some(0x64));
    still_serving(&s);
}

#[test]
fn password_modify_with_an_empty_new_password_is_refused() {
    // RFC 3062 §2 generates a password only when newPasswd is absent; slapd refuses an
    // empty one with unwillingToPerform (53). It used to set a generated password.
    let s = Server::memory();
    let dn = format!("uid=pw,{USERS}");
    add_entry(
        &s,
        &format!(
            "dn: {dn}\nobjectClass: inetOrgPerson\nuid: pw\ncn: pw\nsn: p\nuserPassword: old\n"
        ),
    );
    let mut c = connect(&s);
    c.write_all(&bind_pdu(1, ROOTDN, ROOTPW)).unwrap();
    assert_eq!(read_response(&mut c), Some((1, 0x61, Some(0))));
    let mut value = tlv(0x80, dn.as_bytes());
    value.extend(tlv(0x82, b""));
    let mut ext = tlv(0x80, b"1.3.6.1.4.1.4203.1.11.1");
    ext.extend(tlv(0x81, &tlv(0x30, &value)));
    c.write_all(&message(2, 0x77, &ext, None)).unwrap();
    assert_eq!(read_response(&mut c), Some((2, 0x78, Some(53))));
    // The old password still works.
    let out = s.tool("ldapwhoami", &["-D", &dn, "-w", "old"], None);
    out.expect_code(0);
}

/// RFC 4511 §4.1.1: a response PDU sent to the server as a request (BindResponse,
/// SearchResultDone, AddResponse, ExtendedResponse, IntermediateResponse...) gets a Notice
/// of Disconnection with protocolError and the connection ends, as slapd does ("unknown
/// LDAP request"), instead of being ignored while the client waits (tester 11).
#[test]
fn response_pdus_sent_as_requests_end_the_session() {
    let s = Server::memory();
    // An LDAPResult body: resultCode 0, matchedDN "", diagnosticMessage "".
    let result = [0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
    for (name, tag, body) in [
        ("BindResponse", 0x61, &result[..]),
        ("SearchResultDone", 0x65, &result[..]),
        ("ModifyResponse", 0x67, &result[..]),
        ("AddResponse", 0x69, &result[..]),
        ("DelResponse", 0x6b, &result[..]),
        ("ModifyDNResponse", 0x6d, &result[..]),
        ("CompareResponse", 0x6f, &result[..]),
        ("ExtendedResponse", 0x78, &result[..]),
        ("IntermediateResponse", 0x79, &[][..]),
    ] {
        let mut c = connect(&s);
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        c.write_all(&message(5, tag, body, None)).unwrap();
        let got = read_response(&mut c);
        assert_eq!(
            got,
            Some((0, 0x78, Some(2))),
            "{name}: notice of disconnection"
        );
        let mut rest = Vec::new();
        assert_eq!(c.read_to_end(&mut rest).unwrap_or(0), 0, "{name}: closed");
    }
    still_serving(&s);
}

/// `writetimeout` (slapd.conf(5)): a client that pipelines large searches and never reads
/// is dropped once a write has waited that long, which ends its searches; without the
/// directive the connection stays open (the answers resume when the client reads).
/// Tester 11: 100 such clients stalled every other client until they left.
#[test]
fn writetimeout_drops_a_client_that_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let conf = include_str!("../server/src/default.conf");
    let f = common::fixture();
    let start = |timeout: &str| {
        let path = dir.path().join(format!("slapd-{}.conf", timeout.len()));
        std::fs::write(&path, format!("{timeout}\n{conf}")).unwrap();
        Server::start(
            &[
                "--memory",
                "-d",
                "info",
                "-f",
                path.to_str().unwrap(),
                "--no-layout",
                "--ldif",
                f.to_str().unwrap(),
            ],
            None,
        )
    };
    // 100 whole-directory searches of all attributes (500 entries each under the
    // anonymous size limit, ~30 MB of answers: more than the socket buffers hold), never
    // read.
    let flood = |s: &Server| {
        let mut c = connect(s);
        let mut pdus = Vec::new();
        for id in 1..=100 {
            pdus.extend(search_pdu(id, BASE, b"\x87\x0bobjectClass", None));
        }
        c.write_all(&pdus).unwrap();
        c
    };
    // Whether the server ended the connection: reading everything meets EOF (or a reset)
    // before the read timeout, instead of data that keeps coming and then a pause.
    let dropped = |c: &mut TcpStream| {
        c.set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .unwrap();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match c.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    };

    let logged = |s: &Server| {
        std::fs::read_to_string(&s.stderr_path)
            .unwrap()
            .contains("write timeout; closing")
    };
    let s = start("writetimeout 1");
    let mut c = flood(&s);
    // The server needs a moment to fill the socket buffers, then one second more.
    let t0 = std::time::Instant::now();
    while !logged(&s) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no write timeout logged"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    still_serving(&s);
    assert!(
        dropped(&mut c),
        "writetimeout 1: the stalled client is dropped"
    );

    let s = start("");
    let mut c = flood(&s);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        !dropped(&mut c),
        "without writetimeout the connection stays"
    );
    assert!(!logged(&s));
}

/// Tester finding (2026-11-30): an anonymous connection reads requests of at most
/// 262,143 bytes, slapd's `sockbuf_max_incoming`; a successful bind raises the limit to
/// `--max-pdu` (4 MiB, `sockbuf_max_incoming_auth`), a failed one lowers it again. A
/// larger request ends the connection with a Notice of Disconnection (protocolError).
#[test]
fn anonymous_connections_read_smaller_requests_than_bound_ones() {
    let s = Server::memory();
    let mut ava = tlv(0x04, b"description");
    ava.extend(tlv(0x04, &vec![b'x'; 300_000]));
    let big = search_pdu(2, BASE, &tlv(0xa3, &ava), None);
    let disconnected = |c: &mut TcpStream| {
        let (msgid, op, code) = read_response(c).expect("notice of disconnection");
        assert_eq!((msgid, op, code), (0, 0x78, Some(2)));
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
    };
    let mut c = connect(&s);
    c.write_all(&big).unwrap();
    disconnected(&mut c);

    let mut c = connect(&s);
    c.write_all(&bind_pdu(1, ROOTDN, ROOTPW)).unwrap();
    assert_eq!(read_response(&mut c), Some((1, 0x61, Some(0))));
    c.write_all(&big).unwrap();
    assert_eq!(read_response(&mut c), Some((2, 0x65, Some(0))));
    c.write_all(&bind_pdu(3, ROOTDN, "wrong")).unwrap();
    assert_eq!(read_response(&mut c), Some((3, 0x61, Some(49))));
    c.write_all(&big).unwrap();
    disconnected(&mut c);
    still_serving(&s);
}
