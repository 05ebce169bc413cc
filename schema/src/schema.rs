//! The schema registry: attribute types (RFC 4512 §2.5, §4.1.2) and object classes
//! (RFC 4512 §2.4, §4.1.1), looked up by any name or OID, ASCII case-insensitively.

use rustc_hash::FxHashMap;
use std::collections::HashMap;

use crate::builtin;
use crate::error::SchemaError;
use crate::matching::{self, MatchingRule, RuleKind};
use crate::parse::{self, is_numericoid};

/// The OID of `objectClass` (RFC 4512 §3.3).
pub const OBJECT_CLASS_OID: &str = "2.5.4.0";
/// The OID of `top` (RFC 4512 §3.3).
pub const TOP_OID: &str = "2.5.6.0";

/// AttributeUsage (RFC 4512 §4.1.2): user attributes or one of three operational kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Usage {
    /// `userApplications`: a user attribute.
    #[default]
    UserApplications,
    /// `directoryOperation`, e.g. createTimestamp.
    DirectoryOperation,
    /// `distributedOperation`, shared between DSAs, e.g. ref.
    DistributedOperation,
    /// `dSAOperation`, specific to one DSA, e.g. namingContexts.
    DsaOperation,
}

impl Usage {
    /// The keyword used in descriptions (RFC 4512 §4.1.2).
    pub fn keyword(self) -> &'static str {
        match self {
            Usage::UserApplications => "userApplications",
            Usage::DirectoryOperation => "directoryOperation",
            Usage::DistributedOperation => "distributedOperation",
            Usage::DsaOperation => "dSAOperation",
        }
    }
}

/// The kind of an object class (RFC 4512 §2.4.1-§2.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ObjectClassKind {
    /// ABSTRACT: only a base for other classes, e.g. `top`.
    Abstract,
    /// STRUCTURAL: the entry's class that fixes what it is.
    #[default]
    Structural,
    /// AUXILIARY: adds attributes to entries of any structural class.
    Auxiliary,
}

impl ObjectClassKind {
    /// The keyword used in descriptions (RFC 4512 §4.1.1).
    pub fn keyword(self) -> &'static str {
        match self {
            ObjectClassKind::Abstract => "ABSTRACT",
            ObjectClassKind::Structural => "STRUCTURAL",
            ObjectClassKind::Auxiliary => "AUXILIARY",
        }
    }
}

/// What an attribute type inherits from its superior, resolved when it is added to a schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Effective {
    equality: Option<&'static MatchingRule>,
    ordering: Option<&'static MatchingRule>,
    substr: Option<&'static MatchingRule>,
    syntax: Option<String>,
    syntax_len: Option<u32>,
    /// OIDs of all superior types, nearest first.
    ancestors: Vec<String>,
}

/// An attribute type (RFC 4512 §2.5 and §4.1.2 AttributeTypeDescription).
///
/// The public fields hold what the description declares. What is inherited from SUP
/// (matching rules, syntax) is resolved when the type is added to a [`Schema`] and is
/// available through [`AttributeType::equality_rule`] and friends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeType {
    /// The numeric OID.
    pub oid: String,
    /// The names (descriptors), primary first; may be empty.
    pub names: Vec<String>,
    /// DESC.
    pub desc: Option<String>,
    /// SUP: the superior type's name or OID.
    pub sup: Option<String>,
    /// EQUALITY rule as declared.
    pub equality: Option<String>,
    /// ORDERING rule as declared.
    pub ordering: Option<String>,
    /// SUBSTR rule as declared.
    pub substr: Option<String>,
    /// SYNTAX OID as declared (without the `{len}` suffix).
    pub syntax: Option<String>,
    /// The `{len}` suffix of SYNTAX: a suggested maximum length.
    pub syntax_len: Option<u32>,
    /// SINGLE-VALUE.
    pub single_value: bool,
    /// COLLECTIVE (RFC 3671).
    pub collective: bool,
    /// NO-USER-MODIFICATION.
    pub no_user_modification: bool,
    /// USAGE.
    pub usage: Usage,
    /// OBSOLETE.
    pub obsolete: bool,
    /// `X-` extensions with their values, in order.
    pub extensions: Vec<(String, Vec<String>)>,
    eff: Effective,
}

impl AttributeType {
    /// A type with only an OID; fill the fields, then add it to a [`Schema`].
    pub fn new(oid: impl Into<String>) -> AttributeType {
        AttributeType {
            oid: oid.into(),
            names: Vec::new(),
            desc: None,
            sup: None,
            equality: None,
            ordering: None,
            substr: None,
            syntax: None,
            syntax_len: None,
            single_value: false,
            collective: false,
            no_user_modification: false,
            usage: Usage::UserApplications,
            obsolete: false,
            extensions: Vec::new(),
            eff: Effective::default(),
        }
    }

    /// The primary name (the first NAME), else the OID (RFC 4512 §2.5).
    pub fn name(&self) -> &str {
        self.names.first().map(String::as_str).unwrap_or(&self.oid)
    }

    /// Whether the type is operational: any usage other than userApplications
    /// (RFC 4512 §3.4).
    pub fn is_operational(&self) -> bool {
        self.usage != Usage::UserApplications
    }

    /// Whether `name` is one of the names or the OID, ASCII case-insensitively.
    pub fn has_name(&self, name: &str) -> bool {
        self.oid == name || self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The equality rule, declared or inherited from SUP (RFC 4512 §2.5.1). `None` until the
    /// type is added to a schema, and for types without one (e.g. supportedLDAPVersion).
    pub fn equality_rule(&self) -> Option<&'static MatchingRule> {
        self.eff.equality
    }

