//! Distinguished names: RFC 4514 string representation, parsed into [`Dn`] / [`Rdn`] / [`Ava`].
//!
//! Parsing keeps attribute types as written and values as raw (unescaped) bytes; it does not
//! lowercase or otherwise normalize anything. Normalization needs the schema's equality
//! matching rules and lives in `oxldap_schema::dn`.

use serde::{Deserialize, Serialize};

/// One attribute value assertion of an RDN (`cn=Foo`), RFC 4514 §2.3.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ava {
    /// The attribute type as written: a descriptor (`cn`) or a numeric OID (`2.5.4.3`).
    pub attr: String,
    /// The attribute value with every RFC 4514 escape removed (raw bytes, usually UTF-8).
    /// Serialized as a byte string (one copy to read; the same bytes as a `Vec<u8>` in
    /// bincode).
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// A relative distinguished name: a non-empty set of AVAs joined by `+` (RFC 4514 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rdn {
    /// The AVAs in the order written. Invariant: never empty.
    pub avas: Vec<Ava>,
}

/// A distinguished name: RDNs from the leaf (first) to the root (last), RFC 4514 §2.1.
/// The empty DN (no RDNs) names the root DSE.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Dn {
    /// RDNs, leaf first, as in the string form.
    pub rdns: Vec<Rdn>,
}

/// Why a string is not an RFC 4514 DN. Maps to invalidDNSyntax (34).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    /// The string breaks the RFC 4514 §3 grammar at byte offset `at`.
    #[error("invalid DN syntax at offset {at}: {reason}")]
    Syntax {
        /// Byte offset into the input where the problem was found.
        at: usize,
        /// What was expected there.
        reason: &'static str,
    },
}

impl DnError {
    fn at(at: usize, reason: &'static str) -> DnError {
        DnError::Syntax { at, reason }
    }
}

