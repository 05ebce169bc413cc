//! Loading schema text the way slapd does: OpenLDAP `.schema` files (the format slapd.conf(5)
//! `include` reads) and schema LDIF (the `cn=schema,cn=config` entries of slapd-config(5)).
//!
//! The crate does no IO: callers read the files and pass their contents with an `origin`
//! (usually the path) that error messages repeat.
//!
//! `.schema` format (slapd.conf(5) "SCHEMA DIRECTIVES"):
//! * lines whose first non-blank character is `#`, and blank lines, are ignored;
//! * a line that starts with white space continues the previous directive;
//! * directive names are case-insensitive: `attributetype` (RFC 4512 §4.1.2 description),
//!   `objectclass` (§4.1.1), `ldapsyntax` (§4.1.5), `objectidentifier NAME OID` (an OID
//!   macro; the OID may itself be `MACRO` or `MACRO:suffix`), and `ditcontentrule`, which is
//!   accepted and ignored (DIT content rules are not enforced). A trailing `:` and the plural
//!   forms of the LDIF attribute names (`attributeTypes:`) are accepted too;
//! * OID macros may be used for the OID of a description and for its SYNTAX.
//!
//! Schema LDIF (RFC 2849, slapd-config(5) `olcSchemaConfig`): records whose
//! `olcObjectIdentifier`, `olcLdapSyntaxes`, `olcAttributeTypes`, `olcObjectClasses` (or the
//! RFC 4512 names `ldapSyntaxes`, `attributeTypes`, `objectClasses`) values are applied in
//! that order, as slapd does; values may carry `{N}` ordering prefixes (X-ORDERED), be folded
//! over several lines, or be base64 (`::`). Other attributes (`dn`, `objectClass`, `cn`, ...)
//! are ignored.

use std::collections::HashMap;

use base64::Engine;

use crate::builtin::{self, SchemaSet};
use crate::error::SchemaError;
use crate::parse::{self, is_descr, is_numericoid};
use crate::schema::{push_extensions, quote, Schema};

/// One item of a slapd configuration's list of schema `include`s, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaSource {
    /// The contents of a schema file read by the caller.
    File {
        /// Where it came from (the path), for error messages.
        origin: String,
        /// The file's text.
        text: String,
        /// `true` for schema LDIF (`*.ldif`, slapd-config(5)), `false` for the `.schema`
        /// format (slapd.conf(5)).
        ldif: bool,
    },
    /// A built-in set by name (`core`, `cosine`, `inetorgperson`, `misc`, `nis`, `axigen`,
    /// see [`crate::builtin`]), used when the file is not installed.
    Builtin(String),
}

/// What a directive or LDIF attribute defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ObjectIdentifier,
    LdapSyntax,
    AttributeType,
    ObjectClass,
    DitContentRule,
}

impl Kind {
    fn keyword(self) -> &'static str {
        match self {
            Kind::ObjectIdentifier => "objectidentifier",
            Kind::LdapSyntax => "ldapsyntax",
            Kind::AttributeType => "attributetype",
            Kind::ObjectClass => "objectclass",
            Kind::DitContentRule => "ditcontentrule",
        }
    }

    /// A `.schema` directive name (slapd.conf(5)), ASCII case-insensitive, with an optional
    /// trailing colon.
    ///
    /// slapd matches `attributetype` by prefix: its config table (servers/slapd/bconfig.c)
    /// gives the entry a match length of 9, so any word whose first nine characters are
    /// `attribute` (ASCII case-insensitively) selects it, except `attributeoptions`, an
    /// exact-match directive of its own that is not a schema definition. That is why
    /// slaptest accepts the `attributeype` typo in Debian's `dsee.schema`. The other schema
    /// directives have match length 0 in that table (whole word only); checked with
    /// slaptest 2.5, which refuses `objectclas`, `objectclassx`, `ldapsyntaxx`, ... .
    fn from_directive(word: &str) -> Option<Kind> {
        let w = word.strip_suffix(':').unwrap_or(word).to_ascii_lowercase();
        Some(match w.as_str() {
            "objectidentifier" => Kind::ObjectIdentifier,
            "ldapsyntax" | "ldapsyntaxes" => Kind::LdapSyntax,
            "attributetype" | "attributetypes" => Kind::AttributeType,
            "objectclass" | "objectclasses" => Kind::ObjectClass,
            "ditcontentrule" | "ditcontentrules" => Kind::DitContentRule,
            "attributeoptions" => return None,
            _ if w.starts_with("attribute") => Kind::AttributeType,
            _ => return None,
        })
    }

    /// A schema LDIF attribute (slapd-config(5) or RFC 4512 §4.2), options ignored.
    fn from_ldif_attr(attr: &str) -> Option<Kind> {
        let base = attr.split(';').next().unwrap_or(attr).to_ascii_lowercase();
        Some(match base.as_str() {
            "olcobjectidentifier" => Kind::ObjectIdentifier,
            "olcldapsyntaxes" | "ldapsyntaxes" => Kind::LdapSyntax,
            "olcattributetypes" | "attributetypes" => Kind::AttributeType,
            "olcobjectclasses" | "objectclasses" => Kind::ObjectClass,
            "olcditcontentrules" | "ditcontentrules" => Kind::DitContentRule,
            _ => return None,
        })
    }
}