    /// The ordering rule, declared or inherited.
    pub fn ordering_rule(&self) -> Option<&'static MatchingRule> {
        self.eff.ordering
    }

    /// The substrings rule, declared or inherited.
    pub fn substr_rule(&self) -> Option<&'static MatchingRule> {
        self.eff.substr
    }

    /// The syntax OID, declared or inherited.
    pub fn effective_syntax(&self) -> Option<&str> {
        self.eff.syntax.as_deref()
    }

    /// The syntax length bound, declared or inherited.
    pub fn effective_syntax_len(&self) -> Option<u32> {
        self.eff.syntax_len
    }

    /// The OIDs of all superior types, nearest first (empty for a type without SUP).
    pub fn ancestors(&self) -> &[String] {
        &self.eff.ancestors
    }

    /// The RFC 4512 §4.1.2 description of the type as declared (for the subschema's
    /// `attributeTypes`).
    pub fn to_description(&self) -> String {
        let mut s = format!("( {}", self.oid);
        push_names(&mut s, &self.names);
        push_desc(&mut s, self.desc.as_deref());
        if self.obsolete {
            s.push_str(" OBSOLETE");
        }
        for (kw, v) in [
            ("SUP", &self.sup),
            ("EQUALITY", &self.equality),
            ("ORDERING", &self.ordering),
            ("SUBSTR", &self.substr),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(" {kw} {v}"));
            }
        }
        if let Some(syn) = &self.syntax {
            s.push_str(&format!(" SYNTAX {syn}"));
            if let Some(len) = self.syntax_len {
                s.push_str(&format!("{{{len}}}"));
            }
        }
        for (flag, kw) in [
            (self.single_value, "SINGLE-VALUE"),
            (self.collective, "COLLECTIVE"),
            (self.no_user_modification, "NO-USER-MODIFICATION"),
        ] {
            if flag {
                s.push(' ');
                s.push_str(kw);
            }
        }
        if self.usage != Usage::UserApplications {
            s.push_str(" USAGE ");
            s.push_str(self.usage.keyword());
        }
        push_extensions(&mut s, &self.extensions);
        s.push_str(" )");
        s
    }
}

/// An object class (RFC 4512 §2.4 and §4.1.1 ObjectClassDescription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectClass {
    /// The numeric OID.
    pub oid: String,
    /// The names, primary first.
    pub names: Vec<String>,
    /// DESC.
    pub desc: Option<String>,
    /// OBSOLETE.
    pub obsolete: bool,
    /// SUP: superior classes by name or OID.
    pub sup: Vec<String>,
    /// ABSTRACT, STRUCTURAL (the default) or AUXILIARY.
    pub kind: ObjectClassKind,
    /// MUST: required attribute types by name or OID, as declared.
    pub must: Vec<String>,
    /// MAY: allowed attribute types by name or OID, as declared.
    pub may: Vec<String>,
    /// `X-` extensions with their values, in order.
    pub extensions: Vec<(String, Vec<String>)>,
    /// OIDs of all superclasses, resolved when added to a schema (nearest first, no
    /// duplicates; every class but `top` has `top` among them).
    ancestors: Vec<String>,
}

impl ObjectClass {
    /// A structural class with only an OID; fill the fields, then add it to a [`Schema`].
    pub fn new(oid: impl Into<String>) -> ObjectClass {
        ObjectClass {
            oid: oid.into(),
            names: Vec::new(),
            desc: None,
            obsolete: false,
            sup: Vec::new(),
            kind: ObjectClassKind::Structural,
            must: Vec::new(),
            may: Vec::new(),
            extensions: Vec::new(),
            ancestors: Vec::new(),
        }
    }

    /// The primary name, else the OID.
    pub fn name(&self) -> &str {
        self.names.first().map(String::as_str).unwrap_or(&self.oid)
    }

    /// Whether `name` is one of the names or the OID, ASCII case-insensitively.
    pub fn has_name(&self, name: &str) -> bool {
        self.oid == name || self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The OIDs of all superclasses (transitive), nearest first.
    pub fn ancestors(&self) -> &[String] {
        &self.ancestors
    }

    /// Whether this class is `other` or has it as a (transitive) superclass.
    pub fn is_a(&self, other: &ObjectClass) -> bool {
        self.oid == other.oid || self.ancestors.contains(&other.oid)
    }

    /// The RFC 4512 §4.1.1 description as declared (for the subschema's `objectClasses`).
    pub fn to_description(&self) -> String {
        let mut s = format!("( {}", self.oid);
        push_names(&mut s, &self.names);
        push_desc(&mut s, self.desc.as_deref());
        if self.obsolete {
            s.push_str(" OBSOLETE");
        }
        push_oids(&mut s, "SUP", &self.sup);
        s.push(' ');
        s.push_str(self.kind.keyword());
        push_oids(&mut s, "MUST", &self.must);
        push_oids(&mut s, "MAY", &self.may);
        push_extensions(&mut s, &self.extensions);
        s.push_str(" )");
        s
    }
}

pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\5C").replace('\'', "\\27"))
}

fn push_names(s: &mut String, names: &[String]) {
    match names {
        [] => {}
        [one] => s.push_str(&format!(" NAME {}", quote(one))),
        many => {
            let q: Vec<String> = many.iter().map(|n| quote(n)).collect();
            s.push_str(&format!(" NAME ( {} )", q.join(" ")));
        }
    }
}

fn push_desc(s: &mut String, desc: Option<&str>) {
    if let Some(d) = desc {
        s.push_str(" DESC ");
        s.push_str(&quote(d));
    }
}

fn push_oids(s: &mut String, kw: &str, oids: &[String]) {
    match oids {
        [] => {}
        [one] => s.push_str(&format!(" {kw} {one}")),
        many => s.push_str(&format!(" {kw} ( {} )", many.join(" $ "))),
    }
}

pub(crate) fn push_extensions(s: &mut String, ext: &[(String, Vec<String>)]) {
    for (k, vals) in ext {
        let q: Vec<String> = vals.iter().map(|v| quote(v)).collect();
        if q.len() == 1 {
            s.push_str(&format!(" {k} {}", q.join("")));
        } else {
            s.push_str(&format!(" {k} ( {} )", q.join(" ")));
        }
    }
}

