//! Search filters: the RFC 4511 §4.5.1.7 `Filter` with byte values, RFC 4515 strings.
//!
//! Values are `Vec<u8>` because assertion values are OCTET STRINGs on the wire; the
//! `ldap3_proto` filter type uses `String`, and the conversion happens only here.

use serde::{Deserialize, Serialize};

/// A search filter (RFC 4511 §4.5.1.7). Attribute descriptions are kept as written.
///
/// `Clone`, `PartialEq` and `Debug` are written by hand so that each level runs through
/// [`crate::stack::guard`]: the server clones and compares filters as deep as
/// [`MAX_DEPTH`] (the plan memo of a search), and the derived forms use about 1.3 KiB of
/// stack per level in a debug build (`proto/examples/filter_stack.rs`). The derived
/// `Drop` (about 140 bytes per level, so 140 KiB at the deepest) and the derived `Hash`
/// and serde forms (not used by the server) are left as they are.
// The hand-written `PartialEq` compares exactly what the derived one would (variant,
// then fields), so the derived `Hash` agrees with it.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Eq, Hash, Serialize, Deserialize)]
pub enum Filter {
    /// `(&...)`; an empty set is absolute true (RFC 4526).
    And(Vec<Filter>),
    /// `(|...)`; an empty set is absolute false (RFC 4526).
    Or(Vec<Filter>),
    /// `(!...)`.
    Not(Box<Filter>),
    /// `(attr=value)`.
    Equality(String, Vec<u8>),
    /// `(attr=in*an*fin)`.
    Substrings(String, Substrings),
    /// `(attr>=value)`.
    GreaterOrEqual(String, Vec<u8>),
    /// `(attr<=value)`.
    LessOrEqual(String, Vec<u8>),
    /// `(attr=*)`.
    Present(String),
    /// `(attr~=value)`.
    Approx(String, Vec<u8>),
    /// `(attr:dn:rule:=value)`: MatchingRuleAssertion.
    Extensible {
        /// The matching rule name or OID, if given.
        rule: Option<String>,
        /// The attribute description, if given.
        attr: Option<String>,
        /// The assertion value.
        value: Vec<u8>,
        /// `:dn:`: also match against the AVAs of the entry's DN.
        dn_attributes: bool,
    },
}

impl Clone for Filter {
    fn clone(&self) -> Filter {
        crate::stack::guard(|| match self {
            Filter::And(v) => Filter::And(v.clone()),
            Filter::Or(v) => Filter::Or(v.clone()),
            Filter::Not(c) => Filter::Not(c.clone()),
            Filter::Equality(a, v) => Filter::Equality(a.clone(), v.clone()),
            Filter::Substrings(a, s) => Filter::Substrings(a.clone(), s.clone()),
            Filter::GreaterOrEqual(a, v) => Filter::GreaterOrEqual(a.clone(), v.clone()),
            Filter::LessOrEqual(a, v) => Filter::LessOrEqual(a.clone(), v.clone()),
            Filter::Present(a) => Filter::Present(a.clone()),
            Filter::Approx(a, v) => Filter::Approx(a.clone(), v.clone()),
            Filter::Extensible {
                rule,
                attr,
                value,
                dn_attributes,
            } => Filter::Extensible {
                rule: rule.clone(),
                attr: attr.clone(),
                value: value.clone(),
                dn_attributes: *dn_attributes,
            },
        })
    }
}

