//! Bounded fuzzing in the normal test suite (issue 8 §5): random and mutated input for the
//! BER decoder path (`codec::ServerCodec`), the DN parser (RFC 4514), the filter parser
//! (RFC 4515 string form) and the LDIF reader (RFC 2849). The property is the one a
//! network server needs: every input gets an answer (a value or an error), never a panic,
//! and the codec never buffers past its PDU limit.
//!
//! Case counts are small by default (`FUZZ_CASES`, 256); `scripts/fuzz.sh` runs them with
//! many more. The cargo-fuzz targets in `fuzz/` drive the same entry points.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::BytesMut;
use oxldap_proto::codec::ServerCodec;
use oxldap_proto::ldif::LdifReader;
use oxldap_proto::{Dn, Filter, Rdn};
use proptest::prelude::*;
use tokio_util::codec::Decoder;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// A valid SearchRequest PDU (msgid 1, base dc=x, filter (cn=a*), one control), the seed
/// that mutations start from.
const SEARCH_PDU: &[u8] = &[
    0x30, 0x43, 0x02, 0x01, 0x01, 0x63, 0x22, 0x04, 0x04, b'd', b'c', b'=', b'x', 0x0a, 0x01, 0x02,
    0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00, 0xa4, 0x09, 0x04, 0x02,
    b'c', b'n', 0x30, 0x03, 0x80, 0x01, b'a', 0x30, 0x00, 0xa0, 0x1a, 0x30, 0x18, 0x04, 0x16, b'1',
    b'.', b'2', b'.', b'8', b'4', b'0', b'.', b'1', b'1', b'3', b'5', b'5', b'6', b'.', b'1', b'.',
    b'4', b'.', b'3', b'1', b'9',
];

/// Feeds `bytes` to a codec in chunks of `chunk` and decodes until it has nothing more or
/// fails, as the connection's reader does.
fn decode_all(bytes: &[u8], chunk: usize, max_pdu: usize) {
    let mut codec = ServerCodec::new(max_pdu);
    let mut buf = BytesMut::new();
    for piece in bytes.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(_frame)) => continue,
                Ok(None) => break,
                Err(_) => return,
            }
        }
        // Whatever the announced length, the codec keeps at most one PDU's worth.
        assert!(buf.len() <= max_pdu + 16 + chunk, "buffered {}", buf.len());
    }
}

fn mutated_pdu() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec((0usize..SEARCH_PDU.len(), any::<u8>()), 0..6),
        0usize..=SEARCH_PDU.len(),
        prop::collection::vec(any::<u8>(), 0..8),
    )
        .prop_map(|(flips, cut, tail)| {
            let mut v = SEARCH_PDU.to_vec();
            for (i, b) in flips {
                if let Some(x) = v.get_mut(i) {
                    *x = b;
                }
            }
            v.truncate(cut.max(1));
            v.extend(tail);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn ber_random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), chunk in 1usize..64) {
        decode_all(&bytes, chunk, 1024);
    }

    #[test]
    fn ber_mutated_search_requests_never_panic(bytes in mutated_pdu(), chunk in 1usize..80) {
        decode_all(&bytes, chunk, 4096);
        // Two in a row: the second must not be corrupted by what the first left behind.
        let mut two = bytes.clone();
        two.extend_from_slice(SEARCH_PDU);
        decode_all(&two, chunk, 4096);
    }

    #[test]
    fn dn_parser_never_panics(s in "[a-zA-Z0-9=,+;\\\\#\" <>.é\u{0}-\u{1f}]{0,64}") {
        if let Ok(dn) = Dn::parse(&s) {
            // What parses prints back to something that parses to the same DN.
            let again = Dn::parse(&dn.to_string());
            prop_assert!(again.is_ok(), "{s:?} printed as {:?}", dn.to_string());
        }
        let _ = Rdn::parse(&s);
    }

    #[test]
    fn dn_parser_on_any_string(s in any::<String>()) {
        let _ = Dn::parse(&s);
        let _ = Rdn::parse(&s);
    }

    #[test]
    fn filter_parser_never_panics(s in "[()&|!=~<>*:a-zA-Z0-9\\\\.;, é-]{0,80}") {
        if let Ok(f) = Filter::parse(&s) {
            let _ = f.depth();
        }
    }

    #[test]
    fn filter_parser_on_any_string(s in any::<String>()) {
        let _ = Filter::parse(&s);
    }

    #[test]
    fn ldif_reader_never_panics(s in "(dn|dn:|changetype|objectClass|cn|: |:: |:< |-|\n| |#|[a-zA-Z0-9=,+/]{1,6}|\r\n){0,40}") {
        for rec in LdifReader::new(s.as_bytes()).take(100) {
            let _ = rec;
        }
    }

    #[test]
    fn ldif_reader_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for rec in LdifReader::new(&bytes[..]).take(100) {
            let _ = rec;
        }
    }
}

/// Filters nested far deeper than `filter::MAX_DEPTH` get an error, not a stack overflow.
#[test]
fn deep_string_filter_is_refused_not_a_crash() {
    let s = format!("{}(cn=a){}", "(!".repeat(100_000), ")".repeat(100_000));
    assert!(Filter::parse(&s).is_err());
}

/// The mutation seed is a valid request (so mutations explore near-valid input).
#[test]
fn the_seed_pdu_decodes() {
    let mut codec = ServerCodec::new(4096);
    let mut buf = BytesMut::from(SEARCH_PDU);
    let frame = codec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(frame.msgid, 1);
    assert!(frame.op.is_ok(), "{:?}", frame.op.err());
    assert_eq!(frame.controls.len(), 1);
    assert!(buf.is_empty());
}
