//! Assertions on a [`Server`]'s directory with messages that show the difference.
//!
//! Each `check_*` method returns `Result<(), AssertionError>` (so a message can be tested
//! word for word); each `assert_*` method panics with that message, like `assert_eq!`.

use crate::ldif::describe;
use crate::server::Server;
use crate::VOLATILE_ATTRIBUTES;
use base64::Engine;
use oxldap_proto::ldif::{LdifReader, LdifRecord};
use oxldap_proto::{Dn, Entry};
use oxldap_schema::Schema;
use oxldap_server::error::LdapError;
use oxldap_store::Scope;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

/// A failed assertion or wait; its Display is the whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionError {
    message: String,
    /// The operation error that made the check impossible (a malformed filter, a missing
    /// base), as opposed to a state that differs from the expected one.
    ldap: Option<LdapError>,
}

impl AssertionError {
    /// An assertion error with this message.
    pub fn new(message: impl Into<String>) -> AssertionError {
        AssertionError {
            message: message.into(),
            ldap: None,
        }
    }

    /// An assertion that could not be checked because the operation it runs failed with
    /// `error` (`what` says what was checked); [`AssertionError::ldap_error`] returns it.
    pub fn failed(what: &str, error: LdapError) -> AssertionError {
        AssertionError {
            message: format!("{what}: the search failed ({})", describe(&error)),
            ldap: Some(error),
        }
    }

    /// The message (the same as Display).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The LDAP error when the check's own operation failed (for example
    /// `Server::await_search` with a malformed filter: protocolError, or a base that does
    /// not exist: noSuchObject); None for a timeout or a state that differs.
    pub fn ldap_error(&self) -> Option<&LdapError> {
        self.ldap.as_ref()
    }

    pub(crate) fn timeout(what: &str, timeout: Duration) -> AssertionError {
        AssertionError::new(format!("timed out after {timeout:?} waiting for {what}"))
    }
}

impl std::fmt::Display for AssertionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AssertionError {}

#[track_caller]
#[allow(clippy::panic)]
fn or_panic(r: Result<(), AssertionError>) {
    if let Err(e) = r {
        // Assertions panic by design, like assert_eq!.
        panic!("{e}");
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Base => "base",
        Scope::One => "one",
        Scope::Sub => "sub",
        Scope::Children => "children",
    }
}

/// A value as an LDIF line would show it: text when printable, else `base64:...`.
fn show(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => format!(
            "base64:{}",
            base64::engine::general_purpose::STANDARD.encode(v)
        ),
    }
}

/// The comparison key of a value under the attribute's equality rule; the bytes
/// themselves when the type is unknown or the value does not normalize.
fn value_key(schema: &Schema, attr: &str, v: &[u8]) -> Vec<u8> {
    schema.equality_key(attr, v).unwrap_or_else(|_| v.to_vec())
}

/// The sort key of a DN: normalized RDNs from the root down (the store's DN order).
fn dn_key(schema: &Schema, dn: &Dn) -> Vec<String> {
    match schema.normalize_dn(dn) {
        Ok(n) => n.rdns.into_iter().rev().collect(),
        Err(_) => vec![dn.to_string().to_ascii_lowercase()],
    }
}

/// An entry as comparable lines: key (attribute, normalized value) → shown line.
type Lines = BTreeMap<(String, Vec<u8>), String>;

fn entry_lines(schema: &Schema, e: &Entry) -> Lines {
    let mut out = Lines::new();
    for a in &e.attrs {
        let name = schema
            .canonical_desc(&a.desc)
            .unwrap_or_else(|| a.desc.clone());
        let base = name.split(';').next().unwrap_or("");
        if VOLATILE_ATTRIBUTES
            .iter()
            .any(|v| v.eq_ignore_ascii_case(base))
        {
            continue;
        }
        for v in &a.values {
            out.insert(
                (name.to_ascii_lowercase(), value_key(schema, &name, v)),
                format!("{name}: {}", show(v)),
            );
        }
    }
    out
}