impl PartialEq for Filter {
    fn eq(&self, other: &Filter) -> bool {
        crate::stack::guard(|| match (self, other) {
            (Filter::And(a), Filter::And(b)) | (Filter::Or(a), Filter::Or(b)) => a == b,
            (Filter::Not(a), Filter::Not(b)) => a == b,
            (Filter::Equality(a, v), Filter::Equality(b, w))
            | (Filter::GreaterOrEqual(a, v), Filter::GreaterOrEqual(b, w))
            | (Filter::LessOrEqual(a, v), Filter::LessOrEqual(b, w))
            | (Filter::Approx(a, v), Filter::Approx(b, w)) => a == b && v == w,
            (Filter::Substrings(a, s), Filter::Substrings(b, t)) => a == b && s == t,
            (Filter::Present(a), Filter::Present(b)) => a == b,
            (
                Filter::Extensible {
                    rule,
                    attr,
                    value,
                    dn_attributes,
                },
                Filter::Extensible {
                    rule: rule2,
                    attr: attr2,
                    value: value2,
                    dn_attributes: dn2,
                },
            ) => rule == rule2 && attr == attr2 && value == value2 && dn_attributes == dn2,
            (
                Filter::And(_)
                | Filter::Or(_)
                | Filter::Not(_)
                | Filter::Equality(..)
                | Filter::Substrings(..)
                | Filter::GreaterOrEqual(..)
                | Filter::LessOrEqual(..)
                | Filter::Present(_)
                | Filter::Approx(..)
                | Filter::Extensible { .. },
                _,
            ) => false,
        })
    }
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::stack::guard(|| match self {
            Filter::And(v) => f.debug_tuple("And").field(v).finish(),
            Filter::Or(v) => f.debug_tuple("Or").field(v).finish(),
            Filter::Not(c) => f.debug_tuple("Not").field(c).finish(),
            Filter::Equality(a, v) => f.debug_tuple("Equality").field(a).field(v).finish(),
            Filter::Substrings(a, s) => f.debug_tuple("Substrings").field(a).field(s).finish(),
            Filter::GreaterOrEqual(a, v) => {
                f.debug_tuple("GreaterOrEqual").field(a).field(v).finish()
            }
            Filter::LessOrEqual(a, v) => f.debug_tuple("LessOrEqual").field(a).field(v).finish(),
            Filter::Present(a) => f.debug_tuple("Present").field(a).finish(),
            Filter::Approx(a, v) => f.debug_tuple("Approx").field(a).field(v).finish(),
            Filter::Extensible {
                rule,
                attr,
                value,
                dn_attributes,
            } => f
                .debug_struct("Extensible")
                .field("rule", rule)
                .field("attr", attr)
                .field("value", value)
                .field("dn_attributes", dn_attributes)
                .finish(),
        })
    }
}

/// The parts of a substrings assertion (RFC 4511 §4.5.1.7.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Substrings {
    /// The value must start with this.
    pub initial: Option<Vec<u8>>,
    /// These must occur, in order, after `initial` and before `final_`.
    pub any: Vec<Vec<u8>>,
    /// The value must end with this.
    pub final_: Option<Vec<u8>>,
}

/// Why a filter is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The RFC 4515 string is malformed at byte offset `at`. Maps to protocolError (2)
    /// when it arrives in a request; clients normally reject such strings themselves.
    #[error("invalid filter at offset {at}: {reason}")]
    Syntax {
        /// Byte offset into the filter string.
        at: usize,
        /// What was expected there.
        reason: &'static str,
    },
    /// The filter nests deeper than the allowed limit ([`crate::filter::MAX_DEPTH`] unless
    /// configured). Answered with unwillingToPerform (53).
    #[error("filter nested deeper than {limit} levels")]
    TooDeep {
        /// The limit that was exceeded.
        limit: usize,
    },
}

use ldap3_proto::proto::{LdapFilter, LdapMatchingRuleAssertion, LdapSubstringFilter};

/// The maximum nesting depth of a filter: every filter counts as one level, so an item
/// such as `(cn=x)` has depth 1 and at most `MAX_DEPTH - 1` = 1,000 `&`/`|`/`!`
/// operators may enclose it. RFC 4511 §4.5.1.7 sets no limit; this is slapd's
/// (`SLAPD_MAX_FILTER_DEPTH` 1000 in servers/slapd/filter.c, counted from 0 at the
/// outermost filter: slapd 2.5 takes 1,000 nested `(&`, `(|` or `(!` around an item and
/// answers 1,001 with protocolError). Deeper filters give [`FilterError::TooDeep`].
/// Every recursion over a filter runs its levels through [`crate::stack::guard`], so
/// this depth is safe on any thread's stack.
pub const MAX_DEPTH: usize = 1001;

impl FilterError {
    fn syntax(at: usize, reason: &'static str) -> FilterError {
        FilterError::Syntax { at, reason }
    }

    fn too_deep() -> FilterError {
        FilterError::TooDeep { limit: MAX_DEPTH }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `s` is an RFC 4512 §2.5 attribute description: `(descr / numericoid) *(";" option)`.
fn valid_attr_desc(s: &str) -> bool {
    let mut parts = s.split(';');
    let Some(ty) = parts.next() else {
        return false;
    };
    valid_oid_or_descr(ty)
        && parts.all(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// `descr / numericoid` (RFC 4512 §1.4).
fn valid_oid_or_descr(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() => {
            b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }
        Some(c) if c.is_ascii_digit() => s.split('.').all(|n| {
            !n.is_empty()
                && n.bytes().all(|c| c.is_ascii_digit())
                && (n == "0" || !n.starts_with('0'))
        }),
        _ => false,
    }
}

/// Recursive-descent parser for RFC 4515 §3; recursion is bounded by [`MAX_DEPTH`].
struct FilterParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl FilterParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8, reason: &'static str) -> Result<(), FilterError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(FilterError::syntax(self.pos, reason))
        }
    }

