//! The built-in schema, written as RFC 4512 §4.1 description strings and parsed at startup.
//!
//! Sets (see [`BUILTIN_SETS`]):
//! * `system`: what slapd hard-codes in `servers/slapd/schema_prep.c` and what OpenLDAP's
//!   `core.schema` therefore leaves commented out as "system schema": `objectClass`,
//!   `aliasedObjectName`, the RFC 4512 §3.4 / §4.2 / §5.1 operational attributes, RFC 3045
//!   vendor information, RFC 3296 `ref`, RFC 5020 `entryDN`, RFC 4530 `entryUUID`, OpenLDAP's
//!   `entryCSN`/`contextCSN`/`structuralObjectClass`, `memberOf` (really the memberof
//!   overlay's, kept here for now), the user types `name`, `distinguishedName`, `cn`,
//!   `description`, `seeAlso`, `userPassword`, `uid`, `labeledURI`, `uidNumber`, `gidNumber`,
//!   and the classes `top`, `alias`, `extensibleObject`, `subschema`, `subentry`,
//!   `OpenLDAProotDSE`, `referral`, `glue`, `syncConsumerSubentry`, `syncProviderSubentry`.
//!   It is always loaded first, and it has no definition in common with either the other
//!   built-in sets or the real OpenLDAP `core`, `cosine`, `inetorgperson`, `misc` and `nis`
//!   schema files, so it can be combined with both.
//! * `core`: what OpenLDAP's `core.schema` defines: RFC 4519 user schema (including the RFC
//!   4524 `mail`, `associatedDomain` and `simpleSecurityObject` that core.schema carries),
//!   RFC 4523 certificate attributes and classes, the RFC 2256 types and classes RFC 4519
//!   dropped (`presentationAddress`, `applicationEntity`, `dSA`, `dmd`, ...), RFC 2587
//!   `pkiUser`/`pkiCA`, RFC 2079 `labeledURIObject`, X.520 `pseudonym` and PKCS #9 `email`.
//! * `cosine`: RFC 4524 (COSINE) plus the RFC 1274 types and classes cosine.schema keeps
//!   (`pilotPerson`, `pilotDSA`, `qualityLabelledData`, the DNS records, ...).
//!
//! Each of `core`, `cosine`, `inetorgperson`, `misc` and `nis` defines exactly what the
//! file of that name in Debian's slapd package defines, with the same OIDs, names, SUP,
//! SYNTAX, matching rules, SINGLE-VALUE, NO-USER-MODIFICATION, USAGE, kind, MUST and MAY
//! (`schema/tests/builtin_vs_debian.rs` compares them), so a configuration behaves the same
//! whether the file is installed or not; DESC texts quote the RFCs.
//! * `inetorgperson`: RFC 2798 (needs `cosine`).
//! * `misc`: OpenLDAP misc.schema mail routing attributes.
//! * `nis`: RFC 2307 (needs `cosine`).
//! * `axigen`: a **stand-in** for Axigen's vendor-distributed `axigen.schema`, which is not
//!   available to us. It adds nothing that Axigen has not documented: Axigen's documented
//!   entries use only `inetOrgPerson` plus `inetLocalMailRecipient` (misc) with `cn`, `sn`,
//!   `mail`, `userPassword`, `mailHost`, and `groupOfNames` groups, so the set itself is
//!   EMPTY; it only pulls in `inetorgperson` and `misc` (and their dependencies) when they are
//!   not loaded yet. Servers should log [`AXIGEN_STANDIN_NOTE`] when they use it.

/// The names of the built-in schema sets, in load order. `system` comes first and is always
/// loaded.
pub const BUILTIN_SETS: &[&str] = &[
    "system",
    "core",
    "cosine",
    "inetorgperson",
    "misc",
    "nis",
    "axigen",
];

/// The warning a server logs when a configuration includes `axigen.schema` and the file is
/// missing, so that the built-in `axigen` stand-in set is used instead (see the module docs).
pub const AXIGEN_STANDIN_NOTE: &str = "axigen.schema not found; using oxldap's built-in stand-in, which adds no Axigen-specific types; install the vendor's file for full compatibility";

