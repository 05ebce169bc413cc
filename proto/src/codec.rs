//! BER framing of LDAP messages for the server (RFC 4511 §5.1, §4.1.1, §4.1.11).
//!
//! [`ServerCodec`] decodes requests more defensively than `ldap3_proto::LdapCodec`:
//!
//! * the PDU size is checked from the length header, before the body is buffered;
//! * nesting depth and lengths are checked by an iterative walk before any recursive
//!   parsing, so deeply nested input cannot overflow the stack;
//! * a PDU whose message ID can be read but whose operation cannot be converted yields a
//!   [`Frame`] with [`MalformedOp`], so the server can answer with the right message ID
//!   and keep the connection;
//! * LDAPv2 binds are accepted (the version is reported in [`Frame::version`]);
//! * controls are returned raw ([`RawControl`]) with their criticality, so the server can
//!   answer unavailableCriticalExtension (RFC 4511 §4.1.11).

use crate::filter::MAX_DEPTH;
use crate::result::ResultCode;
use bytes::BytesMut;
use lber::common::TagClass;
use lber::structure::{StructureTag, PL};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{LdapExtendedResponse, LdapMsg, LdapOp, LdapResult};
use tokio_util::codec::{Decoder, Encoder};

/// Default maximum size of one request PDU, in bytes (tag, length and contents), 4 MiB.
/// Comparable to slapd's `sockbuf_max_incoming_auth`.
pub const DEFAULT_MAX_PDU: usize = 4 * 1024 * 1024;

/// Maximum size of one request PDU on a connection that is not bound (anonymous), in
/// bytes: slapd's `sockbuf_max_incoming` default (262,143; slapd.conf(5)). An anonymous
/// client cannot send the multi-megabyte filters an authenticated one may.
pub const ANONYMOUS_MAX_PDU: usize = 262_143;

/// Maximum nesting depth of constructed BER elements in a request (the LDAPMessage
/// SEQUENCE is depth 1). Leaves room for a filter of [`MAX_DEPTH`] levels inside a
/// SearchRequest (RFC 4511 §4.5.1) plus its enclosing structures.
pub const MAX_BER_DEPTH: usize = MAX_DEPTH + 16;

/// OID of the Notice of Disconnection unsolicited notification (RFC 4511 §4.4.1).
pub const NOTICE_OF_DISCONNECTION_OID: &str = "1.3.6.1.4.1.1466.20036";

/// Errors that end the LDAP session (RFC 4511 §4.1.1: the server should send a Notice
/// of Disconnection with protocolError and close the connection).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The PDU announced by the length header is larger than the configured maximum.
    #[error("PDU of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Announced size of the PDU in bytes (header included).
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The bytes are not an LDAPMessage whose message ID can be read; framing is lost.
    #[error("malformed LDAP PDU: {0}")]
    Malformed(String),
    /// Reading or writing the transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The protocolOp of a correctly framed LDAPMessage could not be decoded (RFC 4511
/// §4.1.1). The server should answer protocolError to `Frame::msgid` (choosing the
/// response type from `op_tag`) and may keep the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed protocol operation (tag {op_tag:?}): {reason}")]
pub struct MalformedOp {
    /// The protocolOp's [APPLICATION n] tag number, if it had that class.
    pub op_tag: Option<u64>,
    /// What was wrong.
    pub reason: String,
    /// The PDU is well formed but a DN it names (the entry, a new RDN or newSuperior, a
    /// search base, a bind name) is not UTF-8 (RFC 4514 §2): slapd answers
    /// invalidDNSyntax (34) there, not protocolError.
    pub invalid_dn: bool,
}

/// A control as sent by the client (RFC 4511 §4.1.11), not interpreted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawControl {
    /// controlType (an LDAPOID).
    pub oid: String,
    /// criticality (DEFAULT FALSE).
    pub critical: bool,
    /// controlValue, if present.
    pub value: Option<Vec<u8>>,
}

/// One decoded request PDU (RFC 4511 §4.1.1 LDAPMessage).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// messageID (0 ..= 2^31 - 1).
    pub msgid: i32,
    /// The operation, or why it could not be decoded.
    pub op: Result<LdapOp, MalformedOp>,
    /// The controls, in order (empty if the op is malformed).
    pub controls: Vec<RawControl>,
    /// For a BindRequest, the protocol version it asked for (2 or 3, RFC 4511 §4.2);
    /// `None` for other operations.
    pub version: Option<u8>,
    /// For a ModifyRequest, the indexes of the changes whose operation is increment (3,
    /// RFC 4525 §2). `ldap3_proto` has no increment operation, so the codec rewrites them
    /// to add before conversion and reports them here; the server applies them as
    /// increments.
    pub increments: Vec<usize>,
    /// For a simple BindRequest whose password is not UTF-8, the password's octets
    /// (`op` then carries a placeholder: see `raw_simple_password`); `None` otherwise.
    pub bind_password: Option<Vec<u8>>,
}

/// The request decoder / response encoder for one connection (RFC 4511 §5.1).
#[derive(Debug, Clone)]
pub struct ServerCodec {
    max_pdu: usize,
}

impl Default for ServerCodec {
    fn default() -> Self {
        ServerCodec::new(DEFAULT_MAX_PDU)
    }
}

impl ServerCodec {
    /// A codec refusing request PDUs larger than `max_pdu` bytes (header included).
    pub fn new(max_pdu: usize) -> ServerCodec {
        ServerCodec { max_pdu }
    }

    /// The configured maximum PDU size in bytes.
    pub fn max_pdu(&self) -> usize {
        self.max_pdu
    }

    /// Changes the maximum PDU size for the requests still to be read (the connection's
    /// identity changed: [`ANONYMOUS_MAX_PDU`] until a bind succeeds).
    pub fn set_max_pdu(&mut self, max_pdu: usize) {
        self.max_pdu = max_pdu;
    }
}