/// Something that designates an attribute type: the [`AttributeType`] itself, or a name,
/// numeric OID or attribute description (RFC 4512 §2.5) looked up in a [`Schema`].
pub trait AttrTypeRef {
    /// The attribute type this designates in `schema`, if any.
    fn resolve_in<'a>(&'a self, schema: &'a Schema) -> Option<&'a AttributeType>;
}

impl AttrTypeRef for AttributeType {
    fn resolve_in<'a>(&'a self, _schema: &'a Schema) -> Option<&'a AttributeType> {
        Some(self)
    }
}

impl<T: AttrTypeRef + ?Sized> AttrTypeRef for &T {
    fn resolve_in<'a>(&'a self, schema: &'a Schema) -> Option<&'a AttributeType> {
        (**self).resolve_in(schema)
    }
}

impl AttrTypeRef for str {
    fn resolve_in<'a>(&'a self, schema: &'a Schema) -> Option<&'a AttributeType> {
        schema.attribute_type(self)
    }
}

impl AttrTypeRef for String {
    fn resolve_in<'a>(&'a self, schema: &'a Schema) -> Option<&'a AttributeType> {
        schema.attribute_type(self)
    }
}

/// Splits an attribute description (RFC 4512 §2.5) into the type and the options part
/// (including its leading `;`, or empty).
pub fn split_description(desc: &str) -> (&str, &str) {
    // A byte scan: descriptions are short, shorter than a memchr set-up pays for.
    match desc.bytes().position(|b| b == b';') {
        Some(i) => (&desc[..i], &desc[i..]),
        None => (desc, ""),
    }
}

/// slapd's character check of an attribute description (letters, digits, `-`, `.`, `;`).
fn check_desc_chars(desc: &str) -> Result<(), SchemaError> {
    if desc
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b';'))
    {
        return Ok(());
    }
    Err(SchemaError::InvalidAttributeDescription {
        desc: desc.to_string(),
        reason: "AttributeDescription contains inappropriate characters".to_string(),
    })
}

/// [`Schema::check_options`] for `desc`, whose type is `at`: its characters, then its
/// options.
fn check_options_of(desc: &str, at: &AttributeType) -> Result<(), SchemaError> {
    let fail = |reason: &str| SchemaError::InvalidAttributeDescription {
        desc: desc.to_string(),
        reason: reason.to_string(),
    };
    check_desc_chars(desc)?;
    let (_, opts) = split_description(desc);
    let needs_binary = at
        .effective_syntax()
        .is_some_and(|s| BINARY_TRANSFER_SYNTAXES.contains(&s));
    let mut binary = false;
    for opt in opts.split(';').skip(1) {
        if opt.is_empty() {
            return Err(fail("zero length option is invalid"));
        }
        if opt.eq_ignore_ascii_case("binary") {
            if !needs_binary {
                return Err(fail("option \"binary\" not supported with type"));
            }
            if binary {
                return Err(fail("option \"binary\" specified multiple times"));
            }
            binary = true;
        } else if opt
            .get(..LANG_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(LANG_PREFIX))
        {
            if opt.ends_with('-') {
                return Err(fail("inappropriate use of tag range option"));
            }
        } else {
            return Err(fail("unrecognized option"));
        }
    }
    if needs_binary && !binary {
        return Err(fail("requires ;binary transfer"));
    }
    Ok(())
}

/// `at`'s primary name followed by the options of `opts` (empty, or `;option...`)
/// lowercased, sorted and each once: options compare case-insensitively and their order
/// is not significant (RFC 4512 §2.5), so `cn;lang-EN;lang-de` and `cn;lang-de;lang-en`
/// are one attribute, stored and returned as `cn;lang-de;lang-en`, as slapd does (tester
/// 13, finding 4: they were two attributes holding the same value).
fn canonical_desc_of(at: &AttributeType, opts: &str) -> String {
    let name = at.name();
    let mut out = String::with_capacity(name.len() + opts.len());
    out.push_str(name);
    if opts.is_empty() {
        return out;
    }
    let mut options: Vec<String> = opts
        .split(';')
        .filter(|o| !o.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    options.sort_unstable();
    options.dedup();
    for o in options {
        out.push(';');
        out.push_str(&o);
    }
    out
}

/// Whether an attribute carrying the option `have` satisfies the requested option `want`
/// (one option each, without the `;`): options compare case-insensitively (RFC 4512
/// §2.5), and a language range (RFC 3866 §3: a `lang-` option ending in `-`) is satisfied
/// by every language tag it is a prefix of, at a subtag boundary: `lang-en-` by `lang-en`
/// and `lang-en-us`, `lang-` by any language tag (as slapd).
pub fn option_satisfied(want: &str, have: &str) -> bool {
    if want.eq_ignore_ascii_case(have) {
        return true;
    }
    let (w, h) = (want.as_bytes(), have.as_bytes());
    let is_range = w.len() >= 5 && w[..5].eq_ignore_ascii_case(b"lang-") && w.ends_with(b"-");
    if !is_range {
        return false;
    }
    let stem = &w[..w.len() - 1];
    h.len() >= stem.len()
        && h[..stem.len()].eq_ignore_ascii_case(stem)
        && (h.len() == stem.len() || h[stem.len()] == b'-')
}

/// Syntaxes whose values must be transferred with the `;binary` option (RFC 4522 §2;
/// RFC 4523 §2.1-§2.3 Certificate, Certificate List, Certificate Pair; RFC 4517 §3.3.33
/// Supported Algorithm), as slapd flags them.
const BINARY_TRANSFER_SYNTAXES: &[&str] = &[
    "1.3.6.1.4.1.1466.115.121.1.8",
    "1.3.6.1.4.1.1466.115.121.1.9",
    "1.3.6.1.4.1.1466.115.121.1.10",
    "1.3.6.1.4.1.1466.115.121.1.49",
];

/// The prefix of language tag options (RFC 3866 §3).
const LANG_PREFIX: &str = "lang-";

/// The schema: attribute types and object classes, indexed by lowercased names and OIDs.
///
/// It holds no IO and no state besides the definitions; it is built once (usually from
/// [`Schema::builtin`]) and then shared read-only.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    attrs: Vec<AttributeType>,
    /// Lowercased names, names as defined, and OIDs to indexes in `attrs` (the spelling
    /// as defined is what stored entries and most clients use: found without lowercasing).
    attr_index: FxHashMap<String, usize>,
    classes: Vec<ObjectClass>,
    /// As `attr_index`, for `classes`.
    class_index: FxHashMap<String, usize>,
    /// OIDs of the attribute types that have subtypes (some type's SUP chain names them).
    supertypes: rustc_hash::FxHashSet<String>,
    /// LDAP syntaxes defined by `ldapsyntax` directives (OpenLDAP slapd.conf(5)) beyond
    /// [`builtin::LDAP_SYNTAXES`]: `(numeric OID, RFC 4512 §4.1.5 description)`.
    pub(crate) syntaxes: Vec<(String, String)>,
    /// OID macros from `objectidentifier` directives (slapd.conf(5)), by lowercased name,
    /// fully expanded to numeric OIDs.
    pub(crate) oid_macros: HashMap<String, String>,
}