/// The LDAP syntaxes the built-in schema uses (RFC 4517 §3.3, RFC 4523 §2, RFC 4530 §2.1,
/// RFC 2307 §2.4, OpenLDAP CSN) and the others slapd 2.5 knows, as `(OID, description)`,
/// for the subschema's `ldapSyntaxes` (RFC 4512 §4.1.5). An attribute type's SYNTAX must be
/// one of these or defined by an `ldapsyntax` directive ([`crate::Schema::knows_syntax`]).
/// UTC Time (`.53`) is kept though Debian's slapd 2.5 is built without it
/// (`SUPPORT_OBSOLETE_UTC_SYNTAX`): RFC 4517 no longer lists it, but refusing it would turn
/// away schemas oxldap already loads and validates.
pub const LDAP_SYNTAXES: &[(&str, &str)] = &[
    ("1.3.6.1.4.1.1466.115.121.1.3", "Attribute Type Description"),
    ("1.3.6.1.4.1.1466.115.121.1.4", "Audio"),
    ("1.3.6.1.4.1.1466.115.121.1.5", "Binary"),
    ("1.3.6.1.4.1.1466.115.121.1.6", "Bit String"),
    ("1.3.6.1.4.1.1466.115.121.1.7", "Boolean"),
    ("1.3.6.1.4.1.1466.115.121.1.8", "Certificate"),
    ("1.3.6.1.4.1.1466.115.121.1.9", "Certificate List"),
    ("1.3.6.1.4.1.1466.115.121.1.10", "Certificate Pair"),
    ("1.3.6.1.4.1.1466.115.121.1.11", "Country String"),
    ("1.3.6.1.4.1.1466.115.121.1.12", "Distinguished Name"),
    ("1.3.6.1.4.1.1466.115.121.1.13", "Data Quality"),
    ("1.3.6.1.4.1.1466.115.121.1.14", "Delivery Method"),
    ("1.3.6.1.4.1.1466.115.121.1.15", "Directory String"),
    (
        "1.3.6.1.4.1.1466.115.121.1.16",
        "DIT Content Rule Description",
    ),
    (
        "1.3.6.1.4.1.1466.115.121.1.17",
        "DIT Structure Rule Description",
    ),
    ("1.3.6.1.4.1.1466.115.121.1.19", "DSA Quality"),
    ("1.3.6.1.4.1.1466.115.121.1.21", "Enhanced Guide"),
    (
        "1.3.6.1.4.1.1466.115.121.1.22",
        "Facsimile Telephone Number",
    ),
    ("1.3.6.1.4.1.1466.115.121.1.23", "Fax"),
    ("1.3.6.1.4.1.1466.115.121.1.24", "Generalized Time"),
    ("1.3.6.1.4.1.1466.115.121.1.25", "Guide"),
    ("1.3.6.1.4.1.1466.115.121.1.26", "IA5 String"),
    ("1.3.6.1.4.1.1466.115.121.1.27", "Integer"),
    ("1.3.6.1.4.1.1466.115.121.1.28", "JPEG"),
    ("1.3.6.1.4.1.1466.115.121.1.30", "Matching Rule Description"),
    (
        "1.3.6.1.4.1.1466.115.121.1.31",
        "Matching Rule Use Description",
    ),
    ("1.3.6.1.4.1.1466.115.121.1.34", "Name And Optional UID"),
    ("1.3.6.1.4.1.1466.115.121.1.35", "Name Form Description"),
    ("1.3.6.1.4.1.1466.115.121.1.36", "Numeric String"),
    ("1.3.6.1.4.1.1466.115.121.1.37", "Object Class Description"),
    ("1.3.6.1.4.1.1466.115.121.1.38", "OID"),
    ("1.3.6.1.4.1.1466.115.121.1.39", "Other Mailbox"),
    ("1.3.6.1.4.1.1466.115.121.1.40", "Octet String"),
    ("1.3.6.1.4.1.1466.115.121.1.41", "Postal Address"),
    ("1.3.6.1.4.1.1466.115.121.1.42", "Protocol Information"),
    ("1.3.6.1.4.1.1466.115.121.1.43", "Presentation Address"),
    ("1.3.6.1.4.1.1466.115.121.1.44", "Printable String"),
    ("1.3.6.1.4.1.1466.115.121.1.45", "SubtreeSpecification"),
    ("1.3.6.1.4.1.1466.115.121.1.49", "Supported Algorithm"),
    ("1.3.6.1.4.1.1466.115.121.1.50", "Telephone Number"),
    (
        "1.3.6.1.4.1.1466.115.121.1.51",
        "Teletex Terminal Identifier",
    ),
    ("1.3.6.1.4.1.1466.115.121.1.52", "Telex Number"),
    ("1.3.6.1.4.1.1466.115.121.1.53", "UTC Time"),
    ("1.3.6.1.4.1.1466.115.121.1.54", "LDAP Syntax Description"),
    ("1.3.6.1.4.1.1466.115.121.1.58", "Substring Assertion"),
    ("1.3.6.1.1.15.1", "X.509 Certificate Exact Assertion"),
    ("1.3.6.1.1.15.5", "X.509 Certificate List Exact Assertion"),
    ("1.3.6.1.1.16.1", "UUID"),
    ("1.3.6.1.1.1.0.0", "RFC2307 NIS Netgroup Triple"),
    ("1.3.6.1.1.1.0.1", "RFC2307 Boot Parameter"),
    ("1.3.6.1.4.1.4203.666.11.2.1", "CSN"),
    ("1.3.6.1.4.1.4203.666.2.7", "OpenLDAP authz"),
    (
        "1.3.6.1.4.1.4203.666.11.10.2.2",
        "AttributeCertificate Exact Assertion",
    ),
    // Syntaxes slapd 2.5 knows (servers/slapd/schema_init.c `syntax_defs`, probed with
    // slaptest: an attribute type using any of them loads) that oxldap does not validate:
    // their values are accepted as they come, like the other structured syntaxes above.
    // Listed so that schema files using them load as in slapd; any other SYNTAX OID is
    // refused (`Syntax not found`).
    ("1.3.6.1.4.1.1466.115.121.1.1", "ACI Item"),
    ("1.3.6.1.4.1.1466.115.121.1.2", "Access Point"),
    ("1.3.6.1.4.1.1466.115.121.1.20", "DSE Type"),
    (
        "1.3.6.1.4.1.1466.115.121.1.29",
        "Master And Shadow Access Points",
    ),
    ("1.3.6.1.4.1.1466.115.121.1.32", "Mail Preference"),
    ("1.3.6.1.4.1.1466.115.121.1.33", "MHS OR Address"),
    ("1.3.6.1.4.1.1466.115.121.1.55", "Modify Rights"),
    ("1.3.6.1.4.1.1466.115.121.1.56", "LDAP Schema Definition"),
    ("1.3.6.1.4.1.1466.115.121.1.57", "LDAP Schema Description"),
    ("1.3.6.1.1.15.2", "X.509 Certificate Assertion"),
    ("1.3.6.1.1.15.3", "X.509 Certificate Pair Exact Assertion"),
    ("1.3.6.1.1.15.4", "X.509 Certificate Pair Assertion"),
    ("1.3.6.1.1.15.6", "X.509 Certificate List Assertion"),
    ("1.3.6.1.1.15.7", "X.509 Algorithm Identifier"),
    (
        "1.3.6.1.4.1.4203.666.11.10.2.1",
        "X.509 AttributeCertificate",
    ),
    (
        "1.3.6.1.4.1.4203.666.11.10.2.3",
        "AttributeCertificate Assertion",
    ),
    ("1.3.6.1.4.1.4203.666.11.2.4", "CSN SID"),
    ("1.3.6.1.4.1.4203.1.1.1", "OpenLDAP void"),
    ("1.2.36.79672281.1.5.0", "RDN"),
    ("1.2.840.113549.1.8.1.1", "PKCS#8 PrivateKeyInfo"),
];

/// The RFC 4512 §4.1.5 SyntaxDescription of every entry of [`LDAP_SYNTAXES`].
pub fn ldap_syntax_descriptions() -> Vec<String> {
    LDAP_SYNTAXES
        .iter()
        .map(|(oid, desc)| format!("( {oid} DESC '{desc}' )"))
        .collect()
}

/// One built-in set of definitions.
#[derive(Debug)]
pub struct SchemaSet {
    /// The set's name, one of [`BUILTIN_SETS`].
    pub name: &'static str,
    /// Sets whose definitions this one refers to (besides `system`, and `core` for the
    /// user sets).
    pub requires: &'static [&'static str],
    /// RFC 4512 §4.1.2 AttributeTypeDescriptions, superiors first.
    pub attribute_types: &'static [&'static str],
    /// RFC 4512 §4.1.1 ObjectClassDescriptions, superclasses first.
    pub object_classes: &'static [&'static str],
}

/// The built-in set with this name (ASCII case-insensitive).
pub fn set(name: &str) -> Option<&'static SchemaSet> {
    SETS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

static SETS: &[SchemaSet] = &[
    SchemaSet {
        name: "system",
        requires: &[],
        attribute_types: SYSTEM_AT,
        object_classes: SYSTEM_OC,
    },
    SchemaSet {
        name: "core",
        requires: &[],
        attribute_types: CORE_AT,
        object_classes: CORE_OC,
    },
    SchemaSet {
        name: "cosine",
        requires: &[],
        attribute_types: COSINE_AT,
        object_classes: COSINE_OC,
    },
    SchemaSet {
        name: "inetorgperson",
        requires: &["cosine"],
        attribute_types: INETORGPERSON_AT,
        object_classes: INETORGPERSON_OC,
    },
    SchemaSet {
        name: "misc",
        requires: &[],
        attribute_types: MISC_AT,
        object_classes: MISC_OC,
    },
    SchemaSet {
        name: "nis",
        requires: &["cosine"],
        attribute_types: NIS_AT,
        object_classes: NIS_OC,
    },
    SchemaSet {
        name: "axigen",
        requires: &["inetorgperson", "misc"],
        attribute_types: &[],
        object_classes: &[],
    },
];

