//! Small reads (base searches, searches with a few index candidates, compares) are
//! answered by the connection's reader task itself (`server/src/connection/inline.rs`).
//! Driven over raw TCP with pipelined requests, so the order and the back-pressure are
//! the server's, not a client library's:
//! - pipelined small reads are all answered, in the order they were sent, with right
//!   results, around a large search that runs as its own task and is abandoned (the
//!   order is what answering in line gives while the response queue has room; RFC 4511
//!   §4.1.1.1 does not require it);
//! - a client that sends thousands of small reads without reading gets every answer
//!   once it reads (back-pressure instead of loss), and another client is served
//!   meanwhile.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use futures::{SinkExt, StreamExt};
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapCompareRequest, LdapDerefAliases, LdapFilter, LdapMsg,
    LdapOp, LdapResultCode, LdapSearchRequest, LdapSearchScope,
};
use ldap3_proto::LdapCodec;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// The fixture's first user.
const USER1: &str = "uid=sven.horvat.1,ou=Users,o=localdomain,dc=localdomain,dc=test";
/// The fixture's second user.
const USER2: &str = "uid=margaret.angstrom.2,ou=Users,o=localdomain,dc=localdomain,dc=test";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(s: &Server) -> Framed<TcpStream, LdapCodec> {
    let addr = s.url.trim_start_matches("ldap://").trim_end_matches('/');
    Framed::new(
        TcpStream::connect(addr).await.unwrap(),
        LdapCodec::default(),
    )
}

fn bind(msgid: i32) -> LdapMsg {
    LdapMsg::new(
        msgid,
        LdapOp::BindRequest(LdapBindRequest {
            dn: ROOTDN.to_string(),
            cred: LdapBindCred::Simple(ROOTPW.to_string()),
        }),
    )
}

fn search(msgid: i32, base: &str, scope: LdapSearchScope, filter: LdapFilter) -> LdapMsg {
    LdapMsg::new(
        msgid,
        LdapOp::SearchRequest(LdapSearchRequest {
            base: base.to_string(),
            scope,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: vec!["uid".to_string()],
        }),
    )
}

fn base_search(msgid: i32, dn: &str) -> LdapMsg {
    search(
        msgid,
        dn,
        LdapSearchScope::Base,
        LdapFilter::Present("objectClass".to_string()),
    )
}

fn compare(msgid: i32, dn: &str, uid: &str) -> LdapMsg {
    LdapMsg::new(
        msgid,
        LdapOp::CompareRequest(LdapCompareRequest {
            dn: dn.to_string(),
            atype: "uid".to_string(),
            val: uid.as_bytes().to_vec(),
        }),
    )
}

/// What one response says, for comparing whole conversations.
fn summary(m: &LdapMsg) -> String {
    match &m.op {
        LdapOp::BindResponse(r) => format!("{} bind {:?}", m.msgid, r.res.code),
        LdapOp::SearchResultEntry(e) => format!("{} entry {}", m.msgid, e.dn),
        LdapOp::SearchResultDone(r) => format!("{} done {:?}", m.msgid, r.code),
        LdapOp::CompareResult(r) => format!("{} compare {:?}", m.msgid, r.code),
        other => format!("{} {other:?}", m.msgid),
    }
}

/// Reads responses until every message id of `until` has its final response; returns
/// them in the order they came.
async fn read_until(conn: &mut Framed<TcpStream, LdapCodec>, until: &[i32]) -> Vec<LdapMsg> {
    let mut left: Vec<i32> = until.to_vec();
    let mut out = Vec::new();
    while !left.is_empty() {
        let m = tokio::time::timeout(Duration::from_secs(20), conn.next())
            .await
            .expect("an answer within 20 s")
            .expect("the connection stays open")
            .expect("a decodable response");
        if !matches!(m.op, LdapOp::SearchResultEntry(_)) {
            left.retain(|id| *id != m.msgid);
        }
        out.push(m);
    }
    out
}