fn rule_of(
    owner: &str,
    name: &Option<String>,
    kind: RuleKind,
) -> Result<Option<&'static MatchingRule>, SchemaError> {
    let Some(name) = name else { return Ok(None) };
    let rule = matching::matching_rule(name)
        .ok_or_else(|| SchemaError::UnknownMatchingRule(name.clone()))?;
    if rule.kind != kind {
        return Err(SchemaError::InvalidDefinition {
            name: owner.to_string(),
            reason: format!("{} is not a {kind:?} matching rule", rule.name),
        });
    }
    Ok(Some(rule))
}

impl Schema {
    /// An empty schema.
    pub fn new() -> Schema {
        Schema::default()
    }

    /// The built-in schema with every set of [`crate::BUILTIN_SETS`].
    ///
    /// Definitions that fail to load are logged and skipped; a test makes sure there are none.
    pub fn builtin() -> Schema {
        let mut s = Schema::new();
        for set in builtin::BUILTIN_SETS {
            s.load_set(set);
        }
        s
    }

    /// The built-in schema with the named sets (from [`crate::BUILTIN_SETS`]) plus the sets
    /// they depend on; `system` (slapd's hard-coded definitions, including the RFC 4512
    /// operational types) and `core` are always loaded.
    pub fn builtin_named(sets: &[&str]) -> Result<Schema, SchemaError> {
        let mut wanted: Vec<&str> = vec!["system", "core"];
        let mut stack: Vec<&str> = sets.to_vec();
        while let Some(name) = stack.pop() {
            let set = builtin::set(name)
                .ok_or_else(|| SchemaError::UnknownSchemaSet(name.to_string()))?;
            if !wanted.contains(&set.name) {
                wanted.push(set.name);
                stack.extend(set.requires.iter().copied());
            }
        }
        let mut s = Schema::new();
        for set in builtin::BUILTIN_SETS {
            if wanted.contains(set) {
                s.load_set(set);
            }
        }
        Ok(s)
    }

    /// Adds every definition of a built-in set, stopping at the first error. Returns the
    /// number of definitions added.
    pub(crate) fn add_builtin_set(
        &mut self,
        set: &builtin::SchemaSet,
    ) -> Result<usize, SchemaError> {
        for d in set.attribute_types {
            self.add_attribute_type_str(d)?;
        }
        for d in set.object_classes {
            self.add_object_class_str(d)?;
        }
        Ok(set.attribute_types.len() + set.object_classes.len())
    }

    fn load_set(&mut self, name: &str) {
        let Some(set) = builtin::set(name) else {
            return;
        };
        for d in set.attribute_types {
            if let Err(e) = self.add_attribute_type_str(d) {
                tracing::error!(set = name, definition = d, error = %e, "built-in attribute type failed to load");
            }
        }
        for d in set.object_classes {
            if let Err(e) = self.add_object_class_str(d) {
                tracing::error!(set = name, definition = d, error = %e, "built-in object class failed to load");
            }
        }
    }

    /// Parses an RFC 4512 §4.1.2 description and adds the type.
    pub fn add_attribute_type_str(&mut self, desc: &str) -> Result<(), SchemaError> {
        self.add_attribute_type(parse::parse_attribute_type(desc)?)
    }

    /// Parses an RFC 4512 §4.1.1 description and adds the class.
    pub fn add_object_class_str(&mut self, desc: &str) -> Result<(), SchemaError> {
        self.add_object_class(parse::parse_object_class(desc)?)
    }

    fn check_free(
        index: &FxHashMap<String, usize>,
        oid: &str,
        names: &[String],
    ) -> Result<(), SchemaError> {
        if index.contains_key(oid) {
            return Err(SchemaError::Duplicate(oid.to_string()));
        }
        for n in names {
            if index.contains_key(&n.to_ascii_lowercase()) {
                return Err(SchemaError::Duplicate(n.clone()));
            }
        }
        Ok(())
    }