/// Characters that RFC 4514 §2.4 requires to be escaped anywhere in a value
/// (`escaped = DQUOTE / PLUS / COMMA / SEMI / LANGLE / RANGLE` plus the backslash).
fn is_always_escaped(c: char) -> bool {
    matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A cursor over the bytes of a DN string.
struct DnParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> DnParser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// `attributeType = descr / numericoid` (RFC 4514 §3, RFC 4512 §1.4).
    fn attr_type(&mut self) -> Result<String, DnError> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() => {
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'-') {
                    self.pos += 1;
                }
            }
            Some(c) if c.is_ascii_digit() => loop {
                let num_start = self.pos;
                while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                    self.pos += 1;
                }
                if self.pos == num_start {
                    return Err(DnError::at(self.pos, "expected a digit in numeric OID"));
                }
                if self.pos - num_start > 1 && self.s[num_start] == b'0' {
                    return Err(DnError::at(num_start, "leading zero in numeric OID"));
                }
                if self.peek() == Some(b'.') {
                    self.pos += 1;
                } else {
                    break;
                }
            },
            _ => return Err(DnError::at(start, "expected an attribute type")),
        }
        let t = &self.s[start..self.pos];
        // Options after the type (`cn;lang-en=x`) are not RFC 4514 §3 syntax, but slapd
        // 2.5 takes them and drops them (libldap's ldap_str2dn skips `;` and option
        // characters after the type): `cn;lang-en=x` names `cn=x`, in an add, a modify
        // DN's new RDN and a search base alike.
        if self.peek() == Some(b';') {
            while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'-' || c == b';')
            {
                self.pos += 1;
            }
        }
        // Only ASCII was consumed, so this cannot fail; map defensively anyway.
        std::str::from_utf8(t)
            .map(str::to_owned)
            .map_err(|_| DnError::at(start, "attribute type is not ASCII"))
    }

    /// One escape after a backslash at `self.pos - 1`: a special character or a hex pair.
    fn escape(&mut self) -> Result<u8, DnError> {
        let at = self.pos.saturating_sub(1);
        match self.peek() {
            Some(c @ (b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' | b' ' | b'#' | b'=')) => {
                self.pos += 1;
                Ok(c)
            }
            Some(h) => {
                let hi = hex_val(h).ok_or(DnError::at(at, "invalid escape sequence"))?;
                let lo = self
                    .s
                    .get(self.pos + 1)
                    .and_then(|&l| hex_val(l))
                    .ok_or(DnError::at(at, "invalid hex escape"))?;
                self.pos += 2;
                Ok(hi << 4 | lo)
            }
            None => Err(DnError::at(at, "backslash at end of string")),
        }
    }

    /// An attribute value, after the `=` and any spaces following it.
    fn value(&mut self) -> Result<Vec<u8>, DnError> {
        match self.peek() {
            Some(b'#') => Err(DnError::at(
                self.pos,
                "hexstring (#) attribute values are not supported",
            )),
            Some(b'"') => self.quoted_value(),
            _ => self.plain_value(),
        }
    }

    fn plain_value(&mut self) -> Result<Vec<u8>, DnError> {
        let mut out = Vec::new();
        // Length of `out` without unescaped trailing spaces.
        let mut keep = 0;
        while let Some(c) = self.peek() {
            match c {
                b',' | b';' | b'+' => break,
                b'\\' => {
                    self.pos += 1;
                    out.push(self.escape()?);
                    keep = out.len();
                }
                b' ' => {
                    self.pos += 1;
                    out.push(c);
                }
                b'"' | b'<' | b'>' | 0 => {
                    return Err(DnError::at(self.pos, "character must be escaped"));
                }
                _ => {
                    self.pos += 1;
                    out.push(c);
                    keep = out.len();
                }
            }
        }
        out.truncate(keep);
        Ok(out)
    }

    /// RFC 1779 §2.3 quoted value: `"` ... `"` with backslash escapes inside.
    fn quoted_value(&mut self) -> Result<Vec<u8>, DnError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(DnError::at(open, "unterminated quoted value")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(c) => {
                    self.pos += 1;
                    out.push(c);
                }
            }
        }
    }

    fn ava(&mut self) -> Result<Ava, DnError> {
        self.skip_spaces();
        let attr = self.attr_type()?;
        self.skip_spaces();
        if self.peek() != Some(b'=') {
            return Err(DnError::at(self.pos, "expected '=' after attribute type"));
        }
        self.pos += 1;
        self.skip_spaces();
        let value = self.value()?;
        self.skip_spaces();
        Ok(Ava { attr, value })
    }

    fn rdn(&mut self) -> Result<Rdn, DnError> {
        let mut avas = vec![self.ava()?];
        while self.peek() == Some(b'+') {
            self.pos += 1;
            avas.push(self.ava()?);
        }
        Ok(Rdn { avas })
    }

    fn dn(&mut self) -> Result<Dn, DnError> {
        self.skip_spaces();
        let mut rdns = Vec::new();
        if self.at_end() {
            return Ok(Dn { rdns });
        }
        loop {
            rdns.push(self.rdn()?);
            match self.peek() {
                None => return Ok(Dn { rdns }),
                Some(b',' | b';') => self.pos += 1,
                Some(_) => return Err(DnError::at(self.pos, "expected ',' or '+' or end")),
            }
        }
    }
}

impl Dn {
    /// Parses an RFC 4514 §3 string representation of a DN.
    ///
    /// Leniencies (as in OpenLDAP): spaces around `=`, `,`, `+` and around the whole string
    /// are ignored (unescaped trailing spaces of a value are dropped), `;` is accepted as an
    /// RDN separator (RFC 2253 §4), and RFC 1779 quoted values (`cn="Rivera, Sam"`) are
    /// accepted. The empty string is the root DN.
    ///
    /// A value in the `#hexstring` form of RFC 4514 §2.4 / §3 is **rejected** with
    /// [`DnError::Syntax`]: interpreting it needs the BER encoding of the attribute's
    /// syntax, and slapd 2.5 likewise answers invalidDNSyntax for such DNs.
    pub fn parse(s: &str) -> Result<Dn, DnError> {
        DnParser {
            s: s.as_bytes(),
            pos: 0,
        }
        .dn()
    }

    /// The root DN (no RDNs), RFC 4512 §5.1 root DSE.
    pub fn root() -> Dn {
        Dn { rdns: Vec::new() }
    }