const SYSTEM_AT: &[&str] = &[
    // RFC 4512 §2.4.1, §2.6: objectClass and aliases
    "( 2.5.4.0 NAME 'objectClass' DESC 'RFC4512: object classes of the entity' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
    "( 2.5.4.1 NAME ( 'aliasedObjectName' 'aliasedEntryName' ) DESC 'RFC4512: name of aliased object' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE )",
    // RFC 4512 §3.4: operational attributes
    "( 2.5.18.1 NAME 'createTimestamp' DESC 'RFC4512: time which object was created' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 2.5.18.2 NAME 'modifyTimestamp' DESC 'RFC4512: time which object was last modified' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 2.5.18.3 NAME 'creatorsName' DESC 'RFC4512: name of creator' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 2.5.18.4 NAME 'modifiersName' DESC 'RFC4512: name of last modifier' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 2.5.18.9 NAME 'hasSubordinates' DESC 'X.501: entry has children' EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 2.5.18.10 NAME 'subschemaSubentry' DESC 'RFC4512: name of controlling subschema entry' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 2.5.21.9 NAME 'structuralObjectClass' DESC 'X.500(93): structural object class of entry' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 2.5.21.10 NAME 'governingStructureRule' DESC 'RFC4512: DIT structure rule governing the entry' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    // RFC 4512 §4.2: subschema attributes
    "( 2.5.21.1 NAME 'dITStructureRules' DESC 'RFC4512: DIT structure rules' EQUALITY integerFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.17 USAGE directoryOperation )",
    "( 2.5.21.2 NAME 'dITContentRules' DESC 'RFC4512: DIT content rules' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.16 USAGE directoryOperation )",
    "( 2.5.21.4 NAME 'matchingRules' DESC 'RFC4512: matching rules' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.30 USAGE directoryOperation )",
    "( 2.5.21.5 NAME 'attributeTypes' DESC 'RFC4512: attribute types' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.3 USAGE directoryOperation )",
    "( 2.5.21.6 NAME 'objectClasses' DESC 'RFC4512: object classes' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.37 USAGE directoryOperation )",
    "( 2.5.21.7 NAME 'nameForms' DESC 'RFC4512: name forms' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.35 USAGE directoryOperation )",
    "( 2.5.21.8 NAME 'matchingRuleUse' DESC 'RFC4512: matching rule uses' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.31 USAGE directoryOperation )",
    "( 1.3.6.1.4.1.1466.101.120.16 NAME 'ldapSyntaxes' DESC 'RFC4512: LDAP syntaxes' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.54 USAGE directoryOperation )",
    // RFC 4512 §5.1: root DSE attributes (namingContexts carries distinguishedNameMatch as in slapd;
    // supportedLDAPVersion has no equality rule, as in slapd)
    "( 1.3.6.1.4.1.1466.101.120.6 NAME 'altServer' DESC 'RFC4512: alternative servers' SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 USAGE dSAOperation )",
    "( 1.3.6.1.4.1.1466.101.120.5 NAME 'namingContexts' DESC 'RFC4512: naming contexts' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 USAGE dSAOperation )",
    "( 1.3.6.1.4.1.1466.101.120.13 NAME 'supportedControl' DESC 'RFC4512: supported controls' SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 USAGE dSAOperation )",
    "( 1.3.6.1.4.1.1466.101.120.7 NAME 'supportedExtension' DESC 'RFC4512: supported extended operations' SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 USAGE dSAOperation )",
    "( 1.3.6.1.4.1.1466.101.120.15 NAME 'supportedLDAPVersion' DESC 'RFC4512: supported LDAP versions' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 USAGE dSAOperation )",
    "( 1.3.6.1.4.1.1466.101.120.14 NAME 'supportedSASLMechanisms' DESC 'RFC4512: supported SASL mechanisms' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 USAGE dSAOperation )",
    "( 1.3.6.1.4.1.4203.1.3.5 NAME 'supportedFeatures' DESC 'RFC4512: features supported by the server' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 USAGE dSAOperation )",
    // RFC 3045 vendor information
    "( 1.3.6.1.1.4 NAME 'vendorName' DESC 'RFC3045: name of implementation vendor' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE NO-USER-MODIFICATION USAGE dSAOperation )",
    "( 1.3.6.1.1.5 NAME 'vendorVersion' DESC 'RFC3045: version of implementation' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE NO-USER-MODIFICATION USAGE dSAOperation )",
    // RFC 3296 referrals
    "( 2.16.840.1.113730.3.1.34 NAME 'ref' DESC 'RFC3296: subordinate referral URL' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 USAGE distributedOperation )",
    // RFC 5020 entryDN, RFC 4530 entryUUID, OpenLDAP CSNs, memberOf (the memberof overlay's type,
    // kept here for now)
    "( 1.3.6.1.1.20 NAME 'entryDN' DESC 'DN of the entry' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 1.3.6.1.1.16.4 NAME 'entryUUID' DESC 'UUID of the entry' EQUALITY uuidMatch ORDERING uuidOrderingMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 1.3.6.1.4.1.4203.666.1.7 NAME 'entryCSN' DESC 'change sequence number of the entry content' EQUALITY CSNMatch ORDERING CSNOrderingMatch SYNTAX 1.3.6.1.4.1.4203.666.11.2.1{64} SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 1.3.6.1.4.1.4203.666.1.25 NAME 'contextCSN' DESC 'the largest committed CSN of a context' EQUALITY CSNMatch ORDERING CSNOrderingMatch SYNTAX 1.3.6.1.4.1.4203.666.11.2.1{64} NO-USER-MODIFICATION USAGE dSAOperation )",
    // draft-good-ldap-changelog: the root DSE names the change log view (server
    // changelog_view); dSAOperation so that it comes with '+' only.
    "( 2.16.840.1.113730.3.1.35 NAME 'changelog' DESC 'the DN of the entry holding this server change log' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 NO-USER-MODIFICATION USAGE dSAOperation )",
    "( 1.2.840.113556.1.2.102 NAME 'memberOf' DESC 'Group that the entry belongs to' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 NO-USER-MODIFICATION USAGE dSAOperation )",
    // RFC 3671 / RFC 3672 subentries, OpenLDAP syncrepl consumer state
    "( 2.5.18.6 NAME 'subtreeSpecification' DESC 'RFC3672: subtree specification' SYNTAX 1.3.6.1.4.1.1466.115.121.1.45 SINGLE-VALUE USAGE directoryOperation )",
    "( 1.3.6.1.4.1.4203.666.1.23 NAME 'syncreplCookie' DESC 'syncrepl Cookie for shadow copy' EQUALITY octetStringMatch ORDERING octetStringOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE NO-USER-MODIFICATION USAGE dSAOperation )",
    // User types slapd hard-codes (core.schema has them commented out as "system schema")
    "( 2.5.4.41 NAME 'name' DESC 'RFC4519: common supertype of name attributes' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
    "( 2.5.4.49 NAME 'distinguishedName' DESC 'RFC4519: common supertype of DN attributes' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
    "( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s) for which the entity is known by' SUP name )",
    "( 2.5.4.13 NAME 'description' DESC 'RFC4519: descriptive information' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{1024} )",
    "( 2.5.4.34 NAME 'seeAlso' DESC 'RFC4519: DN of related object' SUP distinguishedName )",
    "( 2.5.4.35 NAME 'userPassword' DESC 'RFC4519/2307: password of user' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40{128} )",
    "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) DESC 'RFC4519: user identifier' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 1.3.6.1.4.1.250.1.57 NAME 'labeledURI' DESC 'RFC2079: Uniform Resource Identifier with optional label' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 1.3.6.1.1.1.1.0 NAME 'uidNumber' DESC 'RFC2307: An integer uniquely identifying a user in an administrative domain' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.1 NAME 'gidNumber' DESC 'RFC2307: An integer uniquely identifying a group in an administrative domain' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
];

const SYSTEM_OC: &[&str] = &[
    "( 2.5.6.0 NAME 'top' DESC 'RFC4512: top of the superclass chain' ABSTRACT MUST objectClass )",
    "( 2.5.6.1 NAME 'alias' DESC 'RFC4512: an alias' SUP top STRUCTURAL MUST aliasedObjectName )",
    "( 1.3.6.1.4.1.1466.101.120.111 NAME 'extensibleObject' DESC 'RFC4512: extensible object' SUP top AUXILIARY )",
    "( 2.5.20.1 NAME 'subschema' DESC 'RFC4512: controlling subschema (sub)entry' AUXILIARY MAY ( dITStructureRules $ nameForms $ dITContentRules $ objectClasses $ attributeTypes $ matchingRules $ matchingRuleUse ) )",
    "( 1.3.6.1.4.1.4203.1.4.1 NAME 'OpenLDAProotDSE' DESC 'OpenLDAP Root DSE object' SUP top STRUCTURAL MAY cn )",
    "( 2.16.840.1.113730.3.2.6 NAME 'referral' DESC 'RFC3296: named subordinate referral' SUP top STRUCTURAL MUST ref )",
    "( 2.5.17.0 NAME 'subentry' DESC 'RFC3672: subentry' SUP top STRUCTURAL MUST ( cn $ subtreeSpecification ) )",
    "( 1.3.6.1.4.1.4203.666.3.4 NAME 'glue' DESC 'Glue Entry' SUP top STRUCTURAL )",
    "( 1.3.6.1.4.1.4203.666.3.5 NAME 'syncConsumerSubentry' DESC 'Persistent Info for SyncRepl Consumer' AUXILIARY MAY syncreplCookie )",
    "( 1.3.6.1.4.1.4203.666.3.6 NAME 'syncProviderSubentry' DESC 'Persistent Info for SyncRepl Producer' AUXILIARY MAY contextCSN )",
];

