//! Matching rules (RFC 4517 §4.2, RFC 4530 §2, OpenLDAP CSN rules) and the string
//! preparation they rely on (RFC 4518).
//!
//! Every rule is identified by name and OID. A rule normalizes values to a canonical byte
//! string ([`MatchingRule::normalize`]); two values are equal under an equality rule iff
//! their normalized forms are equal. Ordering rules compare normalized forms
//! ([`MatchingRule::order`]), substrings rules match prepared assertion components against
//! a normalized value ([`MatchingRule::matches_substrings`]).
//!
//! String preparation (RFC 4518 §2) is implemented honestly but simplified:
//! * Transcode: values must be UTF-8, anything else is an invalid value.
//! * Map (§2.2): soft hyphens, joiners, variation selectors and other control/format
//!   characters are removed; tabs, line breaks and every other Unicode space become U+0020;
//!   case-ignore rules fold case with per-character `to_lowercase` (plus final sigma → σ),
//!   not the full RFC 3454 B.2 table.
//! * Normalize (§2.3): NFKC. Map and normalize are repeated until stable so that the result
//!   is idempotent.
//! * Prohibit (§2.4) and bidi checks (§2.5) are not done.
//! * Insignificant space handling (§2.6.1): leading and trailing spaces are removed and
//!   inner runs of spaces collapse to one; a value of spaces only becomes one space (as
//!   slapd, so it stays apart from the empty value). Numeric strings drop all spaces (§2.6.2),
//!   telephone numbers drop spaces and hyphens (§2.6.3).

use std::cmp::Ordering;

use oxldap_proto::Substrings;
use unicode_normalization::UnicodeNormalization;

use crate::error::SchemaError;
use crate::parse::{is_descr, is_numericoid};
use crate::schema::Schema;

/// What a matching rule decides (RFC 4512 §4.1.3: the rule's role in an attribute type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// An EQUALITY rule: values are equal or not.
    Equality,
    /// An ORDERING rule: the attribute value is less than the assertion value or not.
    Ordering,
    /// A SUBSTR rule: the value matches a substrings assertion or not.
    Substrings,
}

/// How values are prepared and compared; shared by the equality, ordering and substrings
/// rule of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Algo {
    CaseIgnore,
    CaseExact,
    CaseIgnoreIa5,
    CaseExactIa5,
    CaseIgnoreList,
    Dn,
    UniqueMember,
    Integer,
    NumericString,
    Telephone,
    Octet,
    Boolean,
    GeneralizedTime,
    Oid,
    OidFirstComponent,
    Uuid,
    Csn,
    BitString,
    /// OpenLDAP's DN relation rules (`dnSubtreeMatch`, `dnOneLevelMatch`,
    /// `dnSubordinateMatch`, `dnSuperiorMatch`, servers/slapd/schema_init.c): values are
    /// normalized as DNs; the rule holds when the value stands in the relation to the
    /// assertion DN ([`DnRelation`]).
    DnRelation(DnRelation),
    /// Known by name so that definitions using it load, but not implemented: any match
    /// with it is Undefined.
    Unsupported,
}

/// How an attribute value's DN must relate to the assertion DN for one of OpenLDAP's DN
/// relation rules to hold (checked against slapd 2.5: `(entryDN:dnSubtreeMatch:=X)`
/// matches X and every entry below it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DnRelation {
    /// dnSubtreeMatch (1.3.6.1.4.1.4203.666.4.9): the value is the assertion DN or below it.
    Subtree,
    /// dnOneLevelMatch (1.3.6.1.4.1.4203.666.4.8): the value's parent is the assertion DN.
    OneLevel,
    /// dnSubordinateMatch (1.3.6.1.4.1.4203.666.4.10): the value is strictly below it.
    Subordinate,
    /// dnSuperiorMatch (1.3.6.1.4.1.4203.666.4.11): the value is strictly above it.
    Superior,
}

impl DnRelation {
    /// Whether the normalized DN `value` relates to the normalized DN `asserted`.
    fn holds(self, value: &[u8], asserted: &[u8]) -> bool {
        let parse = |b: &[u8]| {
            std::str::from_utf8(b)
                .ok()
                .and_then(|s| oxldap_proto::Dn::parse(s).ok())
        };
        let (Some(v), Some(a)) = (parse(value), parse(asserted)) else {
            return false;
        };
        // Strictly below: more RDNs, ending with the other's (values are normalized, so
        // RDNs compare as written).
        let below = |x: &oxldap_proto::Dn, y: &oxldap_proto::Dn| {
            x.rdns.len() > y.rdns.len() && x.rdns.ends_with(&y.rdns)
        };
        match self {
            DnRelation::Subtree => v == a || below(&v, &a),
            DnRelation::OneLevel => v.rdns.len() == a.rdns.len() + 1 && below(&v, &a),
            DnRelation::Subordinate => below(&v, &a),
            DnRelation::Superior => below(&a, &v),
        }
    }
}

/// A matching rule: RFC 4512 §4.1.3 MatchingRuleDescription plus its implementation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MatchingRule {
    /// The rule's numeric OID.
    pub oid: &'static str,
    /// The rule's name.
    pub name: &'static str,
    /// Whether it is an equality, ordering or substrings rule.
    pub kind: RuleKind,
    /// The OID of the assertion syntax (RFC 4517 §3.3).
    pub syntax: &'static str,
    algo: Algo,
}

macro_rules! rules {
    ($(($oid:literal, $name:literal, $kind:ident, $syn:literal, $($algo:tt)+)),* $(,)?) => {
        &[$(MatchingRule {
            oid: $oid,
            name: $name,
            kind: RuleKind::$kind,
            syntax: $syn,
            algo: Algo::$($algo)+,
        }),*]
    };
}