/// The result of reading one BER identifier and length (X.690 §8.1.2, §8.1.3).
enum Header {
    Incomplete,
    Bad(&'static str),
    TooBig,
    Ok { tag: u8, hlen: usize, len: usize },
}

const CONSTRUCTED: u8 = 0x20;

fn header(b: &[u8]) -> Header {
    let Some(&tag) = b.first() else {
        return Header::Incomplete;
    };
    if tag & 0x1f == 0x1f {
        return Header::Bad("high tag number form is not used by LDAP");
    }
    let Some(&l) = b.get(1) else {
        return Header::Incomplete;
    };
    if l < 0x80 {
        return Header::Ok {
            tag,
            hlen: 2,
            len: usize::from(l),
        };
    }
    if l == 0x80 {
        return Header::Bad("indefinite length is not allowed (RFC 4511 §5.1)");
    }
    if l == 0xff {
        return Header::Bad("reserved length octet");
    }
    let n = usize::from(l & 0x7f);
    let Some(bytes) = b.get(2..2 + n) else {
        return Header::Incomplete;
    };
    let mut len: usize = 0;
    for &byte in bytes {
        match len
            .checked_mul(256)
            .and_then(|v| v.checked_add(usize::from(byte)))
        {
            Some(v) => len = v,
            None => return Header::TooBig,
        }
    }
    Header::Ok {
        tag,
        hlen: 2 + n,
        len,
    }
}

enum WalkError {
    TooDeep,
    Bad(&'static str),
}

/// Checks, without recursion, that `data` is a sequence of well-formed definite-length
/// TLVs whose lengths nest consistently and whose constructed depth is ≤ `max_depth`.
/// Returns the constructed depth found (what the recursive decoders of `lber` and
/// `ldap3_proto` will recurse, see [`crate::stack::with_levels`]).
fn walk(data: &[u8], max_depth: usize) -> Result<usize, WalkError> {
    let mut ends: Vec<usize> = Vec::new();
    let mut deepest = 0;
    let mut pos = 0;
    loop {
        while ends.last() == Some(&pos) {
            ends.pop();
        }
        if pos >= data.len() {
            return Ok(deepest);
        }
        let cur_end = ends.last().copied().unwrap_or(data.len());
        let slice = data.get(pos..cur_end).unwrap_or_default();
        match header(slice) {
            Header::Incomplete | Header::TooBig => {
                return Err(WalkError::Bad("element length exceeds its container"))
            }
            Header::Bad(r) => return Err(WalkError::Bad(r)),
            Header::Ok { tag, hlen, len } => {
                let start = pos + hlen;
                let end = match start.checked_add(len) {
                    Some(e) if e <= cur_end => e,
                    _ => return Err(WalkError::Bad("element length exceeds its container")),
                };
                if tag & CONSTRUCTED != 0 {
                    ends.push(end);
                    if ends.len() > max_depth {
                        return Err(WalkError::TooDeep);
                    }
                    deepest = deepest.max(ends.len());
                    pos = start;
                } else {
                    pos = end;
                }
            }
        }
    }
}

/// Decodes a BER INTEGER's contents (two's complement, 1 to 8 octets).
fn ber_int(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    let init: i64 = if b[0] & 0x80 != 0 { -1 } else { 0 };
    Some(b.iter().fold(init, |v, &x| (v << 8) | i64::from(x)))
}

/// A messageID (RFC 4511 §4.1.1: `INTEGER (0 .. maxInt)`).
fn msgid_of(content: &[u8]) -> Option<i32> {
    ber_int(content)
        .and_then(|v| i32::try_from(v).ok())
        .filter(|v| *v >= 0)
}

/// Extracts the messageID and protocolOp tag of a PDU by hand, for PDUs that are too
/// deep to parse. `pdu` is the whole PDU, `hlen` its outer header length.
fn salvage(pdu: &[u8], hlen: usize) -> Option<(i32, Option<u64>)> {
    let body = pdu.get(hlen..)?;
    let Header::Ok { tag, hlen, len } = header(body) else {
        return None;
    };
    if tag != 0x02 {
        return None;
    }
    let msgid = msgid_of(body.get(hlen..hlen.checked_add(len)?)?)?;
    let op_tag = body
        .get(hlen + len)
        .filter(|t| *t & 0xc0 == 0x40 && *t & 0x1f != 0x1f)
        .map(|t| u64::from(t & 0x1f));
    Some((msgid, op_tag))
}

fn malformed(op_tag: Option<u64>, reason: impl Into<String>) -> MalformedOp {
    MalformedOp {
        op_tag,
        reason: reason.into(),
        invalid_dn: false,
    }
}

/// Checks the DNs a request names before `ldap3_proto` converts it, which turns a DN
/// that is not UTF-8 into a conversion error (protocolError) and, for ModifyDN, drops a
/// newSuperior it cannot read, so a malformed move would run as a rename in place.
/// Returns the reason and whether it is a DN that is not UTF-8 (invalidDNSyntax, as
/// slapd) rather than a malformed element (protocolError).
///
/// RFC 4511 §4.12 ModifyDNRequest: `newSuperior [0] LDAPDN OPTIONAL`, the last element.
fn request_dns(op: &StructureTag) -> Result<(), (String, bool)> {
    let utf8 = |t: Option<&StructureTag>, what: &str| match t.and_then(primitive) {
        Some(b) if std::str::from_utf8(b).is_err() => {
            Err((format!("invalid {what}: not UTF-8"), true))
        }
        _ => Ok(()),
    };
    if op.class != TagClass::Application {
        return Ok(());
    }
    if op.id == 10 {
        // DelRequest ::= [APPLICATION 10] LDAPDN
        return utf8(Some(op), "DN");
    }
    let PL::C(parts) = &op.payload else {
        return Ok(());
    };
    match op.id {
        0 => utf8(parts.get(1), "bind DN"),
        3 => utf8(parts.first(), "search base"),
        6 | 8 | 14 => utf8(parts.first(), "DN"),
        12 => {
            utf8(parts.first(), "DN")?;
            utf8(parts.get(1), "new RDN")?;
            if parts.len() > 4 {
                return Err(("too many elements in ModifyDNRequest".into(), false));
            }
            match parts.get(3) {
                None => Ok(()),
                Some(t) if is(t, TagClass::Context, 0) && primitive(t).is_some() => {
                    utf8(Some(t), "newSuperior")
                }
                Some(_) => Err(("invalid newSuperior".into(), false)),
            }
        }
        _ => Ok(()),
    }
}

/// The simple credentials of a BindRequest when they are not UTF-8 (RFC 4511 §4.2:
/// `simple [0] OCTET STRING`, any octets). `ldap3_proto` reads them as a String, so they
/// are replaced in `op` by a non-empty placeholder it accepts and returned here for the
/// server to use instead.
fn raw_simple_password(op: &mut StructureTag) -> Option<Vec<u8>> {
    let PL::C(parts) = &mut op.payload else {
        return None;
    };
    let cred = parts.get_mut(2).filter(|t| is(t, TagClass::Context, 0))?;
    let PL::P(bytes) = &mut cred.payload else {
        return None;
    };
    if std::str::from_utf8(bytes).is_ok() {
        return None;
    }
    Some(std::mem::replace(bytes, "\u{fffd}".as_bytes().to_vec()))
}

fn is(tag: &StructureTag, class: TagClass, id: u64) -> bool {
    tag.class == class && tag.id == id
}

fn primitive(tag: &StructureTag) -> Option<&[u8]> {
    match &tag.payload {
        PL::P(v) => Some(v),
        PL::C(_) => None,
    }
}

/// Parses `Controls ::= SEQUENCE OF control Control` (RFC 4511 §4.1.11); the optional
/// elements are told apart by their tags.
fn parse_controls(tag: StructureTag) -> Result<Vec<RawControl>, String> {
    if !is(&tag, TagClass::Context, 0) {
        return Err("third LDAPMessage element is not [0] Controls".into());
    }
    let PL::C(items) = tag.payload else {
        return Err("Controls is not constructed".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if !is(&item, TagClass::Universal, 16) {
            return Err("Control is not a SEQUENCE".into());
        }
        let PL::C(parts) = item.payload else {
            return Err("Control is not constructed".into());
        };
        let mut parts = parts.into_iter();
        let oid = parts
            .next()
            .filter(|t| is(t, TagClass::Universal, 4))
            .and_then(|t| t.expect_primitive())
            .and_then(|v| String::from_utf8(v).ok())
            .filter(|s| !s.is_empty())
            .ok_or("Control has no valid controlType")?;
        let mut critical = false;
        let mut value = None;
        let mut next = parts.next();
        if let Some(t) = next.as_ref().filter(|t| is(t, TagClass::Universal, 1)) {
            match primitive(t) {
                Some([b]) => critical = *b != 0,
                _ => return Err(format!("invalid criticality in control {oid}")),
            }
            next = parts.next();
        }
        if let Some(t) = next {
            if !is(&t, TagClass::Universal, 4) {
                return Err(format!("unexpected element in control {oid}"));
            }
            value = Some(
                t.expect_primitive()
                    .ok_or_else(|| format!("controlValue of {oid} is constructed"))?,
            );
        }
        if parts.next().is_some() {
            return Err(format!("too many elements in control {oid}"));
        }
        out.push(RawControl {
            oid,
            critical,
            value,
        });
    }
    Ok(out)
}

/// Rewrites an LDAPv2 BindRequest to v3 for `ldap3_proto`; returns the version asked.
fn bind_version(op: &mut StructureTag) -> Result<u8, String> {
    let PL::C(children) = &mut op.payload else {
        return Err("BindRequest is not constructed".into());
    };
    let Some(v) = children.first_mut() else {
        return Err("BindRequest is empty".into());
    };
    if !is(v, TagClass::Universal, 2) {
        return Err("BindRequest version is not an INTEGER".into());
    }
    match primitive(v).and_then(ber_int) {
        Some(3) => Ok(3),
        Some(2) => {
            v.payload = PL::P(vec![3]);
            Ok(2)
        }
        Some(n) => Err(format!("unsupported protocol version {n}")),
        None => Err("invalid BindRequest version".into()),
    }
}

/// Decodes one complete PDU (its outer header is `hlen` bytes).
fn decode_pdu(pdu: &[u8], hlen: usize) -> Result<Frame, CodecError> {
    let levels = match walk(pdu, MAX_BER_DEPTH) {
        Ok(levels) => levels,
        Err(WalkError::Bad(r)) => return Err(CodecError::Malformed(r.into())),
        Err(WalkError::TooDeep) => {
            let (msgid, op_tag) = salvage(pdu, hlen).ok_or_else(|| {
                CodecError::Malformed("nested too deeply and no messageID".into())
            })?;
            return Ok(Frame {
                msgid,
                op: Err(malformed(
                    op_tag,
                    format!("BER nested deeper than {MAX_BER_DEPTH} levels"),
                )),
                controls: Vec::new(),
                version: None,
                increments: Vec::new(),
                bind_password: None,
            });
        }
    };
    // `lber` and `ldap3_proto` decode recursively, one call per nesting level.
    crate::stack::with_levels(levels, || decode_walked(pdu))
}

/// Decodes a PDU that [`walk`] accepted.
fn decode_walked(pdu: &[u8]) -> Result<Frame, CodecError> {
    let (rem, tag) = lber::parse::Parser::new()
        .parse(pdu)
        .map_err(|e| CodecError::Malformed(format!("BER parse error: {e:?}")))?;
    if !rem.is_empty() {
        return Err(CodecError::Malformed("trailing bytes in PDU".into()));
    }
    let PL::C(elems) = tag.payload else {
        return Err(CodecError::Malformed(
            "LDAPMessage is not constructed".into(),
        ));
    };
    let mut elems = elems.into_iter();
    let msgid_tag = elems
        .next()
        .ok_or_else(|| CodecError::Malformed("empty LDAPMessage".into()))?;
    let msgid = Some(&msgid_tag)
        .filter(|t| is(t, TagClass::Universal, 2))
        .and_then(primitive)
        .and_then(msgid_of)
        .ok_or_else(|| CodecError::Malformed("invalid messageID".into()))?;
    let bad = |op_tag, reason: String| Frame {
        msgid,
        op: Err(malformed(op_tag, reason)),
        controls: Vec::new(),
        version: None,
        increments: Vec::new(),
        bind_password: None,
    };
    let Some(mut op) = elems.next() else {
        return Ok(bad(None, "LDAPMessage without protocolOp".into()));
    };
    let op_tag = (op.class == TagClass::Application).then_some(op.id);
    let controls = match elems.next().map(parse_controls) {
        None => Vec::new(),
        Some(Ok(c)) => c,
        Some(Err(r)) => return Ok(bad(op_tag, r)),
    };
    if elems.next().is_some() {
        return Ok(bad(op_tag, "too many elements in LDAPMessage".into()));
    }
    if let Err((reason, invalid_dn)) = request_dns(&op) {
        let mut frame = bad(op_tag, reason);
        if let Err(m) = &mut frame.op {
            m.invalid_dn = invalid_dn;
        }
        return Ok(frame);
    }
    let mut version = None;
    let mut bind_password = None;
    if is(&op, TagClass::Application, 0) {
        match bind_version(&mut op) {
            Ok(v) => version = Some(v),
            Err(r) => return Ok(bad(op_tag, r)),
        }
        // ldap3_proto only decodes simple credentials; a SASL bind is decoded here so the
        // server can answer it (authMethodNotSupported) instead of protocolError.
        if let Some(req) = sasl_bind(&op) {
            return Ok(Frame {
                msgid,
                op: Ok(LdapOp::BindRequest(req)),
                controls,
                version,
                increments: Vec::new(),
                bind_password: None,
            });
        }
        bind_password = raw_simple_password(&mut op);
    }
    if is(&op, TagClass::Application, 3) {
        if let Err(r) = search_limits(&op).and_then(|()| search_filter(&op)) {
            return Ok(bad(op_tag, r.into()));
        }
    }
    let increments = if is(&op, TagClass::Application, 6) {
        modify_increments(&mut op)
    } else {
        Vec::new()
    };
    let msg = StructureTag {
        class: TagClass::Universal,
        id: 16,
        payload: PL::C(vec![msgid_tag, op]),
    };
    let op = LdapMsg::try_from(msg)
        .map(|m| m.op)
        .map_err(|e| malformed(op_tag, e.to_string()));
    Ok(Frame {
        msgid,
        op,
        controls,
        version,
        increments,
        bind_password,
    })
}

/// Checks the sizeLimit and timeLimit of a SearchRequest (RFC 4511 §4.5.1: both
/// `INTEGER (0 .. maxInt)`). `ldap3_proto` reads them without a sign check, so a negative
/// limit would mean "no limit"; slapd answers protocolError ("invalid size limit",
/// "invalid time limit"), and so does the server for the reason returned here. Anything
/// else unexpected is left alone for `ldap3_proto` to judge.
fn search_limits(op: &StructureTag) -> Result<(), &'static str> {
    let PL::C(parts) = &op.payload else {
        return Ok(());
    };
    let in_range = |t: Option<&StructureTag>| match t {
        Some(t) if is(t, TagClass::Universal, 2) => primitive(t)
            .and_then(ber_int)
            .is_some_and(|v| (0..=i64::from(i32::MAX)).contains(&v)),
        _ => true,
    };
    if !in_range(parts.get(3)) {
        return Err("invalid size limit");
    }
    if !in_range(parts.get(4)) {
        return Err("invalid time limit");
    }
    Ok(())
}

/// Checks the shape of a SearchRequest's filter where `ldap3_proto` is lenient (RFC 4511
/// §4.5.1): `not [2] Filter` holds exactly one filter (`ldap3_proto` keeps the first and
/// drops the rest), and `extensibleMatch [9]` carries its `matchValue [3]` (without it,
/// `ldap3_proto` matches an empty value). slapd treats both as decoding errors. The
/// nesting depth is bounded by the codec's walk, so the explicit stack stays small.
fn search_filter(op: &StructureTag) -> Result<(), &'static str> {
    let PL::C(parts) = &op.payload else {
        return Ok(());
    };
    let mut stack: Vec<&StructureTag> = parts.get(6).into_iter().collect();
    while let Some(f) = stack.pop() {
        if f.class != TagClass::Context {
            continue;
        }
        match (f.id, &f.payload) {
            (0 | 1, PL::C(children)) => stack.extend(children.iter()),
            (2, PL::C(children)) => {
                if children.len() != 1 {
                    return Err("a not filter holds exactly one filter");
                }
                stack.extend(children.iter());
            }
            (9, PL::C(items))
                if !items
                    .iter()
                    .any(|i| i.class == TagClass::Context && i.id == 3) =>
            {
                return Err("extensibleMatch without matchValue");
            }
            _ => {}
        }
    }
    Ok(())
}

/// A BindRequest whose authentication choice is `sasl [3] SaslCredentials` (RFC 4511
/// §4.2: `SaslCredentials ::= SEQUENCE { mechanism LDAPString, credentials OCTET STRING
/// OPTIONAL }`), decoded; None for any other bind.
fn sasl_bind(op: &StructureTag) -> Option<ldap3_proto::proto::LdapBindRequest> {
    use ldap3_proto::proto::{LdapBindCred, LdapBindRequest, SaslCredentials};
    let PL::C(parts) = &op.payload else {
        return None;
    };
    let auth = parts.get(2).filter(|t| is(t, TagClass::Context, 3))?;
    let dn = parts
        .get(1)
        .and_then(primitive)
        .map(|b| String::from_utf8_lossy(b).into_owned())?;
    let PL::C(sasl) = &auth.payload else {
        return None;
    };
    let mechanism = sasl
        .first()
        .and_then(primitive)
        .map(|b| String::from_utf8_lossy(b).into_owned())?;
    let credentials = sasl
        .get(1)
        .and_then(primitive)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    Some(LdapBindRequest {
        dn,
        cred: LdapBindCred::SASL(SaslCredentials {
            mechanism,
            credentials,
        }),
    })
}

/// Rewrites the increment (3) changes of a ModifyRequest to add (0) so that `ldap3_proto`
/// accepts them, returning their indexes (RFC 4525 §2: `operation ENUMERATED { ...,
/// increment (3) }`). Anything unexpected is left alone for `ldap3_proto` to judge.
fn modify_increments(op: &mut StructureTag) -> Vec<usize> {
    let mut out = Vec::new();
    let PL::C(parts) = &mut op.payload else {
        return out;
    };
    let Some(StructureTag {
        payload: PL::C(changes),
        ..
    }) = parts.get_mut(1)
    else {
        return out;
    };
    for (i, change) in changes.iter_mut().enumerate() {
        let PL::C(fields) = &mut change.payload else {
            continue;
        };
        if let Some(operation) = fields.first_mut() {
            if is(operation, TagClass::Universal, 10) && primitive(operation) == Some(&[3][..]) {
                operation.payload = PL::P(vec![0]);
                out.push(i);
            }
        }
    }
    out
}

/// Decodes request PDUs (RFC 4511 §5.1: one LDAPMessage per BER element).
impl Decoder for ServerCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != 0x30 {
            return Err(CodecError::Malformed(format!(
                "expected an LDAPMessage SEQUENCE (0x30), found 0x{:02x}",
                buf[0]
            )));
        }
        let (hlen, len) = match header(buf) {
            Header::Incomplete => {
                buf.reserve(16);
                return Ok(None);
            }
            Header::Bad(r) => return Err(CodecError::Malformed(r.into())),
            Header::TooBig => {
                return Err(CodecError::TooLarge {
                    size: usize::MAX,
                    max: self.max_pdu,
                })
            }
            Header::Ok { hlen, len, .. } => (hlen, len),
        };
        let size = hlen.saturating_add(len);
        if size > self.max_pdu {
            return Err(CodecError::TooLarge {
                size,
                max: self.max_pdu,
            });
        }
        if buf.len() < size {
            buf.reserve(size - buf.len());
            return Ok(None);
        }
        let pdu = buf.split_to(size);
        decode_pdu(&pdu, hlen).map(Some)
    }
}

