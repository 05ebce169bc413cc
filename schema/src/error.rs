//! Errors raised by the schema: unknown types, bad values, bad definitions.
//!
//! Every variant maps to the LDAP result code (RFC 4511 §4.1.9, Appendix A) that the server
//! sends when the error ends an operation; see [`SchemaError::code`].

use oxldap_proto::ResultCode;

/// What went wrong while looking something up in, adding to, or applying the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// An attribute description names a type the schema does not define
    /// (undefinedAttributeType, 17; RFC 4511 §4.1.9).
    #[error("undefined attribute type {0:?}")]
    UndefinedAttributeType(String),
    /// An attribute description names a known type but its options are not acceptable
    /// (undefinedAttributeType, 17, as slapd answers; RFC 4512 §2.5, RFC 4522, RFC 3866),
    /// e.g. `sn;binary` or `userCertificate` without `;binary`. Displays as slapd words it:
    /// `userCertificate: requires ;binary transfer`.
    #[error("{desc}: {reason}")]
    InvalidAttributeDescription {
        /// The attribute description as written.
        desc: String,
        /// slapd's wording, e.g. `unrecognized option`.
        reason: String,
    },
    /// A DN uses an attribute type the schema does not define (invalidDNSyntax, 34).
    #[error("attribute type {0:?} used in DN is not defined")]
    UndefinedInDn(String),
    /// A DN value is invalid for the equality rule of its attribute type (invalidDNSyntax, 34).
    #[error("invalid value for {attr} in DN: {reason}")]
    InvalidDnValue {
        /// The attribute type as written in the DN.
        attr: String,
        /// Why the value was refused.
        reason: String,
    },
    /// One RDN names the same attribute type twice, e.g. `cn=a+cn=b`
    /// (RFC 4512 §2.3.1; invalidDNSyntax, 34).
    #[error("attribute type {0:?} appears more than once in one RDN")]
    DuplicateAvaType(String),
    /// A DN string (an attribute value of DN syntax) does not follow RFC 4514
    /// (invalidDNSyntax, 34).
    #[error("invalid DN string at offset {at}: {reason}")]
    DnSyntax {
        /// Byte offset into the string.
        at: usize,
        /// What was expected there.
        reason: &'static str,
    },
    /// An attribute value does not conform to its syntax (invalidAttributeSyntax, 21).
    #[error("invalid value for {attr}: {reason}")]
    InvalidSyntax {
        /// The attribute description the value was given for.
        attr: String,
        /// Why the value was refused.
        reason: String,
    },
    /// A value is not acceptable to a matching rule (invalidAttributeSyntax, 21). Callers that
    /// know the attribute usually turn this into [`SchemaError::InvalidSyntax`].
    #[error("value invalid for matching rule {rule}: {reason}")]
    InvalidValue {
        /// The matching rule's name.
        rule: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// The attribute type has no matching rule for the requested kind of match
    /// (inappropriateMatching, 18; RFC 4511 §4.10).
    #[error("attribute type {0:?} has no suitable matching rule")]
    InappropriateMatching(String),
    /// The entry has no value of the attribute (noSuchAttribute, 16; RFC 4511 §4.10).
    #[error("no such attribute {0:?}")]
    NoSuchAttribute(String),
    /// A matching rule name or OID is unknown (inappropriateMatching, 18).
    #[error("unknown matching rule {0:?}")]
    UnknownMatchingRule(String),
    /// An RFC 4512 §4.1 description string is malformed (invalidAttributeSyntax, 21).
    #[error("schema description parse error at offset {at}: {reason}")]
    Parse {
        /// Byte offset into the description string.
        at: usize,
        /// What is wrong there.
        reason: String,
    },
    /// A definition is well-formed but inconsistent (invalidAttributeSyntax, 21), e.g.
    /// COLLECTIVE with an operational usage (RFC 4512 §4.1.2).
    #[error("invalid schema definition {name:?}: {reason}")]
    InvalidDefinition {
        /// The OID or name of the definition.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A definition refers to a superior, attribute type or syntax that is not defined
    /// (invalidAttributeSyntax, 21).
    #[error("{name:?} refers to undefined {kind} {target:?}")]
    UndefinedReference {
        /// The OID or name of the definition that refers.
        name: String,
        /// What kind of element is referred to (`superior type`, `attribute type`, ...).
        kind: &'static str,
        /// The name or OID that could not be resolved.
        target: String,
    },
    /// An attribute type's SYNTAX names an LDAP syntax that is neither built in
    /// ([`crate::builtin::LDAP_SYNTAXES`], which lists every syntax slapd 2.5 knows) nor
    /// defined by an `ldapsyntax` directive (invalidAttributeSyntax, 21). Displays as
    /// slaptest words it: `Syntax not found: "1.2.3.4.5"` (slapd `at_add`,
    /// servers/slapd/at.c, `SLAP_SCHERR_SYN_NOT_FOUND`).
    #[error("Syntax not found: {0:?}")]
    UnknownSyntax(String),
    /// A name or OID of a new definition is already used (attributeOrValueExists, 20).
    #[error("name or OID {0:?} is already defined")]
    Duplicate(String),
    /// `Schema::builtin_named` was given a set name not in `BUILTIN_SETS` (other, 80).
    #[error("unknown built-in schema set {0:?}")]
    UnknownSchemaSet(String),
    /// A schema file (OpenLDAP `.schema` format, slapd.conf(5) `include`, or schema LDIF,
    /// slapd-config(5) `cn=schema`) could not be loaded: a configuration error (other, 80).
    #[error("{origin}, line {line}: {reason}")]
    File {
        /// Where the text came from (usually the file's path), as the caller named it.
        origin: String,
        /// The 1-based line where the offending definition or directive starts (0 when the
        /// problem is not tied to a line, e.g. in a built-in set).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An entry does not satisfy its object classes (objectClassViolation, 65;
    /// RFC 4512 §2.4, RFC 4511 §4.7), e.g. a MUST attribute is missing.
    #[error("{reason}")]
    ObjectClassViolation {
        /// slapd's wording, e.g. `object class 'person' requires attribute 'sn'`.
        reason: String,
    },
    /// A modify would change the structural object class of an entry
    /// (objectClassModsProhibited, 69; RFC 4512 §2.4.2, RFC 4511 §4.6).
    #[error("{reason}")]
    ObjectClassModsProhibited {
        /// slapd's wording, e.g. `structural object class modification from 'X' to 'Y' not
        /// allowed`.
        reason: String,
    },
    /// An RDN names an attribute type that may not name entries (namingViolation, 64):
    /// operational, collective or obsolete, or without an equality matching rule. slapd's
    /// `entry_naming_check` (schema_check.c), run by the schema check of every add and
    /// modify DN; RFC 4512 §2.3.1 (RDN values are compared by the type's equality rule).
    #[error("naming attribute '{attr}' {problem}")]
    NamingAttribute {
        /// The attribute type as the RDN names it.
        attr: String,
        /// slapd's wording: `is operational`, `is collective`, `is obsolete` or `has no
        /// equality matching rule`.
        problem: &'static str,
    },
}

impl SchemaError {
    /// The LDAP result code (RFC 4511 Appendix A) for this error.
    pub fn code(&self) -> ResultCode {
        match self {
            SchemaError::UndefinedAttributeType(_)
            | SchemaError::InvalidAttributeDescription { .. } => ResultCode::UndefinedAttributeType,
            SchemaError::UndefinedInDn(_)
            | SchemaError::InvalidDnValue { .. }
            | SchemaError::DuplicateAvaType(_)
            | SchemaError::DnSyntax { .. } => ResultCode::InvalidDnSyntax,
            SchemaError::InvalidSyntax { .. }
            | SchemaError::InvalidValue { .. }
            | SchemaError::Parse { .. }
            | SchemaError::InvalidDefinition { .. }
            | SchemaError::UndefinedReference { .. }
            | SchemaError::UnknownSyntax(_) => ResultCode::InvalidAttributeSyntax,
            SchemaError::InappropriateMatching(_) | SchemaError::UnknownMatchingRule(_) => {
                ResultCode::InappropriateMatching
            }
            SchemaError::NoSuchAttribute(_) => ResultCode::NoSuchAttribute,
            SchemaError::Duplicate(_) => ResultCode::AttributeOrValueExists,
            SchemaError::UnknownSchemaSet(_) | SchemaError::File { .. } => ResultCode::Other,
            SchemaError::ObjectClassViolation { .. } => ResultCode::ObjectClassViolation,
            SchemaError::ObjectClassModsProhibited { .. } => ResultCode::ObjectClassModsProhibited,
            SchemaError::NamingAttribute { .. } => ResultCode::NamingViolation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(
            SchemaError::UndefinedAttributeType("x".into())
                .code()
                .code(),
            17
        );
        let desc = SchemaError::InvalidAttributeDescription {
            desc: "sn;binary".into(),
            reason: "option \"binary\" not supported with type".into(),
        };
        assert_eq!(desc.code().code(), 17);
        assert_eq!(
            desc.to_string(),
            "sn;binary: option \"binary\" not supported with type"
        );
        assert_eq!(SchemaError::DuplicateAvaType("cn".into()).code().code(), 34);
        assert_eq!(SchemaError::UndefinedInDn("x".into()).code().code(), 34);
        assert_eq!(
            SchemaError::InappropriateMatching("x".into()).code().code(),
            18
        );
        assert_eq!(SchemaError::NoSuchAttribute("x".into()).code().code(), 16);
        assert_eq!(
            SchemaError::InvalidSyntax {
                attr: "x".into(),
                reason: "y".into()
            }
            .code()
            .code(),
            21
        );
        let file = SchemaError::File {
            origin: "core.schema".into(),
            line: 12,
            reason: "bad".into(),
        };
        assert_eq!(file.code().code(), 80);
        let syn = SchemaError::UnknownSyntax("1.2.3.4.5".into());
        assert_eq!(syn.to_string(), "Syntax not found: \"1.2.3.4.5\"");
        assert_eq!(syn.code().code(), 21);
        assert_eq!(file.to_string(), "core.schema, line 12: bad");
        assert_eq!(
            SchemaError::ObjectClassViolation { reason: "x".into() }
                .code()
                .code(),
            65
        );
        assert_eq!(
            SchemaError::ObjectClassModsProhibited { reason: "x".into() }
                .code()
                .code(),
            69
        );
        assert_eq!(
            SchemaError::NamingAttribute {
                attr: "memberOf".into(),
                problem: "is operational"
            }
            .code()
            .code(),
            64
        );
    }
}