    /// `filter = LPAREN filtercomp RPAREN`, at nesting level `level` (1-based).
    fn filter(&mut self, level: usize) -> Result<Filter, FilterError> {
        crate::stack::guard(|| self.filter_at(level))
    }

    fn filter_at(&mut self, level: usize) -> Result<Filter, FilterError> {
        if level > MAX_DEPTH {
            return Err(FilterError::too_deep());
        }
        self.expect(b'(', "expected '('")?;
        let f = match self.peek() {
            Some(b'&') => {
                self.pos += 1;
                Filter::And(self.filter_list(level)?)
            }
            Some(b'|') => {
                self.pos += 1;
                Filter::Or(self.filter_list(level)?)
            }
            Some(b'!') => {
                self.pos += 1;
                self.skip_spaces();
                let inner = self.filter(level + 1)?;
                self.skip_spaces();
                Filter::Not(Box::new(inner))
            }
            _ => self.item()?,
        };
        self.expect(b')', "expected ')'")?;
        Ok(f)
    }

    /// `filterlist = *filter` (RFC 4526 allows it to be empty).
    fn filter_list(&mut self, level: usize) -> Result<Vec<Filter>, FilterError> {
        let mut v = Vec::new();
        loop {
            self.skip_spaces();
            if self.peek() != Some(b'(') {
                return Ok(v);
            }
            v.push(self.filter(level + 1)?);
        }
    }

    /// Attribute description or matching rule token: `[A-Za-z0-9.;-]*`.
    fn token(&mut self) -> &str {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b';'))
        {
            self.pos += 1;
        }
        // Only ASCII bytes were consumed.
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default()
    }

    /// Assertion value up to the closing `)`, split at unescaped `*` (RFC 4515 §3).
    fn value_parts(&mut self) -> Result<Vec<Vec<u8>>, FilterError> {
        let mut parts = vec![Vec::new()];
        loop {
            match self.peek() {
                None => return Err(FilterError::syntax(self.pos, "unterminated value")),
                Some(b')') => return Ok(parts),
                Some(b'(') => {
                    return Err(FilterError::syntax(
                        self.pos,
                        "'(' in value must be escaped",
                    ))
                }
                Some(0) => {
                    return Err(FilterError::syntax(
                        self.pos,
                        "NUL in value must be escaped",
                    ))
                }
                Some(b'*') => {
                    self.pos += 1;
                    parts.push(Vec::new());
                }
                Some(b'\\') => {
                    let at = self.pos;
                    let hi = self.s.get(at + 1).copied().and_then(hex_val);
                    let lo = self.s.get(at + 2).copied().and_then(hex_val);
                    let (Some(hi), Some(lo)) = (hi, lo) else {
                        return Err(FilterError::syntax(at, "invalid \\XX escape"));
                    };
                    self.pos += 3;
                    if let Some(last) = parts.last_mut() {
                        last.push(hi << 4 | lo);
                    }
                }
                Some(c) => {
                    self.pos += 1;
                    if let Some(last) = parts.last_mut() {
                        last.push(c);
                    }
                }
            }
        }
    }

    /// A value where `*` is not allowed.
    fn single_value(&mut self) -> Result<Vec<u8>, FilterError> {
        let at = self.pos;
        let mut parts = self.value_parts()?;
        if parts.len() != 1 {
            return Err(FilterError::syntax(at, "unescaped '*' in value"));
        }
        Ok(parts.pop().unwrap_or_default())
    }

    /// `item = simple / present / substring / extensible`.
    fn item(&mut self) -> Result<Filter, FilterError> {
        let attr_at = self.pos;
        let attr = self.token().to_owned();
        if self.peek() == Some(b':') {
            return self.extensible(attr_at, attr);
        }
        if !valid_attr_desc(&attr) {
            return Err(FilterError::syntax(
                attr_at,
                "invalid attribute description",
            ));
        }
        match self.peek() {
            Some(b'=') => {
                self.pos += 1;
                let at = self.pos;
                let mut parts = self.value_parts()?;
                if parts.len() == 1 {
                    return Ok(Filter::Equality(attr, parts.pop().unwrap_or_default()));
                }
                if parts.len() == 2 && parts.iter().all(Vec::is_empty) {
                    return Ok(Filter::Present(attr));
                }
                let final_ = parts.pop().filter(|p| !p.is_empty());
                let mut it = parts.into_iter();
                let initial = it.next().filter(|p| !p.is_empty());
                let any: Vec<Vec<u8>> = it.collect();
                if any.iter().any(Vec::is_empty) {
                    return Err(FilterError::syntax(at, "empty substring between '*'s"));
                }
                Ok(Filter::Substrings(
                    attr,
                    Substrings {
                        initial,
                        any,
                        final_,
                    },
                ))
            }
            Some(c @ (b'~' | b'>' | b'<')) => {
                self.pos += 1;
                self.expect(b'=', "expected '='")?;
                let v = self.single_value()?;
                Ok(match c {
                    b'~' => Filter::Approx(attr, v),
                    b'>' => Filter::GreaterOrEqual(attr, v),
                    _ => Filter::LessOrEqual(attr, v),
                })
            }
            _ => Err(FilterError::syntax(self.pos, "expected a filter type")),
        }
    }

    /// `extensible = ( attr [dnattrs] [matchingrule] COLON EQUALS assertionvalue )
    ///             / ( [dnattrs] matchingrule COLON EQUALS assertionvalue )`.
    fn extensible(&mut self, attr_at: usize, attr: String) -> Result<Filter, FilterError> {
        let attr = if attr.is_empty() {
            None
        } else if valid_attr_desc(&attr) {
            Some(attr)
        } else {
            return Err(FilterError::syntax(
                attr_at,
                "invalid attribute description",
            ));
        };
        let mut dn_attributes = false;
        let mut rule: Option<String> = None;
        loop {
            self.expect(b':', "expected ':'")?;
            if self.peek() == Some(b'=') {
                self.pos += 1;
                break;
            }
            let at = self.pos;
            let tok = self.token().to_owned();
            if tok.eq_ignore_ascii_case("dn") && !dn_attributes && rule.is_none() {
                dn_attributes = true;
            } else if rule.is_none() && valid_oid_or_descr(&tok) {
                rule = Some(tok);
            } else {
                return Err(FilterError::syntax(at, "invalid extensible match"));
            }
        }
        if attr.is_none() && rule.is_none() {
            return Err(FilterError::syntax(
                attr_at,
                "extensible match without attribute needs a matching rule",
            ));
        }
        let value = self.single_value()?;
        Ok(Filter::Extensible {
            rule,
            attr,
            value,
            dn_attributes,
        })
    }
}

