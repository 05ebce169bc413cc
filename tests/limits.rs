//! Limits through the wire (issue 8 §4): slapd's soft and hard `sizelimit` against the
//! client's own limit, `conn_max`, `idletimeout`, and floods (thousands of connections,
//! gigabyte BER lengths) that must not exhaust memory while others are served.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const CONF: &str = "\
database mdb
suffix \"dc=localdomain,dc=test\"
rootdn \"cn=admin,dc=localdomain,dc=test\"
rootpw secret
";

/// A server on the 1,000-user fixture with `extra` configuration lines (global lines
/// first, then the database section).
fn server(global: &str, db: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("slapd.conf");
    std::fs::write(&conf, format!("{global}{CONF}{db}")).unwrap();
    let f = fixture();
    let s = Server::start(
        &[
            "--memory",
            "--no-layout",
            "-f",
            conf.to_str().unwrap(),
            "--ldif",
            f.to_str().unwrap(),
        ],
        None,
    );
    (s, dir)
}

fn addr(s: &Server) -> String {
    s.url
        .trim_start_matches("ldap://")
        .trim_end_matches('/')
        .to_string()
}

/// Resident memory of `pid` in KiB (VmRSS of /proc/PID/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn users(s: &Server, args: &[&str], root: bool) -> ToolOutput {
    let mut a = vec![
        "-b",
        USERS,
        "-s",
        "one",
        "(objectClass=inetOrgPerson)",
        "1.1",
    ];
    a.splice(0..0, args.iter().copied());
    if root {
        s.search_root(&a)
    } else {
        s.search_anon(&a)
    }
}

#[test]
fn size_limits_soft_hard_and_the_client_limit_as_slapd() {
    let (s, _d) = server("", "sizelimit size.soft=5 size.hard=20\n");
    // No client limit: the soft limit, sizeLimitExceeded (4) with the entries sent so far.
    let out = users(&s, &[], false);
    assert_eq!((out.code, out.dns().len()), (4, 5), "{}", out.stderr);
    // A client limit below the hard limit is honoured.
    let out = users(&s, &["-z", "12"], false);
    assert_eq!((out.code, out.dns().len()), (4, 12));
    // Above the hard limit: the hard limit.
    let out = users(&s, &["-z", "500"], false);
    assert_eq!((out.code, out.dns().len()), (4, 20));
    // The rootdn: no server limit, only its own.
    let out = users(&s, &[], true);
    assert_eq!((out.code, out.dns().len()), (0, 1000));
    let out = users(&s, &["-z", "3"], true);
    assert_eq!((out.code, out.dns().len()), (4, 3));
    // A search that matches fewer than the limit succeeds.
    s.search_anon(&["-b", USERS, "-s", "base", "1.1"])
        .expect_code(0);
}

#[test]
fn bare_sizelimit_is_soft_and_hard() {
    let (s, _d) = server("", "sizelimit 7\n");
    let out = users(&s, &["-z", "100"], false);
    assert_eq!((out.code, out.dns().len()), (4, 7));
    let (s, _d) = server("sizelimit size.hard=unlimited\n", "");
    // Global soft stays slapd's 500; the client may ask for more.
    let out = users(&s, &[], false);
    assert_eq!((out.code, out.dns().len()), (4, 500));
    let out = users(&s, &["-z", "2000"], false);
    assert_eq!((out.code, out.dns().len()), (0, 1000));
}