    /// Whether this is the root DN (RFC 4514 §2.1: zero RDNs).
    pub fn is_root(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The leaf RDN (the first one in the string form, RFC 4514 §2.1), if any.
    pub fn rdn(&self) -> Option<&Rdn> {
        self.rdns.first()
    }

    /// The DN of the parent entry (RFC 4512 §2.3); `None` for the root DN.
    pub fn parent(&self) -> Option<Dn> {
        if self.rdns.is_empty() {
            None
        } else {
            Some(Dn {
                rdns: self.rdns[1..].to_vec(),
            })
        }
    }

    /// The DN of a child entry named `rdn` below this one (RFC 4512 §2.3).
    pub fn child(&self, rdn: Rdn) -> Dn {
        let mut rdns = Vec::with_capacity(self.rdns.len() + 1);
        rdns.push(rdn);
        rdns.extend(self.rdns.iter().cloned());
        Dn { rdns }
    }

    /// The number of RDNs (0 for the root DN).
    pub fn len(&self) -> usize {
        self.rdns.len()
    }

    /// Same as [`Dn::is_root`] (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }
}

impl Rdn {
    /// Parses one RDN in RFC 4514 §3 syntax (`cn=a+sn=b`), with the leniencies of
    /// [`Dn::parse`]. Fails if the string holds zero or more than one RDN.
    pub fn parse(s: &str) -> Result<Rdn, DnError> {
        let mut p = DnParser {
            s: s.as_bytes(),
            pos: 0,
        };
        p.skip_spaces();
        let rdn = p.rdn()?;
        if !p.at_end() {
            return Err(DnError::at(p.pos, "expected end of RDN"));
        }
        Ok(rdn)
    }
}

impl Ava {
    /// The value as UTF-8 text, if it is valid UTF-8 (RFC 4514 §2.4 values are UTF-8
    /// unless escaped otherwise).
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }
}

/// Characters written as `\XX` anywhere in a value: RFC 4514 §2.4's and `=`, which
/// slapd 2.5 also escapes in the DNs it returns (`cn=a\3Db`; libldap's
/// `LDAP_DN_NEEDESCAPE`). Both forms are valid §2.4 strings; this one matches slapd byte
/// for byte. Output only: stored keys use the normalized form (`oxldap_schema::NormDn`).
fn is_written_escaped(c: char) -> bool {
    is_always_escaped(c) || c == '='
}

/// Writes a value escaped as RFC 4514 §2.4 requires. Special characters are written as
/// `\XX` hex pairs (`,` → `\2C`), which §2.4 allows and slapd's "pretty" DNs use, so
/// DNs print as slapd returns them.
fn write_escaped_value<W: std::fmt::Write + ?Sized>(f: &mut W, value: &[u8]) -> std::fmt::Result {
    // Most values (names, mail addresses, numbers) are printable ASCII with nothing to
    // escape: written in one piece.
    if let Ok(plain) = std::str::from_utf8(value) {
        let inner_ok = plain
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !is_written_escaped(char::from(b)));
        let ends_ok = !plain.starts_with([' ', '#']) && !plain.ends_with(' ');
        if inner_ok && ends_ok {
            return f.write_str(plain);
        }
    }
    let last = value.len().saturating_sub(1);
    let mut offset = 0;
    for chunk in value.utf8_chunks() {
        for c in chunk.valid().chars() {
            let at = offset;
            offset += c.len_utf8();
            if is_written_escaped(c)
                || (at == 0 && (c == ' ' || c == '#'))
                || (at == last && c == ' ')
            {
                write!(f, "\\{:02X}", u32::from(c))?;
            } else if c == '\0' {
                f.write_str("\\00")?;
            } else {
                f.write_char(c)?;
            }
        }
        for b in chunk.invalid() {
            offset += 1;
            write!(f, "\\{b:02X}")?;
        }
    }
    Ok(())
}

/// Appends `attr=value` to `out` in the RFC 4514 §2.3 form, the value escaped as
/// [`Ava`]'s `Display` escapes it (§2.4): for writing a DN from its stored parts without
/// building a [`Dn`].
pub fn write_ava_text(out: &mut String, attr: &str, value: &[u8]) {
    out.push_str(attr);
    out.push('=');
    // Writing to a String cannot fail.
    let _ = write_escaped_value(out, value);
}