/// Pipelined in one write: a Bind, small reads (base searches, compares, an equality
/// search on an indexed attribute, a base that does not exist), a subtree search of the whole directory (large: its
/// own task on the blocking pool) and an Abandon of it. Every small read is answered, in
/// the order sent, and the connection keeps working after the abandoned search.
#[test]
fn pipelined_small_reads_are_answered_in_order_around_an_abandoned_search() {
    let server = Server::with_fixture();
    runtime().block_on(async {
        let mut conn = connect(&server).await;
        let eq = LdapFilter::Equality(
            "mail".to_string(),
            "margaret.angstrom.2@localdomain.test".to_string(),
        );
        let requests = vec![
            bind(1),
            base_search(2, USER1),
            compare(3, USER1, "sven.horvat.1"),
            search(
                4,
                BASE,
                LdapSearchScope::Subtree,
                LdapFilter::Present("objectClass".to_string()),
            ),
            LdapMsg::new(5, LdapOp::AbandonRequest(4)),
            compare(6, USER2, "sven.horvat.1"),
            search(7, BASE, LdapSearchScope::Subtree, eq),
            base_search(
                8,
                "uid=nobody,ou=Users,o=localdomain,dc=localdomain,dc=test",
            ),
            base_search(9, USER2),
        ];
        for r in requests {
            conn.feed(r).await.unwrap();
        }
        conn.flush().await.unwrap();
        let got = read_until(&mut conn, &[1, 2, 3, 6, 7, 8, 9]).await;
        let small: Vec<String> = got.iter().filter(|m| m.msgid != 4).map(summary).collect();
        assert_eq!(
            small,
            vec![
                "1 bind Success".to_string(),
                format!("2 entry {USER1}"),
                "2 done Success".to_string(),
                "3 compare CompareTrue".to_string(),
                "6 compare CompareFalse".to_string(),
                format!("7 entry {USER2}"),
                "7 done Success".to_string(),
                "8 done NoSuchObject".to_string(),
                format!("9 entry {USER2}"),
                "9 done Success".to_string(),
            ],
            "{}",
            server.log()
        );
        // The abandoned search sent no more than the directory holds, and the connection
        // still answers.
        assert!(got.iter().filter(|m| m.msgid == 4).count() <= 1100);
        conn.send(base_search(10, USER1)).await.unwrap();
        let after = read_until(&mut conn, &[10]).await;
        assert_eq!(
            after.iter().map(summary).collect::<Vec<_>>(),
            vec![format!("10 entry {USER1}"), "10 done Success".to_string()]
        );
    });
}

/// A client sends 3,000 base searches and reads nothing until they are all sent: the
/// server stops reading when the connection's response queue and operation slots are
/// full (the small reads no longer answer in line then), another client is served
/// meanwhile, and once the first client reads, every search has its entry and its
/// SearchResultDone.
#[test]
fn a_client_that_does_not_read_gets_every_small_answer_later() {
    const N: i32 = 3000;
    let server = Server::with_fixture();
    runtime().block_on(async {
        let mut conn = connect(&server).await;
        conn.send(bind(1)).await.unwrap();
        let bound = read_until(&mut conn, &[1]).await;
        assert_eq!(summary(&bound[0]), "1 bind Success");
        let (mut sink, mut stream) = conn.split();
        // Written from its own task: the server stops reading, so the socket buffers
        // fill and the writes wait until the reads below start.
        let writer = tokio::spawn(async move {
            for id in 2..N + 2 {
                let dn = if id % 2 == 0 { USER1 } else { USER2 };
                sink.feed(base_search(id, dn)).await.unwrap();
            }
            sink.flush().await.unwrap();
            sink
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Another connection is served while this one is stuck.
        let other = tokio::time::timeout(Duration::from_secs(10), async {
            let mut c = connect(&server).await;
            c.send(base_search(1, USER1)).await.unwrap();
            read_until(&mut c, &[1]).await
        })
        .await
        .expect("another client is served while one does not read");
        assert_eq!(other.len(), 2);
        let mut entries = 0;
        let mut done = Vec::new();
        while done.len() < N as usize {
            let m = tokio::time::timeout(Duration::from_secs(30), stream.next())
                .await
                .expect("an answer within 30 s")
                .expect("the connection stays open")
                .expect("a decodable response");
            match m.op {
                LdapOp::SearchResultEntry(_) => entries += 1,
                LdapOp::SearchResultDone(r) => {
                    assert_eq!(r.code, LdapResultCode::Success, "{}", m.msgid);
                    done.push(m.msgid);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        drop(writer.await.unwrap());
        assert_eq!(entries, N);
        let mut sorted = done.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (2..N + 2).collect::<Vec<_>>());
    });
}
