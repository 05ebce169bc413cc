//! Parser for the RFC 4512 §4.1 schema description strings: AttributeTypeDescription
//! (§4.1.2) and ObjectClassDescription (§4.1.1).
//!
//! The grammar is followed closely, with two liberties that slapd also takes: the
//! keyword fields may appear in any order (each at most once), and any amount of whitespace
//! is accepted where the RFC asks for exactly one space. Extensions (`X-...`) are parsed and
//! kept but have no meaning here.

use crate::error::SchemaError;
use crate::schema::{AttributeType, ObjectClass, ObjectClassKind, Usage};

/// One lexical token of a description, with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    Dollar,
    /// A quoted string with `\27` / `\5C` escapes removed (RFC 4512 §4.1 qdstring).
    Quoted(String),
    /// Anything else: keywords, OIDs, descriptors, `noidlen`.
    Word(String),
}

fn err(at: usize, reason: impl Into<String>) -> SchemaError {
    SchemaError::Parse {
        at,
        reason: reason.into(),
    }
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, SchemaError> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((i, Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::RParen));
                i += 1;
            }
            b'$' => {
                out.push((i, Tok::Dollar));
                i += 1;
            }
            b'\'' => {
                let start = i;
                i += 1;
                let mut val: Vec<u8> = Vec::new();
                loop {
                    match bytes.get(i) {
                        None => return Err(err(start, "unterminated quoted string")),
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let hex = s.get(i + 1..i + 3).unwrap_or("");
                            if hex.eq_ignore_ascii_case("27") {
                                val.push(b'\'');
                            } else if hex.eq_ignore_ascii_case("5c") {
                                val.push(b'\\');
                            } else {
                                return Err(err(
                                    i,
                                    "a backslash in a quoted string must be followed by 27 or 5C",
                                ));
                            }
                            i += 3;
                        }
                        Some(&c) => {
                            val.push(c);
                            i += 1;
                        }
                    }
                }
                let text = String::from_utf8(val)
                    .map_err(|_| err(start, "quoted string is not valid UTF-8"))?;
                out.push((start, Tok::Quoted(text)));
            }
            _ => {
                let start = i;
                while let Some(&c) = bytes.get(i) {
                    if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'$' | b'\'') {
                        break;
                    }
                    i += 1;
                }
                out.push((start, Tok::Word(s[start..i].to_string())));
            }
        }
    }
    Ok(out)
}

/// Whether `s` is an RFC 4512 §1.4 `numericoid`: `number 1*( DOT number )`, no leading zeros.
pub fn is_numericoid(s: &str) -> bool {
    let mut parts = 0;
    for part in s.split('.') {
        parts += 1;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if part.len() > 1 && part.starts_with('0') {
            return false;
        }
    }
    parts >= 2
}

