//! BER values of the request and response controls `ldap3_proto` does not model: the
//! assertion control (RFC 4528), the pre-read and post-read controls (RFC 4527) and the
//! matched values control (RFC 3876), plus the two things `ldap3_proto`'s encoder cannot
//! express: a response control with an arbitrary OID and value, and a result code it has
//! no variant for (assertionFailed, 122).
//!
//! Those two travel inside an [`LdapMsg`] as internal markers that no client input can
//! produce (they contain control characters, which no LDAPOID or LDAPURL may), and the
//! codec's encoder ([`crate::codec::ServerCodec`]) turns them into their wire form through
//! [`restore_extensions`] before writing. The server builds them only through
//! [`raw_control`] and [`ldap_result`], so the markers never leak out of this crate's
//! contract. This keeps the server's response path (`mpsc::Sender<LdapMsg>`) unchanged.

use crate::codec::RawControl;
use crate::filter::{Filter, FilterError};
use crate::result::ResultCode;
use base64::Engine;
use bytes::BytesMut;
use lber::common::TagClass;
use lber::structure::{StructureTag, PL};
use lber::structures::ASNTag;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{LdapFilter, LdapOp, LdapResult, LdapSearchResultEntry};

/// The assertion control (RFC 4528 §3).
pub const ASSERTION_OID: &str = "1.3.6.1.1.12";
/// The pre-read control (RFC 4527 §3.1).
pub const PRE_READ_OID: &str = "1.3.6.1.1.13.1";
/// The post-read control (RFC 4527 §3.2).
pub const POST_READ_OID: &str = "1.3.6.1.1.13.2";
/// The matched values control (RFC 3876 §2).
pub const MATCHED_VALUES_OID: &str = "1.2.826.0.1.3344810.2.3";

/// Starts the `LdapControl::Unknown` OID of a response control built by [`raw_control`].
const RAW_CONTROL_MARK: &str = "\u{1}oxldap-raw-control\u{1}";
/// Separates the OID from the base64 value inside a [`RAW_CONTROL_MARK`] marker.
const RAW_CONTROL_SEP: char = '\u{1}';
/// The single referral "URL" that carries a result code `ldap3_proto` cannot encode.
const RESULT_CODE_MARK: &str = "\u{1}oxldap-result-code\u{1}";

/// A control value that does not follow its RFC's ASN.1; answered with protocolError
/// (slapd: "assertion control value is malformed" and the like).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlValueError {
    /// The value is absent, not BER, nested too deeply, or not the expected structure.
    #[error("{oid} control value is malformed")]
    Malformed {
        /// The control's OID.
        oid: String,
    },
    /// The filter inside the value cannot be used.
    #[error("{oid} control: {source}")]
    Filter {
        /// The control's OID.
        oid: String,
        /// What is wrong with the filter.
        source: FilterError,
    },
}

fn malformed(c: &RawControl) -> ControlValueError {
    ControlValueError::Malformed { oid: c.oid.clone() }
}

fn to_filter(c: &RawControl, tag: StructureTag) -> Result<Filter, ControlValueError> {
    // `ldap3_proto` converts (and `tag` and `lf` drop) recursively: room for a value of
    // the deepest BER the codec lets through (`RawControl::value_tag` checked it).
    crate::stack::with_levels(crate::codec::MAX_BER_DEPTH, || {
        let lf = LdapFilter::try_from(tag).map_err(|_| malformed(c))?;
        Filter::try_from(&lf).map_err(|source| ControlValueError::Filter {
            oid: c.oid.clone(),
            source,
        })
    })
}

/// The assertion of an assertion control (RFC 4528 §3): `controlValue` is the BER of a
/// `Filter` (RFC 4511 §4.5.1.7).
pub fn decode_assertion(c: &RawControl) -> Result<Filter, ControlValueError> {
    let tag = c.value_tag().ok_or_else(|| malformed(c))?;
    to_filter(c, tag)
}

/// The elements of a control value that is a `SEQUENCE OF` something.
fn sequence_items(c: &RawControl) -> Result<Vec<StructureTag>, ControlValueError> {
    let tag = c.value_tag().ok_or_else(|| malformed(c))?;
    if tag.class != TagClass::Universal || tag.id != 16 {
        return Err(malformed(c));
    }
    match tag.payload {
        PL::C(items) => Ok(items),
        PL::P(_) => Err(malformed(c)),
    }
}

/// The attributes a pre-read or post-read control asks for (RFC 4527 §3.1):
/// `controlValue ::= AttributeSelection`, i.e. `SEQUENCE OF selector LDAPString` as in a
/// SearchRequest (RFC 4511 §4.5.1.8).
pub fn decode_attribute_selection(c: &RawControl) -> Result<Vec<String>, ControlValueError> {
    let items = sequence_items(c)?;
    items
        .into_iter()
        .map(|t| {
            if t.class != TagClass::Universal || t.id != 4 {
                return Err(malformed(c));
            }
            t.expect_primitive()
                .and_then(|v| String::from_utf8(v).ok())
                .ok_or_else(|| malformed(c))
        })
        .collect()
}