/// Encodes responses exactly as `ldap3_proto` does (RFC 4511 §4.1.1, BER per §5.1).
impl Encoder<LdapMsg> for ServerCodec {
    type Error = CodecError;

    fn encode(&mut self, msg: LdapMsg, buf: &mut BytesMut) -> Result<(), CodecError> {
        // The per-entry message of a search is written directly (crate::entry_ber); it
        // never carries the markers of crate::controls (those are in results and controls).
        if crate::entry_ber::encode_search_entry(&msg, buf) {
            return Ok(());
        }
        let mut tag = StructureTag::from(msg);
        // Result codes and response controls ldap3_proto cannot express.
        crate::controls::restore_extensions(&mut tag);
        lber::write::encode_into(buf, tag)?;
        Ok(())
    }
}

/// A response on its way to a connection's writer: a message the codec encodes, or
/// messages already encoded by the operation that produced them (a search encodes its
/// entries on its own thread, [`crate::entry_ber`], so the writer only copies bytes and
/// the entries are freed where they were built).
#[derive(Debug)]
pub enum Outgoing {
    /// One message, encoded by the writer's codec.
    Msg(LdapMsg),
    /// Complete LDAPMessages (BER, RFC 4511 §4.1.1), written as they are.
    Encoded(BytesMut),
}