/// Whether `s` is an RFC 4512 §1.4 `descr` (keystring): `ALPHA *( ALPHA / DIGIT / HYPHEN )`.
pub fn is_descr(s: &str) -> bool {
    let mut it = s.bytes();
    match it.next() {
        Some(b) if b.is_ascii_alphabetic() => {}
        _ => return false,
    }
    it.all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Whether `s` is an RFC 4512 `oid` (a `descr` or a `numericoid`).
pub fn is_oid(s: &str) -> bool {
    is_descr(s) || is_numericoid(s)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn new(s: &str) -> Result<Parser, SchemaError> {
        Ok(Parser {
            toks: tokenize(s)?,
            pos: 0,
            end: s.len(),
        })
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.0).unwrap_or(self.end)
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }

    fn next(&mut self) -> Option<(usize, Tok)> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn expect_lparen(&mut self) -> Result<(), SchemaError> {
        match self.next() {
            Some((_, Tok::LParen)) => Ok(()),
            Some((at, _)) => Err(err(at, "expected '('")),
            None => Err(err(self.end, "expected '('")),
        }
    }

    /// `( numericoid` at the start of every description.
    fn header(&mut self) -> Result<String, SchemaError> {
        self.expect_lparen()?;
        match self.next() {
            Some((at, Tok::Word(w))) => {
                if is_numericoid(&w) {
                    Ok(w)
                } else {
                    Err(err(at, format!("expected a numeric OID, found {w:?}")))
                }
            }
            Some((at, _)) => Err(err(at, "expected a numeric OID")),
            None => Err(err(self.end, "expected a numeric OID")),
        }
    }

    /// After the closing parenthesis nothing may follow.
    fn finish(&mut self) -> Result<(), SchemaError> {
        match self.next() {
            None => Ok(()),
            Some((at, _)) => Err(err(at, "unexpected text after the closing ')'")),
        }
    }

    fn qdescrs(&mut self) -> Result<Vec<String>, SchemaError> {
        let check = |at: usize, s: String| -> Result<String, SchemaError> {
            if is_descr(&s) {
                Ok(s)
            } else {
                Err(err(at, format!("{s:?} is not a valid descriptor")))
            }
        };
        match self.next() {
            Some((at, Tok::Quoted(q))) => Ok(vec![check(at, q)?]),
            Some((_, Tok::LParen)) => {
                let mut out = Vec::new();
                loop {
                    match self.next() {
                        Some((_, Tok::RParen)) => break,
                        Some((at, Tok::Quoted(q))) => out.push(check(at, q)?),
                        Some((at, _)) => return Err(err(at, "expected a quoted name or ')'")),
                        None => return Err(err(self.end, "unterminated name list")),
                    }
                }
                if out.is_empty() {
                    return Err(err(self.offset(), "empty name list"));
                }
                Ok(out)
            }
            Some((at, _)) => Err(err(at, "expected a quoted name or a list of them")),
            None => Err(err(self.end, "expected a quoted name")),
        }
    }

    fn qdstring(&mut self) -> Result<String, SchemaError> {
        match self.next() {
            Some((_, Tok::Quoted(q))) => Ok(q),
            Some((at, _)) => Err(err(at, "expected a quoted string")),
            None => Err(err(self.end, "expected a quoted string")),
        }
    }

    fn qdstrings(&mut self) -> Result<Vec<String>, SchemaError> {
        match self.next() {
            Some((_, Tok::Quoted(q))) => Ok(vec![q]),
            Some((_, Tok::LParen)) => {
                let mut out = Vec::new();
                loop {
                    match self.next() {
                        Some((_, Tok::RParen)) => break,
                        Some((_, Tok::Quoted(q))) => out.push(q),
                        Some((at, _)) => return Err(err(at, "expected a quoted string or ')'")),
                        None => return Err(err(self.end, "unterminated string list")),
                    }
                }
                Ok(out)
            }
            Some((at, _)) => Err(err(at, "expected a quoted string or a list of them")),
            None => Err(err(self.end, "expected a quoted string")),
        }
    }

    fn oid(&mut self) -> Result<String, SchemaError> {
        match self.next() {
            Some((at, Tok::Word(w))) => {
                if is_oid(&w) {
                    Ok(w)
                } else {
                    Err(err(at, format!("{w:?} is not a valid OID or descriptor")))
                }
            }
            Some((at, _)) => Err(err(at, "expected an OID or descriptor")),
            None => Err(err(self.end, "expected an OID or descriptor")),
        }
    }

    fn oids(&mut self) -> Result<Vec<String>, SchemaError> {
        if self.peek() != Some(&Tok::LParen) {
            return Ok(vec![self.oid()?]);
        }
        self.next();
        let mut out = vec![self.oid()?];
        loop {
            match self.next() {
                Some((_, Tok::RParen)) => break,
                Some((_, Tok::Dollar)) => out.push(self.oid()?),
                Some((at, _)) => return Err(err(at, "expected '$' or ')' in an OID list")),
                None => return Err(err(self.end, "unterminated OID list")),
            }
        }
        Ok(out)
    }

    /// `noidlen = numericoid [ LCURLY len RCURLY ]` (RFC 4512 §4.1.2). Like slapd
    /// (libldap's `LDAP_SCHEMA_ALLOW_QUOTED`, which slapd's schema parser sets), the
    /// noidlen may also be quoted: `SYNTAX '1.3.6.1.4.1.1466.115.121.1.12'` (Debian's
    /// `msuser.schema` does that).
    fn noidlen(&mut self) -> Result<(String, Option<u32>), SchemaError> {
        match self.next() {
            Some((at, Tok::Word(w) | Tok::Quoted(w))) => {
                let (oid, len) = match w.find('{') {
                    None => (w.as_str(), None),
                    Some(i) => {
                        let rest = &w[i + 1..];
                        let digits = rest
                            .strip_suffix('}')
                            .ok_or_else(|| err(at + i, "expected '}' after the length"))?;
                        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                            return Err(err(at + i, "the length must be a decimal number"));
                        }
                        let len = digits
                            .parse::<u32>()
                            .map_err(|_| err(at + i, "the length is too large"))?;
                        (&w[..i], Some(len))
                    }
                };
                if !is_numericoid(oid) {
                    return Err(err(at, format!("{oid:?} is not a numeric syntax OID")));
                }
                Ok((oid.to_string(), len))
            }
            Some((at, _)) => Err(err(at, "expected a syntax OID")),
            None => Err(err(self.end, "expected a syntax OID")),
        }
    }
}