const CORE_AT: &[&str] = &[
    // RFC 4519
    "( 2.5.4.4 NAME ( 'sn' 'surname' ) DESC 'RFC4519: last (family) name(s) for which the entity is known by' SUP name )",
    "( 2.5.4.6 NAME ( 'c' 'countryName' ) DESC 'RFC4519: two-letter ISO-3166 country code' SUP name SYNTAX 1.3.6.1.4.1.1466.115.121.1.11 SINGLE-VALUE )",
    "( 2.5.4.7 NAME ( 'l' 'localityName' ) DESC 'RFC4519: locality which this object resides in' SUP name )",
    "( 2.5.4.8 NAME ( 'st' 'stateOrProvinceName' ) DESC 'RFC4519: state or province which this object resides in' SUP name )",
    "( 2.5.4.9 NAME ( 'street' 'streetAddress' ) DESC 'RFC4519: street address of this object' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{128} )",
    "( 2.5.4.10 NAME ( 'o' 'organizationName' ) DESC 'RFC4519: organization this object belongs to' SUP name )",
    "( 2.5.4.11 NAME ( 'ou' 'organizationalUnitName' ) DESC 'RFC4519: organizational unit this object belongs to' SUP name )",
    "( 2.5.4.12 NAME 'title' DESC 'RFC4519: title associated with the entity' SUP name )",
    "( 2.5.4.14 NAME 'searchGuide' DESC 'RFC4519: search guide, deprecated by enhancedSearchGuide' SYNTAX 1.3.6.1.4.1.1466.115.121.1.25 )",
    "( 2.5.4.15 NAME 'businessCategory' DESC 'RFC4519: business category' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{128} )",
    "( 2.5.4.16 NAME 'postalAddress' DESC 'RFC4519: postal address' EQUALITY caseIgnoreListMatch SUBSTR caseIgnoreListSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.41 )",
    "( 2.5.4.17 NAME 'postalCode' DESC 'RFC4519: postal code' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{40} )",
    "( 2.5.4.18 NAME 'postOfficeBox' DESC 'RFC4519: Post Office Box' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{40} )",
    "( 2.5.4.19 NAME 'physicalDeliveryOfficeName' DESC 'RFC4519: physical Delivery Office Name' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{128} )",
    "( 2.5.4.20 NAME 'telephoneNumber' DESC 'RFC4519: Telephone Number' EQUALITY telephoneNumberMatch SUBSTR telephoneNumberSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50{32} )",
    "( 2.5.4.21 NAME 'telexNumber' DESC 'RFC4519: Telex Number' SYNTAX 1.3.6.1.4.1.1466.115.121.1.52 )",
    "( 2.5.4.22 NAME 'teletexTerminalIdentifier' DESC 'RFC4519: Teletex Terminal Identifier' SYNTAX 1.3.6.1.4.1.1466.115.121.1.51 )",
    "( 2.5.4.23 NAME ( 'facsimileTelephoneNumber' 'fax' ) DESC 'RFC4519: Facsimile (Fax) Telephone Number' SYNTAX 1.3.6.1.4.1.1466.115.121.1.22 )",
    "( 2.5.4.24 NAME 'x121Address' DESC 'RFC4519: X.121 Address' EQUALITY numericStringMatch SUBSTR numericStringSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.36{15} )",
    "( 2.5.4.25 NAME 'internationaliSDNNumber' DESC 'RFC4519: international ISDN number' EQUALITY numericStringMatch SUBSTR numericStringSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.36{16} )",
    "( 2.5.4.26 NAME 'registeredAddress' DESC 'RFC4519: registered postal address' SUP postalAddress SYNTAX 1.3.6.1.4.1.1466.115.121.1.41 )",
    "( 2.5.4.27 NAME 'destinationIndicator' DESC 'RFC4519: destination indicator' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.44{128} )",
    "( 2.5.4.28 NAME 'preferredDeliveryMethod' DESC 'RFC4519: preferred delivery method' SYNTAX 1.3.6.1.4.1.1466.115.121.1.14 SINGLE-VALUE )",
    "( 2.5.4.31 NAME 'member' DESC 'RFC4519: member of a group' SUP distinguishedName )",
    "( 2.5.4.32 NAME 'owner' DESC 'RFC4519: owner (of the object)' SUP distinguishedName )",
    "( 2.5.4.33 NAME 'roleOccupant' DESC 'RFC4519: occupant of role' SUP distinguishedName )",
    "( 2.5.4.42 NAME ( 'givenName' 'gn' ) DESC 'RFC4519: first name(s) for which the entity is known by' SUP name )",
    "( 2.5.4.43 NAME 'initials' DESC 'RFC4519: initials of some or all of names, but not the surname(s).' SUP name )",
    "( 2.5.4.44 NAME 'generationQualifier' DESC 'RFC4519: name qualifier indicating a generation' SUP name )",
    "( 2.5.4.45 NAME 'x500UniqueIdentifier' DESC 'RFC4519: binary distinguisher' EQUALITY bitStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.6 )",
    "( 2.5.4.46 NAME 'dnQualifier' DESC 'RFC4519: DN qualifier' EQUALITY caseIgnoreMatch ORDERING caseIgnoreOrderingMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.44 )",
    "( 2.5.4.47 NAME 'enhancedSearchGuide' DESC 'RFC4519: enhanced search guide' SYNTAX 1.3.6.1.4.1.1466.115.121.1.21 )",
    "( 2.5.4.50 NAME 'uniqueMember' DESC 'RFC4519: unique member of a group' EQUALITY uniqueMemberMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.34 )",
    "( 2.5.4.51 NAME 'houseIdentifier' DESC 'RFC4519: house identifier' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
    "( 2.5.4.5 NAME 'serialNumber' DESC 'RFC4519: serial number of the entity' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.44{64} )",
    "( 2.5.4.2 NAME 'knowledgeInformation' DESC 'RFC2256: knowledge information' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
    "( 0.9.2342.19200300.100.1.25 NAME ( 'dc' 'domainComponent' ) DESC 'RFC4519: domain component' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
    // RFC 4523
    "( 2.5.4.36 NAME 'userCertificate' DESC 'RFC4523: X.509 user certificate' EQUALITY certificateExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.8 )",
    "( 2.5.4.37 NAME 'cACertificate' DESC 'RFC4523: X.509 CA certificate' EQUALITY certificateExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.8 )",
    "( 2.5.4.38 NAME 'authorityRevocationList' DESC 'RFC4523: X.509 authority revocation list' SYNTAX 1.3.6.1.4.1.1466.115.121.1.9 )",
    "( 2.5.4.39 NAME 'certificateRevocationList' DESC 'RFC4523: X.509 certificate revocation list' SYNTAX 1.3.6.1.4.1.1466.115.121.1.9 )",
    "( 2.5.4.40 NAME 'crossCertificatePair' DESC 'RFC4523: X.509 cross certificate pair' SYNTAX 1.3.6.1.4.1.1466.115.121.1.10 )",
    // RFC 4524 types that OpenLDAP core.schema defines
    "( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) DESC 'RFC4524: RFC822 Mailbox' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
    "( 0.9.2342.19200300.100.1.37 NAME 'associatedDomain' DESC 'RFC4524: domain associated with object' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    // RFC 2256 §5 (X.520 types LDAPv3 kept from X.500; RFC 4519 dropped them)
    "( 2.5.4.29 NAME 'presentationAddress' DESC 'RFC2256: presentation address' EQUALITY presentationAddressMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.43 SINGLE-VALUE )",
    "( 2.5.4.30 NAME 'supportedApplicationContext' DESC 'RFC2256: supported application context' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
    "( 2.5.4.48 NAME 'protocolInformation' DESC 'RFC2256: protocol information' EQUALITY protocolInformationMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.42 )",
    "( 2.5.4.52 NAME 'supportedAlgorithms' DESC 'RFC2256: supported algorithms' SYNTAX 1.3.6.1.4.1.1466.115.121.1.49 )",
    "( 2.5.4.53 NAME 'deltaRevocationList' DESC 'RFC2256: delta revocation list; use ;binary' SYNTAX 1.3.6.1.4.1.1466.115.121.1.9 )",
    "( 2.5.4.54 NAME 'dmdName' DESC 'RFC2256: name of DMD' SUP name )",
    // X.520 (4th edition) §6.2.10
    "( 2.5.4.65 NAME 'pseudonym' DESC 'X.520(4th): pseudonym for the object' SUP name )",
    // PKCS #9 (RFC 2985 §5.2.1), named for DNs by RFC 3280 §4.1.2.6: legacy, IA5
    "( 1.2.840.113549.1.9.1 NAME ( 'email' 'emailAddress' 'pkcs9email' ) DESC 'RFC3280: legacy attribute for email addresses in DNs' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{128} )",
];