impl From<LdapMsg> for Outgoing {
    fn from(m: LdapMsg) -> Outgoing {
        Outgoing::Msg(m)
    }
}

/// Encodes a message as [`Encoder<LdapMsg>`] does; encoded messages are copied as they are.
impl Encoder<Outgoing> for ServerCodec {
    type Error = CodecError;

    fn encode(&mut self, out: Outgoing, buf: &mut BytesMut) -> Result<(), CodecError> {
        match out {
            Outgoing::Msg(m) => self.encode(m, buf),
            Outgoing::Encoded(b) => {
                buf.extend_from_slice(&b);
                Ok(())
            }
        }
    }
}

impl RawControl {
    /// The controlValue parsed as BER, for controls `ldap3_proto` does not decode (e.g.
    /// the server-side sort request, RFC 2891). The nesting depth is checked against
    /// [`MAX_BER_DEPTH`] first, so parsing cannot overflow the stack. None when the value
    /// is absent, too deep, malformed or followed by trailing bytes.
    pub fn value_tag(&self) -> Option<StructureTag> {
        let v = self.value.as_ref()?;
        let levels = walk(v, MAX_BER_DEPTH).ok()?;
        let (rem, tag) =
            crate::stack::with_levels(levels, || lber::parse::Parser::new().parse(v).ok())?;
        rem.is_empty().then_some(tag)
    }