/// Records that a field was seen; a second occurrence is an error.
fn once(seen: &mut Vec<String>, kw: &str, at: usize) -> Result<(), SchemaError> {
    if seen.iter().any(|s| s == kw) {
        return Err(err(at, format!("{kw} given more than once")));
    }
    seen.push(kw.to_string());
    Ok(())
}

/// Parses an RFC 4512 §4.1.2 AttributeTypeDescription, e.g.
/// `( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )`.
///
/// Checks the §4.1.2 constraints that need no other definitions: SUP or SYNTAX must be
/// present, COLLECTIVE requires userApplications usage, NO-USER-MODIFICATION requires an
/// operational usage. Matching rules and SUP are resolved when the type is added to a
/// [`crate::Schema`], not here.
pub fn parse_attribute_type(s: &str) -> Result<AttributeType, SchemaError> {
    let mut p = Parser::new(s)?;
    let oid = p.header()?;
    let mut at = AttributeType::new(oid);
    let mut seen = Vec::new();
    loop {
        let (pos, tok) = p
            .next()
            .ok_or_else(|| err(s.len(), "missing closing ')'"))?;
        let kw = match tok {
            Tok::RParen => break,
            Tok::Word(w) => w,
            _ => return Err(err(pos, "expected a keyword or ')'")),
        };
        if kw.starts_with("X-") {
            let vals = p.qdstrings()?;
            at.extensions.push((kw, vals));
            continue;
        }
        once(&mut seen, &kw, pos)?;
        match kw.as_str() {
            "NAME" => at.names = p.qdescrs()?,
            "DESC" => at.desc = Some(p.qdstring()?),
            "OBSOLETE" => at.obsolete = true,
            "SUP" => at.sup = Some(p.oid()?),
            "EQUALITY" => at.equality = Some(p.oid()?),
            "ORDERING" => at.ordering = Some(p.oid()?),
            "SUBSTR" => at.substr = Some(p.oid()?),
            "SYNTAX" => {
                let (syn, len) = p.noidlen()?;
                at.syntax = Some(syn);
                at.syntax_len = len;
            }
            "SINGLE-VALUE" => at.single_value = true,
            "COLLECTIVE" => at.collective = true,
            "NO-USER-MODIFICATION" => at.no_user_modification = true,
            "USAGE" => {
                let (upos, word) = match p.next() {
                    Some((upos, Tok::Word(w))) => (upos, w),
                    Some((upos, _)) => return Err(err(upos, "expected a usage keyword")),
                    None => return Err(err(s.len(), "expected a usage keyword")),
                };
                at.usage = match word.as_str() {
                    "userApplications" => Usage::UserApplications,
                    "directoryOperation" => Usage::DirectoryOperation,
                    "distributedOperation" => Usage::DistributedOperation,
                    "dSAOperation" => Usage::DsaOperation,
                    _ => return Err(err(upos, format!("unknown usage {word:?}"))),
                };
            }
            _ => return Err(err(pos, format!("unknown keyword {kw:?}"))),
        }
    }
    p.finish()?;
    if at.sup.is_none() && at.syntax.is_none() {
        return Err(err(
            0,
            "an attribute type needs SUP or SYNTAX (RFC 4512 §4.1.2)",
        ));
    }
    if at.collective && at.usage != Usage::UserApplications {
        return Err(err(0, "COLLECTIVE requires USAGE userApplications"));
    }
    if at.no_user_modification && at.usage == Usage::UserApplications {
        return Err(err(0, "NO-USER-MODIFICATION requires an operational USAGE"));
    }
    Ok(at)
}