const CORE_OC: &[&str] = &[
    "( 2.5.6.2 NAME 'country' DESC 'RFC4519: a country' SUP top STRUCTURAL MUST c MAY ( searchGuide $ description ) )",
    "( 2.5.6.3 NAME 'locality' DESC 'RFC4519: a locality' SUP top STRUCTURAL MAY ( street $ seeAlso $ searchGuide $ st $ l $ description ) )",
    "( 2.5.6.4 NAME 'organization' DESC 'RFC4519: an organization' SUP top STRUCTURAL MUST o MAY ( userPassword $ searchGuide $ seeAlso $ businessCategory $ x121Address $ registeredAddress $ destinationIndicator $ preferredDeliveryMethod $ telexNumber $ teletexTerminalIdentifier $ telephoneNumber $ internationaliSDNNumber $ facsimileTelephoneNumber $ street $ postOfficeBox $ postalCode $ postalAddress $ physicalDeliveryOfficeName $ st $ l $ description ) )",
    "( 2.5.6.5 NAME 'organizationalUnit' DESC 'RFC4519: an organizational unit' SUP top STRUCTURAL MUST ou MAY ( userPassword $ searchGuide $ seeAlso $ businessCategory $ x121Address $ registeredAddress $ destinationIndicator $ preferredDeliveryMethod $ telexNumber $ teletexTerminalIdentifier $ telephoneNumber $ internationaliSDNNumber $ facsimileTelephoneNumber $ street $ postOfficeBox $ postalCode $ postalAddress $ physicalDeliveryOfficeName $ st $ l $ description ) )",
    "( 2.5.6.6 NAME 'person' DESC 'RFC4519: a person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber $ seeAlso $ description ) )",
    "( 2.5.6.7 NAME 'organizationalPerson' DESC 'RFC4519: an organizational person' SUP person STRUCTURAL MAY ( title $ x121Address $ registeredAddress $ destinationIndicator $ preferredDeliveryMethod $ telexNumber $ teletexTerminalIdentifier $ telephoneNumber $ internationaliSDNNumber $ facsimileTelephoneNumber $ street $ postOfficeBox $ postalCode $ postalAddress $ physicalDeliveryOfficeName $ ou $ st $ l ) )",
    "( 2.5.6.8 NAME 'organizationalRole' DESC 'RFC4519: an organizational role' SUP top STRUCTURAL MUST cn MAY ( x121Address $ registeredAddress $ destinationIndicator $ preferredDeliveryMethod $ telexNumber $ teletexTerminalIdentifier $ telephoneNumber $ internationaliSDNNumber $ facsimileTelephoneNumber $ seeAlso $ roleOccupant $ street $ postOfficeBox $ postalCode $ postalAddress $ physicalDeliveryOfficeName $ ou $ st $ l $ description ) )",
    "( 2.5.6.9 NAME 'groupOfNames' DESC 'RFC4519: a group of names (DNs)' SUP top STRUCTURAL MUST ( member $ cn ) MAY ( businessCategory $ seeAlso $ owner $ ou $ o $ description ) )",
    "( 2.5.6.10 NAME 'residentialPerson' DESC 'RFC4519: a residential person' SUP person STRUCTURAL MUST l MAY ( businessCategory $ x121Address $ registeredAddress $ destinationIndicator $ preferredDeliveryMethod $ telexNumber $ teletexTerminalIdentifier $ telephoneNumber $ internationaliSDNNumber $ facsimileTelephoneNumber $ street $ postOfficeBox $ postalCode $ postalAddress $ physicalDeliveryOfficeName $ st $ l ) )",
    "( 2.5.6.11 NAME 'applicationProcess' DESC 'RFC4519: an application process' SUP top STRUCTURAL MUST cn MAY ( seeAlso $ ou $ l $ description ) )",
    // RFC 2256 §7.12, §7.13
    "( 2.5.6.12 NAME 'applicationEntity' DESC 'RFC2256: an application entity' SUP top STRUCTURAL MUST ( presentationAddress $ cn ) MAY ( supportedApplicationContext $ seeAlso $ ou $ o $ l $ description ) )",
    "( 2.5.6.13 NAME 'dSA' DESC 'RFC2256: a directory system agent (a server)' SUP applicationEntity STRUCTURAL MAY knowledgeInformation )",
    "( 2.5.6.14 NAME 'device' DESC 'RFC4519: a device' SUP top STRUCTURAL MUST cn MAY ( serialNumber $ seeAlso $ owner $ ou $ o $ l $ description ) )",
    "( 2.5.6.15 NAME 'strongAuthenticationUser' DESC 'RFC4523: a strong authentication user' SUP top AUXILIARY MUST userCertificate )",
    "( 2.5.6.16 NAME 'certificationAuthority' DESC 'RFC4523: a certificate authority' SUP top AUXILIARY MUST ( authorityRevocationList $ certificateRevocationList $ cACertificate ) MAY crossCertificatePair )",
    // RFC 4523 §4.4 (X.509 version 2 CRLs)
    "( 2.5.6.16.2 NAME 'certificationAuthority-V2' SUP certificationAuthority AUXILIARY MAY deltaRevocationList )",
    "( 2.5.6.17 NAME 'groupOfUniqueNames' DESC 'RFC4519: a group of unique names (DN and Unique Identifier)' SUP top STRUCTURAL MUST ( uniqueMember $ cn ) MAY ( businessCategory $ seeAlso $ owner $ ou $ o $ description ) )",
    // RFC 2256 §7.18
    "( 2.5.6.18 NAME 'userSecurityInformation' DESC 'RFC2256: a user security information' SUP top AUXILIARY MAY supportedAlgorithms )",
    "( 2.5.6.19 NAME 'cRLDistributionPoint' DESC 'RFC4523: a CRL distribution point' SUP top STRUCTURAL MUST cn MAY ( certificateRevocationList $ authorityRevocationList $ deltaRevocationList ) )",
    // RFC 2256 §7.20
    "( 2.5.6.20 NAME 'dmd' DESC 'RFC2256: a directory management domain' SUP top STRUCTURAL MUST dmdName MAY ( userPassword $ searchGuide $ seeAlso $ businessCategory $ x121Address $ registeredAddress $ destinationIndicator $ preferredDeliveryMethod $ telexNumber $ teletexTerminalIdentifier $ telephoneNumber $ internationaliSDNNumber $ facsimileTelephoneNumber $ street $ postOfficeBox $ postalCode $ postalAddress $ physicalDeliveryOfficeName $ st $ l $ description ) )",
    // RFC 2587 §4 (PKIX LDAPv2 schema), RFC 4523 §4
    "( 2.5.6.21 NAME 'pkiUser' DESC 'RFC2587: a PKI user' SUP top AUXILIARY MAY userCertificate )",
    "( 2.5.6.22 NAME 'pkiCA' DESC 'RFC2587: PKI certificate authority' SUP top AUXILIARY MAY ( authorityRevocationList $ certificateRevocationList $ cACertificate $ crossCertificatePair ) )",
    "( 2.5.6.23 NAME 'deltaCRL' DESC 'RFC4523: X.509 delta CRL' SUP top AUXILIARY MAY deltaRevocationList )",
    // RFC 2079 §2
    "( 1.3.6.1.4.1.250.3.15 NAME 'labeledURIObject' DESC 'RFC2079: object that contains the URI attribute type' SUP top AUXILIARY MAY labeledURI )",
    "( 1.3.6.1.4.1.1466.344 NAME 'dcObject' DESC 'RFC4519: domain component object' SUP top AUXILIARY MUST dc )",
    "( 1.3.6.1.1.3.1 NAME 'uidObject' DESC 'RFC4519: uid object' SUP top AUXILIARY MUST uid )",
    "( 0.9.2342.19200300.100.4.19 NAME 'simpleSecurityObject' DESC 'RFC4524: simple security object' SUP top AUXILIARY MUST userPassword )",
];