/// Whether `word` names a schema directive of the `.schema` format (`attributetype`,
/// `objectclass`, `objectidentifier`, `ldapsyntax`, `ditcontentrule`, matched the way slapd
/// matches them; see the [module docs](crate::schemafile)). slapd.conf(5) allows these
/// directives in the configuration file itself, so a configuration parser uses this to
/// hand such lines to [`Schema::add_schema_text`].
pub fn is_schema_directive(word: &str) -> bool {
    Kind::from_directive(word).is_some()
}

fn file_err(origin: &str, line: usize, reason: impl Into<String>) -> SchemaError {
    SchemaError::File {
        origin: origin.to_string(),
        line,
        reason: reason.into(),
    }
}

fn is_delim(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'$' | b'\'')
}

impl Schema {
    /// Loads an OpenLDAP `.schema` file's text (slapd.conf(5) `include`; format in the
    /// [module docs](crate::schemafile)). Returns the number of attribute types, object
    /// classes and LDAP syntaxes added (OID macros are not counted).
    ///
    /// All or nothing: on error the schema is unchanged, and the error is
    /// [`SchemaError::File`] naming `origin`, the line where the faulty directive starts and
    /// what is wrong.
    pub fn add_schema_text(&mut self, text: &str, origin: &str) -> Result<usize, SchemaError> {
        let mut work = self.clone();
        let n = work.apply_schema_text(text, origin)?;
        *self = work;
        Ok(n)
    }

    /// Loads schema LDIF text (slapd-config(5) `cn=schema` entries such as OpenLDAP's
    /// `core.ldif`; format in the [module docs](crate::schemafile)). Returns the number of
    /// attribute types, object classes and LDAP syntaxes added. All or nothing, like
    /// [`Schema::add_schema_text`].
    pub fn add_schema_ldif(&mut self, text: &str, origin: &str) -> Result<usize, SchemaError> {
        let mut work = self.clone();
        let n = work.apply_schema_ldif(text, origin)?;
        *self = work;
        Ok(n)
    }

    /// The schema slapd would have with these `include`s: the built-in `system` set (what
    /// slapd hard-codes), then each source in order. A [`SchemaSource::Builtin`] set also
    /// loads the built-in sets it depends on (`core`, and e.g. `cosine` for
    /// `inetorgperson`) unless their definitions are already present, from a file or
    /// otherwise.
    pub fn from_includes(includes: &[SchemaSource]) -> Result<Schema, SchemaError> {
        let mut s = Schema::new();
        s.add_builtin("system")?;
        for inc in includes {
            s.add_source(inc)?;
        }
        Ok(s)
    }

    /// Adds one [`SchemaSource`]; see [`Schema::from_includes`]. Returns the number of
    /// definitions added. All or nothing.
    pub fn add_source(&mut self, source: &SchemaSource) -> Result<usize, SchemaError> {
        match source {
            SchemaSource::File {
                origin,
                text,
                ldif: true,
            } => self.add_schema_ldif(text, origin),
            SchemaSource::File {
                origin,
                text,
                ldif: false,
            } => self.add_schema_text(text, origin),
            SchemaSource::Builtin(name) => self.add_builtin(name),
        }
    }

    /// Adds the built-in set `name` (see [`crate::BUILTIN_SETS`]) and, first, the sets it
    /// depends on, skipping every set whose definitions are already present. Errors with
    /// [`SchemaError::UnknownSchemaSet`] for an unknown name and [`SchemaError::File`] (line
    /// 0) when a definition does not load. All or nothing.
    pub fn add_builtin(&mut self, name: &str) -> Result<usize, SchemaError> {
        let set = builtin::set(name).ok_or_else(|| SchemaError::UnknownSchemaSet(name.into()))?;
        let mut order: Vec<&'static SchemaSet> = Vec::new();
        collect_sets(set, &mut order, 0);
        let mut work = self.clone();
        let mut added = 0;
        for set in order {
            if work.set_present(set) {
                continue;
            }
            added += work.add_builtin_set(set).map_err(|e| {
                file_err(
                    &format!("built-in schema set '{}'", set.name),
                    0,
                    e.to_string(),
                )
            })?;
        }
        *self = work;
        Ok(added)
    }

    /// Whether a built-in set's definitions are already here (judged by its first object
    /// class, else its first attribute type; an empty set never is).
    fn set_present(&self, set: &SchemaSet) -> bool {
        let oid_of = |d: &str| d.split_whitespace().nth(1).map(str::to_string);
        if let Some(oid) = set.object_classes.first().and_then(|d| oid_of(d)) {
            return self.object_class(&oid).is_some();
        }
        if let Some(oid) = set.attribute_types.first().and_then(|d| oid_of(d)) {
            return self.attribute_type(&oid).is_some();
        }
        false
    }