impl Ava {
    fn write_to<W: std::fmt::Write + ?Sized>(&self, w: &mut W) -> std::fmt::Result {
        w.write_str(&self.attr)?;
        w.write_str("=")?;
        write_escaped_value(w, &self.value)
    }
}

impl Rdn {
    fn write_to<W: std::fmt::Write + ?Sized>(&self, w: &mut W) -> std::fmt::Result {
        for (i, ava) in self.avas.iter().enumerate() {
            if i > 0 {
                w.write_str("+")?;
            }
            ava.write_to(w)?;
        }
        Ok(())
    }
}

impl Dn {
    fn write_to<W: std::fmt::Write + ?Sized>(&self, w: &mut W) -> std::fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                w.write_str(",")?;
            }
            rdn.write_to(w)?;
        }
        Ok(())
    }

    /// The RFC 4514 string form, as [`Display`](std::fmt::Display) writes it, built
    /// directly into a `String` (cheaper than `to_string`, which goes through a
    /// formatter for every piece: one of these per search result entry).
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(
            self.rdns
                .iter()
                .flat_map(|r| &r.avas)
                .map(|a| a.attr.len() + a.value.len() + 2)
                .sum(),
        );
        // Writing to a String cannot fail.
        let _ = self.write_to(&mut out);
        out
    }
}

/// The RFC 4514 §2.3 form `type=value`, with the value escaped as in §2.4.
impl std::fmt::Display for Ava {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write_to(f)
    }
}

/// The RFC 4514 §2.2 form: AVAs joined by `+`.
impl std::fmt::Display for Rdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write_to(f)
    }
}

/// The RFC 4514 §2.1 form: RDNs joined by `,`, leaf first; empty for the root DN.
impl std::fmt::Display for Dn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write_to(f)
    }
}

/// Parses with [`Dn::parse`] (RFC 4514 §3).
impl std::str::FromStr for Dn {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Dn, DnError> {
        Dn::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ava(attr: &str, value: &[u8]) -> Ava {
        Ava {
            attr: attr.to_owned(),
            value: value.to_vec(),
        }
    }

    fn rdn1(attr: &str, value: &[u8]) -> Rdn {
        Rdn {
            avas: vec![ava(attr, value)],
        }
    }