impl Server {
    /// Checks that the entry `dn` exists.
    ///
    /// Message: `expected entry <dn> to exist, but it does not (<result>)`.
    pub fn check_entry_exists(&self, dn: &str) -> Result<(), AssertionError> {
        match self.search(dn, Scope::Base, "(objectClass=*)", &["1.1"]) {
            Ok(v) if !v.is_empty() => Ok(()),
            Ok(_) => Err(AssertionError::new(format!(
                "expected entry {dn} to exist, but it does not"
            ))),
            Err(e) => Err(AssertionError::new(format!(
                "expected entry {dn} to exist, but it does not ({})",
                describe(&e)
            ))),
        }
    }

    /// Panics unless the entry `dn` exists (see [`Server::check_entry_exists`]).
    #[track_caller]
    pub fn assert_entry_exists(&self, dn: &str) {
        or_panic(self.check_entry_exists(dn));
    }

    /// Checks that the entry `dn` does not exist.
    ///
    /// Message: `expected entry <dn> to be missing, but it exists`.
    pub fn check_entry_missing(&self, dn: &str) -> Result<(), AssertionError> {
        match self.get(dn) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err(AssertionError::new(format!(
                "expected entry {dn} to be missing, but it exists"
            ))),
            Err(e) => Err(AssertionError::new(format!(
                "expected entry {dn} to be missing, but reading it failed ({})",
                describe(&e)
            ))),
        }
    }

    /// Panics if the entry `dn` exists (see [`Server::check_entry_missing`]).
    #[track_caller]
    pub fn assert_entry_missing(&self, dn: &str) {
        or_panic(self.check_entry_missing(dn));
    }

    /// Checks that attribute `attr` of entry `dn` has exactly `expected` values, in any
    /// order, compared under the attribute's equality rule (so `cn` is case-insensitive
    /// and DN values compare as DNs; bytes when the type has no implemented rule). An
    /// empty `expected` means the attribute is absent. Operational attributes (memberOf,
    /// entryUUID...) can be checked too.
    ///
    /// ```
    /// # let server = oxldap::Server::builder().start_blocking().unwrap();
    /// let err = server
    ///     .check_attribute_values("ou=Users,o=localdomain,dc=localdomain,dc=test", "ou", &["people"])
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "attribute ou of ou=Users,o=localdomain,dc=localdomain,dc=test has other values\n\
    ///      \x20 expected: [\"people\"]\n\
    ///      \x20 actual:   [\"Users\"]\n\
    ///      \x20 missing:    \"people\"\n\
    ///      \x20 unexpected: \"Users\""
    /// );
    /// ```
    pub fn check_attribute_values(
        &self,
        dn: &str,
        attr: &str,
        expected: &[&str],
    ) -> Result<(), AssertionError> {
        let entry = match self.get(dn) {
            Ok(Some(e)) => e,
            Ok(None) => {
                return Err(AssertionError::new(format!(
                    "attribute {attr} of {dn}: the entry does not exist"
                )))
            }
            Err(e) => {
                return Err(AssertionError::new(format!(
                    "attribute {attr} of {dn}: reading the entry failed ({})",
                    describe(&e)
                )))
            }
        };
        let schema = &self.directory().schema;
        let name = schema
            .canonical_desc(attr)
            .unwrap_or_else(|| attr.to_string());
        let actual: Vec<&Vec<u8>> = entry
            .attrs
            .iter()
            .filter(|a| a.desc.eq_ignore_ascii_case(&name))
            .flat_map(|a| a.values.iter())
            .collect();
        let key = |v: &[u8]| value_key(schema, &name, v);
        let have: BTreeMap<Vec<u8>, &[u8]> =
            actual.iter().map(|v| (key(v), v.as_slice())).collect();
        let want: BTreeMap<Vec<u8>, &[u8]> = expected
            .iter()
            .map(|v| (key(v.as_bytes()), v.as_bytes()))
            .collect();
        if want.len() != expected.len() {
            // Two expected values equal under the equality rule can never both be
            // stored (RFC 4512 §2.3: no two values of an attribute are equal).
            let mut seen: BTreeMap<Vec<u8>, &str> = BTreeMap::new();
            let dups: Vec<String> = expected
                .iter()
                .filter_map(|v| {
                    seen.insert(key(v.as_bytes()), *v)
                        .map(|first| format!("{first:?} and {v:?}"))
                })
                .collect();
            return Err(AssertionError::new(format!(
                "attribute {attr} of {dn}: the expected values list the same value twice under \
                 the equality rule of {name}: {}",
                dups.join(", ")
            )));
        }
        let missing: Vec<&[u8]> = want
            .iter()
            .filter(|(k, _)| !have.contains_key(*k))
            .map(|(_, v)| *v)
            .collect();
        let unexpected: Vec<&[u8]> = have
            .iter()
            .filter(|(k, _)| !want.contains_key(*k))
            .map(|(_, v)| *v)
            .collect();
        if missing.is_empty() && unexpected.is_empty() && actual.len() == have.len() {
            return Ok(());
        }
        let list = |vals: &mut dyn Iterator<Item = &[u8]>| {
            vals.map(|v| format!("{:?}", show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut msg = format!("attribute {attr} of {dn} has other values\n");
        let _ = writeln!(
            msg,
            "  expected: [{}]",
            list(&mut expected.iter().map(|v| v.as_bytes()))
        );
        let _ = write!(
            msg,
            "  actual:   [{}]",
            list(&mut actual.iter().map(|v| v.as_slice()))
        );
        for v in missing {
            let _ = write!(msg, "\n  missing:    {:?}", show(v));
        }
        for v in unexpected {
            let _ = write!(msg, "\n  unexpected: {:?}", show(v));
        }
        Err(AssertionError::new(msg))
    }

    /// Panics unless attribute `attr` of `dn` has exactly `expected` values (see
    /// [`Server::check_attribute_values`]).
    #[track_caller]
    pub fn assert_attribute_values(&self, dn: &str, attr: &str, expected: &[&str]) {
        or_panic(self.check_attribute_values(dn, attr, expected));
    }

    /// Checks that a search returns exactly the entries `expected` (DNs compared
    /// normalized, in any order).
    ///
    /// Message: `search base <base> scope <scope> filter <filter> returned other entries`
    /// then one `  missing: <dn>` line per expected DN not returned and one
    /// `  unexpected: <dn>` line per DN returned but not expected, each sorted.
    pub fn check_search_dns(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        expected: &[&str],
    ) -> Result<(), AssertionError> {
        let head = format!(
            "search base {base} scope {} filter {filter}",
            scope_name(scope)
        );
        let found = self
            .search(base, scope, filter, &["1.1"])
            .map_err(|e| AssertionError::new(format!("{head} failed: {}", describe(&e))))?;
        let schema = &self.directory().schema;
        let norm = |dn: &str| match Dn::parse(dn) {
            Ok(d) => dn_key(schema, &d),
            Err(_) => vec![dn.to_ascii_lowercase()],
        };
        let got: BTreeMap<Vec<String>, String> = found
            .iter()
            .map(|e| (dn_key(schema, &e.dn), e.dn.to_string()))
            .collect();
        let want: BTreeMap<Vec<String>, String> =
            expected.iter().map(|d| (norm(d), d.to_string())).collect();
        let missing: BTreeSet<&String> = want
            .iter()
            .filter(|(k, _)| !got.contains_key(*k))
            .map(|(_, d)| d)
            .collect();
        let unexpected: BTreeSet<&String> = got
            .iter()
            .filter(|(k, _)| !want.contains_key(*k))
            .map(|(_, d)| d)
            .collect();
        if missing.is_empty() && unexpected.is_empty() {
            return Ok(());
        }
        let mut msg = format!("{head} returned other entries");
        for d in missing {
            let _ = write!(msg, "\n  missing: {d}");
        }
        for d in unexpected {
            let _ = write!(msg, "\n  unexpected: {d}");
        }
        Err(AssertionError::new(msg))
    }

    /// Panics unless the search returns exactly the entries `expected` (see
    /// [`Server::check_search_dns`]).
    #[track_caller]
    pub fn assert_search_dns(&self, base: &str, scope: Scope, filter: &str, expected: &[&str]) {
        or_panic(self.check_search_dns(base, scope, filter, expected));
    }

    /// Checks that the whole directory holds exactly the entries of `ldif` (content
    /// records), ignoring [`crate::VOLATILE_ATTRIBUTES`]. Entries are matched by
    /// normalized DN, attribute names by the schema, values under each attribute's
    /// equality rule; order does not matter. Operational attributes that are stored
    /// (memberOf) are compared.
    ///
    /// The message is a line diff of the differing entries only: `-` lines are expected
    /// but missing, `+` lines are present but not expected, two spaces mark context:
    ///
    /// ```text
    /// directory differs from the expected LDIF (- expected, + actual):
    ///   dn: uid=ana,ou=Users,o=localdomain,dc=localdomain,dc=test
    /// - mail: ana@localdomain.test
    /// + mail: ana.pop@localdomain.test
    ///   uid: ana
    /// ```
    pub fn check_directory_equals_ldif(&self, ldif: &str) -> Result<(), AssertionError> {
        let schema = &self.directory().schema;
        let mut expected: BTreeMap<Vec<String>, (String, Lines)> = BTreeMap::new();
        for record in LdifReader::new(ldif.as_bytes()) {
            match record {
                Ok(LdifRecord::Content { entry, .. }) => {
                    let shown = schema
                        .pretty_dn(&entry.dn)
                        .unwrap_or_else(|_| entry.dn.clone())
                        .to_string();
                    expected.insert(
                        dn_key(schema, &entry.dn),
                        (shown, entry_lines(schema, &entry)),
                    );
                }
                Ok(LdifRecord::Change { line, .. }) => {
                    return Err(AssertionError::new(format!(
                        "expected LDIF: line {line}: a change record, not an entry"
                    )))
                }
                Err(e) => {
                    return Err(AssertionError::new(format!("expected LDIF: {e}")));
                }
            }
        }
        let entries = self
            .entries()
            .map_err(|e| AssertionError::new(format!("reading the directory: {}", describe(&e))))?;
        let actual: BTreeMap<Vec<String>, (String, Lines)> = entries
            .iter()
            .map(|e| {
                (
                    dn_key(schema, &e.dn),
                    (e.dn.to_string(), entry_lines(schema, e)),
                )
            })
            .collect();
        let keys: BTreeSet<&Vec<String>> = expected.keys().chain(actual.keys()).collect();
        let mut diff = String::new();
        for k in keys {
            match (expected.get(k), actual.get(k)) {
                (Some((dn, lines)), None) => {
                    let _ = write!(diff, "\n- dn: {dn}");
                    for l in lines.values() {
                        let _ = write!(diff, "\n- {l}");
                    }
                }
                (None, Some((dn, lines))) => {
                    let _ = write!(diff, "\n+ dn: {dn}");
                    for l in lines.values() {
                        let _ = write!(diff, "\n+ {l}");
                    }
                }
                (Some((_, want)), Some((dn, have))) => {
                    if want.keys().eq(have.keys()) {
                        continue;
                    }
                    let _ = write!(diff, "\n  dn: {dn}");
                    // Per attribute: common values, then missing (-), then unexpected (+).
                    let names: BTreeSet<&String> =
                        want.keys().chain(have.keys()).map(|(n, _)| n).collect();
                    for name in names {
                        let of = |m: &'_ Lines| -> Vec<((String, Vec<u8>), String)> {
                            m.iter()
                                .filter(|((n, _), _)| n == name)
                                .map(|(k, l)| (k.clone(), l.clone()))
                                .collect()
                        };
                        let (w, h) = (of(want), of(have));
                        for (k, l) in &h {
                            if want.contains_key(k) {
                                let _ = write!(diff, "\n  {l}");
                            }
                        }
                        for (k, l) in &w {
                            if !have.contains_key(k) {
                                let _ = write!(diff, "\n- {l}");
                            }
                        }
                        for (k, l) in &h {
                            if !want.contains_key(k) {
                                let _ = write!(diff, "\n+ {l}");
                            }
                        }
                    }
                }
                (None, None) => {}
            }
        }
        if diff.is_empty() {
            return Ok(());
        }
        Err(AssertionError::new(format!(
            "directory differs from the expected LDIF (- expected, + actual):{diff}"
        )))
    }

    /// Panics unless the directory equals `ldif` (see
    /// [`Server::check_directory_equals_ldif`]).
    #[track_caller]
    pub fn assert_directory_equals_ldif(&self, ldif: &str) {
        or_panic(self.check_directory_equals_ldif(ldif));
    }
}