/// Parses an RFC 4512 §4.1.1 ObjectClassDescription, e.g.
/// `( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) )`. The kind defaults to
/// STRUCTURAL when none is given.
pub fn parse_object_class(s: &str) -> Result<ObjectClass, SchemaError> {
    let mut p = Parser::new(s)?;
    let oid = p.header()?;
    let mut oc = ObjectClass::new(oid);
    let mut seen = Vec::new();
    loop {
        let (pos, tok) = p
            .next()
            .ok_or_else(|| err(s.len(), "missing closing ')'"))?;
        let kw = match tok {
            Tok::RParen => break,
            Tok::Word(w) => w,
            _ => return Err(err(pos, "expected a keyword or ')'")),
        };
        if kw.starts_with("X-") {
            let vals = p.qdstrings()?;
            oc.extensions.push((kw, vals));
            continue;
        }
        let kind_kw = matches!(kw.as_str(), "ABSTRACT" | "STRUCTURAL" | "AUXILIARY");
        once(&mut seen, if kind_kw { "kind" } else { &kw }, pos)?;
        match kw.as_str() {
            "NAME" => oc.names = p.qdescrs()?,
            "DESC" => oc.desc = Some(p.qdstring()?),
            "OBSOLETE" => oc.obsolete = true,
            "SUP" => oc.sup = p.oids()?,
            "ABSTRACT" => oc.kind = ObjectClassKind::Abstract,
            "STRUCTURAL" => oc.kind = ObjectClassKind::Structural,
            "AUXILIARY" => oc.kind = ObjectClassKind::Auxiliary,
            "MUST" => oc.must = p.oids()?,
            "MAY" => oc.may = p.oids()?,
            _ => return Err(err(pos, format!("unknown keyword {kw:?}"))),
        }
    }
    p.finish()?;
    Ok(oc)
}

/// An RFC 4512 §4.1.5 SyntaxDescription (LDAP syntaxes are recorded, not interpreted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxDescription {
    /// The numeric OID.
    pub oid: String,
    /// NAME: not in RFC 4512's grammar, but libldap's `ldap_str2syntax` (which slapd uses
    /// for `ldapsyntax`) accepts it, and Debian's `pmi.schema` gives one. Kept only for
    /// information: like slapd, the published SyntaxDescription does not repeat it.
    pub names: Vec<String>,
    /// DESC.
    pub desc: Option<String>,
    /// `X-` extensions with their values, in order.
    pub extensions: Vec<(String, Vec<String>)>,
}