const COSINE_AT: &[&str] = &[
    "( 0.9.2342.19200300.100.1.2 NAME 'textEncodedORAddress' DESC 'RFC1274: text encoded O/R address' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.4 NAME 'info' DESC 'RFC4524: general information' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{2048} )",
    "( 0.9.2342.19200300.100.1.5 NAME ( 'drink' 'favouriteDrink' ) DESC 'RFC4524: favorite drink' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.6 NAME 'roomNumber' DESC 'RFC4524: room number' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.7 NAME 'photo' DESC 'RFC1274: photo (G3 fax)' SYNTAX 1.3.6.1.4.1.1466.115.121.1.23{25000} )",
    "( 0.9.2342.19200300.100.1.8 NAME 'userClass' DESC 'RFC4524: category of user' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.9 NAME 'host' DESC 'RFC4524: host computer' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.10 NAME 'manager' DESC 'RFC4524: DN of manager' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
    "( 0.9.2342.19200300.100.1.11 NAME 'documentIdentifier' DESC 'RFC4524: unique identifier of document' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.12 NAME 'documentTitle' DESC 'RFC4524: title of document' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.13 NAME 'documentVersion' DESC 'RFC4524: version of document' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.14 NAME 'documentAuthor' DESC 'RFC4524: DN of author of document' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
    "( 0.9.2342.19200300.100.1.15 NAME 'documentLocation' DESC 'RFC4524: location of document original' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.20 NAME ( 'homePhone' 'homeTelephoneNumber' ) DESC 'RFC4524: home telephone number' EQUALITY telephoneNumberMatch SUBSTR telephoneNumberSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
    "( 0.9.2342.19200300.100.1.22 NAME 'otherMailbox' DESC 'RFC1274: other mailbox' SYNTAX 1.3.6.1.4.1.1466.115.121.1.39 )",
    "( 0.9.2342.19200300.100.1.21 NAME 'secretary' DESC 'RFC4524: DN of secretary' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
    "( 0.9.2342.19200300.100.1.26 NAME 'aRecord' DESC 'RFC1274: DNS A record' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 0.9.2342.19200300.100.1.27 NAME 'mDRecord' DESC 'RFC1274: DNS MD record' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 0.9.2342.19200300.100.1.28 NAME 'mXRecord' DESC 'RFC1274: DNS MX record' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 0.9.2342.19200300.100.1.29 NAME 'nSRecord' DESC 'RFC1274: DNS NS record' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 0.9.2342.19200300.100.1.30 NAME 'sOARecord' DESC 'RFC1274: DNS SOA record' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 0.9.2342.19200300.100.1.31 NAME 'cNAMERecord' DESC 'RFC1274: DNS CNAME record' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 0.9.2342.19200300.100.1.38 NAME 'associatedName' DESC 'RFC4524: DN of entry associated with domain' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
    "( 0.9.2342.19200300.100.1.39 NAME 'homePostalAddress' DESC 'RFC4524: home postal address' EQUALITY caseIgnoreListMatch SUBSTR caseIgnoreListSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.41 )",
    "( 0.9.2342.19200300.100.1.40 NAME 'personalTitle' DESC 'RFC4524: personal title' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.41 NAME ( 'mobile' 'mobileTelephoneNumber' ) DESC 'RFC4524: mobile telephone number' EQUALITY telephoneNumberMatch SUBSTR telephoneNumberSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
    "( 0.9.2342.19200300.100.1.42 NAME ( 'pager' 'pagerTelephoneNumber' ) DESC 'RFC4524: pager telephone number' EQUALITY telephoneNumberMatch SUBSTR telephoneNumberSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
    "( 0.9.2342.19200300.100.1.43 NAME ( 'co' 'friendlyCountryName' ) DESC 'RFC4524: friendly country name' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 0.9.2342.19200300.100.1.44 NAME 'uniqueIdentifier' DESC 'RFC4524: unique identifier' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.45 NAME 'organizationalStatus' DESC 'RFC4524: organizational status' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.46 NAME 'janetMailbox' DESC 'RFC1274: Janet mailbox' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
    "( 0.9.2342.19200300.100.1.47 NAME 'mailPreferenceOption' DESC 'RFC1274: mail preference option' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 )",
    "( 0.9.2342.19200300.100.1.48 NAME 'buildingName' DESC 'RFC4524: name of building' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    "( 0.9.2342.19200300.100.1.49 NAME 'dSAQuality' DESC 'RFC1274: DSA Quality' SYNTAX 1.3.6.1.4.1.1466.115.121.1.19 SINGLE-VALUE )",
    "( 0.9.2342.19200300.100.1.50 NAME 'singleLevelQuality' DESC 'RFC1274: Single Level Quality' SYNTAX 1.3.6.1.4.1.1466.115.121.1.13 SINGLE-VALUE )",
    "( 0.9.2342.19200300.100.1.51 NAME 'subtreeMinimumQuality' DESC 'RFC1274: Subtree Minimum Quality' SYNTAX 1.3.6.1.4.1.1466.115.121.1.13 SINGLE-VALUE )",
    "( 0.9.2342.19200300.100.1.52 NAME 'subtreeMaximumQuality' DESC 'RFC1274: Subtree Maximum Quality' SYNTAX 1.3.6.1.4.1.1466.115.121.1.13 SINGLE-VALUE )",
    "( 0.9.2342.19200300.100.1.53 NAME 'personalSignature' DESC 'RFC1274: Personal Signature (G3 fax)' SYNTAX 1.3.6.1.4.1.1466.115.121.1.23 )",
    "( 0.9.2342.19200300.100.1.54 NAME 'dITRedirect' DESC 'RFC1274: DIT Redirect' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
    "( 0.9.2342.19200300.100.1.55 NAME 'audio' DESC 'RFC1274: audio (u-law)' SYNTAX 1.3.6.1.4.1.1466.115.121.1.4{25000} )",
    "( 0.9.2342.19200300.100.1.56 NAME 'documentPublisher' DESC 'RFC4524: name of publisher' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
];