    fn apply_schema_text(&mut self, text: &str, origin: &str) -> Result<usize, SchemaError> {
        // Logical lines: (line number where the directive starts, joined text).
        let mut defs: Vec<(usize, String)> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let lineno = n + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if raw.starts_with(|c: char| c.is_whitespace()) {
                match defs.last_mut() {
                    Some((_, t)) => {
                        t.push(' ');
                        t.push_str(trimmed);
                    }
                    None => {
                        return Err(file_err(
                            origin,
                            lineno,
                            "continuation line (starting with white space) without a directive before it",
                        ))
                    }
                }
            } else {
                defs.push((lineno, trimmed.to_string()));
            }
        }
        let mut added = 0;
        for (line, def) in defs {
            let (word, body) = match def.find(|c: char| c.is_whitespace()) {
                Some(i) => (&def[..i], def[i..].trim()),
                None => (def.as_str(), ""),
            };
            let kind = Kind::from_directive(word)
                .ok_or_else(|| file_err(origin, line, format!("unknown directive {word:?}")))?;
            added += self
                .apply_definition(kind, body)
                .map_err(|reason| file_err(origin, line, reason))?;
        }
        Ok(added)
    }

    fn apply_schema_ldif(&mut self, text: &str, origin: &str) -> Result<usize, SchemaError> {
        let mut added = 0;
        for record in ldif_records(text, origin)? {
            let mut values: Vec<(Kind, Option<u64>, usize, String)> = Vec::new();
            for (line, attr, value) in record {
                let Some(kind) = Kind::from_ldif_attr(&attr) else {
                    continue;
                };
                let (index, value) = strip_ordering_prefix(&value);
                values.push((kind, index, line, value.to_string()));
            }
            // slapd applies the kinds in schema order (OIDs, syntaxes, types, classes), each
            // in X-ORDERED order when every value of the kind is numbered.
            values.sort_by_key(|v| v.0);
            let mut start = 0;
            while start < values.len() {
                let kind = values[start].0;
                let end = values[start..]
                    .iter()
                    .position(|v| v.0 != kind)
                    .map_or(values.len(), |p| start + p);
                let group = &mut values[start..end];
                if group.iter().all(|v| v.1.is_some()) {
                    group.sort_by_key(|v| v.1);
                }
                start = end;
            }
            for (kind, _, line, value) in values {
                added += self
                    .apply_definition(kind, &value)
                    .map_err(|reason| file_err(origin, line, reason))?;
            }
        }
        Ok(added)
    }

    /// Applies one definition; the error is the reason text for [`SchemaError::File`].
    fn apply_definition(&mut self, kind: Kind, body: &str) -> Result<usize, String> {
        let ctx = |e: SchemaError| format!("{}: {e}", kind.keyword());
        match kind {
            Kind::ObjectIdentifier => {
                let mut words = body.split_whitespace();
                let (Some(name), Some(value), None) = (words.next(), words.next(), words.next())
                else {
                    return Err("objectidentifier: expected a name and an OID".into());
                };
                if !is_descr(name) {
                    return Err(format!(
                        "objectidentifier: {name:?} is not a valid macro name"
                    ));
                }
                let oid = match self.expand_oid(value)? {
                    Some(oid) => oid,
                    None if is_numericoid(value) => value.to_string(),
                    None => {
                        return Err(format!(
                            "objectidentifier: {value:?} is neither a numeric OID nor a defined OID macro"
                        ))
                    }
                };
                let key = name.to_ascii_lowercase();
                match self.oid_macros.get(&key) {
                    Some(old) if *old != oid => Err(format!(
                        "objectidentifier: OID macro {name:?} is already defined as {old}"
                    )),
                    _ => {
                        self.oid_macros.insert(key, oid);
                        Ok(0)
                    }
                }
            }
            Kind::LdapSyntax => {
                let text = self.expand_macros(body)?;
                let parse::SyntaxDescription {
                    oid,
                    desc,
                    extensions: ext,
                    ..
                } = parse::parse_syntax_description(&text).map_err(ctx)?;
                let known = builtin::LDAP_SYNTAXES.iter().any(|(o, _)| *o == oid)
                    || self.syntaxes.iter().any(|(o, _)| *o == oid);
                if known {
                    return Err(ctx(SchemaError::Duplicate(oid)));
                }
                let mut d = format!("( {oid}");
                if let Some(desc) = desc {
                    d.push_str(" DESC ");
                    d.push_str(&quote(&desc));
                }
                push_extensions(&mut d, &ext);
                d.push_str(" )");
                self.syntaxes.push((oid, d));
                Ok(1)
            }
            Kind::AttributeType => {
                let text = self.expand_macros(body)?;
                if self.redefines_overlay_type(&text) {
                    return Ok(0);
                }
                self.add_attribute_type_str(&text)
                    .map_err(|e| with_include_hint(ctx(e.clone()), &e))?;
                Ok(1)
            }
            Kind::ObjectClass => {
                let text = self.expand_macros(body)?;
                self.add_object_class_str(&text)
                    .map_err(|e| with_include_hint(ctx(e.clone()), &e))?;
                Ok(1)
            }
            Kind::DitContentRule => {
                tracing::warn!(
                    definition = body,
                    "DIT content rules are not supported; ignoring ditcontentrule"
                );
                Ok(0)
            }
        }
    }

    /// `MACRO` or `MACRO:suffix` → the numeric OID; `None` when `word` is not a macro
    /// reference (a numeric OID, or a name that is not a macro). An undefined macro before
    /// a colon is an error.
    fn expand_oid(&self, word: &str) -> Result<Option<String>, String> {
        if is_numericoid(word) {
            return Ok(None);
        }
        if let Some((name, suffix)) = word.split_once(':') {
            let base = self
                .oid_macros
                .get(&name.to_ascii_lowercase())
                .ok_or_else(|| format!("undefined OID macro {name:?} in {word:?}"))?;
            let oid = format!("{base}.{suffix}");
            if !is_numericoid(&oid) {
                return Err(format!("{word:?} does not expand to a numeric OID"));
            }
            return Ok(Some(oid));
        }
        Ok(self.oid_macros.get(&word.to_ascii_lowercase()).cloned())
    }

    /// [`Self::expand_oid`] for a word that may carry a `{LENGTH}` bound (a SYNTAX
    /// value): the expanded OID with the bound kept, or None for no macro.
    fn expand_syntax_word(&self, word: &str) -> Result<Option<String>, String> {
        let (base, len) = match word.find('{') {
            Some(j) => (&word[..j], &word[j..]),
            None => (word, ""),
        };
        Ok(self.expand_oid(base)?.map(|oid| oid + len))
    }

    /// Replaces OID macros in the OID position (the first word) and the SYNTAX position of
    /// a description (slapd.conf(5) "objectidentifier").
    fn expand_macros(&self, body: &str) -> Result<String, String> {
        let b = body.as_bytes();
        let mut out = String::with_capacity(body.len());
        let mut last = 0;
        let mut i = 0;
        let mut seen_first = false;
        let mut after_syntax = false;
        while i < b.len() {
            match b[i] {
                b'\'' => {
                    i += 1;
                    let start = i;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                    let end = i;
                    i += 1;
                    // A quoted SYNTAX may be a macro too (msuser.schema:
                    // `SYNTAX 'MSADlargeInteger'`), as slapd accepts.
                    if after_syntax {
                        let word = body.get(start..end).unwrap_or("");
                        if let Some(expanded) = self.expand_syntax_word(word)? {
                            out.push_str(&body[last..start]);
                            out.push_str(&expanded);
                            last = end;
                        }
                    }
                    seen_first = true;
                    after_syntax = false;
                }
                c if is_delim(c) => i += 1,
                _ => {
                    let start = i;
                    while i < b.len() && !is_delim(b[i]) {
                        i += 1;
                    }
                    let word = &body[start..i];
                    let expand = !seen_first || after_syntax;
                    seen_first = true;
                    after_syntax = word.eq_ignore_ascii_case("SYNTAX");
                    if !expand {
                        continue;
                    }
                    if let Some(expanded) = self.expand_syntax_word(word)? {
                        out.push_str(&body[last..start]);
                        out.push_str(&expanded);
                        last = i;
                    }
                }
            }
        }
        out.push_str(body.get(last..).unwrap_or(""));
        Ok(out)
    }

    /// Whether `text` defines again, with the same OID and name, an attribute type that
    /// oxldap's system set has only because a slapd overlay registers it: memberOf
    /// (slapo-memberof, `1.2.840.113556.1.2.102`). The overlay registers it "dup ok"
    /// (servers/slapd/overlays/memberof.c), so slapd accepts a schema file that defines
    /// it too (Debian's msuser.schema does); the built-in definition is kept, with the
    /// matching rules the overlay needs.
    fn redefines_overlay_type(&self, text: &str) -> bool {
        const OVERLAY_TYPES: &[&str] = &["1.2.840.113556.1.2.102"];
        let Ok(at) = parse::parse_attribute_type(text) else {
            return false;
        };
        OVERLAY_TYPES.contains(&at.oid.as_str())
            && self.attribute_type(&at.oid).is_some_and(|old| {
                old.oid == at.oid
                    && at
                        .names
                        .iter()
                        .all(|n| old.names.iter().any(|o| o.eq_ignore_ascii_case(n)))
            })
    }

    /// The OID macros defined so far (`objectidentifier`), by lowercased name, expanded.
    pub fn oid_macros(&self) -> &HashMap<String, String> {
        &self.oid_macros
    }
}