impl Filter {
    /// Parses an RFC 4515 §3 filter string. Empty `(&)` and `(|)` are accepted (RFC 4526);
    /// spaces are tolerated around the whole string and between the filters of a list.
    /// Assertion values use `\XX` escapes and may hold any bytes. Fails with
    /// [`FilterError::TooDeep`] when nested deeper than [`MAX_DEPTH`] (checked before
    /// recursing, so any input is safe).
    pub fn parse(s: &str) -> Result<Filter, FilterError> {
        let mut p = FilterParser {
            s: s.as_bytes(),
            pos: 0,
        };
        p.skip_spaces();
        let f = p.filter(1)?;
        p.skip_spaces();
        if p.pos != p.s.len() {
            return Err(FilterError::syntax(
                p.pos,
                "trailing characters after filter",
            ));
        }
        Ok(f)
    }

    /// The nesting depth: 1 for an item, 1 + the deepest child for `&`, `|` and `!`
    /// (1 for an empty set). Computed without recursion. See [`MAX_DEPTH`].
    pub fn depth(&self) -> usize {
        let mut max = 0;
        let mut stack: Vec<(&Filter, usize)> = vec![(self, 1)];
        while let Some((f, d)) = stack.pop() {
            max = max.max(d);
            match f {
                Filter::And(v) | Filter::Or(v) => stack.extend(v.iter().map(|c| (c, d + 1))),
                Filter::Not(c) => stack.push((c, d + 1)),
                _ => {}
            }
        }
        max
    }
}

/// Writes an assertion value with the RFC 4515 §3 escapes: `*`, `(`, `)`, `\`, NUL and
/// bytes that are not part of valid UTF-8 become `\XX`.
fn write_value(f: &mut std::fmt::Formatter<'_>, v: &[u8]) -> std::fmt::Result {
    use std::fmt::Write;
    for chunk in v.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '*' | '(' | ')' | '\\' | '\0' => write!(f, "\\{:02x}", c as u32)?,
                _ => f.write_char(c)?,
            }
        }
        for b in chunk.invalid() {
            write!(f, "\\{b:02x}")?;
        }
    }
    Ok(())
}

