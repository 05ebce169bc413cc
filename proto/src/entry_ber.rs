//! Direct BER encoding of SearchResultEntry messages (RFC 4511 §4.5.2), the one message a
//! search sends per entry.
//!
//! `ldap3_proto` encodes a message by first building a tree of `lber` structures (one
//! allocation per attribute and value) and then serializing it; for a search returning
//! hundreds of entries that was a fifth of the server's CPU. This writes the same bytes
//! straight into the output buffer: lengths are computed first, so every TLV is written
//! once, with definite minimal-length encodings (X.690 §8.1.3, as `lber` writes them).
//! Messages with controls take the general path.

use bytes::{BufMut, BytesMut};
use ldap3_proto::proto::{LdapMsg, LdapOp, LdapSearchResultEntry};

/// Universal SEQUENCE, constructed.
const SEQUENCE: u8 = 0x30;
/// Universal SET, constructed.
const SET: u8 = 0x31;
/// Universal INTEGER.
const INTEGER: u8 = 0x02;
/// Universal OCTET STRING.
const OCTET_STRING: u8 = 0x04;
/// SearchResultEntry ::= [APPLICATION 4] SEQUENCE (constructed).
const SEARCH_RESULT_ENTRY: u8 = 0x64;

/// Encodes `msg` into `buf` when it is a SearchResultEntry without controls; returns
/// false (and writes nothing) for any other message.
pub fn encode_search_entry(msg: &LdapMsg, buf: &mut BytesMut) -> bool {
    let LdapOp::SearchResultEntry(entry) = &msg.op else {
        return false;
    };
    if !msg.ctrl.is_empty() {
        return false;
    }
    let id = int_bytes(msg.msgid);
    let op = entry_len(entry);
    let body = tlv(id.len()) + tlv(op);
    buf.reserve(tlv(body));
    header(buf, SEQUENCE, body);
    header(buf, INTEGER, id.len());
    buf.put_slice(&id);
    header(buf, SEARCH_RESULT_ENTRY, op);
    octets(buf, entry.dn.as_bytes());
    header(buf, SEQUENCE, attributes_len(entry));
    for a in &entry.attributes {
        let vals: usize = a.vals.iter().map(|v| tlv(v.len())).sum();
        header(buf, SEQUENCE, tlv(a.atype.len()) + tlv(vals));
        octets(buf, a.atype.as_bytes());
        header(buf, SET, vals);
        for v in &a.vals {
            octets(buf, v);
        }
    }
    true
}

/// The content length of the SearchResultEntry: objectName and the attribute list.
fn entry_len(e: &LdapSearchResultEntry) -> usize {
    tlv(e.dn.len()) + tlv(attributes_len(e))
}

/// The content length of the PartialAttributeList SEQUENCE.
fn attributes_len(e: &LdapSearchResultEntry) -> usize {
    e.attributes
        .iter()
        .map(|a| {
            let vals: usize = a.vals.iter().map(|v| tlv(v.len())).sum();
            tlv(tlv(a.atype.len()) + tlv(vals))
        })
        .sum()
}

/// The size of a TLV with `len` content bytes and a one-byte tag.
fn tlv(len: usize) -> usize {
    1 + len_of_len(len) + len
}

/// The size of the definite length field for `len` (X.690 §8.1.3.4–5).
fn len_of_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS / 8 - len.leading_zeros() / 8) as usize
    }
}

/// Writes a tag and a definite length.
fn header(buf: &mut BytesMut, tag: u8, len: usize) {
    buf.put_u8(tag);
    if len < 0x80 {
        // Short form: fits in 7 bits.
        buf.put_u8(len as u8);
    } else {
        let n = len_of_len(len) - 1;
        let bytes = len.to_be_bytes();
        // Long form: 0x80 | number of length octets, then the octets (n ≤ 8).
        buf.put_u8(0x80 | n as u8);
        buf.put_slice(bytes.get(bytes.len() - n..).unwrap_or(&bytes));
    }
}

/// Writes an OCTET STRING.
fn octets(buf: &mut BytesMut, v: &[u8]) {
    header(buf, OCTET_STRING, v.len());
    buf.put_slice(v);
}

/// The minimal two's-complement content octets of an INTEGER (X.690 §8.3.2).
fn int_bytes(v: i32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut start = 0;
    while start < 3 {
        let (Some(&this), Some(&next)) = (b.get(start), b.get(start + 1)) else {
            break;
        };
        // A leading 0x00 before a byte without the sign bit, or 0xFF before one with it,
        // is redundant.
        let redundant = (this == 0x00 && next & 0x80 == 0) || (this == 0xFF && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    b.get(start..).unwrap_or(&b).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lber::structure::StructureTag;
    use ldap3_proto::proto::LdapPartialAttribute;
    use proptest::prelude::*;

    fn general(msg: LdapMsg) -> Vec<u8> {
        let mut buf = BytesMut::new();
        lber::write::encode_into(&mut buf, StructureTag::from(msg)).expect("lber encodes");
        buf.to_vec()
    }

    fn direct(msg: &LdapMsg) -> Vec<u8> {
        let mut buf = BytesMut::new();
        assert!(encode_search_entry(msg, &mut buf));
        buf.to_vec()
    }

    fn entry(msgid: i32, dn: String, attrs: Vec<(String, Vec<Vec<u8>>)>) -> LdapMsg {
        LdapMsg::new(
            msgid,
            LdapOp::SearchResultEntry(LdapSearchResultEntry {
                dn,
                attributes: attrs
                    .into_iter()
                    .map(|(atype, vals)| LdapPartialAttribute { atype, vals })
                    .collect(),
            }),
        )
    }

    #[test]
    fn long_lengths_and_empty_lists_match_lber() {
        let big = vec![b'x'; 70_000];
        for msg in [
            entry(1, String::new(), vec![]),
            entry(127, "cn=a".into(), vec![("cn".into(), vec![])]),
            entry(
                128,
                "cn=a".into(),
                vec![("jpegPhoto".into(), vec![big.clone()])],
            ),
            entry(
                i32::MAX,
                "cn=b".into(),
                vec![("d".into(), vec![vec![0; 200], vec![]])],
            ),
        ] {
            assert_eq!(direct(&msg), general(msg));
        }
    }

    #[test]
    fn other_messages_and_controls_take_the_general_path() {
        let mut buf = BytesMut::new();
        let done = LdapMsg::new(1, LdapOp::UnbindRequest);
        assert!(!encode_search_entry(&done, &mut buf));
        let mut with_ctrl = entry(2, "cn=a".into(), vec![]);
        with_ctrl
            .ctrl
            .push(ldap3_proto::control::LdapControl::ManageDsaIT { criticality: false });
        assert!(!encode_search_entry(&with_ctrl, &mut buf));
        assert!(buf.is_empty());
    }

    proptest! {
        #[test]
        fn same_bytes_as_lber(
            msgid in 0i32..=i32::MAX,
            dn in ".{0,40}",
            attrs in proptest::collection::vec(
                ("[a-zA-Z;-]{1,20}", proptest::collection::vec(
                    proptest::collection::vec(any::<u8>(), 0..300), 0..5)),
                0..8,
            ),
        ) {
            let msg = entry(msgid, dn, attrs);
            prop_assert_eq!(direct(&msg), general(msg));
        }
    }
}