/// For a definition that refers to something undefined, `reason` followed by which
/// include is missing: the standard schema file whose built-in copy defines the target
/// (`"dSA" is defined in core.schema`), else a general hint. The error itself already names
/// the file and line of the referring definition ([`SchemaError::File`]); slapd says only
/// `ObjectClass not found: "dsa"`, which misled users into blaming the file being read when
/// an include before it was missing (tester finding 9).
fn with_include_hint(reason: String, err: &SchemaError) -> String {
    let SchemaError::UndefinedReference { kind, target, .. } = err else {
        return reason;
    };
    let class = *kind == "superclass";
    let defined_in = builtin::BUILTIN_SETS
        .iter()
        .filter(|n| **n != "system")
        .filter_map(|n| builtin::set(n))
        .find(|set| {
            let defs = if class {
                set.object_classes
            } else {
                set.attribute_types
            };
            defs.iter().any(|d| {
                let names = if class {
                    parse::parse_object_class(d).map(|oc| (oc.oid, oc.names))
                } else {
                    parse::parse_attribute_type(d).map(|at| (at.oid, at.names))
                };
                names.is_ok_and(|(oid, names)| {
                    oid == *target || names.iter().any(|n| n.eq_ignore_ascii_case(target))
                })
            })
        });
    match defined_in {
        Some(set) => format!(
            "{reason} ({target:?} is defined in {}.schema: is an include of it missing, or does it come after this file?)",
            set.name
        ),
        None => format!(
            "{reason} (include the schema file that defines {target:?} before this file)"
        ),
    }
}