/// The RFC 4515 §3 string form.
impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::stack::guard(|| self.write_to(f))
    }
}

impl Filter {
    /// One level of the `Display` form (each nested filter goes through `Display` again,
    /// so through [`crate::stack::guard`]).
    fn write_to(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(")?;
        match self {
            Filter::And(v) | Filter::Or(v) => {
                f.write_str(if matches!(self, Filter::And(_)) {
                    "&"
                } else {
                    "|"
                })?;
                for c in v {
                    write!(f, "{c}")?;
                }
            }
            Filter::Not(c) => write!(f, "!{c}")?,
            Filter::Equality(a, v) => {
                write!(f, "{a}=")?;
                write_value(f, v)?;
            }
            Filter::Substrings(a, s) => {
                write!(f, "{a}=")?;
                if let Some(i) = &s.initial {
                    write_value(f, i)?;
                }
                f.write_str("*")?;
                for any in &s.any {
                    write_value(f, any)?;
                    f.write_str("*")?;
                }
                if let Some(fin) = &s.final_ {
                    write_value(f, fin)?;
                }
            }
            Filter::GreaterOrEqual(a, v) => {
                write!(f, "{a}>=")?;
                write_value(f, v)?;
            }
            Filter::LessOrEqual(a, v) => {
                write!(f, "{a}<=")?;
                write_value(f, v)?;
            }
            Filter::Present(a) => write!(f, "{a}=*")?,
            Filter::Approx(a, v) => {
                write!(f, "{a}~=")?;
                write_value(f, v)?;
            }
            Filter::Extensible {
                rule,
                attr,
                value,
                dn_attributes,
            } => {
                if let Some(a) = attr {
                    f.write_str(a)?;
                }
                if *dn_attributes {
                    f.write_str(":dn")?;
                }
                if let Some(r) = rule {
                    write!(f, ":{r}")?;
                }
                f.write_str(":=")?;
                write_value(f, value)?;
            }
        }
        f.write_str(")")
    }
}

/// Parses with [`Filter::parse`] (RFC 4515 §3).
impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Filter, FilterError> {
        Filter::parse(s)
    }
}

/// Depth of an `ldap3_proto` filter, computed iteratively (same counting as [`Filter::depth`]).
fn ldap_filter_depth(f: &LdapFilter) -> usize {
    let mut max = 0;
    let mut stack: Vec<(&LdapFilter, usize)> = vec![(f, 1)];
    while let Some((f, d)) = stack.pop() {
        max = max.max(d);
        match f {
            LdapFilter::And(v) | LdapFilter::Or(v) => stack.extend(v.iter().map(|c| (c, d + 1))),
            LdapFilter::Not(c) => stack.push((c, d + 1)),
            _ => {}
        }
    }
    max
}

fn from_ldap(f: &LdapFilter) -> Filter {
    crate::stack::guard(|| from_ldap_level(f))
}

fn from_ldap_level(f: &LdapFilter) -> Filter {
    let b = |s: &String| s.as_bytes().to_vec();
    match f {
        LdapFilter::And(v) => Filter::And(v.iter().map(from_ldap).collect()),
        LdapFilter::Or(v) => Filter::Or(v.iter().map(from_ldap).collect()),
        LdapFilter::Not(c) => Filter::Not(Box::new(from_ldap(c))),
        LdapFilter::Equality(a, v) => Filter::Equality(a.clone(), b(v)),
        LdapFilter::Substring(a, s) => Filter::Substrings(
            a.clone(),
            Substrings {
                initial: s.initial.as_ref().map(b),
                any: s.any.iter().map(b).collect(),
                final_: s.final_.as_ref().map(b),
            },
        ),
        LdapFilter::GreaterOrEqual(a, v) => Filter::GreaterOrEqual(a.clone(), b(v)),
        LdapFilter::LessOrEqual(a, v) => Filter::LessOrEqual(a.clone(), b(v)),
        LdapFilter::Present(a) => Filter::Present(a.clone()),
        LdapFilter::Approx(a, v) => Filter::Approx(a.clone(), b(v)),
        LdapFilter::Extensible(m) => Filter::Extensible {
            rule: m.matching_rule.clone(),
            attr: m.type_.clone(),
            value: b(&m.match_value),
            dn_attributes: m.dn_attributes,
        },
    }
}