/// Reads until EOF or `limit`; returns the bytes and whether EOF came.
fn read_to_eof(c: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match c.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

#[test]
fn conn_max_refuses_with_busy_and_frees_slots() {
    let (s, _d) = server("conn_max 8\n", "");
    let mut held: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(addr(&s)).unwrap())
        .collect();
    // Make sure the server has accepted all eight before the ninth knocks.
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(addr(&s)).unwrap();
    let (bytes, eof) = read_to_eof(&mut extra, Duration::from_secs(5));
    assert!(eof, "the connection beyond conn_max was not closed");
    // A Notice of Disconnection: ExtendedResponse (0x78) with busy (51), and its OID.
    assert!(bytes.contains(&0x78), "no notice: {bytes:?}");
    assert!(
        bytes.windows(3).any(|w| w == [0x0a, 0x01, 51]),
        "not busy: {bytes:?}"
    );
    assert!(bytes.windows(22).any(|w| w == b"1.3.6.1.4.1.1466.20036"));
    // A burst of refusals is logged once a second at most, not once per connection.
    for _ in 0..20 {
        let mut more = TcpStream::connect(addr(&s)).unwrap();
        let (_, eof) = read_to_eof(&mut more, Duration::from_secs(5));
        assert!(eof);
    }
    let lines = s.log().matches("too many connections").count();
    assert!(
        (1..=3).contains(&lines),
        "{lines} refusal lines:\n{}",
        s.log()
    );
    // Closing one frees a slot: a real client is served again.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(300));
    s.search_anon(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
}

#[test]
fn idletimeout_closes_idle_connections_only() {
    let (s, _d) = server("idletimeout 1\n", "");
    let mut idle = TcpStream::connect(addr(&s)).unwrap();
    let start = Instant::now();
    let (_, eof) = read_to_eof(&mut idle, Duration::from_secs(10));
    assert!(eof, "an idle connection was not closed");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
    // A busy client is not cut off: searches spread over 3 s on one connection.
    let mut ldap = ldap3::LdapConn::new(&s.url).unwrap();
    for _ in 0..6 {
        let (rs, _) = ldap
            .search(BASE, ldap3::Scope::Base, "(objectClass=*)", vec!["1.1"])
            .unwrap()
            .success()
            .unwrap();
        assert_eq!(rs.len(), 1);
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn two_thousand_connections_and_gigabyte_lengths_do_not_exhaust_memory() {
    let s = Server::memory();
    let pid = s.pid();
    let before = rss_kib(pid);
    // 2,000 idle connections (within MAX_CONNECTIONS) ...
    let mut conns: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(addr(&s)).unwrap())
        .collect();
    // ... and 200 more that each announce a 1 GiB LDAPMessage and send a few bytes of it.
    let mut liars = Vec::new();
    for _ in 0..200 {
        let mut c = TcpStream::connect(addr(&s)).unwrap();
        c.write_all(&[0x30, 0x84, 0x40, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01])
            .unwrap();
        liars.push(c);
    }
    std::thread::sleep(Duration::from_millis(500));
    // Others are still served while all of that is open.
    s.search_anon(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
    // Every liar was disconnected (the length is over the PDU limit).
    for c in &mut liars {
        let (_, eof) = read_to_eof(c, Duration::from_secs(5));
        assert!(eof, "a gigabyte length did not close the connection");
    }
    let during = rss_kib(pid);
    // 2,000 connections cost a few KiB each (buffers, tasks); a gigabyte never arrives.
    // The bound: 64 MiB over the starting size (no per-connection allocation of the
    // announced length, no per-connection thread).
    assert!(
        during < before + 64 * 1024,
        "RSS grew from {before} KiB to {during} KiB"
    );
    conns.truncate(0);
    s.search_anon(&["-b", BASE, "-s", "base", "1.1"])
        .expect_code(0);
}

/// Values of `attr` in ldapsearch output, in entry order.
fn column(out: &ToolOutput, attr: &str) -> Vec<String> {
    out.values(attr)
}

#[test]
fn server_side_sort_orders_small_results_and_refuses_large_ones() {
    let (s, _d) = server("", "sizelimit unlimited\n");
    // RFC 2891 through ldapsearch -E sss=: uid in reverse order, among 25 users.
    let some = ["-b", USERS, "-s", "one", "(uid=a*)", "uid"];
    let plain = s.search_anon(&some);
    plain.expect_code(0);
    let mut expect = column(&plain, "uid");
    assert!(expect.len() > 3, "{}", plain.stdout);
    expect.sort_by_key(|u| u.to_lowercase());
    // uid has no ORDERING rule: as slapd, the request must name one.
    let mut args = vec!["-E", "!sss=uid:caseIgnoreOrderingMatch"];
    args.extend_from_slice(&some);
    let out = s.search_anon(&args);
    out.expect_code(0);
    assert_eq!(column(&out, "uid"), expect);
    let mut args = vec!["-E", "sss=-uid:caseIgnoreOrderingMatch"];
    args.extend_from_slice(&some);
    let out = s.search_anon(&args);
    let mut rev = expect.clone();
    rev.reverse();
    assert_eq!(column(&out, "uid"), rev);
    // Sorting by an attribute that is not returned, and a second key.
    let mut args = vec![
        "-E",
        "!sss=sn:caseIgnoreOrderingMatch/uid:caseIgnoreOrderingMatch",
    ];
    args.extend_from_slice(&some);
    let out = s.search_anon(&args);
    out.expect_code(0);
    assert_eq!(out.dns().len(), expect.len());
    assert!(out.values("sn").is_empty());
    // Without a rule for an attribute type that has no ORDERING rule: inappropriateMatching
    // (18), critical or not (slapd's sssvlv checks the keys when it parses the control).
    for sss in ["!sss=uid", "sss=uid"] {
        let mut args = vec!["-E", sss];
        args.extend_from_slice(&some);
        assert_eq!(s.search_anon(&args).code, 18, "{sss}");
    }
    // Too many entries to sort: critical → adminLimitExceeded (11).
    // (The fixture holds 1,054 entries; MAX_SORT_ENTRIES is 1,000.)
    let sss = "sss=uid:caseIgnoreOrderingMatch";
    let critical = format!("!{sss}");
    let out = s.search_anon(&["-E", &critical, "-b", BASE, "(objectClass=*)", "1.1"]);
    assert_eq!(out.code, 11, "{}", out.stderr);
    // Non-critical: the entries come unsorted, all of them.
    let out = s.search_anon(&["-E", sss, "-b", BASE, "(objectClass=*)", "1.1"]);
    assert_eq!((out.code, out.dns().len()), (0, 1054), "{}", out.stderr);
    assert!(out.stdout.contains("sortResult: (11)"), "{}", out.stderr);
    // An unknown attribute type: noSuchAttribute (16) when critical.
    let mut args = vec!["-E", "!sss=noSuchAttr"];
    args.extend_from_slice(&some);
    assert_eq!(s.search_anon(&args).code, 16);
}

/// `limits` rules (slapd.conf(5) `limits`): the first rule that selects the searcher (by
/// exact DN, group membership, authenticated or anonymous) replaces the database's size
/// limits; a rule setting only soft and hard limits lets the client ask up to the hard
/// one. The same configuration on slapd 2.5 gave the same codes and entry counts in 24
/// searches (4 identities, 2 bases, 3 client limits).
#[test]
fn limits_rules_select_by_dn_group_and_anonymous_as_slapd() {
    let db = format!(
        "sizelimit 5\n\
         limits dn.exact=\"uid=mary.tanaka.64,{USERS}\" size=unlimited\n\
         limits group=\"cn=engineering-list-0021,{GROUPS}\" size=3\n\
         limits users size.soft=2 size.hard=4\n\
         limits anonymous size=1\n"
    );
    let (s, _d) = server("", &db);
    // `users` as an anonymous search with the bind flags in front: a search as `uid`.
    let as_user = |uid: &str, extra: &[&str]| {
        let dn = format!("uid={uid},{USERS}");
        let pw = format!("pw-{uid}");
        let mut a = vec!["-D", &dn, "-w", &pw];
        a.extend_from_slice(extra);
        users(&s, &a, false)
    };
    let counts = |out: &ToolOutput| (out.code, out.dns().len());
    // Anonymous: 1, whatever the client asks.
    assert_eq!(counts(&users(&s, &[], false)), (4, 1));
    assert_eq!(counts(&users(&s, &["-z", "100"], false)), (4, 1));
    // The exact DN comes first, though mary is also in the group.
    assert_eq!(counts(&as_user("mary.tanaka.64", &[])), (0, 1000));
    // The group's other member: 3 as soft and hard.
    assert_eq!(counts(&as_user("david.santos.901", &["-z", "10"])), (4, 3));
    // Other users: soft 2, hard 4.
    assert_eq!(counts(&as_user("james.wang.3", &[])), (4, 2));
    assert_eq!(counts(&as_user("james.wang.3", &["-z", "10"])), (4, 4));
    // The rootdn has no limits.
    assert_eq!(counts(&users(&s, &[], true)), (0, 1000));
}

#[test]
fn malformed_limits_lines_are_refused_with_their_line() {
    for (line, want) in [
        ("limits users\n", "no limit after the selector"),
        ("limits users size=lots\n", "expected an integer"),
        ("limits users color=red\n", "unknown limit"),
        ("limits dn.regex=\"(\" size=1\n", "bad regular expression"),
        ("limits friends=x size=1\n", "unknown selector"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, format!("{CONF}{line}")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxldap"))
            .args(["serve", "--memory", "-f", conf.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{line}: started");
        assert!(
            err.contains("slapd.conf:5") && err.contains(want),
            "{line}: {err}"
        );
    }
}

/// The threads of process `pid`, by name.
fn threads(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

/// One client pipelines 32 large searches and never reads an answer: it holds
/// `MAX_BLOCKING_PER_CONNECTION` (4) threads of the blocking pool, where it held one per
/// search (tester 14, finding 4: 30 such clients filled tokio's 512 threads and stalled
/// every other client); another client is served meanwhile.
#[test]
fn a_client_that_does_not_read_holds_few_threads() {
    use ldap3_proto::proto::{
        LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapFilter, LdapMsg, LdapOp,
        LdapSearchRequest, LdapSearchScope,
    };
    use tokio_util::codec::Encoder;
    let (s, _dir) = server("", "");
    let pid = s.pid();
    // Warm: one large search, so the pool has run once.
    users(&s, &[], true).expect_code(0);
    let before = threads(pid);
    let mut buf = tokio_util::bytes::BytesMut::new();
    let mut codec = ldap3_proto::LdapCodec::default();
    let bind = LdapOp::BindRequest(LdapBindRequest {
        dn: "cn=admin,dc=localdomain,dc=test".into(),
        cred: LdapBindCred::Simple("secret".into()),
    });
    codec.encode(LdapMsg::new(1, bind), &mut buf).unwrap();
    for id in 2..34 {
        let search = LdapOp::SearchRequest(LdapSearchRequest {
            base: "dc=localdomain,dc=test".into(),
            scope: LdapSearchScope::Subtree,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".into()),
            attrs: vec!["*".into(), "+".into()],
        });
        codec.encode(LdapMsg::new(id, search), &mut buf).unwrap();
    }
    let mut stuck = TcpStream::connect(addr(&s)).unwrap();
    stuck.write_all(&buf).unwrap();
    // The answers fill the socket buffers and the response queue; then the searches wait.
    std::thread::sleep(Duration::from_secs(3));
    let after = threads(pid);
    let held = after.len().saturating_sub(before.len());
    // Meanwhile another client is answered.
    let t = Instant::now();
    users(&s, &[], true).expect_code(0);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // 5 to 7 here (the 4 searches, and threads tokio's pool started around them); 31
    // without the bound.
    assert!(
        held <= 4 + 8,
        "a client that does not read holds {held} more threads: {before:?} then {after:?}"
    );
    drop(stuck);
}