/// Parses an RFC 4512 §4.1.5 SyntaxDescription, e.g.
/// `( 1.3.6.1.4.1.1466.115.121.1.15 DESC 'Directory String' )`, as an OpenLDAP
/// `ldapsyntax` directive (slapd.conf(5)) gives it.
pub fn parse_syntax_description(s: &str) -> Result<SyntaxDescription, SchemaError> {
    let mut p = Parser::new(s)?;
    let oid = p.header()?;
    let mut desc = None;
    let mut names = Vec::new();
    let mut extensions = Vec::new();
    let mut seen = Vec::new();
    loop {
        let (pos, tok) = p
            .next()
            .ok_or_else(|| err(s.len(), "missing closing ')'"))?;
        let kw = match tok {
            Tok::RParen => break,
            Tok::Word(w) => w,
            _ => return Err(err(pos, "expected a keyword or ')'")),
        };
        if kw.starts_with("X-") {
            let vals = p.qdstrings()?;
            extensions.push((kw, vals));
            continue;
        }
        once(&mut seen, &kw, pos)?;
        match kw.as_str() {
            "DESC" => desc = Some(p.qdstring()?),
            "NAME" => names = p.qdescrs()?,
            _ => return Err(err(pos, format!("unknown keyword {kw:?}"))),
        }
    }
    p.finish()?;
    Ok(SyntaxDescription {
        oid,
        names,
        desc,
        extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_type_full() {
        let at = parse_attribute_type(
            "( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s) for which the entity is known by' SUP name )",
        )
        .expect("parses");
        assert_eq!(at.oid, "2.5.4.3");
        assert_eq!(at.names, vec!["cn", "commonName"]);
        assert_eq!(at.sup.as_deref(), Some("name"));
        assert!(at.desc.as_deref().is_some_and(|d| d.starts_with("RFC4519")));

        let at = parse_attribute_type(
            "( 1.3.6.1.4.1.4203.666.1.7 NAME 'entryCSN' EQUALITY CSNMatch ORDERING CSNOrderingMatch \
             SYNTAX 1.3.6.1.4.1.4203.666.11.2.1{64} SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation X-ORIGIN ( 'a' 'b\\27s' ) )",
        )
        .expect("parses");
        assert_eq!(at.syntax.as_deref(), Some("1.3.6.1.4.1.4203.666.11.2.1"));
        assert_eq!(at.syntax_len, Some(64));
        assert!(at.single_value && at.no_user_modification);
        assert_eq!(at.usage, Usage::DirectoryOperation);
        assert_eq!(
            at.extensions,
            vec![(
                "X-ORIGIN".to_string(),
                vec!["a".to_string(), "b's".to_string()]
            )]
        );
    }

    #[test]
    fn object_class_full() {
        let oc = parse_object_class(
            "( 2.5.6.6 NAME 'person' DESC 'RFC4519: a person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber $ seeAlso $ description ) )",
        )
        .expect("parses");
        assert_eq!(oc.names, vec!["person"]);
        assert_eq!(oc.sup, vec!["top"]);
        assert_eq!(oc.kind, ObjectClassKind::Structural);
        assert_eq!(oc.must, vec!["sn", "cn"]);
        assert_eq!(oc.may.len(), 4);
        let oc = parse_object_class(
            "( 1.3.6.1.4.1.1466.344 NAME 'dcObject' SUP top AUXILIARY MUST dc )",
        )
        .expect("parses");
        assert_eq!(oc.kind, ObjectClassKind::Auxiliary);
        assert_eq!(oc.must, vec!["dc"]);
    }

    #[test]
    fn errors_say_where() {
        let cases: &[(&str, usize)] = &[
            ("2.5.4.3 NAME 'cn' )", 0),
            ("( cn NAME 'cn' SUP name )", 2),
            ("( 2.5.4.3 NAME 'cn' SUP name", 28),
            ("( 2.5.4.3 NAME 'cn SUP name )", 15),
            ("( 2.5.4.3 NAME 'c n' SUP name )", 15),
            ("( 2.5.4.3 NAME 'cn' SUP name FOO )", 29),
            ("( 2.5.4.3 NAME 'cn' SUP name NAME 'x' )", 29),
            ("( 2.5.4.3 NAME 'cn' SYNTAX 1.2.3{x} )", 32),
            ("( 2.5.4.3 NAME 'cn' SUP name USAGE foo )", 35),
            ("( 2.5.4.3 NAME 'cn' SUP name ) x", 31),
            ("( 2.5.4.03 NAME 'cn' SUP name )", 2),
        ];
        for (s, at) in cases {
            let r = parse_attribute_type(s);
            let got = match &r {
                Err(SchemaError::Parse { at: got, .. }) => Some(*got),
                _ => None,
            };
            assert_eq!(got, Some(*at), "{s}: {r:?}");
        }
        assert!(parse_attribute_type("( 1.2.3 NAME 'x' )").is_err());
        assert!(parse_attribute_type(
            "( 1.2.3 NAME 'x' SYNTAX 1.2 COLLECTIVE USAGE dSAOperation )"
        )
        .is_err());
        assert!(
            parse_attribute_type("( 1.2.3 NAME 'x' SYNTAX 1.2 NO-USER-MODIFICATION )").is_err()
        );
        assert!(parse_object_class("( 1.2.3 NAME 'x' MUST ( a b ) )").is_err());
        assert!(parse_object_class("( 1.2.3 NAME 'x' ABSTRACT AUXILIARY )").is_err());
        assert!(parse_object_class("").is_err());
    }

    #[test]
    fn syntax_description() {
        let SyntaxDescription {
            oid,
            desc,
            extensions: ext,
            names,
        } = parse_syntax_description(
            "( 1.3.6.1.4.1.1466.115.121.1.15 DESC 'Directory String' X-NOT-HUMAN-READABLE 'FALSE' )",
        )
        .expect("parses");
        assert_eq!(oid, "1.3.6.1.4.1.1466.115.121.1.15");
        assert_eq!(desc.as_deref(), Some("Directory String"));
        assert_eq!(ext.len(), 1);
        assert!(names.is_empty());
        // NAME is accepted as libldap's ldap_str2syntax does (Debian's pmi.schema).
        let named = parse_syntax_description("( 1.2.3 NAME 'x' DESC 'y' )").expect("NAME");
        assert_eq!(named.names, vec!["x"]);
        assert!(parse_syntax_description("( 1.2.3 NAME x )").is_err());
        assert!(parse_syntax_description("( 1.2.3 DESC 'x'").is_err());
    }

    #[test]
    fn oid_forms() {
        assert!(is_numericoid("2.5.4.3"));
        assert!(!is_numericoid("2"));
        assert!(!is_numericoid("2..3"));
        assert!(!is_numericoid("2.05"));
        assert!(is_descr("cn-x1"));
        assert!(!is_descr("1cn"));
        assert!(!is_descr(""));
    }
}