/// Converts the RFC 4511 §4.5.1.7 filter decoded by `ldap3_proto`. Fails with
/// [`FilterError::TooDeep`] when nested deeper than [`MAX_DEPTH`] (checked iteratively
/// before converting).
impl TryFrom<&LdapFilter> for Filter {
    type Error = FilterError;
    fn try_from(f: &LdapFilter) -> Result<Filter, FilterError> {
        if ldap_filter_depth(f) > MAX_DEPTH {
            return Err(FilterError::too_deep());
        }
        Ok(from_ldap(f))
    }
}

/// Converts to `ldap3_proto`'s RFC 4511 §4.5.1.7 filter; values that are not UTF-8 are
/// converted lossily (`ldap3_proto` stores them as `String`).
impl From<&Filter> for LdapFilter {
    fn from(f: &Filter) -> LdapFilter {
        crate::stack::guard(|| to_ldap_level(f))
    }
}

/// One level of the conversion to `ldap3_proto`'s filter (nested filters go through
/// `From` again, so through [`crate::stack::guard`]).
fn to_ldap_level(f: &Filter) -> LdapFilter {
    let s = |v: &Vec<u8>| String::from_utf8_lossy(v).into_owned();
    match f {
        Filter::And(v) => LdapFilter::And(v.iter().map(LdapFilter::from).collect()),
        Filter::Or(v) => LdapFilter::Or(v.iter().map(LdapFilter::from).collect()),
        Filter::Not(c) => LdapFilter::Not(Box::new(LdapFilter::from(c.as_ref()))),
        Filter::Equality(a, v) => LdapFilter::Equality(a.clone(), s(v)),
        Filter::Substrings(a, sub) => LdapFilter::Substring(
            a.clone(),
            LdapSubstringFilter {
                initial: sub.initial.as_ref().map(s),
                any: sub.any.iter().map(s).collect(),
                final_: sub.final_.as_ref().map(s),
            },
        ),
        Filter::GreaterOrEqual(a, v) => LdapFilter::GreaterOrEqual(a.clone(), s(v)),
        Filter::LessOrEqual(a, v) => LdapFilter::LessOrEqual(a.clone(), s(v)),
        Filter::Present(a) => LdapFilter::Present(a.clone()),
        Filter::Approx(a, v) => LdapFilter::Approx(a.clone(), s(v)),
        Filter::Extensible {
            rule,
            attr,
            value,
            dn_attributes,
        } => LdapFilter::Extensible(LdapMatchingRuleAssertion {
            matching_rule: rule.clone(),
            type_: attr.clone(),
            match_value: s(value),
            dn_attributes: *dn_attributes,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eq(a: &str, v: &[u8]) -> Filter {
        Filter::Equality(a.into(), v.to_vec())
    }

    #[test]
    fn parse_rfc4515_examples() {
        assert_eq!(
            Filter::parse("(cn=Babs Jensen)").unwrap(),
            eq("cn", b"Babs Jensen")
        );
        assert_eq!(
            Filter::parse("(!(cn=Tim Howes))").unwrap(),
            Filter::Not(Box::new(eq("cn", b"Tim Howes")))
        );
        assert_eq!(
            Filter::parse("(&(objectClass=Person)(|(sn=Jensen)(cn=Babs J*)))").unwrap(),
            Filter::And(vec![
                eq("objectClass", b"Person"),
                Filter::Or(vec![
                    eq("sn", b"Jensen"),
                    Filter::Substrings(
                        "cn".into(),
                        Substrings {
                            initial: Some(b"Babs J".to_vec()),
                            any: vec![],
                            final_: None
                        }
                    )
                ])
            ])
        );
        assert_eq!(
            Filter::parse("(o=univ*of*mich*)").unwrap(),
            Filter::Substrings(
                "o".into(),
                Substrings {
                    initial: Some(b"univ".to_vec()),
                    any: vec![b"of".to_vec(), b"mich".to_vec()],
                    final_: None
                }
            )
        );
        assert_eq!(Filter::parse("(seeAlso=)").unwrap(), eq("seeAlso", b""));
        assert_eq!(
            Filter::parse("(cn:caseExactMatch:=Fred Flintstone)").unwrap(),
            Filter::Extensible {
                rule: Some("caseExactMatch".into()),
                attr: Some("cn".into()),
                value: b"Fred Flintstone".to_vec(),
                dn_attributes: false
            }
        );
        assert_eq!(
            Filter::parse("(sn:dn:2.4.6.8.10:=Barney Rubble)").unwrap(),
            Filter::Extensible {
                rule: Some("2.4.6.8.10".into()),
                attr: Some("sn".into()),
                value: b"Barney Rubble".to_vec(),
                dn_attributes: true
            }
        );
        assert_eq!(
            Filter::parse("(o:dn:=Ace Industry)").unwrap(),
            Filter::Extensible {
                rule: None,
                attr: Some("o".into()),
                value: b"Ace Industry".to_vec(),
                dn_attributes: true
            }
        );
        assert_eq!(
            Filter::parse("(:1.2.3:=Wilma Flintstone)").unwrap(),
            Filter::Extensible {
                rule: Some("1.2.3".into()),
                attr: None,
                value: b"Wilma Flintstone".to_vec(),
                dn_attributes: false
            }
        );
        assert_eq!(
            Filter::parse("(:DN:2.4.6.8.10:=Dino)").unwrap(),
            Filter::Extensible {
                rule: Some("2.4.6.8.10".into()),
                attr: None,
                value: b"Dino".to_vec(),
                dn_attributes: true
            }
        );
        assert_eq!(
            Filter::parse(r"(o=Parens R Us \28for all your parenthetical needs\29)").unwrap(),
            eq("o", b"Parens R Us (for all your parenthetical needs)")
        );
        assert_eq!(
            Filter::parse(r"(cn=*\2A*)").unwrap(),
            Filter::Substrings(
                "cn".into(),
                Substrings {
                    initial: None,
                    any: vec![b"*".to_vec()],
                    final_: None
                }
            )
        );
        assert_eq!(
            Filter::parse(r"(filename=C:\5cMyFile)").unwrap(),
            eq("filename", b"C:\\MyFile")
        );
        assert_eq!(
            Filter::parse(r"(bin=\00\00\00\04)").unwrap(),
            eq("bin", &[0, 0, 0, 4])
        );
        assert_eq!(
            Filter::parse(r"(sn=Lu\c4\8di\c4\87)").unwrap(),
            eq("sn", "Lučić".as_bytes())
        );
        assert_eq!(
            Filter::parse(r"(1.3.6.1.4.1.1466.0=\04\02\48\69)").unwrap(),
            eq("1.3.6.1.4.1.1466.0", &[4, 2, 0x48, 0x69])
        );
        assert_eq!(
            Filter::parse("(cn=*)").unwrap(),
            Filter::Present("cn".into())
        );
        assert_eq!(Filter::parse("(&)").unwrap(), Filter::And(vec![]));
        assert_eq!(Filter::parse("(|)").unwrap(), Filter::Or(vec![]));
        assert_eq!(
            Filter::parse("(cn;lang-en>=a)").unwrap(),
            Filter::GreaterOrEqual("cn;lang-en".into(), b"a".to_vec())
        );
        assert_eq!(
            Filter::parse("(cn<=a)").unwrap(),
            Filter::LessOrEqual("cn".into(), b"a".to_vec())
        );
        assert_eq!(
            Filter::parse("(cn~=a)").unwrap(),
            Filter::Approx("cn".into(), b"a".to_vec())
        );
        assert_eq!(
            Filter::parse(" (& (a=1) (b=2) ) ").unwrap(),
            Filter::And(vec![eq("a", b"1"), eq("b", b"2")])
        );
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "cn=x",
            "(cn=x",
            "(cn=x))",
            "(cn=x)(cn=y)",
            "(=x)",
            "(cn)",
            "(cn=a(b)",
            r"(cn=\zz)",
            r"(cn=\4)",
            "(cn~=a*)",
            "(cn>=*)",
            "(cn=a**b)",
            "(:=x)",
            "(:dn:=x)",
            "(cn:a:b:=x)",
            "(!)",
            "(!(a=1)(b=2))",
            "(1cn=x)",
            "(cn;=x)",
            "(&(a=1)x)",
        ] {
            assert!(
                matches!(Filter::parse(bad), Err(FilterError::Syntax { .. })),
                "{bad:?} should fail"
            );
        }
        assert_eq!(
            Filter::parse("(cn=x)z"),
            Err(FilterError::Syntax {
                at: 6,
                reason: "trailing characters after filter"
            })
        );
    }

    #[test]
    fn depth_limit() {
        let mut s = "(!".repeat(MAX_DEPTH - 1);
        s.push_str("(cn=x)");
        s.push_str(&")".repeat(MAX_DEPTH - 1));
        let f = Filter::parse(&s).unwrap();
        assert_eq!(f.depth(), MAX_DEPTH);
        assert!(LdapFilter::from(&f) != LdapFilter::Present("x".into()));
        assert_eq!(Filter::try_from(&LdapFilter::from(&f)).unwrap(), f);

        let deeper = format!("(&{s})");
        assert_eq!(
            Filter::parse(&deeper),
            Err(FilterError::TooDeep { limit: MAX_DEPTH })
        );
        let nested = Filter::Not(Box::new(f));
        assert_eq!(
            Filter::try_from(&LdapFilter::from(&nested)),
            Err(FilterError::TooDeep { limit: MAX_DEPTH })
        );

        // 100,000 characters of (!(!(!... must not overflow the stack.
        let huge = "(!".repeat(50_000);
        assert_eq!(
            Filter::parse(&huge),
            Err(FilterError::TooDeep { limit: MAX_DEPTH })
        );
        let huge = "(&".repeat(50_000);
        assert_eq!(
            Filter::parse(&huge),
            Err(FilterError::TooDeep { limit: MAX_DEPTH })
        );
        assert_eq!(eq("a", b"").depth(), 1);
        assert_eq!(Filter::And(vec![]).depth(), 1);
    }

    #[test]
    fn display() {
        let f =
            Filter::parse(r"(&(cn=a\2a\28\29\5c\00b)(sn=x*\2a*y)(!(o=*))(x:dn:1.2:=v))").unwrap();
        assert_eq!(
            f.to_string(),
            r"(&(cn=a\2a\28\29\5c\00b)(sn=x*\2a*y)(!(o=*))(x:dn:1.2:=v))"
        );
        assert_eq!(eq("cn", b"\xff\xc3\xa9").to_string(), "(cn=\\ffé)");
    }

    #[test]
    fn ldap3_conversion() {
        let s = "(|(cn=*)(cn=name)(!(&(cursed=*)))(cn=abc*def*ghi*jkl)(createTimestamp>=2007)\
                 (createTimestamp<=2100)(cn~=abc)(memberOf:dn:1.2.840.113556.1.4.1941:=test))";
        let f = Filter::parse(s).unwrap();
        let l = LdapFilter::from(&f);
        assert_eq!(l, ldap3_proto::parse_ldap_filter_str(s).unwrap());
        assert_eq!(Filter::try_from(&l).unwrap(), f);
    }

    fn arb_attr() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9-]{0,6}(;[a-z0-9-]{1,4}){0,2}",
            "[1-9][0-9]{0,2}(\\.(0|[1-9][0-9]{0,2})){0,3}",
        ]
    }

    fn arb_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..10),
            "[ *()\\\\:=a-z\u{e9}]{0,8}".prop_map(String::into_bytes),
        ]
    }

    fn arb_nonempty_value() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 1..6)
    }

    fn arb_filter() -> impl Strategy<Value = Filter> {
        let leaf = prop_oneof![
            (arb_attr(), arb_value()).prop_map(|(a, v)| Filter::Equality(a, v)),
            (arb_attr(), arb_value()).prop_map(|(a, v)| Filter::GreaterOrEqual(a, v)),
            (arb_attr(), arb_value()).prop_map(|(a, v)| Filter::LessOrEqual(a, v)),
            (arb_attr(), arb_value()).prop_map(|(a, v)| Filter::Approx(a, v)),
            arb_attr().prop_map(Filter::Present),
            (
                arb_attr(),
                proptest::option::of(arb_nonempty_value()),
                proptest::collection::vec(arb_nonempty_value(), 0..3),
                proptest::option::of(arb_nonempty_value())
            )
                .prop_filter("not present", |(_, i, a, f)| i.is_some()
                    || !a.is_empty()
                    || f.is_some())
                .prop_map(|(attr, initial, any, final_)| Filter::Substrings(
                    attr,
                    Substrings {
                        initial,
                        any,
                        final_
                    }
                )),
            (
                proptest::option::of(arb_attr()),
                proptest::option::of("[a-z][a-zA-Z]{0,5}|1\\.2\\.[0-9]"),
                arb_value(),
                any::<bool>()
            )
                .prop_filter("attr or rule", |(a, r, _, _)| a.is_some() || r.is_some())
                .prop_filter("rule named dn", |(_, r, _, _)| r.as_deref() != Some("dn"))
                .prop_map(|(attr, rule, value, dn_attributes)| Filter::Extensible {
                    rule,
                    attr,
                    value,
                    dn_attributes
                }),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Filter::Or),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(f in arb_filter()) {
            let s = f.to_string();
            prop_assert_eq!(Filter::parse(&s), Ok(f), "string was {:?}", s);
        }

        #[test]
        fn parse_never_panics(s in "[()&|!=*~<>:a-z0-9\\\\ ]{0,40}") {
            let _ = Filter::parse(&s);
        }
    }
}
