//! Entry validation against object classes (RFC 4512 §2.4, §2.5, §4.1.1–§4.1.2), with
//! slapd's result codes and wording (`servers/slapd/schema_check.c`), and the publication of
//! the subschema (RFC 4512 §4.2).

use oxldap_proto::Entry;

use crate::builtin;
use crate::error::SchemaError;
use crate::matching::MATCHING_RULES;
use crate::schema::{ObjectClass, ObjectClassKind, Schema, OBJECT_CLASS_OID};

/// The OID of `extensibleObject` (RFC 4512 §4.3): entries of this class may hold any user
/// attribute.
pub const EXTENSIBLE_OBJECT_OID: &str = "1.3.6.1.4.1.1466.101.120.111";

fn violation(reason: String) -> SchemaError {
    SchemaError::ObjectClassViolation { reason }
}

impl Schema {
    /// Checks a complete entry against its object classes, as slapd does before every Add
    /// and after every Modify / ModifyDN (RFC 4512 §2.4 and §4.1.1; slapd's
    /// `entry_schema_check`). Attribute descriptions may be any name or OID of their type;
    /// operational attributes (RFC 4512 §3.4) are ignored. In order:
    ///
    /// * no (or an empty) `objectClass` → [`SchemaError::ObjectClassViolation`] (65)
    ///   "no objectClass attribute";
    /// * an `objectClass` value naming no known class → [`SchemaError::InvalidSyntax`] (21),
    ///   as slapd answers;
    /// * no structural class (RFC 4512 §2.4.2: only abstract or auxiliary classes) → 65
    ///   "no structural object class provided";
    /// * two structural classes not in one superclass chain → 65 "invalid structural object
    ///   class chain (X/Y)";
    /// * a MUST attribute of a class or one of its superclasses absent → 65 "object class
    ///   'person' requires attribute 'sn'";
    /// * a user attribute that no class of the entry (with superclasses) lists in MUST or MAY
    ///   → 65 "attribute 'dc' not allowed", unless the entry is an `extensibleObject`.
    ///   Listing is by exact type (as in slapd, a subtype of a listed type is not allowed by
    ///   it); `objectClass` is always allowed. RDN attributes are covered because RFC 4512
    ///   §2.3 puts their values in the entry.
    ///
    /// An attribute description naming no known type yields
    /// [`SchemaError::UndefinedAttributeType`] (17). DIT content and structure rules are not
    /// enforced.
    pub fn check_entry(&self, entry: &Entry) -> Result<(), SchemaError> {
        let oc_values: Vec<&[u8]> = entry
            .attrs
            .iter()
            .filter(|a| {
                self.attribute_type(&a.desc)
                    .is_some_and(|t| t.oid == OBJECT_CLASS_OID)
            })
            .flat_map(|a| a.values.iter().map(Vec::as_slice))
            .collect();
        if oc_values.is_empty() {
            return Err(violation("no objectClass attribute".into()));
        }
        let mut listed: Vec<&ObjectClass> = Vec::with_capacity(oc_values.len());
        for (i, v) in oc_values.iter().enumerate() {
            let oc = std::str::from_utf8(v)
                .ok()
                .and_then(|name| self.object_class(name.trim()));
            match oc {
                Some(oc) => listed.push(oc),
                None => {
                    return Err(SchemaError::InvalidSyntax {
                        attr: "objectClass".into(),
                        reason: format!(
                            "value #{i} invalid per syntax: unrecognized objectClass '{}'",
                            String::from_utf8_lossy(v)
                        ),
                    })
                }
            }
        }
        self.structural_chain(&listed)?
            .ok_or_else(|| violation("no structural object class provided".into()))?;
        // slapd checks the naming attributes after the structural class and before MUST
        // and MAY (schema_check.c `entry_schema_check`).
        if let Some(rdn) = entry.dn.rdn() {
            for ava in &rdn.avas {
                self.check_naming_attribute(&ava.attr)?;
            }
        }

        // The classes of the entry with all their superclasses, listed order first.
        let mut closure: Vec<&ObjectClass> = Vec::new();
        for oc in &listed {
            for c in std::iter::once(*oc).chain(self.superclasses(oc)) {
                if !closure.iter().any(|k| k.oid == c.oid) {
                    closure.push(c);
                }
            }
        }

        let present: Vec<&str> = entry
            .attrs
            .iter()
            .filter(|a| !a.values.is_empty())
            .filter_map(|a| self.attribute_type(&a.desc).map(|t| t.oid.as_str()))
            .collect();
        for oc in &closure {
            for must in &oc.must {
                let Some(t) = self.attribute_type(must) else {
                    continue;
                };
                if !present.contains(&t.oid.as_str()) {
                    return Err(violation(format!(
                        "object class '{}' requires attribute '{}'",
                        oc.name(),
                        t.name()
                    )));
                }
            }
        }

        let extensible = closure.iter().any(|c| c.oid == EXTENSIBLE_OBJECT_OID);
        let mut allowed: Vec<&str> = vec![OBJECT_CLASS_OID];
        for oc in &closure {
            for a in oc.must.iter().chain(oc.may.iter()) {
                if let Some(t) = self.attribute_type(a) {
                    allowed.push(t.oid.as_str());
                }
            }
        }
        for attr in &entry.attrs {
            let t = self
                .attribute_type(&attr.desc)
                .ok_or_else(|| SchemaError::UndefinedAttributeType(attr.desc.clone()))?;
            if extensible || t.is_operational() || attr.values.is_empty() {
                continue;
            }
            if !allowed.contains(&t.oid.as_str()) {
                return Err(violation(format!("attribute '{}' not allowed", t.name())));
            }
        }
        Ok(())
    }