    /// Adds an attribute type, resolving SUP (which must already be defined and have the same
    /// usage, RFC 4512 §2.5.1) and the matching rules (which must be known and of the right
    /// kind). A declared SYNTAX must be known ([`Schema::knows_syntax`]; else
    /// [`SchemaError::UnknownSyntax`], as slapd refuses it). Inherited rules and syntax are
    /// filled in. Names and OID must be new.
    pub fn add_attribute_type(&mut self, mut at: AttributeType) -> Result<(), SchemaError> {
        if !is_numericoid(&at.oid) {
            return Err(SchemaError::InvalidDefinition {
                name: at.oid.clone(),
                reason: "the OID must be numeric".into(),
            });
        }
        Self::check_free(&self.attr_index, &at.oid, &at.names)?;
        if let Some(syntax) = &at.syntax {
            if !self.knows_syntax(syntax) {
                return Err(SchemaError::UnknownSyntax(syntax.clone()));
            }
        }
        let mut eff = Effective {
            equality: rule_of(&at.oid, &at.equality, RuleKind::Equality)?,
            ordering: rule_of(&at.oid, &at.ordering, RuleKind::Ordering)?,
            substr: rule_of(&at.oid, &at.substr, RuleKind::Substrings)?,
            syntax: at.syntax.clone(),
            syntax_len: at.syntax_len,
            ancestors: Vec::new(),
        };
        if let Some(sup_name) = &at.sup {
            let sup =
                self.lookup_type(sup_name)
                    .ok_or_else(|| SchemaError::UndefinedReference {
                        name: at.name().to_string(),
                        kind: "superior attribute type",
                        target: sup_name.clone(),
                    })?;
            if sup.usage != at.usage {
                return Err(SchemaError::InvalidDefinition {
                    name: at.name().to_string(),
                    reason: "a subtype must have the usage of its supertype".into(),
                });
            }
            eff.equality = eff.equality.or(sup.eff.equality);
            eff.ordering = eff.ordering.or(sup.eff.ordering);
            eff.substr = eff.substr.or(sup.eff.substr);
            if eff.syntax.is_none() {
                eff.syntax = sup.eff.syntax.clone();
                eff.syntax_len = sup.eff.syntax_len;
            }
            eff.ancestors.push(sup.oid.clone());
            eff.ancestors.extend(sup.eff.ancestors.iter().cloned());
        }
        self.supertypes.extend(eff.ancestors.iter().cloned());
        at.eff = eff;
        let idx = self.attrs.len();
        self.attr_index.insert(at.oid.clone(), idx);
        for n in &at.names {
            self.attr_index.insert(n.to_ascii_lowercase(), idx);
            self.attr_index.insert(n.clone(), idx);
        }
        self.attrs.push(at);
        Ok(())
    }

    /// Whether `oid` (a numeric OID without `{len}`) names an LDAP syntax of this schema:
    /// one of [`builtin::LDAP_SYNTAXES`] (every syntax slapd 2.5 knows, see there) or one
    /// defined by an `ldapsyntax` directive.
    pub fn knows_syntax(&self, oid: &str) -> bool {
        builtin::LDAP_SYNTAXES.iter().any(|(o, _)| *o == oid)
            || self.syntaxes.iter().any(|(o, _)| o == oid)
    }

    /// Adds an object class. Superclasses and MUST/MAY attribute types must already be
    /// defined; the RFC 4512 §2.4 kind rules are checked (an abstract class has only
    /// abstract superclasses, an auxiliary class no structural one, a structural class no
    /// auxiliary one).
    pub fn add_object_class(&mut self, mut oc: ObjectClass) -> Result<(), SchemaError> {
        if !is_numericoid(&oc.oid) {
            return Err(SchemaError::InvalidDefinition {
                name: oc.oid.clone(),
                reason: "the OID must be numeric".into(),
            });
        }
        Self::check_free(&self.class_index, &oc.oid, &oc.names)?;
        let mut ancestors: Vec<String> = Vec::new();
        for sup_name in &oc.sup {
            let sup =
                self.object_class(sup_name)
                    .ok_or_else(|| SchemaError::UndefinedReference {
                        name: oc.name().to_string(),
                        kind: "superclass",
                        target: sup_name.clone(),
                    })?;
            let ok = match oc.kind {
                ObjectClassKind::Abstract => sup.kind == ObjectClassKind::Abstract,
                ObjectClassKind::Auxiliary => sup.kind != ObjectClassKind::Structural,
                ObjectClassKind::Structural => sup.kind != ObjectClassKind::Auxiliary,
            };
            if !ok {
                return Err(SchemaError::InvalidDefinition {
                    name: oc.name().to_string(),
                    reason: format!(
                        "a {} class cannot have the {} superclass {}",
                        oc.kind.keyword(),
                        sup.kind.keyword(),
                        sup.name()
                    ),
                });
            }
            for a in std::iter::once(&sup.oid).chain(sup.ancestors.iter()) {
                if !ancestors.contains(a) {
                    ancestors.push(a.clone());
                }
            }
        }
        if oc.oid != TOP_OID
            && !ancestors.iter().any(|a| a == TOP_OID)
            && self.class_index.contains_key(TOP_OID)
        {
            ancestors.push(TOP_OID.to_string());
        }
        for a in oc.must.iter().chain(oc.may.iter()) {
            if self.lookup_type(a).is_none() {
                return Err(SchemaError::UndefinedReference {
                    name: oc.name().to_string(),
                    kind: "attribute type",
                    target: a.clone(),
                });
            }
        }
        oc.ancestors = ancestors;
        let idx = self.classes.len();
        self.class_index.insert(oc.oid.clone(), idx);
        for n in &oc.names {
            self.class_index.insert(n.to_ascii_lowercase(), idx);
            self.class_index.insert(n.clone(), idx);
        }
        self.classes.push(oc);
        Ok(())
    }

    /// Looks up a bare attribute type name or OID (no options).
    pub(crate) fn lookup_type(&self, name: &str) -> Option<&AttributeType> {
        let idx = match self.attr_index.get(name) {
            Some(i) => *i,
            None => *self.attr_index.get(&name.to_ascii_lowercase())?,
        };
        self.attrs.get(idx)
    }

    /// The attribute type of an attribute description (RFC 4512 §2.5): a name or OID,
    /// optionally followed by `;options`, which are ignored. ASCII case-insensitive.
    pub fn attribute_type(&self, desc: &str) -> Option<&AttributeType> {
        self.lookup_type(split_description(desc).0)
    }