/// Every matching rule this crate knows (RFC 4517 §4.2, RFC 4523 §2, RFC 4530 §2,
/// OpenLDAP). Rules marked unsupported ([`MatchingRule::is_supported`]) make any match
/// Undefined.
pub static MATCHING_RULES: &[MatchingRule] = rules![
    (
        "2.5.13.0",
        "objectIdentifierMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.38",
        Oid
    ),
    (
        "2.5.13.1",
        "distinguishedNameMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.12",
        Dn
    ),
    (
        "2.5.13.2",
        "caseIgnoreMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.15",
        CaseIgnore
    ),
    (
        "2.5.13.3",
        "caseIgnoreOrderingMatch",
        Ordering,
        "1.3.6.1.4.1.1466.115.121.1.15",
        CaseIgnore
    ),
    (
        "2.5.13.4",
        "caseIgnoreSubstringsMatch",
        Substrings,
        "1.3.6.1.4.1.1466.115.121.1.58",
        CaseIgnore
    ),
    (
        "2.5.13.5",
        "caseExactMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.15",
        CaseExact
    ),
    (
        "2.5.13.6",
        "caseExactOrderingMatch",
        Ordering,
        "1.3.6.1.4.1.1466.115.121.1.15",
        CaseExact
    ),
    (
        "2.5.13.7",
        "caseExactSubstringsMatch",
        Substrings,
        "1.3.6.1.4.1.1466.115.121.1.58",
        CaseExact
    ),
    (
        "2.5.13.8",
        "numericStringMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.36",
        NumericString
    ),
    (
        "2.5.13.9",
        "numericStringOrderingMatch",
        Ordering,
        "1.3.6.1.4.1.1466.115.121.1.36",
        NumericString
    ),
    (
        "2.5.13.10",
        "numericStringSubstringsMatch",
        Substrings,
        "1.3.6.1.4.1.1466.115.121.1.58",
        NumericString
    ),
    (
        "2.5.13.11",
        "caseIgnoreListMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.41",
        CaseIgnoreList
    ),
    (
        "2.5.13.12",
        "caseIgnoreListSubstringsMatch",
        Substrings,
        "1.3.6.1.4.1.1466.115.121.1.58",
        CaseIgnoreList
    ),
    (
        "2.5.13.13",
        "booleanMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.7",
        Boolean
    ),
    (
        "2.5.13.14",
        "integerMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.27",
        Integer
    ),
    (
        "2.5.13.15",
        "integerOrderingMatch",
        Ordering,
        "1.3.6.1.4.1.1466.115.121.1.27",
        Integer
    ),
    (
        "2.5.13.16",
        "bitStringMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.6",
        BitString
    ),
    (
        "2.5.13.17",
        "octetStringMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.40",
        Octet
    ),
    (
        "2.5.13.18",
        "octetStringOrderingMatch",
        Ordering,
        "1.3.6.1.4.1.1466.115.121.1.40",
        Octet
    ),
    (
        "2.5.13.19",
        "octetStringSubstringsMatch",
        Substrings,
        "1.3.6.1.4.1.1466.115.121.1.40",
        Octet
    ),
    (
        "2.5.13.20",
        "telephoneNumberMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.50",
        Telephone
    ),
    (
        "2.5.13.21",
        "telephoneNumberSubstringsMatch",
        Substrings,
        "1.3.6.1.4.1.1466.115.121.1.58",
        Telephone
    ),
    (
        "2.5.13.22",
        "presentationAddressMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.43",
        Unsupported
    ),
    (
        "2.5.13.23",
        "uniqueMemberMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.34",
        UniqueMember
    ),
    (
        "2.5.13.24",
        "protocolInformationMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.42",
        Unsupported
    ),
    (
        "2.5.13.27",
        "generalizedTimeMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.24",
        GeneralizedTime
    ),
    (
        "2.5.13.28",
        "generalizedTimeOrderingMatch",
        Ordering,
        "1.3.6.1.4.1.1466.115.121.1.24",
        GeneralizedTime
    ),
    (
        "2.5.13.29",
        "integerFirstComponentMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.27",
        Unsupported
    ),
    (
        "2.5.13.30",
        "objectIdentifierFirstComponentMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.38",
        OidFirstComponent
    ),
    (
        "2.5.13.31",
        "directoryStringFirstComponentMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.15",
        Unsupported
    ),
    (
        "2.5.13.32",
        "wordMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.15",
        Unsupported
    ),
    (
        "2.5.13.33",
        "keywordMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.15",
        Unsupported
    ),
    (
        "2.5.13.34",
        "certificateExactMatch",
        Equality,
        "1.3.6.1.1.15.1",
        Unsupported
    ),
    // slapd's X.509 attribute certificate rule (RFC 5755 syntax, servers/slapd/
    // schema_init.c); known by name so that Debian's pmi.schema loads, not implemented.
    (
        "2.5.13.45",
        "attributeCertificateExactMatch",
        Equality,
        "1.3.6.1.4.1.4203.666.11.10.2.2",
        Unsupported
    ),
    (
        "2.5.13.38",
        "certificateListExactMatch",
        Equality,
        "1.3.6.1.1.15.5",
        Unsupported
    ),
    (
        "1.3.6.1.4.1.1466.109.114.1",
        "caseExactIA5Match",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.26",
        CaseExactIa5
    ),
    (
        "1.3.6.1.4.1.1466.109.114.2",
        "caseIgnoreIA5Match",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.26",
        CaseIgnoreIa5
    ),
    (
        "1.3.6.1.4.1.1466.109.114.3",
        "caseIgnoreIA5SubstringsMatch",
        Substrings,
        "1.3.6.1.4.1.1466.115.121.1.58",
        CaseIgnoreIa5
    ),
    (
        "1.3.6.1.4.1.4203.1.2.1",
        "caseExactIA5SubstringsMatch",
        Substrings,
        "1.3.6.1.4.1.1466.115.121.1.58",
        CaseExactIa5
    ),
    (
        "1.3.6.1.1.16.2",
        "uuidMatch",
        Equality,
        "1.3.6.1.1.16.1",
        Uuid
    ),
    (
        "1.3.6.1.1.16.3",
        "uuidOrderingMatch",
        Ordering,
        "1.3.6.1.1.16.1",
        Uuid
    ),
    // slapd's authzMatch (servers/slapd/schema_init.c) for its authzTo/authzFrom syntax;
    // known by name so that Debian's dyngroup.schema (`EQUALITY authzMatch`) loads, not
    // implemented (oxldap has no SASL authz rules): every match with it is Undefined.
    (
        "1.3.6.1.4.1.4203.666.4.12",
        "authzMatch",
        Equality,
        "1.3.6.1.4.1.4203.666.2.7",
        Unsupported
    ),
    (
        "1.3.6.1.4.1.4203.666.11.2.2",
        "CSNMatch",
        Equality,
        "1.3.6.1.4.1.4203.666.11.2.1",
        Csn
    ),
    (
        "1.3.6.1.4.1.4203.666.11.2.3",
        "CSNOrderingMatch",
        Ordering,
        "1.3.6.1.4.1.4203.666.11.2.1",
        Csn
    ),
    // OpenLDAP's DN relation rules (schema_init.c), usable with DN-syntax attributes such
    // as entryDN; slapd does not list them in the subschema ([`MatchingRule::is_published`]).
    (
        "1.3.6.1.4.1.4203.666.4.9",
        "dnSubtreeMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.12",
        DnRelation(DnRelation::Subtree)
    ),
    (
        "1.3.6.1.4.1.4203.666.4.8",
        "dnOneLevelMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.12",
        DnRelation(DnRelation::OneLevel)
    ),
    (
        "1.3.6.1.4.1.4203.666.4.10",
        "dnSubordinateMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.12",
        DnRelation(DnRelation::Subordinate)
    ),
    (
        "1.3.6.1.4.1.4203.666.4.11",
        "dnSuperiorMatch",
        Equality,
        "1.3.6.1.4.1.1466.115.121.1.12",
        DnRelation(DnRelation::Superior)
    ),
];