const COSINE_OC: &[&str] = &[
    "( 0.9.2342.19200300.100.4.4 NAME ( 'pilotPerson' 'newPilotPerson' ) DESC 'RFC1274: pilot person' SUP person STRUCTURAL MAY ( userid $ textEncodedORAddress $ rfc822Mailbox $ favouriteDrink $ roomNumber $ userClass $ homeTelephoneNumber $ homePostalAddress $ secretary $ personalTitle $ preferredDeliveryMethod $ businessCategory $ mobileTelephoneNumber $ pagerTelephoneNumber $ organizationalStatus $ otherMailbox $ janetMailbox $ mailPreferenceOption $ personalSignature ) )",
    "( 0.9.2342.19200300.100.4.5 NAME 'account' DESC 'RFC4524: an account' SUP top STRUCTURAL MUST uid MAY ( description $ seeAlso $ l $ o $ ou $ host ) )",
    "( 0.9.2342.19200300.100.4.6 NAME 'document' DESC 'RFC4524: a document' SUP top STRUCTURAL MUST documentIdentifier MAY ( cn $ description $ seeAlso $ l $ o $ ou $ documentTitle $ documentVersion $ documentAuthor $ documentLocation $ documentPublisher ) )",
    "( 0.9.2342.19200300.100.4.7 NAME 'room' DESC 'RFC4524: a room' SUP top STRUCTURAL MUST cn MAY ( roomNumber $ description $ seeAlso $ telephoneNumber ) )",
    "( 0.9.2342.19200300.100.4.9 NAME 'documentSeries' DESC 'RFC4524: a document series' SUP top STRUCTURAL MUST cn MAY ( description $ l $ o $ ou $ seeAlso $ telephoneNumber ) )",
    "( 0.9.2342.19200300.100.4.13 NAME 'domain' DESC 'RFC4524: a domain' SUP top STRUCTURAL MUST dc MAY ( userPassword $ searchGuide $ seeAlso $ businessCategory $ x121Address $ registeredAddress $ destinationIndicator $ preferredDeliveryMethod $ telexNumber $ teletexTerminalIdentifier $ telephoneNumber $ internationaliSDNNumber $ facsimileTelephoneNumber $ street $ postOfficeBox $ postalCode $ postalAddress $ physicalDeliveryOfficeName $ st $ l $ description $ o $ associatedName ) )",
    "( 0.9.2342.19200300.100.4.14 NAME 'rFC822localPart' DESC 'RFC4524: local part of an RFC 822 mail address' SUP domain STRUCTURAL MAY ( cn $ description $ destinationIndicator $ facsimileTelephoneNumber $ internationaliSDNNumber $ physicalDeliveryOfficeName $ postalAddress $ postalCode $ postOfficeBox $ preferredDeliveryMethod $ registeredAddress $ seeAlso $ sn $ street $ telephoneNumber $ teletexTerminalIdentifier $ telexNumber $ x121Address ) )",
    "( 0.9.2342.19200300.100.4.15 NAME 'dNSDomain' DESC 'RFC1274: a DNS domain' SUP domain STRUCTURAL MAY ( aRecord $ mDRecord $ mXRecord $ nSRecord $ sOARecord $ cNAMERecord ) )",
    "( 0.9.2342.19200300.100.4.17 NAME 'domainRelatedObject' DESC 'RFC4524: an object related to a domain' SUP top AUXILIARY MUST associatedDomain )",
    "( 0.9.2342.19200300.100.4.18 NAME 'friendlyCountry' DESC 'RFC4524: a country with a friendly name' SUP country STRUCTURAL MUST co )",
    "( 0.9.2342.19200300.100.4.20 NAME 'pilotOrganization' DESC 'RFC1274: pilot organization' SUP ( organization $ organizationalUnit ) STRUCTURAL MAY buildingName )",
    "( 0.9.2342.19200300.100.4.21 NAME 'pilotDSA' DESC 'RFC1274: pilot DSA' SUP dSA STRUCTURAL MAY dSAQuality )",
    "( 0.9.2342.19200300.100.4.22 NAME 'qualityLabelledData' DESC 'RFC1274: quality labelled data' SUP top AUXILIARY MUST dSAQuality MAY ( subtreeMinimumQuality $ subtreeMaximumQuality ) )",
];

const INETORGPERSON_AT: &[&str] = &[
    "( 2.16.840.1.113730.3.1.1 NAME 'carLicense' DESC 'RFC2798: vehicle license or registration plate' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 2.16.840.1.113730.3.1.2 NAME 'departmentNumber' DESC 'RFC2798: identifies a department within an organization' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 2.16.840.1.113730.3.1.241 NAME 'displayName' DESC 'RFC2798: preferred name to be used when displaying entries' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
    "( 2.16.840.1.113730.3.1.3 NAME 'employeeNumber' DESC 'RFC2798: numerically identifies an employee within an organization' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
    "( 2.16.840.1.113730.3.1.4 NAME 'employeeType' DESC 'RFC2798: type of employment for a person' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 0.9.2342.19200300.100.1.60 NAME 'jpegPhoto' DESC 'RFC2798: a JPEG image' SYNTAX 1.3.6.1.4.1.1466.115.121.1.28 )",
    "( 2.16.840.1.113730.3.1.39 NAME 'preferredLanguage' DESC 'RFC2798: preferred written or spoken language for a person' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
    "( 2.16.840.1.113730.3.1.40 NAME 'userSMIMECertificate' DESC 'RFC2798: PKCS#7 SignedData used to support S/MIME' SYNTAX 1.3.6.1.4.1.1466.115.121.1.5 )",
    "( 2.16.840.1.113730.3.1.216 NAME 'userPKCS12' DESC 'RFC2798: personal identity information, a PKCS #12 PFX' SYNTAX 1.3.6.1.4.1.1466.115.121.1.5 )",
];

const INETORGPERSON_OC: &[&str] = &[
    "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' DESC 'RFC2798: Internet Organizational Person' SUP organizationalPerson STRUCTURAL MAY ( audio $ businessCategory $ carLicense $ departmentNumber $ displayName $ employeeNumber $ employeeType $ givenName $ homePhone $ homePostalAddress $ initials $ jpegPhoto $ labeledURI $ mail $ manager $ mobile $ o $ pager $ photo $ roomNumber $ secretary $ uid $ userCertificate $ x500uniqueIdentifier $ preferredLanguage $ userSMIMECertificate $ userPKCS12 ) )",
];

const MISC_AT: &[&str] = &[
    "( 2.16.840.1.113730.3.1.13 NAME 'mailLocalAddress' DESC 'RFC822 email address of this recipient' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
    "( 2.16.840.1.113730.3.1.18 NAME 'mailHost' DESC 'FQDN of the SMTP/MTA of this recipient' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} SINGLE-VALUE )",
    "( 2.16.840.1.113730.3.1.47 NAME 'mailRoutingAddress' DESC 'RFC822 routing address of this recipient' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} SINGLE-VALUE )",
    "( 1.3.6.1.4.1.42.2.27.2.1.15 NAME 'rfc822MailMember' DESC 'rfc822 mail address of group member(s)' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
];

const MISC_OC: &[&str] = &[
    "( 2.16.840.1.113730.3.2.147 NAME 'inetLocalMailRecipient' DESC 'Internet local mail recipient' SUP top AUXILIARY MAY ( mailLocalAddress $ mailHost $ mailRoutingAddress ) )",
    "( 1.3.6.1.4.1.42.2.27.1.2.5 NAME 'nisMailAlias' DESC 'NIS mail alias' SUP top STRUCTURAL MUST cn MAY rfc822MailMember )",
];