/// Depth-first: dependencies (`core` for every user set, then `requires`) before the set.
fn collect_sets(set: &'static SchemaSet, order: &mut Vec<&'static SchemaSet>, depth: usize) {
    if depth > 16 || order.iter().any(|s| s.name == set.name) {
        return;
    }
    let mut deps: Vec<&str> = Vec::new();
    if set.name != "system" {
        deps.push("system");
    }
    if set.name != "system" && set.name != "core" {
        deps.push("core");
    }
    deps.extend(set.requires.iter().copied());
    for d in deps {
        if let Some(dep) = builtin::set(d) {
            collect_sets(dep, order, depth + 1);
        }
    }
    if !order.iter().any(|s| s.name == set.name) {
        order.push(set);
    }
}

/// `{N}rest` → `(Some(N), rest)` (slapd's X-ORDERED prefix); otherwise `(None, value)`.
fn strip_ordering_prefix(value: &str) -> (Option<u64>, &str) {
    if let Some(rest) = value.strip_prefix('{') {
        if let Some(end) = rest.find('}') {
            let digits = &rest[..end];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(n) = digits.parse::<u64>() {
                    return (Some(n), rest[end + 1..].trim_start());
                }
            }
        }
    }
    (None, value)
}

/// One LDIF `attr: value` line after unfolding: (line number, attribute description, value).
type LdifLine = (usize, String, String);