/// Looks a matching rule up by name or numeric OID, ASCII case-insensitively.
pub fn matching_rule(name_or_oid: &str) -> Option<&'static MatchingRule> {
    MATCHING_RULES
        .iter()
        .find(|r| r.oid == name_or_oid || r.name.eq_ignore_ascii_case(name_or_oid))
}

/// Where a substrings assertion component sits (RFC 4518 §2.6.1 treats the ends specially).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pos {
    Initial,
    Any,
    Final,
}

fn invalid(rule: &MatchingRule, reason: impl Into<String>) -> SchemaError {
    SchemaError::InvalidValue {
        rule: rule.name,
        reason: reason.into(),
    }
}

impl MatchingRule {
    /// Whether the rule is implemented. Unsupported rules are known by name (so that
    /// definitions referring to them load) but every match using them is Undefined.
    pub fn is_supported(&self) -> bool {
        self.algo != Algo::Unsupported
    }

    /// Whether the subschema lists the rule (`matchingRules`, `matchingRuleUse`): not
    /// OpenLDAP's DN relation rules, which slapd 2.5 evaluates but does not publish.
    pub fn is_published(&self) -> bool {
        !matches!(self.algo, Algo::DnRelation(_))
    }

    /// Whether a normalized attribute value matches a normalized equality assertion under
    /// this rule: the same key, or for a DN relation rule, the relation between the DNs.
    pub fn equal_normalized(&self, value: &[u8], asserted: &[u8]) -> bool {
        match self.algo {
            Algo::DnRelation(r) => r.holds(value, asserted),
            _ => value == asserted,
        }
    }

    /// Whether the rule may be used with values of an attribute type whose EQUALITY rule is
    /// `equality` and whose syntax is `syntax` (RFC 4512 §4.1.4 matchingRuleUse; RFC 4511
    /// §4.5.1.7.7: otherwise an extensible match with the rule is Undefined). As slapd's
    /// `mr_usable_with_at` (servers/slapd/mr.c): the type's own equality rule, a rule of the
    /// type's syntax, or a syntax the rule declares compatible (slapd's
    /// `directoryStringSyntaxes` for the caseIgnore/caseExact families, countryString for
    /// the IA5 rules). The subschema's `matchingRuleUse` publishes exactly this relation.
    pub fn usable_with(&self, equality: Option<&MatchingRule>, syntax: Option<&str>) -> bool {
        if !self.is_supported() {
            return false;
        }
        if equality.is_some_and(|e| e.oid == self.oid) {
            return true;
        }
        let Some(syntax) = syntax else {
            return false;
        };
        syntax == self.syntax || self.compat_syntaxes().contains(&syntax)
    }