    /// The most specific structural class among `listed` (RFC 4512 §2.4.2), checking that
    /// all structural classes lie on one superclass chain (slapd's `structural_class`).
    fn structural_chain<'a>(
        &self,
        listed: &[&'a ObjectClass],
    ) -> Result<Option<&'a ObjectClass>, SchemaError> {
        let mut sc: Option<&'a ObjectClass> = None;
        for oc in listed {
            if oc.kind != ObjectClassKind::Structural {
                continue;
            }
            sc = match sc {
                None => Some(oc),
                Some(cur) if oc.is_a(cur) => Some(oc),
                Some(cur) if cur.is_a(oc) => Some(cur),
                Some(cur) => {
                    return Err(violation(format!(
                        "invalid structural object class chain ({}/{})",
                        cur.name(),
                        oc.name()
                    )))
                }
            };
        }
        Ok(sc)
    }

    /// Checks a Modify's change of `objectClass` values (RFC 4512 §2.4.2: the structural
    /// object class of an entry cannot change; slapd answers objectClassModsProhibited). If
    /// `before` and `after` both have a structural class and the most specific ones differ
    /// → [`SchemaError::ObjectClassModsProhibited`] (69) "structural object class
    /// modification from 'X' to 'Y' not allowed". An `after` without a structural class, or
    /// with an invalid chain, passes here: [`Schema::check_entry`] reports it (65). Unknown
    /// values are ignored here for the same reason.
    pub fn check_object_class_change(
        &self,
        before: &[&[u8]],
        after: &[&[u8]],
    ) -> Result<(), SchemaError> {
        let classes = |vals: &[&[u8]]| -> Vec<&ObjectClass> {
            vals.iter()
                .filter_map(|v| std::str::from_utf8(v).ok())
                .filter_map(|v| self.object_class(v.trim()))
                .collect()
        };
        let b = classes(before);
        let a = classes(after);
        let old = self
            .structural_chain(&b)
            .ok()
            .flatten()
            .or_else(|| self.structural_object_class(before));
        let Ok(Some(new)) = self.structural_chain(&a) else {
            return Ok(());
        };
        match old {
            Some(old) if old.oid != new.oid => Err(SchemaError::ObjectClassModsProhibited {
                reason: format!(
                    "structural object class modification from '{}' to '{}' not allowed",
                    old.name(),
                    new.name()
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The subschema subentry's schema attributes (RFC 4512 §4.2), as RFC 4512 §4.1
    /// description strings: `ldapSyntaxes` (§4.1.5: the built-in syntaxes and those of
    /// `ldapsyntax` directives), `matchingRules` (§4.1.3), `matchingRuleUse` (§4.1.4: for
    /// each rule, the attribute types it is usable with, [`crate::MatchingRule::usable_with`], the
    /// relation extensible matches are evaluated under; rules no type uses are left out), `attributeTypes` (§4.1.2) and `objectClasses`
    /// (§4.1.1), in definition order (superiors first). Every `attributeTypes` and
    /// `objectClasses` value parses back (see [`crate::parse`]) to the definition.
    pub fn subschema_attributes(&self) -> Vec<(&'static str, Vec<Vec<u8>>)> {
        let syntaxes: Vec<Vec<u8>> = builtin::ldap_syntax_descriptions()
            .into_iter()
            .chain(self.syntaxes.iter().map(|(_, d)| d.clone()))
            .map(String::into_bytes)
            .collect();
        let rules: Vec<Vec<u8>> = MATCHING_RULES
            .iter()
            .filter(|r| r.is_published())
            .map(|r| r.to_description().into_bytes())
            .collect();
        let mut uses: Vec<Vec<u8>> = Vec::new();
        for r in MATCHING_RULES.iter().filter(|r| r.is_published()) {
            let applies: Vec<&str> = self
                .attribute_types()
                .filter(|t| r.usable_with(t.equality_rule(), t.effective_syntax()))
                .map(|t| t.name())
                .collect();
            let list = match applies.as_slice() {
                [] => continue,
                [one] => (*one).to_string(),
                many => format!("( {} )", many.join(" $ ")),
            };
            uses.push(format!("( {} NAME '{}' APPLIES {list} )", r.oid, r.name).into_bytes());
        }
        let ats: Vec<Vec<u8>> = self
            .attribute_types()
            .map(|t| t.to_description().into_bytes())
            .collect();
        let ocs: Vec<Vec<u8>> = self
            .object_classes()
            .map(|c| c.to_description().into_bytes())
            .collect();
        vec![
            ("ldapSyntaxes", syntaxes),
            ("matchingRules", rules),
            ("matchingRuleUse", uses),
            ("attributeTypes", ats),
            ("objectClasses", ocs),
        ]
    }
}

impl Schema {
    /// Whether the attribute type `attr` may name an entry in an RDN: not operational,
    /// collective or obsolete, and with an equality matching rule (slapd's
    /// `entry_naming_check`, schema_check.c). Unknown types pass here: an RDN naming one
    /// is refused earlier as an invalid DN (34).
    ///
    /// Errors: [`SchemaError::NamingAttribute`] (namingViolation, 64).
    pub fn check_naming_attribute(&self, attr: &str) -> Result<(), SchemaError> {
        let Some(at) = self.attribute_type(attr) else {
            return Ok(());
        };
        let problem = if at.is_operational() {
            "is operational"
        } else if at.collective {
            "is collective"
        } else if at.obsolete {
            "is obsolete"
        } else if at.equality_rule().is_none() {
            "has no equality matching rule"
        } else {
            return Ok(());
        };
        Err(SchemaError::NamingAttribute {
            attr: attr.to_string(),
            problem,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::schemafile::SchemaSource;
    use oxldap_proto::{Attribute, Dn};

    fn schema() -> Schema {
        Schema::builtin()
    }

    fn entry(dn: &str, attrs: &[(&str, &[&str])]) -> Entry {
        let mut e = Entry::new(Dn::parse(dn).expect("dn"));
        for (d, vals) in attrs {
            e.attrs.push(Attribute::new(
                *d,
                vals.iter().map(|v| v.as_bytes().to_vec()).collect(),
            ));
        }
        e
    }

    fn code(r: Result<(), SchemaError>) -> (u32, String) {
        match r {
            Ok(()) => (0, String::new()),
            Err(e) => (e.code().code(), e.to_string()),
        }
    }

    const IOP: &[&str] = &["top", "person", "organizationalPerson", "inetOrgPerson"];

    #[test]
    fn slapd_answers() {
        let s = schema();
        let cases: Vec<(Entry, u32, &str)> = vec![
            (
                entry("cn=a,dc=x", &[("objectClass", IOP), ("cn", &["a"])]),
                65,
                "object class 'person' requires attribute 'sn'",
            ),
            (
                entry("cn=a,dc=x", &[("cn", &["a"]), ("sn", &["b"])]),
                65,
                "no objectClass attribute",
            ),
            (
                entry("cn=a,dc=x", &[("objectClass", &["top"]), ("cn", &["a"])]),
                65,
                "no structural object class provided",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[("objectClass", &["extensibleObject"]), ("cn", &["a"])],
                ),
                65,
                "no structural object class provided",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[
                        ("objectClass", &["inetOrgPerson", "organizationalUnit"]),
                        ("cn", &["a"]),
                        ("sn", &["b"]),
                        ("ou", &["c"]),
                    ],
                ),
                65,
                "invalid structural object class chain (inetOrgPerson/organizationalUnit)",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[
                        ("objectClass", &["inetOrgPerson", "organization"]),
                        ("cn", &["a"]),
                        ("sn", &["b"]),
                        ("o", &["c"]),
                    ],
                ),
                65,
                "invalid structural object class chain (inetOrgPerson/organization)",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[("objectClass", IOP), ("cn", &["a"]), ("sn", &["b"])],
                ),
                0,
                "",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[
                        ("objectClass", &["inetOrgPerson"]),
                        ("cn", &["a"]),
                        ("sn", &["b"]),
                    ],
                ),
                0,
                "",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[
                        ("objectClass", IOP),
                        ("cn", &["a"]),
                        ("sn", &["b"]),
                        ("dc", &["x"]),
                    ],
                ),
                65,
                "attribute 'dc' not allowed",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[
                        ("objectClass", &["top", "inetOrgPerson", "extensibleObject"]),
                        ("cn", &["a"]),
                        ("sn", &["b"]),
                        ("dc", &["x"]),
                    ],
                ),
                0,
                "",
            ),
            (
                entry(
                    "dc=example,dc=com",
                    &[
                        ("objectClass", &["top", "dcObject", "organization"]),
                        ("dc", &["example"]),
                        ("o", &["Example"]),
                    ],
                ),
                0,
                "",
            ),
            (
                entry(
                    "cn=g,dc=x",
                    &[("objectClass", &["top", "groupOfNames"]), ("cn", &["g"])],
                ),
                65,
                "object class 'groupOfNames' requires attribute 'member'",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[("objectClass", &["top", "nosuchClass"]), ("cn", &["a"])],
                ),
                21,
                "nosuchClass",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[
                        ("objectClass", IOP),
                        ("cn", &["a"]),
                        ("sn", &["b"]),
                        ("createTimestamp", &["20240101000000Z"]),
                        ("entryUUID", &["x"]),
                    ],
                ),
                0,
                "",
            ),
            (
                entry(
                    "cn=a,dc=x",
                    &[
                        ("objectClass", IOP),
                        ("cn", &["a"]),
                        ("sn", &["b"]),
                        ("nosuch", &["x"]),
                    ],
                ),
                17,
                "nosuch",
            ),
            (
                // `name` is the supertype of cn/sn but is not listed: not allowed (slapd).
                entry(
                    "cn=a,dc=x",
                    &[
                        ("objectClass", IOP),
                        ("cn", &["a"]),
                        ("sn", &["b"]),
                        ("name", &["x"]),
                    ],
                ),
                65,
                "attribute 'name' not allowed",
            ),
            (
                entry(
                    "uid=u,dc=x",
                    &[
                        ("objectClass", &["top", "account", "posixAccount"]),
                        ("uid", &["u"]),
                        ("cn", &["u"]),
                        ("uidNumber", &["1"]),
                        ("gidNumber", &["1"]),
                        ("homeDirectory", &["/home/u"]),
                    ],
                ),
                0,
                "",
            ),
        ];
        for (e, want, msg) in cases {
            let (got, text) = code(s.check_entry(&e));
            assert_eq!(got, want, "{:?}: {text}", e.attrs);
            assert!(text.contains(msg), "{:?}: {text}", e.attrs);
        }
    }

    #[test]
    fn structural_change() {
        let s = schema();
        let b =
            |v: &[&'static str]| -> Vec<&'static [u8]> { v.iter().map(|x| x.as_bytes()).collect() };
        let (c, text) = code(s.check_object_class_change(
            &b(&["top", "person", "organizationalPerson", "inetOrgPerson"]),
            &b(&["top", "organizationalUnit"]),
        ));
        assert_eq!(c, 69);
        assert_eq!(
            text,
            "structural object class modification from 'inetOrgPerson' to 'organizationalUnit' not allowed"
        );
        // Adding an auxiliary class keeps the structural class.
        assert_eq!(
            code(s.check_object_class_change(
                &b(&["top", "inetOrgPerson"]),
                &b(&["top", "inetOrgPerson", "extensibleObject", "posixAccount"]),
            ))
            .0,
            0
        );
        // No structural class afterwards: left to check_entry.
        assert_eq!(
            code(s.check_object_class_change(&b(&["inetOrgPerson"]), &b(&["top"]))).0,
            0
        );
        // Same class written differently.
        assert_eq!(
            code(s.check_object_class_change(&b(&["person"]), &b(&["2.5.6.6", "top"]))).0,
            0
        );
    }

    /// Rebuilds a schema from the published `attributeTypes` / `objectClasses` values alone
    /// and checks that every definition comes back equal.
    pub(crate) fn assert_subschema_round_trips(s: &Schema) {
        let attrs = s.subschema_attributes();
        let get = |n: &str| {
            attrs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut back = Schema::new();
        for v in get("attributeTypes") {
            let d = String::from_utf8(v).expect("utf8");
            back.add_attribute_type_str(&d)
                .expect("attribute type re-parses");
        }
        for v in get("objectClasses") {
            let d = String::from_utf8(v).expect("utf8");
            back.add_object_class_str(&d)
                .expect("object class re-parses");
        }
        let a: Vec<_> = s.attribute_types().collect();
        let b: Vec<_> = back.attribute_types().collect();
        assert_eq!(a, b);
        let a: Vec<_> = s.object_classes().collect();
        let b: Vec<_> = back.object_classes().collect();
        assert_eq!(a, b);
    }

    #[test]
    fn subschema_round_trips() {
        let s = Schema::from_includes(&[
            SchemaSource::Builtin("inetorgperson".into()),
            SchemaSource::Builtin("nis".into()),
            SchemaSource::Builtin("misc".into()),
        ])
        .expect("loads");
        let attrs = s.subschema_attributes();
        let names: Vec<&str> = attrs.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            vec![
                "ldapSyntaxes",
                "matchingRules",
                "matchingRuleUse",
                "attributeTypes",
                "objectClasses"
            ]
        );
        let get = |n: &str| {
            attrs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        // Rebuild a schema from the published values alone: every definition is equal.
        let mut back = Schema::new();
        for v in get("attributeTypes") {
            let d = String::from_utf8(v).expect("utf8");
            back.add_attribute_type_str(&d)
                .expect("attribute type re-parses");
        }
        for v in get("objectClasses") {
            let d = String::from_utf8(v).expect("utf8");
            back.add_object_class_str(&d)
                .expect("object class re-parses");
        }
        let a: Vec<_> = s.attribute_types().collect();
        let b: Vec<_> = back.attribute_types().collect();
        assert_eq!(a, b);
        let a: Vec<_> = s.object_classes().collect();
        let b: Vec<_> = back.object_classes().collect();
        assert_eq!(a, b);
        let uses = get("matchingRuleUse");
        assert!(uses.iter().any(|u| {
            let u = String::from_utf8_lossy(u);
            u.starts_with("( 2.5.13.1 NAME 'distinguishedNameMatch' APPLIES (")
                && u.contains("member")
        }));
        assert!(!get("ldapSyntaxes").is_empty() && !get("matchingRules").is_empty());
        // matchingRuleUse is the relation extensible matches use (slapd's
        // mr_usable_with_at): caseExactMatch applies to uid (Directory String), the IA5
        // rules do not; DN relation rules are evaluated but not published.
        let applies = |rule: &str| -> String {
            uses.iter()
                .map(|u| String::from_utf8_lossy(u).into_owned())
                .find(|u| u.contains(&format!("NAME '{rule}' ")))
                .unwrap_or_default()
        };
        assert!(applies("caseExactMatch").contains(" uid "));
        assert!(!applies("caseExactIA5Match").contains(" uid "));
        assert!(applies("caseExactIA5Match").contains(" mail "));
        assert!(!applies("integerMatch").contains("employeeNumber"));
        for (rule, at) in [
            ("caseExactMatch", "uid"),
            ("caseIgnoreOrderingMatch", "cn"),
            ("caseExactIA5Match", "mail"),
            ("dnSubtreeMatch", "entryDN"),
            ("dnOneLevelMatch", "member"),
        ] {
            let r = crate::matching_rule(rule).expect("rule");
            let t = s.attribute_type(at).expect("type");
            let ok = r.usable_with(t.equality_rule(), t.effective_syntax());
            assert!(ok, "{rule} with {at}");
            let published = applies(rule).contains(&format!(" {at} "));
            assert_eq!(published, r.is_published(), "{rule} with {at}");
        }
        for (rule, at) in [
            ("caseExactIA5Match", "uid"),
            ("integerMatch", "employeeNumber"),
            ("dnSubtreeMatch", "uid"),
        ] {
            let r = crate::matching_rule(rule).expect("rule");
            let t = s.attribute_type(at).expect("type");
            assert!(
                !r.usable_with(t.equality_rule(), t.effective_syntax()),
                "{rule} with {at}"
            );
        }
        assert!(get("matchingRules")
            .iter()
            .all(|r| !String::from_utf8_lossy(r).contains("dnSubtreeMatch")));
    }
}