/// The filter items of a matched values control (RFC 3876 §2):
///
/// ```text
/// ValuesReturnFilter ::= SEQUENCE OF SimpleFilterItem
/// SimpleFilterItem ::= CHOICE {
///     equalityMatch   [3] AttributeValueAssertion,
///     substrings      [4] SubstringFilter,
///     greaterOrEqual  [5] AttributeValueAssertion,
///     lessOrEqual     [6] AttributeValueAssertion,
///     present         [7] AttributeDescription,
///     approxMatch     [8] AttributeValueAssertion,
///     extensibleMatch [9] SimpleMatchingAssertion }
/// ```
///
/// The items share the tags of the corresponding `Filter` choices; `and`, `or` and `not`
/// are not allowed.
pub fn decode_values_return_filter(c: &RawControl) -> Result<Vec<Filter>, ControlValueError> {
    let items = sequence_items(c)?;
    items
        .into_iter()
        .map(|t| {
            if t.class != TagClass::Context || !(3..=9).contains(&t.id) {
                return Err(malformed(c));
            }
            to_filter(c, t)
        })
        .collect()
}

/// The value of a pre-read or post-read response control (RFC 4527 §3.1, §3.2): the
/// BER of the `SearchResultEntry` (`[APPLICATION 4]`, RFC 4511 §4.5.2).
pub fn encode_read_entry(entry: LdapSearchResultEntry) -> Vec<u8> {
    let tag = lber::structures::Tag::from(LdapOp::SearchResultEntry(entry)).into_structure();
    let mut buf = BytesMut::new();
    // Writing into a BytesMut cannot fail (it grows as needed).
    match lber::write::encode_into(&mut buf, tag) {
        Ok(()) => buf.to_vec(),
        Err(_) => Vec::new(),
    }
}

/// A non-critical response control with OID `oid` and value `value`, which
/// `ldap3_proto`'s `LdapControl` cannot express; written correctly by
/// [`crate::codec::ServerCodec`].
pub fn raw_control(oid: &str, value: &[u8]) -> LdapControl {
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    LdapControl::Unknown {
        oid: format!("{RAW_CONTROL_MARK}{oid}{RAW_CONTROL_SEP}{b64}"),
    }
}

/// The LDAPResult (RFC 4511 §4.1.9) with `code`, `matched` and `message`, for any code,
/// including those `ldap3_proto::LdapResultCode` lacks (assertionFailed, 122): those are
/// carried as [`ResultCode::Other`] plus a marker in the (otherwise absent) referral
/// field, which [`crate::codec::ServerCodec`] turns into the real code.
pub fn ldap_result(code: ResultCode, matched: String, message: String) -> LdapResult {
    let (code_out, referral) = match code.to_ldap3() {
        Some(c) => (c, Vec::new()),
        None => (
            ldap3_proto::LdapResultCode::Other,
            vec![format!("{RESULT_CODE_MARK}{}", code.code())],
        ),
    };
    LdapResult {
        code: code_out,
        matcheddn: matched,
        message,
        referral,
    }
}

/// Rewrites the markers of [`raw_control`] and [`ldap_result`] in an encoded LDAPMessage
/// into their wire form: the control gets its real OID and value, the LDAPResult its real
/// resultCode and no referral. Messages without markers are left as they are.
pub(crate) fn restore_extensions(msg: &mut StructureTag) {
    let PL::C(elems) = &mut msg.payload else {
        return;
    };
    if let Some(op) = elems.get_mut(1) {
        restore_result_code(op);
    }
    if let Some(ctrls) = elems.get_mut(2) {
        if ctrls.class == TagClass::Context && ctrls.id == 0 {
            if let PL::C(list) = &mut ctrls.payload {
                for c in list {
                    restore_control(c);
                }
            }
        }
    }
}

/// The response ops that begin with an LDAPResult (RFC 4511 §4.2.2 … §4.12).
const RESULT_OPS: &[u64] = &[1, 5, 7, 9, 11, 13, 15, 24];

fn restore_result_code(op: &mut StructureTag) {
    if op.class != TagClass::Application || !RESULT_OPS.contains(&op.id) {
        return;
    }
    let PL::C(parts) = &mut op.payload else {
        return;
    };
    let Some(pos) = parts
        .iter()
        .position(|p| p.class == TagClass::Context && p.id == 3)
    else {
        return;
    };
    let code = match parts.get(pos).map(|p| &p.payload) {
        Some(PL::C(urls)) => match urls.as_slice() {
            [StructureTag {
                payload: PL::P(v), ..
            }] => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.strip_prefix(RESULT_CODE_MARK))
                .and_then(|n| n.parse::<u32>().ok()),
            _ => None,
        },
        _ => None,
    };
    let Some(code) = code else {
        return;
    };
    parts.remove(pos);
    if let Some(first) = parts.first_mut() {
        first.payload = PL::P(ber_unsigned(code));
    }
}

/// The content octets of a non-negative INTEGER/ENUMERATED (X.690 §8.3: minimal two's
/// complement).
fn ber_unsigned(n: u32) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut out: Vec<u8> = bytes.get(first..).unwrap_or(&[0]).to_vec();
    if out.first().is_some_and(|b| b & 0x80 != 0) {
        out.insert(0, 0);
    }
    out
}