    /// Syntaxes other than its own the rule applies to (slapd's `smr_compat_syntaxes`).
    fn compat_syntaxes(&self) -> &'static [&'static str] {
        // countryString, printableString, telephoneNumber (slapd: directoryStringSyntaxes).
        const DIRECTORY_STRING_COMPAT: &[&str] = &[
            "1.3.6.1.4.1.1466.115.121.1.11",
            "1.3.6.1.4.1.1466.115.121.1.44",
            "1.3.6.1.4.1.1466.115.121.1.50",
        ];
        const IA5_COMPAT: &[&str] = &["1.3.6.1.4.1.1466.115.121.1.11"];
        match self.algo {
            Algo::CaseIgnore | Algo::CaseExact => DIRECTORY_STRING_COMPAT,
            Algo::CaseIgnoreIa5 | Algo::CaseExactIa5 if self.kind == RuleKind::Equality => {
                IA5_COMPAT
            }
            _ => &[],
        }
    }

    /// The RFC 4512 §4.1.3 MatchingRuleDescription, for the subschema's `matchingRules`.
    pub fn to_description(&self) -> String {
        format!(
            "( {} NAME '{}' SYNTAX {} )",
            self.oid, self.name, self.syntax
        )
    }

    /// Whether this rule and `other` prepare values the same way (e.g. caseIgnoreMatch and
    /// caseIgnoreSubstringsMatch).
    pub fn same_family(&self, other: &MatchingRule) -> bool {
        self.algo == other.algo
    }

    /// The canonical form of `value` under this rule: the key that equality compares.
    /// For ordering and substrings rules it is the normalization of their equality family.
    /// DN-valued rules and objectIdentifierMatch need the schema to resolve names.
    ///
    /// Errors with [`SchemaError::InvalidValue`] when the value is not valid for the rule
    /// (RFC 4517 §4.2: the rule then evaluates to Undefined).
    pub fn normalize(&self, schema: &Schema, value: &[u8]) -> Result<Vec<u8>, SchemaError> {
        self.normalize_at(schema, value, 0)
    }

    /// [`MatchingRule::normalize`] for a value found `depth` DN levels deep.
    pub(crate) fn normalize_at(
        &self,
        schema: &Schema,
        value: &[u8],
        depth: usize,
    ) -> Result<Vec<u8>, SchemaError> {
        match self.algo {
            Algo::CaseIgnore => Ok(prep(self, value, true)?.into_bytes()),
            Algo::CaseExact => Ok(prep(self, value, false)?.into_bytes()),
            Algo::CaseIgnoreIa5 => {
                ia5(self, value)?;
                Ok(prep(self, value, true)?.into_bytes())
            }
            Algo::CaseExactIa5 => {
                ia5(self, value)?;
                Ok(prep(self, value, false)?.into_bytes())
            }
            Algo::CaseIgnoreList => {
                let s = utf8(self, value)?;
                let lines: Vec<String> = s.split('$').map(|line| prep_whole(line, true)).collect();
                Ok(lines.join("$").into_bytes())
            }
            Algo::Dn | Algo::DnRelation(_) => {
                let s = utf8(self, value)?;
                Ok(schema
                    .normalize_dn_str_at(s, depth)?
                    .to_string()
                    .into_bytes())
            }
            Algo::UniqueMember => {
                let s = utf8(self, value)?;
                let (dn, uid) = split_unique_member(s);
                let mut out = schema.normalize_dn_str_at(dn, depth)?.to_string();
                if let Some(uid) = uid {
                    out.push('#');
                    out.push_str(uid);
                }
                Ok(out.into_bytes())
            }
            Algo::Integer => normalize_integer(utf8(self, value)?)
                .map(String::into_bytes)
                .map_err(|r| invalid(self, r)),
            Algo::NumericString => {
                let s = utf8(self, value)?;
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b' ') {
                    return Err(invalid(self, "a numeric string has only digits and spaces"));
                }
                Ok(s.bytes().filter(|&b| b != b' ').collect())
            }
            Algo::Telephone => {
                let s = prep_raw(self, value, true)?;
                Ok(strip_telephone(&s).into_bytes())
            }
            Algo::Octet | Algo::Csn => Ok(value.to_vec()),
            Algo::Boolean => match value {
                b"TRUE" | b"FALSE" => Ok(value.to_vec()),
                _ => Err(invalid(self, "a boolean is TRUE or FALSE")),
            },
            Algo::GeneralizedTime => normalize_generalized_time(utf8(self, value)?)
                .map(String::into_bytes)
                .map_err(|r| invalid(self, r)),
            Algo::Oid => {
                let s = utf8(self, value)?;
                resolve_oid(self, schema, s.trim())
            }
            Algo::OidFirstComponent => {
                let s = utf8(self, value)?.trim();
                let first = match s.strip_prefix('(') {
                    Some(rest) => rest
                        .trim_start()
                        .split(|c: char| c.is_whitespace() || c == ')')
                        .next()
                        .unwrap_or(""),
                    None => s,
                };
                resolve_oid(self, schema, first)
            }
            Algo::Uuid => {
                let s = utf8(self, value)?;
                let ok = s.len() == 36
                    && s.bytes().enumerate().all(|(i, b)| {
                        if matches!(i, 8 | 13 | 18 | 23) {
                            b == b'-'
                        } else {
                            b.is_ascii_hexdigit()
                        }
                    });
                if !ok {
                    return Err(invalid(self, "a UUID is 8-4-4-4-12 hexadecimal digits"));
                }
                Ok(s.to_ascii_lowercase().into_bytes())
            }
            Algo::BitString => {
                let s = utf8(self, value)?;
                let ok = s
                    .strip_prefix('\'')
                    .and_then(|r| r.strip_suffix("'B"))
                    .is_some_and(|bits| bits.bytes().all(|b| b == b'0' || b == b'1'));
                if !ok {
                    return Err(invalid(self, "a bit string looks like '0101'B"));
                }
                Ok(value.to_vec())
            }
            Algo::Unsupported => Err(invalid(self, "matching rule is not implemented")),
        }
    }

    /// Whether `a` and `b` are equal under the rule's equality family.
    pub fn equal(&self, schema: &Schema, a: &[u8], b: &[u8]) -> Result<bool, SchemaError> {
        Ok(self.normalize(schema, a)? == self.normalize(schema, b)?)
    }

    /// Orders `a` against `b` under the rule (RFC 4517 §4.2 ordering rules): integers
    /// numerically, times chronologically, everything else by normalized bytes (code point
    /// order for strings).
    pub fn order(&self, schema: &Schema, a: &[u8], b: &[u8]) -> Result<Ordering, SchemaError> {
        let a = self.normalize(schema, a)?;
        let b = self.normalize(schema, b)?;
        Ok(self.cmp_normalized(&a, &b))
    }

    /// Orders two values already normalized by [`MatchingRule::normalize`].
    pub fn cmp_normalized(&self, a: &[u8], b: &[u8]) -> Ordering {
        match self.algo {
            Algo::Integer => cmp_integer(a, b),
            Algo::GeneralizedTime => cmp_time(a, b),
            _ => a.cmp(b),
        }
    }

    /// Whether `value` matches the substrings assertion under this rule's preparation
    /// (RFC 4511 §4.5.1.7.2, RFC 4518 §2.6.1 for the space handling of components).
    pub fn matches_substrings(
        &self,
        schema: &Schema,
        value: &[u8],
        sub: &Substrings,
    ) -> Result<bool, SchemaError> {
        let prepared = self.prepare_substrings(sub)?;
        let value = self.normalize(schema, value)?;
        Ok(prepared.matches(&value))
    }

    /// Prepares the components of a substrings assertion once, for matching many values
    /// normalized with [`MatchingRule::normalize`].
    ///
    /// Errors: an assertion without any component (RFC 4511 §4.5.1 requires at least
    /// one; the text form cannot write one, raw BER can) is invalid, so the filter item
    /// is Undefined and matches nothing, negated or not, as in slapd; it used to match
    /// like a presence test.
    pub fn prepare_substrings(&self, sub: &Substrings) -> Result<PreparedSubstrings, SchemaError> {
        if sub.initial.is_none() && sub.any.is_empty() && sub.final_.is_none() {
            return Err(invalid(self, "a substrings assertion has no component"));
        }
        // slapd trims the spaces at both ends of every IA5 component, and a component left
        // empty constrains nothing: `(mail=* *)` matches every value (tester 13, finding
        // 5), where a directoryString's initial or any component of spaces only makes the
        // assertion Undefined.
        let ia5 = matches!(self.algo, Algo::CaseIgnoreIa5 | Algo::CaseExactIa5);
        let component = |c: &[u8], pos: Pos| -> Result<Option<Vec<u8>>, SchemaError> {
            if ia5 {
                let out = self.prepare_component_raw(c, pos)?;
                return Ok((!out.is_empty()).then_some(out));
            }
            self.prepare_component(c, pos).map(Some)
        };
        let mut any = Vec::with_capacity(sub.any.len());
        for c in &sub.any {
            any.extend(component(c, Pos::Any)?);
        }
        Ok(PreparedSubstrings {
            initial: match sub.initial.as_deref() {
                None => None,
                Some(c) => component(c, Pos::Initial)?,
            },
            any,
            final_: match sub.final_.as_deref() {
                None => None,
                Some(c) => self.prepare_final(c)?,
            },
        })
    }

    /// The final component, prepared. For the string rules a final component of spaces
    /// only constrains nothing, as in slapd: `(cn=Ana* )` is `(cn=Ana*)` and `(cn=* )`
    /// matches every value (RFC 4518 §2.6.1 prepares it to one space, and every value
    /// is taken to end with one); an initial or any component of spaces only still
    /// makes the assertion Undefined ([`Self::prepare_component`]), as in slapd.
    fn prepare_final(&self, c: &[u8]) -> Result<Option<Vec<u8>>, SchemaError> {
        let strings = matches!(
            self.algo,
            Algo::CaseIgnore
                | Algo::CaseIgnoreList
                | Algo::CaseExact
                | Algo::CaseIgnoreIa5
                | Algo::CaseExactIa5
        );
        if strings {
            let out = self.prepare_component_raw(c, Pos::Final)?;
            return Ok((!out.is_empty()).then_some(out));
        }
        self.prepare_component(c, Pos::Final).map(Some)
    }

    /// A prepared component that comes out empty (only insignificant spaces, or only the
    /// spaces and hyphens a telephone number ignores) makes the whole assertion Undefined,
    /// as in slapd: `(cn= *)` and `(telephoneNumber=*-*)` match nothing (a string rule's
    /// final component is the exception: [`Self::prepare_final`]).
    fn prepare_component(&self, c: &[u8], pos: Pos) -> Result<Vec<u8>, SchemaError> {
        let out = self.prepare_component_raw(c, pos)?;
        if out.is_empty() {
            return Err(invalid(
                self,
                "a substring component is empty after preparation",
            ));
        }
        Ok(out)
    }

    fn prepare_component_raw(&self, c: &[u8], pos: Pos) -> Result<Vec<u8>, SchemaError> {
        match self.algo {
            Algo::CaseIgnore | Algo::CaseIgnoreList => {
                let s = utf8(self, c)?;
                Ok(finish_spaces(&map_fold_nfkc(s, true), pos, false).into_bytes())
            }
            Algo::CaseExact => {
                let s = utf8(self, c)?;
                Ok(finish_spaces(&map_fold_nfkc(s, false), pos, false).into_bytes())
            }
            Algo::CaseIgnoreIa5 | Algo::CaseExactIa5 => {
                ia5(self, c)?;
                // slapd trims the spaces at both ends of every IA5 substring component.
                let s = utf8(self, c)?.trim_matches(' ');
                let fold = self.algo == Algo::CaseIgnoreIa5;
                Ok(finish_spaces(&map_fold_nfkc(s, fold), pos, false).into_bytes())
            }
            Algo::NumericString => {
                let s = utf8(self, c)?;
                if !s.bytes().all(|b| b.is_ascii_digit() || b == b' ') {
                    return Err(invalid(self, "a numeric string has only digits and spaces"));
                }
                Ok(s.bytes().filter(|&b| b != b' ').collect())
            }
            Algo::Telephone => {
                let s = utf8(self, c)?;
                Ok(strip_telephone(&map_fold_nfkc(s, true)).into_bytes())
            }
            Algo::Octet => Ok(c.to_vec()),
            _ => Err(invalid(self, "rule has no substrings matching")),
        }
    }
}