    /// Converts to `ldap3_proto`'s typed control (e.g. paged results, RFC 2696, or sync
    /// request, RFC 4533) by re-encoding it as a Control SEQUENCE (RFC 4511 §4.1.11).
    /// Returns `None` if `ldap3_proto` cannot decode it, or if the value is BER nested
    /// deeper than [`MAX_BER_DEPTH`] (checked first, so parsing cannot overflow the stack).
    /// Unknown OIDs give `LdapControl::Unknown`.
    pub fn to_ldap3(&self) -> Option<LdapControl> {
        let levels = match &self.value {
            Some(v) => match walk(v, MAX_BER_DEPTH) {
                Ok(levels) => levels,
                Err(WalkError::TooDeep) => return None,
                // Malformed values are left for `ldap3_proto` to refuse.
                Err(WalkError::Bad(_)) => 0,
            },
            None => 0,
        };
        // `ldap3_proto` parses the value recursively (two levels more for the Control).
        crate::stack::with_levels(levels + 2, || self.to_ldap3_walked())
    }

    /// [`RawControl::to_ldap3`] once the value's depth is known.
    fn to_ldap3_walked(&self) -> Option<LdapControl> {
        let octets = |v: Vec<u8>| StructureTag {
            class: TagClass::Universal,
            id: 4,
            payload: PL::P(v),
        };
        let mut parts = vec![octets(self.oid.clone().into_bytes())];
        if self.critical {
            parts.push(StructureTag {
                class: TagClass::Universal,
                id: 1,
                payload: PL::P(vec![0xff]),
            });
        }
        if let Some(v) = &self.value {
            parts.push(octets(v.clone()));
        }
        LdapControl::try_from(StructureTag {
            class: TagClass::Universal,
            id: 16,
            payload: PL::C(parts),
        })
        .ok()
    }
}