fn restore_control(c: &mut StructureTag) {
    let PL::C(parts) = &mut c.payload else {
        return;
    };
    let Some(StructureTag {
        payload: PL::P(oid),
        ..
    }) = parts.first()
    else {
        return;
    };
    let Some((real_oid, value)) = std::str::from_utf8(oid)
        .ok()
        .and_then(|s| s.strip_prefix(RAW_CONTROL_MARK))
        .and_then(|s| s.split_once(RAW_CONTROL_SEP))
        .and_then(|(o, b64)| {
            let v = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            Some((o.as_bytes().to_vec(), v))
        })
    else {
        return;
    };
    let octets = |v: Vec<u8>| StructureTag {
        class: TagClass::Universal,
        id: 4,
        payload: PL::P(v),
    };
    *parts = vec![octets(real_oid), octets(value)];
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use ldap3_proto::proto::{LdapMsg, LdapPartialAttribute};

    fn encode(msg: LdapMsg) -> Vec<u8> {
        let mut tag = StructureTag::from(msg);
        restore_extensions(&mut tag);
        let mut buf = BytesMut::new();
        lber::write::encode_into(&mut buf, tag).unwrap();
        buf.to_vec()
    }

    #[test]
    fn assertion_failed_goes_out_as_122_without_referral() {
        let res = ldap_result(ResultCode::AssertionFailed, String::new(), "x".into());
        let wire = encode(LdapMsg::new(5, LdapOp::ModifyResponse(res)));
        // SEQUENCE { INTEGER 5, [APPLICATION 7] { ENUMERATED 122, "", "x" } }
        assert_eq!(
            wire,
            vec![
                0x30, 0x0d, 0x02, 0x01, 0x05, 0x67, 0x08, 0x0a, 0x01, 0x7a, 0x04, 0x00, 0x04, 0x01,
                b'x'
            ]
        );
    }

    #[test]
    fn known_codes_are_untouched() {
        let res = ldap_result(ResultCode::NoSuchObject, "dc=x".into(), String::new());
        assert!(res.referral.is_empty());
        assert_eq!(res.code, ldap3_proto::LdapResultCode::NoSuchObject);
    }

    #[test]
    fn raw_control_carries_oid_and_value() {
        let c = raw_control(PRE_READ_OID, &[0x64, 0x00]);
        let res = ldap_result(ResultCode::Success, String::new(), String::new());
        let wire = encode(LdapMsg::new_with_ctrls(
            1,
            LdapOp::DelResponse(res),
            vec![c],
        ));
        let mut want = vec![0xa0, 0x16, 0x30, 0x14, 0x04, 0x0e];
        want.extend_from_slice(PRE_READ_OID.as_bytes());
        want.extend_from_slice(&[0x04, 0x02, 0x64, 0x00]);
        assert!(wire.ends_with(&want), "{wire:02x?}");
    }

    #[test]
    fn ber_unsigned_is_minimal() {
        assert_eq!(ber_unsigned(0), vec![0]);
        assert_eq!(ber_unsigned(122), vec![0x7a]);
        assert_eq!(ber_unsigned(128), vec![0, 0x80]);
        assert_eq!(ber_unsigned(4096), vec![0x10, 0x00]);
    }

    #[test]
    fn read_entry_is_a_search_result_entry() {
        let v = encode_read_entry(LdapSearchResultEntry {
            dn: "cn=a".into(),
            attributes: vec![LdapPartialAttribute {
                atype: "cn".into(),
                vals: vec![b"a".to_vec()],
            }],
        });
        assert_eq!(v.first(), Some(&0x64));
    }

    fn ctl(value: &[u8]) -> RawControl {
        RawControl {
            oid: MATCHED_VALUES_OID.into(),
            critical: false,
            value: Some(value.to_vec()),
        }
    }

    #[test]
    fn values_return_filter_refuses_and_or_not() {
        // SEQUENCE { present [7] "cn" }
        let ok = decode_values_return_filter(&ctl(&[0x30, 0x04, 0x87, 0x02, b'c', b'n']));
        assert_eq!(ok.unwrap(), vec![Filter::Present("cn".into())]);
        // SEQUENCE { and [0] { present "cn" } }
        let and = ctl(&[0x30, 0x06, 0xa0, 0x04, 0x87, 0x02, b'c', b'n']);
        assert!(decode_values_return_filter(&and).is_err());
        assert!(decode_values_return_filter(&ctl(&[0x04, 0x00])).is_err());
    }

    #[test]
    fn attribute_selection_reads_strings() {
        let c = ctl(&[0x30, 0x07, 0x04, 0x02, b'c', b'n', 0x04, 0x01, b'*']);
        assert_eq!(decode_attribute_selection(&c).unwrap(), vec!["cn", "*"]);
        assert!(decode_attribute_selection(&ctl(&[0x30, 0x02, 0x02, 0x00])).is_err());
        let none = RawControl {
            value: None,
            ..ctl(&[])
        };
        assert!(decode_attribute_selection(&none).is_err());
    }
}