/// The prepared components of a substrings assertion (RFC 4511 §4.5.1.7.2): `initial`,
/// the `any` parts in order, and `final`, as returned by [`PreparedSubstrings::parts`].
pub type SubstringParts<'a> = (Option<&'a [u8]>, &'a [Vec<u8>], Option<&'a [u8]>);

/// A substrings assertion whose components are prepared for one matching rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedSubstrings {
    initial: Option<Vec<u8>>,
    any: Vec<Vec<u8>>,
    final_: Option<Vec<u8>>,
}

impl PreparedSubstrings {
    /// The prepared initial, any and final components (for index lookups, which must
    /// use exactly the preparation the matcher uses).
    pub fn parts(&self) -> SubstringParts<'_> {
        (self.initial.as_deref(), &self.any, self.final_.as_deref())
    }

    /// Whether a normalized value matches: starts with `initial`, ends with `final`, and
    /// contains the `any` parts in order in between, none overlapping.
    pub fn matches(&self, value: &[u8]) -> bool {
        let mut rest = value;
        if let Some(i) = &self.initial {
            match rest.strip_prefix(i.as_slice()) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        if let Some(f) = &self.final_ {
            match rest.strip_suffix(f.as_slice()) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        for a in &self.any {
            if a.is_empty() {
                continue;
            }
            match find(rest, a) {
                Some(at) => rest = rest.get(at + a.len()..).unwrap_or(&[]),
                None => return false,
            }
        }
        true
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses an RFC 4517 §3.3.30 SubstringAssertion (`init*any*final`, with `\2A` and `\5C`
/// escapes), as used in an extensible match with a substrings rule.
pub fn parse_substring_assertion(value: &[u8]) -> Option<Substrings> {
    let mut parts: Vec<Vec<u8>> = vec![Vec::new()];
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        match b {
            b'*' => parts.push(Vec::new()),
            b'\\' => {
                let hex = value.get(i + 1..i + 3)?;
                let s = std::str::from_utf8(hex).ok()?;
                let byte = u8::from_str_radix(s, 16).ok()?;
                parts.last_mut()?.push(byte);
                i += 2;
            }
            _ => parts.last_mut()?.push(b),
        }
        i += 1;
    }
    if parts.len() < 2 {
        return None;
    }
    let final_ = parts.pop().filter(|p| !p.is_empty());
    let mut it = parts.into_iter();
    let initial = it.next().filter(|p| !p.is_empty());
    let any = it.filter(|p| !p.is_empty()).collect();
    Some(Substrings {
        initial,
        any,
        final_,
    })
}

fn utf8<'a>(rule: &MatchingRule, value: &'a [u8]) -> Result<&'a str, SchemaError> {
    std::str::from_utf8(value).map_err(|_| invalid(rule, "value is not valid UTF-8"))
}

fn ia5(rule: &MatchingRule, value: &[u8]) -> Result<(), SchemaError> {
    if value.is_ascii() {
        Ok(())
    } else {
        Err(invalid(rule, "an IA5 string has only ASCII characters"))
    }
}

/// RFC 4518 §2.2 map step for one character: `None` maps to nothing.
fn map_char(c: char) -> Option<char> {
    match c {
        '\u{0009}'..='\u{000D}' | '\u{0085}' => Some(' '),
        '\u{00AD}'
        | '\u{1806}'
        | '\u{034F}'
        | '\u{180B}'..='\u{180E}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FFFC}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}' => None,
        c if c.is_control() => None,
        c if c.is_whitespace() => Some(' '),
        c => Some(c),
    }
}

fn fold_char(c: char, out: &mut String) {
    if c == 'ς' {
        out.push('σ');
    } else {
        out.extend(c.to_lowercase());
    }
}

/// Map, optional case fold, NFKC; repeated until stable (at most a few rounds).
fn map_fold_nfkc(s: &str, fold: bool) -> String {
    // Printable ASCII maps to itself, folds to ASCII lowercase and is already NFKC: the
    // common case (most directory values) needs none of the Unicode passes.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return if fold {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        };
    }
    map_fold_nfkc_unicode(s, fold)
}

