//! Direct BER encoding of SearchResultEntry messages (RFC 4511 §4.5.2), the one message a
//! search sends per entry.
//!
//! `ldap3_proto` encodes a message by first building a tree of `lber` structures (one
//! allocation per attribute and value) and then serializing it; for a search returning
//! hundreds of entries that was a fifth of the server's CPU. This writes the same bytes
//! straight into the output buffer: lengths are computed first, so every TLV is written
//! once, with definite minimal-length encodings (X.690 §8.1.3, as `lber` writes them).
//! Messages with controls take the general path.

use crate::codec::{CodecError, Outgoing, ServerCodec};
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
    encode_result_entry(msg.msgid, entry, buf);
    true
}

/// Messages encoded on the thread that produced them (a search's entries, then its
/// SearchResultDone), for one hand-off to the connection's writer
/// ([`crate::codec::Outgoing::Encoded`]): the writer then only copies bytes, and each
/// entry is freed on the thread that built it.
#[derive(Debug, Default)]
pub struct EncodedMessages {
    /// The encoded messages, back to back.
    buf: BytesMut,
    /// How many messages `buf` holds.
    count: usize,
    /// The size of the last burst taken: the capacity the next one starts with.
    hint: usize,
}

impl EncodedMessages {
    /// Appends `entry` as the message `msgid` (no controls; see [`encode_result_entry`]).
    pub fn push(&mut self, msgid: i32, entry: &LdapSearchResultEntry) {
        self.start();
        encode_result_entry(msgid, entry, &mut self.buf);
        self.count += 1;
    }

    /// Appends a SearchResultEntry without controls from its parts (see [`encode_entry`]).
    pub fn push_parts<'a, A, V>(&mut self, msgid: i32, dn: &[u8], attrs: A)
    where
        A: Iterator<Item = (&'a [u8], V)> + Clone,
        V: Iterator<Item = &'a [u8]> + Clone,
    {
        self.start();
        encode_entry(msgid, dn, attrs, &mut self.buf);
        self.count += 1;
    }

    /// Appends any message, encoded as the connection's codec encodes it
    /// ([`crate::codec::ServerCodec`]; e.g. the SearchResultDone that ends a burst).
    ///
    /// Errors: as the codec's encoder (nothing is appended then).
    pub fn push_message(&mut self, msg: LdapMsg) -> Result<(), CodecError> {
        self.start();
        let before = self.buf.len();
        if let Err(e) =
            tokio_util::codec::Encoder::encode(&mut ServerCodec::default(), msg, &mut self.buf)
        {
            self.buf.truncate(before);
            return Err(e);
        }
        self.count += 1;
        Ok(())
    }

    /// How many messages are held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no message is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many bytes the held messages take.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// The held messages as one [`Outgoing`], leaving this empty. The next burst starts
    /// with room for as many bytes as this one (a search's bursts are about as large: one
    /// allocation for each instead of one per doubling).
    pub fn take(&mut self) -> Outgoing {
        self.count = 0;
        self.hint = self.buf.len();
        Outgoing::Encoded(std::mem::take(&mut self.buf))
    }

    /// Makes room for a burst as large as the last one taken, once per burst.
    fn start(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf.reserve(self.hint);
        }
    }
}

/// Appends the LDAPMessage `msgid` carrying `entry` as its SearchResultEntry, without
/// controls, to `buf`: the bytes `ldap3_proto`/`lber` write for the same message.
pub fn encode_result_entry(msgid: i32, entry: &LdapSearchResultEntry, buf: &mut BytesMut) {
    encode_entry(
        msgid,
        entry.dn.as_bytes(),
        entry
            .attributes
            .iter()
            .map(|a| (a.atype.as_bytes(), a.vals.iter().map(Vec::as_slice))),
        buf,
    );
}