const NIS_AT: &[&str] = &[
    "( 1.3.6.1.1.1.1.2 NAME 'gecos' DESC 'RFC2307: The GECOS field; the common name' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.3 NAME 'homeDirectory' DESC 'RFC2307: The absolute path to the home directory' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.4 NAME 'loginShell' DESC 'RFC2307: The path to the login shell' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.5 NAME 'shadowLastChange' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.6 NAME 'shadowMin' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.7 NAME 'shadowMax' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.8 NAME 'shadowWarning' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.9 NAME 'shadowInactive' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.10 NAME 'shadowExpire' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.11 NAME 'shadowFlag' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.12 NAME 'memberUid' EQUALITY caseExactIA5Match SUBSTR caseExactIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 1.3.6.1.1.1.1.13 NAME 'memberNisNetgroup' EQUALITY caseExactIA5Match SUBSTR caseExactIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 1.3.6.1.1.1.1.14 NAME 'nisNetgroupTriple' DESC 'Netgroup triple' SYNTAX 1.3.6.1.1.1.0.0 )",
    "( 1.3.6.1.1.1.1.15 NAME 'ipServicePort' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.16 NAME 'ipServiceProtocol' SUP name )",
    "( 1.3.6.1.1.1.1.17 NAME 'ipProtocolNumber' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.18 NAME 'oncRpcNumber' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.19 NAME 'ipHostNumber' DESC 'IP address as a dotted decimal, eg. 192.168.1.1, omitting leading zeros' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{128} )",
    "( 1.3.6.1.1.1.1.20 NAME 'ipNetworkNumber' DESC 'IP network as a dotted decimal, eg. 192.168, omitting leading zeros' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{128} SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.21 NAME 'ipNetmaskNumber' DESC 'IP netmask as a dotted decimal, eg. 255.255.255.0, omitting leading zeros' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{128} SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.22 NAME 'macAddress' DESC 'MAC address in maximal, colon separated hex notation, eg. 00:00:92:90:ee:e2' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{128} )",
    "( 1.3.6.1.1.1.1.23 NAME 'bootParameter' DESC 'rpc.bootparamd parameter' SYNTAX 1.3.6.1.1.1.0.1 )",
    "( 1.3.6.1.1.1.1.24 NAME 'bootFile' DESC 'Boot image name' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 1.3.6.1.1.1.1.26 NAME 'nisMapName' SUP name )",
    "( 1.3.6.1.1.1.1.27 NAME 'nisMapEntry' EQUALITY caseExactIA5Match SUBSTR caseExactIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{1024} SINGLE-VALUE )",
];

const NIS_OC: &[&str] = &[
    "( 1.3.6.1.1.1.2.0 NAME 'posixAccount' DESC 'RFC2307: Abstraction of an account with POSIX attributes' SUP top AUXILIARY MUST ( cn $ uid $ uidNumber $ gidNumber $ homeDirectory ) MAY ( userPassword $ loginShell $ gecos $ description ) )",
    "( 1.3.6.1.1.1.2.1 NAME 'shadowAccount' DESC 'RFC2307: Additional attributes for shadow passwords' SUP top AUXILIARY MUST uid MAY ( userPassword $ shadowLastChange $ shadowMin $ shadowMax $ shadowWarning $ shadowInactive $ shadowExpire $ shadowFlag $ description ) )",
    "( 1.3.6.1.1.1.2.2 NAME 'posixGroup' DESC 'RFC2307: Abstraction of a group of accounts' SUP top STRUCTURAL MUST ( cn $ gidNumber ) MAY ( userPassword $ memberUid $ description ) )",
    "( 1.3.6.1.1.1.2.3 NAME 'ipService' DESC 'RFC2307: Abstraction an Internet Protocol service' SUP top STRUCTURAL MUST ( cn $ ipServicePort $ ipServiceProtocol ) MAY description )",
    "( 1.3.6.1.1.1.2.4 NAME 'ipProtocol' DESC 'RFC2307: Abstraction of an IP protocol' SUP top STRUCTURAL MUST ( cn $ ipProtocolNumber $ description ) MAY description )",
    "( 1.3.6.1.1.1.2.5 NAME 'oncRpc' DESC 'RFC2307: Abstraction of an ONC/RPC binding' SUP top STRUCTURAL MUST ( cn $ oncRpcNumber $ description ) MAY description )",
    "( 1.3.6.1.1.1.2.6 NAME 'ipHost' DESC 'RFC2307: Abstraction of a host, an IP device' SUP top AUXILIARY MUST ( cn $ ipHostNumber ) MAY ( l $ description $ manager ) )",
    "( 1.3.6.1.1.1.2.7 NAME 'ipNetwork' DESC 'RFC2307: Abstraction of an IP network' SUP top STRUCTURAL MUST ( cn $ ipNetworkNumber ) MAY ( ipNetmaskNumber $ l $ description $ manager ) )",
    "( 1.3.6.1.1.1.2.8 NAME 'nisNetgroup' DESC 'RFC2307: Abstraction of a netgroup' SUP top STRUCTURAL MUST cn MAY ( nisNetgroupTriple $ memberNisNetgroup $ description ) )",
    "( 1.3.6.1.1.1.2.9 NAME 'nisMap' DESC 'RFC2307: A generic abstraction of a NIS map' SUP top STRUCTURAL MUST nisMapName MAY description )",
    "( 1.3.6.1.1.1.2.10 NAME 'nisObject' DESC 'RFC2307: An entry in a NIS map' SUP top STRUCTURAL MUST ( cn $ nisMapEntry $ nisMapName ) MAY description )",
    "( 1.3.6.1.1.1.2.11 NAME 'ieee802Device' DESC 'RFC2307: A device with a MAC address' SUP top AUXILIARY MAY macAddress )",
    "( 1.3.6.1.1.1.2.12 NAME 'bootableDevice' DESC 'RFC2307: A device with boot parameters' SUP top AUXILIARY MAY ( bootFile $ bootParameter ) )",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_attribute_type, parse_object_class};
    use crate::Schema;

    #[test]
    fn every_definition_parses() {
        for set in SETS {
            for d in set.attribute_types {
                let r = parse_attribute_type(d);
                assert!(r.is_ok(), "{}: {d}: {r:?}", set.name);
            }
            for d in set.object_classes {
                let r = parse_object_class(d);
                assert!(r.is_ok(), "{}: {d}: {r:?}", set.name);
            }
        }
    }

    #[test]
    fn every_definition_loads() {
        let s = Schema::builtin();
        let n_at: usize = SETS.iter().map(|s| s.attribute_types.len()).sum();
        let n_oc: usize = SETS.iter().map(|s| s.object_classes.len()).sum();
        assert_eq!(s.attribute_types().count(), n_at);
        assert_eq!(s.object_classes().count(), n_oc);
        assert_eq!(BUILTIN_SETS.len(), SETS.len());
        for (a, b) in BUILTIN_SETS.iter().zip(SETS) {
            assert_eq!(*a, b.name);
        }
    }

    #[test]
    fn every_syntax_and_rule_is_known() {
        let s = Schema::builtin();
        for at in s.attribute_types() {
            let syn = at.effective_syntax().unwrap_or("");
            assert!(
                LDAP_SYNTAXES.iter().any(|(oid, _)| *oid == syn),
                "{} has unknown syntax {syn}",
                at.name()
            );
        }
        for r in crate::matching::MATCHING_RULES {
            assert!(
                LDAP_SYNTAXES.iter().any(|(oid, _)| *oid == r.syntax),
                "{} has unknown syntax {}",
                r.name,
                r.syntax
            );
        }
        assert_eq!(ldap_syntax_descriptions().len(), LDAP_SYNTAXES.len());
    }

    #[test]
    fn named_sets() {
        let s = Schema::builtin_named(&[]).expect("core");
        assert!(s.attribute_type("createTimestamp").is_some());
        assert!(s.attribute_type("mail").is_some());
        assert!(s.attribute_type("roomNumber").is_none());
        let s = Schema::builtin_named(&["inetorgperson"]).expect("iop");
        assert!(s.object_class("inetOrgPerson").is_some());
        assert!(s.attribute_type("mail").is_some());
        assert!(s.attribute_type("loginShell").is_none());
        let s = Schema::builtin_named(&["NIS", "misc"]).expect("nis");
        assert!(s.object_class("posixAccount").is_some());
        assert!(s.object_class("inetLocalMailRecipient").is_some());
        assert!(Schema::builtin_named(&["nosuch"]).is_err());
    }
}