    #[test]
    fn rfc4514_examples() {
        let dn = Dn::parse("UID=jsmith,DC=example,DC=net").unwrap();
        assert_eq!(
            dn.rdns,
            vec![
                rdn1("UID", b"jsmith"),
                rdn1("DC", b"example"),
                rdn1("DC", b"net")
            ]
        );

        let dn = Dn::parse("OU=Sales+CN=J.  Smith,DC=example,DC=net").unwrap();
        assert_eq!(
            dn.rdns[0].avas,
            vec![ava("OU", b"Sales"), ava("CN", b"J.  Smith")]
        );
        assert_eq!(dn.len(), 3);

        let dn = Dn::parse(r#"CN=James \"Jim\" Smith\, III,DC=example,DC=net"#).unwrap();
        assert_eq!(dn.rdns[0], rdn1("CN", br#"James "Jim" Smith, III"#));

        let dn = Dn::parse(r"CN=Before\0dAfter,DC=example,DC=net").unwrap();
        assert_eq!(dn.rdns[0], rdn1("CN", b"Before\rAfter"));

        let dn = Dn::parse(r"CN=Lu\C4\8Di\C4\87").unwrap();
        assert_eq!(dn.rdns[0], rdn1("CN", "Lučić".as_bytes()));
        assert_eq!(dn.rdns[0].avas[0].value_str(), Some("Lučić"));

        let dn = Dn::parse("1.3.6.1.4.1.1466.0=x").unwrap();
        assert_eq!(dn.rdns[0].avas[0].attr, "1.3.6.1.4.1.1466.0");
    }

    #[test]
    fn leniency() {
        let dn = Dn::parse("  cn = a b  , dc = x ;dc=y  ").unwrap();
        assert_eq!(
            dn.rdns,
            vec![rdn1("cn", b"a b"), rdn1("dc", b"x"), rdn1("dc", b"y")]
        );
        let dn = Dn::parse(r#"cn="Rivera, Sam",dc=x"#).unwrap();
        assert_eq!(dn.rdns[0], rdn1("cn", b"Rivera, Sam"));
        let dn = Dn::parse(r"cn=a\ ,dc=x").unwrap();
        assert_eq!(dn.rdns[0], rdn1("cn", b"a "));
        let dn = Dn::parse("cn=,dc=x").unwrap();
        assert_eq!(dn.rdns[0], rdn1("cn", b""));
        assert_eq!(Dn::parse("cn=").unwrap().rdns[0], rdn1("cn", b""));
        let dn = Dn::parse("cn=a + sn=b").unwrap();
        assert_eq!(dn.rdns[0].avas.len(), 2);
        assert!(Dn::parse("").unwrap().is_root());
        assert!(Dn::parse("   ").unwrap().is_root());
    }

    #[test]
    fn errors() {
        for bad in [
            "cn",
            "=x",
            "cn=a,",
            r"cn=\zz",
            r"cn=\4",
            "cn=a\\",
            "1cn=x",
            "cn=#0403616263",
            "cn=a,dc=#00",
            "cn=a<b",
            "cn=\"unterminated",
            "cn=\"q\"x",
            ",cn=a",
            "cn=a,,dc=b",
            "c_n=a",
            "01.2=a",
            "cn=a+",
        ] {
            assert!(Dn::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            Dn::parse("cn=a,"),
            Err(DnError::Syntax {
                at: 5,
                reason: "expected an attribute type"
            })
        );
        match Dn::parse("cn=#04") {
            Err(DnError::Syntax { at, .. }) => assert_eq!(at, 3),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn display() {
        let dn = Dn::parse(r#"CN=James \"Jim\" Smith\, III,DC=example,DC=net"#).unwrap();
        assert_eq!(
            dn.to_string(),
            r#"CN=James \22Jim\22 Smith\2C III,DC=example,DC=net"#
        );
        let a = ava("cn", b" #a\0b\xff ");
        assert_eq!(a.to_string(), r"cn=\20#a\00b\FF\20");
        assert_eq!(ava("cn", b"#x").to_string(), r"cn=\23x");
        assert_eq!(ava("cn", "Lučić".as_bytes()).to_string(), "cn=Lučić");
        assert_eq!(Dn::root().to_string(), "");
    }

    #[test]
    fn helpers() {
        let dn = Dn::parse("cn=a,dc=b,dc=c").unwrap();
        assert_eq!(dn.rdn(), Some(&rdn1("cn", b"a")));
        let p = dn.parent().unwrap();
        assert_eq!(p.to_string(), "dc=b,dc=c");
        assert_eq!(p.child(rdn1("cn", b"a")), dn);
        assert_eq!(Dn::root().parent(), None);
        assert_eq!(Dn::root().rdn(), None);
        assert_eq!(Rdn::parse(" cn=a+sn=b ").unwrap().avas.len(), 2);
        assert!(Rdn::parse("cn=a,dc=b").is_err());
        assert!(Rdn::parse("").is_err());
    }

    fn arb_attr() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9-]{0,8}",
            "(0|[1-9][0-9]{0,3})(\\.(0|[1-9][0-9]{0,3})){0,4}",
        ]
    }

    fn arb_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..12),
            "[ #\"+,;<>\\\\=a-z\u{e9}\u{4e2d}]{0,10}".prop_map(String::into_bytes),
        ]
    }

    fn arb_dn() -> impl Strategy<Value = Dn> {
        let ava = (arb_attr(), arb_value()).prop_map(|(attr, value)| Ava { attr, value });
        let rdn = proptest::collection::vec(ava, 1..3).prop_map(|avas| Rdn { avas });
        proptest::collection::vec(rdn, 0..4).prop_map(|rdns| Dn { rdns })
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(dn in arb_dn()) {
            let s = dn.to_string();
            prop_assert_eq!(&dn.to_text(), &s);
            let back = Dn::parse(&s);
            prop_assert_eq!(back, Ok(dn), "string was {:?}", s);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Dn::parse(&s);
        }
    }
}