/// Appends an LDAPMessage without controls carrying a SearchResultEntry to `buf`, from
/// its parts: the DN (`objectName`, an LDAPDN as UTF-8 bytes) and the attributes, each a
/// description and its values (`vals` empty for typesOnly). `attrs` is walked twice (the
/// lengths come first), so it must yield the same items each time it is cloned.
///
/// ```text
/// LDAPMessage ::= SEQUENCE { messageID MessageID, protocolOp CHOICE { ...,
///      searchResEntry SearchResultEntry, ... }, controls [0] Controls OPTIONAL }
/// SearchResultEntry ::= [APPLICATION 4] SEQUENCE {
///      objectName      LDAPDN,
///      attributes      PartialAttributeList }
/// PartialAttributeList ::= SEQUENCE OF partialAttribute PartialAttribute
/// PartialAttribute ::= SEQUENCE { type AttributeDescription, vals SET OF value AttributeValue }
/// ```
/// (RFC 4511 §4.1.1, §4.5.2; definite lengths in their minimal form, as §5.1 requires
/// for the length of a BER element and as `lber` writes them.)
pub fn encode_entry<'a, A, V>(msgid: i32, dn: &[u8], attrs: A, buf: &mut BytesMut)
where
    A: Iterator<Item = (&'a [u8], V)> + Clone,
    V: Iterator<Item = &'a [u8]> + Clone,
{
    let id = int_bytes(msgid);
    let list: usize = attrs
        .clone()
        .map(|(atype, vals)| {
            let set: usize = vals.map(|v| tlv(v.len())).sum();
            tlv(tlv(atype.len()) + tlv(set))
        })
        .sum();
    let op = tlv(dn.len()) + tlv(list);
    let body = tlv(id.len()) + tlv(op);
    buf.reserve(tlv(body));
    header(buf, SEQUENCE, body);
    header(buf, INTEGER, id.len());
    buf.put_slice(&id);
    header(buf, SEARCH_RESULT_ENTRY, op);
    octets(buf, dn);
    header(buf, SEQUENCE, list);
    for (atype, vals) in attrs {
        let set: usize = vals.clone().map(|v| tlv(v.len())).sum();
        header(buf, SEQUENCE, tlv(atype.len()) + tlv(set));
        octets(buf, atype);
        header(buf, SET, set);
        for v in vals {
            octets(buf, v);
        }
    }
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

    /// The bytes of an encoded burst; none for a message left to the codec.
    fn bytes_of(out: Outgoing) -> Vec<u8> {
        match out {
            Outgoing::Encoded(b) => b.to_vec(),
            Outgoing::Msg(_) => Vec::new(),
        }
    }

    /// What the writer's codec writes for `msgs` one after the other.
    fn codec(msgs: Vec<LdapMsg>) -> Vec<u8> {
        let mut buf = BytesMut::new();
        for m in msgs {
            tokio_util::codec::Encoder::encode(&mut ServerCodec::default(), m, &mut buf)
                .expect("codec encodes");
        }
        buf.to_vec()
    }

    #[test]
    fn an_encoded_burst_is_its_messages_back_to_back() {
        let mut burst = EncodedMessages::default();
        assert!(burst.is_empty());
        let a = entry(
            7,
            "cn=a,dc=b".into(),
            vec![("cn".into(), vec![b"a".to_vec()])],
        );
        let done = LdapMsg::new(
            7,
            LdapOp::SearchResultDone(ldap3_proto::proto::LdapResult {
                code: ldap3_proto::proto::LdapResultCode::Success,
                matcheddn: String::new(),
                message: String::new(),
                referral: Vec::new(),
            }),
        );
        if let LdapOp::SearchResultEntry(e) = &a.op {
            burst.push(7, e);
        }
        burst.push_message(done.clone()).expect("encodes");
        assert_eq!(burst.len(), 2);
        let want = codec(vec![a, done]);
        assert_eq!(burst.byte_len(), want.len());
        assert_eq!(bytes_of(burst.take()), want);
        assert!(burst.is_empty() && burst.byte_len() == 0);
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

        /// Entries encoded on the search thread, as a burst, are the bytes the
        /// `ldap3_proto`/`lber` path writes for each message in turn.
        #[test]
        fn a_burst_is_the_same_bytes_as_lber(
            entries in proptest::collection::vec((
                0i32..=i32::MAX,
                ".{0,40}",
                proptest::collection::vec(
                    ("[a-zA-Z0-9;-]{1,20}", proptest::collection::vec(
                        proptest::collection::vec(any::<u8>(), 0..200), 0..4)),
                    0..6,
                ),
            ), 0..6),
        ) {
            let msgs: Vec<LdapMsg> =
                entries.into_iter().map(|(id, dn, attrs)| entry(id, dn, attrs)).collect();
            let mut burst = EncodedMessages::default();
            for m in &msgs {
                if let LdapOp::SearchResultEntry(e) = &m.op {
                    burst.push(m.msgid, e);
                }
            }
            let want: Vec<u8> = msgs.into_iter().flat_map(general).collect();
            prop_assert_eq!(bytes_of(burst.take()), want);
        }
    }
}