/// [`map_fold_nfkc`] for any string: RFC 4518 §2.2 map, §2.3 fold, §2.4 NFKC.
fn map_fold_nfkc_unicode(s: &str, fold: bool) -> String {
    let mut cur: String = s.to_string();
    for _ in 0..4 {
        let mut mapped = String::with_capacity(cur.len());
        for c in cur.chars().filter_map(map_char) {
            if fold {
                fold_char(c, &mut mapped);
            } else {
                mapped.push(c);
            }
        }
        let next: String = mapped.nfkc().collect();
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

/// RFC 4518 §2.6.1 insignificant space handling. For whole values (`whole`), leading and
/// trailing spaces go; for substrings components only the outer end of `initial` / `final`.
///
/// A whole value of spaces only becomes one space, not the empty string (RFC 4518 §2.6.1
/// keeps it apart from the empty value; slapd's `UTF8StringNormalize` "string of all
/// spaces is treated as one space"). So `ou=\20` stays a valid DN once normalized and
/// printed, and refint finds the values naming it.
fn finish_spaces(s: &str, pos: Pos, whole: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.chars() {
        if c == ' ' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    if whole || pos == Pos::Final {
        while out.ends_with(' ') {
            out.pop();
        }
    }
    if whole || pos == Pos::Initial {
        let trimmed = out.trim_start_matches(' ');
        if trimmed.len() != out.len() {
            out = trimmed.to_string();
        }
    }
    if whole && out.is_empty() && !s.is_empty() {
        out.push(' ');
    }
    out
}

fn prep_raw(rule: &MatchingRule, value: &[u8], fold: bool) -> Result<String, SchemaError> {
    Ok(map_fold_nfkc(utf8(rule, value)?, fold))
}

/// Full RFC 4518 preparation of a whole value for a string rule.
fn prep(rule: &MatchingRule, value: &[u8], fold: bool) -> Result<String, SchemaError> {
    Ok(prep_whole(utf8(rule, value)?, fold))
}

/// RFC 4518 §2.2–§2.4 and §2.6.1 for a whole value: [`map_fold_nfkc`], then
/// [`finish_spaces`] with leading and trailing spaces removed.
///
/// Printable ASCII (most directory values) takes one pass and one allocation: it maps to
/// itself, folds to ASCII lowercase and is already NFKC, so only the spaces change
/// (collapsed to one, none at either end). Every value of a seed load goes through here
/// several times (schema check, equality key, index keys, DN normalization; issue 7).
fn prep_whole(s: &str, fold: bool) -> String {
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return finish_spaces(&map_fold_nfkc_unicode(s, fold), Pos::Any, true);
    }
    let mut out = String::with_capacity(s.len());
    // A space seen after some non-space: written before the next non-space, so runs
    // collapse to one and trailing spaces are dropped; leading ones are never pending.
    let mut space = false;
    for b in s.bytes() {
        if b == b' ' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(char::from(if fold { b.to_ascii_lowercase() } else { b }));
    }
    if out.is_empty() && !s.is_empty() {
        // Spaces only: one space, as `finish_spaces`.
        out.push(' ');
    }
    out
}

/// Prepares a string as caseIgnoreMatch does (RFC 4518: map, case fold, NFKC, insignificant
/// space handling). Exposed for callers that need the same folding, e.g. for indexes.
pub fn case_ignore_prep(s: &str) -> String {
    prep_whole(s, true)
}

/// Prepares a string as caseExactMatch does (RFC 4518 without case folding).
pub fn case_exact_prep(s: &str) -> String {
    prep_whole(s, false)
}

fn strip_telephone(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            !matches!(
                c,
                ' ' | '-' | '\u{2010}'
                    ..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}'
            )
        })
        .collect()
}

fn resolve_oid(rule: &MatchingRule, schema: &Schema, s: &str) -> Result<Vec<u8>, SchemaError> {
    if is_numericoid(s) {
        return Ok(s.as_bytes().to_vec());
    }
    if !is_descr(s) {
        return Err(invalid(rule, "not an OID or descriptor"));
    }
    schema
        .resolve_oid(s)
        .map(String::into_bytes)
        .ok_or_else(|| invalid(rule, format!("unknown descriptor {s:?}")))
}

/// Splits an RFC 4517 §3.3.21 NameAndOptionalUID into the DN and the `'0101'B` part.
fn split_unique_member(s: &str) -> (&str, Option<&str>) {
    if let Some(idx) = s.rfind('#') {
        let (dn, uid) = (&s[..idx], &s[idx + 1..]);
        let is_bits = uid
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix("'B"))
            .is_some_and(|b| b.bytes().all(|c| c == b'0' || c == b'1'));
        if is_bits {
            return (dn, Some(uid));
        }
    }
    (s, None)
}

/// RFC 4517 §3.3.16 INTEGER: optional minus and digits; leading zeros are dropped.
fn normalize_integer(s: &str) -> Result<String, &'static str> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an integer is an optional '-' followed by digits");
    }
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok("0".to_string());
    }
    Ok(if neg {
        format!("-{digits}")
    } else {
        digits.to_string()
    })
}

fn cmp_integer(a: &[u8], b: &[u8]) -> Ordering {
    let (an, ad) = match a.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, a),
    };
    let (bn, bd) = match b.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, b),
    };
    let mag = ad.len().cmp(&bd.len()).then_with(|| ad.cmp(bd));
    match (an, bn) {
        (false, false) => mag,
        (true, true) => mag.reverse(),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    }
}