    /// The object class with this name or OID, ASCII case-insensitively.
    pub fn object_class(&self, name: &str) -> Option<&ObjectClass> {
        let idx = match self.class_index.get(name) {
            Some(i) => *i,
            None => *self.class_index.get(&name.to_ascii_lowercase())?,
        };
        self.classes.get(idx)
    }

    /// All attribute types, in the order they were added.
    pub fn attribute_types(&self) -> impl Iterator<Item = &AttributeType> {
        self.attrs.iter()
    }

    /// All object classes, in the order they were added.
    pub fn object_classes(&self) -> impl Iterator<Item = &ObjectClass> {
        self.classes.iter()
    }

    /// A matching rule by name or OID (RFC 4517 §4.2).
    pub fn matching_rule(&self, name_or_oid: &str) -> Option<&'static MatchingRule> {
        matching::matching_rule(name_or_oid)
    }

    /// The numeric OID for a name of an attribute type, object class or matching rule, or
    /// the argument itself if it is a numeric OID (RFC 4512 §1.4 `oid`).
    pub fn resolve_oid(&self, name: &str) -> Option<String> {
        if is_numericoid(name) {
            return Some(name.to_string());
        }
        if let Some(at) = self.lookup_type(name) {
            return Some(at.oid.clone());
        }
        if let Some(oc) = self.object_class(name) {
            return Some(oc.oid.clone());
        }
        matching::matching_rule(name).map(|r| r.oid.to_string())
    }

    /// The description with the type replaced by its primary name and the options in
    /// their canonical form (lowercased, sorted, each once): `CN;lang-EN` → `cn;lang-en`.
    /// `None` for an unknown type.
    pub fn canonical_desc(&self, desc: &str) -> Option<String> {
        let (ty, opts) = split_description(desc);
        Some(canonical_desc_of(self.lookup_type(ty)?, opts))
    }

    /// Checks the options of an attribute description (RFC 4512 §2.5: `attributedescription
    /// = attributetype options`, `options = *( SEMI option )`) the way slapd 2.5 does with
    /// its default configuration:
    ///
    /// * the description has only the characters `A-Z a-z 0-9 - . ;`;
    /// * the type must be known, else [`SchemaError::UndefinedAttributeType`];
    /// * language tags (RFC 3866 §3), any option starting with `lang-`, are allowed on every
    ///   type; a tag range (ending in `-`, RFC 3866 §3.1, e.g. `lang-`) is not an
    ///   attribute description option;
    /// * `binary` (RFC 4522 §2) is allowed only on types whose syntax needs binary transfer
    ///   (Certificate, Certificate List, Certificate Pair, Supported Algorithm; RFC 4523
    ///   §2), at most once, and those types require it (slapd: "requires ;binary
    ///   transfer");
    /// * no other option is known (slapd: "unrecognized option"); an empty option is
    ///   invalid.
    ///
    /// Options compare ASCII case-insensitively. Every failure has result code
    /// undefinedAttributeType (17), as in slapd; option failures are
    /// [`SchemaError::InvalidAttributeDescription`] with slapd's wording.
    pub fn check_options(&self, desc: &str) -> Result<(), SchemaError> {
        let (ty, _) = split_description(desc);
        match self.lookup_type(ty) {
            Some(at) => check_options_of(desc, at),
            // Inappropriate characters are reported before an unknown type.
            None => {
                check_desc_chars(desc)?;
                Err(SchemaError::UndefinedAttributeType(desc.to_string()))
            }
        }
    }

    /// [`Schema::check_options`] and [`Schema::canonical_desc`] with one lookup of the
    /// type: the canonical description of `desc` once its options pass, `Ok(None)` when
    /// the type is unknown (for which [`Schema::check_options`] would fail with
    /// undefinedAttributeType, or with inappropriate characters).
    pub fn checked_canonical_desc(&self, desc: &str) -> Result<Option<String>, SchemaError> {
        let (ty, opts) = split_description(desc);
        let Some(at) = self.lookup_type(ty) else {
            return Ok(None);
        };
        check_options_of(desc, at)?;
        Ok(Some(canonical_desc_of(at, opts)))
    }

    /// All superclasses of `oc`, transitively, nearest first (RFC 4512 §2.4).
    pub fn superclasses(&self, oc: &ObjectClass) -> Vec<&ObjectClass> {
        oc.ancestors
            .iter()
            .filter_map(|o| self.object_class(o))
            .collect()
    }

    /// Whether some other attribute type is a subtype of `at` (RFC 4512 §2.5.1; `name`
    /// has `cn`, `sn`...). A filter on a type without subtypes only looks at its own
    /// values, and an index on it covers the filter.
    pub fn has_subtypes(&self, at: &AttributeType) -> bool {
        self.supertypes.contains(&at.oid)
    }

    /// Whether `sub` is `sup` or a (transitive) subtype of it (RFC 4512 §2.5.1), e.g. `cn`
    /// of `name`. Reflexive. Either side may be an [`AttributeType`] or a name, OID or
    /// description (`&str` / `String`); an unknown name is a subtype of nothing.
    pub fn is_subtype<A, B>(&self, sub: &A, sup: &B) -> bool
    where
        A: AttrTypeRef + ?Sized,
        B: AttrTypeRef + ?Sized,
    {
        match (sub.resolve_in(self), sup.resolve_in(self)) {
            (Some(sub), Some(sup)) => sub.oid == sup.oid || sub.eff.ancestors.contains(&sup.oid),
            _ => false,
        }
    }

    /// The structural object class of an entry with these `objectClass` values
    /// (RFC 4512 §2.4.2): among the structural classes named, the one that is not a
    /// superclass of another; when the values name several unrelated structural chains
    /// (an invalid entry), the deepest class wins, the first on a tie. Unknown values are
    /// ignored; `None` when no structural class is named.
    pub fn structural_object_class(&self, values: &[&[u8]]) -> Option<&ObjectClass> {
        let structural: Vec<&ObjectClass> = values
            .iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
            .filter_map(|v| self.object_class(v.trim()))
            .filter(|oc| oc.kind == ObjectClassKind::Structural)
            .collect();
        let mut best: Option<&ObjectClass> = None;
        for c in &structural {
            let is_super_of_other = structural
                .iter()
                .any(|o| o.oid != c.oid && o.ancestors.contains(&c.oid));
            if is_super_of_other {
                continue;
            }
            match best {
                Some(b) if b.ancestors.len() >= c.ancestors.len() => {}
                _ => best = Some(c),
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_any_name_case_insensitive() {
        let s = Schema::builtin();
        for n in [
            "cn",
            "CN",
            "commonName",
            "COMMONNAME",
            "2.5.4.3",
            "cn;lang-en",
            "CN;binary;x",
        ] {
            assert_eq!(
                s.attribute_type(n).map(|a| a.oid.as_str()),
                Some("2.5.4.3"),
                "{n}"
            );
        }
        assert!(s.attribute_type("nosuch").is_none());
        assert!(s.attribute_type("").is_none());
        assert_eq!(
            s.object_class("INETORGPERSON").map(|c| c.name()),
            Some("inetOrgPerson")
        );
        assert_eq!(s.object_class("2.5.6.6").map(|c| c.name()), Some("person"));
        assert_eq!(
            s.canonical_desc("CN;lang-EN").as_deref(),
            Some("cn;lang-en")
        );
        assert_eq!(
            s.canonical_desc("cn;lang-EN;lang-de;LANG-de").as_deref(),
            Some("cn;lang-de;lang-en")
        );
        assert_eq!(s.canonical_desc("2.5.4.3").as_deref(), Some("cn"));
        assert_eq!(s.canonical_desc("userid").as_deref(), Some("uid"));
        assert_eq!(s.canonical_desc("nosuch"), None);
        assert_eq!(
            s.canonical_desc("usercertificate;binary").as_deref(),
            Some("userCertificate;binary")
        );
        assert_eq!(
            s.canonical_desc("2.5.4.36;BINARY").as_deref(),
            Some("userCertificate;binary")
        );
    }

    #[test]
    fn language_ranges_match_tags_at_subtag_boundaries() {
        assert!(option_satisfied("lang-en", "LANG-EN"));
        assert!(!option_satisfied("lang-en", "lang-en-us"));
        assert!(option_satisfied("lang-en-", "lang-en"));
        assert!(option_satisfied("lang-en-", "lang-EN-us"));
        assert!(!option_satisfied("lang-en-", "lang-eng"));
        assert!(!option_satisfied("lang-en-", "lang-de"));
        assert!(option_satisfied("lang-", "lang-de"));
        assert!(!option_satisfied("lang-", "binary"));
        assert!(!option_satisfied("x-", "x-y"));
        // Bytes, not chars: no slicing inside a multi-byte character.
        assert!(!option_satisfied("lang-é-", "lang-e"));
        assert!(option_satisfied("lang-é-", "lang-é-x"));
    }

    #[test]
    fn attribute_description_options() {
        let s = Schema::builtin();
        let check = |d: &str| {
            s.check_options(d)
                .map_err(|e| (e.code().code(), e.to_string()))
        };
        for ok in [
            "cn",
            "CN;lang-en",
            "cn;LANG-EN;lang-fr",
            "cn;lang-en;lang-en",
            "cn;lang-en-us",
            "2.5.4.3;lang-de",
            "userCertificate;binary",
            "userCertificate;BINARY",
            "usercertificate;binary;lang-en",
            "2.5.4.36;binary",
            "cACertificate;binary",
            "certificateRevocationList;binary",
            "authorityRevocationList;Binary",
            "crossCertificatePair;binary",
            "jpegPhoto",
            "userSMIMECertificate",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for (bad, msg) in [
            (
                "userCertificate",
                "userCertificate: requires ;binary transfer",
            ),
            (
                "userCertificate;lang-en",
                "userCertificate;lang-en: requires ;binary transfer",
            ),
            ("cACertificate", "cACertificate: requires ;binary transfer"),
            ("2.5.4.36", "2.5.4.36: requires ;binary transfer"),
            (
                "crossCertificatePair",
                "crossCertificatePair: requires ;binary transfer",
            ),
            (
                "sn;binary",
                "sn;binary: option \"binary\" not supported with type",
            ),
            (
                "cn;lang-en;binary",
                "cn;lang-en;binary: option \"binary\" not supported with type",
            ),
            (
                "userSMIMECertificate;binary",
                "userSMIMECertificate;binary: option \"binary\" not supported with type",
            ),
            (
                "userCertificate;binary;binary",
                "userCertificate;binary;binary: option \"binary\" specified multiple times",
            ),
            ("cn;x-foo", "cn;x-foo: unrecognized option"),
            ("cn;x", "cn;x: unrecognized option"),
            (
                "userCertificate;x-foo",
                "userCertificate;x-foo: unrecognized option",
            ),
            ("cn;", "cn;: zero length option is invalid"),
            ("cn;;lang-en", "cn;;lang-en: zero length option is invalid"),
            (
                "cn;lang-",
                "cn;lang-: inappropriate use of tag range option",
            ),
            (
                "cn;lang-en-",
                "cn;lang-en-: inappropriate use of tag range option",
            ),
            (
                "cn;lang_en",
                "cn;lang_en: AttributeDescription contains inappropriate characters",
            ),
            (
                "cn;lang-é",
                "cn;lang-é: AttributeDescription contains inappropriate characters",
            ),
            (
                "nosuch;lang_x",
                "nosuch;lang_x: AttributeDescription contains inappropriate characters",
            ),
        ] {
            assert_eq!(check(bad), Err((17, msg.to_string())), "{bad}");
        }
        for unknown in ["nosuch", "nosuch;binary", "", ";binary"] {
            assert!(
                matches!(
                    s.check_options(unknown),
                    Err(SchemaError::UndefinedAttributeType(ref d)) if d == unknown
                ),
                "{unknown}"
            );
        }
    }

    #[test]
    fn inheritance_and_subtypes() {
        let s = Schema::builtin();
        let cn = s.attribute_type("cn").expect("cn");
        let name = s.attribute_type("name").expect("name");
        assert_eq!(cn.equality_rule().map(|r| r.name), Some("caseIgnoreMatch"));
        assert_eq!(
            cn.substr_rule().map(|r| r.name),
            Some("caseIgnoreSubstringsMatch")
        );
        assert_eq!(cn.effective_syntax(), Some("1.3.6.1.4.1.1466.115.121.1.15"));
        assert_eq!(cn.equality, None);
        assert!(s.is_subtype(cn, name));
        assert!(s.is_subtype(cn, cn));
        assert!(!s.is_subtype(name, cn));
        assert!(s.is_subtype("2.5.4.3", "name"));
        assert!(s.is_subtype(&"CN".to_string(), &"2.5.4.41".to_string()));
        assert!(s.is_subtype(cn, "name;lang-en"));
        assert!(!s.is_subtype("name", "cn"));
        assert!(!s.is_subtype("nosuch", "name"));
        let member = s.attribute_type("member").expect("member");
        assert_eq!(
            member.equality_rule().map(|r| r.name),
            Some("distinguishedNameMatch")
        );
        let v = s.attribute_type("supportedLDAPVersion").expect("v");
        assert!(v.equality_rule().is_none());
        assert!(v.is_operational());
        assert!(!cn.is_operational());
        let mo = s.attribute_type("memberOf").expect("memberOf");
        assert!(mo.no_user_modification && mo.usage == Usage::DsaOperation);
    }

    #[test]
    fn classes() {
        let s = Schema::builtin();
        let iop = s.object_class("inetOrgPerson").expect("iop");
        let names: Vec<&str> = s.superclasses(iop).iter().map(|c| c.name()).collect();
        assert_eq!(names, vec!["organizationalPerson", "person", "top"]);
        let acct = s.object_class("account").expect("account");
        assert_eq!(
            s.superclasses(acct)
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>(),
            vec!["top"]
        );
        let soc = |v: &[&str]| {
            let vals: Vec<&[u8]> = v.iter().map(|x| x.as_bytes()).collect();
            s.structural_object_class(&vals)
                .map(|c| c.name().to_string())
        };
        assert_eq!(
            soc(&["top", "person", "inetOrgPerson", "organizationalPerson"]).as_deref(),
            Some("inetOrgPerson")
        );
        assert_eq!(
            soc(&["inetOrgPerson", "top", "person"]).as_deref(),
            Some("inetOrgPerson")
        );
        assert_eq!(
            soc(&["top", "dcObject", "organization"]).as_deref(),
            Some("organization")
        );
        assert_eq!(
            soc(&["top", "posixAccount", "account"]).as_deref(),
            Some("account")
        );
        assert_eq!(soc(&["2.5.6.6"]).as_deref(), Some("person"));
        assert_eq!(soc(&["top", "dcObject"]), None);
        assert_eq!(soc(&[]), None);
    }

    #[test]
    fn add_checks() {
        let mut s = Schema::builtin();
        assert!(matches!(
            s.add_attribute_type_str("( 2.5.4.3 NAME 'x' SUP name )"),
            Err(SchemaError::Duplicate(_))
        ));
        assert!(matches!(
            s.add_attribute_type_str("( 1.2.3.4 NAME 'CN' SUP name )"),
            Err(SchemaError::Duplicate(_))
        ));
        assert!(matches!(
            s.add_attribute_type_str("( 1.2.3.4 NAME 'x' SUP nosuch )"),
            Err(SchemaError::UndefinedReference { .. })
        ));
        assert!(matches!(
            s.add_attribute_type_str(
                "( 1.2.3.4 NAME 'x' EQUALITY fooMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )"
            ),
            Err(SchemaError::UnknownMatchingRule(_))
        ));
        assert_eq!(
            s.add_attribute_type_str("( 1.2.3.4 NAME 'x' SYNTAX 1.2.3.4.5 )"),
            Err(SchemaError::UnknownSyntax("1.2.3.4.5".into()))
        );
        assert_eq!(
            s.add_attribute_type_str("( 1.2.3.4 NAME 'x' SYNTAX 1.2.3.4.5{64} )"),
            Err(SchemaError::UnknownSyntax("1.2.3.4.5".into()))
        );
        assert!(s.attribute_type("x").is_none());
        assert!(s
            .add_attribute_type_str(
                "( 1.2.3.4 NAME 'x' EQUALITY caseIgnoreOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )"
            )
            .is_err());
        assert!(s
            .add_object_class_str("( 1.2.3.5 NAME 'y' SUP nosuch )")
            .is_err());
        assert!(s
            .add_object_class_str("( 1.2.3.5 NAME 'y' MUST nosuch )")
            .is_err());
        assert!(s
            .add_object_class_str("( 1.2.3.5 NAME 'y' SUP dcObject STRUCTURAL )")
            .is_err());
        s.add_attribute_type_str("( 1.2.3.4 NAME 'myName' SUP name )")
            .expect("adds");
        s.add_object_class_str("( 1.2.3.5 NAME 'my' SUP person MAY myName )")
            .expect("adds");
        let my = s.object_class("MY").expect("my");
        assert!(my.is_a(s.object_class("top").expect("top")));
    }

    #[test]
    fn descriptions_round_trip() {
        let s = Schema::builtin();
        for at in s.attribute_types() {
            let d = at.to_description();
            let back = parse::parse_attribute_type(&d).expect("re-parses");
            assert_eq!(back.to_description(), d);
        }
        for oc in s.object_classes() {
            let d = oc.to_description();
            let back = parse::parse_object_class(&d).expect("re-parses");
            assert_eq!(back.to_description(), d);
        }
    }
}