/// The Notice of Disconnection unsolicited notification (RFC 4511 §4.4.1): an
/// ExtendedResponse with messageID 0 and responseName 1.3.6.1.4.1.1466.20036.
pub fn notice_of_disconnection(code: ResultCode, msg: &str) -> LdapMsg {
    LdapMsg {
        msgid: 0,
        op: LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: LdapResult {
                code: code.into(),
                matcheddn: String::new(),
                message: msg.to_owned(),
                referral: Vec::new(),
            },
            name: Some(NOTICE_OF_DISCONNECTION_OID.to_owned()),
            value: None,
        }),
        ctrl: Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::filter::Filter;
    use ldap3_proto::proto::{
        LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapFilter, LdapSearchRequest,
        LdapSearchScope,
    };
    use proptest::prelude::*;

    fn push_len(v: &mut Vec<u8>, len: usize) {
        if len < 128 {
            v.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            v.push(0x80 | (bytes.len() - skip) as u8);
            v.extend_from_slice(&bytes[skip..]);
        }
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        push_len(&mut v, content.len());
        v.extend_from_slice(content);
        v
    }

    #[test]
    fn modify_increment_is_reported_and_rewritten() {
        let change = |op: u8, attr: &[u8], val: &[u8]| {
            let mut pa = tlv(0x04, attr);
            pa.extend(tlv(0x31, &tlv(0x04, val)));
            let mut c = tlv(0x0a, &[op]);
            c.extend(tlv(0x30, &pa));
            tlv(0x30, &c)
        };
        let mut changes = change(2, b"cn", b"x");
        changes.extend(change(3, b"uidNumber", b"1"));
        let mut req = tlv(0x04, b"cn=a,dc=b");
        req.extend(tlv(0x30, &changes));
        let mut msg = tlv(0x02, &[9]);
        msg.extend(tlv(0x66, &req));
        let mut buf = BytesMut::from(&tlv(0x30, &msg)[..]);
        let f = decode_one(&mut buf);
        assert_eq!(f.msgid, 9);
        assert_eq!(f.increments, vec![1]);
        match f.op {
            Ok(LdapOp::ModifyRequest(m)) => assert_eq!(m.changes.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A ModifyDNRequest (RFC 4511 §4.9) for `cn=a,dc=b` to `cn=c`, with `sup` (a whole
    /// element, tag included) as its fourth element.
    fn modify_dn(sup: &[u8]) -> Frame {
        let mut req = tlv(0x04, b"cn=a,dc=b");
        req.extend(tlv(0x04, b"cn=c"));
        req.extend(tlv(0x01, &[0xff]));
        req.extend_from_slice(sup);
        let mut msg = tlv(0x02, &[4]);
        msg.extend(tlv(0x6c, &req));
        decode_one(&mut BytesMut::from(&tlv(0x30, &msg)[..]))
    }

    #[test]
    fn a_new_superior_that_cannot_be_read_fails_the_request() {
        // Well formed: the move is decoded with its newSuperior.
        match modify_dn(&tlv(0x80, b"ou=x,dc=b")).op {
            Ok(LdapOp::ModifyDNRequest(r)) => {
                assert_eq!(r.new_superior.as_deref(), Some("ou=x,dc=b"))
            }
            other => panic!("unexpected {other:?}"),
        }
        // Not UTF-8: invalidDNSyntax, as slapd ("invalid newSuperior"), never a rename in
        // place (ldap3_proto alone drops the element).
        let bad = modify_dn(&tlv(0x80, &[0xff, 0xfe])).op.unwrap_err();
        assert!(bad.invalid_dn, "{bad:?}");
        assert_eq!(bad.op_tag, Some(12));
        // Another tag, or constructed, or a fifth element: protocolError.
        for sup in [
            tlv(0x04, b"ou=x,dc=b"),
            tlv(0xa0, &tlv(0x04, b"ou=x,dc=b")),
            [tlv(0x80, b"ou=x,dc=b"), tlv(0x80, b"ou=y")].concat(),
        ] {
            let bad = modify_dn(&sup).op.unwrap_err();
            assert!(!bad.invalid_dn, "{bad:?}");
        }
    }

    #[test]
    fn dns_that_are_not_utf8_are_invalid_dn_syntax() {
        // DelRequest ::= [APPLICATION 10] LDAPDN
        let mut msg = tlv(0x02, &[5]);
        msg.extend(tlv(0x4a, &[b'c', b'n', b'=', 0xe9]));
        let f = decode_one(&mut BytesMut::from(&tlv(0x30, &msg)[..]));
        assert!(f.op.unwrap_err().invalid_dn);
        // A compare's entry.
        let mut ava = tlv(0x04, b"cn");
        ava.extend(tlv(0x04, b"x"));
        let mut req = tlv(0x04, &[0xff]);
        req.extend(tlv(0x30, &ava));
        let mut msg = tlv(0x02, &[6]);
        msg.extend(tlv(0x6e, &req));
        let f = decode_one(&mut BytesMut::from(&tlv(0x30, &msg)[..]));
        assert!(f.op.unwrap_err().invalid_dn);
    }

    #[test]
    fn a_simple_bind_password_need_not_be_utf8() {
        let bind_with = |pw: &[u8]| {
            let mut req = tlv(0x02, &[3]);
            req.extend(tlv(0x04, b"cn=a,dc=b"));
            req.extend(tlv(0x80, pw));
            let mut msg = tlv(0x02, &[1]);
            msg.extend(tlv(0x60, &req));
            decode_one(&mut BytesMut::from(&tlv(0x30, &msg)[..]))
        };
        // Latin-1 "s\u{e9}cret": the octets come beside the request.
        let f = bind_with(b"s\xe9cret");
        assert!(matches!(f.op, Ok(LdapOp::BindRequest(_))), "{:?}", f.op);
        assert_eq!(f.bind_password.as_deref(), Some(&b"s\xe9cret"[..]));
        // UTF-8: in the request as before.
        let f = bind_with("sécret".as_bytes());
        assert_eq!(f.bind_password, None);
        match f.op {
            Ok(LdapOp::BindRequest(LdapBindRequest {
                cred: LdapBindCred::Simple(p),
                ..
            })) => assert_eq!(p, "sécret"),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn ldap3_encode(msg: LdapMsg) -> BytesMut {
        let mut buf = BytesMut::new();
        ldap3_proto::LdapCodec::default()
            .encode(msg, &mut buf)
            .unwrap();
        buf
    }

    fn encode_tag(tag: StructureTag) -> BytesMut {
        let mut buf = BytesMut::new();
        lber::write::encode_into(&mut buf, tag).unwrap();
        buf
    }

    fn search(filter: LdapFilter) -> LdapOp {
        LdapOp::SearchRequest(LdapSearchRequest {
            base: "dc=example,dc=com".into(),
            scope: LdapSearchScope::Subtree,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: vec!["cn".into()],
        })
    }

    fn bind(dn: &str) -> LdapOp {
        LdapOp::BindRequest(LdapBindRequest {
            dn: dn.into(),
            cred: LdapBindCred::Simple("secret".into()),
        })
    }

    fn decode_one(buf: &mut BytesMut) -> Frame {
        let f = ServerCodec::default().decode(buf).unwrap().unwrap();
        assert!(buf.is_empty());
        f
    }

    #[test]
    fn search_with_paged_control() {
        let op = search(LdapFilter::Present("objectClass".into()));
        let mut buf = ldap3_encode(LdapMsg {
            msgid: 7,
            op: op.clone(),
            ctrl: vec![LdapControl::SimplePagedResults {
                size: 100,
                cookie: b"opaque".to_vec(),
            }],
        });
        let f = decode_one(&mut buf);
        assert_eq!(f.msgid, 7);
        assert_eq!(f.op, Ok(op));
        assert_eq!(f.version, None);
        assert_eq!(f.controls.len(), 1);
        assert_eq!(f.controls[0].oid, "1.2.840.113556.1.4.319");
        assert!(!f.controls[0].critical);
        assert_eq!(
            f.controls[0].to_ldap3(),
            Some(LdapControl::SimplePagedResults {
                size: 100,
                cookie: b"opaque".to_vec()
            })
        );
    }

    #[test]
    fn unknown_critical_controls_keep_criticality() {
        let mut tag = StructureTag::from(LdapMsg {
            msgid: 9,
            op: LdapOp::DelRequest("cn=a,dc=x".into()),
            ctrl: vec![],
        });
        let octets = |v: &[u8]| StructureTag {
            class: TagClass::Universal,
            id: 4,
            payload: PL::P(v.to_vec()),
        };
        let boolean = |b: u8| StructureTag {
            class: TagClass::Universal,
            id: 1,
            payload: PL::P(vec![b]),
        };
        let seq = |c: Vec<StructureTag>| StructureTag {
            class: TagClass::Universal,
            id: 16,
            payload: PL::C(c),
        };
        let controls = StructureTag {
            class: TagClass::Context,
            id: 0,
            payload: PL::C(vec![
                seq(vec![octets(b"1.2.3.4"), boolean(0xff), octets(b"v")]),
                seq(vec![octets(b"1.2.3.5"), boolean(0xff)]),
                seq(vec![octets(b"1.2.3.6"), octets(b"w")]),
                seq(vec![octets(b"1.2.3.7")]),
            ]),
        };
        if let PL::C(c) = &mut tag.payload {
            c.push(controls);
        }
        let f = decode_one(&mut encode_tag(tag));
        assert_eq!(f.msgid, 9);
        assert_eq!(f.op, Ok(LdapOp::DelRequest("cn=a,dc=x".into())));
        let rc = |oid: &str, critical, value: Option<&[u8]>| RawControl {
            oid: oid.into(),
            critical,
            value: value.map(<[u8]>::to_vec),
        };
        assert_eq!(
            f.controls,
            vec![
                rc("1.2.3.4", true, Some(b"v")),
                rc("1.2.3.5", true, None),
                rc("1.2.3.6", false, Some(b"w")),
                rc("1.2.3.7", false, None),
            ]
        );
        assert_eq!(
            f.controls[0].to_ldap3(),
            Some(LdapControl::Unknown {
                oid: "1.2.3.4".into()
            })
        );
    }

    #[test]
    fn bad_controls_are_malformed_op() {
        let mut tag = StructureTag::from(LdapMsg {
            msgid: 4,
            op: LdapOp::DelRequest("cn=a".into()),
            ctrl: vec![],
        });
        if let PL::C(c) = &mut tag.payload {
            c.push(StructureTag {
                class: TagClass::Context,
                id: 0,
                payload: PL::C(vec![StructureTag {
                    class: TagClass::Universal,
                    id: 2,
                    payload: PL::P(vec![1]),
                }]),
            });
        }
        let f = decode_one(&mut encode_tag(tag));
        assert_eq!(f.msgid, 4);
        assert_eq!(f.op.unwrap_err().op_tag, Some(10));
    }

    fn bind_with_version(v: u8) -> BytesMut {
        let mut tag = StructureTag::from(LdapMsg {
            msgid: 1,
            op: bind("cn=admin"),
            ctrl: vec![],
        });
        if let PL::C(c) = &mut tag.payload {
            if let PL::C(b) = &mut c[1].payload {
                b[0].payload = PL::P(vec![v]);
            }
        }
        encode_tag(tag)
    }

    #[test]
    fn bind_versions() {
        let f = decode_one(&mut bind_with_version(2));
        assert_eq!(f.version, Some(2));
        assert_eq!(f.op, Ok(bind("cn=admin")));
        let f = decode_one(&mut bind_with_version(3));
        assert_eq!(f.version, Some(3));
        assert_eq!(f.op, Ok(bind("cn=admin")));
        let f = decode_one(&mut bind_with_version(4));
        assert_eq!(f.msgid, 1);
        assert_eq!(f.version, None);
        let err = f.op.unwrap_err();
        assert_eq!(err.op_tag, Some(0));
        assert!(err.reason.contains("version 4"));
    }

    #[test]
    fn split_reads_and_back_to_back_pdus() {
        let a = ldap3_encode(LdapMsg {
            msgid: 1,
            op: search(LdapFilter::Equality("cn".into(), "x".repeat(300))),
            ctrl: vec![],
        });
        let b = ldap3_encode(LdapMsg {
            msgid: 2,
            op: LdapOp::UnbindRequest,
            ctrl: vec![],
        });
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::new();
        for (i, byte) in a.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            let r = codec.decode(&mut buf).unwrap();
            if i + 1 < a.len() {
                assert!(r.is_none(), "frame too early at byte {i}");
            } else {
                assert_eq!(r.unwrap().msgid, 1);
            }
        }
        assert!(buf.is_empty());

        let mut buf = BytesMut::new();
        buf.extend_from_slice(&a);
        buf.extend_from_slice(&b);
        buf.extend_from_slice(&a[..5]);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().msgid, 1);
        let f = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!((f.msgid, f.op), (2, Ok(LdapOp::UnbindRequest)));
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(buf.len(), 5);
    }

    #[test]
    fn oversize_rejected_before_body() {
        let mut codec = ServerCodec::new(1024);
        let mut buf = BytesMut::from(&[0x30, 0x83, 0x01, 0x00, 0x00][..]);
        match codec.decode(&mut buf) {
            Err(CodecError::TooLarge { size, max }) => {
                assert_eq!((size, max), (65536 + 5, 1024));
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut buf = BytesMut::from(&[0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(ServerCodec::default().decode(&mut buf), Ok(None)));
        buf.extend_from_slice(&[0xff]);
        assert!(matches!(
            ServerCodec::default().decode(&mut buf),
            Err(CodecError::TooLarge { .. })
        ));
        let mut buf = BytesMut::from(&[0x30, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0][..]);
        assert!(matches!(
            ServerCodec::default().decode(&mut buf),
            Err(CodecError::TooLarge { .. })
        ));
    }

    /// A SearchRequest PDU whose filter is `depth` nested `not`s around `(cn=*)`.
    fn deep_search(msgid: u8, depth: usize) -> Vec<u8> {
        let inner = tlv(0x87, b"cn");
        let mut headers = Vec::with_capacity(depth);
        let mut len = inner.len();
        for _ in 0..depth {
            let mut h = vec![0xa2];
            push_len(&mut h, len);
            len += h.len();
            headers.push(h);
        }
        let mut filter = Vec::with_capacity(len);
        for h in headers.iter().rev() {
            filter.extend_from_slice(h);
        }
        filter.extend_from_slice(&inner);
        let mut body = tlv(0x04, b"dc=x");
        body.extend(tlv(0x0a, &[2]));
        body.extend(tlv(0x0a, &[0]));
        body.extend(tlv(0x02, &[0]));
        body.extend(tlv(0x02, &[0]));
        body.extend(tlv(0x01, &[0]));
        body.extend(filter);
        body.extend(tlv(0x30, &[]));
        let mut msg = tlv(0x02, &[msgid]);
        msg.extend(tlv(0x63, &body));
        tlv(0x30, &msg)
    }

    #[test]
    fn deeply_nested_filter_is_malformed_op() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&deep_search(42, 10_000));
        buf.extend_from_slice(&deep_search(43, 200));
        let mut codec = ServerCodec::default();
        let f = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(f.msgid, 42);
        let err = f.op.unwrap_err();
        assert_eq!(err.op_tag, Some(3));
        // The connection stays usable: the next PDU decodes.
        let f = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(f.msgid, 43);
        let Ok(LdapOp::SearchRequest(s)) = f.op else {
            panic!("expected a search");
        };
        assert_eq!(Filter::try_from(&s.filter).unwrap().depth(), 201);
        assert!(buf.is_empty());
        let f = decode_one(&mut BytesMut::from(&deep_search(44, MAX_DEPTH + 1)[..]));
        let Ok(LdapOp::SearchRequest(s)) = f.op else {
            panic!("expected a search");
        };
        assert!(Filter::try_from(&s.filter).is_err());
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            &[0x01, 0x02, 0x03][..],
            &[0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00],
            &[0x30, 0x03, 0x04, 0x01, 0x41],
            &[0x30, 0x03, 0x02, 0x01, 0xff],
            &[0x30, 0x05, 0x02, 0x01, 0x01, 0x04, 0x05],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x02, 0x02, 0x01],
            &[0x3f, 0x01, 0x00],
            &[0x30, 0xff, 0x00],
        ] {
            let mut buf = BytesMut::from(bad);
            assert!(
                ServerCodec::default().decode(&mut buf).is_err(),
                "{bad:02x?} should fail"
            );
        }
        // Unknown operation: answerable.
        let mut buf = BytesMut::from(&[0x30, 0x05, 0x02, 0x01, 0x05, 0x5e, 0x00][..]);
        let f = decode_one(&mut buf);
        assert_eq!(f.msgid, 5);
        assert_eq!(f.op.unwrap_err().op_tag, Some(30));
        // Missing operation.
        let f = decode_one(&mut BytesMut::from(&[0x30, 0x03, 0x02, 0x01, 0x05][..]));
        assert_eq!(f.op.unwrap_err().op_tag, None);
    }

    #[test]
    fn notice_of_disconnection_encodes() {
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::new();
        codec
            .encode(
                notice_of_disconnection(ResultCode::ProtocolError, "bye"),
                &mut buf,
            )
            .unwrap();
        let msg = ldap3_proto::LdapCodec::default()
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(msg.msgid, 0);
        let LdapOp::ExtendedResponse(r) = msg.op else {
            panic!("not an extended response");
        };
        assert_eq!(r.name.as_deref(), Some(NOTICE_OF_DISCONNECTION_OID));
        assert_eq!(r.res.message, "bye");
        assert_eq!(r.res.code, ResultCode::ProtocolError.into());
    }

    fn drain(bytes: &[u8]) {
        let mut codec = ServerCodec::new(1 << 16);
        let mut buf = BytesMut::from(bytes);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            drain(&bytes);
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut msg = tlv(0x02, &[1]);
            msg.extend(body);
            drain(&tlv(0x30, &msg));
        }

        #[test]
        fn arbitrary_op_contents_never_panic(tag in 0x60u8..0x7f, body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut msg = tlv(0x02, &[1]);
            msg.extend(tlv(tag, &body));
            drain(&tlv(0x30, &msg));
        }

        #[test]
        fn control_values_never_panic(oid in "1\\.2\\.840\\.113556\\.1\\.4\\.319|1\\.3\\.6\\.1\\.4\\.1\\.4203\\.1\\.9\\.1\\.1|[0-9.]{1,8}",
                                      critical in any::<bool>(),
                                      value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64))) {
            let _ = RawControl { oid, critical, value }.to_ldap3();
        }
    }
}