fn cmp_time(a: &[u8], b: &[u8]) -> Ordering {
    let split = |v: &[u8]| -> (Vec<u8>, Vec<u8>) {
        let base = v.get(..14).unwrap_or(v).to_vec();
        let frac = v
            .get(15..)
            .filter(|_| v.get(14) == Some(&b'.'))
            .map(|f| f.strip_suffix(b"Z").unwrap_or(f).to_vec())
            .unwrap_or_default();
        (base, frac)
    };
    let (ab, af) = split(a);
    let (bb, bf) = split(b);
    ab.cmp(&bb).then_with(|| af.cmp(&bf))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = (if z >= 0 { z } else { z - 146096 }) / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

/// RFC 4517 §3.3.13 GeneralizedTime, normalized to UTC `YYYYmmddHHMMSS[.f+]Z`: missing
/// minutes/seconds become zero, fractions of an hour or minute are converted to seconds,
/// trailing zeros of the fraction are dropped, offsets are applied. A leap second (60)
/// rolls into the next minute.
pub(crate) fn normalize_generalized_time(s: &str) -> Result<String, &'static str> {
    const BAD: &str = "not a GeneralizedTime (YYYYmmddHH[MM[SS]][.fff](Z|+hhmm|-hhmm))";
    let b = s.as_bytes();
    let num = |i: usize, n: usize| -> Option<i64> {
        let part = b.get(i..i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let year = num(0, 4).ok_or(BAD)?;
    let month = num(4, 2).ok_or(BAD)?;
    let day = num(6, 2).ok_or(BAD)?;
    let hour = num(8, 2).ok_or(BAD)?;
    let mut i = 10;
    let (mut minute, mut second, mut unit) = (0, 0, 3600i64);
    if let Some(m) = num(i, 2) {
        minute = m;
        unit = 60;
        i += 2;
        if let Some(sec) = num(i, 2) {
            second = sec;
            unit = 1;
            i += 2;
        }
    }
    let mut frac = "";
    if matches!(b.get(i), Some(b'.') | Some(b',')) {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return Err(BAD);
        }
        frac = s.get(start..end).ok_or(BAD)?;
        i = end;
    }
    let offset = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let hh = num(i + 1, 2).ok_or(BAD)?;
            i += 3;
            let mm = match num(i, 2) {
                Some(mm) => {
                    i += 2;
                    mm
                }
                None => 0,
            };
            if hh > 23 || mm > 59 {
                return Err("time zone offset out of range");
            }
            let off = hh * 3600 + mm * 60;
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return Err("a GeneralizedTime needs a time zone (Z or +hhmm/-hhmm)"),
    };
    if i != b.len() {
        return Err(BAD);
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err("date or time field out of range");
    }
    let (extra, frac_digits) = if frac.is_empty() || unit == 1 {
        (0i64, frac.to_string())
    } else {
        if frac.len() > 30 {
            return Err("fraction too long");
        }
        let n: u128 = frac.parse().map_err(|_| BAD)?;
        let scale = 10u128.pow(frac.len() as u32);
        let total = n * unit as u128;
        let whole = (total / scale) as i64;
        let rem = total % scale;
        (whole, format!("{rem:0width$}", width = frac.len()))
    };
    let frac_digits = frac_digits.trim_end_matches('0');
    let secs =
        days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second + extra
            - offset;
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let rem = secs.rem_euclid(86400);
    if !(0..=9999).contains(&y) {
        return Err("time out of range after applying the offset");
    }
    let mut out = format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if !frac_digits.is_empty() {
        out.push('.');
        out.push_str(frac_digits);
    }
    out.push('Z');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(n: &str) -> &'static MatchingRule {
        matching_rule(n).expect("rule exists")
    }

    proptest::proptest! {
        /// The one-pass preparation of whole values equals the reference composition
        /// (map, fold, NFKC, then insignificant spaces) for any string: printable ASCII
        /// with runs of spaces at either end and inside, and Unicode that leaves the fast
        /// path.
        #[test]
        fn prep_whole_equals_the_reference(
            s in "[ a-zA-Z0-9.@-]{0,24}|[ a-zA-Z\\u{e9}\\u{3a3}\\u{3c2}\\u{a0}\\u{ff21}\\t]{0,16}",
            fold in proptest::bool::ANY,
        ) {
            let reference = finish_spaces(&map_fold_nfkc(&s, fold), Pos::Any, true);
            proptest::prop_assert_eq!(prep_whole(&s, fold), reference);
        }
    }

    proptest::proptest! {
        /// The printable-ASCII fast path gives what the Unicode passes give.
        #[test]
        fn ascii_fast_path_equals_unicode_passes(s in "[ -~]{0,40}", fold: bool) {
            proptest::prop_assert_eq!(map_fold_nfkc(&s, fold), map_fold_nfkc_unicode(&s, fold));
        }
    }

    fn norm(r: &str, v: &str) -> Result<String, SchemaError> {
        let s = Schema::builtin();
        rule(r)
            .normalize(&s, v.as_bytes())
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    #[test]
    fn lookup_by_name_and_oid() {
        assert_eq!(rule("CASEIGNOREMATCH").oid, "2.5.13.2");
        assert_eq!(rule("2.5.13.2").name, "caseIgnoreMatch");
        assert!(matching_rule("noSuchMatch").is_none());
        for r in MATCHING_RULES {
            assert!(is_numericoid(r.oid), "{}", r.oid);
            assert!(is_descr(r.name), "{}", r.name);
            assert!(is_numericoid(r.syntax), "{}", r.syntax);
        }
    }

    #[test]
    fn string_normalization_table() {
        let cases: &[(&str, &str, &str)] = &[
            ("caseIgnoreMatch", "  Foo   Bar  ", "foo bar"),
            ("caseIgnoreMatch", "FOO\tbar", "foo bar"),
            ("caseIgnoreMatch", "ＭÜLLER", "müller"),
            ("caseIgnoreMatch", "mu\u{0308}ller", "müller"),
            ("caseIgnoreMatch", "so\u{00AD}ft", "soft"),
            ("caseIgnoreMatch", "a\u{00A0}\u{3000}b", "a b"),
            ("caseIgnoreMatch", "ΟΔΟΣ", "οδοσ"),
            ("caseIgnoreMatch", "ﬁne", "fine"),
            // Spaces only: one space (slapd's UTF8StringNormalize), apart from "".
            ("caseIgnoreMatch", "   ", " "),
            ("caseIgnoreMatch", "\u{00A0}\t", " "),
            ("caseExactMatch", " ", " "),
            ("caseIgnoreMatch", "\u{00AD}", ""),
            ("caseExactMatch", "  Foo   Bar ", "Foo Bar"),
            ("caseExactMatch", "Ｆoo", "Foo"),
            (
                "caseIgnoreIA5Match",
                " User@Example.COM ",
                "user@example.com",
            ),
            ("caseExactIA5Match", "/Home/X", "/Home/X"),
            (
                "caseIgnoreListMatch",
                "1 Main  St$ Springfield ",
                "1 main st$springfield",
            ),
            ("telephoneNumberMatch", "+1 555-123 4567", "+15551234567"),
            ("numericStringMatch", " 12 34 ", "1234"),
            ("integerMatch", "007", "7"),
            ("integerMatch", "-0", "0"),
            ("integerMatch", "-42", "-42"),
            ("booleanMatch", "TRUE", "TRUE"),
            ("octetStringMatch", "AbC ", "AbC "),
            (
                "uuidMatch",
                "597AE2F6-16A6-1027-98F4-ABCDEFABCDEF",
                "597ae2f6-16a6-1027-98f4-abcdefabcdef",
            ),
            ("objectIdentifierMatch", "person", "2.5.6.6"),
            ("objectIdentifierMatch", "2.5.6.6", "2.5.6.6"),
            ("objectIdentifierMatch", "CN", "2.5.4.3"),
            ("objectIdentifierMatch", "caseIgnoreMatch", "2.5.13.2"),
            (
                "objectIdentifierFirstComponentMatch",
                "( 2.5.4.3 NAME 'cn' SUP name )",
                "2.5.4.3",
            ),
            (
                "distinguishedNameMatch",
                "CN=Foo  Bar , DC=Example",
                "cn=foo bar,dc=example",
            ),
            (
                "uniqueMemberMatch",
                "CN=Foo,DC=x#'0101'B",
                "cn=foo,dc=x#'0101'B",
            ),
            ("generalizedTimeMatch", "20240102030405Z", "20240102030405Z"),
            ("generalizedTimeMatch", "2024010203Z", "20240102030000Z"),
            ("generalizedTimeMatch", "202401020304.5Z", "20240102030430Z"),
            ("generalizedTimeMatch", "2024010203.25Z", "20240102031500Z"),
            (
                "generalizedTimeMatch",
                "20240102030405.1200Z",
                "20240102030405.12Z",
            ),
            (
                "generalizedTimeMatch",
                "20240101003000+0100",
                "20231231233000Z",
            ),
            (
                "generalizedTimeMatch",
                "20241231230000-0130",
                "20250101003000Z",
            ),
            (
                "generalizedTimeMatch",
                "20240229120000,0Z",
                "20240229120000Z",
            ),
        ];
        for (r, input, want) in cases {
            assert_eq!(norm(r, input).as_deref(), Ok(*want), "{r} {input:?}");
        }
    }

    #[test]
    fn invalid_values() {
        let cases: &[(&str, &[u8])] = &[
            ("caseIgnoreMatch", b"\xff\xfe"),
            ("caseIgnoreIA5Match", "müller".as_bytes()),
            ("integerMatch", b"12a"),
            ("integerMatch", b""),
            ("integerMatch", b"--1"),
            ("integerMatch", b" 1"),
            ("numericStringMatch", b"12-3"),
            ("booleanMatch", b"true"),
            ("uuidMatch", b"597ae2f6"),
            ("objectIdentifierMatch", b"noSuchThing"),
            ("objectIdentifierMatch", b"1..2"),
            ("generalizedTimeMatch", b"20241301000000Z"),
            ("generalizedTimeMatch", b"20240230000000Z"),
            ("generalizedTimeMatch", b"20240101000000"),
            ("generalizedTimeMatch", b"2024010100Zx"),
            ("generalizedTimeMatch", b"00000101000000+0100"),
            ("generalizedTimeMatch", b"20240101000000.Z"),
            ("bitStringMatch", b"'012'B"),
            ("distinguishedNameMatch", b"cn"),
            ("distinguishedNameMatch", b"foo=bar"),
            ("certificateExactMatch", b"x"),
        ];
        let s = Schema::builtin();
        for (r, v) in cases {
            let e = rule(r).normalize(&s, v);
            assert!(e.is_err(), "{r} {v:?} gave {e:?}");
        }
    }

    #[test]
    fn ordering() {
        let s = Schema::builtin();
        let o = |r: &str, a: &str, b: &str| rule(r).order(&s, a.as_bytes(), b.as_bytes());
        assert_eq!(o("integerOrderingMatch", "9", "10"), Ok(Ordering::Less));
        assert_eq!(
            o("integerOrderingMatch", "-9", "-10"),
            Ok(Ordering::Greater)
        );
        assert_eq!(o("integerOrderingMatch", "-1", "0"), Ok(Ordering::Less));
        assert_eq!(o("integerOrderingMatch", "010", "10"), Ok(Ordering::Equal));
        assert_eq!(
            o("caseIgnoreOrderingMatch", "abc", "ABD"),
            Ok(Ordering::Less)
        );
        assert_eq!(o("caseExactOrderingMatch", "B", "a"), Ok(Ordering::Less));
        assert_eq!(
            o(
                "generalizedTimeOrderingMatch",
                "20240101000000Z",
                "20240101000000.5Z"
            ),
            Ok(Ordering::Less)
        );
        assert_eq!(
            o(
                "generalizedTimeOrderingMatch",
                "20240101010000+0100",
                "20240101000000Z"
            ),
            Ok(Ordering::Equal)
        );
        assert_eq!(
            o("numericStringOrderingMatch", "1 2", "13"),
            Ok(Ordering::Less)
        );
        assert_eq!(
            o("octetStringOrderingMatch", "ab", "abc"),
            Ok(Ordering::Less)
        );
        assert_eq!(
            o(
                "CSNOrderingMatch",
                "20240101000000.000000Z#000000#000#000000",
                "20240101000000.000001Z#000000#000#000000"
            ),
            Ok(Ordering::Less)
        );
        assert!(o("integerOrderingMatch", "x", "1").is_err());
    }

    #[test]
    fn substrings() {
        let s = Schema::builtin();
        let m = |r: &str, v: &str, pat: &str| {
            let sub = parse_substring_assertion(pat.as_bytes()).expect("pattern");
            rule(r).matches_substrings(&s, v.as_bytes(), &sub)
        };
        assert_eq!(m("caseIgnoreSubstringsMatch", "Foo Bar", "foo*"), Ok(true));
        assert_eq!(m("caseIgnoreSubstringsMatch", "Foo Bar", "*BAR"), Ok(true));
        assert_eq!(m("caseIgnoreSubstringsMatch", "Foo Bar", "*o b*"), Ok(true));
        assert_eq!(
            m("caseIgnoreSubstringsMatch", "Foo   Bar", "foo *"),
            Ok(true)
        );
        assert_eq!(m("caseIgnoreSubstringsMatch", "Foobar", "foo *"), Ok(false));
        assert_eq!(m("caseIgnoreSubstringsMatch", "abc", "ab*bc"), Ok(false));
        assert_eq!(m("caseIgnoreSubstringsMatch", "abcbc", "ab*bc"), Ok(true));
        assert_eq!(
            m("caseIgnoreSubstringsMatch", "abcabc", "a*c*a*c"),
            Ok(true)
        );
        assert_eq!(m("caseIgnoreSubstringsMatch", "abc", "a*c*a*c"), Ok(false));
        assert_eq!(m("caseIgnoreSubstringsMatch", "ＭÜLLER", "mü*"), Ok(true));
        assert_eq!(m("caseExactSubstringsMatch", "Foo", "foo*"), Ok(false));
        assert_eq!(
            m(
                "caseIgnoreIA5SubstringsMatch",
                "a@EXAMPLE.com",
                "*@example.*"
            ),
            Ok(true)
        );
        assert_eq!(m("caseExactIA5SubstringsMatch", "alice", "al*"), Ok(true));
        assert_eq!(
            m(
                "telephoneNumberSubstringsMatch",
                "+1 555-123-4567",
                "*5551*"
            ),
            Ok(true)
        );
        assert_eq!(m("numericStringSubstringsMatch", "12 34", "*23*"), Ok(true));
        assert_eq!(
            m("caseIgnoreListSubstringsMatch", "1 Main St$Town", "*main*"),
            Ok(true)
        );
        assert_eq!(m("caseIgnoreSubstringsMatch", "a*b", "a\\2a*"), Ok(true));
        assert!(m("integerMatch", "1", "1*").is_err());
        assert!(parse_substring_assertion(b"nostar").is_none());
    }

    proptest::proptest! {
        #[test]
        fn case_ignore_idempotent(s in "\\PC*") {
            let once = case_ignore_prep(&s);
            proptest::prop_assert_eq!(case_ignore_prep(&once), once.clone());
            let schema = Schema::new();
            let rule = rule("caseIgnoreMatch");
            if let Ok(n) = rule.normalize(&schema, s.as_bytes()) {
                proptest::prop_assert_eq!(rule.normalize(&schema, &n), Ok(n.clone()));
            }
            let exact = case_exact_prep(&s);
            proptest::prop_assert_eq!(case_exact_prep(&exact), exact);
        }

        #[test]
        fn normalize_never_panics(v in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let s = Schema::builtin();
            for r in MATCHING_RULES {
                let _ = r.normalize(&s, &v);
            }
        }
    }
}