/// Splits LDIF text (RFC 2849) into records of `(line, attribute, value)`: comments removed,
/// folded lines joined, base64 values decoded (they must be UTF-8 here). `-` separator lines
/// of change records are skipped; `attr:< URL` values are refused (no IO).
fn ldif_records(text: &str, origin: &str) -> Result<Vec<Vec<LdifLine>>, SchemaError> {
    let mut records: Vec<Vec<(usize, String)>> = Vec::new();
    let mut cur: Vec<(usize, String)> = Vec::new();
    let mut in_comment = false;
    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 1;
        if let Some(cont) = raw.strip_prefix(' ') {
            if in_comment {
                continue;
            }
            match cur.last_mut() {
                Some((_, l)) => l.push_str(cont),
                None => {
                    return Err(file_err(
                        origin,
                        lineno,
                        "continuation line (starting with a space) without a line before it",
                    ))
                }
            }
            continue;
        }
        in_comment = false;
        if raw.trim().is_empty() {
            if !cur.is_empty() {
                records.push(std::mem::take(&mut cur));
            }
        } else if raw.starts_with('#') {
            in_comment = true;
        } else {
            cur.push((lineno, raw.to_string()));
        }
    }
    if !cur.is_empty() {
        records.push(cur);
    }
    let mut out = Vec::with_capacity(records.len());
    for rec in records {
        let mut lines = Vec::with_capacity(rec.len());
        for (line, l) in rec {
            if l.trim() == "-" {
                continue;
            }
            let Some((attr, rest)) = l.split_once(':') else {
                return Err(file_err(origin, line, "expected 'attribute: value'"));
            };
            let value = if let Some(b64) = rest.strip_prefix(':') {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| file_err(origin, line, format!("{attr}: invalid base64: {e}")))?;
                String::from_utf8(bytes)
                    .map_err(|_| file_err(origin, line, format!("{attr}: value is not UTF-8")))?
            } else if rest.starts_with('<') {
                return Err(file_err(
                    origin,
                    line,
                    format!("{attr}: URL values are not supported"),
                ));
            } else {
                rest.trim_start_matches(' ').to_string()
            };
            lines.push((line, attr.trim().to_string(), value.trim().to_string()));
        }
        out.push(lines);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system() -> Schema {
        Schema::from_includes(&[]).expect("system loads")
    }

    #[test]
    fn schema_text_with_macros_continuations_and_comments() {
        let mut s = system();
        let text = "\
# a comment
objectIdentifier OLcfg 1.3.6.1.4.1.4203.1.12.2
ObjectIdentifier OLcfgAt OLcfg:3
objectidentifier MySyn 1.3.6.1.4.1.99999.1

ldapsyntax ( MySyn:1 DESC 'My syntax' )
AttributeType ( OLcfgAt:1 NAME 'myAttr'
    DESC 'has a # inside'
\t# an indented comment line
\tEQUALITY caseIgnoreMatch
    SYNTAX MySyn:1{64} )
attributetypes: ( OLcfg:3.2 NAME 'myOther' SUP myAttr )
objectclass ( OLcfg:4.1 NAME 'myClass' SUP top AUXILIARY
  MAY ( myAttr $ myOther ) )
";
        let n = s.add_schema_text(text, "my.schema").expect("loads");
        assert_eq!(n, 4);
        let at = s.attribute_type("myattr").expect("myAttr");
        assert_eq!(at.oid, "1.3.6.1.4.1.4203.1.12.2.3.1");
        assert_eq!(at.syntax.as_deref(), Some("1.3.6.1.4.1.99999.1.1"));
        assert_eq!(at.syntax_len, Some(64));
        assert_eq!(at.desc.as_deref(), Some("has a # inside"));
        assert_eq!(
            s.attribute_type("myOther").map(|a| a.oid.as_str()),
            Some("1.3.6.1.4.1.4203.1.12.2.3.2")
        );
        assert_eq!(
            s.object_class("myClass").map(|c| c.oid.as_str()),
            Some("1.3.6.1.4.1.4203.1.12.2.4.1")
        );
        assert_eq!(
            s.oid_macros().get("olcfgat").map(String::as_str),
            Some("1.3.6.1.4.1.4203.1.12.2.3")
        );
        let syn = s
            .subschema_attributes()
            .into_iter()
            .find(|(n, _)| *n == "ldapSyntaxes")
            .map(|(_, v)| v)
            .unwrap_or_default();
        assert!(syn
            .iter()
            .any(|v| v.as_slice() == b"( 1.3.6.1.4.1.99999.1.1 DESC 'My syntax' )"));
    }

    fn file_error(r: Result<usize, SchemaError>) -> (usize, String) {
        match r {
            Err(SchemaError::File { line, reason, .. }) => (line, reason),
            other => (usize::MAX, format!("{other:?}")),
        }
    }

    #[test]
    fn schema_text_errors_name_the_line() {
        let mut s = system();
        let cases: &[(&str, usize, &str)] = &[
            (
                "# c\n\nattributetype ( 1.2.3.4 NAME 'x'\n  SYNTAX 1.2.3 \n",
                3,
                "missing closing",
            ),
            ("\n  ( 1.2.3 )\n", 2, "continuation"),
            (
                "attributetype ( 1.2.3.4 NAME 'a' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )\nfoo bar\n",
                2,
                "unknown directive",
            ),
            (
                "attributetype ( Nope:1 NAME 'a' SYNTAX 1.2 )\n",
                1,
                "undefined OID macro",
            ),
            (
                "attributetype ( 1.2.3.4 NAME 'a' SUP nosuch )\n",
                1,
                "nosuch",
            ),
            (
                "objectclass ( 1.2.3.5 NAME 'a' MUST nosuch )\n",
                1,
                "nosuch",
            ),
            // slaptest: `attributetype: Syntax not found: "1.2.3.4.5"`
            (
                "\nattributetype ( 1.2.3.4.9 NAME 'x3'\n  SYNTAX 1.2.3.4.5{32} )\n",
                2,
                "attributetype: Syntax not found: \"1.2.3.4.5\"",
            ),
            // An OID macro for an unknown syntax is expanded, then refused.
            (
                "objectidentifier S 1.2.3.4\nattributetype ( 1.2.3.4.9 NAME 'x3' SYNTAX S:5 )\n",
                2,
                "Syntax not found: \"1.2.3.4.5\"",
            ),
            // A syntax slapd knows but oxldap does not validate loads (Mail Preference).
            (
                "attributetype ( 1.2.3.4.9 NAME 'x3' SYNTAX 1.3.6.1.4.1.1466.115.121.1.32 )\nfoo\n",
                2,
                "unknown directive",
            ),
            (
                "attributetype ( 2.5.4.3 NAME 'cn2' SUP name )\n",
                1,
                "already defined",
            ),
            ("objectidentifier X\n", 1, "expected a name"),
            ("objectidentifier X Y:1\n", 1, "undefined OID macro"),
            (
                "objectidentifier X 1.2\nobjectidentifier X 1.3\n",
                2,
                "already defined",
            ),
            (
                "ldapsyntax ( 1.3.6.1.4.1.1466.115.121.1.15 DESC 'dup' )\n",
                1,
                "already defined",
            ),
        ];
        for (text, line, what) in cases {
            let (got, reason) = file_error(s.add_schema_text(text, "t.schema"));
            assert_eq!(got, *line, "{text:?}: {reason}");
            assert!(reason.contains(what), "{text:?}: {reason}");
        }
        // All or nothing: the first definition of a failing file is not kept.
        assert!(s.attribute_type("a").is_none());
        let e = s
            .add_schema_text("attributetype ( 1.2.3.4 NAME 'x' )", "here.schema")
            .expect_err("fails");
        assert!(
            e.to_string()
                .starts_with("here.schema, line 1: attributetype:"),
            "{e}"
        );
        assert_eq!(e.code().code(), 80);
    }

    #[test]
    fn undefined_references_name_the_missing_include() {
        // The real cosine.schema's pilotDSA without core.schema before it.
        let mut s = system();
        let e = s
            .add_schema_text(
                "attributetype ( 0.9.2342.19200300.100.1.49 NAME 'dSAQuality'\n\tSYNTAX 1.3.6.1.4.1.1466.115.121.1.19 SINGLE-VALUE )\n\nobjectclass ( 0.9.2342.19200300.100.4.21 NAME 'pilotDSA'\n\tSUP dsa STRUCTURAL\n\tMAY dSAQuality )\n",
                "/etc/ldap/schema/cosine.schema",
            )
            .expect_err("dsa is core's");
        assert_eq!(
            e.to_string(),
            "/etc/ldap/schema/cosine.schema, line 4: objectclass: \"pilotDSA\" refers to undefined superclass \"dsa\" (\"dsa\" is defined in core.schema: is an include of it missing, or does it come after this file?)"
        );
        let e = s
            .add_schema_text(
                "objectclass ( 1.2.3.5 NAME 'y' SUP top AUXILIARY MAY ( cn $ loginShell ) )\n",
                "x.schema",
            )
            .expect_err("loginShell is nis's");
        assert!(
            e.to_string().ends_with("(\"loginShell\" is defined in nis.schema: is an include of it missing, or does it come after this file?)"),
            "{e}"
        );
        let e = s
            .add_schema_text(
                "attributetype ( 1.2.3.4 NAME 'a' SUP nosuch )\n",
                "x.schema",
            )
            .expect_err("nosuch");
        assert!(
            e.to_string()
                .ends_with("(include the schema file that defines \"nosuch\" before this file)"),
            "{e}"
        );
        // With the built-in core (core.schema missing), the real cosine.schema's pilotDSA loads.
        let mut s = Schema::from_includes(&[SchemaSource::Builtin("core".into())]).expect("core");
        s.add_schema_text(
            "attributetype ( 0.9.2342.19200300.100.1.49 NAME 'dSAQuality'\n\tSYNTAX 1.3.6.1.4.1.1466.115.121.1.19 SINGLE-VALUE )\nobjectclass ( 0.9.2342.19200300.100.4.21 NAME 'pilotDSA'\n\tSUP dsa STRUCTURAL\n\tMAY dSAQuality )\n",
            "cosine.schema",
        )
        .expect("pilotDSA loads over the built-in core");
    }

    #[test]
    fn slapd_leniencies() {
        let mut s = system();
        let text = "\
ATTRIBUTEYPE ( 1.3.6.1.4.1.99999.5.1 NAME 'typoAttr' SYNTAX '1.3.6.1.4.1.1466.115.121.1.12' )
attributeTypeFoo ( 1.3.6.1.4.1.99999.5.2 NAME 'authzAttr' EQUALITY authzMatch
  SYNTAX 1.3.6.1.4.1.4203.666.2.7 )
ldapsyntax ( 1.3.6.1.4.1.99999.5.3 NAME 'MySyntax' DESC 'named' X-SUBST '1.3.6.1.4.1.1466.115.121.1.15' )
";
        assert_eq!(s.add_schema_text(text, "x.schema").expect("loads"), 3);
        let at = s.attribute_type("typoAttr").expect("typoAttr");
        assert_eq!(at.syntax.as_deref(), Some("1.3.6.1.4.1.1466.115.121.1.12"));
        let rule = s
            .attribute_type("authzAttr")
            .and_then(|a| a.equality_rule());
        assert!(rule.is_some_and(|r| r.name == "authzMatch" && !r.is_supported()));
        let syn = s
            .subschema_attributes()
            .into_iter()
            .find(|(n, _)| *n == "ldapSyntaxes")
            .map(|(_, v)| v)
            .unwrap_or_default();
        assert!(syn.iter().any(|v| v.as_slice()
            == b"( 1.3.6.1.4.1.99999.5.3 DESC 'named' X-SUBST '1.3.6.1.4.1.1466.115.121.1.15' )"));
        // slapd's other schema directives match whole words only, and `attributeoptions`
        // is not a schema directive.
        for word in [
            "attribut",
            "objectclas",
            "objectclassx",
            "ldapsyntaxx",
            "attributeoptions",
        ] {
            let (line, reason) = file_error(s.add_schema_text(
                &format!("{word} ( 1.3.6.1.4.1.99999.5.9 NAME 'no' SUP name )\n"),
                "y.schema",
            ));
            assert_eq!(line, 1, "{word}");
            assert!(reason.contains("unknown directive"), "{word}: {reason}");
        }
    }

    #[test]
    fn schema_ldif() {
        let mut s = system();
        let b64 = base64::engine::general_purpose::STANDARD
            .encode("{1}( 1.3.6.1.4.1.99999.2.2 NAME 'ldifOther' SUP ldifAttr )");
        let text = format!(
            "\
# comment
#  folded comment
 still comment
version: 1

dn: cn=test,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: test
olcObjectClasses: {{0}}( MyOid:3.1 NAME 'ldifClass' SUP top STRUCTURAL MUST cn
  MAY ( ldifAttr $ ldifOther ) )
olcAttributeTypes:: {b64}
olcAttributeTypes: {{0}}( MyOid:2.1 NAME 'ldifAttr' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.
 1466.115.121.1.15 )
olcObjectIdentifier: {{0}}MyOid\t1.3.6.1.4.1.99999
"
        );
        let n = s.add_schema_ldif(&text, "test.ldif").expect("loads");
        assert_eq!(n, 3);
        let at = s.attribute_type("ldifAttr").expect("ldifAttr");
        assert_eq!(at.oid, "1.3.6.1.4.1.99999.2.1");
        assert_eq!(at.syntax.as_deref(), Some("1.3.6.1.4.1.1466.115.121.1.15"));
        assert!(s.is_subtype("ldifOther", "ldifAttr"));
        let oc = s.object_class("ldifClass").expect("ldifClass");
        assert_eq!(oc.may, vec!["ldifAttr", "ldifOther"]);

        let (line, reason) = file_error(s.add_schema_ldif(
            "dn: cn=x\nolcAttributeTypes: ( 1.2.3.9 NAME 'y' )\n",
            "bad.ldif",
        ));
        assert_eq!(line, 2, "{reason}");
        let (line, reason) =
            file_error(s.add_schema_ldif("dn: cn=x\nolcAttributeTypes:: !!\n", "b"));
        assert_eq!(line, 2);
        assert!(reason.contains("base64"), "{reason}");
        let (line, _) = file_error(s.add_schema_ldif("dn: cn=x\nnocolon\n", "b"));
        assert_eq!(line, 2);
        let (line, _) =
            file_error(s.add_schema_ldif("dn: cn=x\nolcObjectClasses:< file:///x\n", "b"));
        assert_eq!(line, 2);
    }

    #[test]
    fn builtin_sources_and_axigen_standin() {
        let s = Schema::from_includes(&[SchemaSource::Builtin("axigen".into())]).expect("loads");
        for oc in [
            "inetOrgPerson",
            "inetLocalMailRecipient",
            "groupOfNames",
            "person",
        ] {
            assert!(s.object_class(oc).is_some(), "{oc}");
        }
        for at in ["cn", "sn", "mail", "userPassword", "mailHost"] {
            assert!(s.attribute_type(at).is_some(), "{at}");
        }
        assert!(s.object_class("posixAccount").is_none());
        let all = Schema::from_includes(&[
            SchemaSource::Builtin("core".into()),
            SchemaSource::Builtin("cosine".into()),
            SchemaSource::Builtin("inetorgperson".into()),
            SchemaSource::Builtin("misc".into()),
            SchemaSource::Builtin("nis".into()),
            SchemaSource::Builtin("axigen".into()),
        ])
        .expect("loads");
        assert_eq!(
            all.attribute_types().count(),
            Schema::builtin().attribute_types().count()
        );
        assert!(matches!(
            Schema::from_includes(&[SchemaSource::Builtin("nosuch".into())]),
            Err(SchemaError::UnknownSchemaSet(_))
        ));
        assert!(builtin::AXIGEN_STANDIN_NOTE.contains("axigen.schema not found"));
        let axigen = builtin::set("axigen").expect("axigen");
        assert!(axigen.attribute_types.is_empty() && axigen.object_classes.is_empty());
    }

    #[test]
    fn system_has_slapd_root_dse_rules() {
        let s = system();
        let nc = s.attribute_type("namingContexts").expect("namingContexts");
        assert_eq!(
            nc.equality_rule().map(|r| r.name),
            Some("distinguishedNameMatch")
        );
        let v = s.attribute_type("supportedLDAPVersion").expect("v");
        assert!(v.equality_rule().is_none());
        for oc in [
            "top",
            "alias",
            "extensibleObject",
            "subschema",
            "subentry",
            "OpenLDAProotDSE",
            "referral",
            "glue",
            "syncConsumerSubentry",
        ] {
            assert!(s.object_class(oc).is_some(), "{oc}");
        }
        assert!(s.attribute_type("memberOf").is_some());
        assert!(s.attribute_type("sn").is_none());
    }

    const REAL: &[&str] = &["core", "cosine", "inetorgperson", "misc", "nis"];

    fn read_real(ext: &str) -> Option<Vec<SchemaSource>> {
        let mut out = Vec::new();
        for name in REAL {
            let path = format!("/etc/ldap/schema/{name}.{ext}");
            match std::fs::read_to_string(&path) {
                Ok(text) => out.push(SchemaSource::File {
                    origin: path,
                    text,
                    ldif: ext == "ldif",
                }),
                Err(e) => {
                    eprintln!(
                        "skipping: {path} not readable ({e}); install slapd to run this test"
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn check_real(s: &Schema) {
        for oc in [
            "inetOrgPerson",
            "posixAccount",
            "inetLocalMailRecipient",
            "dcObject",
            "pilotDSA",
        ] {
            assert!(s.object_class(oc).is_some(), "{oc}");
        }
        assert!(s.attribute_type("namingContexts").is_some());
        assert!(s.attribute_type("mailHost").is_some());
    }

    #[test]
    fn real_openldap_schema_files() {
        let Some(sources) = read_real("schema") else {
            return;
        };
        let s = Schema::from_includes(&sources).expect("system + real .schema files load");
        check_real(&s);
        crate::check::tests::assert_subschema_round_trips(&s);
        let mut e = oxldap_proto::Entry::new(oxldap_proto::Dn::parse("cn=a,dc=x").expect("dn"));
        e.push_value("objectClass", "inetOrgPerson");
        e.push_value("cn", "a");
        let err = s.check_entry(&e).expect_err("sn is missing");
        assert_eq!(err.code().code(), 65);
        e.push_value("sn", "b");
        e.push_value("mailHost", "mx");
        assert_eq!(
            s.check_entry(&e).map_err(|e| e.to_string()),
            Err("attribute 'mailHost' not allowed".into())
        );
        e.push_value("objectClass", "inetLocalMailRecipient");
        assert_eq!(s.check_entry(&e), Ok(()));
        // Mixing the real files with built-in sets for what is not installed also works.
        let mixed = Schema::from_includes(&[
            sources[0].clone(),
            sources[1].clone(),
            SchemaSource::Builtin("inetorgperson".into()),
            SchemaSource::Builtin("axigen".into()),
        ])
        .expect("mixed loads");
        assert!(mixed.object_class("inetOrgPerson").is_some());
        assert!(mixed.object_class("posixAccount").is_none());
    }

    #[test]
    fn real_openldap_schema_ldif_files() {
        let Some(sources) = read_real("ldif") else {
            return;
        };
        let s = Schema::from_includes(&sources).expect("system + real .ldif files load");
        check_real(&s);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(text in "[ \\t\\n#:(){}$'a-zA-Z0-9.=-]{0,200}") {
            let mut s = Schema::from_includes(&[]).expect("system");
            let _ = s.add_schema_text(&text, "fuzz");
            let _ = s.add_schema_ldif(&text, "fuzz");
        }
    }
}
